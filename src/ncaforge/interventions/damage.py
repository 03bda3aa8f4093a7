"""Damage: cut discs out of a pattern to test and train regeneration."""

from __future__ import annotations

import torch


def disc_mask(height: int, width: int, centre: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) bool, True inside discs given on a [-1, 1]^2 grid.

    ``centre`` is (B, 2) as (x, y), ``radius`` is (B,), both in grid units.
    """
    xs = torch.linspace(-1.0, 1.0, width, device=centre.device)[None, None, :]
    ys = torch.linspace(-1.0, 1.0, height, device=centre.device)[None, :, None]
    dx = (xs - centre[:, 0, None, None]) / radius[:, None, None]
    dy = (ys - centre[:, 1, None, None]) / radius[:, None, None]
    return (dx * dx + dy * dy < 1.0).unsqueeze(1)


def random_disc_damage(x: torch.Tensor, generator: torch.Generator | None = None,
                       centre_range: float = 0.5, radius_range: tuple[float, float] = (0.1, 0.4)
                       ) -> torch.Tensor:
    """Zero a random disc in every sample, as in Growing NCA's regenerating training.

    Centres are uniform in [-centre_range, centre_range]^2, radii uniform in
    ``radius_range``.
    """
    b, _, h, w = x.shape
    centre = (torch.rand(b, 2, generator=generator) * 2 - 1) * centre_range
    lo, hi = radius_range
    radius = lo + torch.rand(b, generator=generator) * (hi - lo)
    hole = disc_mask(h, w, centre.to(x.device), radius.to(x.device))
    return x * (~hole)


def drop_cells(x: torch.Tensor, fraction: float, where: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero each cell of the (B, 1, H, W) bool mask ``where`` (the living ones) with probability
    ``fraction``, independently: damage scattered over the whole pattern rather than cut out of it."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    b, _, h, w = x.shape
    dropped = (torch.rand(b, 1, h, w, generator=generator) < fraction).to(x.device) & where
    return x * (~dropped)
