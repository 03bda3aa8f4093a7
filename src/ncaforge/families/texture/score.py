"""How a texture is scored under attack (the texture, muNCA and reaction-diffusion families): the patch
distance (pyramid sliced Wasserstein, along fixed directions) of its picture to the exemplar's held-out
strip, as `nca eval texture` measures it, after the torus has grown its texture."""

from __future__ import annotations

import torch

from ncaforge.core import family as registry
from ncaforge.core.nca import NCA
from ncaforge.data.textures import TextureTask
from ncaforge.families.texture.evaluate import Ruler
from ncaforge.objectives.texture import start_states, texture_rgb

READY_STEPS = 1000  # the step of the evaluation's `swd`
PROJECTIONS = 128  # directions per level, as the evaluation's default
RULER_SEED = 0  # the evaluation's default --seed: the same directions for every measurement


def task_of(model: NCA) -> TextureTask:
    task = getattr(model, "task", None)
    if not isinstance(task, TextureTask) or task.target is None:
        raise registry.FamilyError("this checkpoint records no texture exemplar (an imported model?): only "
                                   "models trained by `nca train texture|munca|rd` can be scored")
    return task


def ready(model: NCA, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` tori of the training size grown for ``READY_STEPS`` from fresh starts, and the held-out
    strip of the exemplar (the same for every sample)."""
    task = task_of(model)
    x = start_states(model, task, batch, (task.size, task.size), generator)
    x = x.to(next(model.parameters()).device)
    with torch.no_grad():
        x = model.rollout(x, READY_STEPS, generator)
    strip = task.held_out().to(x.device)
    return x, strip.expand(batch, -1, -1, -1)


def error(model: NCA, x: torch.Tensor, strip: torch.Tensor) -> torch.Tensor:
    """(B,) the pyramid SWD of the picture (clipped to [0, 1]) to the strip, at most 1."""
    ruler = Ruler(strip[0], task_of(model).levels, PROJECTIONS, RULER_SEED)
    return ruler.distances(texture_rgb(model, x).clamp(0.0, 1.0)).clamp(max=1.0)


SCORING = registry.Scoring("patch SWD to the exemplar", ready, error)
