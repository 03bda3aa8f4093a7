"""The objectives of a logic CA: Life's 512 configurations in one batch, or a grown checkerboard.

Both train the relaxed circuit (training mode) with the mean squared error of its real-valued states.
A relaxed rollout of many steps can grow its pattern through in-between states that the hard circuit
never has (deviations from 0/1 amplified step after step); ``--noise`` on every state makes them
useless.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ncaforge.core.nca import NCA
from ncaforge.families.logic.life import configurations
from ncaforge.families.logic.model import next_states
from ncaforge.families.logic.task import LogicTask, checkerboard, seed_states
from ncaforge.objectives.base import PoolObjective, Processes


class LifeObjective(PoolObjective):
    """One step from every 3x3 configuration: the centre cell's new state against Life's (only the centre
    is computed: its neighbourhood is the configuration itself)."""

    def __init__(self, model: NCA) -> None:
        if model.layout.channels != 1:
            raise ValueError(f"Game of Life has one channel; this logic CA has {model.layout.channels} "
                             "(train it with --channels 1)")
        self.model = self.forward_model = model
        device = next(model.parameters()).device
        x, self.target = configurations()
        self.neighbourhoods, self.target = x.flatten(1).to(device), self.target.to(device)

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.train()  # relaxed gates (eval mode, as a loaded model is, would be the hard circuit)
        y = next_states(self.model, self.neighbourhoods)[:, 0]  # every cell updates: Life is synchronous
        return (y - self.target).pow(2).mean(), y


class CheckerboardObjective(PoolObjective):
    """From the seed, ``steps`` steps; channel 0 against the checkerboard at the last one."""

    def __init__(self, model: NCA, task: LogicTask, batch: int, checkpoint_every: int = 0) -> None:
        self.model = self.forward_model = model
        self.checkpoint_every, self.noise = checkpoint_every, task.noise
        device = next(model.parameters()).device
        self.steps, self.batch = task.steps, batch
        self.start = seed_states(model, task, batch, task.grid).to(device)
        self.target = checkerboard(task).to(device)

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.train()
        lo, hi = self.steps
        steps = int(torch.randint(lo, hi, (1,), generator=generator))
        self.model.noise = self.noise  # the rollout's noise, drawn from the trainer's generator
        try:
            x = self.forward_model(self.start, steps, generator, checkpoint_every=self.checkpoint_every)
        finally:
            self.model.noise = 0.0  # the hard circuit that is saved and evaluated runs without it
        return (x[:, 0] - self.target).pow(2).mean(), x


def make_objective(model: NCA, task: LogicTask, group: Processes, grad_checkpoint: int = 0) -> PoolObjective:
    if task.task == "life":
        objective: PoolObjective = LifeObjective(model)
        objective.summary = "a logic CA on Game of Life (all 512 configurations, one step)"
    else:
        objective = CheckerboardObjective(model, task, group.shard(task.batch, "--batch"), grad_checkpoint)
        h, w = task.grid
        objective.summary = (f"a logic CA growing a checkerboard of {task.square}-cell squares on a {h}x{w} "
                             f"torus in {task.steps[0]}-{task.steps[1] - 1} steps")
    objective.task = replace(task)
    return objective
