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


SYMMETRIC_MODES = ("laplacian", "lap_gradnorm", "steerable", "gradient")


def _per_channel(x: torch.Tensor, kernels: torch.Tensor, padding: str) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, K, H, W): every channel through each of K 3x3 kernels."""
    b, c, h, w = x.shape
    weight = kernels.to(x).unsqueeze(1).repeat(c, 1, 1, 1)  # (C*K, 1, 3, 3)
    return F.conv2d(pad(x, padding), weight, groups=c).view(b, c, len(kernels), h, w)


class SymmetricPerception(nn.Module):
    """Perception that gives a cell no compass (isotropic NCA) or its own (steerable NCA).

    Per channel, with the originals' unnormalised filters (laplacian ``[[1,2,1],[2,-12,2],[1,2,1]]``,
    sobel ``[[-1,0,1],[-2,0,2],[-1,0,1]]``):

    * ``laplacian``: ``[x, lap x]``: unchanged by rotating or mirroring the grid;
    * ``lap_gradnorm``: ``[x, lap x, |grad x|]``: the same, with the gradient's length;
    * ``steerable``: the last channel is the cell's angle a, not perceived itself; the other channels
      give ``[x, lap x, gx cos a + gy sin a, gy cos a - gx sin a]``, the gradient in the cell's frame;
    * ``gradient``: the same, in the frame of channel ``frame``'s gradient (unit length; none where
      that gradient vanishes).

    Features are grouped per kind: ``[all x | all lap | ...]`` (4C or 4(C-1) for the framed modes).
    """

    def __init__(self, channels: int, mode: str = "laplacian", padding: str = "circular",
                 frame: int = 3) -> None:
        super().__init__()
        if mode not in SYMMETRIC_MODES:
            raise ValueError(f"symmetric perception mode must be one of {SYMMETRIC_MODES}, got {mode!r}")
        if mode == "gradient" and not 0 <= frame < channels:
            raise ValueError(f"gradient frames need a channel in 0..{channels - 1}, got {frame}")
        self.channels, self.mode, self.padding, self.frame = channels, mode, padding, frame
        lap = FILTERS["laplacian"]
        sobel = FILTERS["sobel_x"] * 8.0
        self.register_buffer("lap", torch.stack([FILTERS["identity"], lap]), persistent=False)
        self.register_buffer("sobel", torch.stack([sobel, sobel.T]), persistent=False)

    @property
    def perceived(self) -> int:
        """Channels seen through the filters (all but the angle channel of steerable cells)."""
        return self.channels - 1 if self.mode == "steerable" else self.channels

    @property
    def out_features(self) -> int:
        return {"laplacian": 2, "lap_gradnorm": 3}.get(self.mode, 4) * self.perceived

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = x[:, : self.perceived]
        b, _, h, w = x.shape
        features = [_per_channel(states, self.lap, self.padding).transpose(1, 2).reshape(b, -1, h, w)]
        if self.mode == "laplacian":
            return features[0]
        grad = _per_channel(states, self.sobel, self.padding)
        gx, gy = grad[:, :, 0], grad[:, :, 1]
        if self.mode == "lap_gradnorm":
            return torch.cat([*features, torch.sqrt(gx * gx + gy * gy + 1e-12)], dim=1)
        if self.mode == "steerable":
            angle = x[:, -1:]
            c, s = torch.cos(angle), torch.sin(angle)
        else:  # the frame of one channel's gradient
            fx, fy = gx[:, self.frame : self.frame + 1], gy[:, self.frame : self.frame + 1]
            norm = torch.sqrt(fx * fx + fy * fy + 1e-12)
            c, s = fx / norm, fy / norm
        return torch.cat([*features, gx * c + gy * s, gy * c - gx * s], dim=1)
