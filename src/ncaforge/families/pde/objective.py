"""Trajectory matching: an NCA learns to follow the frames of a PDE (or any stack of frames).

Frames are ``every`` NCA steps apart (32 in Richardson et al. 2024). Each iteration
draws a batch from a pool of states, each one with the trajectory and frame it stands
at: a ``restart`` fraction of the batch (and every sample that reached the end of its
trajectory) starts again from a true frame (observed channels from the data, hidden
ones zero), the rest carry the NCA's own states forward; the batch runs ``unroll``
frames and the loss is the Euclidean (mean squared) distance of the observed channels
to the true frames, plus an optional L1 penalty on the weights.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ncaforge.core.nca import NCA
from ncaforge.data.trajectories import load_trajectories
from ncaforge.families.pde.model import observed_state
from ncaforge.families.pde.task import PDETask
from ncaforge.objectives.base import Pool, PoolObjective, Processes


class TrajectoryObjective(PoolObjective):
    """Fits ``model`` to trajectories ``data`` (N, T, observed, H, W); sizes are this process's."""

    def __init__(self, model: NCA, data: torch.Tensor, every: int = 32, batch_size: int = 8,
                 pool_size: int = 64, unroll: int = 1, restart: float = 0.5, l1: float = 0.0,
                 checkpoint_every: int = 0) -> None:
        _, t, o, h, w = data.shape
        if o != model.config.observed:
            raise ValueError(f"the model observes {model.config.observed} channels, the data has {o}")
        if not 1 <= unroll < t:
            raise ValueError(f"unroll must be between 1 and the frames per trajectory - 1 ({t - 1}), "
                             f"got {unroll}")
        if pool_size < batch_size or not 0.0 <= restart <= 1.0:
            raise ValueError(f"need pool_size >= batch_size and restart in [0, 1], got {pool_size}, "
                             f"{batch_size}, {restart}")
        self.model = self.forward_model = model
        self.device = next(model.parameters()).device
        self.data = data.to(self.device, torch.float32)
        self.every, self.batch_size, self.unroll = every, batch_size, unroll
        self.restart, self.l1 = restart, l1
        self.checkpoint_every = checkpoint_every
        states = torch.zeros(pool_size, model.layout.channels, h, w, device=self.device)
        where = torch.zeros(pool_size, 2, dtype=torch.long, device=self.device)  # (trajectory, frame)
        fresh = torch.ones(pool_size, dtype=torch.bool, device=self.device)
        self._restart(states, where, fresh, torch.Generator().manual_seed(0))
        self.pool = Pool(states=states, where=where)

    def _restart(self, x: torch.Tensor, where: torch.Tensor, which: torch.Tensor,
                 generator: torch.Generator) -> None:
        """Put samples ``which`` at a random true frame (one that leaves ``unroll`` frames to run)."""
        k = int(which.sum())
        if not k:
            return
        n, t = self.data.shape[:2]
        picks = torch.stack([torch.randint(n, (k,), generator=generator),
                             torch.randint(t - self.unroll, (k,), generator=generator)], 1).to(self.device)
        where[which] = picks
        x[which] = observed_state(self.model, self.data[picks[:, 0], picks[:, 1]])

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Run one batch ``unroll`` frames on; returns (loss, final states) and updates the pool."""
        idx = self.pool.sample(self.batch_size, generator)
        x, where = self.pool.take(idx), self.pool.take(idx, "where")
        t = self.data.shape[1]
        again = (torch.rand(len(idx), generator=generator).to(self.device) < self.restart)
        self._restart(x, where, again | (where[:, 1] + self.unroll > t - 1), generator)
        o = self.model.config.observed
        total = x.new_zeros(())
        for k in range(1, self.unroll + 1):
            x = self.forward_model(x, self.every, generator, checkpoint_every=self.checkpoint_every)
            total = total + (x[:, :o] - self.data[where[:, 0], where[:, 1] + k]).pow(2).mean()
        loss = total / self.unroll
        if self.l1:
            loss = loss + self.l1 * sum(p.abs().sum() for p in self.model.parameters())
        self.pool.put(idx, states=x, where=where + torch.tensor([0, self.unroll], device=self.device))
        return loss, x


def make_objective(model: NCA, task: PDETask, group: Processes, grad_checkpoint: int = 0
                   ) -> TrajectoryObjective:
    """The objective of ``task``: its trajectories, this process's share of the batch and pool."""
    frames, spacing, meta = load_trajectories(list(task.data))
    every = task.every or (spacing if spacing > 1 else 32)
    n, t, _, h, w = frames.shape
    objective = TrajectoryObjective(model, torch.from_numpy(frames), every,
                                    group.shard(task.batch, "--batch"),
                                    group.shard(task.pool, "--pool"), task.unroll, task.restart, task.l1,
                                    grad_checkpoint)
    objective.task = replace(task, every=every, horizon=(t - 1) * every, grid=(h, w), data_meta=meta)
    objective.summary = f"a PDE NCA on {n} trajectories of {t} frames ({h}x{w}, every {every} steps)"
    return objective
