"""The shared half of every objective: a sample pool, what learns, what runs, and their saved state.

An objective supplies its batch recipe (which samples, which fresh starts) and its
per-sample loss; the pool of states and per-sample tensors (labels, adversary masks,
positions in a trajectory) and its round trip through a checkpoint are written here once.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn


class Processes(Protocol):
    """What an objective factory needs of the process group (``ncaforge.training.distributed.Group``)."""

    device: torch.device
    world: int

    def shard(self, total: int, name: str) -> int:
        """This process's share of a global ``total`` (``name`` is the option, for errors)."""
        ...


class Pool:
    """Per-sample tensors of equal length (``states`` and any others), drawn in batches and written back.

    Under torchrun every rank holds its shard; the trainer gathers the tensors of
    :meth:`state_dict` along dim 0 into one pool when it checkpoints.
    """

    def __init__(self, **tensors: torch.Tensor) -> None:
        sizes = {name: len(t) for name, t in tensors.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"pool tensors must have one length, got {sizes}")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` distinct random indices into the pool (on the pool's device)."""
        device = next(iter(self.tensors.values())).device
        return torch.randperm(len(self), generator=generator)[:n].to(device)

    def take(self, idx: torch.Tensor, name: str = "states") -> torch.Tensor:
        """A copy of ``name`` at ``idx``."""
        return self.tensors[name][idx].clone()

    def put(self, idx: torch.Tensor, **tensors: torch.Tensor) -> None:
        """Write samples back to where they came from."""
        for name, t in tensors.items():
            self.tensors[name][idx] = t.detach().to(self.tensors[name].device, self.tensors[name].dtype)

    def state_dict(self) -> dict[str, torch.Tensor]:
        # bool travels as uint8: every collective and file format takes bytes
        return {name: t.to(torch.uint8) if t.dtype == torch.bool else t for name, t in self.tensors.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore saved tensors, checking that the run matches (same names and shapes)."""
        if "pool" in state and "pool" not in self.tensors:  # runs saved before the pool had names
            state = {("states" if k == "pool" else k): v for k, v in state.items()}
        missing = sorted(set(self.tensors) - set(state))
        if missing:
            raise ValueError(f"the saved pool lacks {missing} (it was saved by another kind of run)")
        for name, t in self.tensors.items():
            if state[name].shape != t.shape:
                raise ValueError(f"saved pool {name!r} has shape {tuple(state[name].shape)}, this run "
                                 f"expects {tuple(t.shape)}")
        self.tensors = {name: state[name].to(t.device, t.dtype) for name, t in self.tensors.items()}


class PoolObjective:
    """Base of the objectives: ``model`` learns and is saved, ``forward_model`` runs the rollouts
    (the model, or a frozen host under an attack; the trainer may wrap it in DDP), ``pool`` is
    kept between iterations (None: every batch starts afresh)."""

    model: nn.Module
    forward_model: nn.Module
    pool: Pool | None = None

    @property
    def sharded(self) -> tuple[str, ...]:
        """State tensors split across ranks along dim 0: all of the pool's."""
        return tuple(self.pool.tensors) if self.pool is not None else ()

    def parameters(self) -> list[nn.Parameter]:
        return list(self.model.parameters())

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Run one batch: returns (mean loss, final states); updates the pool."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.pool.state_dict() if self.pool is not None else {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if self.pool is not None:
            self.pool.load_state_dict(state)
