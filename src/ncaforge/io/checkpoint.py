"""Model checkpoints: a directory with model.safetensors and config.json.

config.json (format version 2) holds ``format_version``, the model ``family`` and its
full ``config``, the ``task`` it was trained for (``{"kind": ..., fields}``, or null),
the channel ``layout``, the perception ``feature_order`` and ``provenance`` (how the
weights were made). Version 1 had no task section: reading one takes the task from the
provenance where training recorded it. Loading checks all of this and says what does not fit.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ncaforge.core import family as registry
from ncaforge.core.atomic import atomic_dir, recover_dir
from ncaforge.core.config import Config
from ncaforge.core.errors import ConfigError, NcaError
from ncaforge.core.version import __version__

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
FEATURE_ORDER = "interleaved"  # per channel [f0, f1, ...]; see core/perception.py
MODEL_FILE, CONFIG_FILE = "model.safetensors", "config.json"


class CheckpointError(NcaError, ValueError):
    """A checkpoint is missing, damaged, or does not fit what was asked for."""


def family_of(module: nn.Module) -> str:
    """The registry name of ``module``'s family (a hand-built NCA of core parts is described first)."""
    if getattr(module, "config", None) is None and hasattr(module, "perception"):
        from ncaforge.families.nca import describe

        try:
            module.config = describe(module)
        except ValueError as e:
            raise CheckpointError(str(e)) from e
    try:
        return registry.family_of(module).name
    except registry.FamilyError as e:
        raise CheckpointError(str(e)) from e


def task_section(task: Config | None) -> dict[str, Any] | None:
    """A task dataclass as config.json's ``task``: its kind and fields."""
    if task is None:
        return None
    return {"kind": registry.task_kind(task), **task.to_dict()}


def model_config(module: nn.Module, provenance: dict[str, Any] | None = None,
                 task: Config | None = None) -> dict[str, Any]:
    """The config.json content describing ``module`` (``task`` defaults to ``module.task``)."""
    layout = getattr(module, "layout", None)
    return {
        "format_version": FORMAT_VERSION,
        "family": family_of(module),
        "config": module.config.to_dict(),
        "task": task_section(task if task is not None else getattr(module, "task", None)),
        "layout": layout.to_dict() if layout is not None else None,
        "feature_order": FEATURE_ORDER,
        "ncaforge_version": __version__,
        "provenance": provenance if provenance is not None else getattr(module, "provenance", {}),
    }


