"""States to pictures: RGBA on white, as in Growing NCA, upscaled for viewing."""

from __future__ import annotations

import numpy as np
import torch


def rgba_to_rgb(rgba: torch.Tensor) -> torch.Tensor:
    """(B, 4, H, W) premultiplied RGBA -> (B, 3, H, W) in [0, 1], over white."""
    alpha = rgba[:, 3:4].clamp(0.0, 1.0)
    return (1.0 - alpha + rgba[:, :3]).clamp(0.0, 1.0)


ADVERSARY_COLOUR = (1.0, 0.0, 0.0)  # adversarial cells: pure red, as in the original article


def mark(rgb: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) pictures with the (B, 1, H, W) bool ``cells`` painted in ``ADVERSARY_COLOUR``."""
    colour = torch.tensor(ADVERSARY_COLOUR, device=rgb.device).view(1, 3, 1, 1)
    return torch.where(cells.to(rgb.device), colour, rgb)


def batch_image(rgba: torch.Tensor, scale: int = 3, marks: torch.Tensor | None = None) -> np.ndarray:
    """All samples of a (B, 4, H, W) RGBA batch side by side as one uint8 image.

    ``marks`` (B, 1, H, W) bool paints those cells, where alive, in ``ADVERSARY_COLOUR``.
    """
    rgb = rgba_to_rgb(rgba)
    if marks is not None:
        rgb = mark(rgb, marks.to(rgb.device) & (rgba[:, 3:4] > 0.1))
    return tile([to_image(image, scale) for image in rgb])


def to_image(rgb: torch.Tensor, scale: int = 4) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H*scale, W*scale, 3) uint8, nearest-neighbour upscaled."""
    a = (rgb.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)


def tile(images: list[np.ndarray], columns: int | None = None, gap: int = 2) -> np.ndarray:
    """Lay equally sized (H, W, 3) uint8 images out on a white grid."""
    n = len(images)
    columns = columns or n
    rows = (n + columns - 1) // columns
    h, w, _ = images[0].shape
    out = np.full((rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = img
    return out


def field_image(field: torch.Tensor, scale: int = 3, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """A (H, W) scalar field (a PDE species) as (H*scale, W*scale, 3) uint8 in the viridis colour map."""
    from matplotlib import colormaps

    v = ((field.detach().cpu().double() - vmin) / (vmax - vmin)).clamp(0, 1).numpy()
    rgb = colormaps["viridis"](v)[..., :3]
    return to_image(torch.from_numpy(rgb).permute(2, 0, 1), scale)
