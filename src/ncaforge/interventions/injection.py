"""Injected adversarial cells: a mixed population of rules on one grid.

Every cell perceives the shared state; a per-cell assignment mask says which rule
updates it: the frozen host (mask 0) or the adversary (mask 1). Both rules propose a
delta from the same state, each cell keeps its own rule's, and the host's fire,
alive and noise semantics apply to the mixed result (mask all 0 is the host exactly,
mask all 1 the adversary exactly). Masks are drawn i.i.d. Bernoulli(p) per cell,
over the grid or within a region, or placed by hand.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image


def adversary_mask(batch: int, height: int, width: int, fraction: float,
                   region: torch.Tensor | None = None, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, 1, H, W) bool: each cell is adversarial with probability ``fraction``.

    ``region`` (H, W) or (B, 1, H, W) bool restricts adversaries to its True cells
    (e.g. inside the target shape).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"the adversary fraction must be in [0, 1], got {fraction}")
    m = torch.rand(batch, 1, height, width, generator=generator).to(device) < fraction
    if region is not None:
        region = region.to(device=device, dtype=torch.bool)
        if region.shape[-2:] != (height, width):
            raise ValueError(f"the adversary region is {tuple(region.shape[-2:])}, the grid "
                             f"{(height, width)}")
        m = m & region
    return m


def mask_from_image(path: str, height: int, width: int) -> torch.Tensor:
    """A hand-placed (1, 1, H, W) mask from an image: cells where the image is bright or opaque."""
    try:
        with Image.open(path) as im:
            im = im.convert("LA").resize((width, height), Image.NEAREST)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read the adversary mask image {path}: {e}") from e
    a = np.asarray(im, dtype=np.float32)
    grey, alpha = a[..., 0], a[..., 1]
    return torch.from_numpy((grey > 127) & (alpha > 127))[None, None]


Delta = Callable[[torch.Tensor], torch.Tensor]


def mixed_delta(host: Delta, adversary: Delta, mask: torch.Tensor) -> Delta:
    """The delta function of a mixed population: the adversary's where ``mask``, else the host's."""

    def delta(x: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, adversary(x), host(x))

    return delta
