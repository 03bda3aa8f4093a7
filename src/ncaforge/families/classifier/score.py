"""How self-classifying digits are scored: the share of each digit's cells that say a wrong class, after
the digit has had 200 steps to agree."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ncaforge.core.family import Scoring
from ncaforge.core.nca import NCA
from ncaforge.data.mnist import load_mnist
from ncaforge.families.classifier.evaluate import judge
from ncaforge.families.classifier.model import digit_state, logits

READY_STEPS = 200  # the step of the evaluation's headline figures


def ready(model: NCA, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` random MNIST test digits after ``READY_STEPS`` steps, and their labels."""
    images, labels = load_mnist(getattr(model.task, "mnist_dir", None)).split("test")
    picks = torch.randperm(len(images), generator=generator)[:batch].numpy()
    x = digit_state(model, torch.from_numpy(images[picks]).float().to(next(model.parameters()).device) / 255)
    with torch.no_grad():
        x = model.rollout(x, READY_STEPS, generator)
    return x, torch.from_numpy(labels[picks]).long().to(x.device)


def error(model: NCA, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) the share of each digit's cells whose vote is not its label (1 - cell accuracy)."""
    correct, cells, _ = judge(model, x, labels)
    return 1.0 - correct.float() / cells.clamp(min=1).float()


def surrogate(model: NCA, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) differentiable: the mean over digit cells of 1 - the probability they give the label."""
    living = model.living(x)[:, 0].to(x.dtype)
    p = F.softmax(logits(model, x), dim=1).gather(1, labels[:, None, None, None].expand(-1, 1, *x.shape[2:]))
    return ((1.0 - p[:, 0]) * living).sum(dim=(1, 2)) / living.sum(dim=(1, 2)).clamp(min=1)


SCORING = Scoring("share of digit cells voting wrong", ready, error, surrogate)
