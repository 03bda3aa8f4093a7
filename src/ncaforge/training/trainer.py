"""The shared training loop: Adam (or NAdam), schedule, gradient normalisation, logs, checkpoints, resume.

A run directory holds:
- ``checkpoint/``: the latest model (model.safetensors + config.json, loadable as is)
  plus ``train_state.safetensors`` / ``train_state.json`` (optimiser moments, RNG
  state, the objective's pool, the iteration reached), replaced atomically;
- ``metrics.jsonl``: one line per iteration up to the checkpoint;
- ``loss.png``: the loss curve.

Under torchrun (see ``distributed.py``) every rank runs this loop on its shard of
the batch and pool; DDP averages gradients, the logged loss is the mean over ranks,
and rank 0 writes the checkpoint with the pool gathered whole, so a run can resume
on a different number of processes.
"""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors.torch import load_file, save_file

from ncaforge.io import checkpoint as ckpt
from ncaforge.io.atomic import atomic_dir, recover_dir, write_text
from ncaforge.progress import bar
from ncaforge.render.plots import plot_loss
from ncaforge.training.distributed import Group
from ncaforge.training.optim import normalize_gradients, piecewise_lr

STATE_FILE, STATE_JSON = "train_state.safetensors", "train_state.json"
OPTIMIZERS = {"adam": torch.optim.Adam, "nadam": torch.optim.NAdam}


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


class TrainingError(RuntimeError):
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
    return (f"{platform.machine()} {platform.processor() or 'cpu'}, "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}")


class Trainer:
    """Trains ``objective.parameters()`` and writes everything to ``run_dir``."""

    def __init__(self, objective: Objective, run_dir: str | Path, config: TrainConfig,
                 provenance: dict[str, Any] | None = None, group: Group | None = None) -> None:
        self.objective, self.config = objective, config
        self.group = group or Group()
        if self.group.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.group.device] if self.group.device.type == "cuda" else None
            objective.forward_model = DistributedDataParallel(objective.forward_model, device_ids=ids,
                                                              broadcast_buffers=False)
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoint"
        self.params = objective.parameters()
        if config.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {config.optimizer!r}")
        self.optimizer = OPTIMIZERS[config.optimizer](self.params, lr=config.lr, eps=config.adam_eps)
        self.generator = torch.Generator().manual_seed(config.seed + self.group.rank)
        self.iteration, self.elapsed = 0, 0.0
        self.records: list[dict[str, float]] = []
        self.provenance = provenance or {}

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
        """Atomically replace the run's checkpoint and flush metrics and plot (rank 0 writes)."""
        train_state = self._train_state()  # collective: every rank takes part
        if not self.group.main:
            return
        lines = "".join(json.dumps(r) + "\n" for r in self.records)
        write_text(self.run_dir / "metrics.jsonl", lines)
        provenance = {**self.provenance, "iterations": self.iteration,
                      "train_seconds": round(self.elapsed, 1), "machine": machine(),
                      "train_config": asdict(self.config),
                      "final_loss": self.records[-1]["loss"] if self.records else None}
        with atomic_dir(self.ckpt_dir) as tmp:
            ckpt.write_model(tmp, self.objective.model, provenance)
            save_file(train_state, str(tmp / STATE_FILE))
            (tmp / STATE_JSON).write_text(json.dumps(
                {"iteration": self.iteration, "elapsed": self.elapsed,
                 "config": asdict(self.config)}, indent=2))
        if self.records:
            plot_loss([r["iteration"] for r in self.records], [r["loss"] for r in self.records],
                      self.run_dir / "loss.png")

    def resume(self) -> None:
        """Restore model, optimiser, RNG, objective state and metrics from the checkpoint."""
        path = recover_dir(self.ckpt_dir)
        if not (path / STATE_FILE).exists():
            raise TrainingError(f"--resume: no training checkpoint in {path}")
        saved = ckpt.load(path, family=ckpt.family_of(self.objective.model))
        self.objective.model.load_state_dict(saved.state_dict())
        meta = json.loads((path / STATE_JSON).read_text())
        tensors = load_file(str(path / STATE_FILE))
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
        log = self.run_dir / "metrics.jsonl"
        if log.exists():
            rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
            self.records = [r for r in rows if r["iteration"] <= self.iteration]

    # ----- the loop ----------------------------------------------------------
    def fit(self, resume: bool = False, progress: bool = True) -> list[dict[str, float]]:
        """Train up to ``config.iterations``; returns the metric records."""
        if resume:
            self.resume()
        elif (self.ckpt_dir / STATE_FILE).exists():
            raise TrainingError(f"{self.run_dir} already holds a run: pass --resume to continue it, "
                                "or choose another --out")
        cfg = self.config
        progress_bar = bar(None, progress and self.group.main, total=cfg.iterations,
                           initial=self.iteration, unit="it")
        try:
            while self.iteration < cfg.iterations:
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
                    raise TrainingError(
                        f"training diverged at iteration {self.iteration + 1}: {what}. The last good "
                        f"checkpoint (iteration {self._saved_iteration()}) is kept in {self.ckpt_dir}; "
                        "resume from it with a lower --lr")
                value = float(total[0]) / self.group.world
                loss.backward()
                normalize_gradients(self.params)
                self.optimizer.step()
                self.iteration += 1
                self.elapsed += time.perf_counter() - start
                self.records.append({"iteration": self.iteration, "loss": value, "lr": lr,
                                     "seconds": round(self.elapsed, 3)})
                progress_bar.update(1)
                progress_bar.set_postfix(loss=f"{value:.3g}", lr=f"{lr:.1e}")
                if self.iteration % cfg.checkpoint_every == 0 or self.iteration == cfg.iterations:
                    self.save()
        finally:
            progress_bar.close()
        return self.records

    def _saved_iteration(self) -> int | str:
        path = self.ckpt_dir / STATE_JSON
        return json.loads(path.read_text())["iteration"] if path.exists() else "none"
