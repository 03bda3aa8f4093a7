"""muNCA (Mordvintsev and Niklasson 2021): an ultra-compact texture NCA of 68 to 588 parameters.

Each channel is seen through one fixed filter of its own (groupwise: laplacian, sobel_x or sobel_y),
features are ``y = [x, f(x)]`` and ``|y|``, one 1x1 layer with bias maps them to the update, and every
cell updates every step (synchronous) on a torus; no cell is ever dead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FILTERS, pad
from ncaforge.core.update import UpdateMLP

GROUP_FILTERS = ("laplacian_8", "laplacian", "sobel_x", "sobel_y")


def default_filters(channels: int) -> tuple[str, ...]:
    """The original's filter per channel: laplacians, then equal runs of sobel_x and sobel_y
    (12 channels: 4 each; 4 channels: 2 laplacians, 1 of each sobel)."""
    gradients = channels // 3 if channels % 3 == 0 else max(1, channels // 4)
    return ("laplacian_8",) * (channels - 2 * gradients) + ("sobel_x",) * gradients + ("sobel_y",) * gradients


@dataclass
class MuNCAConfig(Config):
    """Every hyperparameter of a muNCA; stored in a checkpoint's config.json."""

    channels: int = field(default=12, metadata={"min": 4, "help": "State channels (the first three: RGB)."})
    filters: tuple[str, ...] = field(default=(), metadata={
        "choices": GROUP_FILTERS, "help": "One filter per channel [laplacians, then sobel_x, sobel_y]."})


class GroupwisePerception(nn.Module):
    """Channel c seen through its own 3x3 filter; features ``[x, f(x), |x|, |f(x)|]`` (4C)."""

    def __init__(self, filters: tuple[str, ...]) -> None:
        super().__init__()
        self.channels, self.filters, self.padding = len(filters), tuple(filters), "circular"
        self.register_buffer("kernel", torch.stack([FILTERS[f] for f in filters]).unsqueeze(1),
                             persistent=False)

    @property
    def out_features(self) -> int:
        return 4 * self.channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([x, F.conv2d(pad(x, "circular"), self.kernel, groups=self.channels)], dim=1)
        return torch.cat([y, y.abs()], dim=1)


def build_munca(config: MuNCAConfig | None = None) -> NCA:
    """An untrained muNCA (its update starts at zero: the identity map)."""
    c = config or MuNCAConfig()
    filters = c.filters or default_filters(c.channels)
    if len(filters) != c.channels:
        raise ValueError(f"muNCA: {len(filters)} filters for {c.channels} channels (one per channel)")
    perception = GroupwisePerception(filters)
    nca = NCA(Layout(c.channels, rgb=(0, 1, 2), alpha=None), perception,
              UpdateMLP(perception.out_features, c.channels, hidden=()), fire_rate=1.0)
    nca.config = c
    return nca
