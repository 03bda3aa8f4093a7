"""Texture training: runs from a pool of tori must show the exemplar's patches at every scale.

Each batch draws samples from the pool, replaces one with a fresh start, runs them U[LO, HI) steps
and scores the RGB picture (x[:3] + 0.5) by the sliced Wasserstein distance of its multi-scale patches
to the exemplar's (and, given VGG16 weights, by the Gram matrices of its VGG features), plus a penalty
on states beyond [-1, 1] (the original's overflow loss).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ncaforge.core import budget
from ncaforge.core.nca import NCA
from ncaforge.data.textures import TextureTask
from ncaforge.objectives.base import Pool, PoolObjective, Processes
from ncaforge.objectives.losses import pyramid_swd
from ncaforge.objectives.vgg import gram_loss, gram_matrices, load_vgg16


def texture_rgb(model: NCA, x: torch.Tensor) -> torch.Tensor:
    """The picture of texture states: ``x[:, :3] * rgb_scale + 0.5`` (rgb_scale 1, or the model's)."""
    return x[:, :3] * getattr(model.config, "rgb_scale", 1.0) + 0.5


def start_states(model: NCA, task: TextureTask | None, n: int, grid: tuple[int, int],
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` fresh states on ``grid``: uniform noise in [-0.5, 0.5), or zeros (also without a task:
    imported models)."""
    shape = (n, model.layout.channels, *grid)
    if task is None or task.seed_kind == "zeros":
        return torch.zeros(shape)
    return torch.rand(shape, generator=generator) - 0.5


def erase_quarter(x: torch.Tensor, fresh: torch.Tensor, shift: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """``x`` with a square of half its height and width replaced by ``fresh``: the top-left one, or the
    one ``shift`` cells further down and right (wrapping around the torus)."""
    h, w = x.shape[2] // 2, x.shape[3] // 2
    x = x.roll((-shift[0], -shift[1]), dims=(2, 3)).clone()
    x[:, :, :h, :w] = fresh.roll((-shift[0], -shift[1]), dims=(2, 3))[:, :, :h, :w]
    return x.roll(shift, dims=(2, 3))


class TextureObjective(PoolObjective):
    """``pool_size`` and ``batch_size`` are this process's share."""

    def __init__(self, model: NCA, task: TextureTask, pool_size: int, batch_size: int,
                 checkpoint_every: int = 0) -> None:
        if pool_size < batch_size:
            raise ValueError(f"--pool ({pool_size}) must be at least --batch ({batch_size})")
        self.model = self.forward_model = model
        self.device = next(model.parameters()).device
        self.task, self.batch_size, self.checkpoint_every = task, batch_size, checkpoint_every
        self.exemplar = task.exemplar().to(self.device)
        self.grid = (task.size, task.size)
        budget.check(f"training on a {task.size}x{task.size} torus (pool {pool_size}, batch {batch_size}, "
                     f"{task.steps[1]} steps)", memory_bytes=4 * model.layout.channels * task.size**2
                     * (pool_size + 12 * batch_size * task.steps[1]), hint=": choose a smaller --size")
        self.vgg = None
        if task.vgg is not None:
            self.vgg = load_vgg16(task.vgg).to(self.device)
            self.exemplar_grams = [g.detach() for g in gram_matrices(self.vgg, self.exemplar[None])]
        starts = start_states(model, task, pool_size, self.grid, torch.Generator().manual_seed(0))
        self.pool = Pool(states=starts.to(self.device))

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.pool.sample(self.batch_size, generator)
        x = self.pool.take(idx)
        x[:1] = start_states(self.model, self.task, 1, self.grid, generator).to(self.device)
        for i in range(1, 1 + min(self.task.damage, self.batch_size - 1)):  # regeneration samples
            fresh = start_states(self.model, self.task, 1, self.grid, generator).to(self.device)
            shift = tuple(int(v) for v in torch.randint(0, min(self.grid), (2,), generator=generator))
            x[i : i + 1] = erase_quarter(x[i : i + 1], fresh, shift)
        steps = int(torch.randint(*self.task.steps, (1,), generator=generator))
        x = self.forward_model(x, steps, generator, checkpoint_every=self.checkpoint_every)
        rgb = texture_rgb(self.model, x)
        texture = pyramid_swd(rgb, self.exemplar, generator, self.task.levels,
                              projections=self.task.projections)
        if self.vgg is not None:
            texture = texture + self.task.vgg_weight * gram_loss(self.vgg, rgb, self.exemplar_grams)
        overflow = (x - x.clamp(-1.0, 1.0)).abs().mean(dim=(1, 2, 3))
        self.pool.put(idx, states=x)
        return (texture + self.task.overflow * overflow).mean(), x


def make_objective(model: NCA, task: TextureTask, group: Processes, grad_checkpoint: int = 0
                   ) -> TextureObjective:
    """The objective of ``task``: its exemplar, this process's share of the batch and pool."""
    objective = TextureObjective(model, task, group.shard(task.pool, "--pool"),
                                 group.shard(task.batch, "--batch"), grad_checkpoint)
    objective.task = replace(task, grid=objective.grid)
    h, w = objective.exemplar.shape[1:]
    objective.summary = (f"a {model.layout.channels}-channel texture NCA on {task.target} "
                         f"({w}x{h} exemplar, {task.size}x{task.size} torus)")
    return objective
