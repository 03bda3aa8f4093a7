"""Model checkpoints: a directory with model.safetensors and config.json.

config.json holds ``format_version``, the model ``family`` and its full ``config``,
the channel ``layout``, the perception ``feature_order`` and ``provenance`` (how the
weights were made). Loading checks all of these and says what does not fit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ncaforge import __version__
from ncaforge.core.nca import NCA
from ncaforge.io.atomic import atomic_dir, recover_dir
from ncaforge.models import FAMILIES, build

FORMAT_VERSION = 1
FEATURE_ORDER = "interleaved"  # per channel [f0, f1, ...]; see core/perception.py
MODEL_FILE, CONFIG_FILE = "model.safetensors", "config.json"


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, or does not fit what was asked for."""


def family_of(nca: NCA) -> str:
    for name, (config_cls, _) in FAMILIES.items():
        if isinstance(getattr(nca, "config", None), config_cls):
            return name
    raise CheckpointError("this model has no known family config; build it with ncaforge.models")


def model_config(nca: NCA, provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """The config.json content describing ``nca``."""
    return {
        "format_version": FORMAT_VERSION,
        "family": family_of(nca),
        "config": nca.config.to_dict(),
        "layout": nca.layout.to_dict() if hasattr(nca, "layout") else None,
        "feature_order": FEATURE_ORDER,
        "ncaforge_version": __version__,
        "provenance": provenance or {},
    }


def write_model(directory: Path, nca: NCA, provenance: dict[str, Any] | None = None) -> None:
    """Write model files into an existing directory (no atomicity: see save)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in nca.state_dict().items()}
    save_file(tensors, str(directory / MODEL_FILE))
    (directory / CONFIG_FILE).write_text(json.dumps(model_config(nca, provenance), indent=2) + "\n")


def save(path: str | Path, nca: NCA, provenance: dict[str, Any] | None = None) -> Path:
    """Atomically write ``nca`` as a checkpoint directory at ``path``."""
    with atomic_dir(path) as tmp:
        write_model(tmp, nca, provenance)
    return Path(path)


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a checkpoint's config.json."""
    path = recover_dir(path)
    if not path.is_dir():
        raise CheckpointError(f"no checkpoint directory at {path}")
    cfg_path = path / CONFIG_FILE
    if not cfg_path.exists() or not (path / MODEL_FILE).exists():
        raise CheckpointError(f"{path} is not a checkpoint: it needs {MODEL_FILE} and {CONFIG_FILE}")
    try:
        cfg = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{cfg_path} is not valid JSON: {e}") from e
    version = cfg.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version!r} is not supported "
                              f"(this ncaforge reads version {FORMAT_VERSION})")
    if cfg.get("family") not in FAMILIES:
        raise CheckpointError(f"{path}: unknown model family {cfg.get('family')!r}; "
                              f"known: {sorted(FAMILIES)}")
    if cfg.get("feature_order", FEATURE_ORDER) != FEATURE_ORDER:
        raise CheckpointError(f"{path}: feature order {cfg['feature_order']!r} is not "
                              f"{FEATURE_ORDER!r}")
    return cfg


def load(path: str | Path, family: str | None = None, device: str | torch.device = "cpu") -> NCA:
    """Load a checkpoint directory; ``family`` if given must match the stored one."""
    cfg = read_config(path)
    if family is not None and cfg["family"] != family:
        raise CheckpointError(f"{path} holds a {cfg['family']!r} model, expected {family!r}")
    nca = build(cfg["family"], cfg["config"])
    tensors = load_file(str(Path(path) / MODEL_FILE))
    expected = nca.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{path}: weights do not fit a {cfg['family']} model "
                              f"(missing {missing}, unexpected {extra})")
    for name, t in tensors.items():
        if t.shape != expected[name].shape:
            raise CheckpointError(f"{path}: tensor {name!r} has shape {tuple(t.shape)}, the config "
                                  f"implies {tuple(expected[name].shape)}")
    nca.load_state_dict(tensors)
    nca.provenance = cfg.get("provenance", {})
    return nca.to(device).eval()
