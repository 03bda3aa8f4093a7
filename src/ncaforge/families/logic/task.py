"""What a logic CA is trained to do: one step of Game of Life on every 3x3 configuration, or a
checkerboard grown from one seed cell over several steps."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ncaforge.core.config import Config

TASKS = ("life", "checkerboard")


@dataclass
class LogicTask(Config):
    """The task section of a logic checkpoint; each field is a `nca train logic` option."""

    task: str = field(default="life", metadata={"choices": TASKS,
        "help": "life: the next state of all 512 3x3 configurations under Game of Life; checkerboard: "
                "channel 0 grows into a checkerboard from one seed cell."})
    grid: tuple[int, int] = field(default=(16, 16), metadata={"min": 3,
        "help": "H W of the checkerboard's torus (and of `nca grow` for both tasks)."})
    square: int = field(default=2, metadata={"min": 1, "help": "Checkerboard squares' side, in cells."})
    steps: tuple[int, int] = field(default=(20, 21), metadata={"min": 1, "interval": True,
        "help": "Checkerboard: rollout length drawn uniformly from [LO, HI); the loss is on the last step."})
    batch: int = field(default=1, metadata={"min": 1,
        "help": "Checkerboard: rollouts per iteration (synchronous ones from one seed are all alike)."})
    noise: float = field(default=0.0, metadata={"min": 0.0,
        "help": "Checkerboard: standard deviation of Gaussian noise added to every state at every training "
                "step: a relaxed rule that grows its pattern through tiny in-between values fails under "
                "it, one that snaps its cells to 0/1 (as the hard circuit does) does not. Noisy states "
                "can leave [0, 1] and, late in a run, overflow: training then stops with its last good "
                "checkpoint."})
    density: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0,
        "help": "Life: the share of living cells in a random start (`nca grow`, `nca eval logic`)."})


def checkerboard(task: LogicTask, grid: tuple[int, int] | None = None) -> torch.Tensor:
    """(H, W) 0/1 target: squares of ``task.square`` cells, the seed cell's square (the centre) set."""
    h, w = grid or task.grid
    ys = (torch.arange(h) - h // 2).div(task.square, rounding_mode="floor")
    xs = (torch.arange(w) - w // 2).div(task.square, rounding_mode="floor")
    return ((ys[:, None] + xs[None, :]) % 2 == 0).float()


def seed_states(model, task: LogicTask | None, batch: int, grid: tuple[int, int], seed: int = 0
                ) -> torch.Tensor:
    """Start states: a random soup of ``task.density`` (life), or one cell with every channel on at the
    centre (checkerboard)."""
    task = task or LogicTask()
    h, w = grid
    c = model.layout.channels
    if task.task == "life":
        g = torch.Generator().manual_seed(seed)
        return (torch.rand(batch, c, h, w, generator=g) < task.density).float()
    x = torch.zeros(batch, c, h, w)
    x[:, :, h // 2, w // 2] = 1.0
    return x
