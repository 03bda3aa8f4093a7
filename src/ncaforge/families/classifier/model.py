"""The self-classifying MNIST NCA (Randazzo et al. 2020): cells agree on which digit they form.

Channel 0 holds the grey digit, read-only; only cells where it exceeds 0.1 (the
digit's pixels) update; the last ``classes`` channels are the class logits.
Perception is a learned 3x3 convolution with ReLU, the update an 80-wide MLP, and
every delta gets residual noise N(0, 0.02^2), as in the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import LearnedPerception
from ncaforge.core.update import UpdateMLP


@dataclass
class ClassifierConfig(Config):
    """Every hyperparameter of a classifier model; stored in a checkpoint's config.json."""

    channels: int = field(default=20, metadata={"min": 2,
        "help": "State channels (the digit, hidden, logits)."})
    classes: int = field(default=10, metadata={"min": 2,
        "help": "Classes, held in the last channels as logits."})
    features: int | None = field(default=None, metadata={"min": 1, "help": "Perception width [--hidden]."})
    hidden: int = field(default=80, metadata={"min": 1,
        "help": "Width of the perception and the update MLP."})
    fire_rate: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0,
        "help": "Probability that a cell updates in a step."})
    alive_threshold: float = field(default=0.1, metadata={"min": 0.0,
        "help": "Cells whose digit exceeds this update."})
    noise: float = field(default=0.02, metadata={"min": 0.0, "help": "Residual noise on every update."})


def build_classifier(config: ClassifierConfig | None = None) -> NCA:
    """Assemble a classifier NCA (an untrained one leaves every state as it is, noise aside)."""
    c = config or ClassifierConfig()
    if not 0 < c.classes < c.channels:
        raise ValueError(f"classes ({c.classes}) must be between 1 and channels - 1 ({c.channels - 1})")
    layout = Layout(channels=c.channels, rgb=None, alpha=None, readonly=(0,), living=0)
    perception = LearnedPerception(c.channels, c.features or c.hidden)
    update = UpdateMLP(c.features or c.hidden, c.channels - 1, (c.hidden,))
    nca = NCA(layout, perception, update, c.fire_rate, c.alive_threshold, c.noise)
    nca.config = c
    return nca


def digit_state(nca: NCA, images: torch.Tensor) -> torch.Tensor:
    """Initial states (B, C, H, W) for grey digits (B, H, W) in [0, 1]: the image, zeros elsewhere."""
    if images.ndim != 3:
        raise ValueError(f"images must be (B, H, W), got shape {tuple(images.shape)}")
    x = torch.zeros(images.shape[0], nca.layout.channels, *images.shape[1:], device=images.device)
    x[:, 0] = images
    return x


def logits(nca: NCA, x: torch.Tensor) -> torch.Tensor:
    """The (B, classes, H, W) class logits of states ``x``."""
    return x[:, -nca.config.classes:]


def mutate(nca: NCA, x: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Put new digits under states ``x``: states survive on the new digit's pixels only."""
    fresh = digit_state(nca, images)
    out = torch.where(nca.living(fresh), x, 0.0)
    readonly = list(nca.layout.readonly)
    out[:, readonly] = fresh[:, readonly]
    return out
