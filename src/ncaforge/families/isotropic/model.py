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
from typing import ClassVar

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

    masking: ClassVar[str] = "pre"  # only cells with a living neighbourhood update; nothing is cleared

    def step(self, x: torch.Tensor, fire: torch.Tensor | None = None,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
             delta: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        if fire is None:
            fire, noise = self.draw((x.shape[0], x.shape[2], x.shape[3]), x.device, generator)
        update = fire & self.alive(x)
        if delta is None:
            x = self._update_cells(x, update, noise)
        else:
            d = delta(x)
            x = x + (d if noise is None else d + noise) * update.to(x.dtype)
        if self.perception.mode != "steerable":
            return x
        return torch.cat([x[:, :-1], torch.remainder(x[:, -1:], 2 * math.pi)], dim=1)

    def _update_cells(self, x: torch.Tensor, update: torch.Tensor, noise: torch.Tensor | None
                      ) -> torch.Tensor:
        """``x`` plus the deltas of the cells in the (B, 1, H, W) mask ``update``; the MLP runs on those
        cells only (a grown lizard leaves most of the torus empty, and half the cells do not fire)."""
        b, c, h, w = x.shape
        features = self.perception(x)
        idx = update.reshape(-1).nonzero().squeeze(1)
        rows = features.permute(0, 2, 3, 1).reshape(b * h * w, -1).index_select(0, idx)
        d = self.update.rows(rows)
        if noise is not None:
            d = d + noise.permute(0, 2, 3, 1).reshape(b * h * w, c).index_select(0, idx)
        out = x.permute(0, 2, 3, 1).reshape(b * h * w, c).index_add(0, idx, d)
        return out.view(b, h, w, c).permute(0, 3, 1, 2)


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
