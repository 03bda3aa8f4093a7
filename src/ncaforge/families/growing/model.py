"""The Growing NCA of Mordvintsev et al. (2020): 16 channels, sobel perception, 128 hidden."""

from __future__ import annotations

from dataclasses import dataclass, field

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FILTERS, PADDING_MODES, FixedPerception
from ncaforge.core.update import UpdateMLP


@dataclass
class GrowingConfig(Config):
    """Every hyperparameter of a growing model; stored in a checkpoint's config.json."""

    channels: int = field(default=16, metadata={"min": 4, "help": "State channels (RGBA and hidden)."})
    hidden: int = field(default=128, metadata={"min": 1, "help": "Width of the update MLP."})
    filters: tuple[str, ...] = field(default=("identity", "sobel_x", "sobel_y"), metadata={
        "choices": FILTERS, "nonempty": True,
        "help": f"Perception kernels, comma-separated: {', '.join(FILTERS)}."})
    angle: float = field(default=0.0, metadata={"help": "Rotation of the gradient kernels, in radians."})
    padding: str = field(default="zeros", metadata={"choices": PADDING_MODES, "help": "Grid border."})
    fire_rate: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0,
        "help": "Probability that a cell updates in a step."})
    alive_threshold: float = field(default=0.1, metadata={"min": 0.0,
        "help": "Alpha above which a neighbourhood lives."})


def build_growing(config: GrowingConfig | None = None) -> NCA:
    """Assemble a growing NCA (an untrained one is the identity map)."""
    c = config or GrowingConfig()
    layout = Layout(channels=c.channels)
    perception = FixedPerception(c.channels, c.filters, c.angle, c.padding)
    update = UpdateMLP(perception.out_features, c.channels, (c.hidden,))
    nca = NCA(layout, perception, update, c.fire_rate, c.alive_threshold)
    nca.config = c
    return nca
