"""The judge: a small convolutional MNIST classifier that names the digit a grown pattern shows.

Conditional NCAs (families/conditional) are scored by it: a pattern grown for class k counts as
right when the judge reads a k. Two blocks of two 3x3 convolutions and a max-pool, then a 128-wide
hidden layer with dropout; about 0.1M parameters, over 99% on the MNIST test digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ncaforge.core.config import Config


@dataclass
class JudgeConfig(Config):
    """Every hyperparameter of a judge; stored in a checkpoint's config.json."""

    width: int = field(default=32, metadata={"min": 1,
        "help": "Channels of the first convolution block (the second has twice as many)."})
    hidden: int = field(default=128, metadata={"min": 1, "help": "Width of the hidden dense layer."})
    dropout: float = field(default=0.3, metadata={"min": 0.0, "max": 0.9,
        "help": "Dropout before the last layer, in training."})
    classes: int = field(default=10, metadata={"min": 2, "help": "Classes."})


class Judge(nn.Module):
    """(B, 1, 28, 28) grey images in [0, 1] -> (B, classes) logits."""

    def __init__(self, config: JudgeConfig) -> None:
        super().__init__()
        w = config.width

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1),
                    nn.ReLU(), nn.MaxPool2d(2)]

        self.net = nn.Sequential(*block(1, w), *block(w, 2 * w), nn.Flatten(),
                                 nn.Linear(2 * w * 7 * 7, config.hidden), nn.ReLU(),
                                 nn.Dropout(config.dropout), nn.Linear(config.hidden, config.classes))
        self.config = config
        self.provenance: dict = {}
        self.task: object | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1:] != (1, 28, 28):
            raise ValueError(f"the judge reads (B, 1, 28, 28) grey images, got {tuple(images.shape)}")
        return self.net(images)

    @torch.no_grad()
    def classify(self, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
        """The predicted class of each (B, 1, 28, 28) image (eval mode, in batches)."""
        was = self.training
        self.eval()
        out = torch.cat([self(images[i:i + batch]).argmax(1) for i in range(0, len(images), batch)])
        self.train(was)
        return out


def build_judge(config: JudgeConfig | None = None) -> Judge:
    return Judge(config or JudgeConfig())
