"""States to pictures: RGBA on white, as in Growing NCA, upscaled for viewing."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont


def rgba_to_rgb(rgba: torch.Tensor) -> torch.Tensor:
    """(B, 4, H, W) premultiplied RGBA -> (B, 3, H, W) in [0, 1], over white."""
    alpha = rgba[:, 3:4].clamp(0.0, 1.0)
    return (1.0 - alpha + rgba[:, :3]).clamp(0.0, 1.0)


ADVERSARY_COLOUR = (1.0, 0.0, 0.0)  # adversarial cells: pure red, as in the original article


def mark(rgb: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) pictures with the (B, 1, H, W) bool ``cells`` painted in ``ADVERSARY_COLOUR``."""
    colour = torch.tensor(ADVERSARY_COLOUR, device=rgb.device).view(1, 3, 1, 1)
    return torch.where(cells.to(rgb.device), colour, rgb)


def batch_image(rgba: torch.Tensor, scale: int = 3, marks: torch.Tensor | None = None,
                labels: list[str] | None = None, columns: int | None = None) -> np.ndarray:
    """All samples of a (B, 4, H, W) RGBA batch side by side as one uint8 image.

    ``marks`` (B, 1, H, W) bool paints those cells, where alive, in ``ADVERSARY_COLOUR``; ``labels``
    (one per sample) are written under them and ``columns`` wraps them, as in ``tile``.
    """
    rgb = rgba_to_rgb(rgba)
    if marks is not None:
        rgb = mark(rgb, marks.to(rgb.device) & (rgba[:, 3:4] > 0.1))
    return tile([to_image(image, scale) for image in rgb], columns, labels=labels)


def to_image(rgb: torch.Tensor, scale: int = 4) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H*scale, W*scale, 3) uint8, nearest-neighbour upscaled."""
    a = (rgb.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)


CAPTION_COLOUR = (34, 34, 34)  # near-black text on the white grid
CAPTION_PAD = 3  # pixels around each caption
SMALLEST_FONT = 8  # captions shrink to fit their tile down to this size, then are shortened


Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


@functools.lru_cache(maxsize=32)
def _font(size: int) -> Font:
    """Pillow's bundled font at ``size`` pixels (a fixed bitmap font where FreeType is missing)."""
    return ImageFont.load_default(size=size)


def _text_size(font: Font, text: str) -> tuple[int, int]:
    """(width, height) in pixels of ``text`` drawn from its origin with ``font``."""
    _, _, right, bottom = font.getbbox(text)
    return int(right), int(bottom)


def _shortened(font: Font, text: str, width: int) -> str:
    """``text``, or else its longest beginning that fits ``width`` pixels with "..." after it."""
    if _text_size(font, text)[0] <= width:
        return text
    return next((text[:k] + "..." for k in range(len(text) - 1, 0, -1)
                 if _text_size(font, text[:k] + "...")[0] <= width), text[:1])


def _fitting(texts: list[str], width: int, size: int) -> tuple[Font, list[str]]:
    """The largest font up to ``size`` in which all ``texts`` fit ``width`` pixels, and the texts,
    shortened where even the smallest font is too wide."""
    for s in range(size, min(size, SMALLEST_FONT) - 1, -1):
        font = _font(s)
        if all(_text_size(font, t)[0] <= width for t in texts):
            return font, texts
    return font, [_shortened(font, t, width) for t in texts]


def tile(images: list[np.ndarray], columns: int | None = None, gap: int = 2, labels: list[str] | None = None,
         row_labels: list[str] | None = None, font_size: int = 14) -> np.ndarray:
    """Lay equally sized (H, W, 3) uint8 images out on a white grid, with captions that explain the figure.

    ``labels`` (one per image) are written centred under each image, ``row_labels`` (one per row) to the
    left of each row, in Pillow's font of ``font_size`` pixels, smaller where a caption would be wider than
    its image. The caption band's height depends on ``font_size`` only, so frames of an animation captioned
    differently keep one size. Without either the grid is exactly the images and the gaps.
    """
    n = len(images)
    columns = columns or n
    rows = (n + columns - 1) // columns
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} images")
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for {rows} rows")
    h, w, _ = images[0].shape
    font, labels = _fitting(list(labels), w, font_size) if labels else (None, None)
    band = _text_size(_font(font_size), "Ag")[1] + 2 * CAPTION_PAD if font else 0  # whatever the texts
    row_font = _font(font_size) if row_labels else None
    left = max(_text_size(row_font, t)[0] for t in row_labels) + 2 * CAPTION_PAD if row_font else 0
    step_y, step_x = h + band + gap, w + gap
    out = np.full((rows * step_y - gap, left + columns * step_x - gap, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        out[r * step_y: r * step_y + h, left + c * step_x: left + c * step_x + w] = img
    if not (labels or row_labels):
        return out
    canvas = Image.fromarray(out)
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(labels or ()):
        r, c = divmod(i, columns)
        x = left + c * step_x + (w - _text_size(font, text)[0]) // 2
        draw.text((x, r * step_y + h + CAPTION_PAD), text, fill=CAPTION_COLOUR, font=font)
    for r, text in enumerate(row_labels or ()):
        tw, th = _text_size(row_font, text)
        draw.text((left - CAPTION_PAD - tw, r * step_y + (h - th) // 2), text, fill=CAPTION_COLOUR,
                  font=row_font)
    return np.asarray(canvas)


def legend(colours: Sequence[Sequence[int]], names: Sequence[object], scale: int = 24,
           columns: int | None = None, font_size: int = 14) -> np.ndarray:
    """Colour swatches (RGB 0..255, outlined in grey so pale ones show on white) with each one's name
    under it, as a uint8 (H, W, 3) image: a legend that says which colour means what."""
    if len(colours) != len(names):
        raise ValueError(f"{len(colours)} colours for {len(names)} names")
    swatches = []
    for colour in colours:
        swatch = np.full((scale, scale, 3), 128, np.uint8)
        swatch[1:-1, 1:-1] = colour
        swatches.append(swatch)
    return tile(swatches, columns, gap=max(2, scale // 3), labels=[str(n) for n in names],
                font_size=font_size)


def field_image(field: torch.Tensor, scale: int = 3, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """A (H, W) scalar field (a PDE species) as (H*scale, W*scale, 3) uint8 in the viridis colour map."""
    from matplotlib import colormaps

    v = ((field.detach().cpu().double() - vmin) / (vmax - vmin)).clamp(0, 1).numpy()
    rgb = colormaps["viridis"](v)[..., :3]
    return to_image(torch.from_numpy(rgb).permute(2, 0, 1), scale)
