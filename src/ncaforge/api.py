"""The Python verbs of ncaforge, for notebooks and scripts: ``import ncaforge as nf``.

``nf.build("growing")`` makes a model, ``nf.load("lizard")`` takes one from the zoo or a
checkpoint, ``nf.train(...)`` trains one (in memory, or into a run directory),
``nf.grow`` runs one, ``nf.render`` turns states into a picture, ``nf.evaluate``
measures one, ``nf.attack`` trains an attack on a frozen host, ``nf.save`` writes one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ncaforge.core import family as registry
from ncaforge.core.config import Config


def families() -> list[str]:
    """The names of the registered model families."""
    return sorted(registry.families())


def build(family: str, config: Config | dict | None = None, **options: Any) -> nn.Module:
    """An untrained model of ``family``; ``options`` override fields of its config."""
    f = registry.get(family)
    unknown = sorted(set(options) - {field.name for field in fields(f.config)})
    if unknown:
        raise TypeError(f"{family} models have no option {', '.join(unknown)}; their options: "
                        f"{', '.join(field.name for field in fields(f.config))}")
    if isinstance(config, dict) or config is None:
        config = f.config.from_dict({**(config or {}), **options})
    elif options:
        config = replace(config, **options)
    return registry.build(family, config)


def load(name_or_dir: str | Path, family: str | None = None, device: str = "cpu") -> nn.Module:
    """A zoo model by name (its weights checked) or any checkpoint directory."""
    from ncaforge import zoo

    return zoo.load(name_or_dir, family=family, device=device)


def save(model: nn.Module, path: str | Path, provenance: dict | None = None, task: Config | None = None
         ) -> Path:
    """Write ``model`` as a checkpoint directory (atomically); a hand-built NCA of core parts too."""
    from ncaforge.io import checkpoint

    return checkpoint.save(path, model, provenance, task)


def _split(cls: type | None, options: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)} if cls is not None else set()
    return {k: options.pop(k) for k in list(options) if k in names}


def train(family: str, task: Config | None = None, config: Config | None = None, *,
          iterations: int | None = None, lr: float | None = None, lr_drops: Sequence[int] | None = None,
          seed: int = 0, out: str | Path | None = None, resume: bool = False, grad_checkpoint: int = 0,
          callbacks: Any = (), progress: bool = True, device: str | None = None, **options: Any
          ) -> nn.Module:
    """Train a model of ``family`` on ``task`` and return it (its ``task`` and ``provenance`` set).

    Keyword ``options`` are fields of the family's task or config (``target="lizard"``,
    ``hidden=64``); the schedule defaults to the family's. Without ``out`` nothing is written;
    with it, the run directory is that of `nca train` (checkpoints, metrics, resume).
    ``callbacks`` go to the trainer (see :class:`ncaforge.training.trainer.Trainer`).
    """
    from ncaforge.training.run import train as run
    from ncaforge.training.trainer import TrainConfig

    f = registry.get(family)
    if f.objective is None:
        raise registry.FamilyError(f"the {family} family has no training objective")
    task_options, config_options = _split(f.task, options), _split(f.config, options)
    if options:
        raise TypeError(f"unknown options for the {family} family: {', '.join(sorted(options))}")
    task = replace(task, **task_options) if task is not None else f.task(**task_options)
    config = replace(config, **config_options) if config is not None else f.config(**config_options)
    s = f.schedule
    schedule = TrainConfig(iterations=iterations or s.iterations, lr=lr or s.lr,
                           lr_drops=tuple(s.lr_drops if lr_drops is None else lr_drops),
                           optimizer=s.optimizer,
                           seed=seed)

    def objective(group: Any) -> Any:
        return f.objective(f.build(config).to(group.device), task, group, grad_checkpoint)

    trainer = run(objective, schedule, out, {"command": f"nf.train({family!r})", "seed": seed},
                  resume=resume, device=device, progress=progress, callbacks=callbacks)
    model = trainer.objective.model
    model.task = getattr(trainer.objective, "task", task)
    model.provenance = trainer.provenance
    return model


def grow(model: nn.Module, steps: int, batch: int = 1, size: tuple[int, int] | None = None, seed: int = 0,
         x: torch.Tensor | None = None, trajectory: bool = False
         ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` ``steps`` steps from its family's seed on its training grid (or ``size``), or from
    ``x``; with ``trajectory`` also returns every state (steps + 1, B, C, H, W)."""
    if x is None:
        f = registry.family_of(model)
        if f.seed is None:
            raise registry.FamilyError(f"the {f.name} family does not grow from a seed: pass x")
        grid = size or registry.recorded(model, "grid", "size=(H, W)")
        x = f.seed(model, model.task, batch, tuple(grid))
    with torch.no_grad():
        return model.rollout(x, steps, torch.Generator().manual_seed(seed), trajectory=trajectory)


def render(model: nn.Module, x: torch.Tensor, scale: int = 4) -> np.ndarray:
    """States ``x`` (B, C, H, W) as one uint8 picture (H*scale, B*W*scale, 3), as the family draws them."""
    from ncaforge.render.frames import tile, to_image
    from ncaforge.render.views import picture

    return tile([to_image(image, scale) for image in picture(model, x.detach().cpu())])


def animate(model: nn.Module, states: torch.Tensor, path: str | Path, fps: int = 20, scale: int = 4
            ) -> list[Path]:
    """A trajectory (T, B, C, H, W) as an animation (``path``.gif, and .mp4 with an encoder)."""
    from ncaforge.render.video import write_animation

    return write_animation([render(model, x, scale) for x in states], Path(path), fps)


def evaluate(model: nn.Module, progress: bool = False, **options: Any) -> dict[str, Any]:
    """The figures of the family's evaluation (the options of `nca eval FAMILY`, as keywords)."""
    f = registry.family_of(model)
    if f.evaluation is None:
        raise registry.FamilyError(f"the {f.name} family has no evaluation")
    settings = registry.load_models(f.evaluation.options(**options), load)
    report = f.evaluation.run(model, settings, progress=progress)
    return report.figures


def attack(host: nn.Module | str, target: str, kind: str = "perturbation", *, iterations: int | None = None,
           lr: float | None = None, seed: int = 0, out: str | Path | None = None, progress: bool = True,
           callbacks: Any = (), **settings: Any) -> nn.Module:
    """Train an attack on a frozen ``host`` (a model, zoo name or directory) towards ``target``:
    ``kind`` "perturbation" (a global state perturbation) or "adversary" (adversarial cells).
    ``settings`` are the `nca attack` options (``fraction``, ``clip``, ``pool``, ``steps``, ...)."""
    from ncaforge.analysis.attack import attack_task, attacks_of
    from ncaforge.training.run import train as run
    from ncaforge.training.trainer import TrainConfig

    spec = host if isinstance(host, str | Path) else "<in memory>"
    host = load(host) if isinstance(host, str | Path) else host
    hooks = attacks_of(host)
    task = attack_task(kind, host=str(spec), target=target, **settings)
    s = hooks.schedule
    schedule = TrainConfig(iterations=iterations or s.iterations, lr=lr or s.lr, lr_drops=s.lr_drops,
                           seed=seed)
    trainer = run(lambda group: hooks.objective(host, task, group, 0, seed), schedule, out,
                  {"command": f"nf.attack({spec!r}, {target!r}, {kind!r})", "seed": seed,
                   "attack": kind, "host": str(spec), "target": target},
                  progress=progress, callbacks=callbacks)
    module = trainer.objective.model
    module.task = getattr(trainer.objective, "task", task)
    module.provenance = trainer.provenance
    return module
