"""Conditional morphogenesis (after Sakour 2025): one rule grows any digit that its class names.

The state is ``channels`` mutable channels (RGBA, hidden) and a read-only one-hot of the class in
every cell, living or not. Each mutable channel is perceived through ``kernels`` learned 3x3 filters
of its own (a depthwise convolution); the class one-hot is concatenated to those features, and an MLP
turns them into the update. Masking as in Growing NCA; read-only channels are never cleared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import PADDING_MODES, pad
from ncaforge.core.update import UpdateMLP


@dataclass
class ConditionalConfig(Config):
    """Every hyperparameter of a conditional model; stored in a checkpoint's config.json."""

    channels: int = field(default=16, metadata={"min": 5,
        "help": "Mutable state channels (RGBA and hidden); the class one-hot comes on top."})
    classes: int = field(default=10, metadata={"min": 2, "help": "Classes the rule can be asked for."})
    kernels: int = field(default=3, metadata={"min": 1,
        "help": "Learned 3x3 filters per channel (depthwise perception)."})
    hidden: int = field(default=128, metadata={"min": 1, "help": "Width of the update MLP."})
    fire_rate: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0,
        "help": "Probability that a cell updates in a step."})
    alive_threshold: float = field(default=0.1, metadata={"min": 0.0,
        "help": "Alpha above which a neighbourhood lives."})


class ConditionalPerception(nn.Module):
    """Depthwise learned 3x3 filters of the first ``channels`` channels, then the class one-hot (the
    remaining channels) as it is."""

    def __init__(self, channels: int, classes: int, kernels: int, padding: str = "zeros") -> None:
        super().__init__()
        if padding not in PADDING_MODES:
            raise ValueError(f"padding must be one of {PADDING_MODES}, got {padding!r}")
        self.channels, self.classes, self.padding = channels, classes, padding
        self.conv = nn.Conv2d(channels, channels * kernels, 3, groups=channels)
        self.out_features = channels * kernels + classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.channels + self.classes:
            raise ValueError(f"expected {self.channels} state + {self.classes} class channels, got "
                             f"{x.shape[1]}")
        return torch.cat([self.conv(pad(x[:, : self.channels], self.padding)), x[:, self.channels:]], 1)

    def cell_features(self, neigh: torch.Tensor) -> torch.Tensor:
        """The features of cells from their gathered (N, 9*C) neighbourhoods (raster order, channels
        last): what the active-cell path computes for living cells only."""
        n = neigh.view(len(neigh), 9, self.channels + self.classes)
        w = self.conv.weight.view(self.channels, -1, 9)  # output channel c*k + j filters channel c
        own = torch.einsum("ntc,ckt->nck", n[:, :, : self.channels], w).flatten(1)
        return torch.cat([own + self.conv.bias, n[:, 4, self.channels:]], 1)


def build_conditional(config: ConditionalConfig | None = None) -> NCA:
    """An untrained conditional NCA (the identity map: the update's last layer starts at zero)."""
    c = config or ConditionalConfig()
    classes = tuple(range(c.channels, c.channels + c.classes))
    layout = Layout(channels=c.channels + c.classes, readonly=classes)
    perception = ConditionalPerception(c.channels, c.classes, c.kernels)
    update = UpdateMLP(perception.out_features, c.channels, (c.hidden,))
    nca = NCA(layout, perception, update, c.fire_rate, c.alive_threshold)
    nca.config = c
    return nca


def seed_states(model: NCA, task: object, batch: int, grid: tuple[int, int],
                label: int | torch.Tensor = 0) -> torch.Tensor:
    """Seeds of class ``label`` (one class, or one per sample): the centre cell's alpha and hidden
    channels at 1, and the class one-hot in every cell."""
    c = model.config
    labels = torch.as_tensor(label).long()
    labels = labels.expand(batch) if labels.ndim == 0 else labels
    if len(labels) != batch or not bool(((labels >= 0) & (labels < c.classes)).all()):
        raise ValueError(f"this model grows classes 0..{c.classes - 1} (one, or one per sample of {batch}); "
                         f"got {labels.tolist()}")
    h, w = grid
    device = next(model.parameters()).device
    x = torch.zeros(batch, c.channels + c.classes, h, w, device=device)
    x[:, model.layout.alpha : c.channels, h // 2, w // 2] = 1.0
    x[:, c.channels:] = nn.functional.one_hot(labels.to(device), c.classes).float()[:, :, None, None]
    return x


def classes_of(model: NCA, x: torch.Tensor) -> torch.Tensor:
    """The class each state was grown for (its one-hot's argmax)."""
    return x[:, model.config.channels:].amax(dim=(2, 3)).argmax(1)
