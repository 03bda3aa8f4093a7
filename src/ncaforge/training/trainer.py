"""The shared training loop: Adam (or NAdam), schedule, gradient normalisation, logs, checkpoints, resume.

A run directory holds:
- ``checkpoint/``: the latest model (model.safetensors + config.json with the task, loadable
  as is) plus ``train_state.safetensors`` / ``train_state.json`` (optimiser moments, RNG
  state, the objective's pool, the iteration reached), replaced atomically;
- ``metrics.jsonl``: one line per iteration, appended every ``metrics_every`` iterations and
  at checkpoints; resuming cuts it back to the checkpoint's iteration;
- ``loss.png``: the loss curve (unless ``plot=False``).

With ``run_dir=None`` nothing is written: the trainer trains in memory and ``fit`` returns
the records. Callbacks watch (and may stop) the loop: see :class:`Trainer`. Off a terminal,
progress is a plain line on stderr every ``log_every`` seconds (``core/progress.py``).

The train state stores a large tensor with many zeros (a pool of mostly dead cells) as its
nonzero elements and where they are (a bitmask or flat indices, whichever is smaller), so
that it stays small and resumes bit-exactly; :func:`load_train_state` reads it back dense,
and reads dense train states of older versions as they are.

Under torchrun (see ``distributed.py``) every rank runs this loop on its shard of
the batch and pool; DDP averages gradients, the logged loss is the mean over ranks,
and rank 0 writes the checkpoint with the pool gathered whole, so a run can resume
on a different number of processes.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ncaforge.core.atomic import atomic_dir, recover_dir, uninterrupted, write_text
from ncaforge.core.config import Config
from ncaforge.core.errors import NcaError
from ncaforge.core.lock import LockedError, locked
from ncaforge.core.progress import bar
from ncaforge.io import checkpoint as ckpt
from ncaforge.render.plots import plot_loss
from ncaforge.training.distributed import Group
from ncaforge.training.optim import normalize_gradients, piecewise_lr

STATE_FILE, STATE_JSON, METRICS_FILE = "train_state.safetensors", "train_state.json", "metrics.jsonl"
OPTIMIZERS = {"adam": torch.optim.Adam, "nadam": torch.optim.NAdam}
STOP = "stop"  # what a callback returns to end training early
# Tensors below this size stay dense in the train state: packing them saves little, and a small
# run's train state stays readable with plain safetensors.
PACK_MIN_BYTES = 1 << 20
BITS_AS_INT = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}  # by element size


class Objective(Protocol):
    """A training task. ``model`` is what learns and is saved (an NCA, an adversary, a perturbation);
    ``forward_model`` runs the rollouts: the model, or a frozen host under the attack, maybe in DDP.

    State tensors named in ``sharded`` are split across ranks along dim 0 (a pool).
    """

    model: torch.nn.Module
    forward_model: torch.nn.Module
    sharded: tuple[str, ...]

    def parameters(self) -> list[torch.nn.Parameter]: ...
    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]: ...
    def state_dict(self) -> dict[str, torch.Tensor]: ...
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None: ...


class TrainingError(NcaError, RuntimeError):
    """Training cannot go on (non-finite loss or state, or an unusable resume)."""


@dataclass
class TrainConfig:
    """Optimisation settings of a run; recorded in train_state.json and provenance."""

    iterations: int = 8000
    lr: float = 2e-3
    lr_drops: tuple[int, ...] = (2000,)
    lr_factor: float = 0.1
    adam_eps: float = 1e-7
    optimizer: str = "adam"  # or "nadam" (PDE NCAs, as in Richardson et al.)
    checkpoint_every: int = 100
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def machine() -> str:
    """The hardware and torch build a run trained on, for its provenance."""
    return (f"{platform.machine()} {platform.processor() or 'cpu'}, "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}")


# ----- train-state files -----------------------------------------------------
def _packed(name: str, t: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """``t`` in its smallest stored form (dense, bitmask + values, or flat indices + values) and
    how to unpack it (None: dense). Zeros are found by their bits, so -0.0 is kept as a value."""
    flat, size = t.reshape(-1), t.element_size()
    if flat.numel() == 0 or flat.numel() * size < PACK_MIN_BYTES or size not in BITS_AS_INT:
        return {name: t}, None
    nonzero = flat.view(BITS_AS_INT[size]) != 0
    indices = nonzero.nonzero().squeeze(1)
    index = torch.int32 if flat.numel() < 2**31 else torch.int64
    costs = {"dense": flat.numel() * size, "bits": -(-flat.numel() // 8) + len(indices) * size,
             "indices": len(indices) * (index.itemsize + size)}
    form = min(costs, key=costs.__getitem__)  # a tie keeps it dense
    if form == "dense":
        return {name: t}, None
    where = torch.from_numpy(np.packbits(nonzero.numpy())) if form == "bits" else indices.to(index)
    return {f"{name}.{form}": where, f"{name}.values": flat[indices]}, {"form": form, "shape": list(t.shape)}


def _unpacked(tensors: dict[str, torch.Tensor], name: str, spec: dict[str, Any]) -> torch.Tensor:
    """The dense tensor ``name`` that :func:`_packed` stored in ``tensors`` (its parts are removed)."""
    values, where = tensors.pop(f"{name}.values"), tensors.pop(f"{name}.{spec['form']}")
    numel = math.prod(spec["shape"])
    if spec["form"] == "bits":
        where = torch.from_numpy(np.unpackbits(where.numpy(), count=numel).astype(bool))
    dense = torch.zeros(numel, dtype=values.dtype)
    dense[where.long() if spec["form"] == "indices" else where] = values
    return dense.reshape(spec["shape"])


def save_train_state(path: str | Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write ``tensors`` as a safetensors file, large ones with many zeros packed (see :func:`_packed`)."""
    stored: dict[str, torch.Tensor] = {}
    packed: dict[str, dict[str, Any]] = {}
    for name, t in tensors.items():
        parts, spec = _packed(name, t)
        stored.update(parts)
        if spec is not None:
            packed[name] = spec
    save_file(stored, str(path), metadata={"packed": json.dumps(packed)} if packed else None)


