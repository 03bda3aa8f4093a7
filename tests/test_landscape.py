"""The attractor landscape: trajectories recorded in chunks, PCA, persistent homology of known shapes,
the one-basin check, and `nca analyse landscape` end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from ncaforge import zoo
from ncaforge.analysis.landscape import LandscapeOptions, basin, pca, persistence, phase_of, record
from ncaforge.cli import main

SMALL = LandscapeOptions(runs=2, steps=12, perturb_at=6, every=3, components=3, cells=100, ae_iterations=5)


def test_runs_are_recorded_one_chunk_each_with_their_phases(tmp_path):
    recording = record(zoo.load("lizard"), SMALL, tmp_path)
    assert recording.states.shape[:2] == (2, 5) and list(recording.steps) == [0, 3, 6, 9, 12]
    assert list(recording.phases) == ["growing", "grown", "perturbed", "regrown", "regrown"]
    chunks = sorted((tmp_path / "trajectories").glob("run_*.npz"))
    assert [c.name for c in chunks] == ["run_000.npz", "run_001.npz"]
    with np.load(chunks[1]) as saved:
        assert saved["states"].dtype == np.float16
        assert np.allclose(saved["states"], recording.states[1], atol=1e-2, rtol=1e-2)


def test_phases_of_a_run():
    assert [phase_of(t, 200, 400) for t in (0, 99, 100, 200, 201, 299, 300)] == [
        "growing", "growing", "grown", "perturbed", "regrowing", "regrowing", "regrown"]


def test_pca_finds_a_line_and_orders_its_components():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(200, 1))
    points = t @ rng.normal(size=(1, 6)) + 0.01 * rng.normal(size=(200, 6))
    coords, ratio, _ = pca(points, 3)
    assert coords.shape == (200, 3) and ratio[0] > 0.99
    assert np.all(np.diff(ratio) <= 0) and ratio.sum() <= 1 + 1e-9


def test_persistent_homology_sees_a_loop_and_two_clusters():
    angles = np.linspace(0, 2 * math.pi, 40, endpoint=False)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 5
    loop = persistence(circle)
    assert loop["h1_lifetimes"][0] > 3 and (len(loop["h1_lifetimes"]) == 1 or loop["h1_lifetimes"][1] < 1)
    clusters = persistence(np.concatenate([circle[:5] * 0.05, circle[:5] * 0.05 + 20]))
    assert clusters["h0_lifetimes"][0] > 10 > clusters["h0_lifetimes"][1]


def test_one_basin_means_coming_back_most_of_the_way():
    phases = np.array(["grown"] * 4 + ["perturbed"] * 2 + ["regrown"] * 2)
    grown = [[0.0, 1], [0, -1], [1, 0], [-1, 0]]
    run = np.zeros(8, dtype=int)
    back = basin(np.array([*grown, [10.0, 0], [10, 0], [1, 0], [1, 0]]), phases, run)
    assert back["return_ratio"] == pytest.approx(0.1) and back["one_basin"]
    elsewhere = basin(np.array([*grown, [10.0, 0], [10, 0], [8, 0], [8, 0]]), phases, run)
    assert not elsewhere["one_basin"]
    # two runs with attractors far apart (two digits): each is judged against its own
    points = np.array([*grown, [10.0, 0], [1, 0], *(np.array(grown) + 100), [110.0, 100], [101, 100]])
    two = basin(points, np.array((["grown"] * 4 + ["perturbed", "regrown"]) * 2), np.repeat([0, 1], 6))
    assert two["return_ratio"] == pytest.approx(0.1) and two["one_basin"]


def test_nca_analyse_landscape_writes_plots_figures_and_trajectories(tmp_path):
    out = tmp_path / "land"
    args = ["analyse", "landscape", "--model", "lizard", "--runs", "2", "--steps", "12", "--perturb-at", "6",
            "--every", "3", "--components", "3", "--cells", "100", "--ae-iterations", "5", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    figures = json.loads((out / "landscape.json").read_text())
    assert figures["model"] == "lizard" and len(figures["macro_explained_variance"]) == 3
    assert {"return_ratio", "one_basin", "ae_dense_mse", "ae_sparse_mse", "pca2_mse"} <= set(figures)
    assert (out / "index.html").exists() and (out / "pca_macro.png").exists()
    assert len(list((out / "trajectories").glob("*.npz"))) == 2
    bad = CliRunner().invoke(main, [*args[:9], "12", *args[10:]])  # --perturb-at 12 of 12 steps
    assert bad.exit_code != 0 and "perturb_at" in bad.output
