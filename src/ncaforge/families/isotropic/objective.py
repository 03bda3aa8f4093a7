"""The growing objective from symmetric seeds, with the plain or the rotation-invariant loss."""

from __future__ import annotations

from dataclasses import replace

import torch

from ncaforge.core.nca import NCA
from ncaforge.families.growing.objective import GrowingObjective, local_shares
from ncaforge.families.isotropic.task import SymmetryTask, seed_states
from ncaforge.objectives.base import Processes
from ncaforge.objectives.invariant import invariant_l2


class SymmetryObjective(GrowingObjective):
    """Growing from the task's seeds; with ``invariant`` the RGBA loss is the MSE to the best rotation
    of the target (and of its mirror image, with ``mirror``)."""

    def __init__(self, *args, invariant: bool = False, mirror: bool = False, overflow: float = 0.0,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.invariant, self.mirror, self.overflow = invariant, mirror, overflow

    def per_sample_loss(self, x: torch.Tensor) -> torch.Tensor:
        """The pattern's loss plus ``overflow`` times the mean excess of the states beyond [-1, 1]
        (angles excepted: they live in [0, 2 pi))."""
        if self.invariant:
            loss = invariant_l2(x[:, list(self.host.layout.rgba)], self.target[None], mirror=self.mirror)
        else:
            loss = super().per_sample_loss(x)
        states = x[:, :-1] if self.host.perception.mode == "steerable" else x
        return loss + self.overflow * (states - states.clamp(-1.0, 1.0)).abs().mean(dim=(1, 2, 3))


def make_objective(model: NCA, task: SymmetryTask, group: Processes, grad_checkpoint: int = 0
                   ) -> SymmetryObjective:
    target = task.image()
    grid = tuple(target.shape[1:])
    steerable = model.perception.mode == "steerable"
    objective = SymmetryObjective(model, target, task.mode, steps=tuple(task.steps),
                                  checkpoint_every=grad_checkpoint, starts=seed_states(model, task, 1, grid),
                                  invariant=task.loss == "invariant", mirror=not steerable,
                                  overflow=task.overflow, **local_shares(task, group))
    objective.task = replace(task, grid=grid)
    objective.summary = (f"a {model.perception.mode} NCA on {task.target} ({grid[0]}x{grid[1]} grid, "
                         f"{task.seeds} seeds, {task.loss} loss)")
    return objective
