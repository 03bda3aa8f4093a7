"""Models as the JSON that the playground's engine.js runs, and the static site that carries them.

A spec holds everything the browser needs for one rule: the channel layout, the
masking constants, the perception (a fixed filter bank or a learned 3x3 conv) and
the update MLP, with every tensor as base64 of little-endian float32 (exact, and a
third the size of decimal text). The site is the files of ``web/site`` plus
``models.js``, one ``window.NCAFORGE_SITE = {...}`` assignment, so that it also
opens from the file system, where browsers refuse to fetch JSON.
"""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ncaforge import __version__
from ncaforge.core.atomic import atomic_dir
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FixedPerception, LearnedPerception, filter_bank
from ncaforge.interventions.perturbation import Perturbation
from ncaforge.io.checkpoint import family_of

SPEC_VERSION = 1
SITE_FILES = Path(__file__).parent / "site"
DEFAULT_GROWING_GRID = (96, 96)


def floats(t: torch.Tensor | np.ndarray) -> str:
    """A tensor, flattened in C order, as base64 of little-endian float32."""
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _perception_spec(perception: nn.Module) -> dict:
    if isinstance(perception, FixedPerception):
        bank = filter_bank(perception.filters, perception.angle).reshape(len(perception.filters), 9)
        return {"kind": "fixed", "filters": len(perception.filters), "names": list(perception.filters),
                "bank": floats(bank)}
    if isinstance(perception, LearnedPerception):
        conv = perception.conv
        return {"kind": "learned", "features": conv.out_channels, "weight": floats(conv.weight),
                "bias": floats(conv.bias)}
    raise ValueError(f"the playground runs fixed filter banks and learned 3x3 perception, "
                     f"not {type(perception).__name__}")


def _layers(update: nn.Module) -> list[dict]:
    convs = [m for m in update.modules() if isinstance(m, nn.Conv2d)]
    if not convs or any(c.kernel_size != (1, 1) for c in convs):
        raise ValueError("the playground runs update rules made of 1x1 convolutions (UpdateMLP)")
    return [{"in": c.in_channels, "out": c.out_channels, "weight": floats(c.weight),
             "bias": floats(c.bias) if c.bias is not None else None} for c in convs]


def model_spec(nca: NCA, name: str, description: str = "", grid: tuple[int, int] | None = None) -> dict:
    """What engine.js needs to run ``nca``: layout, masking constants, perception and MLP."""
    layout = nca.layout
    spec = {
        "name": name, "family": family_of(nca), "description": description,
        "channels": layout.channels, "rgb": list(layout.rgb) if layout.rgb else None,
        "alpha": layout.alpha, "readonly": list(layout.readonly), "living": layout.living,
        "mutable": layout.mutable, "fire_rate": nca.fire_rate, "alive_threshold": nca.alive_threshold,
        "noise": nca.noise, "padding": getattr(nca.perception, "padding", "zeros"),
        "perception": _perception_spec(nca.perception), "layers": _layers(nca.update),
    }
    if grid is not None:
        spec["grid"] = list(grid)
    classes = getattr(nca.config, "classes", None)
    if classes is not None:
        spec["classes"] = int(classes)
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


def _loaded(spec: str, family: str | None = None) -> tuple[nn.Module, str, str]:
    """(module, name, description) of a zoo name or checkpoint directory."""
    from ncaforge import zoo

    module = zoo.load(spec, family=family)
    entry = next((e for e in zoo.index() if e["name"] == spec), None)
    name = spec if entry else Path(spec).name
    description = entry["description"] if entry else module.provenance.get("command", "")
    return module, name, description


def _attach(hosts: list[Host], extra_host: str | None, fits) -> list[Host]:
    """The hosts an intervention goes with: the one its provenance names, else every one it fits."""
    named = [h for h in hosts if h.spec["name"] == extra_host and fits(h)]
    return named or [h for h in hosts if fits(h)]


def mnist_digits(per_class: int = 1) -> list[dict]:
    """A few test digits (one per class) for the classifier's page, if MNIST is installed."""
    from ncaforge.data.mnist import MnistError, load_mnist

    try:
        data = load_mnist()
    except (MnistError, OSError):
        return []
    digits = []
    for label in range(10):
        for i in np.flatnonzero(data.test_labels == label)[:per_class]:
            digits.append({"label": label, "image": floats(data.test_images[i] / 255.0)})
    return digits


def build_site(models: list[str], perturbations: list[str] = (), adversaries: list[str] = (),
               size: tuple[int, int] | None = None) -> dict:
    """The site's data: each model (zoo name or directory) with the perturbations and adversaries it takes.

    Growing models run on ``size`` (96x96 by default), classifiers on their training grid.
    """
    if not models:
        raise ValueError("the playground needs at least one model")
    hosts: list[Host] = []
    for spec in models:
        nca, name, description = _loaded(spec)
        family = family_of(nca)
        if family == "perturbation":
            raise ValueError(f"{spec!r} is a perturbation; pass it with --perturbations")
        if family not in ("growing", "classifier"):
            raise ValueError(f"{spec!r} is a {family} model; the playground shows growing models and "
                             "classifiers")
        if family == "growing":
            grid = size or DEFAULT_GROWING_GRID
        else:
            trained = nca.provenance.get("grid") or (28, 28)
            grid = (int(trained[0]), int(trained[1]))
        host = Host(model_spec(nca, name, description, grid))
        if family == "classifier":
            host.spec["digits"] = mnist_digits()
        hosts.append(host)
    for spec in perturbations:
        p, name, description = _loaded(spec, "perturbation")
        fitting = _attach(hosts, p.provenance.get("host"), lambda h, p=p: h.spec["channels"] == p.channels)
        if not fitting:
            raise ValueError(f"perturbation {name!r} acts on {p.channels} channels; no exported model has "
                             "as many")
        for h in fitting:
            h.perturbations.append(perturbation_spec(p, name, description))
    for spec in adversaries:
        a, name, description = _loaded(spec)
        layout = model_spec(a, name)

        def fits(h: Host, layout: dict = layout) -> bool:
            keys = ("family", "channels", "rgb", "alpha", "readonly", "living")
            return all(h.spec[k] == layout[k] for k in keys)

        fitting = _attach(hosts, a.provenance.get("host"), fits)
        if not fitting:
            raise ValueError(f"adversary {name!r} ({layout['family']}, {a.layout.channels} channels) fits no "
                             "exported model's layout")
        for h in fitting:
            h.adversaries.append(model_spec(a, name, description))
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
