"""The steerable NCA family (Randazzo, Mordvintsev, Fouts 2023): each cell carries its own angle (the
last channel) and perceives gradients in its own frame; the grown pattern turns with the seeds."""

from __future__ import annotations

from dataclasses import dataclass, field

from ncaforge.core.family import Family, Schedule
from ncaforge.core.view import RGBAView
from ncaforge.families.isotropic.model import IsotropicConfig, SymmetricNCA, build_symmetric
from ncaforge.families.isotropic.objective import make_objective
from ncaforge.families.isotropic.task import SymmetryTask, seed_states


@dataclass
class SteerableConfig(IsotropicConfig):
    """Every hyperparameter of a steerable model; the last of its channels is the cell's angle."""

    perception: str = field(default="steerable", metadata={"choices": ("steerable",),
        "help": "What cells see: [x, lap x] and the gradient turned into each cell's frame."})


def build_steerable(config: SteerableConfig | None = None) -> SymmetricNCA:
    return build_symmetric(config or SteerableConfig(), "steerable")


FAMILY = Family(
    name="steerable",
    summary="Grow a target from cells that carry their own angle (steerable NCA)",
    config=SteerableConfig,
    build=build_steerable,
    task=SymmetryTask,
    objective=make_objective,
    schedule=Schedule(iterations=4000, lr=1e-3, lr_drops=(2000,)),
    seed=seed_states,
    view=lambda model: RGBAView(tuple(model.layout.rgb), model.layout.alpha),
)
