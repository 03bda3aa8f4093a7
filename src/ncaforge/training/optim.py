"""Optimiser pieces shared by every objective: schedules and gradient normalisation."""

from __future__ import annotations

import torch


def piecewise_lr(iteration: int, lr: float, drops: tuple[int, ...] = (2000,),
                 factor: float = 0.1) -> float:
    """``lr`` times ``factor`` for every drop boundary already passed (stateless, so resumable)."""
    return lr * factor ** sum(iteration >= d for d in drops)


def normalize_gradients(parameters: list[torch.nn.Parameter], eps: float = 1e-8) -> None:
    """Scale each parameter's gradient to unit norm: g / (||g|| + eps), as in Growing NCA."""
    for p in parameters:
        if p.grad is not None:
            p.grad.div_(p.grad.norm() + eps)
