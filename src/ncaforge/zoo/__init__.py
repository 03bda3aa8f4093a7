"""Bundled pretrained models: one folder each, with weights, config and provenance."""

from __future__ import annotations

import hashlib
import json
import math
from importlib import resources
from pathlib import Path

import torch

from ncaforge.core.nca import NCA
from ncaforge.io import checkpoint as ckpt

MADE = ("command", "seed", "iterations", "train_seconds", "machine", "final_loss")


def how_made(provenance: dict) -> list[tuple[str, object]]:
    """(key, value) rows of how a model was made: its run's figures, then, for a run started from
    another model (``--init``), that model and the command that made it, back to a run from scratch."""
    rows = [(key, provenance[key]) for key in MADE if key in provenance]
    while provenance.get("init"):
        source = provenance.get("init_provenance") or {}
        made_by = f" (made by {source['command']})" if "command" in source else ""
        rows.append(("started from", f"{provenance['init']}{made_by}"))
        provenance = source
    return rows


def zoo_dir() -> Path:
    return Path(str(resources.files("ncaforge.zoo")))


def names() -> list[str]:
    """Names of the bundled models, in the order of zoo/index.json."""
    return [entry["name"] for entry in index()]


def index() -> list[dict]:
    """The zoo's registry: name, family, description, sha256 of the weights."""
    return json.loads((zoo_dir() / "index.json").read_text())


def robustness() -> dict | None:
    """The zoo's robustness leaderboard (`nca robustness --zoo --json`, kept as zoo/robustness.json), or
    None where it has not been measured."""
    path = zoo_dir() / "robustness.json"
    return json.loads(path.read_text()) if path.exists() else None


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


def add(checkpoint_dir: str | Path, name: str, description: str, metrics: dict[str, float],
        notes: str = "") -> Path:
    """Copy a trained checkpoint into the zoo with its sha256, metrics and PROVENANCE.md.

    Only the model files are copied (not the training state). Meant for maintainers
    working in a source checkout.
    """
    src = Path(checkpoint_dir)
    cfg = ckpt.read_config(src)
    dest = zoo_dir() / name
    dest.mkdir(parents=True, exist_ok=True)
    for file in (ckpt.MODEL_FILE, ckpt.CONFIG_FILE):
        (dest / file).write_bytes((src / file).read_bytes())
    prov = cfg.get("provenance", {})
    lines = [f"# {name}", "", description, "", "## How it was made", ""]
    lines += [f"- {key}: `{value}`" for key, value in how_made(prov)]
    lines += ["", "## Metrics", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {v:.6g} |" for k, v in metrics.items()]
    if notes:
        lines += ["", "## Notes", "", notes]
    (dest / "PROVENANCE.md").write_text("\n".join(lines) + "\n")
    entry = {"name": name, "family": cfg["family"], "description": description,
             "sha256": sha256(dest / ckpt.MODEL_FILE), "metrics": metrics}
    entries = index()
    names_now = [e["name"] for e in entries]
    if name in names_now:  # a model trained again keeps its place in the list
        entries[names_now.index(name)] = entry
    else:
        entries.append(entry)
    (zoo_dir() / "index.json").write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
    return dest


def load_term(spec: str) -> tuple[torch.nn.Module, float]:
    """``NAME|DIR[:k]`` -> (perturbation, k); k defaults to 1 (a path with a colon and no k is a path)."""
    name, _, k = spec.rpartition(":")
    if name:
        try:
            scale = float(k)
        except ValueError:
            scale = None
        if scale is not None:
            if not math.isfinite(scale):
                raise ckpt.CheckpointError(f"{spec!r}: the scale k must be a finite number, got {k}")
            return load(name, family="perturbation"), scale
    return load(spec, family="perturbation"), 1.0


def compose_terms(specs: list[str] | tuple[str, ...]) -> torch.nn.Module | None:
    """``I + sum k_i D_i`` of ``NAME|DIR[:k]`` terms (None when there are none)."""
    from ncaforge.interventions.perturbation import Perturbation

    return Perturbation.compose([load_term(s) for s in specs]) if specs else None
