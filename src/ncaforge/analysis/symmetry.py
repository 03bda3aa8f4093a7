"""Does a grown pattern turn with its seed? RGBA MSE to the equally turned target (`nca eval symmetry`).

For any model that grows from a seed (isotropic, steerable, or a sobel growing baseline), on its
training grid, means over ``samples`` runs:

* ``mse_0``: from the seed, at ``steps``;
* ``mse_rot90`` / ``mse_mirror``: from the seed turned a quarter (``torch.rot90``: counterclockwise
  as drawn) / mirrored left-right, against the target turned / mirrored the same way (exact);
* ``mse_rot45``: from the seed turned 45 degrees (structured seed cells rounded to the grid), against
  the target resampled by 45 degrees (bilinear);
* ``mse_regrown_rot45``: a pattern grown ``steps`` steps is resampled by 45 degrees, then runs
  ``regrow_steps`` more: MSE to the target turned 45 degrees.

Steerable cells turn with the grid: a turn by a subtracts a from every angle; a mirror maps a to pi - a.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ncaforge.core.config import Config
from ncaforge.core.family import Family, family_of, recorded
from ncaforge.core.nca import NCA
from ncaforge.objectives.losses import rgba_mse

KEYS = ("mse_0", "mse_rot90", "mse_rot45", "mse_mirror", "mse_regrown_rot45")


@dataclass
class SymmetryOptions(Config):
    """The options of `nca eval symmetry`."""

    baseline: str | None = field(default=None, metadata={
        "help": "A model of the same size and budget to measure the same way (keys baseline_*), e.g. a "
                "sobel growing NCA."})
    samples: int = field(default=4, metadata={"min": 1, "help": "Independent runs averaged."})
    steps: int = field(default=200, metadata={"min": 1, "help": "Steps grown before each MSE."})
    regrow_steps: int = field(default=300, metadata={"min": 1,
        "help": "Steps after the grown pattern is turned 45 degrees."})
    seed: int = field(default=0, metadata={"help": "Seed of the fire masks."})


def _steerable(model: NCA) -> bool:
    return getattr(model.perception, "mode", None) == "steerable"


def turned(x: torch.Tensor, degrees: float, model: NCA | None = None, mode: str = "bilinear") -> torch.Tensor:
    """(B, C, H, W) turned ``degrees`` counterclockwise about the grid's centre: exact for quarter
    turns, resampled otherwise; a steerable ``model``'s angles turn with it."""
    if degrees % 90 == 0:
        out = torch.rot90(x, int(degrees // 90) % 4, dims=(2, 3))
    else:
        a = math.radians(degrees)
        h, w = x.shape[-2:]
        # affine_grid maps each output cell to where it samples the input (x right, y down, in
        # [-1, 1] per axis): for a counterclockwise turn as drawn, the input lies at the inverse turn
        theta = torch.tensor([[[math.cos(a), -math.sin(a) * h / w, 0.0],
                               [math.sin(a) * w / h, math.cos(a), 0.0]]],
                             dtype=x.dtype, device=x.device).expand(x.shape[0], -1, -1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        if model is not None and _steerable(model):  # angles resampled as directions
            angle = x[:, -1:]
            parts = F.grid_sample(torch.cat([x[:, :-1], torch.cos(angle), torch.sin(angle)], 1), grid,
                                  mode=mode, align_corners=False)
            out = torch.cat([parts[:, :-2], torch.atan2(parts[:, -1:], parts[:, -2:-1])], 1)
        else:
            out = F.grid_sample(x, grid, mode=mode, align_corners=False)
    if model is not None and _steerable(model):
        out = torch.cat([out[:, :-1], (out[:, -1:] - math.radians(degrees)) % (2 * math.pi)], 1)
    return out


def mirrored(x: torch.Tensor, model: NCA | None = None) -> torch.Tensor:
    """Left-right mirror image; a steerable ``model``'s angles a become pi - a."""
    out = torch.flip(x, dims=(3,))
    if model is not None and _steerable(model):
        out = torch.cat([out[:, :-1], (math.pi - out[:, -1:]) % (2 * math.pi)], 1)
    return out


def turns_seeds(family: Family) -> bool:
    """Whether ``family``'s seeds can be turned and mirrored (its seed takes ``angle`` and ``mirror``)."""
    return family.seed is not None and "angle" in inspect.signature(family.seed).parameters


def _seeds(model: NCA, batch: int, grid: tuple[int, int], degrees: float = 0.0) -> torch.Tensor:
    """The family's seeds, turned by ``degrees`` where the family can turn them (structured seeds),
    else the seed state turned on the grid (nearest cell)."""
    family = family_of(model)
    if turns_seeds(family):
        return family.seed(model, model.task, batch, grid, angle=degrees)
    return turned(family.seed(model, model.task, batch, grid), degrees, model, mode="nearest")


@torch.no_grad()
def measure(model: NCA, options: SymmetryOptions) -> dict[str, float]:
    """The figures of the module's docstring for one model."""
    target = model.task.image().to(next(model.parameters()).device)
    grid = tuple(recorded(model, "grid", "--model with a recorded grid"))
    if tuple(target.shape[1:]) != grid or grid[0] != grid[1]:
        raise ValueError(f"symmetry needs a square grid with the target on it; the target is "
                         f"{tuple(target.shape[1:])}, the model's grid {grid}")
    n, rgba = options.samples, model.layout.rgba

    def grow(x: torch.Tensor, steps: int, salt: int) -> torch.Tensor:
        return model.rollout(x, steps, torch.Generator().manual_seed(options.seed * 1000 + salt))

    def mse(x: torch.Tensor, goal: torch.Tensor) -> float:
        return float(rgba_mse(x, goal, rgba).mean())

    seeds = _seeds(model, n, grid)
    grown = grow(seeds, options.steps, 0)
    turned_target = turned(target[None], 45.0)[0]
    regrown = grow(turned(grown, 45.0, model), options.regrow_steps, 4)
    return {
        "mse_0": mse(grown, target),
        "mse_rot90": mse(grow(turned(seeds, 90.0, model), options.steps, 1), turned(target[None], 90.0)[0]),
        "mse_rot45": mse(grow(_seeds(model, n, grid, 45.0), options.steps, 2), turned_target),
        "mse_mirror": mse(grow(mirrored(seeds, model), options.steps, 3), mirrored(target[None])[0]),
        "mse_regrown_rot45": mse(regrown, turned_target),
    }


def ratios(figures: dict[str, float], prefix: str = "") -> dict[str, float]:
    """Each turned figure over ``mse_0`` (the bars compare these)."""
    base = max(figures[f"{prefix}mse_0"], 1e-12)
    return {f"{prefix}{k}_over_mse_0": figures[f"{prefix}{k}"] / base for k in KEYS[1:]}
