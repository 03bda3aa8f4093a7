"""The Growing NCA of Mordvintsev et al. (2020): 16 channels, sobel perception, 128 hidden."""

from __future__ import annotations

from dataclasses import dataclass

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FixedPerception
from ncaforge.core.update import UpdateMLP

FAMILY = "growing"


@dataclass
class GrowingConfig(Config):
    """Every hyperparameter of a growing model; stored in a checkpoint's config.json."""

    channels: int = 16
    hidden: int = 128
    filters: tuple[str, ...] = ("identity", "sobel_x", "sobel_y")
    angle: float = 0.0
    padding: str = "zeros"
    fire_rate: float = 0.5
    alive_threshold: float = 0.1


def build_growing(config: GrowingConfig | None = None) -> NCA:
    """Assemble a growing NCA (an untrained one is the identity map)."""
    c = config or GrowingConfig()
    layout = Layout(channels=c.channels)
    perception = FixedPerception(c.channels, c.filters, c.angle, c.padding)
    update = UpdateMLP(perception.out_features, c.channels, (c.hidden,))
    nca = NCA(layout, perception, update, c.fire_rate, c.alive_threshold)
    nca.config = c
    return nca
