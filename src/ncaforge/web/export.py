"""Models as the JSON that the playground's engine.js runs, and the static site that carries them.

A spec holds everything the browser needs for one rule: the channel layout, the
masking (Growing NCA's, or the symmetric families' pre-update mask only) and its
constants, the perception (a fixed filter bank, a learned 3x3 conv, or a symmetric
perception), the update MLP, the family's view (how a state becomes a picture) and
its seed state (with the seed turned every 15 degrees, and mirrored, for families
whose seeds turn),
with every tensor as base64 of little-endian float32 (exact, and a third the size of
decimal text). Which models go is the family registry's answer (``Family.web``), not a
list of family names here. The site is the files of ``web/site`` plus ``models.js``,
one ``window.NCAFORGE_SITE = {...}`` assignment, so that it also opens from the file
system, where browsers refuse to fetch JSON.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ncaforge.analysis.symmetry import turns_seeds
from ncaforge.core import family as registry
from ncaforge.core.atomic import atomic_dir
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FixedPerception, LearnedPerception, SymmetricPerception, filter_bank
from ncaforge.core.update import UpdateMLP
from ncaforge.core.version import __version__
from ncaforge.core.view import ClassView, View
from ncaforge.interventions.perturbation import Perturbation
from ncaforge.io.checkpoint import family_of

SPEC_VERSION = 3  # 2: masking, symmetric perception, seeds with a background, turned seeds; 3: gate circuits
MASKINGS = ("pre_post", "pre")  # the steps engine.js knows (NCA.masking)
SEED_TURNS = tuple(range(0, 360, 15))  # degrees: the seeds a page can start from, for families that turn them
SITE_FILES = Path(__file__).parent / "site"
DEFAULT_GROWING_GRID = (96, 96)  # models without a read-only input, unless --size says otherwise
DEFAULT_INPUT_GRID = (28, 28)  # models with a read-only input whose task records no grid (MNIST's)


def floats(t: torch.Tensor | np.ndarray) -> str:
    """A tensor, flattened in C order, as base64 of little-endian float32."""
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def sparse(x: torch.Tensor) -> dict:
    """A (C, H, W) state as a background cell (the first cell's state) and the cells that differ from
    it: flat positions i*W+j and their (n, C) values, so that a seed of a few cells costs a few bytes
    whatever the grid (steerable cells all hold an angle: the background carries it)."""
    cells = x.detach().cpu().float().flatten(1).t()  # (H*W, C)
    where = torch.nonzero(cells.ne(cells[0]).any(1)).flatten()
    return {"background": floats(cells[0]), "cells": floats(where.float()), "values": floats(cells[where])}


def _perception_spec(perception: nn.Module) -> dict:
    if hasattr(perception, "web_spec"):  # a family's own perception says how the page runs it
        return perception.web_spec()
    if isinstance(perception, FixedPerception):
        bank = filter_bank(perception.filters, perception.angle).reshape(len(perception.filters), 9)
        return {"kind": "fixed", "filters": len(perception.filters), "names": list(perception.filters),
                "bank": floats(bank)}
    if isinstance(perception, SymmetricPerception):  # its filters as bank rows: identity, lap, sobel x, y
        bank = torch.cat([perception.lap, perception.sobel]).reshape(4, 9)
        return {"kind": "symmetric", "mode": perception.mode, "frame": perception.frame,
                "perceived": perception.perceived, "features": perception.out_features, "bank": floats(bank)}
    conv = perception.conv
    return {"kind": "learned", "features": conv.out_channels, "weight": floats(conv.weight),
            "bias": floats(conv.bias)}


def _layers(update: UpdateMLP) -> list[dict]:
    convs = [m for m in update.modules() if isinstance(m, nn.Conv2d)]
    return [{"in": c.in_channels, "out": c.out_channels, "weight": floats(c.weight),
             "bias": floats(c.bias) if c.bias is not None else None} for c in convs]


def view_spec(view: View) -> dict:
    """A view as the spec's ``view``: ``view.to_dict()`` with tuples as lists, as JSON gives them back."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in view.to_dict().items()}


def web_families() -> list[str]:
    """The names of the families the playground runs (``Family.web``)."""
    return sorted(f.name for f in registry.with_capability("web"))


def declares_masking(cls: type) -> bool:
    """Whether the class that defines ``cls``'s step also says how it masks (``NCA.masking``): a step
    redefined without it is one the page does not know."""
    owner = next(c for c in cls.__mro__ if "step" in vars(c))
    return "masking" in vars(owner) and owner.masking in MASKINGS


def runnable(module: nn.Module, name: str) -> tuple[registry.Family, View]:
    """``module``'s family and view, or a ValueError naming the family when engine.js cannot run it.

    engine.js runs the step of :class:`NCA` (or of a subclass that declares its ``masking``) with a
    fixed filter bank, learned 3x3 or symmetric perception and an :class:`UpdateMLP`, or a perception and
    update of a kind it knows that say how (``web_spec()``: the logic family's gate circuits), for
    families that say so (``web=True``) and declare a view.
    """
    family = registry.get(family_of(module))
    if not family.web:
        raise ValueError(f"{name!r} is a model of the {family.name} family; the playground runs models of "
                         f"the {', '.join(web_families())} families")
    view = family.view(module) if family.view is not None else None
    parts = (getattr(module, "perception", None), getattr(module, "update", None))
    problems = [
        (not isinstance(module, NCA) or not declares_masking(type(module)), "steps unlike ncaforge's NCA"),
        (not isinstance(parts[0], FixedPerception | LearnedPerception | SymmetricPerception)
         and not hasattr(parts[0], "web_spec"),
         f"perceives with {type(parts[0]).__name__}, not a fixed filter bank, learned 3x3 or symmetric "
         "perception"),
        (not isinstance(parts[1], UpdateMLP) and not hasattr(parts[1], "web_spec"),
         f"updates with {type(parts[1]).__name__}, not an UpdateMLP"),
        (view is None, "declares no view"),
    ]
    for bad, what in problems:
        if bad:
            raise ValueError(f"{name!r} ({family.name} family) {what}: the playground cannot run it")
    return family, view


def model_spec(nca: NCA, name: str, description: str = "", grid: tuple[int, int] | None = None) -> dict:
    """What engine.js needs to run ``nca``: layout, masking constants, perception, MLP and view; with a
    ``grid``, also the grid and the family's seed state on it (None: the page starts empty)."""
    family, view = runnable(nca, name)
    layout = nca.layout
    spec = {
        "name": name, "family": family.name, "description": description,
        "channels": layout.channels, "rgb": list(layout.rgb) if layout.rgb else None,
        "alpha": layout.alpha, "readonly": list(layout.readonly), "living": layout.living,
        "mutable": layout.mutable, "fire_rate": nca.fire_rate, "alive_threshold": nca.alive_threshold,
        "noise": nca.noise, "padding": nca.perception.padding, "masking": nca.masking,
        "perception": _perception_spec(nca.perception), "view": view_spec(view),
    }
    if isinstance(nca.update, UpdateMLP):
        spec["layers"] = _layers(nca.update)
    else:
        spec["update"] = nca.update.web_spec()
    if grid is not None:
        spec["grid"] = list(grid)
        task = getattr(nca, "task", None)
        seeded = family.seed(nca, task, 1, grid) if family.seed is not None else None
        spec["seed"] = sparse(seeded[0]) if seeded is not None else None
        if turns_seeds(family):
            spec["turned_seeds"] = [
                {"angle": a, "mirror": m, **sparse(family.seed(nca, task, 1, grid, angle=a, mirror=m)[0])}
                for m in (False, True) for a in SEED_TURNS]
    return spec


def perturbation_spec(p: Perturbation, name: str, description: str = "") -> dict:
    """A perturbation by its direction D = A - I (the slider's k scales it) and its clip."""
    return {"name": name, "description": description, "channels": p.channels, "clip": p.config.clip,
            "direction": floats(p.direction)}


@dataclass
class Host:
    """A model of the site with what attaches to it."""

    spec: dict
    perturbations: list[dict] = field(default_factory=list)
    adversaries: list[dict] = field(default_factory=list)


def _loaded(spec: str) -> tuple[nn.Module, str, str]:
    """(module, name, description) of a zoo name or checkpoint directory."""
    from ncaforge import zoo

    module = zoo.load(spec)
    entry = next((e for e in zoo.index() if e["name"] == spec), None)
    name = spec if entry else Path(spec).name
    description = entry["description"] if entry else module.provenance.get("command", "")
    return module, name, description


def recorded_host(task: Any, provenance: dict | None) -> str | None:
    """The host an attack was made for: its task's, else (checkpoints without a task) its provenance's."""
    return getattr(task, "host", None) or (provenance or {}).get("host")


def zoo_extras(models: Sequence[str]) -> tuple[list[str], list[str]]:
    """The zoo's perturbations and adversaries made for ``models`` (by the host they record)."""
    from ncaforge import zoo
    from ncaforge.io.checkpoint import read_config, read_task

    perturbations, adversaries = [], []
    for name in zoo.names():
        path = zoo.resolve(name)
        cfg = read_config(path)
        if recorded_host(read_task(cfg.get("task"), path), cfg.get("provenance")) in models:
            (perturbations if isinstance(zoo.load(name), Perturbation) else adversaries).append(name)
    return perturbations, adversaries


def _attach(hosts: list[Host], extra: nn.Module, fits: Callable[[Host], bool]) -> list[Host]:
    """The hosts an intervention goes with: the one it records, else every one it fits."""
    host = recorded_host(getattr(extra, "task", None), getattr(extra, "provenance", None))
    named = [h for h in hosts if h.spec["name"] == host and fits(h)]
    return named or [h for h in hosts if fits(h)]


def mnist_digits(grid: tuple[int, int], per_class: int = 1) -> list[dict]:
    """A few MNIST test digits (``per_class`` of each) for a class view's page, if MNIST is installed
    and its digits are the grid's size (else none: the page still takes drawn digits)."""
    from ncaforge.data.mnist import MnistError, load_mnist

    try:
        data = load_mnist()
    except (MnistError, OSError):
        return []
    if tuple(data.test_images.shape[1:]) != tuple(grid):
        return []
    digits = []
    for label in range(10):
        for i in np.flatnonzero(data.test_labels == label)[:per_class]:
            digits.append({"label": label, "image": floats(data.test_images[i] / 255.0)})
    return digits


def site_grid(nca: NCA, size: tuple[int, int] | None) -> tuple[int, int]:
    """The grid a model runs on in the page: growing-like models (no read-only input) on ``size``
    [96x96]; models with a read-only input (a digit) on their task's grid [28x28]."""
    if not nca.layout.readonly:
        return tuple(size or DEFAULT_GROWING_GRID)
    grid = getattr(getattr(nca, "task", None), "grid", None) or DEFAULT_INPUT_GRID
    return int(grid[0]), int(grid[1])


def _host(spec: str, size: tuple[int, int] | None) -> Host:
    nca, name, description = _loaded(spec)
    if isinstance(nca, Perturbation):
        raise ValueError(f"{spec!r} is a perturbation; pass it with --perturbations")
    grid = site_grid(nca, size)
    host = Host(model_spec(nca, name, description, grid))
    if host.spec["view"]["kind"] == ClassView.kind:
        host.spec["digits"] = mnist_digits(grid)
    return host


def build_site(models: Sequence[str], perturbations: Sequence[str] | None = None,
               adversaries: Sequence[str] | None = None, size: tuple[int, int] | None = None) -> dict:
    """The site's data: each model (zoo name or directory) with the perturbations and adversaries it takes.

    With neither ``perturbations`` nor ``adversaries`` given, the zoo's made for ``models`` come along.
    Growing-like models run on ``size`` (96x96 by default), models with a read-only input on their
    task's grid; models with a class view get a few MNIST digits to load.
    """
    if not models:
        raise ValueError("the playground needs at least one model")
    hosts = [_host(spec, size) for spec in models]
    if perturbations is None and adversaries is None:
        perturbations, adversaries = zoo_extras(models)
    for spec in perturbations or ():
        p, name, description = _loaded(spec)
        if not isinstance(p, Perturbation):
            raise ValueError(f"{spec!r} is not a perturbation (it is a {family_of(p)} model)")
        fitting = _attach(hosts, p, lambda h, p=p: h.spec["channels"] == p.channels)
        if not fitting:
            raise ValueError(f"perturbation {name!r} acts on {p.channels} channels; no exported model has "
                             "as many")
        for h in fitting:
            h.perturbations.append(perturbation_spec(p, name, description))
    for spec in adversaries or ():
        a, name, description = _loaded(spec)
        rule = model_spec(a, name, description)

        def fits(h: Host, rule: dict = rule) -> bool:
            keys = ("family", "channels", "rgb", "alpha", "readonly", "living", "view")
            return all(h.spec[k] == rule[k] for k in keys)

        fitting = _attach(hosts, a, fits)
        if not fitting:
            raise ValueError(f"adversary {name!r} ({rule['family']}, {rule['channels']} channels) fits no "
                             "exported model's layout")
        for h in fitting:
            h.adversaries.append(rule)
    return {"version": SPEC_VERSION, "ncaforge_version": __version__,
            "models": [{**h.spec, "perturbations": h.perturbations, "adversaries": h.adversaries}
                       for h in hosts]}


def write_site(out: str | Path, site: dict) -> Path:
    """Write the static site (atomically: a reader sees the old folder or the new one)."""
    with atomic_dir(out) as tmp:
        tmp.chmod(0o755)  # a web server's user must be able to read it
        for f in sorted(SITE_FILES.iterdir()):
            if f.is_file():
                shutil.copyfile(f, tmp / f.name)
        (tmp / "models.js").write_text("window.NCAFORGE_SITE = " + json.dumps(site) + ";\n")
    return Path(out)


def export_playground(models: Sequence[str], out: str | Path, perturbations: Sequence[str] | None = None,
                      adversaries: Sequence[str] | None = None, size: tuple[int, int] | None = None) -> Path:
    """Write the playground of ``models`` into ``out`` and return it; with neither ``perturbations`` nor
    ``adversaries`` given, the zoo's made for the models come along. Raises ValueError (or
    CheckpointError, a ValueError) for a model or intervention the page cannot show."""
    return write_site(out, build_site(models, perturbations, adversaries, size))
