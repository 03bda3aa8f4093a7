"""Conway's Game of Life, the reference a logic CA is trained on and checked against (numpy)."""

from __future__ import annotations

import numpy as np
import torch


def life_step(grid: np.ndarray) -> np.ndarray:
    """One step of Life (B3/S23) on a torus: (..., H, W) bool -> bool."""
    g = grid.astype(np.uint8)
    n = sum(np.roll(g, (dy, dx), axis=(-2, -1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
            if (dy, dx) != (0, 0))
    return (n == 3) | (grid & (n == 2))


def configurations() -> tuple[torch.Tensor, torch.Tensor]:
    """All 512 3x3 neighbourhoods as (512, 1, 3, 3) 0/1 floats (cell k of config i is bit k of i, raster
    order), and the centre's next state under Life, (512,)."""
    bits = (torch.arange(512)[:, None] >> torch.arange(9)) & 1
    centre = bits[:, 4].bool()
    neighbours = bits.sum(1) - bits[:, 4]
    alive = (neighbours == 3) | (centre & (neighbours == 2))
    return bits.view(512, 1, 3, 3).float(), alive.float()
