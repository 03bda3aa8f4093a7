"""The trainer's options: task and provenance in the checkpoint, training in memory, callbacks,
a packed train state, log lines off a terminal, metrics flushed between checkpoints."""

from __future__ import annotations

import io
import json
import os

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ncaforge.core.progress import LogLines, bar
from ncaforge.data.targets import load_target
from ncaforge.families.growing.model import GrowingConfig, build_growing
from ncaforge.families.growing.objective import GrowingObjective
from ncaforge.families.growing.task import GrowingTask
from ncaforge.io import checkpoint as ckpt
from ncaforge.training import trainer as trainer_module
from ncaforge.training.trainer import (
    STATE_FILE,
    TrainConfig,
    Trainer,
    TrainingError,
    load_train_state,
    save_train_state,
)


@pytest.fixture
def target(disc_png: str) -> torch.Tensor:
    return load_target(disc_png, size=10, pad=3)  # 16x16


def _objective(target: torch.Tensor) -> GrowingObjective:
    """A small regenerating task (pool 32, batch 4, 4-6 steps) with fixed initial weights."""
    torch.manual_seed(0)
    model = build_growing(GrowingConfig(channels=8, hidden=16))
    return GrowingObjective(model, target, "regenerating", pool_size=32, batch_size=4, steps=(4, 6),
                            damage_count=1)


def _config(iterations: int = 5, every: int = 100) -> TrainConfig:
    return TrainConfig(iterations=iterations, lr_drops=(3,), checkpoint_every=every, seed=1)


def _trainer(run_dir, target: torch.Tensor, iterations: int = 5, every: int = 100, **options) -> Trainer:
    """A small regenerating run with fixed seeds (no loss plot unless asked: matplotlib is slow)."""
    return Trainer(_objective(target), run_dir, _config(iterations, every), **{"plot": False, **options})


