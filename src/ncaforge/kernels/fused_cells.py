"""The active-cell path with the perception and the MLP's backward fused in C++ (CPU).

The active-cell path perceives by gathering each active cell's 9 neighbours (9*C values) and
multiplying by the filter bank's matrix; its backward scatters 9*C gradients per cell back with
index_add, and autograd runs the MLP's small products and ReLU as separate passes. Here a small
C++ extension (fused_perception.cpp, compiled once per machine with torch's cpp_extension, for
this CPU: -march=native) computes the chosen cells' features straight from the channels-last
state; backwards, each cell gathers its gradient from the neighbours that read it (no scatter),
and the ReLU, the 12-wide product and the hidden bias's gradient are one pass. The big products
stay with torch (MKL). Which cells update, interventions and masks are the active-cell path's.
Where no C++ compiler or ninja is found, "auto" keeps to the active-cell path.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import torch
from torch.autograd.function import once_differentiable

from ncaforge.core.perception import FixedPerception, filter_bank
from ncaforge.core.rollout import Implementation, register_implementation
from ncaforge.kernels import active_cells
from ncaforge.kernels.compiled import compiled

if TYPE_CHECKING:
    from ncaforge.core.nca import NCA

SOURCE = Path(__file__).with_name("fused_perception.cpp")
MAX_FILTERS = 6  # the C++ kernels are instantiated for banks of 1..6 filters


def extension() -> ModuleType | None:
    """The compiled extension, or None where it cannot be built: then this path is unavailable and
    "auto" picks the next one."""
    return compiled("ncaforge_fused_perception", SOURCE, "the fused CPU perception", openmp=True)


def available() -> bool:
    return extension() is not None


def supports(nca: NCA) -> bool:
    """A model the active-cell path runs whose perception is a fixed bank of at most six filters."""
    p = nca.perception
    return (active_cells.supports(nca) and isinstance(p, FixedPerception)
            and len(p.filters) <= MAX_FILTERS)


class FusedPerception(torch.autograd.Function):
    """(B, H, W, C) state, (N,) flat cell indices -> (N, F*C) features, filter-major ([all of filter 0 |
    all of filter 1 | ...]: the C++ loops run over contiguous channels)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, cells: torch.Tensor, bank: torch.Tensor,
                circular: bool) -> torch.Tensor:
        ctx.save_for_backward(cells, bank)
        ctx.circular, ctx.grid = circular, x.shape[:3]
        return extension().perceive(x, cells, bank, circular)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        cells, bank = ctx.saved_tensors
        return extension().perceive_backward(grad, cells, bank, ctx.circular, *ctx.grid), None, None, None


class FusedDelta(torch.autograd.Function):
    """The deltas of chosen cells under a one-hidden-layer MLP, ``relu(P(x) W1^T + b1) W2^T + b2``, with
    the perception P in C++ (``w1``'s columns filter-major to match) and a backward written out: in
    place where autograd would allocate, the ReLU and the hidden bias's gradient folded into one pass."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, cells: torch.Tensor, bank: torch.Tensor, circular: bool,
                w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor | None
                ) -> torch.Tensor:
        ext = extension()
        features = ext.perceive(x, cells, bank, circular)
        hidden = features @ w1.t()
        delta = ext.bias_relu_linear(hidden, b1, w2, b2)  # hidden becomes relu(hidden + b1), in place
        ctx.save_for_backward(cells, bank, features, hidden, w1, w2)
        ctx.circular, ctx.grid, ctx.has_b2 = circular, x.shape[:3], b2 is not None
        return delta

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        ext = extension()
        cells, bank, features, hidden, w1, w2 = ctx.saved_tensors
        grad = grad.contiguous()
        g_hidden, g_b1 = ext.relu_linear_backward(grad, w2, hidden)
        g_x = ext.perceive_backward(g_hidden @ w1, cells, bank, ctx.circular, *ctx.grid)
        g_b2 = grad.sum(0) if ctx.has_b2 else None
        return g_x, None, None, None, g_hidden.t() @ features, g_b1, grad.t() @ hidden, g_b2


class FusedCellStepper(active_cells.ActiveCellStepper):
    """The active-cell stepper whose perception (and one-hidden-layer MLP) run fused (a rollout Kernel)."""

    def __init__(self, nca: NCA) -> None:
        if not supports(nca):
            raise TypeError(f"the fused path needs a fixed perception of at most {MAX_FILTERS} filters and "
                            "an UpdateMLP")
        super().__init__(nca)
        p = nca.perception
        filters, channels = len(p.filters), p.channels
        self.bank = filter_bank(p.filters, p.angle).reshape(filters, 9)
        # FixedPerception's features are interleaved (ch * F + j); the C++ ones filter-major (j * C + ch)
        self.order = torch.tensor([ch * filters + j for j in range(filters) for ch in range(channels)])
        self.interleave = torch.argsort(self.order)

    def _inputs(self, x: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """The perception features of the given cells, (N, C*F), in FixedPerception's order."""
        features = FusedPerception.apply(x, cells, self.bank.to(x.dtype), self.circular)
        return features.index_select(1, self.interleave.to(x.device))

    def _features(self, features: torch.Tensor) -> torch.Tensor:
        return features

    def _cell_delta(self, x: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        if len(self.linears) != 2:  # deeper MLPs: only the perception is fused
            return super()._cell_delta(x, cells)
        first, last = self.linears
        w1 = first.weight.flatten(1).index_select(1, self.order.to(x.device))
        return FusedDelta.apply(x, cells, self.bank.to(x.dtype), self.circular, w1, first.bias,
                                last.weight.flatten(1), last.bias)


register_implementation(Implementation("fused", devices=("cpu",), supports=supports, make=FusedCellStepper,
                                       available=available, interventions=True),
                        before="active")
