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


def living_mean(model: NCA, values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B,) the mean of ``values`` (B, H, W) over each sample's living cells (alpha above the threshold)."""
    alive = (x[:, model.layout.alpha] > model.alive_threshold).to(x.dtype)
    return (values * alive).sum(dim=(1, 2)) / alive.sum(dim=(1, 2)).clamp(min=1)


def identity_error(model: NCA, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """(B,) mean squared difference of the living cells' identity channel from each sample's identity
    ``ids`` (B,)."""
    return living_mean(model, (x[:, -1] - ids[:, None, None]).pow(2), x)


@torch.no_grad()
def kept_identity(model: NCA, grid: tuple[int, int], steps: int = 200, seed: int = 0) -> dict[str, float]:
    """How well a model trained with identities keeps them: from a seed carrying each of its values,
    ``steps`` steps, then the living cells' identity error (:func:`identity_error`), mean and worst, and
    the spread of the organisms' mean identities (0 when every organism holds the same value, whatever
    its seed carried)."""
    values = torch.tensor(identity_values(model.task.identity))
    seeds = identity_seed(model, len(values), *grid, values)
    x = model.rollout(seeds, steps, torch.Generator().manual_seed(seed))
    error, held = identity_error(model, x, values), living_mean(model, x[:, -1], x)
    return {f"identity_error_{steps}": float(error.mean()), f"identity_error_{steps}_max": float(error.max()),
            f"identity_spread_{steps}": float(held.max() - held.min())}
