"""How a grown pattern is scored (the growing, isotropic and steerable families): the RGBA MSE of what
it shows, clipped to [0, 1] as a picture is, to its target after growing from its seeds."""

from __future__ import annotations

import torch

from ncaforge.core import family as registry
from ncaforge.core.nca import NCA
from ncaforge.objectives.losses import rgba_mse

READY_STEPS = 200  # a grown pattern: the step the growing evaluation's mse_200 is taken at


def ready(model: NCA, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` patterns grown from the family's seeds for ``READY_STEPS`` steps, and their target."""
    if not hasattr(model.task, "image"):
        raise registry.FamilyError("this checkpoint records no growing task (no target image): it was not "
                                   "trained by ncaforge's trainer, so its pattern cannot be scored")
    target = model.task.image()
    seed = registry.family_of(model).seed
    x = seed(model, model.task, batch, tuple(target.shape[1:]))
    with torch.no_grad():
        x = model.rollout(x, READY_STEPS, generator)
    return x, target.to(x.device).expand(batch, -1, -1, -1)


def error(model: NCA, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,) the RGBA MSE of the visible picture (clipped to [0, 1]) to the target."""
    return rgba_mse(x.clamp(0.0, 1.0), target, model.layout.rgba)


SCORING = registry.Scoring("RGBA MSE to the target", ready, error)
