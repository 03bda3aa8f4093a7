"""Symmetric perception (isotropic and steerable NCA) and the rotation-invariant loss."""

import math

import pytest
import torch
import torch.nn.functional as F

from ncaforge.core.perception import SymmetricPerception
from ncaforge.objectives.invariant import invariant_l2


def rot(z: torch.Tensor, k: int = 1) -> torch.Tensor:
    return torch.rot90(z, k, dims=(2, 3))


GRID_MOVES = {"rot90": rot, "rot180": lambda z: rot(z, 2), "rot270": lambda z: rot(z, 3),
              "mirror_x": lambda z: torch.flip(z, (3,)), "mirror_y": lambda z: torch.flip(z, (2,)),
              "transpose": lambda z: z.transpose(2, 3)}


@pytest.mark.parametrize("mode", ["laplacian", "lap_gradnorm"])
@pytest.mark.parametrize("move", list(GRID_MOVES))
def test_isotropic_perceptions_commute_with_rotations_and_mirrors(mode, move):
    p, t = SymmetricPerception(6, mode).double(), GRID_MOVES[move]
    x = torch.randn(2, 6, 9, 9, dtype=torch.float64)
    assert torch.allclose(p(t(x)), t(p(x)), rtol=0, atol=1e-12)
    assert p(x).shape == (2, p.out_features, 9, 9)


def test_a_sobel_perception_does_not_commute():  # the compass the isotropic NCA lacks
    from ncaforge.core.perception import FixedPerception

    p = FixedPerception(6, padding="circular").double()
    x = torch.randn(2, 6, 9, 9, dtype=torch.float64)
    assert not torch.allclose(p(rot(x)), rot(p(x)), atol=1e-3)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_steerable_perception_commutes_with_turning_the_grid_and_the_angles(k):
    p = SymmetricPerception(6, "steerable").double()
    x = torch.randn(2, 6, 9, 9, dtype=torch.float64)
    turned = rot(x, k).clone()
    turned[:, -1] -= k * math.pi / 2  # torch.rot90 by k turns a cell's frame by -k * 90 degrees
    assert torch.allclose(p(turned), rot(p(x), k), rtol=0, atol=1e-12)
    assert not torch.allclose(p(rot(x, k)), rot(p(x), k), atol=1e-3)  # the angle matters
    assert p.out_features == 4 * 5  # the angle channel is not perceived


def test_gradient_frames_turn_with_the_grid():
    p = SymmetricPerception(6, "gradient", frame=2).double()
    x = torch.randn(2, 6, 9, 9, dtype=torch.float64)
    assert torch.allclose(p(rot(x)), rot(p(x)), rtol=0, atol=1e-9)


def test_bad_modes_and_frames_are_clear_errors():
    with pytest.raises(ValueError, match="mode must be one of"):
        SymmetricPerception(6, "hexagonal")
    with pytest.raises(ValueError, match="gradient frames need a channel"):
        SymmetricPerception(6, "gradient", frame=6)


def _blobs(size: int = 40) -> torch.Tensor:
    """An asymmetric smooth 3-channel picture."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    return torch.stack([torch.exp(-((xx - 0.3) ** 2 + yy**2) / 0.05),
                        torch.exp(-((xx + 0.1) ** 2 + (yy - 0.35) ** 2) / 0.03),
                        torch.exp(-((xx - 0.2) ** 2 + (yy + 0.3) ** 2) / 0.02)])[None].double()


def _turned(image: torch.Tensor, degrees: float) -> torch.Tensor:
    a = math.radians(degrees)
    theta = torch.tensor([[[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]]],
                         dtype=image.dtype)
    return F.grid_sample(image, F.affine_grid(theta, list(image.shape), align_corners=False),
                         align_corners=False)


def test_the_invariant_loss_does_not_see_a_rotation_of_the_target():
    target = _blobs()
    x = target + 0.05 * torch.randn_like(target)
    same = invariant_l2(x, target)
    assert torch.allclose(invariant_l2(x, rot(target)), same, rtol=1e-9)  # a quarter turn: exact
    turned = _turned(target, 30.0)
    assert abs(invariant_l2(x, turned) - same) < 0.05 * same  # resampled: nearly
    assert F.mse_loss(x, turned) > 5 * same  # the plain loss sees the turn
    assert invariant_l2(target, target).item() == pytest.approx(0.0, abs=1e-12)


def test_mirrors_count_only_when_asked():
    target = _blobs()
    mirrored = torch.flip(target, (3,))
    assert invariant_l2(target, mirrored, mirror=True).item() == pytest.approx(0.0, abs=1e-12)
    assert invariant_l2(target, mirrored).item() > 1e-3
