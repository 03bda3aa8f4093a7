"""Hand-assembled NCAs: any NCA made of core parts, saved and loaded by a description of those parts.

``NCA(layout, FixedPerception(...) or LearnedPerception(...), UpdateMLP(...), ...)`` built by hand
has no family config; :func:`describe` writes down its parts so that it becomes a checkpoint of
this family, and :func:`build_assembled` puts the same parts together again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ncaforge.core.config import Config
from ncaforge.core.family import Family
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FixedPerception, LearnedPerception
from ncaforge.core.update import UpdateMLP
from ncaforge.core.view import RGBAView


@dataclass
class AssembledConfig(Config):
    """The parts of a hand-built NCA: layout, perception, update MLP and the step's constants."""

    layout: dict[str, Any] = field(default_factory=lambda: Layout(16).to_dict())
    perception: dict[str, Any] = field(default_factory=lambda: {"kind": "fixed", "filters": [
        "identity", "sobel_x", "sobel_y"], "angle": 0.0, "padding": "zeros"})
    hidden: tuple[int, ...] = (128,)
    last_bias: bool = True
    fire_rate: float = 0.5
    alive_threshold: float = 0.1
    noise: float = 0.0


def describe(nca: NCA) -> AssembledConfig:
    """The config of a hand-built ``nca`` (its parts must be core parts)."""
    p, u = nca.perception, nca.update
    if isinstance(p, FixedPerception):
        perception = {"kind": "fixed", "filters": list(p.filters), "angle": p.angle, "padding": p.padding}
    elif isinstance(p, LearnedPerception):
        perception = {"kind": "learned", "features": p.out_features, "padding": p.padding}
    else:
        raise ValueError(f"cannot describe a perception of type {type(p).__name__}: give the model a family")
    if not isinstance(u, UpdateMLP):
        raise ValueError(f"cannot describe an update of type {type(u).__name__}: give the model a family")
    return AssembledConfig(nca.layout.to_dict(), perception, u.hidden, u.net[-1].bias is not None,
                           nca.fire_rate, nca.alive_threshold, nca.noise)


def build_assembled(c: AssembledConfig) -> NCA:
    """The NCA ``c`` describes (untrained: the identity map, noise aside)."""
    layout = Layout.from_dict(c.layout)
    spec = c.perception
    if spec["kind"] == "fixed":
        perception = FixedPerception(layout.channels, tuple(spec["filters"]), spec.get("angle", 0.0),
                                     spec.get("padding", "zeros"))
    elif spec["kind"] == "learned":
        perception = LearnedPerception(layout.channels, spec["features"], spec.get("padding", "zeros"))
    else:
        raise ValueError(f"unknown perception kind {spec['kind']!r}; known: fixed, learned")
    update = UpdateMLP(perception.out_features, len(layout.mutable), tuple(c.hidden), c.last_bias)
    nca = NCA(layout, perception, update, c.fire_rate, c.alive_threshold, c.noise)
    nca.config = c
    return nca


def _view(model: NCA) -> RGBAView | None:
    layout = model.layout
    return RGBAView(tuple(layout.rgb), layout.alpha) if layout.rgb and layout.alpha is not None else None


FAMILY = Family(
    name="nca",
    summary="An NCA assembled by hand from core parts (perception, update MLP, layout)",
    config=AssembledConfig,
    build=build_assembled,
    seed=lambda model, task, batch, grid: model.seed(batch, *grid),
    view=_view,
)
