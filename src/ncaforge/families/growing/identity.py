"""An identity channel (after Stovold, "Identity Increases Stability in Neural Cellular Automata", 2025):
the seed of an organism carries a value in the last channel, and the loss asks every living cell of it
to keep that value, so that cells can tell their organism from another one beside it.

Variants (`--identity`): ``none`` (the plain model), ``one`` (every seed carries 1), ``several`` (each
seed carries one of ``VALUES``, a different one for each organism on a grid).
"""

from __future__ import annotations

import torch

from ncaforge.core.nca import NCA
from ncaforge.families.growing.objective import GrowingObjective
from ncaforge.objectives.base import Pool

IDENTITIES = ("none", "one", "several")
VALUES = (0.25, 0.5, 0.75, 1.0)  # the identities of --identity several


def identity_values(kind: str) -> tuple[float, ...]:
    """The values seeds of ``kind`` carry (empty for none)."""
    if kind not in IDENTITIES:
        raise ValueError(f"--identity must be one of {', '.join(IDENTITIES)}, got {kind!r}")
    return {"none": (), "one": (1.0,), "several": VALUES}[kind]


def identity_seed(model: NCA, batch: int, height: int, width: int, value: float | torch.Tensor = 1.0,
                  at: tuple[int, int] | None = None) -> torch.Tensor:
    """Seeds whose cell (at ``at``, default the centre) carries ``value`` (one, or one per sample) in the
    identity channel, the last."""
    x = model.seed(batch, height, width)
    if at is not None:
        x = torch.roll(x, (at[0] - height // 2, at[1] - width // 2), dims=(2, 3))
        cy, cx = at
    else:
        cy, cx = height // 2, width // 2
    x[:, -1, cy, cx] = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    return x


class IdentityObjective(GrowingObjective):
    """The growing objective whose samples carry an identity (kept in the pool beside their states):
    the loss adds ``weight`` times the mean squared difference of the identity channel of the living
    cells from the sample's identity."""

    def __init__(self, model: NCA, target: torch.Tensor, values: tuple[float, ...], weight: float = 1.0,
                 **kwargs: object) -> None:
        h, w = target.shape[1:]
        device = next(model.parameters()).device
        self.values = torch.tensor(values, device=device)
        starts = identity_seed(model, len(values), h, w, self.values)
        super().__init__(model, target, starts=starts, **kwargs)
        self.weight = weight
        if self.pool is not None:  # the pool starts as the start states in turn, and so do their ids
            self.pool = Pool(**self.pool.tensors, ids=self.values[torch.arange(len(self.pool)) % len(values)])
        self.batch_ids = self.values[torch.arange(self.batch_size) % len(values)]

    def identity_error(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """(B,) mean squared difference of the living cells' (alpha above the threshold) identity channel
        from ``ids``."""
        alive = (x[:, self.host.layout.alpha] > self.host.alive_threshold).to(x.dtype)
        wrong = (x[:, -1] - ids[:, None, None]).pow(2) * alive
        return wrong.sum(dim=(1, 2)) / alive.sum(dim=(1, 2)).clamp(min=1)

    def per_sample_loss(self, x: torch.Tensor) -> torch.Tensor:
        return super().per_sample_loss(x) + self.weight * self.identity_error(x, self.batch_ids[: len(x)])

    def select(self, idx: torch.Tensor, fresh: int = 0) -> None:
        """The identities of the batch's samples; those that restart carry the start states' values."""
        ids = self.pool.take(idx, "ids")
        if fresh:
            ids[:fresh] = self.values
            self.pool.put(idx, ids=ids)
        self.batch_ids = ids
