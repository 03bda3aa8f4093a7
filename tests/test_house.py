"""The task travels with the model: from Python or the CLI into the checkpoint, back into every command,
and through a resume; old checkpoints without one get an error that names the flag to pass."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import ncaforge as nf
from conftest import random_growing
from ncaforge.cli import main
from ncaforge.io import checkpoint as ckpt

TINY = ["--target-size", "10", "--pad", "3", "--batch", "4", "--pool", "8", "--damage-count", "1",
        "--steps", "4", "6", "--hidden", "16"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_a_model_trained_from_python_brings_its_target_and_grid_to_the_commands(runner, tmp_path, disc_png):
    model = nf.train("growing", target=disc_png, target_size=10, pad=3, batch=4, pool=8, damage_count=1,
                     steps=(4, 6), hidden=16, iterations=2, progress=False)
    assert model.task.grid == (16, 16) and model.task.target == disc_png
    nf.save(model, tmp_path / "m")
    out = tmp_path / "grow"
    result = runner.invoke(main, ["grow", "--model", str(tmp_path / "m"), "--steps", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert np.load(out / "states.npz")["final"].shape == (1, 16, 16, 16)  # its grid, not 72x72
    path = tmp_path / "eval.json"
    result = runner.invoke(main, ["eval", "growing", "--model", str(tmp_path / "m"), "--samples", "1",
                                  "--persistence-steps", "500", "--json", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["target"] == disc_png  # its own target, not the lizard


def write_v1(path, module, provenance: dict) -> None:
    """A checkpoint as version 1 wrote it: no task section."""
    ckpt.save(path, module, provenance)
    config = json.loads((path / "config.json").read_text())
    config["format_version"] = 1
    del config["task"]
    (path / "config.json").write_text(json.dumps(config))


def test_a_v1_checkpoint_without_its_task_is_a_clear_error_naming_the_flag(runner, tmp_path):
    write_v1(tmp_path / "old", random_growing(hidden=8), {})
    assert ckpt.load(tmp_path / "old").task is None
    result = runner.invoke(main, ["grow", "--model", str(tmp_path / "old"), "--steps", "2",
                                  "--out", str(tmp_path / "g")])
    assert result.exit_code != 0 and "--size" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["eval", "growing", "--model", str(tmp_path / "old")])
    assert result.exit_code != 0 and "--target" in result.output
    result = runner.invoke(main, ["grow", "--model", str(tmp_path / "old"), "--steps", "2",
                                  "--size", "12", "12", "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output


def test_a_v1_checkpoint_from_the_cli_reads_its_task_from_the_provenance(tmp_path, disc_png):
    write_v1(tmp_path / "old", random_growing(hidden=8),
             {"target": disc_png, "target_size": 10, "pad": 3, "mode": "persistent", "grid": [16, 16],
              "train_config": {"extra": {"batch": 4, "pool": 8}}})
    task = ckpt.load(tmp_path / "old").task
    assert (task.target, task.grid, task.mode) == (disc_png, (16, 16), "persistent")
    assert (task.batch, task.pool) == (4, 8)
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    assert config["format_version"] == 1  # read, not rewritten


def test_a_bare_resume_keeps_the_runs_own_target_and_schedule(runner, tmp_path, disc_png):
    run = tmp_path / "run"
    first = ["train", "growing", "--target", disc_png, *TINY, "--iterations", "2", "--checkpoint-every", "1",
             "--lr", "1e-3", "--out", str(run)]
    assert runner.invoke(main, first).exit_code == 0
    result = runner.invoke(main, ["train", "growing", "--out", str(run), "--resume", "--iterations", "4"])
    assert result.exit_code == 0, result.output
    model = ckpt.load(run / "checkpoint")
    assert model.task.target == disc_png and model.task.grid == (16, 16)  # not the lizard on 72x72
    assert model.config.hidden == 16 and model.provenance["iterations"] == 4
    state = json.loads((run / "checkpoint" / "train_state.json").read_text())["config"]
    assert state["lr"] == 1e-3 and state["checkpoint_every"] == 1  # the run's, not the command's defaults
    (resume,) = model.provenance["resumes"]
    assert resume["changed"] == {"iterations": 4} and model.provenance["command"].startswith("nca train")
    result = runner.invoke(main, ["train", "growing", "--out", str(run), "--resume", "--target", "lizard"])
    assert result.exit_code != 0 and "--target lizard" in result.output and disc_png in result.output
    result = runner.invoke(main, ["train", "growing", "--out", str(run), "--resume", "--hidden", "32"])
    assert result.exit_code != 0 and "--hidden 32 (the run has 16)" in result.output


def test_a_hand_built_nca_saves_and_loads(tmp_path):
    from ncaforge.core.layout import Layout
    from ncaforge.core.perception import LearnedPerception
    from ncaforge.core.update import UpdateMLP

    perception = LearnedPerception(6, 12, padding="circular")
    nca = nf.NCA(Layout(6, rgb=None, alpha=None), perception, UpdateMLP(12, 6, (10, 10), last_bias=False),
                 fire_rate=0.7, noise=0.01)
    torch.nn.init.normal_(nca.update.net[-1].weight)
    nf.save(nca, tmp_path / "hand")
    loaded = nf.load(tmp_path / "hand")
    assert ckpt.read_config(tmp_path / "hand")["family"] == "nca"
    x, fire = torch.rand(2, 6, 8, 8), torch.rand(2, 1, 8, 8) < 0.7
    noise = torch.zeros(2, 6, 8, 8)
    assert torch.equal(nca.step(x, fire, noise=noise), loaded.step(x, fire, noise=noise))
    assert loaded.fire_rate == 0.7 and loaded.noise == 0.01
