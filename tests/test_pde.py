"""PDE NCAs: the Gray-Scott solver, initial conditions, trajectories on disk, the model and its training."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ncaforge.cli import main
from ncaforge.core.perception import FixedPerception
from ncaforge.data import pde
from ncaforge.data.trajectories import TrajectoryError, load_trajectories, load_trajectory, save_trajectory
from ncaforge.families.pde.evaluate import (
    TRANSFORMS,
    equivariance_error,
    radial_spectrum,
    rollout_equivariance_error,
    spectrum_figures,
)
from ncaforge.families.pde.model import PDEConfig, build_pde, observed_state


def test_one_gray_scott_step_matches_the_hand_computed_values() -> None:
    p = pde.preset("paper")
    x = torch.zeros(1, 2, 4, 4)
    x[0, 0] = 1.0
    x[0, :, 0, 0] = torch.tensor([0.0, 1.0])  # one cell of B in a sea of A (at a corner: it wraps)
    y = pde.gray_scott_step(x, p)[0]
    # the cell: lap A = 4 * 0.5 + 4 * 0.25 = 3, lap B = -3
    assert y[0, 0, 0] == pytest.approx(0.1 * 3 + p.feed)
    assert y[1, 0, 0] == pytest.approx(1 - 0.05 * 3 - (p.kill + p.feed))
    # its wrapped edge neighbour (3, 0): lap A = -0.5, lap B = 0.5, no reaction (B = 0)
    assert y[0, 3, 0] == pytest.approx(1 - 0.1 * 0.5)
    assert y[1, 3, 0] == pytest.approx(0.05 * 0.5)
    # its diagonal neighbour (3, 3): lap A = -0.25, lap B = 0.25
    assert y[0, 3, 3] == pytest.approx(1 - 0.1 * 0.25)
    assert y[1, 3, 3] == pytest.approx(0.05 * 0.25)
    assert y[0, 1, 2] == 1 and y[1, 1, 2] == 0  # two cells away: untouched


def test_the_homogeneous_state_is_steady_and_the_grid_periodic() -> None:
    p = pde.preset("paper")
    still = torch.stack([torch.ones(8, 8), torch.zeros(8, 8)])[None]
    assert torch.equal(pde.simulate(still, 50, p)[-1], still)
    x = pde.initial_condition(16, 16, seed=3)[None]
    shifted = torch.roll(x, (5, -7), (2, 3))
    moved_after = torch.roll(pde.simulate(x, 40, p)[-1], (5, -7), (2, 3))
    assert torch.allclose(pde.simulate(shifted, 40, p)[-1], moved_after, atol=1e-6)


def test_initial_conditions_are_seeded_squares_or_bars_with_b_one_minus_a() -> None:
    a = pde.initial_condition(32, 32, seed=1)
    assert torch.equal(a, pde.initial_condition(32, 32, seed=1))
    assert not torch.equal(a, pde.initial_condition(32, 32, seed=2))
    assert torch.equal(a[1], 1 - a[0]) and 0 < float(a[1].mean()) < 0.5
    bars = pde.initial_condition(32, 32, seed=1, kind="bars")
    assert torch.equal(bars[1], 1 - bars[0]) and bars[1].sum() > 0
    with pytest.raises(ValueError, match="squares"):
        pde.initial_condition(8, 8, 0, kind="circles")
    with pytest.raises(ValueError, match="unknown Gray-Scott preset"):
        pde.preset("nope")


def test_laplacian_perception_and_circular_padding() -> None:
    field = torch.arange(25.0).reshape(1, 1, 5, 5) ** 2
    per = FixedPerception(1, ("identity", "laplacian"), padding="circular")
    out = per(field)
    assert torch.equal(out[0, 0], field[0, 0])
    tiled = field.repeat(1, 1, 3, 3)  # the torus unrolled: its centre block sees wrapped neighbours
    plain = FixedPerception(1, ("laplacian",), padding="zeros")(tiled)[0, 0, 5:10, 5:10]
    assert torch.equal(out[0, 1], plain)
    i, j = 2, 2
    kernel = torch.tensor([[1.0, 2, 1], [2, -12, 2], [1, 2, 1]])
    by_hand = (field[0, 0, i - 1:i + 2, j - 1:j + 2] * kernel).sum()
    assert out[0, 1, i, j] == by_hand


def _random_pde_nca(filters: tuple[str, ...]) -> torch.nn.Module:
    nca = build_pde(PDEConfig(filters=filters))
    torch.nn.init.normal_(nca.update.net[-1].weight, std=0.05, generator=torch.Generator().manual_seed(0))
    return nca


def test_identity_laplacian_rules_are_equivariant_and_sobel_rules_are_not() -> None:
    start = pde.initial_condition(24, 24, seed=0)[None]
    iso = equivariance_error(_random_pde_nca(("identity", "laplacian")), start, 4, every=2)
    assert set(iso) == set(TRANSFORMS) and max(iso.values()) < 1e-6  # float32 rounding
    assert rollout_equivariance_error(_random_pde_nca(("identity", "laplacian")), start, 8) < 1e-10
    sobel = equivariance_error(_random_pde_nca(("identity", "sobel_x", "sobel_y")), start, 4, every=2)
    assert max(sobel.values()) > 1e-3


def test_spectra_compare_patterns_without_alignment() -> None:
    x = pde.simulate(pde.initial_condition(48, 48, seed=0)[None], 600, pde.preset("paper"))[-1][:, 1]
    moved = torch.roll(x, (11, 5), (1, 2))
    ratio, corr = spectrum_figures(moved, x)
    assert ratio == pytest.approx(1.0) and corr == pytest.approx(1.0)
    _, corr_flat = spectrum_figures(torch.rand_like(x), x)
    assert corr_flat < 0.9
    assert radial_spectrum(x).shape == (24,)


def test_trajectories_load_from_npz_image_folders_gif_and_mp4(tmp_path) -> None:
    frames = np.random.default_rng(0).random((5, 2, 8, 10), dtype=np.float32)
    save_trajectory(tmp_path / "t.npz", frames, every=4, meta={"pde": "test"})
    got, every, meta = load_trajectory(tmp_path / "t.npz")
    assert np.array_equal(got, frames) and every == 4 and meta == {"pde": "test"}
    np.savez(tmp_path / "bare.npz", frames[:, :1])
    assert load_trajectory(tmp_path / "bare.npz")[0].shape == (5, 1, 8, 10)
    grey = (np.linspace(0, 255, 5)[:, None, None] * np.ones((5, 8, 10))).astype(np.uint8)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, g in enumerate(grey):
        iio.imwrite(folder / f"{i:03d}.png", g)
    got, _, _ = load_trajectory(folder)
    assert got.shape == (5, 1, 8, 10) and np.allclose(got[:, 0], grey / 255.0)
    colour = np.repeat(grey[..., None], 3, axis=-1)
    iio.imwrite(tmp_path / "t.gif", colour, loop=0)
    assert load_trajectory(tmp_path / "t.gif")[0].shape == (5, 3, 8, 10)
    pytest.importorskip("imageio_ffmpeg")
    big = np.repeat(np.repeat(colour, 2, axis=1), 2, axis=2)  # 16x20: sizes a video codec accepts
    iio.imwrite(tmp_path / "t.mp4", big, fps=5, macro_block_size=1)
    got, _, _ = load_trajectory(tmp_path / "t.mp4")
    assert got.shape == (5, 3, 16, 20) and abs(float(got[-1].mean()) - 1.0) < 0.05


def test_bad_trajectories_say_what_is_wrong(tmp_path) -> None:
    with pytest.raises(TrajectoryError, match="no trajectory"):
        load_trajectory(tmp_path / "missing.npz")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(TrajectoryError, match=r"not \.txt"):
        load_trajectory(tmp_path / "notes.txt")
    bad = np.zeros((3, 1, 4, 4), np.float32)
    bad[1, 0, 2, 2] = np.nan
    np.savez(tmp_path / "nan.npz", frames=bad)
    with pytest.raises(TrajectoryError, match="NaN"):
        load_trajectory(tmp_path / "nan.npz")
    save_trajectory(tmp_path / "a.npz", np.zeros((3, 2, 4, 4)))
    save_trajectory(tmp_path / "b.npz", np.zeros((3, 2, 5, 5)))
    with pytest.raises(TrajectoryError, match="differ in shape"):
        load_trajectories([tmp_path / "a.npz", tmp_path / "b.npz"])


def test_observed_state_checks_the_channels() -> None:
    nca = build_pde()
    x = observed_state(nca, torch.ones(2, 2, 6, 6))
    assert x.shape == (2, 8, 6, 6) and x[:, :2].eq(1).all() and x[:, 2:].eq(0).all()
    with pytest.raises(ValueError, match="observes 2 channels"):
        observed_state(nca, torch.ones(2, 3, 6, 6))


def test_a_tiny_training_run_beats_the_baseline(tmp_path) -> None:
    runner = CliRunner()
    data, run = tmp_path / "data", tmp_path / "run"
    done = runner.invoke(main, ["data", "pde", "--size", "16", "16", "--steps", "64", "--every", "8",
                                "--train", "2", "--test", "2", "--out", str(data)])
    assert done.exit_code == 0, done.output
    assert len(list((data / "test").glob("*.npz"))) == 2
    done = runner.invoke(main, ["train", "pde", "--data", str(data / "train"), "--iterations", "60",
                                "--batch", "4", "--pool", "8", "--lr", "3e-3", "--checkpoint-every", "30",
                                "--out", str(run)])
    assert done.exit_code == 0, done.output
    figures = tmp_path / "eval.json"
    done = runner.invoke(main, ["eval", "pde", "--model", str(run / "checkpoint"), "--test", "2",
                                "--large", "24", "--json", str(figures), "--plots", str(tmp_path / "plots")])
    assert done.exit_code == 0, done.output
    f = json.loads(figures.read_text())
    assert f["mse_1x"] < 0.5 * f["baseline_mse_1x"], f
    assert f["equivariance_error"] < 1e-5 and f["rollout_equivariance_error"] < 1e-6
    for key in ("mse_2x", "coverage_ratio_2x", "spectrum_corr_2x", "coverage_ratio_large",
                "spectrum_corr_large"):
        assert np.isfinite(f[key])
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"frames.png", "error.png", "spectra.png",
                                                                "large.png"}