def write_model(directory: Path, module: nn.Module, provenance: dict[str, Any] | None = None,
                task: Config | None = None) -> None:
    """Write model files into an existing directory (no atomicity: see save)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    check_finite(tensors, f"{type(module).__name__} to be saved in {directory}")
    save_file(tensors, str(directory / MODEL_FILE))
    config = model_config(module, provenance, task)
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")


def save(path: str | Path, module: nn.Module, provenance: dict[str, Any] | None = None,
         task: Config | None = None) -> Path:
    """Atomically write ``module`` (an NCA, a perturbation) as a checkpoint directory at ``path``."""
    with atomic_dir(path) as tmp:
        write_model(tmp, module, provenance, task)
    return Path(path)


def task_from_v1(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The task section a version-1 checkpoint implies: the fields its provenance recorded, or None
    (also where it lacks one of the task class's ``v1_required`` fields)."""
    prov = cfg.get("provenance") or {}
    kind = "attack" if "attack" in prov else cfg.get("family")
    try:
        cls = registry.task_class(kind)
    except registry.FamilyError:
        return None
    recorded = {**(prov.get("train_config") or {}).get("extra", {}), **prov}
    names = {f.name for f in fields(cls)}
    found = {k: v for k, v in recorded.items() if k in names}
    if any(name not in found for name in getattr(cls, "v1_required", ())):
        return None
    return {"kind": kind, **found} if found else None


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a checkpoint's config.json (version 1 is brought to version 2)."""
    path = recover_dir(path)
    if not path.is_dir():
        raise CheckpointError(f"no checkpoint directory at {path}")
    cfg_path = path / CONFIG_FILE
    if not cfg_path.is_file() or not (path / MODEL_FILE).is_file():
        raise CheckpointError(f"{path} is not a checkpoint: it needs {MODEL_FILE} and {CONFIG_FILE}")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_path} is not valid JSON: {e}") from e
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{cfg_path}: expected a JSON object, got {type(cfg).__name__}")
    version = cfg.get("format_version")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(f"{path}: checkpoint format version {version!r} is not supported "
                              f"(this ncaforge reads versions {', '.join(map(str, READABLE_VERSIONS))})")
    known = registry.families()
    if cfg.get("family") not in known:
        raise CheckpointError(f"{path}: unknown model family {cfg.get('family')!r}; "
                              f"known: {', '.join(sorted(known))}")
    if cfg.get("feature_order", FEATURE_ORDER) != FEATURE_ORDER:
        raise CheckpointError(f"{path}: feature order {cfg['feature_order']!r} is not "
                              f"{FEATURE_ORDER!r}")
    for key, kind in (("config", dict), ("provenance", dict), ("task", dict), ("layout", dict)):
        if key == "config" and key not in cfg:
            raise CheckpointError(f"{cfg_path}: no 'config' section (the model's settings)")
        if cfg.get(key) is not None and not isinstance(cfg[key], kind):
            raise CheckpointError(f"{cfg_path}: '{key}' must be a JSON object, got {type(cfg[key]).__name__}")
    if version == 1:
        cfg = {**cfg, "format_version": FORMAT_VERSION, "task": task_from_v1(cfg)}
    return cfg


def read_task(section: dict[str, Any] | None, where: str | Path) -> Config | None:
    """The task dataclass of a config.json ``task`` section."""
    if section is None:
        return None
    try:
        cls = registry.task_class(section.get("kind"))
    except registry.FamilyError as e:
        raise CheckpointError(f"{where}: {e}") from e
    try:
        return cls.from_dict({k: v for k, v in section.items() if k != "kind"})
    except ConfigError as e:
        raise CheckpointError(f"{where}: task section: {e}") from e


def load(path: str | Path, family: str | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """Load a checkpoint directory; ``family`` if given must match the stored one."""
    cfg = read_config(path)
    if family is not None and cfg["family"] != family:
        raise CheckpointError(f"{path} holds a {cfg['family']!r} model, expected {family!r}")
    try:
        module = registry.build(cfg["family"], cfg["config"])
    except ConfigError as e:
        raise CheckpointError(f"{Path(path) / CONFIG_FILE}: {e}") from e
    tensors = read_weights(Path(path) / MODEL_FILE)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{path}: weights do not fit a {cfg['family']} model "
                              f"(missing {missing}, unexpected {extra})")
    for name, t in tensors.items():
        if t.shape != expected[name].shape:
            raise CheckpointError(f"{path}: tensor {name!r} has shape {tuple(t.shape)}, the config "
                                  f"implies {tuple(expected[name].shape)}")
    module.load_state_dict(tensors)
    module.provenance = cfg.get("provenance") or {}
    module.task = read_task(cfg.get("task"), path)
    return module.to(device).eval()


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a ``model.safetensors``, every one finite, or an error naming what is wrong."""
    try:
        tensors = load_file(str(path))
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from e
    except Exception as e:  # safetensors raises its own SafetensorError (truncated, empty, not safetensors)
        raise CheckpointError(f"{path} is not a readable safetensors file ({e}); it may be truncated "
                              "or not a checkpoint's weights") from e
    check_finite(tensors, str(path))
    return tensors


def check_finite(tensors: dict[str, torch.Tensor], where: str) -> None:
    """Refuse weights holding NaN or infinity (a diverged run), naming the first such tensor."""
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise CheckpointError(f"{where}: tensor {name!r} holds {bad} non-finite values (NaN or inf) "
                                  f"of {t.numel()}: the model diverged and cannot be used")
