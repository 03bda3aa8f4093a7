"""The steerable NCA family (Randazzo, Mordvintsev, Fouts 2023): each cell carries its own angle (the
last channel) and perceives gradients in its own frame; the grown pattern turns with the seeds.
Everything but the model's config is the isotropic family's."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ncaforge.families.isotropic import FAMILY as ISOTROPIC
from ncaforge.families.isotropic.model import IsotropicConfig, SymmetricNCA, build_symmetric


@dataclass
class SteerableConfig(IsotropicConfig):
    """Every hyperparameter of a steerable model; the last of its channels is the cell's angle."""

    perception: str = field(default="steerable", metadata={"choices": ("steerable",),
        "help": "What cells see: [x, lap x] and the gradient turned into each cell's frame."})


def build_steerable(config: SteerableConfig | None = None) -> SymmetricNCA:
    return build_symmetric(config or SteerableConfig(), "steerable")


FAMILY = replace(ISOTROPIC, name="steerable",
                 summary="Grow a target from cells that carry their own angle (steerable NCA)",
                 config=SteerableConfig, build=build_steerable)
