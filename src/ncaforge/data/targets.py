"""Target images: the bundled lizard, any image file, or an emoji rendered from Noto.

A target is an RGBA float tensor (4, H, W) in [0, 1] with RGB premultiplied by
alpha, resized so its longer side is ``size`` (Lanczos) and padded by ``pad`` cells
of transparency on every side, as in Growing NCA.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from ncaforge.core.errors import NcaError

BUNDLED = {"lizard": "lizard.png"}
NOTO_FONT_PATHS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
)


class TargetError(NcaError, ValueError):
    """A target could not be read or made."""


def bundled_path(name: str) -> Path:
    return Path(str(resources.files("ncaforge.data") / "assets" / BUNDLED[name]))


def render_emoji(char: str) -> Image.Image:
    """Render one emoji with the Noto Color Emoji font (CBDT bitmaps at size 109)."""
    font_path = next((p for p in NOTO_FONT_PATHS if Path(p).exists()), None)
    if font_path is None:
        raise TargetError("emoji targets need the Noto Color Emoji font; install it with "
                          "'apt-get install fonts-noto-color-emoji', or pass an image file")
    font = ImageFont.truetype(font_path, 109)
    canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((0, 0), char, font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None:
        raise TargetError(f"the Noto font has no glyph for {char!r}")
    glyph = canvas.crop(box)
    side = max(glyph.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    return square


def open_image(path: str | Path) -> Image.Image:
    """Open an image file as RGBA with a clear error for a missing or non-image file."""
    path = Path(path)
    if not path.exists():
        raise TargetError(f"target image {path} does not exist")
    try:
        with Image.open(path) as img:
            return to_rgba(img)
    except Image.DecompressionBombError as e:
        raise TargetError(f"{path} is too large an image to use as a target: {e}") from e
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise TargetError(f"{path} is not an image Pillow can read (PNG, JPEG, WebP, ...): {e}") from e


def to_rgba(img: Image.Image) -> Image.Image:
    """``img`` as 8-bit RGBA; 16-bit and 32-bit grey are scaled, not clipped to 0/255."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        img = Image.fromarray(np.clip(np.rint(a / top * 255), 0, 255).astype(np.uint8), "L")
    return img.convert("RGBA")


def image_to_target(img: Image.Image, size: int = 40, pad: int = 16) -> torch.Tensor:
    """Resize (longer side = ``size``, Lanczos), premultiply, pad: (4, H, W) float32."""
    if size < 1 or pad < 0:
        raise TargetError(f"target size must be >= 1 and pad >= 0, got size={size}, pad={pad}")
    if img.getchannel("A").getbbox() is None:
        raise TargetError("the target image is fully transparent: nothing to grow (its alpha is 0 "
                          "everywhere; NCA targets are the opaque part of an RGBA image)")
    img = img.copy()
    if max(img.size) < size:  # the longer side becomes ``size``: small images are enlarged too
        scale = size / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.LANCZOS)
    else:
        img.thumbnail((size, size), Image.Resampling.LANCZOS)
    a = np.asarray(img, dtype=np.float32) / 255.0
    a[..., :3] *= a[..., 3:4]
    t = torch.from_numpy(a).permute(2, 0, 1).contiguous()
    return torch.nn.functional.pad(t, (pad, pad, pad, pad))


def load_target(spec: str, size: int = 40, pad: int = 16) -> torch.Tensor:
    """Resolve ``spec``: a bundled name (``lizard``), ``emoji:<char>``, or an image path."""
    if spec in BUNDLED:
        img = open_image(bundled_path(spec))
    elif spec.startswith("emoji:"):
        char = spec[len("emoji:"):]
        if not char:
            raise TargetError("emoji target is empty: use emoji:<char>, e.g. emoji:🦎")
        img = render_emoji(char)
    else:
        img = open_image(spec)
    try:
        return image_to_target(img, size, pad)
    except TargetError as e:
        raise TargetError(f"{spec}: {e}") from e
