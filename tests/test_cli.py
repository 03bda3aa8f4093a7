import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import CPU_PATHS, random_growing
from ncaforge.cli import main
from ncaforge.io import checkpoint as ckpt


@pytest.fixture
def runner():
    return CliRunner()


def test_help_lists_the_commands(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("train", "grow", "eval", "import", "export", "play", "zoo", "demo"):
        assert command in result.output


def test_train_growing_writes_a_loadable_checkpoint_and_resumes(runner, tmp_path, disc_png):
    args = ["train", "growing", "--target", disc_png, "--target-size", "10", "--pad", "3",
            "--iterations", "2", "--batch", "4", "--pool", "8", "--damage-count", "1", "--steps", "4", "6",
            "--hidden", "16", "--out", str(tmp_path / "run")]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    model = ckpt.load(tmp_path / "run" / "checkpoint")
    assert model.provenance["iterations"] == 2 and model.task.grid == (16, 16)
    assert model.provenance["command"].startswith("nca ")
    args[args.index("2")] = "3"
    result = runner.invoke(main, [*args, "--resume", "--lr", "1e-4"])  # a lower lr, as after a divergence
    assert result.exit_code == 0, result.output
    provenance = ckpt.load(tmp_path / "run" / "checkpoint").provenance
    assert provenance["iterations"] == 3 and provenance["train_config"]["lr"] == 1e-4
    assert provenance["resumes"][-1]["changed"] == {"iterations": 3, "lr": 1e-4}


def test_train_rejects_bad_input(runner, tmp_path, disc_png):
    result = runner.invoke(main, ["train", "growing", "--target", str(tmp_path / "x.png"),
                                  "--out", str(tmp_path / "r")])
    assert result.exit_code != 0 and "does not exist" in result.output
    result = runner.invoke(main, ["train", "growing", "--target", disc_png, "--batch", "2",
                                  "--out", str(tmp_path / "r")])
    assert result.exit_code != 0 and "damage_count must be in [0, batch_size)" in result.output


def test_grow_writes_animation_strip_and_states(runner, tmp_path, small_model):
    out = tmp_path / "grow"
    result = runner.invoke(main, ["grow", "--model", small_model, "--steps", "12", "--batch", "2",
                                  "--damage-at", "6", "--save-steps", "3", "--save-steps", "12",
                                  "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "grow.gif").exists() and (out / "strip.png").exists()
    states = np.load(out / "states.npz")
    assert states["final"].shape == (2, 16, 16, 16) and states["final"].dtype == np.float32
    assert states["rgba"].shape == (2, 2, 4, 16, 16)
    assert np.allclose(states["rgba"][1], states["final"][:, :4])


def test_grow_errors(runner, tmp_path, small_model):
    result = runner.invoke(main, ["grow", "--model", str(tmp_path / "nope")])
    assert result.exit_code != 0 and "neither a zoo model" in result.output
    result = runner.invoke(main, ["grow", "--model", small_model, "--steps", "5", "--damage-at", "9"])
    assert result.exit_code != 0 and "outside 0..5" in result.output


def test_eval_growing_writes_json(runner, tmp_path, small_model):
    path = tmp_path / "eval.json"
    result = runner.invoke(main, ["eval", "growing", "--model", small_model, "--samples", "2",
                                  "--persistence-steps", "500", "--json", str(path)])
    assert result.exit_code == 0, result.output
    figures = json.loads(path.read_text())
    for key in ("mse_100", "mse_200", "persistence_max_mse", "regen_mse"):
        assert 0.0 <= figures[key] < 1.0


def test_import_distill_growing_from_the_cli(runner, tmp_path):
    result = runner.invoke(main, ["import", "distill-growing", str(tmp_path / "missing.json"),
                                  "--out", str(tmp_path / "m")])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_bench_writes_the_json_keys(runner, tmp_path):
    path = tmp_path / "bench.json"
    result = runner.invoke(main, ["bench", "--size", "12", "12", "--batch", "1", "--steps", "2",
                                  "--repeats", "1", "--json", str(path)])
    assert result.exit_code == 0, result.output
    figures = json.loads(path.read_text())
    for key in ("forward_cells_per_s", "reference_forward_cells_per_s", "train_iters_per_s",
                "reference_train_iters_per_s"):
        assert figures[key] > 0
    assert figures["default_path"] == CPU_PATHS[-1]  # fused where it builds, else active
    assert sorted(r["path"] for r in figures["rows"]) == sorted(["reference", *CPU_PATHS])


def test_bench_times_the_classifier_shaped_workload(runner, tmp_path):
    path = tmp_path / "bench.json"
    result = runner.invoke(main, ["bench", "--workload", "classifier", "--size", "8", "8", "--batch", "1",
                                  "--steps", "2", "--repeats", "1", "--json", str(path)])
    assert result.exit_code == 0, result.output
    figures = json.loads(path.read_text())
    assert figures["train_steps"] == 20 and figures["size"] == [8, 8]
    assert figures["forward_cells_per_s"] > 0 and "MNIST classifier" in figures["workload"]


def test_eval_against_the_models_own_pattern(runner, tmp_path, small_model):
    identity = tmp_path / "identity"
    ckpt.save(identity, random_growing(hidden=8, scale=0.0))  # keeps its seed cell forever
    path = tmp_path / "self.json"
    args = ["eval", "growing", "--target", "self", "--size", "16", "16", "--samples", "2",
            "--persistence-steps", "500", "--json", str(path)]
    result = runner.invoke(main, [*args, "--model", str(identity)])
    assert result.exit_code == 0, result.output
    figures = json.loads(path.read_text())
    assert figures["target"] == "self" and figures["mse_200"] == 0.0
    with torch.no_grad():
        dying = random_growing(hidden=8, scale=0.0)
        dying.update.net[-1].bias[3] = -1.0  # alpha falls: the pattern vanishes
    ckpt.save(tmp_path / "dying", dying)
    result = runner.invoke(main, [*args, "--model", str(tmp_path / "dying")])
    assert result.exit_code != 0 and "no visible cells" in result.output


def test_figures_print_in_a_format_that_fits_and_divergence_is_named(runner, tmp_path):
    from ncaforge.render.text import blown_up, number

    figures = {"small": 2.1e-7, "broken": float("nan"), "huge": 1.2e35, "fine": 0.8335}
    assert [number(v) for v in figures.values()] == ["2.1e-07", "nan", "1.2e+35", "0.8335"]
    assert blown_up(figures) == ["broken", "huge"]
    exploding = random_growing(hidden=8, scale=0.0)
    with torch.no_grad():
        exploding.update.net[-1].bias.fill_(1e4)  # every channel grows by 1e4 a step
    ckpt.save(tmp_path / "boom", exploding, {}, None)
    result = runner.invoke(main, ["eval", "growing", "--model", str(tmp_path / "boom"), "--target", "lizard",
                                  "--samples", "1", "--persistence-steps", "500"])
    assert "diverged" in result.output and "0.000000" not in result.output