def load_train_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors :func:`save_train_state` wrote, dense and bit-exact (a dense file reads as it is)."""
    with safe_open(str(path), framework="pt") as f:
        packed = json.loads((f.metadata() or {}).get("packed", "{}"))
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    for name, spec in packed.items():
        tensors[name] = _unpacked(tensors, name, spec)
    return tensors


def _lines(records: list[dict[str, float]]) -> str:
    """Metric records as JSON lines."""
    return "".join(json.dumps(r) + "\n" for r in records)


class Trainer:
    """Trains ``objective.parameters()``; writes checkpoints, metrics and plot to ``run_dir`` (None: nothing).

    ``task`` (default ``objective.task``) goes into the checkpoint's config.json; the
    provenance adds ``objective.provenance`` under the explicit ``provenance``.

    ``callbacks``: one object or a list; each may have ``on_step(trainer, record)``, called
    after every iteration, and ``on_eval(trainer)``, called every ``eval_every`` iterations
    (0: never) and once at the end; a plain function(trainer, record) is an ``on_step``.
    A callback ends training early by returning ``"stop"`` (:data:`STOP`): the run is
    checkpointed at that iteration and can be resumed. Callbacks run on every process
    (check ``trainer.group.main`` to act once); one process stopping stops all.

    ``metrics_every``: iterations between appends to metrics.jsonl (0: at checkpoints only).
    ``log_every``: seconds between progress lines when stderr is not a terminal (0: none).
    """

    def __init__(self, objective: Objective, run_dir: str | Path | None, config: TrainConfig,
                 provenance: dict[str, Any] | None = None, group: Group | None = None, *,
                 task: Config | None = None, callbacks: object | Sequence[object] | None = None,
                 eval_every: int = 0, metrics_every: int = 10, log_every: float = 30.0,
                 plot: bool = True) -> None:
        self.objective, self.config = objective, config
        self.group = group or Group()
        if self.group.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.group.device] if self.group.device.type == "cuda" else None
            objective.forward_model = DistributedDataParallel(objective.forward_model, device_ids=ids,
                                                              broadcast_buffers=False)
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.ckpt_dir = None if self.run_dir is None else self.run_dir / "checkpoint"
        self.params = objective.parameters()
        if config.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {config.optimizer!r}")
        self.optimizer = OPTIMIZERS[config.optimizer](self.params, lr=config.lr, eps=config.adam_eps)
        self.generator = torch.Generator().manual_seed(config.seed + self.group.rank)
        self.iteration, self.elapsed = 0, 0.0
        self.records: list[dict[str, float]] = []
        self.task = task if task is not None else getattr(objective, "task", None)
        self.provenance = {**(getattr(objective, "provenance", None) or {}), **(provenance or {})}
        self.on_step, self.on_eval = _hooks(callbacks)
        self.eval_every, self.metrics_every, self.log_every = eval_every, metrics_every, log_every
        self.plot = plot
        self._written: int | None = None  # records in metrics.jsonl; None: rewrite it whole next time
        self._evaluated: int | None = None  # the iteration on_eval last ran at

    # ----- checkpoints -------------------------------------------------------
    def _train_state(self) -> dict[str, torch.Tensor]:
        """Everything needed to resume; sharded state and RNGs gathered from every rank."""
        tensors = {"generator": self.group.gather(self.generator.get_state()).cpu()}
        for i, p in enumerate(self.params):
            for key, value in self.optimizer.state.get(p, {}).items():
                tensors[f"optim.{i}.{key}"] = torch.as_tensor(value).detach().cpu()
        for key, value in self.objective.state_dict().items():
            value = self.group.gather(value) if key in self.objective.sharded else value
            tensors[f"objective.{key}"] = value.detach().cpu().contiguous()
        return tensors

    def save(self) -> None:
        """Atomically replace the checkpoint; flush metrics and plot (rank 0 writes; in memory: nothing)."""
        if self.run_dir is None:
            return
        train_state = self._train_state()  # collective: every rank takes part
        if not self.group.main:
            return
        self._flush_metrics()  # first: a checkpoint never runs ahead of its metrics
        provenance = {**self.provenance, "iterations": self.iteration,
                      "train_seconds": round(self.elapsed, 1), "machine": machine(),
                      "train_config": asdict(self.config),
                      "final_loss": self.records[-1]["loss"] if self.records else None}
        with uninterrupted():  # Ctrl-C stops the run right after, not inside a library's half-built state
            with atomic_dir(self.ckpt_dir) as tmp:
                ckpt.write_model(tmp, self.objective.model, provenance, task=self.task)
                save_train_state(tmp / STATE_FILE, train_state)
                (tmp / STATE_JSON).write_text(json.dumps(
                    {"iteration": self.iteration, "elapsed": self.elapsed,
                     "config": asdict(self.config)}, indent=2))
            if self.plot and self.records:
                plot_loss([r["iteration"] for r in self.records], [r["loss"] for r in self.records],
                          self.run_dir / "loss.png")

    def _flush_metrics(self) -> None:
        """Append the records not yet in metrics.jsonl (rank 0; the first time, rewrite it whole, atomically).

        Appends are whole lines in one write: a kill cuts at most the last line, past the
        checkpoint, which resuming drops.
        """
        if self.run_dir is None or not self.group.main:
            return
        path = self.run_dir / METRICS_FILE
        if self._written is None:
            write_text(path, _lines(self.records))
        elif self._written < len(self.records):
            with path.open("a") as f:
                f.write(_lines(self.records[self._written:]))
        self._written = len(self.records)

    def resume(self) -> None:
        """Restore model, optimiser, RNG, objective state and metrics (cut back to the checkpoint)."""
        if self.run_dir is None:
            raise TrainingError("cannot resume without a run directory (run_dir=None trains in memory)")
        path = recover_dir(self.ckpt_dir)
        if not (path / STATE_FILE).exists():
            raise TrainingError(f"--resume: no training checkpoint in {path}")
        saved = ckpt.load(path, family=ckpt.family_of(self.objective.model))
        self.objective.model.load_state_dict(saved.state_dict())
        try:
            self._restore(path)
        except NcaError:
            raise
        except Exception as e:  # safetensors' own errors too: a truncated or edited train state
            raise TrainingError(f"--resume: the train state in {path} is damaged ({type(e).__name__}: {e}); "
                                "the model still loads, but the run cannot continue from it") from e

    def _restore(self, path: Path) -> None:
        """Optimiser, random generators, objective state and metrics from the checkpoint at ``path``."""
        meta = json.loads((path / STATE_JSON).read_text())
        tensors = load_train_state(path / STATE_FILE)
        states = tensors["generator"].chunk(len(tensors["generator"]) // len(self.generator.get_state()))
        if len(states) == self.group.world:
            self.generator.set_state(states[self.group.rank].contiguous())
        else:  # saved by another number of processes: a fresh, still deterministic stream
            self.generator.manual_seed(self.config.seed + self.group.rank + 7919 * int(meta["iteration"]))
        for i, p in enumerate(self.params):
            state = {k.split(".", 2)[2]: v for k, v in tensors.items() if k.startswith(f"optim.{i}.")}
            if state:
                self.optimizer.state[p] = state
        state = {k[len("objective."):]: v for k, v in tensors.items() if k.startswith("objective.")}
        self.objective.load_state_dict({k: self.group.mine(v) if k in self.objective.sharded else v
                                        for k, v in state.items()})
        self.iteration, self.elapsed = int(meta["iteration"]), float(meta["elapsed"])
        log = self.run_dir / METRICS_FILE
        rows = []
        for line in log.read_text().splitlines() if log.exists() else []:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line a kill cut short
                continue
        self.records = [r for r in rows if r["iteration"] <= self.iteration]
        self._written = None
        self._flush_metrics()  # lines past the checkpoint, written before a kill, go

    # ----- the loop ----------------------------------------------------------
    def fit(self, resume: bool = False, progress: bool = True) -> list[dict[str, float]]:
        """Train up to ``config.iterations`` (or until a callback stops); returns the metric records.

        The run directory is locked meanwhile: a second run into it is refused (every rank stops)."""
        with ExitStack() as stack:
            refused: LockedError | None = None
            if self.run_dir is not None and self.group.main:
                try:
                    stack.enter_context(locked(self.run_dir))
                except LockedError as e:
                    refused = e
            if self.group.sum(torch.tensor([float(refused is not None)]))[0] > 0:
                raise refused or TrainingError(f"{self.run_dir} is being written by another run")
            return self._fit(resume, progress)

    def _fit(self, resume: bool, progress: bool) -> list[dict[str, float]]:
        if resume:
            self.resume()
        elif self.ckpt_dir is not None and (self.ckpt_dir / STATE_FILE).exists():
            raise TrainingError(f"{self.run_dir} already holds a run: pass --resume to continue it, "
                                "or choose another --out")
        self._flush_metrics()
        cfg = self.config
        progress_bar = bar(None, progress and self.group.main, log_every=self.log_every, total=cfg.iterations,
                           initial=self.iteration, unit="it", desc="train")
        stop = False
        try:
            while not stop and self.iteration < cfg.iterations:
                start = time.perf_counter()
                lr = piecewise_lr(self.iteration, cfg.lr, cfg.lr_drops, cfg.lr_factor)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                self.optimizer.zero_grad(set_to_none=True)
                loss, state = self.objective.loss(self.generator)
                value = float(loss.detach())
                finite = math.isfinite(value) and bool(torch.isfinite(state).all())
                total = self.group.sum(torch.tensor([value if finite else 0.0, float(not finite)]))
                if total[1] > 0:  # every rank stops together
                    what = f"loss {value}" if not math.isfinite(value) else "a non-finite state"
                    what = what if not finite else "a non-finite loss or state on another rank"
                    raise TrainingError(f"training diverged at iteration {self.iteration + 1}: {what}. "
                                        f"{self._what_is_kept()}")
                value = float(total[0]) / self.group.world
                loss.backward()
                normalize_gradients(self.params)
                self.optimizer.step()
                if not all(bool(torch.isfinite(p).all()) for p in self.params):  # never saved as "good"
                    raise TrainingError(f"training diverged at iteration {self.iteration + 1}: the weights "
                                        f"became non-finite. {self._what_is_kept()}")
                self.iteration += 1
                self.elapsed += time.perf_counter() - start
                record = {"iteration": self.iteration, "loss": value, "lr": lr,
                          "seconds": round(self.elapsed, 3)}
                self.records.append(record)
                progress_bar.set_postfix(loss=f"{value:.3g}", lr=f"{lr:.1e}")
                progress_bar.update(1)
                stop = self._call_back(record)
                if stop or self.iteration % cfg.checkpoint_every == 0 or self.iteration == cfg.iterations:
                    self.save()
                elif self.metrics_every and self.iteration % self.metrics_every == 0:
                    self._flush_metrics()
        except KeyboardInterrupt:
            if self.group.main:
                print(f"\ninterrupted at iteration {self.iteration}. {self._what_is_kept()}", file=sys.stderr)
            raise
        finally:
            progress_bar.close()
        if self._evaluated != self.iteration:
            self._evaluate()
        return self.records

    def _call_back(self, record: dict[str, float]) -> bool:
        """Run the step hooks (and the eval hooks when due); whether any process asked to stop."""
        stop = [hook(self, record) == STOP for hook in self.on_step]
        if self.eval_every and self.iteration % self.eval_every == 0:
            stop.append(self._evaluate())
        if self.group.world > 1 and (self.on_step or self.on_eval):  # every rank has the same callbacks
            return bool(self.group.sum(torch.tensor([float(any(stop))]))[0] > 0)
        return any(stop)

    def _evaluate(self) -> bool:
        """Run every ``on_eval`` hook; whether one asked to stop."""
        self._evaluated = self.iteration
        return any([hook(self) == STOP for hook in self.on_eval])  # a list: every hook runs

    def _what_is_kept(self) -> str:
        """After a divergence: which checkpoint is left, and what to do."""
        if self.ckpt_dir is None:
            return "Nothing was saved (training in memory); try a lower lr"
        path = self.ckpt_dir / STATE_JSON
        saved = json.loads(path.read_text())["iteration"] if path.exists() else "none"
        return (f"The last good checkpoint (iteration {saved}) is kept in {self.ckpt_dir}; "
                "resume from it (with a lower --lr after a divergence)")


StepHook = Callable[[Trainer, dict[str, float]], object]
EvalHook = Callable[[Trainer], object]


def _hooks(callbacks: object | Sequence[object] | None) -> tuple[list[StepHook], list[EvalHook]]:
    """The ``on_step`` and ``on_eval`` hooks of ``callbacks`` (one or a list; a function is an on_step)."""
    if callbacks is None:
        return [], []
    items = list(callbacks) if isinstance(callbacks, list | tuple) else [callbacks]
    on_step, on_eval = [], []
    for cb in items:
        if not (hasattr(cb, "on_step") or hasattr(cb, "on_eval") or callable(cb)):
            raise TypeError(f"a callback needs on_step(trainer, record), on_eval(trainer) or to be callable; "
                            f"got {cb!r}")
        if hasattr(cb, "on_step") or not hasattr(cb, "on_eval"):
            on_step.append(getattr(cb, "on_step", cb))
        if hasattr(cb, "on_eval"):
            on_eval.append(cb.on_eval)
    return on_step, on_eval
