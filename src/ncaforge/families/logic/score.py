"""How a grown checkerboard is scored under attack: the share of cells whose channel 0 (read as a bit)
is not the checkerboard's, after the rule has had its training rollout to grow it from the seed cell.

A Life rule has no pattern to return to (after any attack it simply runs Life on what is left), so its
models are not subjects of the attack suite."""

from __future__ import annotations

import torch

from ncaforge.core.family import Scoring
from ncaforge.core.nca import NCA
from ncaforge.families.logic.task import checkerboard, seed_states


def refusal(model: NCA) -> str | None:
    """Why ``model`` cannot be scored (None: it can), as a short phrase."""
    task = getattr(model, "task", None)
    if task is None:
        return "no logic task recorded (not trained by `nca train logic`)"
    if task.task != "checkerboard":
        return "a rule (Life), not a pattern: after an attack it runs on, with nothing to return to"
    return None


def ready(model: NCA, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` checkerboards grown from the seed cell for the training's last step, and the target."""
    task = model.task
    x = seed_states(model, task, batch, tuple(task.grid)).to(next(model.parameters()).device)
    with torch.no_grad():
        x = model.rollout(x, task.steps[1] - 1, generator)
    return x, checkerboard(task).to(x.device).expand(batch, -1, -1)


def error(model: NCA, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,) the share of cells whose bit (channel 0 above 0.5) is not the target's."""
    return ((x[:, 0] > 0.5).to(x.dtype) != target).flatten(1).to(x.dtype).mean(dim=1)


def surrogate(model: NCA, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,) differentiable: the squared distance of channel 0 to the target (the training loss)."""
    return (x[:, 0] - target).pow(2).flatten(1).mean(dim=1)


SCORING = Scoring("share of cells off the checkerboard", ready, error, surrogate, refusal)
