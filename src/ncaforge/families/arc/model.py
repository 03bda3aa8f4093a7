"""An NCA for one ARC-AGI task (after Xu and Miikkulainen 2025): cells hold the colour of their pixel as
ten one-hot channels plus hidden channels; a few dozen stochastic steps turn the input into the output.

Perception is a fixed bank (identity, sobel pair, laplacian) with zero padding, so a cell knows the
grid's edge; every cell is alive (no alpha); the update MLP is small (about 10k parameters by default).
The colour a cell shows is the arg-max of its first ten channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FILTERS, FixedPerception
from ncaforge.core.update import UpdateMLP
from ncaforge.data.arc import COLOURS


@dataclass
class ArcConfig(Config):
    """Every hyperparameter of an ARC NCA; stored in a checkpoint's config.json."""

    hidden_channels: int = field(default=6, metadata={"min": 0,
        "help": "Channels beyond the ten colour channels."})
    hidden: int = field(default=128, metadata={"min": 1, "help": "Width of the update MLP."})
    filters: tuple[str, ...] = field(default=("identity", "sobel_x", "sobel_y", "laplacian_8"), metadata={
        "choices": FILTERS, "nonempty": True, "help": f"Perception kernels: {', '.join(FILTERS)}."})
    fire_rate: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0,
        "help": "Probability that a cell updates in a step."})


def build_arc(config: ArcConfig | None = None) -> NCA:
    """An untrained ARC NCA (the identity map: its grids keep their colours)."""
    c = config or ArcConfig()
    channels = COLOURS + c.hidden_channels
    perception = FixedPerception(channels, c.filters, padding="zeros")
    update = UpdateMLP(perception.out_features, channels, (c.hidden,))
    nca = NCA(Layout(channels=channels, rgb=None, alpha=None), perception, update, c.fire_rate)
    nca.config = c
    return nca


def colours(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) states -> (B, H, W) the colour each cell shows."""
    return x[:, :COLOURS].argmax(dim=1)
