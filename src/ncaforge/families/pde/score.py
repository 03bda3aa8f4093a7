"""How a PDE NCA's pattern is scored under attack: the patch distance (pyramid sliced Wasserstein, along
fixed directions) of its observed fields to the PDE's own fields from the same unseen initial condition
at the training horizon. Patches, not pixels: a Turing pattern that recovers from an attack regrows its
spots and stripes, not the same ones in the same places."""

from __future__ import annotations

import torch

from ncaforge.core.family import Scoring
from ncaforge.core.nca import NCA
from ncaforge.families.pde.evaluate import unseen_trajectories
from ncaforge.families.pde.model import observed_state
from ncaforge.objectives.losses import pyramid_swd

PROJECTIONS = 64  # directions per pyramid level
RULER_SEED = 0  # the same directions for every measurement
SEED_BLOCK = 1000  # unseen conditions: blocks of 1000 test seeds, below the large-grid set's


def ready(model: NCA, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` unseen initial conditions run by the NCA to the training horizon, and the PDE's observed
    fields at that step."""
    offset = SEED_BLOCK * int(torch.randint(1, 400, (1,), generator=generator))
    horizon = int(model.task.horizon)
    frames = unseen_trajectories(model, batch, tuple(model.task.grid), horizon, seed_offset=offset)
    device = next(model.parameters()).device
    x = observed_state(model, frames[:, 0].to(device))
    with torch.no_grad():
        x = model.rollout(x, horizon, generator)
    return x, frames[:, -1].to(device)


def error(model: NCA, x: torch.Tensor, fields: torch.Tensor) -> torch.Tensor:
    """(B,) the pyramid SWD of each sample's observed channels (clipped to [0, 1]) to its PDE fields."""
    observed = x[:, : model.config.observed].clamp(0.0, 1.0)
    out = []
    for sample, reference in zip(observed, fields, strict=True):
        ruler = torch.Generator().manual_seed(RULER_SEED)
        out.append(pyramid_swd(sample[None], reference, ruler, projections=PROJECTIONS)[0])
    return torch.stack(out).clamp(max=1.0)


SCORING = Scoring("patch SWD to the PDE's fields", ready, error)
