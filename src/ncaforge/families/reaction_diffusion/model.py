"""Differentiable reaction-diffusion (Mordvintsev, Randazzo, Fouts 2021): each cell reacts through a
small MLP of its own state (32 -> 128 -> 32, no bias on the last layer) and every channel diffuses
isotropically at its own rate; every cell updates every step, on a torus.

``x <- x + R(x) + D * lap(x)`` with the 9-point laplacian ``[[1, 2, 1], [2, -12, 2], [1, 2, 1]] / 16``
(eigenvalues in [-1, 0]), and ``D`` per channel in (0, 0.5): log-spaced from 0.01 to 0.25, fixed or learned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FILTERS, pad
from ncaforge.core.update import UpdateMLP

DIFFUSION = ("fixed", "learned")
MAX_RATE = 0.5  # D < 0.5 keeps the explicit step stable for the laplacian below


@dataclass
class ReactionDiffusionConfig(Config):
    """Every hyperparameter of a reaction-diffusion model; stored in a checkpoint's config.json."""

    channels: int = field(default=32, metadata={"min": 4, "help": "Chemical species (the first three: RGB)."})
    hidden: int = field(default=128, metadata={"min": 1, "help": "Width of the reaction MLP."})
    diffusion: str = field(default="learned", metadata={"choices": DIFFUSION,
        "help": "Per-channel diffusion rates: fixed (log-spaced 0.01..0.25) or learned from there."})


class Laplacian(nn.Module):
    """Features ``[x, lap(x)]`` (2C): the state and its isotropic laplacian on a torus."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels, self.padding = channels, "circular"
        kernel = (FILTERS["laplacian"] / 16.0).expand(channels, 1, 3, 3).clone()
        self.register_buffer("kernel", kernel, persistent=False)

    @property
    def out_features(self) -> int:
        return 2 * self.channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, F.conv2d(pad(x, "circular"), self.kernel, groups=self.channels)], dim=1)


def initial_rates(channels: int) -> torch.Tensor:
    """Diffusion rates log-spaced from 0.01 to 0.25."""
    return torch.logspace(math.log10(0.01), math.log10(0.25), channels)


class ReactionDiffusion(nn.Module):
    """``R(x) + D * lap(x)`` from features ``[x, lap(x)]``; D = MAX_RATE * sigmoid(logit)."""

    def __init__(self, channels: int, hidden: int, learned: bool) -> None:
        super().__init__()
        self.reaction = UpdateMLP(channels, channels, (hidden,), last_bias=False)
        logits = torch.logit(initial_rates(channels) / MAX_RATE)
        if learned:
            self.rate_logits = nn.Parameter(logits)
        else:
            self.register_buffer("rate_logits", logits)
        self.channels = channels

    def rates(self) -> torch.Tensor:
        return MAX_RATE * torch.sigmoid(self.rate_logits)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x, lap = features[:, : self.channels], features[:, self.channels :]
        return self.reaction(x) + self.rates()[None, :, None, None] * lap


def build_reaction_diffusion(config: ReactionDiffusionConfig | None = None) -> NCA:
    """An untrained reaction-diffusion model: pure diffusion (the reaction starts at zero)."""
    c = config or ReactionDiffusionConfig()
    nca = NCA(Layout(c.channels, rgb=(0, 1, 2), alpha=None), Laplacian(c.channels),
              ReactionDiffusion(c.channels, c.hidden, c.diffusion == "learned"), fire_rate=1.0)
    nca.config = c
    return nca
