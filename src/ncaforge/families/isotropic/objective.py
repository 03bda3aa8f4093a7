"""The growing objective from symmetric seeds, with the plain or the rotation-invariant loss."""

from __future__ import annotations

from dataclasses import replace

import torch

from ncaforge.core.nca import NCA
from ncaforge.families.growing.objective import GrowingObjective, hardening_of, local_shares
from ncaforge.families.isotropic.task import SymmetryTask, aux_targets, seed_states
from ncaforge.objectives.base import Processes
from ncaforge.objectives.invariant import invariant_l2
from ncaforge.objectives.losses import rgba_mse


class SymmetryObjective(GrowingObjective):
    """Growing from the task's seeds; with ``invariant`` the loss is the MSE to the best rotation of the
    target (and of its mirror image, with ``mirror``); ``dx`` weighs the mean change of one more step
    (angles excepted). ``aux`` (K, H, W) are targets of the K hidden channels after alpha, counted in
    the loss with the RGBA ones (see task.aux_targets)."""

    def __init__(self, *args, invariant: bool = False, mirror: bool = False, overflow: float = 0.0,
                 aux: torch.Tensor | None = None, dx: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.invariant, self.mirror, self.overflow, self.dx = invariant, mirror, overflow, dx
        k = 0 if aux is None else len(aux)
        alpha = self.host.layout.alpha
        if alpha + 1 + k > self.host.perception.perceived:
            raise ValueError(f"{k} auxiliary targets need hidden channels {alpha + 1}..{alpha + k}; the "
                             f"model has {self.host.perception.perceived} perceived channels")
        self.channels = [*self.host.layout.rgba, *range(alpha + 1, alpha + 1 + k)]
        self.full_target = self.target if aux is None else torch.cat([self.target, aux.to(self.target)])

    def per_sample_loss(self, x: torch.Tensor) -> torch.Tensor:
        """The pattern's loss plus ``overflow`` times the mean excess of the states beyond [-1, 1]
        (angles excepted: they live in [0, 2 pi))."""
        if self.invariant:
            loss = invariant_l2(x[:, self.channels], self.full_target[None], mirror=self.mirror)
        else:
            loss = rgba_mse(x, self.full_target, self.channels)
        states = self.perceived_states(x)
        return loss + self.overflow * (states - states.clamp(-1.0, 1.0)).abs().mean(dim=(1, 2, 3))

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        loss, x = super().loss(generator)
        if self.dx:
            moved = self.perceived_states(self.host.step(x, generator=generator)) - self.perceived_states(x)
            loss = loss + self.dx * moved.abs().mean()
        return loss, x

    def perceived_states(self, x: torch.Tensor) -> torch.Tensor:
        """The channels that hold states (all but a steerable cell's angle)."""
        return x[:, : self.host.perception.perceived]


def make_objective(model: NCA, task: SymmetryTask, group: Processes, grad_checkpoint: int = 0
                   ) -> SymmetryObjective:
    if task.identity != "none":
        raise ValueError("--identity trains growing models (the symmetric families' seeds are structured)")
    target = task.image()
    grid = tuple(target.shape[1:])
    steerable = model.perception.mode == "steerable"
    objective = SymmetryObjective(model, target, task.mode, steps=tuple(task.steps),
                                  checkpoint_every=grad_checkpoint, starts=seed_states(model, task, 1, grid),
                                  invariant=task.loss == "invariant", mirror=not steerable,
                                  overflow=task.overflow, aux=aux_targets(target[3], task.aux), dx=task.dx,
                                  hardening=hardening_of(model, task, target, group),
                                  **local_shares(task, group))
    objective.task = replace(task, grid=grid)
    objective.summary = (f"a {model.perception.mode} NCA on {task.target} ({grid[0]}x{grid[1]} grid, "
                         f"{task.seeds} seeds, {task.loss} loss"
                         + (f", {task.aux} auxiliary targets)" if task.aux != "none" else ")"))
    return objective
