"""Symmetric perception (isotropic and steerable NCA) and the rotation-invariant loss."""

import json
import math
from dataclasses import replace

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


def _model(family: str, fire_rate: float = 0.5, scale: float = 0.05):
    from ncaforge.families.isotropic.model import IsotropicConfig, build_isotropic
    from ncaforge.families.steerable import SteerableConfig, build_steerable

    nca = (build_isotropic(IsotropicConfig(fire_rate=fire_rate)) if family == "isotropic"
           else build_steerable(SteerableConfig(fire_rate=fire_rate)))
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, scale)
    return nca.double()


def test_the_families_have_the_originals_widths_and_last_layer():
    from ncaforge.families.isotropic.model import IsotropicConfig, build_isotropic
    from ncaforge.families.steerable import build_steerable

    iso, steer = build_isotropic(), build_steerable()
    assert iso.update.net[0].out_channels == 192  # ceil32(8192 // (32 + 16))
    assert steer.update.net[0].out_channels == 128  # ceil32(8192 // (60 + 16))
    assert build_isotropic(IsotropicConfig(perception="lap_gradnorm")).update.net[0].out_channels == 128
    for nca in (iso, steer):
        last = nca.update.net[-1]
        assert last.bias is None and not last.weight.any()


@pytest.mark.parametrize("family", ["isotropic", "steerable"])
def test_a_whole_rollout_turns_with_the_grid(family):
    from ncaforge.families.isotropic.task import SymmetryTask, seed_states

    nca = _model(family, fire_rate=1.0)  # every cell fires: no random mask to turn
    seed = seed_states(nca, SymmetryTask(), 1, (21, 21)).double()  # odd: rot90 keeps the centre
    turned = seed_states(nca, SymmetryTask(), 1, (21, 21), angle=90.0).double()
    assert torch.equal(turned, rot(seed)) if family == "isotropic" else torch.allclose(
        turned[:, :-1], rot(seed)[:, :-1])
    if family == "steerable":
        assert torch.allclose(turned[:, -1], (rot(seed)[:, -1] - math.pi / 2) % (2 * math.pi))
    grown = nca.rollout(seed, 4, torch.Generator().manual_seed(0), impl="reference")
    grown_turned = nca.rollout(turned, 4, torch.Generator().manual_seed(0), impl="reference")
    assert (grown - seed).abs().sum() > 1.0  # the rule did something
    expected = rot(grown)
    if family == "steerable":  # angles compared as directions: 0 and 2 pi are one
        turn = grown_turned[:, -1] - (expected[:, -1] - math.pi / 2)
        assert torch.allclose(torch.cos(turn), torch.ones_like(turn), atol=1e-9)
        grown_turned, expected = grown_turned[:, :-1], expected[:, :-1]
    assert torch.allclose(grown_turned, expected, atol=1e-6)  # cos and sin of turned angles round


def test_structured_seeds_are_distinct_and_not_collinear():
    from ncaforge.families.isotropic.task import SymmetryTask, seed_states

    for family, count in (("isotropic", 3), ("steerable", 2)):
        seed = seed_states(_model(family), SymmetryTask(), 1, (16, 16))
        cells = seed[0, 3].nonzero()
        assert len(cells) == count
        assert len({tuple(seed[0, :-1, y, x].tolist()) for y, x in cells}) == count  # distinct states
    single = seed_states(_model("isotropic"), SymmetryTask(seeds="single"), 1, (16, 16))
    assert single[0, 3].nonzero().tolist() == [[8, 8]]


def test_only_living_neighbourhoods_change_and_nothing_is_cleared():
    nca = _model("steerable", fire_rate=1.0, scale=0.5)
    x = torch.zeros(1, 16, 16, 16, dtype=torch.float64)
    x[0, 3:, 4, 4] = 1.0
    x[0, 5, 12, 12] = 0.7  # a dead cell with a value: no living neighbour, so it must not change
    y = nca.step(x, torch.ones(1, 1, 16, 16, dtype=torch.bool))
    assert y[0, :, 12, 12].tolist() == x[0, :, 12, 12].tolist()
    assert (y[0, :, 3:6, 3:6] != x[0, :, 3:6, 3:6]).any()
    assert (y[:, -1] >= 0).all() and (y[:, -1] < 2 * math.pi).all()  # angles kept in [0, 2 pi)


