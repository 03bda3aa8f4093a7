"""The sample pool: states carried over between iterations so patterns learn to persist."""

from __future__ import annotations

import torch


class SamplePool:
    """A fixed-size store of states; batches are drawn from it and written back."""

    def __init__(self, states: torch.Tensor) -> None:
        self.states = states

    def __len__(self) -> int:
        return self.states.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` distinct random indices into the pool."""
        return torch.randperm(len(self), generator=generator)[:n]

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        return self.states[idx].clone()

    def commit(self, idx: torch.Tensor, states: torch.Tensor) -> None:
        """Write the states reached by a batch back to where they came from."""
        self.states[idx] = states.detach().to(self.states.device)
