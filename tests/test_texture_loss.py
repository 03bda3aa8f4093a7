"""The texture loss that needs no download: sliced Wasserstein distance of multi-scale patches."""

from __future__ import annotations

import torch

from ncaforge.objectives.losses import patches, pyramid_swd, sliced_wasserstein


def stripes(h: int, w: int, period: int, phase: int = 0) -> torch.Tensor:
    """(3, H, W) red and blue vertical stripes."""
    on = (((torch.arange(w) + phase) // (period // 2)) % 2).float().expand(h, w)
    return torch.stack([on, torch.zeros(h, w), 1 - on])


def test_patches_of_a_torus_wrap_and_of_an_image_stay_inside():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    inside, wrapped = patches(x, 3), patches(x, 3, wrap=True)
    assert inside.shape == (1, 4, 9) and wrapped.shape == (1, 16, 9)
    assert wrapped[0, 0].tolist() == [15, 12, 13, 3, 0, 1, 7, 4, 5]  # the corner cell's neighbours wrap


def test_sliced_wasserstein_is_zero_for_the_same_set_in_any_order_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    points = torch.randn(1, 200, 6, generator=g)
    directions = torch.nn.functional.normalize(torch.randn(6, 16, generator=g), dim=0)
    shuffled = points[:, torch.randperm(200, generator=g)]
    assert sliced_wasserstein(points, shuffled, directions).item() < 1e-12
    near, far = (sliced_wasserstein(points, points + d, directions).item() for d in (0.1, 1.0))
    assert 0 < near < far


def test_a_texture_is_nearer_its_own_exemplar_than_another_or_noise():
    exemplar = stripes(32, 32, 8)
    grids = torch.stack([stripes(24, 24, 8, phase=3),  # the same texture, shifted: the same patches
                         stripes(24, 24, 4),  # another texture
                         torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(1))])
    same, other, noise = pyramid_swd(grids, exemplar, torch.Generator().manual_seed(2)).tolist()
    assert same < other / 3 and same < noise / 3, (same, other, noise)  # measured 0.069, 0.34, 0.44


def test_the_loss_is_differentiable_and_descending_it_makes_the_texture():
    exemplar = stripes(32, 32, 8)
    grid = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(3)).requires_grad_()
    optimiser = torch.optim.Adam([grid], lr=0.05)
    g = torch.Generator().manual_seed(4)
    first = pyramid_swd(grid.detach(), exemplar, torch.Generator().manual_seed(9)).item()
    for _ in range(60):
        optimiser.zero_grad()
        pyramid_swd(grid, exemplar, g).sum().backward()
        optimiser.step()
    last = pyramid_swd(grid.detach(), exemplar, torch.Generator().manual_seed(9)).item()
    assert last < first / 4, (first, last)
