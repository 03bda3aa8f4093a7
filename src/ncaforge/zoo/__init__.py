"""Bundled pretrained models: one folder each, with weights, config and provenance."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import torch

from ncaforge.core.nca import NCA
from ncaforge.io import checkpoint as ckpt


def zoo_dir() -> Path:
    return Path(str(resources.files("ncaforge.zoo")))


def names() -> list[str]:
    """Names of the bundled models, in the order of zoo/index.json."""
    return [entry["name"] for entry in index()]


def index() -> list[dict]:
    """The zoo's registry: name, family, description, sha256 of the weights."""
    return json.loads((zoo_dir() / "index.json").read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resolve(name_or_dir: str | Path) -> Path:
    """A zoo name or a checkpoint directory -> the checkpoint directory."""
    spec = str(name_or_dir)
    if spec in names():
        return zoo_dir() / spec
    path = Path(spec)
    if path.is_dir():
        return path
    raise ckpt.CheckpointError(f"{spec!r} is neither a zoo model ({', '.join(names())}) "
                               "nor a checkpoint directory")


def load(name_or_dir: str | Path, family: str | None = None, device: str = "cpu") -> NCA:
    """Load a zoo model by name (checking its sha256) or any checkpoint directory."""
    path = resolve(name_or_dir)
    entry = next((e for e in index() if e["name"] == str(name_or_dir)), None)
    if entry is not None and sha256(path / ckpt.MODEL_FILE) != entry["sha256"]:
        raise ckpt.CheckpointError(f"zoo model {entry['name']!r}: weights do not match their "
                                   "recorded sha256 (the installation is damaged)")
    return ckpt.load(path, family=family, device=torch.device(device))
