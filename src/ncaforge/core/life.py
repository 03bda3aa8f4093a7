"""Which cells are alive and which cells fire on a step."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def alive_mask(x: torch.Tensor, alpha: int, threshold: float = 0.1,
               circular: bool = False) -> torch.Tensor:
    """A cell is alive if any cell of its 3x3 neighbourhood has alpha > threshold.

    Returns a (B, 1, H, W) bool tensor. Border cells see nothing beyond the grid
    unless ``circular``.
    """
    a = x[:, alpha : alpha + 1]
    if circular:
        return F.max_pool2d(F.pad(a, (1, 1, 1, 1), mode="circular"), 3, stride=1) > threshold
    return F.max_pool2d(a, 3, stride=1, padding=1) > threshold


def fire_mask(shape: tuple[int, int, int], rate: float, device: torch.device | str = "cpu",
              generator: torch.Generator | None = None) -> torch.Tensor:
    """A (B, 1, H, W) bool mask: each cell fires independently with probability ``rate``.

    Bool, not float, because long checkpointed rollouts keep every step's mask.
    """
    b, h, w = shape
    if rate >= 1.0:
        return torch.ones(b, 1, h, w, dtype=torch.bool, device=device)
    return torch.rand(b, 1, h, w, device=device, generator=generator) <= rate
