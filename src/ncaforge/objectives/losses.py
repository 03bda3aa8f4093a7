"""Losses shared by objectives, evaluations and analyses."""

from __future__ import annotations

import torch


def rgba_mse(x: torch.Tensor, target: torch.Tensor, rgba: list[int]) -> torch.Tensor:
    """Per-sample mean squared error between the RGBA channels of ``x`` and ``target``."""
    return (x[:, rgba] - target).pow(2).mean(dim=(1, 2, 3))


def patches(images: torch.Tensor, size: int = 5, wrap: bool = False) -> torch.Tensor:
    """Every ``size`` x ``size`` patch of (B, C, H, W) images as (B, N, C*size*size); with ``wrap`` the
    images are tori (a grid's patches cross its edges), else only patches that fit inside are taken."""
    if wrap:
        half = size // 2
        rest = size - 1 - half
        images = torch.nn.functional.pad(images, (half, rest, half, rest), mode="circular")
    return torch.nn.functional.unfold(images, size).transpose(1, 2)


def sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, projections: torch.Tensor) -> torch.Tensor:
    """Per sample, the sliced squared Wasserstein-2 distance between point sets x (B, N, D) and
    y (B or 1, M, D) along ``projections`` (D, P) unit directions; the larger set's sorted projections are
    read at the smaller one's quantiles."""
    px, py = (x @ projections).sort(dim=1).values, (y @ projections).sort(dim=1).values
    n = min(px.shape[1], py.shape[1])

    def at_quantiles(p: torch.Tensor) -> torch.Tensor:
        if p.shape[1] == n:
            return p
        index = torch.linspace(0, p.shape[1] - 1, n, device=p.device).round().long()
        return p[:, index]

    return (at_quantiles(px) - at_quantiles(py)).pow(2).mean(dim=(1, 2))


def pyramid_swd(grid: torch.Tensor, exemplar: torch.Tensor, generator: torch.Generator | None = None,
                levels: int = 3, size: int = 5, projections: int = 32) -> torch.Tensor:
    """Per sample, the sliced Wasserstein distance between the ``size`` x ``size`` patches of RGB grids
    (B, 3, H, W; tori) and of an exemplar image (3, h, w), summed over a ``levels``-level average-pooling
    pyramid, each level along fresh random directions: a texture loss that needs no pretrained network
    (as in muNCA)."""
    total = grid.new_zeros(grid.shape[0])
    target = exemplar.unsqueeze(0).to(grid)
    for level in range(levels):
        if level:
            grid, target = (torch.nn.functional.avg_pool2d(t, 2) for t in (grid, target))
        dims = grid.shape[1] * size * size
        directions = torch.randn(dims, projections, generator=generator).to(grid)
        directions = directions / directions.norm(dim=0, keepdim=True)
        total = total + sliced_wasserstein(patches(grid, size, wrap=True), patches(target, size), directions)
    return total
