"""Training a judge: cross-entropy on random batches of shifted MNIST training digits."""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from ncaforge.data.mnist import load_mnist
from ncaforge.families.judge.model import Judge
from ncaforge.families.judge.task import JudgeTask
from ncaforge.objectives.base import PoolObjective, Processes


def shifted(images: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """(B, 1, H, W) images each moved by a random whole offset within ``shift`` pixels (zeros come in)."""
    if not shift:
        return images
    b, _, h, w = images.shape
    padded = F.pad(images, (shift, shift, shift, shift))
    dy, dx = torch.randint(0, 2 * shift + 1, (2, b), generator=generator)
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])


class JudgeObjective(PoolObjective):
    """One batch of digits per iteration; returns the mean cross-entropy and the logits."""

    def __init__(self, model: Judge, images: torch.Tensor, labels: torch.Tensor, batch: int, shift: int
                 ) -> None:
        self.model = self.forward_model = model
        self.images, self.labels, self.batch, self.shift = images, labels, batch, shift

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.train()
        idx = torch.randint(len(self.images), (self.batch,), generator=generator)
        x = shifted(self.images[idx][:, None].float() / 255.0, self.shift, generator)
        logits = self.forward_model(x)
        return F.cross_entropy(logits, self.labels[idx].long()), logits


def make_objective(model: Judge, task: JudgeTask, group: Processes, grad_checkpoint: int = 0
                   ) -> JudgeObjective:
    data = load_mnist(task.mnist_dir)
    images, labels = (torch.from_numpy(a) for a in data.split("train"))
    objective = JudgeObjective(model, images, labels, group.shard(task.batch, "--batch"), task.shift)
    objective.task = replace(task)
    objective.summary = f"an MNIST judge on {len(images)} digits from {data.source}"
    objective.provenance = {"data": data.source, "train_digits": len(images)}
    return objective
