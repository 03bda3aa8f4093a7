"""The identity channel (`nca train growing --identity`) and the two-organism benchmark
(`nca eval stability`)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from conftest import train_and_resume
from ncaforge.analysis.stability import StabilityOptions, bbox_area, two_organisms
from ncaforge.cli import main
from ncaforge.families.growing.identity import (
    VALUES,
    identity_error,
    identity_seed,
    identity_values,
    kept_identity,
)
from ncaforge.families.growing.model import GrowingConfig, build_growing
from ncaforge.families.growing.objective import IdentityObjective

TINY = StabilityOptions(grid=(24, 40), steps=6, distances=(10, 20), offsets=(0, 4), delays=(0, 3))


def test_a_seed_carries_its_identity():
    nca = build_growing(GrowingConfig(hidden=16))
    x = identity_seed(nca, 2, 12, 16, torch.tensor([0.25, 0.75]))
    assert x[:, 3].nonzero().tolist() == [[0, 6, 8], [1, 6, 8]]  # alpha: the centre cell
    assert x[:, -1, 6, 8].tolist() == [0.25, 0.75] and x[:, -1].sum().item() == 1.0
    assert identity_values("several") == VALUES and identity_values("none") == ()
    with pytest.raises(ValueError, match="none, one, several"):
        identity_values("many")


def test_the_loss_asks_living_cells_to_keep_their_identity():
    nca = build_growing(GrowingConfig(hidden=16))
    target = torch.zeros(4, 12, 12)
    objective = IdentityObjective(nca, target, VALUES, weight=1.0, pool_size=8, batch_size=8, damage_count=1,
                                  steps=(2, 3))
    assert objective.pool["ids"].tolist() == list(VALUES) * 2  # the pool starts as the starts, in turn
    x = torch.zeros(2, 16, 12, 12)
    x[:, 3:, 4:8, 4:8] = 1.0  # a block of living cells whose identity channel is 1
    ids = torch.tensor([1.0, 0.25])
    error = identity_error(nca, x, ids)
    assert error[0] == 0.0 and error[1] == pytest.approx(0.75**2)
    idx, _ = objective.batch(torch.Generator().manual_seed(0))
    assert objective.batch_ids[:4].tolist() == list(VALUES)  # the restarted samples carry the starts' ids
    assert torch.equal(objective.pool["ids"][idx], objective.batch_ids)


def test_the_evaluation_tells_a_kept_identity_from_a_lost_one():
    from ncaforge.families.growing.task import GrowingTask

    nca = build_growing(GrowingConfig(hidden=16))  # untrained: the identity map, every seed keeps its value
    nca.task = GrowingTask(identity="several")
    kept = kept_identity(nca, (12, 12), steps=5)
    assert kept["identity_error_5"] == 0.0 and kept["identity_spread_5"] == pytest.approx(0.75)
    with torch.no_grad():
        nca.update.net[-1].bias[-1] = 0.2  # every firing cell drifts away from its identity
    lost = kept_identity(nca, (12, 12), steps=5)
    assert lost["identity_error_5"] > 0.01 and lost["identity_error_5_max"] >= lost["identity_error_5"]


def test_nca_train_growing_with_identity_trains_and_resumes(tmp_path, disc_png):
    train_and_resume(["--target", disc_png, "--identity", "several"], str(tmp_path / "run"),
                     "identity channel: several")
    bad = CliRunner().invoke(main, ["train", "isotropic", "--identity", "one", "--iterations", "1",
                                    "--out", str(tmp_path / "iso")])
    assert bad.exit_code != 0 and "--identity trains growing models" in bad.output


def test_the_bounding_box_of_the_living_cells():
    alpha = torch.zeros(3, 10, 10)
    alpha[0, 2:5, 3:9] = 1.0
    alpha[1, 1, 1] = alpha[1, 8, 2] = 1.0
    assert bbox_area(alpha).tolist() == [18.0, 16.0, 0.0]


def test_organisms_that_keep_to_themselves_score_one():
    still = build_growing(GrowingConfig(hidden=16))  # untrained: its seeds stay single cells
    found = two_organisms(still, TINY)
    assert len(found["configs"]) == 8
    assert found["bbox_ratio_mean"] == 1.0 and found["bbox_ratio_error"] == 0.0 and found["mse_mean"] == 0.0
    with pytest.raises(ValueError, match="outside"):
        two_organisms(still, StabilityOptions(grid=(24, 40), distances=(40,)))


def test_nca_eval_stability_compares_with_a_baseline(tmp_path):
    out = tmp_path / "s.json"
    result = CliRunner().invoke(main, ["eval", "stability", "--model", "lizard", "--baseline", "lizard",
                                       "--grid", "24", "40", "--steps", "4", "--distances", "10",
                                       "--offsets", "0", "--delays", "0", "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["bbox_ratio_mean"] == figures["baseline_bbox_ratio_mean"]
    assert figures["identity"] == "none" and len(figures["configs"]) == 1
