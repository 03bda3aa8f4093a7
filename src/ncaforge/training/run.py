"""A training run from settings: build the objective, train, and resume with the run's own settings.

A run's settings are the model config, the task and the optimisation schedule; all
three are in its checkpoint. Resuming takes them from there: a setting given again
with another value is refused, except the few that may change between sessions
(``MAY_CHANGE``), and those changes are recorded in the provenance.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from ncaforge.core.atomic import recover_dir
from ncaforge.core.errors import NcaError
from ncaforge.core.memory import keep_freed_memory
from ncaforge.io import checkpoint as ckpt
from ncaforge.training import distributed
from ncaforge.training.trainer import STATE_JSON, TrainConfig, Trainer

# Settings a resumed run may change: how long and how often, on what, the learning-rate schedule (a lower
# --lr after a divergence, a later drop), and the terms added to sharpen a trained rule (attacks: the
# recovery term; textures: regeneration samples). Each change is recorded in the provenance's resumes.
MAY_CHANGE = frozenset({"iterations", "checkpoint_every", "grad_checkpoint", "threads", "device", "out",
                        "resume", "lr", "lr_drops", "recover_weight", "recover_steps", "damage"})
SCHEDULE_KEYS = ("iterations", "lr", "lr_drops", "seed", "checkpoint_every")


class ResumeError(NcaError, ValueError):
    """A resume that does not fit the run it would continue."""


def _plain(v: Any) -> Any:
    """Lists as tuples, recursively, so that JSON values compare with command-line ones."""
    if isinstance(v, list | tuple):
        return tuple(_plain(x) for x in v)
    return v


def stored_settings(out: str | Path) -> dict[str, Any]:
    """The settings of the run in ``out``: model config, task and schedule fields by name, and
    ``provenance`` (as its checkpoint recorded them)."""
    path = recover_dir(Path(out) / "checkpoint")
    if not (path / STATE_JSON).exists():
        raise ResumeError(f"--resume: no training checkpoint in {path}")
    cfg = ckpt.read_config(path)
    try:
        schedule = json.loads((path / STATE_JSON).read_text())["config"]
        if not isinstance(schedule, dict):
            raise TypeError(f"'config' is a {type(schedule).__name__}")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ResumeError(f"--resume: {path / STATE_JSON} is damaged ({type(e).__name__}: {e}); the "
                          f"model in {path} still loads, but the run cannot continue from it") from e
    settings = {k: _plain(v) for k, v in {**cfg["config"], **{k: v for k, v in (cfg.get("task") or {}).items()
                                                                if k != "kind"}}.items()}
    settings.update({k: _plain(schedule[k]) for k in SCHEDULE_KEYS if k in schedule})
    settings["provenance"] = cfg.get("provenance", {})
    return settings


def resume_settings(out: str | Path, values: dict[str, Any], given: set[str], flags: dict[str, str]
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings to continue with, the changes to record) for resuming the run in ``out``.

    ``values`` are the command's values, ``given`` the names set explicitly, ``flags`` the
    option of each name (for the message). Stored settings win over defaults; a given value
    that contradicts a stored one is refused unless its name is in ``MAY_CHANGE``.
    """
    stored = stored_settings(out)
    conflicts, changes = [], {}
    for name in sorted(given & set(stored)):
        if _plain(values[name]) == stored[name]:
            continue
        if name in MAY_CHANGE:
            changes[name] = values[name]
        else:
            flag = flags.get(name, name)
            conflicts.append(f"{flag} {_show(values[name])} (the run has {_show(stored[name])})")
    if conflicts:
        raise ResumeError(f"--resume continues {out} with its own settings; these options contradict them: "
                          f"{'; '.join(conflicts)}. Leave them out, or train into a new --out")
    merged = {**values, **{k: v for k, v in stored.items() if k in values and k not in given}}
    merged["provenance"] = stored["provenance"]
    return merged, changes


def _show(v: Any) -> str:
    return " ".join(map(str, v)) if isinstance(v, tuple) else str(v)


def resumed_provenance(stored: dict[str, Any], command: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The stored provenance with this resume appended to ``resumes`` (its command and changes)."""
    resumes = [*stored.get("resumes", []), {"command": command, "at_iteration": stored.get("iterations"),
                                            "changed": {k: _plain(v) for k, v in changes.items()}}]
    keep = {k: v for k, v in stored.items() if k not in ("iterations", "train_seconds", "machine",
                                                          "train_config", "final_loss")}
    return {**keep, "resumes": resumes}


def train(make_objective: Callable[[distributed.Group], Any], config: TrainConfig, out: str | Path | None,
          provenance: dict[str, Any] | None = None, resume: bool = False, device: str | None = None,
          threads: int = 0, progress: bool = True, **trainer_options: Any) -> Trainer:
    """Set up processes (torchrun, or one), build the objective with ``make_objective(group)``, train.

    Returns the trainer (its ``records``, ``iteration``, and the objective's ``model``).
    """
    if threads:
        torch.set_num_threads(threads)
    keep_freed_memory()
    group = distributed.setup(device)
    torch.manual_seed(config.seed)
    try:
        objective = make_objective(group)
        config.extra = {**config.extra, "processes": group.world}
        trainer = Trainer(objective, out, config, provenance, group, **trainer_options)
        trainer.fit(resume=resume, progress=progress)
    finally:
        distributed.teardown()
    return trainer


def schedule_of(values: dict[str, Any], optimizer: str, extra: dict[str, Any] | None = None) -> TrainConfig:
    """The TrainConfig named by the shared training options in ``values``."""
    names = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: tuple(v) if k == "lr_drops" else v for k, v in values.items()
                            if k in SCHEDULE_KEYS and k in names})
    config.optimizer, config.extra = optimizer, dict(extra or {})
    return config


def settings_record(*parts: Any) -> dict[str, Any]:
    """Dataclasses as one flat dict (for provenance)."""
    return {k: v for part in parts for k, v in asdict(part).items()}
