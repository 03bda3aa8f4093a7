import json

import pytest
import torch

from ncaforge.data.targets import load_target
from ncaforge.families.growing.model import GrowingConfig, build_growing
from ncaforge.families.growing.objective import GrowingObjective
from ncaforge.io import checkpoint as ckpt
from ncaforge.training.optim import normalize_gradients, piecewise_lr
from ncaforge.training.trainer import TrainConfig, Trainer, TrainingError


def _trainer(run_dir, target, mode="persistent", iterations=6, every=2, lr=2e-3, drops=(3,)):
    torch.manual_seed(0)
    model = build_growing(GrowingConfig(hidden=32))
    objective = GrowingObjective(model, target, mode, pool_size=8, batch_size=4, steps=(8, 12),
                                 damage_count=1)
    config = TrainConfig(iterations=iterations, lr=lr, lr_drops=drops, checkpoint_every=every, seed=1)
    return Trainer(objective, run_dir, config)


@pytest.fixture
def target(disc_png):
    return load_target(disc_png, size=10, pad=3)


def test_schedule_and_gradient_normalisation():
    assert piecewise_lr(0, 2e-3) == 2e-3 and piecewise_lr(1999, 2e-3) == 2e-3
    assert piecewise_lr(2000, 2e-3) == pytest.approx(2e-4)
    assert piecewise_lr(5, 1.0, (2, 4)) == pytest.approx(0.01)
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.tensor([3.0, 4.0, 0.0])
    normalize_gradients([p])
    assert torch.allclose(p.grad, torch.tensor([0.6, 0.8, 0.0]))


def test_tiny_growing_run_reduces_the_loss(tmp_path, target):
    trainer = _trainer(tmp_path / "run", target, mode="growing", iterations=40, every=40, lr=4e-3,
                       drops=())
    trainer.objective.steps = (16, 24)
    losses = [r["loss"] for r in trainer.fit(progress=False)]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first / 2.5, (first, last)  # measured: 0.056 -> 0.015
    assert (tmp_path / "run" / "loss.png").exists()
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["iteration"] for x in lines] == list(range(1, 41))


def test_same_seed_same_result(tmp_path, target):
    a = _trainer(tmp_path / "a", target, iterations=3)
    b = _trainer(tmp_path / "b", target, iterations=3)
    a.fit(progress=False)
    b.fit(progress=False)
    for x, y in zip(a.objective.model.parameters(), b.objective.model.parameters(), strict=True):
        assert torch.equal(x, y)


def test_resume_after_a_kill_equals_an_uninterrupted_run(tmp_path, target):
    full = _trainer(tmp_path / "full", target, mode="regenerating")
    full.fit(progress=False)

    killed = _trainer(tmp_path / "killed", target, mode="regenerating")
    real_loss, calls = killed.objective.loss, []

    def dying_loss(generator):
        calls.append(1)
        if len(calls) == 4:  # killed during iteration 4; last checkpoint at 2
            raise KeyboardInterrupt
        return real_loss(generator)

    killed.objective.loss = dying_loss
    with pytest.raises(KeyboardInterrupt):
        killed.fit(progress=False)
    resumed = _trainer(tmp_path / "killed", target, mode="regenerating")
    resumed.fit(resume=True, progress=False)
    assert resumed.iteration == 6
    for x, y in zip(full.objective.model.parameters(), resumed.objective.model.parameters(), strict=True):
        assert torch.equal(x, y)
    assert torch.equal(full.objective.pool["states"], resumed.objective.pool["states"])
    log = [json.loads(x) for x in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in log] == [1, 2, 3, 4, 5, 6]


def test_an_existing_run_needs_resume(tmp_path, target):
    _trainer(tmp_path / "r", target, iterations=2).fit(progress=False)
    with pytest.raises(TrainingError, match="--resume"):
        _trainer(tmp_path / "r", target, iterations=4).fit(progress=False)
    with pytest.raises(TrainingError, match="no training checkpoint"):
        _trainer(tmp_path / "empty", target).fit(resume=True, progress=False)


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, target):
    trainer = _trainer(tmp_path / "nan", target, iterations=6, every=2)
    real_loss, calls = trainer.objective.loss, []

    def poisoned(generator):
        calls.append(1)
        loss, state = real_loss(generator)
        return (loss * float("nan"), state) if len(calls) == 3 else (loss, state)

    trainer.objective.loss = poisoned
    with pytest.raises(TrainingError, match=r"diverged at iteration 3: loss nan.*iteration 2"):
        trainer.fit(progress=False)
    model = ckpt.load(tmp_path / "nan" / "checkpoint")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert json.loads((tmp_path / "nan" / "checkpoint" / "train_state.json").read_text())["iteration"] == 2


def test_objective_rejects_bad_settings(target):
    model = build_growing()
    with pytest.raises(ValueError, match="mode must be one of"):
        GrowingObjective(model, target, "sleeping")
    with pytest.raises(ValueError, match=r"RGBA tensor \(4, H, W\)"):
        GrowingObjective(model, target[:3])
    with pytest.raises(ValueError, match="pool_size"):
        GrowingObjective(model, target, pool_size=4, batch_size=8)
