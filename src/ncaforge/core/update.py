"""The per-cell update rule: a small MLP written as 1x1 convolutions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class UpdateMLP(nn.Module):
    """features -> hidden (ReLU) -> ... -> channel deltas; last layer zero-initialised.

    Zero initialisation makes an untrained NCA the identity map, which is what lets
    training start from a stable, do-nothing rule.
    """

    def __init__(self, in_features: int, out_channels: int, hidden: tuple[int, ...] = (128,),
                 last_bias: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Conv2d(width, h, 1), nn.ReLU()]
            width = h
        last = nn.Conv2d(width, out_channels, 1, bias=last_bias)
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)
        self.in_features, self.out_channels, self.hidden = in_features, out_channels, tuple(hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)

    def rows(self, features: torch.Tensor) -> torch.Tensor:
        """The same MLP on (N, in_features) rows, e.g. the features of cells gathered from a grid."""
        layers = [m for m in self.net if isinstance(m, nn.Conv2d)]
        for k, conv in enumerate(layers):
            features = F.linear(features, conv.weight.flatten(1), conv.bias)
            if k < len(layers) - 1:
                features = torch.relu(features)
        return features
