"""The texture NCA (Niklasson et al. 2021): 12 channels on a torus, [id, sx, sy, lap] per channel,
96 hidden, half the cells fire each step, every cell alive; optionally 8-bit fake quantisation.

With ``quantize`` the weights, the hidden activations and the state pass through 8 bits as in the
authors' WebGL demo (hidden in [0, 2], state in about [-2, 2]), with straight-through gradients,
so that a model trained here runs the same in 8-bit textures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FILTERS, FixedPerception
from ncaforge.core.update import UpdateMLP

HIDDEN_SCALE_ZERO = (2.0, 0.0)  # 8-bit hidden activations: (q - zero) * scale
STATE_SCALE_ZERO = (4.0, 127.0 / 255.0)  # 8-bit states


def fake_quantize(v: torch.Tensor, scale: float | torch.Tensor, zero: float) -> torch.Tensor:
    """``v`` rounded to the 256 levels ``(q/255 - zero) * scale``; gradients pass straight through."""
    q = ((v / scale + zero).clamp(0.0, 1.0) * 255.0).round() / 255.0
    return v + ((q - zero) * scale - v).detach()


def quantize_weight(w: torch.Tensor) -> torch.Tensor:
    """A weight tensor on 256 levels of step 2 max|w| / 255 centred at 127/255, as the demo stores it."""
    scale = 2.0 * w.detach().abs().max().clamp_min(1e-8)
    return fake_quantize(w, scale, 127.0 / 255.0)


@dataclass
class TextureConfig(Config):
    """Every hyperparameter of a texture NCA; stored in a checkpoint's config.json."""

    channels: int = field(default=12, metadata={"min": 4, "help": "State channels (the first three: RGB)."})
    hidden: int = field(default=96, metadata={"min": 1, "help": "Width of the update MLP."})
    filters: tuple[str, ...] = field(default=("identity", "sobel_x", "sobel_y", "laplacian_8"), metadata={
        "choices": FILTERS, "nonempty": True, "help": "Perception kernels per channel, comma-separated."})
    fire_rate: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0,
        "help": "Probability that a cell updates in a step."})
    quantize: bool = field(default=False, metadata={
        "help": "8-bit fake quantisation of weights, hidden activations and states (the WebGL demo's)."})
    quantize_weights: bool = field(default=True, metadata={
        "help": "With --quantize, also the weights on 8 bits (off for imported models: they already are)."})
    rgb_scale: float = field(default=1.0, metadata={"min": 0.0, "cli": False,
        "help": "RGB = x[:3] * rgb_scale + 0.5 (0.5 for the authors' models)."})


class QuantizedMLP(nn.Module):
    """The update MLP with its weights and hidden activations on 8 bits (``net`` as in UpdateMLP)."""

    def __init__(self, in_features: int, out_channels: int, hidden: int, weights: bool = True) -> None:
        super().__init__()
        self.net = UpdateMLP(in_features, out_channels, (hidden,), last_bias=False).net
        self.in_features, self.out_channels, self.hidden = in_features, out_channels, (hidden,)
        self.weights = weights

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        first, last = self.net[0], self.net[2]
        w1, w2 = (quantize_weight(w) if self.weights else w for w in (first.weight, last.weight))
        h = torch.relu(nn.functional.conv2d(features, w1, first.bias))
        return nn.functional.conv2d(fake_quantize(h, *HIDDEN_SCALE_ZERO), w2)


class QuantizedNCA(NCA):
    """An NCA whose state is stored on 8 bits after every step."""

    def step(self, x: torch.Tensor, fire: torch.Tensor | None = None,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
             delta: Callable | None = None) -> torch.Tensor:
        return fake_quantize(super().step(x, fire, generator, noise, delta), *STATE_SCALE_ZERO)


def build_texture(config: TextureConfig | None = None) -> NCA:
    """An untrained texture NCA (the identity map: its last layer starts at zero and has no bias)."""
    c = config or TextureConfig()
    layout = Layout(c.channels, rgb=(0, 1, 2), alpha=None)
    perception = FixedPerception(c.channels, c.filters, padding="circular")
    if c.quantize:
        update = QuantizedMLP(perception.out_features, c.channels, c.hidden, c.quantize_weights)
        nca: NCA = QuantizedNCA(layout, perception, update, c.fire_rate)
    else:
        nca = NCA(layout, perception, UpdateMLP(perception.out_features, c.channels, (c.hidden,),
                                                last_bias=False), c.fire_rate)
    nca.config = c
    return nca
