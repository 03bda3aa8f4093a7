"""What a PDE NCA is fitted to: trajectories, their frame spacing, and the batch recipe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ncaforge.core.config import Config


@dataclass
class PDETask(Config):
    """The task section of a PDE checkpoint; the first fields are `nca train pde` options."""

    data: tuple[str, ...] = field(default=(), metadata={
        "multiple": True, "required": True, "metavar": "PATH",
        "help": "Trajectories: .npz files or folders of them (from `nca data pde`), a folder of images, "
                "or a GIF/MP4 (repeatable)."})
    every: int | None = field(default=None, metadata={"min": 1,
        "help": "NCA steps between frames [the data's spacing, from `nca data pde`; else 32]."})
    batch: int = field(default=8, metadata={"min": 1,
        "help": "Samples per iteration (global under torchrun)."})
    pool: int = field(default=64, metadata={"min": 1, "help": "Pool size (global under torchrun)."})
    unroll: int = field(default=1, metadata={"min": 1, "help": "Frames run per iteration."})
    restart: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0,
        "help": "Fraction of each batch restarted from true frames (the rest carry on)."})
    l1: float = field(default=0.0, metadata={"min": 0.0, "help": "L1 penalty on the weights."})
    horizon: int | None = field(default=None, metadata={"min": 1, "cli": False,
        "help": "Steps the data spans."})
    grid: tuple[int, int] | None = field(default=None, metadata={"min": 1, "cli": False,
        "help": "The data's H W."})
    data_meta: dict[str, Any] | None = field(default=None, metadata={
        "cli": False, "help": "How the data was made (`nca data pde`): the PDE, its parameters, the ICs."})