def _same_weights(a: Trainer, b: Trainer) -> bool:
    pairs = zip(a.objective.model.parameters(), b.objective.model.parameters(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def _bits(t: torch.Tensor) -> torch.Tensor:
    """``t``'s bits as integers: torch.equal on floats would take -0.0 for 0.0."""
    return t.view(torch.int32) if t.dtype == torch.float32 else t


def _iterations(path) -> list[int]:
    return [json.loads(line)["iteration"] for line in path.read_text().splitlines()]


def _kill_during(trainer: Trainer, iteration: int) -> None:
    """Run ``trainer`` until it is interrupted inside ``iteration``."""
    real_loss = trainer.objective.loss

    def dying(generator: torch.Generator):
        if trainer.iteration + 1 == iteration:
            raise KeyboardInterrupt
        return real_loss(generator)

    trainer.objective.loss = dying
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(progress=False)


# ----- task and provenance ---------------------------------------------------
def test_the_objective_task_and_provenance_reach_the_checkpoint(tmp_path, target, disc_png):
    objective = _objective(target)
    objective.task = GrowingTask(target=disc_png, target_size=10, pad=3, pool=32, batch=4)
    objective.provenance = {"data": "a disc", "seed": 5}
    Trainer(objective, tmp_path / "run", _config(1), {"seed": 7}, None, plot=False).fit(progress=False)
    cfg = ckpt.read_config(tmp_path / "run" / "checkpoint")
    assert cfg["task"]["kind"] == "growing" and cfg["task"]["target"] == disc_png
    assert cfg["provenance"]["seed"] == 7  # the explicit provenance wins
    assert cfg["provenance"]["data"] == "a disc"


def test_an_explicit_task_wins_over_the_objective_task(target, disc_png):
    objective = _objective(target)
    objective.task, objective.provenance = GrowingTask(target="lizard"), {"data": "a disc", "seed": 5}
    plain = Trainer(objective, None, _config(1), {"seed": 7})
    assert plain.task.target == "lizard" and plain.provenance == {"data": "a disc", "seed": 7}
    given = Trainer(objective, None, _config(1), task=GrowingTask(target=disc_png))
    assert given.task.target == disc_png and given.provenance == {"data": "a disc", "seed": 5}


# ----- in memory, plot -------------------------------------------------------
def test_training_in_memory_writes_nothing_and_learns_as_on_disk(tmp_path, target, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    memory = _trainer(None, target, every=2)
    records = memory.fit(progress=False)
    assert [r["iteration"] for r in records] == [1, 2, 3, 4, 5]
    assert list(work.iterdir()) == []
    disk = _trainer(tmp_path / "disk", target, every=2)
    disk.fit(progress=False)
    assert _same_weights(memory, disk)
    with pytest.raises(TrainingError, match="run directory"):
        _trainer(None, target).fit(resume=True, progress=False)


def test_plot_false_writes_no_loss_curve(tmp_path, target):
    _trainer(tmp_path / "a", target, iterations=2, plot=False).fit(progress=False)
    _trainer(tmp_path / "b", target, iterations=2, plot=True).fit(progress=False)
    assert not (tmp_path / "a" / "loss.png").exists() and (tmp_path / "b" / "loss.png").exists()


# ----- callbacks -------------------------------------------------------------
class Watcher:
    """Records what the trainer calls; stops after ``stop_at`` iterations."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.steps: list[int] = []
        self.evals: list[int] = []
        self.stop_at = stop_at

    def on_step(self, trainer: Trainer, record: dict[str, float]) -> str | None:
        assert record is trainer.records[-1]
        self.steps.append(int(record["iteration"]))
        return "stop" if trainer.iteration == self.stop_at else None

    def on_eval(self, trainer: Trainer) -> None:
        self.evals.append(trainer.iteration)


def test_callbacks_see_every_step_and_eval_every_n_and_at_the_end(target):
    watcher, seen = Watcher(), []
    _trainer(None, target, callbacks=[watcher, lambda t, r: seen.append(r["loss"])],
             eval_every=2).fit(progress=False)
    assert watcher.steps == [1, 2, 3, 4, 5]
    assert watcher.evals == [2, 4, 5]
    assert len(seen) == 5 and all(isinstance(x, float) for x in seen)
    with pytest.raises(TypeError, match="callback"):
        Trainer(_objective(target), None, _config(), callbacks=[42])


def test_a_stopping_callback_checkpoints_and_the_run_resumes_as_if_uninterrupted(tmp_path, target):
    full = _trainer(tmp_path / "full", target, every=2)
    full.fit(progress=False)
    watcher = Watcher(stop_at=3)
    stopped = _trainer(tmp_path / "run", target, every=2, callbacks=watcher, eval_every=2)
    stopped.fit(progress=False)
    assert stopped.iteration == 3 and watcher.steps == [1, 2, 3] and watcher.evals == [2, 3]
    state = json.loads((tmp_path / "run" / "checkpoint" / "train_state.json").read_text())
    assert state["iteration"] == 3  # saved where it stopped, though checkpoint_every is 2
    resumed = _trainer(tmp_path / "run", target, every=2)
    resumed.fit(resume=True, progress=False)
    assert resumed.iteration == 5 and _same_weights(full, resumed)


def test_an_eval_callback_can_stop_too(target):
    class StopAtFirstEval:
        def on_eval(self, trainer: Trainer) -> str:
            return "stop"

    trainer = _trainer(None, target, callbacks=StopAtFirstEval(), eval_every=2)
    trainer.fit(progress=False)
    assert trainer.iteration == 2


# ----- the train state -------------------------------------------------------
def test_train_state_packs_large_mostly_zero_tensors_bit_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module, "PACK_MIN_BYTES", 0)
    sparse = torch.zeros(64, 8, 16, 16)
    sparse[3, :, 4:6, 4:6] = torch.randn(8, 2, 2)
    sparse[5, 1, 2, 2] = -0.0  # a zero with its sign bit: kept
    half = torch.where(torch.rand(64, 8, 16, 16) < 0.3, torch.randn(64, 8, 16, 16), torch.zeros(()))
    tensors = {"objective.states": sparse, "objective.half": half, "optim.0.exp_avg": torch.randn(500),
               "objective.labels": torch.arange(64) % 3, "generator": torch.zeros(0, dtype=torch.uint8)}
    path = tmp_path / STATE_FILE
    save_train_state(path, tensors)
    with safe_open(str(path), framework="pt") as f:
        packed = json.loads(f.metadata()["packed"])
        stored = set(f.keys())
    assert packed["objective.states"]["form"] == "indices"  # very sparse: where the few values are
    assert packed["objective.half"]["form"] == "bits"  # 30% nonzero: a bitmask is smaller
    assert "optim.0.exp_avg" in stored and "optim.0.exp_avg" not in packed  # dense stays dense
    loaded = load_train_state(path)
    assert loaded.keys() == tensors.keys()
    for name, t in tensors.items():
        assert loaded[name].dtype == t.dtype and torch.equal(_bits(loaded[name]), _bits(t)), name
    dense = tmp_path / "dense.safetensors"
    save_file(tensors, str(dense))
    assert os.path.getsize(path) < 0.5 * os.path.getsize(dense)
    assert torch.equal(_bits(load_train_state(dense)["objective.states"]), _bits(sparse))  # an old file


def test_small_tensors_stay_dense_by_default(tmp_path):
    path = tmp_path / STATE_FILE
    save_train_state(path, {"objective.states": torch.zeros(8, 16, 12, 12)})
    assert load_file(str(path))["objective.states"].shape == (8, 16, 12, 12)


def test_a_packed_run_resumes_bit_exactly_and_an_old_dense_state_still_resumes(tmp_path, target, monkeypatch):
    monkeypatch.setattr(trainer_module, "PACK_MIN_BYTES", 0)
    full = _trainer(tmp_path / "full", target, every=2)
    full.fit(progress=False)
    for name, rewrite in (("packed", False), ("dense", True)):
        run = tmp_path / name
        _kill_during(_trainer(run, target, every=2), 4)
        path = run / "checkpoint" / STATE_FILE
        assert "objective.states" not in load_file(str(path))  # the mostly dead pool was packed
        dense = {k: v.contiguous() for k, v in load_train_state(path).items()}
        if rewrite:  # as the trainer wrote it before packing
            save_file(dense, str(path))
        else:
            save_file(dense, str(tmp_path / "dense.safetensors"))
            assert os.path.getsize(path) < os.path.getsize(tmp_path / "dense.safetensors") / 2
        resumed = _trainer(run, target, every=2)
        resumed.fit(resume=True, progress=False)
        assert resumed.iteration == 5 and _same_weights(full, resumed), name
        pools = full.objective.pool["states"], resumed.objective.pool["states"]
        assert torch.equal(_bits(pools[0]), _bits(pools[1])), name


# ----- metrics ---------------------------------------------------------------
def test_metrics_grow_between_checkpoints_and_resume_cuts_them_back(tmp_path, target):
    run = tmp_path / "run"
    seen: dict[int, list[int]] = {}

    def look(trainer: Trainer, record: dict[str, float]) -> None:
        seen[trainer.iteration] = _iterations(run / "metrics.jsonl")

    _kill_during(_trainer(run, target, iterations=8, every=3, metrics_every=2, callbacks=look), 8)
    assert seen[4] == [1, 2, 3]  # the checkpoint at 3 flushed; iteration 4's line comes after on_step
    assert seen[5] == [1, 2, 3, 4]  # appended at 4, with no checkpoint there
    assert _iterations(run / "metrics.jsonl") == [1, 2, 3, 4, 5, 6]
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"iteration": 7, "lo')  # a line cut by a kill
    resumed = _trainer(run, target, iterations=8, every=3)
    resumed.resume()
    assert _iterations(run / "metrics.jsonl") == [1, 2, 3, 4, 5, 6]  # the checkpoint at 6
    resumed.fit(resume=True, progress=False)
    assert _iterations(run / "metrics.jsonl") == list(range(1, 9))


def test_resume_drops_metrics_written_after_the_checkpoint(tmp_path, target):
    run = tmp_path / "run"
    _kill_during(_trainer(run, target, iterations=6, every=2, metrics_every=1), 4)
    assert _iterations(run / "metrics.jsonl") == [1, 2, 3]
    _trainer(run, target, iterations=6, every=2).resume()
    assert _iterations(run / "metrics.jsonl") == [1, 2]


# ----- progress off a terminal -----------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_log_lines_every_n_seconds_and_at_the_end():
    out, clock = io.StringIO(), FakeClock()
    progress = bar(None, True, log_every=10, total=100, initial=20, unit="it", desc="train", file=out,
                   clock=clock)
    assert isinstance(progress, LogLines)
    for _ in range(5):
        clock.now += 4
        progress.set_postfix(loss="0.5", lr="2.0e-03")
        progress.update(1)
    progress.close()
    assert out.getvalue().splitlines() == [
        "train: 23/100 it, loss 0.5, lr 2.0e-03, 4 s/it, elapsed 00:12",
        "train: 25/100 it, loss 0.5, lr 2.0e-03, 4 s/it, elapsed 00:20",  # at close
    ]


def test_a_terminal_or_no_log_every_gets_tqdm():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert not isinstance(bar(None, True, log_every=10, total=3, file=Terminal()), LogLines)
    assert not isinstance(bar(None, True, total=3, file=io.StringIO()), LogLines)
    assert list(LogLines(range(3), every=1e9, file=io.StringIO())) == [0, 1, 2]


def test_training_off_a_terminal_logs_plain_lines(target, capsys):
    _trainer(None, target, iterations=3, log_every=1e-9).fit(progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == ["train: 1/3 it", "train: 2/3 it", "train: 3/3 it"]
    assert all(" loss " in x and " lr " in x and " s/it" in x and "elapsed" in x for x in lines)
    _trainer(None, target, iterations=3, log_every=1e-9).fit(progress=False)
    assert capsys.readouterr().err == ""
