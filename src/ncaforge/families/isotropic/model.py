"""Isotropic NCA (Mordvintsev, Randazzo, Fouts 2022): a growing NCA whose cells have no compass.

Cells perceive only rotation-invariant features (``SymmetricPerception``: the state and its
laplacian, optionally the gradient's length, or gradients in a frame of the cell's own), on a torus,
with the originals' step: a pre-update alive mask only (a cell with no living neighbour does not
change; nothing is cleared after the update), fire rate 0.5, last layer zero-initialised and
without bias. The steerable family (families/steerable) is the same model whose last channel is
each cell's angle, kept in [0, 2 pi).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import SymmetricPerception
from ncaforge.core.update import UpdateMLP

ISOTROPIC_MODES = ("laplacian", "lap_gradnorm", "gradient")


def hidden_width(features: int, channels: int) -> int:
    """The originals' hidden width: ceil32(8192 // (features + channels))."""
    return 32 * math.ceil((8192 // (features + channels)) / 32)


@dataclass
class IsotropicConfig(Config):
    """Every hyperparameter of an isotropic model; stored in a checkpoint's config.json."""

    channels: int = field(default=16, metadata={"min": 5, "help": "State channels (RGBA and hidden)."})
    perception: str = field(default="laplacian", metadata={"choices": ISOTROPIC_MODES,
        "help": "What cells see: [x, lap x], + |grad x|, or gradients in the frame of channel --frame."})
    hidden: int = field(default=0, metadata={"min": 0,
        "help": "Width of the update MLP (0: ceil32(8192 // (features + channels)), as the originals)."})
    frame: int = field(default=3, metadata={"min": 0,
        "help": "The channel whose gradient gives the frame of --perception gradient (3: alpha)."})
    fire_rate: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0,
        "help": "Probability that a cell updates in a step."})
    alive_threshold: float = field(default=0.1, metadata={"min": 0.0,
        "help": "Alpha above which a neighbourhood lives."})


class SymmetricNCA(NCA):
    """An NCA with the isotropic and steerable originals' step (see the module's docstring)."""

    def step(self, x: torch.Tensor, fire: torch.Tensor | None = None,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
             delta: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        if fire is None:
            fire, noise = self.draw((x.shape[0], x.shape[2], x.shape[3]), x.device, generator)
        d = (delta or self.delta)(x)
        if noise is not None:
            d = d + noise
        x = x + d * (fire & self.alive(x)).to(x.dtype)
        if self.perception.mode != "steerable":
            return x
        return torch.cat([x[:, :-1], torch.remainder(x[:, -1:], 2 * math.pi)], dim=1)


def build_symmetric(config: IsotropicConfig, mode: str) -> SymmetricNCA:
    """A SymmetricNCA of ``config`` with perception ``mode`` (an untrained one is the identity map)."""
    perception = SymmetricPerception(config.channels, mode, "circular", config.frame)
    hidden = config.hidden or hidden_width(perception.out_features, config.channels)
    update = UpdateMLP(perception.out_features, config.channels, (hidden,), last_bias=False)
    nca = SymmetricNCA(Layout(channels=config.channels), perception, update, config.fire_rate,
                       config.alive_threshold)
    nca.config = config
    return nca


def build_isotropic(config: IsotropicConfig | None = None) -> SymmetricNCA:
    c = config or IsotropicConfig()
    return build_symmetric(c, c.perception)
