"""The attack suite: instant attacks hit only the host's cells and writable channels, trained attacks
raise the host's error, recovery is judged against the unattacked host, and `nca robustness` writes it."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from ncaforge import zoo
from ncaforge.analysis.robustness import (
    ATTACKS,
    SuiteOptions,
    SuiteRun,
    attack_sheet,
    figures,
    host_cells,
    one_shot,
    run_suite,
    scoring_of,
)
from ncaforge.cli import main
from ncaforge.core.family import FamilyError
from ncaforge.families.classifier.model import ClassifierConfig, build_classifier, digit_state
from ncaforge.interventions.intervened import Intervened, attack_rule
from ncaforge.io import checkpoint as ckpt

TINY = SuiteOptions(samples=2, attack_steps=3, recovery_steps=3, budget=1, directions=1, rollout=(2, 3))


@pytest.fixture
def digits() -> tuple[torch.nn.Module, torch.Tensor]:
    """An untrained classifier and two states of blocky digits (their grey pixels are read-only)."""
    nca = build_classifier(ClassifierConfig(hidden=16))
    images = torch.zeros(2, 28, 28)
    images[:, 8:20, 10:18] = 0.8
    x = digit_state(nca, images)
    x[:, nca.layout.mutable] = torch.randn(2, len(nca.layout.mutable), 28, 28) * 0.1
    return nca, x


@pytest.mark.parametrize("name", ["disc", "death_10", "death_30", "noise_0.1", "noise_0.3"])
def test_instant_attacks_touch_only_the_hosts_cells_and_writable_channels(digits, name):
    nca, x = digits
    y = one_shot(name, nca, x, torch.Generator().manual_seed(0))
    changed = (y != x).any(dim=1, keepdim=True)
    assert changed.any()
    assert not (changed & ~host_cells(nca, x)).any()  # no cell outside the digit
    assert torch.equal(y[:, list(nca.layout.readonly)], x[:, list(nca.layout.readonly)])  # the image stays


def test_cell_death_clears_about_its_share_of_the_cells(digits):
    nca, x = digits
    y = one_shot("death_30", nca, x, torch.Generator().manual_seed(0))
    cleared = (y[:, nca.layout.mutable] == 0).all(dim=1)
    share = float(cleared.sum()) / float(host_cells(nca, x).sum())
    assert 0.22 < share < 0.38


def test_the_disc_is_one_round_hole(small_model):
    host = ckpt.load(small_model)
    x = torch.zeros(1, 16, 32, 32)
    x[:, 3:] = 1.0  # every cell alive
    hole = (one_shot("disc", host, x, torch.Generator().manual_seed(1)) == 0).all(dim=1)[0]
    rows = torch.arange(32)[:, None]
    cols = torch.arange(32)[None, :]
    discs = [(rows - cy) ** 2 + (cols - cx) ** 2 <= (32 / 8) ** 2 for cy in range(32) for cx in range(32)]
    assert any(torch.equal(hole, disc) for disc in discs)  # exactly the cells of one disc of radius 4
    assert hole.any()


def test_recovery_is_judged_against_twice_the_unattacked_hosts_error():
    row = figures(torch.tensor([1.0, 1.0, 1.0]), torch.tensor([0.1, 0.25, 0.2]),
                  torch.tensor([0.1, 0.1, 0.1]))
    assert row["recovered_fraction"] == pytest.approx(2 / 3)  # 0.1 and 0.2 are back; 0.25 > 0.2 is not
    assert row["host_error"] == pytest.approx(0.1) and row["damage"] == pytest.approx(1.0)


def test_a_trained_adversary_raises_the_hosts_error():
    host = zoo.load("lizard")  # a host whose pattern lives: an untrained one dies, leaving nothing to attack
    run = SuiteRun(host, SuiteOptions(samples=2, budget=4, rollout=(6, 7), lr=0.01))
    untrained = attack_rule(host, "adversary")
    before = run.error(run.sustained(untrained, 1)[0]).mean()
    trained = run.train(attack_rule(host, "adversary"), 2)
    attacked = run.sustained(Intervened(host, adversary=trained), 1)[0]
    assert run.error(attacked).mean() > before
    assert attacked.abs().max() <= run.clip  # within the host's own range


def test_states_that_blow_up_score_the_worst_error():
    run = SuiteRun(zoo.load("lizard"), TINY)
    x = run.x.clone()
    x[0, 5, 0, 0] = float("nan")
    e = run.error(x)
    assert e[0] == 1.0 and e[1] < 0.01


def test_the_suite_reports_every_attack_and_shows_its_states():
    lizard, seen = zoo.load("lizard"), {}

    def observe(name: str, attacked: torch.Tensor, recovered: torch.Tensor) -> None:
        seen[name] = (attacked, recovered)

    out = run_suite(lizard, TINY, observe=observe)
    assert set(out["attacks"]) == set(ATTACKS)
    for row in out["attacks"].values():
        assert 0.0 <= row["recovered_fraction"] <= 1.0 and row["damage"] >= 0.0
    assert out["family"] == "growing" and out["error"].startswith("RGBA MSE")
    assert list(seen) == list(ATTACKS)  # each attack's states after it and after recovery
    for attacked, recovered in seen.values():
        assert attacked.shape == recovered.shape == (2, 16, 72, 72)
    assert not torch.equal(*seen["disc"])  # the recovery steps ran
    sheet = attack_sheet(lizard, seen, samples=2, scale=1)
    assert sheet.shape[0] > 7 * 72 and sheet.shape[1] > 4 * 72 and sheet.dtype == np.uint8
    assert 0.3 < (sheet == 255).all(-1).mean() < 0.99  # lizards on white, captions


def test_an_attack_is_not_a_host():
    with pytest.raises(FamilyError, match="not hosts"):
        scoring_of(zoo.load("adversary-eight"))


def test_a_family_without_an_error_measure_is_refused():
    from ncaforge.families.judge.model import build_judge

    with pytest.raises(FamilyError, match=r"declares no error measure.*growing"):
        scoring_of(build_judge())


def test_nca_robustness_writes_figures_and_a_leaderboard(small_model, tmp_path):
    from click.testing import CliRunner

    out, board = tmp_path / "r.json", tmp_path / "board.md"
    result = CliRunner().invoke(main, [
        "robustness", "--model", small_model, "--samples", "2", "--budget", "1", "--attack-steps", "2",
        "--recovery-steps", "2", "--directions", "1", "--rollout", "2", "3", "--seed", "3",
        "--json", str(out), "--table", str(board), "--pictures", str(tmp_path / "pictures")])
    assert result.exit_code == 0, result.output
    sheet = iio.imread(tmp_path / "pictures" / f"{Path(small_model).name}.png")
    assert sheet.ndim == 3 and sheet.shape[0] > len(ATTACKS) * 8  # a row per attack
    figures = json.loads(out.read_text())
    assert figures["model"] == small_model and figures["options"]["seed"] == 3
    assert set(figures["attacks"]) == set(ATTACKS)
    lines = board.read_text().splitlines()
    assert "disc" in lines[0] and small_model in lines[2]
    result = CliRunner().invoke(main, ["robustness"])
    assert result.exit_code != 0 and "--model" in result.output


def test_the_leaderboard_goes_into_the_demo_report():
    from ncaforge.web.demo import robustness_section

    row = {"damage": 0.1, "recovered_error": 0.0, "host_error": 0.0, "recovered_fraction": 0.5}
    results = {"models": {"lizard": {"error": "RGBA MSE", "attacks": {a: row for a in ATTACKS},
                                     "recovered_fraction_mean": 0.5}},
               "options": {"samples": 8, "seed": 0, "recovery_steps": 300}}
    section = robustness_section(results)
    assert section.table[0][0] == "model" and section.table[1][:3] == ("lizard", "RGBA MSE", "0.50")
    assert len(section.table[1]) == len(ATTACKS) + 3


def test_a_leaderboard_keeps_the_models_it_has_measured_with_the_same_options(small_model, tmp_path):
    import shutil

    from click.testing import CliRunner

    other = tmp_path / "other"
    shutil.copytree(small_model, other)
    out = tmp_path / "board.json"
    args = ["robustness", "--model", small_model, "--model", str(other), "--samples", "1", "--budget", "1",
            "--attack-steps", "2", "--recovery-steps", "2", "--directions", "1", "--rollout", "2", "3",
            "--json", str(out)]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert set(json.loads(out.read_text())["models"]) == {small_model, str(other)}
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and again.output.count("kept from") == 2
    changed = CliRunner().invoke(main, [*args, "--seed", "1"])  # other options: measured again
    assert changed.exit_code == 0 and "kept from" not in changed.output


def test_a_grown_texture_scores_better_than_its_start():
    from ncaforge.families.texture import score
    from ncaforge.objectives.texture import start_states

    host = zoo.load("munca-68")
    x, strip = score.ready(host, 1, torch.Generator().manual_seed(0))
    noise = start_states(host, host.task, 1, tuple(x.shape[-2:]), torch.Generator().manual_seed(1))
    grown, fresh = score.error(host, x, strip), score.error(host, noise, strip)
    assert grown.shape == (1,) and float(grown) < 0.2 * float(fresh) <= 0.2


def test_a_pde_pattern_scores_better_than_its_initial_condition():
    from ncaforge.families.pde import score
    from ncaforge.families.pde.evaluate import unseen_trajectories
    from ncaforge.families.pde.model import observed_state

    host = zoo.load("gray-scott")
    x, fields = score.ready(host, 2, torch.Generator().manual_seed(0))
    start = observed_state(host, unseen_trajectories(host, 2, tuple(host.task.grid), 32)[:, 0])
    assert fields.shape == (2, 2, *host.task.grid)
    assert float(score.error(host, x, fields).max()) < 0.5 * float(score.error(host, start, fields).min())


def test_a_checkerboard_scores_the_share_of_cells_off_it():
    from ncaforge.families.logic import score

    host = zoo.load("logic-checkerboard")
    x, target = score.ready(host, 1, torch.Generator().manual_seed(0))
    assert float(score.error(host, x, target)) == 0.0
    quarter = x.shape[2] // 4
    x[:, 0, :quarter, :] = 1.0 - x[:, 0, :quarter, :]  # a quarter of the rows flipped
    assert float(score.error(host, x, target)) == pytest.approx(0.25)


def test_the_zoo_leaderboard_names_every_model_it_leaves_out():
    from ncaforge.analysis.robustness import table
    from ncaforge.cli.robustness import zoo_subjects

    subjects, others = zoo_subjects()
    hosts = {"lizard", "mnist", "gray-scott", "texture-brick", "munca-68", "logic-checkerboard"}
    assert hosts <= set(subjects)
    assert "rule (Life)" in others["logic-life"] and "no error measure" in others["mnist-judge"]
    assert "against lizard" in others["adversary-tailless"]
    assert set(subjects) | set(others) == set(zoo.names()) and not set(subjects) & set(others)
    notes = table({}, others).splitlines()
    assert any(line.startswith("Not attacked: ") and "adversary-tailless" in line for line in notes)
    with pytest.raises(FamilyError, match="rule"):
        scoring_of(zoo.load("logic-life"))


def test_the_zoo_leaderboard_covers_every_zoo_model():
    from ncaforge.analysis.robustness import SUITE_VERSION
    from ncaforge.cli.robustness import zoo_subjects

    board = zoo.robustness()
    subjects, others = zoo_subjects()
    assert board["options"]["suite"] == SUITE_VERSION
    assert set(board["models"]) == set(subjects) and board["unscored"] == others
    for name, row in board["models"].items():
        assert set(row["attacks"]) == set(ATTACKS), name
        assert name in board["table"]
