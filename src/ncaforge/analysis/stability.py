"""The two-organism benchmark (after Stovold, "Identity Increases Stability in Neural Cellular Automata",
2025): two seeds of one growing model on a large grid, at given distances and offsets, the second planted
some steps after the first; does each grow its own pattern, or do they merge, explode or die?

Each configuration runs ``steps`` steps. Its reference is the two organisms grown *alone* at the same
places and times, their pictures added (two well-placed organisms). Figures per configuration: the ratio
of the bounding-box area of the living cells (alpha > 0.1) to the reference's, and the RGBA MSE to the
reference; over the sweep, their means and ``bbox_ratio_error``, the mean of |ratio - 1|.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch

from ncaforge.core.nca import NCA
from ncaforge.core.progress import bar
from ncaforge.families.growing.identity import VALUES
from ncaforge.objectives.losses import rgba_mse


@dataclass
class StabilityOptions:
    """The options of `nca eval stability`."""

    seed: int = field(default=0, metadata={"help": "Seed of the fire masks."})
    grid: tuple[int, int] = field(default=(120, 180), metadata={"min": 8, "help": "H W of the grid."})
    steps: int = field(default=1000, metadata={"min": 1, "help": "Steps of each run."})
    distances: tuple[int, ...] = field(default=(20, 30, 40), metadata={"min": 1,
        "help": "Horizontal distances between the two seeds, in cells."})
    offsets: tuple[int, ...] = field(default=(0, 10), metadata={"min": 0,
        "help": "Vertical offsets of the second seed."})
    delays: tuple[int, ...] = field(default=(0, 50), metadata={"min": 0,
        "help": "Steps after the first seed that the second is planted."})


def identities(model: NCA) -> tuple[float, float]:
    """The identity values of the two organisms: different ones for a model trained with several."""
    kind = getattr(model.task, "identity", "none")
    return (VALUES[0], VALUES[-1]) if kind == "several" else (1.0, 1.0)


def places(options: StabilityOptions) -> list[tuple[int, int, int]]:
    """Every (distance, offset, delay) of the sweep."""
    return list(itertools.product(options.distances, options.offsets, options.delays))


def plant(x: torch.Tensor, model: NCA, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor,
          where: torch.Tensor) -> torch.Tensor:
    """``x`` with a seed cell (alpha and hidden channels 1, identity ``values``) planted at (rows, cols)
    in the samples ``where``."""
    x = x.clone()
    b = torch.nonzero(where).flatten()
    if len(b):
        cell = torch.zeros(len(b), x.shape[1], device=x.device)
        cell[:, model.layout.alpha:] = 1.0
        cell[:, -1] = values[b]
        x[b, :, rows[b], cols[b]] = cell
    return x


@torch.no_grad()
def two_organisms(model: NCA, options: StabilityOptions, progress: bool = False) -> dict:
    """Run the sweep: each configuration with both organisms, and each organism alone (the reference)."""
    h, w = options.grid
    configs = places(options)
    n = len(configs)
    if n == 0:
        raise ValueError("the sweep is empty: give at least one distance, offset and delay")
    far = max(d for d, _, _ in configs)
    if far >= w or max(o for _, o, _ in configs) >= h:
        raise ValueError(f"the seeds fall outside the {h}x{w} grid (distance {far})")
    device = next(model.parameters()).device
    a_id, b_id = identities(model)
    d, o, delay = (torch.tensor(v, device=device) for v in zip(*configs, strict=True))
    ay, ax = torch.full_like(d, h // 2) - o // 2, torch.full_like(d, w // 2) - d // 2
    by, bx = ay + o, ax + d
    # samples: [both organisms | the first alone | the second alone], n each
    rows_a, cols_a = ay.repeat(3), ax.repeat(3)
    rows_b, cols_b = by.repeat(3), bx.repeat(3)
    has_a = torch.arange(3 * n, device=device) < 2 * n
    has_b = (torch.arange(3 * n, device=device) < n) | (torch.arange(3 * n, device=device) >= 2 * n)
    when = delay.repeat(3)
    ids_a = torch.full((3 * n,), a_id, device=device)
    ids_b = torch.full((3 * n,), b_id, device=device)
    x = torch.zeros(3 * n, model.layout.channels, h, w, device=device)
    x = plant(x, model, rows_a, cols_a, ids_a, has_a)
    g = torch.Generator().manual_seed(options.seed)
    for t in bar(range(options.steps), progress, desc="two organisms", unit="step", leave=False):
        x = plant(x, model, rows_b, cols_b, ids_b, has_b & (when == t))
        x = model.rollout(x, 1, g)
    pair, alone_a, alone_b = x[:n], x[n:2 * n], x[2 * n:]
    rgba = model.layout.rgba
    reference = (alone_a[:, rgba] + alone_b[:, rgba]).clamp(0.0, 1.0)
    ratio = bbox_area(pair[:, model.layout.alpha]) / bbox_area(reference[:, 3]).clamp(min=1)
    mse = rgba_mse(pair.clamp(0.0, 1.0), reference, rgba)
    rows = [{"distance": c[0], "offset": c[1], "delay": c[2], "bbox_ratio": float(r), "mse": float(m)}
            for c, r, m in zip(configs, ratio, mse, strict=True)]
    return {"configs": rows, "bbox_ratio_mean": float(ratio.mean()),
            "bbox_ratio_error": float((ratio - 1).abs().mean()), "mse_mean": float(mse.mean()),
            "identities": [a_id, b_id], "grid": [h, w], "steps": options.steps}


def bbox_area(alpha: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """(B,) the area of the bounding box of the cells whose alpha exceeds ``threshold`` (0 if none)."""
    alive = alpha > threshold
    rows, cols = alive.any(dim=2), alive.any(dim=1)

    def extent(mask: torch.Tensor) -> torch.Tensor:
        idx = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
        first = torch.where(mask, idx, mask.shape[1]).amin(dim=1)
        last = torch.where(mask, idx, -1).amax(dim=1)
        return (last - first + 1).clamp(min=0)

    return (extent(rows) * extent(cols)).float()
