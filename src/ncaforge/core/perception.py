"""How a cell perceives its 3x3 neighbourhood: fixed filter banks or a learned conv."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
FILTERS: dict[str, torch.Tensor] = {
    "identity": torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
    "sobel_x": SOBEL_X,
    "sobel_y": SOBEL_X.T.contiguous(),
    "laplacian": torch.tensor([[1.0, 2.0, 1.0], [2.0, -12.0, 2.0], [1.0, 2.0, 1.0]]),
    "laplacian_8": torch.tensor([[1.0, 2.0, 1.0], [2.0, -12.0, 2.0], [1.0, 2.0, 1.0]]) / 8.0,  # texture NCA's
    "average": torch.full((3, 3), 1.0 / 9.0),
}
PADDING_MODES = ("zeros", "circular")


def pad(x: torch.Tensor, padding: str) -> torch.Tensor:
    """Pad one cell on each side: zeros at the border, or wrap around (a torus)."""
    if padding == "circular":
        return F.pad(x, (1, 1, 1, 1), mode="circular")
    if padding == "zeros":
        return F.pad(x, (1, 1, 1, 1))
    raise ValueError(f"padding must be one of {PADDING_MODES}, got {padding!r}")


def filter_bank(names: list[str] | tuple[str, ...], angle: float = 0.0) -> torch.Tensor:
    """Stack named 3x3 filters into (F, 3, 3); ``angle`` rotates the sobel pair.

    With angle a the gradient pair becomes (cos a*sx - sin a*sy, sin a*sx + cos a*sy).
    """
    unknown = [n for n in names if n not in FILTERS]
    if unknown:
        raise ValueError(f"unknown perception filter(s) {unknown}; known: {sorted(FILTERS)}")
    c, s = math.cos(angle), math.sin(angle)
    sx, sy = FILTERS["sobel_x"], FILTERS["sobel_y"]
    rotated = {"sobel_x": c * sx - s * sy, "sobel_y": s * sx + c * sy}
    return torch.stack([rotated.get(n, FILTERS[n]) for n in names])


class FixedPerception(nn.Module):
    """Depthwise 3x3 cross-correlation of every channel with a fixed filter bank.

    Output features are interleaved per channel: ``[c0_f0, c0_f1, ..., c1_f0, ...]``.
    This order is part of the checkpoint format.
    """

    def __init__(self, channels: int, filters: tuple[str, ...] = ("identity", "sobel_x", "sobel_y"),
                 angle: float = 0.0, padding: str = "zeros") -> None:
        super().__init__()
        if padding not in PADDING_MODES:
            raise ValueError(f"padding must be one of {PADDING_MODES}, got {padding!r}")
        self.channels, self.filters, self.angle, self.padding = channels, tuple(filters), angle, padding
        bank = filter_bank(self.filters, angle)  # (F, 3, 3)
        kernel = bank.repeat(channels, 1, 1).unsqueeze(1)  # (C*F, 1, 3, 3), channel-major
        self.register_buffer("kernel", kernel, persistent=False)

    @property
    def out_features(self) -> int:
        return self.channels * len(self.filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(pad(x, self.padding), self.kernel, groups=self.channels)

    def matrix(self) -> torch.Tensor:
        """This perception as a (9*C, C*F) matrix acting on a flattened 3x3 neighbourhood.

        Rows are neighbour-major (raster order), then channel; columns are this module's
        feature order. Fast paths multiply gathered neighbourhoods by it.
        """
        bank = filter_bank(self.filters, self.angle).reshape(len(self.filters), 9)
        eye = torch.eye(self.channels)
        return torch.einsum("fo,cd->ocdf", bank, eye).reshape(9 * self.channels, self.out_features)


class LearnedPerception(nn.Module):
    """A trained 3x3 convolution from all channels to ``out_features`` features, then ReLU."""

    def __init__(self, channels: int, out_features: int, padding: str = "zeros") -> None:
        super().__init__()
        if padding not in PADDING_MODES:
            raise ValueError(f"padding must be one of {PADDING_MODES}, got {padding!r}")
        self.channels, self.out_features, self.padding = channels, out_features, padding
        self.conv = nn.Conv2d(channels, out_features, 3, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(pad(x, self.padding)))
