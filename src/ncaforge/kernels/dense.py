"""Exact CPU fast path for fully alive grids (textures): one step with a hand-written backward.

Where every cell is alive (no alpha or living channel) the active-cell path saves only the cells
that do not fire, and pays for gathering 9 neighbours of each. Here a step works on a channels-last
torus: the fixed filters as stencils (one pass over the state per non-zero coefficient, for all
cells), the MLP only on the cells that fire, and a backward pass written by hand that recomputes
the perception instead of storing it and applies the flipped stencils to its gradient. Results
equal the reference up to float rounding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ncaforge.core.perception import FixedPerception, filter_bank
from ncaforge.core.rollout import Implementation, register_implementation
from ncaforge.core.update import UpdateMLP

if TYPE_CHECKING:
    from ncaforge.core.nca import NCA


def supports(nca: NCA) -> bool:
    """A torus of always-alive cells, fixed perception, one hidden layer, no noise, the plain step."""
    from ncaforge.core.nca import NCA

    u, layout = nca.update, nca.layout
    return (type(nca).step is NCA.step and isinstance(nca.perception, FixedPerception) and nca.circular
            and isinstance(u, UpdateMLP) and len(u.hidden) == 1 and layout.alpha is None
            and layout.living is None and not layout.readonly and not nca.noise)


def wrap(z: torch.Tensor) -> torch.Tensor:
    """(B, H, W, ...) -> (B, H + 2, W + 2, ...): one cell of the opposite edge on every side (a torus)."""
    zp = torch.cat([z[:, -1:], z, z[:, :1]], dim=1)
    return torch.cat([zp[:, :, -1:], zp, zp[:, :, :1]], dim=2)


def correlate(zp: torch.Tensor, kernel: list[list[float]], out: torch.Tensor) -> torch.Tensor:
    """``out`` += the 3x3 cross-correlation of a wrapped (B, H + 2, W + 2, C) state: one pass per
    non-zero coefficient (a sobel has 6, the laplacian 9), all on channels-last memory."""
    h, w = out.shape[1], out.shape[2]
    for dy in range(3):
        for dx in range(3):
            if kernel[dy][dx]:
                out.add_(zp[:, dy : dy + h, dx : dx + w], alpha=kernel[dy][dx])
    return out


class DenseStep(torch.autograd.Function):
    """One step of every fired cell: perception by stencils on all cells, the MLP on the fired ones.

    ``z + scatter(fired, relu(P(z)[fired] W1 + b1) W2 + b2)``, with P's features filter-major
    (``w1``'s rows ordered to match); saves the fired cells' features and hidden layer.
    """

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, fired: torch.Tensor, bank: list, w1: torch.Tensor,
                b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor | None) -> torch.Tensor:
        c = z.shape[3]
        features = perceive(z, bank).index_select(0, fired)
        hidden = torch.addmm(b1, features, w1).relu_()
        delta = hidden @ w2 if b2 is None else torch.addmm(b2, hidden, w2)
        ctx.save_for_backward(fired, features, w1, w2, hidden)
        ctx.bank, ctx.has_b2, ctx.shape = bank, b2 is not None, z.shape
        return z.reshape(-1, c).index_add(0, fired, delta).view(z.shape)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        fired, features, w1, w2, hidden = ctx.saved_tensors
        (b, h, w, c), filters = ctx.shape, len(ctx.bank)
        g_delta = grad.reshape(-1, c).index_select(0, fired)
        g_w2 = hidden.t() @ g_delta
        g_hidden = (g_delta @ w2.t()).mul_(hidden > 0)
        g_w1 = features.t() @ g_hidden
        g_fired = (g_hidden @ w1.t()).view(-1, filters, c).transpose(0, 1)  # (F, fired, C)
        g_planes = grad.new_zeros(filters, b * h * w, c).index_copy_(1, fired, g_fired)
        g_z = grad.contiguous().clone()
        padded = wrap(g_planes.view(filters * b, h, w, c))
        for f, kernel in enumerate(ctx.bank):  # the adjoint of a correlation: the flipped kernel
            correlate(padded[f * b : (f + 1) * b], [row[::-1] for row in kernel[::-1]], g_z)
        g_b2 = g_delta.sum(0) if ctx.has_b2 else None
        return g_z, None, None, g_w1, g_hidden.sum(0), g_w2, g_b2


def perceive(z: torch.Tensor, bank: list) -> torch.Tensor:
    """(B, H, W, C) -> (B*H*W, F*C) features, filter-major: [all of filter 0 | all of filter 1 | ...]."""
    zp = wrap(z)
    return torch.cat([correlate(zp, kernel, torch.zeros_like(z)) for kernel in bank],
                     dim=3).view(-1, z.shape[3] * len(bank))


class DenseStepper:
    """Steps of a fully alive torus model on channels-last states (a rollout Kernel)."""

    channels_last = True

    @staticmethod
    def to_internal(x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).contiguous()

    @staticmethod
    def to_bchw(z: torch.Tensor) -> torch.Tensor:
        return z.permute(0, 3, 1, 2)

    def __init__(self, nca: NCA) -> None:
        if not supports(nca):
            raise TypeError("the dense path needs a fully alive torus model: fixed perception, circular "
                            "padding, one hidden layer, no alpha, living channel or noise")
        self.nca = nca
        self.first, self.last = (m for m in nca.update.net if isinstance(m, torch.nn.Conv2d))
        p = nca.perception
        self.bank = filter_bank(p.filters, p.angle).tolist()
        # FixedPerception's features are interleaved (c * F + f); ours are filter-major (f * C + c)
        filters = len(p.filters)
        self.order = torch.tensor([c * filters + f for f in range(filters) for c in range(p.channels)])

    def alive(self, z: torch.Tensor) -> None:
        return None

    def step(self, z: torch.Tensor, fire: torch.Tensor, noise: torch.Tensor | None = None,
             adversary: Any = None, cells: torch.Tensor | None = None) -> torch.Tensor:
        """One step of every cell of a channels-last torus ``z`` with a (B, 1, H, W) fire mask."""
        fired = fire.reshape(-1).nonzero().squeeze(1)
        w1 = self.first.weight.flatten(1).t().index_select(0, self.order.to(z.device))
        return DenseStep.apply(z.contiguous(), fired, self.bank, w1, self.first.bias,
                               self.last.weight.flatten(1).t(), self.last.bias)


register_implementation(Implementation("dense", devices=("cpu",), supports=supports, make=DenseStepper))
