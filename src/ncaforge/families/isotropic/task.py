"""What an isotropic or steerable model is trained to do: a growing task, plus how the symmetry is
broken (structured seeds, or a loss that does not care which way up the pattern grew)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ncaforge.core.family import register_task
from ncaforge.families.growing.task import GrowingTask

SEEDS = ("structured", "single")
LOSSES = ("plain", "invariant")


@dataclass
class SymmetryTask(GrowingTask):
    """The task section of an isotropic or steerable checkpoint; each field is a `nca train` option."""

    KIND: ClassVar[str] = "symmetry"  # one task kind for both families

    target_size: int = field(default=32, metadata={"min": 1, "max": 2048,
            "help": "Longer side of the target, in cells."})
    pad: int = field(default=8, metadata={"min": 0, "max": 2048, "help": "Empty cells around the target."})
    seeds: str = field(default="structured", metadata={"choices": SEEDS,
        "help": "structured: a few distinct seed cells fix the orientation (3 isotropic, 2 steerable); "
                "single: one cell, with --loss invariant."})
    loss: str = field(default="plain", metadata={"choices": LOSSES,
        "help": "plain: RGBA MSE; invariant: the MSE to the best rotation of the target (and mirror, "
                "isotropic)."})
    overflow: float = field(default=1.0, metadata={"min": 0.0,
        "help": "Weight of the penalty on states beyond [-1, 1] (the originals' overflow loss)."})


register_task(SymmetryTask.KIND, SymmetryTask)

# Structured seed cells (dy, dx) from the grid's centre and the value of their first hidden channel:
# three cells, non-collinear and distinct, fix rotation and reflection; two fix rotation of cells that
# carry their own angle.
STRUCTURED = {3: ((0, 0, 1.0), (0, 2, 0.5), (2, 0, 0.0)), 2: ((0, 0, 1.0), (0, 2, 0.0))}


def seed_states(model, task: SymmetryTask, batch: int, grid: tuple[int, int], angle: float = 0.0,
                mirror: bool = False) -> torch.Tensor:
    """Seeds on a ``grid``: one cell or structured cells, turned ``angle`` degrees counterclockwise as
    the grid is drawn (as ``torch.rot90`` turns it; cell offsets rounded to the grid) after a
    left-right mirror with ``mirror``. Steerable cells, living or not, start with the frame that turn
    gives them (turning the grid by a turns a cell's frame by -a)."""
    h, w = grid
    x = torch.zeros(batch, model.layout.channels, h, w, device=next(model.parameters()).device)
    steerable = model.perception.mode == "steerable"
    cells = ((0, 0, 1.0),) if task.seeds == "single" else STRUCTURED[2 if steerable else 3]
    a = math.radians(angle)
    if steerable:  # every cell's frame, not only the seeds': the turn applies to the whole grid
        x[:, -1] = -a % (2 * math.pi)
    for dy, dx, first in cells:
        dx = -dx if mirror else dx
        y = h // 2 + round(dy * math.cos(a) - dx * math.sin(a))
        xx = w // 2 + round(dx * math.cos(a) + dy * math.sin(a))
        x[:, model.layout.alpha : model.layout.channels - steerable, y, xx] = 1.0
        x[:, model.layout.alpha + 1, y, xx] = first
    return x
