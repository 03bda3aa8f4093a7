"""Variants of a target image, the goals of adversarial reprogramming: erase a part, recolour.

A variant is made from an RGBA target (4, H, W) (premultiplied, as in targets.py):
``erase`` zeroes a region given as a polygon or a mask, ``recolour`` rotates the hue.
The bundled lizard has six named variants defined by this repo (its own polygons,
drawn on our 40-pixel lizard): tailless, no_leg, no_arm, headless, red, blue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.colors import hsv_to_rgb, rgb_to_hsv
from matplotlib.path import Path as MplPath

from ncaforge.data.targets import TargetError, load_target

Polygon = Sequence[tuple[float, float]]  # (x, y) vertices in cells of the unpadded image


def polygon_mask(polygon: Polygon, height: int, width: int) -> torch.Tensor:
    """(H, W) bool: the cells whose centres lie inside ``polygon`` ((x, y) in cell units).

    Cell (row i, column j) covers [j, j+1) x [i, i+1); its centre is (j + 0.5, i + 0.5).
    """
    if len(polygon) < 3:
        raise TargetError(f"a polygon needs at least 3 vertices, got {len(polygon)}")
    ys, xs = np.mgrid[:height, :width] + 0.5
    inside = MplPath(np.asarray(polygon, dtype=float)).contains_points(np.stack([xs.ravel(), ys.ravel()], 1))
    return torch.from_numpy(inside.reshape(height, width))


def erase(target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """The target with every channel zeroed where the (H, W) bool ``region`` is True."""
    if region.shape != target.shape[1:]:
        raise TargetError(f"the erase region is {tuple(region.shape)}, the target {tuple(target.shape[1:])}")
    return target * (~region).to(target.dtype)


def recolour(target: torch.Tensor, degrees: float) -> torch.Tensor:
    """The target with its hue rotated by ``degrees`` (saturation, value and alpha kept)."""
    rgb, alpha = target[:3].numpy(), target[3].numpy()
    straight = np.where(alpha > 0, rgb / np.maximum(alpha, 1e-8), 0.0).clip(0, 1)
    hsv = rgb_to_hsv(straight.transpose(1, 2, 0))
    hsv[..., 0] = (hsv[..., 0] + degrees / 360.0) % 1.0
    out = hsv_to_rgb(hsv).transpose(2, 0, 1) * alpha
    return torch.cat([torch.from_numpy(out.astype(np.float32)), target[3:]])


@dataclass(frozen=True)
class Variant:
    """A named edit of a bundled target: erase ``polygon`` and/or rotate the hue by ``hue``."""

    base: str
    description: str
    polygon: Polygon | None = None
    hue: float = 0.0

    def make(self, size: int = 40, pad: int = 16) -> torch.Tensor:
        return self.apply(load_target(self.base, size, pad), size, pad)

    def apply(self, target: torch.Tensor, size: int = 40, pad: int = 16) -> torch.Tensor:
        """This edit applied to ``target`` (the base image or another variant of it)."""
        if self.polygon is not None:
            scale = size / 40.0  # polygons are drawn on the 40-pixel image
            poly = [(pad + x * scale, pad + y * scale) for x, y in self.polygon]
            target = erase(target, polygon_mask(poly, *target.shape[1:]))
        return recolour(target, self.hue) if self.hue else target


# Drawn on our 40x40 lizard (head top left, tail curling bottom right; its green has hue ~140).
VARIANTS: dict[str, Variant] = {
    "tailless": Variant("lizard", "the lizard without its tail",
                        [(22, 31), (31, 29), (39, 29), (39, 42), (22, 42)]),
    "no_leg": Variant("lizard", "the lizard without its lower hind leg",
                      [(11, 26), (18, 27), (21, 28), (21, 36), (11, 36)]),
    "no_arm": Variant("lizard", "the lizard without its upper front arm",
                      [(15, 4), (25, 4), (25, 14), (16, 14)]),
    "headless": Variant("lizard", "the lizard without its head",
                        [(2, -2), (17, -2), (16, 11), (10, 14), (2, 12)]),
    "red": Variant("lizard", "a red lizard (hue rotated by -140 degrees)", hue=-140.0),
    "blue": Variant("lizard", "a blue lizard (hue rotated by +100 degrees)", hue=100.0),
}


def load_variant(spec: str, size: int = 40, pad: int = 16) -> torch.Tensor:
    """A named variant (``tailless``, ...), several joined by ``+`` (``red+tailless``: both edits,
    the goal of a sum of perturbations), or any target spec (bundled name, emoji:, image file)."""
    names = spec.split("+")
    if all(n in VARIANTS for n in names):
        bases = {VARIANTS[n].base for n in names}
        if len(bases) > 1:
            raise TargetError(f"the variants {spec!r} edit different images ({', '.join(sorted(bases))})")
        target = load_target(bases.pop(), size, pad)
        for n in names:
            target = VARIANTS[n].apply(target, size, pad)
        return target
    try:
        return load_target(spec, size, pad)
    except TargetError as e:
        raise TargetError(f"{e} (named variants: {', '.join(VARIANTS)})") from e
