"""A third-party family: 8-channel cells on a wrapping grid grow a ring of colour from a cross-shaped seed.

Its own config, task, seed, loss, evaluation and picture, registered through the
``ncaforge.families`` entry point group; nothing in ncaforge names it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch

from ncaforge.core.config import Config
from ncaforge.core.family import Evaluation, Family, Report, Schedule, recorded
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FixedPerception
from ncaforge.core.update import UpdateMLP
from ncaforge.core.view import RGBView
from ncaforge.objectives.base import Pool, PoolObjective


@dataclass
class SpotsConfig(Config):
    channels: int = field(default=8, metadata={"help": "State channels (RGB and hidden)."})
    hidden: int = field(default=32, metadata={"help": "Width of the update MLP."})


@dataclass
class SpotsTask(Config):
    size: int = field(default=16, metadata={"help": "Side of the square grid."})
    radius: float = field(default=4.0, metadata={"help": "Radius of the ring, in cells."})
    colour: tuple[float, float, float] = field(default=(1.0, 0.3, 0.1), metadata={"help": "Ring colour."})
    batch: int = field(default=4, metadata={"help": "Samples per iteration."})
    steps: tuple[int, int] = field(default=(8, 12), metadata={"help": "Rollout length from [LO, HI)."})
    grid: tuple[int, int] | None = field(default=None, metadata={"cli": False})


def build(config: SpotsConfig) -> NCA:
    layout = Layout(config.channels, rgb=None, alpha=None)
    perception = FixedPerception(config.channels, ("identity", "laplacian"), padding="circular")
    nca = NCA(layout, perception, UpdateMLP(perception.out_features, config.channels, (config.hidden,)),
              fire_rate=0.5)
    nca.config = config
    return nca


def seed(model: NCA, task: SpotsTask | None, batch: int, grid: tuple[int, int]) -> torch.Tensor:
    """A cross of five cells at the centre, every channel at 0.5."""
    h, w = grid
    x = torch.zeros(batch, model.layout.channels, h, w)
    for dy, dx in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
        x[:, :, h // 2 + dy, w // 2 + dx] = 0.5
    return x


def ring(task: SpotsTask) -> torch.Tensor:
    """(3, H, W): the colour on a ring of width 2 around the centre, black elsewhere."""
    n = task.size
    ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    r = ((ys - n // 2) ** 2 + (xs - n // 2) ** 2).float().sqrt()
    on = ((r - task.radius).abs() <= 1.0).float()
    return torch.tensor(task.colour)[:, None, None] * on


def ring_loss(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per sample: mean squared error of the first three channels to the ring."""
    return (x[:, :3] - target).pow(2).mean(dim=(1, 2, 3))


class RingObjective(PoolObjective):
    """Every batch from seeds except the half of it that carries on from the pool."""

    def __init__(self, model: NCA, task: SpotsTask, batch: int, grad_checkpoint: int = 0) -> None:
        self.model = self.forward_model = model
        self.task, self.batch, self.grad_checkpoint = task, batch, grad_checkpoint
        self.target = ring(task)
        self.pool = Pool(states=seed(model, task, 4 * batch, (task.size, task.size)))
        self.summary = f"a ring of radius {task.radius} on {task.size}x{task.size}"

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.pool.sample(self.batch, generator)
        x = self.pool.take(idx)
        x[: self.batch // 2] = seed(self.model, self.task, self.batch // 2, (self.task.size, self.task.size))
        steps = int(torch.randint(*self.task.steps, (1,), generator=generator))
        x = self.forward_model(x, steps, generator, checkpoint_every=self.grad_checkpoint)
        self.pool.put(idx, states=x)
        return ring_loss(x, self.target).mean(), x


def objective(model: NCA, task: SpotsTask, group, grad_checkpoint: int = 0) -> RingObjective:
    task = replace(task, grid=(task.size, task.size))
    return RingObjective(model, task, group.shard(task.batch, "--batch"), grad_checkpoint)


@dataclass
class SpotsEvaluation:
    steps: int = field(default=20, metadata={"help": "Steps from the seed."})
    samples: int = field(default=2, metadata={"help": "Independent runs."})
    seed: int = field(default=0, metadata={"help": "Seed of the fire masks."})


def evaluate(model: NCA, options: SpotsEvaluation, progress: bool = False, json_path=None) -> Report:
    size = recorded(model, "size", "a model trained by the spots family")
    x = seed(model, model.task, options.samples, (size, size))
    with torch.no_grad():
        x = model.rollout(x, options.steps, torch.Generator().manual_seed(options.seed))
    mse = float(ring_loss(x, ring(model.task)).mean())
    figures = {"ring_mse": mse, "seed_mse": float(ring_loss(seed(model, model.task, 1, (size, size)),
                                                            ring(model.task)).mean()),
               "finite": math.isfinite(mse)}
    return Report(figures, {"ring_mse": mse})


FAMILY = Family(
    name="spots",
    summary="Grow a ring of colour from a cross (a family from a plugin)",
    config=SpotsConfig,
    build=build,
    task=SpotsTask,
    objective=objective,
    schedule=Schedule(iterations=30, lr=3e-3),
    seed=seed,
    view=lambda model: RGBView((0, 1, 2)),
    evaluation=Evaluation(SpotsEvaluation, evaluate, "MSE of the grown colour to the ring."),
    web=True,
)
