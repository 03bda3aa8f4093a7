"""A family written outside the package (tests/plugins/ncaforge-spots), installed with pip into a folder
and found through the ncaforge.families entry point group: trained, saved, loaded, grown, evaluated
and exported by the `nca` command with no line of ncaforge naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PLUGIN = Path(__file__).parent / "plugins" / "ncaforge-spots"
NCA = [sys.executable, "-m", "ncaforge.cli"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    """The environment of a Python that has the plugin installed (pip, into its own folder)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(PLUGIN)], check=True, capture_output=True)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]),
            "OMP_NUM_THREADS": "1"}


def nca(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*NCA, *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_plugin_family_goes_through_every_command(env, tmp_path):
    assert "spots" in nca(env, "train", "--help")
    run = tmp_path / "run"
    nca(env, "train", "spots", "--iterations", "40", "--hidden", "16", "--radius", "3", "--out", str(run))
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert np.mean([m["loss"] for m in metrics[-5:]]) < np.mean([m["loss"] for m in metrics[:5]])
    config = json.loads((run / "checkpoint" / "config.json").read_text())
    assert config["family"] == "spots" and config["format_version"] == 2
    assert config["task"]["kind"] == "spots" and config["task"]["radius"] == 3.0
    assert config["task"]["grid"] == [16, 16] and config["config"]["hidden"] == 16

    out = tmp_path / "grow"
    nca(env, "grow", "--model", str(run / "checkpoint"), "--steps", "10", "--save-steps", "10",
        "--out", str(out))
    states = np.load(out / "states.npz")
    assert states["final"].shape == (1, 8, 16, 16)  # on the task's own grid
    assert states["pictures"].shape == (1, 1, 3, 16, 16)  # the family's RGB view, not RGBA
    assert np.allclose(states["pictures"][0], np.clip(states["final"][:, :3], 0, 1), atol=1e-6)
    assert (out / "strip.png").stat().st_size > 0

    figures = tmp_path / "eval.json"
    text = nca(env, "eval", "spots", "--model", str(run / "checkpoint"), "--steps", "10",
               "--json", str(figures))
    assert "ring_mse" in text and json.loads(figures.read_text())["finite"] is True

    site = tmp_path / "site"
    nca(env, "export", "web", "--model", str(run / "checkpoint"), "--out", str(site))
    models = (site / "models.js").read_text()
    spec = json.loads(models[models.index("{"):models.rindex("}") + 1])["models"][0]
    assert spec["family"] == "spots" and spec["view"]["kind"] == "rgb"


def test_without_the_plugin_its_checkpoint_is_a_clear_error(env, tmp_path):
    run = tmp_path / "run"
    nca(env, "train", "spots", "--iterations", "2", "--out", str(run))
    plain = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    done = subprocess.run([*NCA, "grow", "--model", str(run / "checkpoint")], capture_output=True, text=True,
                          env=plain, timeout=120)
    assert done.returncode != 0 and "unknown model family 'spots'" in done.stderr
    assert "Traceback" not in done.stderr
