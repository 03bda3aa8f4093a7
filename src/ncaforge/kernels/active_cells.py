"""Exact CPU fast path: update only the cells whose update can matter.

In the reference step every cell runs the MLP, but a cell's delta can only change
the result if the cell fires and lies within two cells of some alpha > threshold:
within one cell it may stay alive; at distance two it can revive a neighbour's
post-update alive test. Everywhere else the delta is masked away. This path
gathers exactly those cells' 3x3 neighbourhoods from a channels-last state through
a precomputed neighbour table and perceives with one matrix product of the 9*C
neighbourhood (the fixed filter bank's matrix, or a learned 3x3 convolution's).
Results equal the reference up to float rounding; a grown lizard on a 72x72 grid
touches about a quarter of the cells.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ncaforge.core.perception import FixedPerception, LearnedPerception
from ncaforge.core.rollout import Implementation, register_implementation
from ncaforge.core.update import UpdateMLP

if TYPE_CHECKING:
    from ncaforge.core.nca import NCA


def supports(nca: NCA) -> bool:
    """True when this model is made of parts the active-cell path knows: a fixed or learned perception,
    or one with a ``cell_features`` method ((N, 9*C) gathered neighbourhoods -> (N, F)), and UpdateMLP."""
    p = nca.perception
    known = isinstance(p, FixedPerception | LearnedPerception) or hasattr(p, "cell_features")
    return known and isinstance(nca.update, UpdateMLP)


@functools.lru_cache(maxsize=8)  # built once per grid shape: rollouts of one step at a time are common
def neighbour_table(b: int, h: int, w: int, circular: bool, device: torch.device) -> torch.Tensor:
    """(B*H*W, 9) row indices of each cell's 3x3 neighbours in a flat (B*H*W + 1, C) state.

    Neighbours are in raster order (dy, dx from -1 to 1); off-grid neighbours point to
    the extra last row, which holds zeros, unless the grid wraps around.
    """
    ys = torch.arange(h, device=device).view(1, h, 1, 1)
    xs = torch.arange(w, device=device).view(1, 1, w, 1)
    bs = torch.arange(b, device=device).view(b, 1, 1, 1)
    d = torch.tensor([-1, 0, 1], device=device)
    ny, nx = ys + d.repeat_interleave(3), xs + d.repeat(3)
    if circular:
        ny, nx = ny % h, nx % w
    idx = bs * h * w + ny * w + nx
    outside = (ny < 0) | (ny >= h) | (nx < 0) | (nx >= w)
    return torch.where(outside, b * h * w, idx).reshape(-1, 9)


def dilate(mask: torch.Tensor, circular: bool) -> torch.Tensor:
    """3x3 dilation of a (B, H, W) bool map: True where any 3x3 neighbour is True.

    Written as shifted ORs; max-pooling the float map is several times slower on CPU.
    """
    if circular:
        m = F.pad(mask.unsqueeze(1).to(torch.uint8), (1, 1, 1, 1), mode="circular").squeeze(1).bool()
    else:
        m = F.pad(mask, (1, 1, 1, 1))
    m = m[:, :-2] | m[:, 1:-1] | m[:, 2:]
    return m[:, :, :-2] | m[:, :, 1:-1] | m[:, :, 2:]


class ActiveCellStepper:
    """Runs steps of ``nca`` on channels-last states (B, H, W, C) touching only active cells
    (a :class:`ncaforge.core.rollout.Kernel`)."""

    channels_last = True

    @staticmethod
    def to_internal(x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1)

    @staticmethod
    def to_bchw(z: torch.Tensor) -> torch.Tensor:
        return z.permute(0, 3, 1, 2)

    def __init__(self, nca: NCA) -> None:
        if not supports(nca):
            raise TypeError("the active-cell path needs Fixed/LearnedPerception (or cell_features) and "
                            "UpdateMLP parts")
        self.nca = nca
        self.circular = nca.circular
        self.linears = [m for m in nca.update.net if isinstance(m, torch.nn.Conv2d)]
        self._matrix: torch.Tensor | None = None

    def _inputs(self, x: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """What :meth:`_delta` reads for the given flat cell indices of a channels-last ``x``: here their
        gathered 3x3 neighbourhoods, (N, 9*C)."""
        b, h, w, c = x.shape
        padded = F.pad(x.reshape(-1, c), (0, 0, 0, 1))  # the zero row that off-grid neighbours read
        rows = neighbour_table(b, h, w, self.circular, x.device).index_select(0, cells).reshape(-1)
        return padded.index_select(0, rows).view(-1, 9 * c)

    def _cell_delta(self, x: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """The (N, mutable channels) deltas of the given flat cell indices of a channels-last ``x``."""
        return self._delta(self._inputs(x, cells))

    def _features(self, neigh: torch.Tensor) -> torch.Tensor:
        """(N, 9*C) gathered neighbourhoods -> (N, F) perception features."""
        p = self.nca.perception
        if hasattr(p, "cell_features"):
            return p.cell_features(neigh)
        if isinstance(p, LearnedPerception):  # conv weight (F, C, 3, 3) as a (9*C, F) matrix
            m = p.conv.weight.permute(2, 3, 1, 0).reshape(-1, p.out_features)
            return torch.relu(torch.addmm(p.conv.bias, neigh, m))
        if self._matrix is None or self._matrix.device != neigh.device:
            self._matrix = p.matrix().to(neigh)
        return neigh @ self._matrix

    def _delta(self, neigh: torch.Tensor) -> torch.Tensor:
        return self.nca.update.rows(self._features(neigh))

    def alive(self, x: torch.Tensor) -> torch.Tensor | None:
        """The (B, H, W, 1) mask of a channels-last state's alive (or living) cells; None: all are."""
        layout, thr = self.nca.layout, self.nca.alive_threshold
        if layout.alpha is not None:
            return dilate(x[..., layout.alpha] > thr, self.circular).unsqueeze(-1)
        if layout.living is not None:
            return x[..., layout.living : layout.living + 1] > thr
        return None

    def step(self, x: torch.Tensor, fire: torch.Tensor, noise: torch.Tensor | None = None,
             adversary: ActiveCellStepper | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """One step of a channels-last state ``x`` with a (B, H, W) fire mask and (B, M, H, W) noise.

        With ``adversary`` and a (B, H, W) bool ``mask``, the cells of the mask update with the
        adversary's rule instead (see interventions/injection.py). Masks may also come as (B, 1, H, W).
        """
        fire = fire[:, 0] if fire.ndim == 4 else fire
        mask = mask[:, 0] if mask is not None and mask.ndim == 4 else mask
        nca, (b, h, w, c) = self.nca, x.shape
        layout, thr = nca.layout, nca.alive_threshold
        active, pre = fire.bool(), None
        if layout.living is not None:
            active = active & (x[..., layout.living] > thr)
        if layout.alpha is not None:
            pre = dilate(x[..., layout.alpha].detach() > thr, self.circular)
            active = active & dilate(pre, self.circular)
        idx = active.reshape(-1).nonzero().squeeze(1)
        if adversary is None or mask is None:
            delta = self._cell_delta(x, idx)  # every active cell fires
        else:  # each rule computes only its own cells
            theirs = mask.reshape(-1).index_select(0, idx)
            mine, theirs = (~theirs).nonzero().squeeze(1), theirs.nonzero().squeeze(1)
            delta = x.new_zeros(len(idx), len(layout.mutable))
            for rule, part in ((self, mine), (adversary, theirs)):
                delta = delta.index_copy(0, part, rule._cell_delta(x, idx.index_select(0, part)))
        if noise is not None:
            delta = delta + noise.permute(0, 2, 3, 1).reshape(-1, delta.shape[1]).index_select(0, idx)
        if layout.readonly:
            mutable = torch.tensor(layout.mutable, device=x.device)
            delta = delta.new_zeros(len(idx), c).index_copy(1, mutable, delta)
        x = x.reshape(-1, c).index_add(0, idx, delta).view(b, h, w, c)
        if pre is None:
            return x
        post = dilate(x[..., layout.alpha].detach() > thr, self.circular)
        return layout.keep_inputs(x * (pre & post).unsqueeze(-1), x, dim=-1)


register_implementation(Implementation("active", devices=("cpu",), supports=supports, make=ActiveCellStepper,
                                       interventions=True))
