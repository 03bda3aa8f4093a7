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
AUX = ("none", "binary", "extended")


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
    dx: float = field(default=0.0, metadata={"min": 0.0,
        "help": "Weight of mean|dx|: the mean change one more step makes to the grown states, which "
                "rewards a pattern that has stopped changing."})
    aux: str = field(default="none", metadata={"choices": AUX,
        "help": "Auxiliary targets of the first hidden channels, which a blob cannot meet: binary: +-0.5 "
                "over the target's upper and lower halves; extended: also its left and right halves and "
                "three sets of rings."})


register_task(SymmetryTask.KIND, SymmetryTask)


def aux_targets(alpha: torch.Tensor, kind: str) -> torch.Tensor:
    """(K, H, W) targets of K hidden channels inside a target's (H, W) ``alpha`` (the originals'
    auxiliary channels): +-0.5 on either side of the grid's middle row (binary), and with extended also
    of its middle column and three sets of concentric rings (2, 3, 4 half-waves out to the corners of
    the inscribed square, edges ramped). Within the target they give a pattern that is not radially
    symmetric a hidden structure to match; a rotation-invariant blob cannot."""
    if kind not in AUX:
        raise ValueError(f"aux must be one of {AUX}, got {kind!r}")
    h, w = alpha.shape
    y = torch.linspace(-1.0, 1.0, h, dtype=alpha.dtype)[:, None].expand(h, w)
    x = torch.linspace(-1.0, 1.0, w, dtype=alpha.dtype)[None, :].expand(h, w)
    maps = [] if kind == "none" else [torch.sign(y)]
    if kind == "extended":
        maps.append(torch.sign(x))
        r = torch.sqrt(x * x + y * y)
        for n in (2, 3, 4):
            wave = (torch.sin if n % 2 == 0 else torch.cos)(r * n * math.pi)
            maps.append((wave / 0.2).clamp(-1.0, 1.0))
    if not maps:
        return alpha.new_zeros(0, h, w)
    return torch.stack(maps) * 0.5 * alpha

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
