"""Grow a target image from a seed, and keep it (persistent) or regrow it (regenerating).

The three modes of Growing NCA:
- ``growing``: every batch starts from seeds;
- ``persistent``: batches come from a sample pool, the worst one reseeded;
- ``regenerating``: as persistent, and the 3 best samples get a disc cut out.
"""

from __future__ import annotations

import torch

from ncaforge.core.nca import NCA
from ncaforge.interventions.damage import random_disc_damage
from ncaforge.training.pool import SamplePool

MODES = ("growing", "persistent", "regenerating")


def rgba_mse(x: torch.Tensor, target: torch.Tensor, rgba: list[int]) -> torch.Tensor:
    """Per-sample mean squared error between the RGBA channels of ``x`` and ``target``."""
    return (x[:, rgba] - target).pow(2).mean(dim=(1, 2, 3))


class GrowingObjective:
    """Runs one training batch of the growing task and returns its loss.

    ``pool_size`` and ``batch_size`` are this process's: under torchrun, each rank
    holds its shard of the global pool and batch.
    """

    sharded = ("pool",)

    def __init__(self, model: NCA, target: torch.Tensor, mode: str = "regenerating",
                 pool_size: int = 1024, batch_size: int = 8, steps: tuple[int, int] = (64, 96),
                 damage_count: int = 3, checkpoint_every: int = 0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if target.ndim != 3 or target.shape[0] != 4:
            raise ValueError(f"target must be an RGBA tensor (4, H, W), got shape {tuple(target.shape)}")
        if mode != "growing" and pool_size < batch_size:
            raise ValueError(f"pool_size ({pool_size}) must be at least batch_size ({batch_size})")
        if not 0 <= damage_count < batch_size:
            raise ValueError(f"damage_count must be in [0, batch_size), got {damage_count}")
        self.model, self.mode = model, mode
        self.forward_model: torch.nn.Module = model  # the trainer swaps in a DDP wrapper
        self.target = target.to(next(model.parameters()).device)
        self.batch_size, self.steps, self.damage_count = batch_size, steps, damage_count
        self.checkpoint_every = checkpoint_every
        _, self.height, self.width = target.shape
        self.pool = None
        if mode != "growing":
            self.pool = SamplePool(model.seed(pool_size, self.height, self.width))

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self.model.parameters())

    def per_sample_loss(self, x: torch.Tensor) -> torch.Tensor:
        return rgba_mse(x, self.target, self.model.layout.rgba)

    def batch(self, generator: torch.Generator) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(pool indices or None, initial states) for the next batch."""
        seed = self.model.seed(1, self.height, self.width)
        if self.pool is None:
            return None, seed.repeat(self.batch_size, 1, 1, 1)
        idx = self.pool.sample(self.batch_size, generator)
        x = self.pool[idx]
        with torch.no_grad():
            order = self.per_sample_loss(x).argsort(descending=True)
        idx, x = idx[order], x[order]
        x[:1] = seed
        if self.mode == "regenerating" and self.damage_count:
            x[-self.damage_count:] = random_disc_damage(x[-self.damage_count:], generator)
        return idx, x

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Run one batch: returns (mean loss, final states) and updates the pool."""
        idx, x = self.batch(generator)
        lo, hi = self.steps
        steps = int(torch.randint(lo, hi, (1,), generator=generator))
        x = self.forward_model(x, steps, generator, checkpoint_every=self.checkpoint_every)
        loss = self.per_sample_loss(x).mean()
        if self.pool is not None:
            self.pool.commit(idx, x)
        return loss, x

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"pool": self.pool.states} if self.pool is not None else {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if self.pool is not None:
            if state["pool"].shape != self.pool.states.shape:
                raise ValueError(f"saved pool has shape {tuple(state['pool'].shape)}, this run "
                                 f"expects {tuple(self.pool.states.shape)}")
            self.pool.states = state["pool"].to(self.pool.states.device)
