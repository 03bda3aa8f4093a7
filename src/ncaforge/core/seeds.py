"""Initial states: the single living cell that a pattern grows from."""

from __future__ import annotations

import torch

from ncaforge.core.layout import Layout


def single_seed(layout: Layout, batch: int, height: int, width: int,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """One cell at (H//2, W//2) with alpha and every hidden channel at 1, RGB 0."""
    x = torch.zeros(batch, layout.channels, height, width, device=device)
    first_live = layout.alpha if layout.alpha is not None else 0
    x[:, first_live:, height // 2, width // 2] = 1.0
    if layout.rgb is not None:
        x[:, list(layout.rgb), height // 2, width // 2] = 0.0
    return x
