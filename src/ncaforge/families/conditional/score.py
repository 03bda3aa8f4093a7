"""How a grown digit is scored under attack: the RGBA MSE of its picture (clipped to [0, 1]) to the digit
the host itself grew for that class before the attack (a digit has no one target: MNIST has many 7s)."""

from __future__ import annotations

import torch

from ncaforge.core.family import Scoring
from ncaforge.core.nca import NCA
from ncaforge.families.conditional.model import seed_states
from ncaforge.objectives.losses import rgba_mse


def ready(model: NCA, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` digits of random classes grown for the training's longest rollout, and their pictures."""
    labels = torch.randint(model.config.classes, (batch,), generator=generator)
    x = seed_states(model, model.task, batch, tuple(model.task.grid), labels)
    with torch.no_grad():
        x = model.rollout(x, model.task.steps[1], generator)
    return x, x[:, model.layout.rgba].clamp(0.0, 1.0)


def error(model: NCA, x: torch.Tensor, grown: torch.Tensor) -> torch.Tensor:
    """(B,) the RGBA MSE of the picture to the digit as grown."""
    return rgba_mse(x.clamp(0.0, 1.0), grown, model.layout.rgba)


SCORING = Scoring("RGBA MSE to the digit as grown", ready, error)
