"""Training a conditional model: a pool of patterns, each grown for a class and compared with one
MNIST digit of that class (the rule cannot know which, so it learns what the class's digits share)."""

from __future__ import annotations

from dataclasses import replace

import torch

from ncaforge.core.nca import NCA
from ncaforge.data.mnist import load_mnist
from ncaforge.families.conditional.model import seed_states
from ncaforge.families.conditional.task import ConditionalTask, digit_rgba
from ncaforge.interventions.damage import drop_cells
from ncaforge.objectives.base import Pool, PoolObjective, Processes
from ncaforge.objectives.losses import rgba_mse


class ConditionalObjective(PoolObjective):
    """Each batch: pool samples (or fresh seeds in growing mode), the worst ``fresh`` restarted from
    seeds of random classes, ``damage_count`` others damaged (regenerating), ``steps`` steps, and the
    RGBA MSE to each sample's digit. ``images`` (N, H, W) uint8 and ``labels`` (N,) are the digits."""

    def __init__(self, model: NCA, images: torch.Tensor, labels: torch.Tensor, task: ConditionalTask,
                 checkpoint_every: int = 0) -> None:
        if task.mode != "growing" and not task.fresh + task.damage_count <= task.batch <= task.pool:
            raise ValueError(f"need --fresh + --damage-count <= --batch <= --pool, got {task.fresh} + "
                             f"{task.damage_count}, {task.batch}, {task.pool}")
        self.model = self.forward_model = model
        self.task, self.checkpoint_every = task, checkpoint_every
        self.device = next(model.parameters()).device
        self.images, self.labels = images, labels.long()
        self.members = [(self.labels == k).nonzero()[:, 0] for k in range(model.config.classes)]
        missing = [k for k, m in enumerate(self.members) if not len(m)]
        if missing:
            raise ValueError(f"the training digits have no sample of classes {missing}")
        self.grid = tuple(images.shape[1:])
        self.pool = None
        if task.mode != "growing":
            states, digits = self.fresh(task.pool, torch.Generator().manual_seed(0))
            self.pool = Pool(states=states, digits=digits)

    def fresh(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Seeds of ``n`` random classes and, for each, the index of a random training digit of it."""
        classes = torch.randint(len(self.members), (n,), generator=generator)
        picks = [self.members[k][int(torch.randint(len(self.members[k]), (1,), generator=generator))]
                 for k in classes.tolist()]
        digits = torch.stack(picks)
        return seed_states(self.model, self.task, n, self.grid, classes), digits.to(self.device)

    def targets(self, digits: torch.Tensor) -> torch.Tensor:
        return digit_rgba(self.images[digits.cpu()].to(self.device, torch.float32) / 255.0)

    def per_sample_loss(self, x: torch.Tensor, digits: torch.Tensor) -> torch.Tensor:
        return rgba_mse(x, self.targets(digits), self.model.layout.rgba)

    def batch(self, generator: torch.Generator) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """(pool indices or None, states, digit indices) of the next batch."""
        task = self.task
        if self.pool is None:
            return None, *self.fresh(task.batch, generator)
        idx = self.pool.sample(task.batch, generator)
        x, digits = self.pool.take(idx), self.pool.take(idx, "digits")
        with torch.no_grad():
            order = self.per_sample_loss(x, digits).argsort(descending=True)
        idx, x, digits = idx[order], x[order], digits[order]
        x[: task.fresh], digits[: task.fresh] = self.fresh(task.fresh, generator)
        if task.mode == "regenerating" and task.damage_count:
            layout, hurt = self.model.layout, x[-task.damage_count:]
            living = hurt[:, layout.alpha: layout.alpha + 1] > self.model.alive_threshold
            x[-task.damage_count:] = layout.keep_inputs(drop_cells(hurt, task.drop, living, generator), hurt)
        return idx, x, digits

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx, x, digits = self.batch(generator)
        lo, hi = self.task.steps
        steps = int(torch.randint(lo, hi, (1,), generator=generator))
        x = self.forward_model(x, steps, generator, checkpoint_every=self.checkpoint_every)
        loss = self.per_sample_loss(x, digits).mean()
        if idx is not None:
            self.pool.put(idx, states=x, digits=digits)
        return loss, x


def make_objective(model: NCA, task: ConditionalTask, group: Processes, grad_checkpoint: int = 0
                   ) -> ConditionalObjective:
    data = load_mnist(task.mnist_dir)
    images, labels = (torch.from_numpy(a) for a in data.split("train"))
    task = replace(task, grid=tuple(images.shape[1:]))
    local = replace(task, batch=group.shard(task.batch, "--batch"), pool=group.shard(task.pool, "--pool"))
    objective = ConditionalObjective(model, images, labels, local, grad_checkpoint)
    objective.task = task
    objective.summary = f"a conditional NCA growing the {model.config.classes} digit classes of {data.source}"
    objective.provenance = {"data": data.source, "train_digits": len(images)}
    return objective
