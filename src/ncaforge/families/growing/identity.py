"""An identity channel (after Stovold, "Identity Increases Stability in Neural Cellular Automata", 2025):
the seed of an organism carries a value in the last channel, and the loss asks every living cell of it
to keep that value, so that cells can tell their organism from another one beside it.

Variants (`--identity`): ``none`` (the plain model), ``one`` (every seed carries 1), ``several`` (each
seed carries one of ``VALUES``, a different one for each organism on a grid).
"""

from __future__ import annotations

import torch

from ncaforge.core.nca import NCA

IDENTITIES = ("none", "one", "several")
VALUES = (0.25, 0.5, 0.75, 1.0)  # the identities of --identity several


def identity_values(kind: str) -> tuple[float, ...]:
    """The values seeds of ``kind`` carry (empty for none)."""
    if kind not in IDENTITIES:
        raise ValueError(f"--identity must be one of {', '.join(IDENTITIES)}, got {kind!r}")
    return {"none": (), "one": (1.0,), "several": VALUES}[kind]


def identity_seed(model: NCA, batch: int, height: int, width: int,
                  value: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Seeds whose centre cell carries ``value`` (one, or one per sample) in the identity channel (the
    last)."""
    x = model.seed(batch, height, width)
    x[:, -1, height // 2, width // 2] = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    return x