@pytest.mark.parametrize("family", ["isotropic", "steerable"])
def test_updating_only_living_firing_cells_equals_the_dense_step(family):
    nca = _model(family, scale=0.3)
    for p in nca.update.net[0].parameters():  # a rule whose deltas differ from cell to cell (not so large
        p.data.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))  # that rounding explodes)
    x = torch.rand(3, 16, 20, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x[:, 3] = (x[:, 3] > 0.8).double()  # islands of life
    sparse, dense = x, x
    for k in range(4):  # step's own path vs. the same rule given as a full-grid delta
        sparse = nca.step(sparse, generator=torch.Generator().manual_seed(k))
        dense = nca.step(dense, generator=torch.Generator().manual_seed(k), delta=nca.delta)
    assert (sparse - x).abs().sum() > 1.0
    assert torch.allclose(sparse, dense, rtol=1e-9, atol=1e-12)  # states grow: compare relatively


def test_train_grow_and_reload_both_families(tmp_path):
    from click.testing import CliRunner

    from ncaforge.cli import main

    for family, extra in (("isotropic", ["--loss", "invariant", "--seeds", "single"]), ("steerable", [])):
        out = tmp_path / family
        result = CliRunner().invoke(main, ["train", family, "--iterations", "3", "--target-size", "12",
                                           "--pad", "4", "--pool", "8", "--batch", "4", "--damage-count",
                                           "1", "--steps", "6", "8", "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        config = json.loads((out / "checkpoint" / "config.json").read_text())
        assert config["family"] == family and config["task"]["kind"] == "symmetry"
        result = CliRunner().invoke(main, ["grow", "--model", str(out / "checkpoint"), "--steps", "5",
                                           "--out", str(tmp_path / f"{family}-grown")])
        assert result.exit_code == 0, result.output


def test_turning_states_quarter_turns_exactly_and_angles_with_them():
    from ncaforge.analysis.symmetry import mirrored, turned

    image = _blobs(21)
    assert torch.equal(turned(image, 90.0), rot(image))
    assert torch.allclose(turned(image, 90.0001), rot(image), atol=1e-3)  # the resampled path agrees
    steer = _model("steerable")
    x = torch.rand(1, 16, 21, 21, dtype=torch.float64) * 2 * math.pi
    assert torch.allclose(turned(x, 90.0, steer)[:, -1], (rot(x)[:, -1] - math.pi / 2) % (2 * math.pi))
    assert torch.allclose(mirrored(x, steer)[:, -1], (math.pi - torch.flip(x, (3,))[:, -1]) % (2 * math.pi))


def test_eval_symmetry_finds_an_isotropic_rule_blind_to_quarter_turns_and_mirrors(tmp_path):
    from click.testing import CliRunner

    from ncaforge.cli import main

    runner = CliRunner()
    for family in ("isotropic", "growing"):
        result = runner.invoke(main, ["train", family, "--iterations", "2", "--target-size", "12",
                                      "--pad", "4", "--pool", "8", "--batch", "4", "--damage-count", "1",
                                      "--steps", "6", "8", "--fire-rate", "1.0",
                                      "--out", str(tmp_path / family)])
        assert result.exit_code == 0, result.output
    path = tmp_path / "symmetry.json"
    result = runner.invoke(main, ["eval", "symmetry", "--model", str(tmp_path / "isotropic" / "checkpoint"),
                                  "--baseline", str(tmp_path / "growing" / "checkpoint"), "--samples", "1",
                                  "--steps", "6", "--regrow-steps", "4", "--json", str(path)])
    assert result.exit_code == 0, result.output
    figures = json.loads(path.read_text())
    for prefix in ("", "baseline_"):
        for key in ("mse_0", "mse_rot90", "mse_rot45", "mse_mirror", "mse_regrown_rot45"):
            assert figures[prefix + key] >= 0
    # every cell fires, so the isotropic rollout from a turned seed is the turned rollout
    assert figures["mse_rot90"] == pytest.approx(figures["mse_0"], rel=1e-5)
    assert figures["mse_mirror"] == pytest.approx(figures["mse_0"], rel=1e-5)


def test_auxiliary_targets_give_a_blob_a_structure_to_miss():
    from ncaforge.families.isotropic.task import aux_targets

    alpha = torch.zeros(9, 9)
    alpha[2:7, 1:8] = 1.0
    binary, extended = aux_targets(alpha, "binary"), aux_targets(alpha, "extended")
    assert binary.shape == (1, 9, 9) and extended.shape == (5, 9, 9)
    assert torch.equal(binary[0, :4].unique(), torch.tensor([-0.5, 0.0]))  # upper half (and outside)
    assert torch.equal(binary[0, 5:].unique(), torch.tensor([0.0, 0.5]))
    assert not binary[:, alpha == 0].any() and not extended[:, alpha == 0].any()
    assert torch.equal(torch.rot90(binary, 2, (1, 2)), -binary)  # a half turn flips it: not isotropic
    assert aux_targets(alpha, "none").shape == (0, 9, 9)
    with pytest.raises(ValueError, match="aux must be one of"):
        aux_targets(alpha, "stripes")


def test_the_loss_counts_auxiliary_channels_and_says_when_they_do_not_fit():
    from ncaforge.families.isotropic.model import IsotropicConfig, build_isotropic
    from ncaforge.families.isotropic.objective import make_objective
    from ncaforge.families.isotropic.task import SymmetryTask
    from ncaforge.training.distributed import Group

    task = SymmetryTask(target_size=12, pad=2, batch=2, pool=4, damage_count=1)
    plain = make_objective(build_isotropic(), task, Group())
    aux = make_objective(build_isotropic(), replace(task, aux="binary"), Group())
    grown = plain.target[None].repeat(2, 1, 1, 1)
    x = torch.cat([grown, torch.zeros(2, 12, *grown.shape[2:])], dim=1)  # RGBA right, hidden all zero
    assert plain.per_sample_loss(x).max() < 1e-6
    assert (aux.per_sample_loss(x) > 1e-3).all()  # the blank hidden channel misses the halves
    with pytest.raises(ValueError, match=r"5 auxiliary targets need hidden channels 4\.\.8; the model has 6"):
        make_objective(build_isotropic(IsotropicConfig(channels=6)), replace(task, aux="extended"),
                       Group())


def test_the_stillness_term_adds_the_mean_change_of_one_more_step():
    from ncaforge.families.isotropic.objective import make_objective
    from ncaforge.families.isotropic.task import SymmetryTask
    from ncaforge.training.distributed import Group

    task = SymmetryTask(target_size=12, pad=2, batch=2, pool=4, damage_count=1, steps=(4, 5))
    losses = []
    for dx in (0.0, 10.0):
        torch.manual_seed(0)
        nca = _model("isotropic", scale=0.3).float()
        losses.append(make_objective(nca, replace(task, dx=dx), Group()).loss(
            torch.Generator().manual_seed(0))[0])
    assert losses[1] > losses[0] + 1e-3  # a rule that keeps changing pays for it
