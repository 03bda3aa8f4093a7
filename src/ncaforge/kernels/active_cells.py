"""Exact CPU fast path: update only the cells whose update can matter.

In the reference step every cell runs the MLP, but a cell's delta can only change
the result if the cell fires and lies within two cells of some alpha > threshold:
within one cell it may stay alive; at distance two it can revive a neighbour's
post-update alive test. Everywhere else the delta is masked away. This path
gathers exactly those cells' 3x3 neighbourhoods from a channels-last state, runs
perception and the MLP on them alone, and scatters the deltas back. Results equal
the reference up to float rounding; a grown lizard on a 72x72 grid touches about a
quarter of the cells. Measured here, it is faster than the dense reference even
when every cell is active (no grouped convolution, no channel permutes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ncaforge.core.perception import FixedPerception, filter_bank
from ncaforge.core.update import UpdateMLP

if TYPE_CHECKING:
    from ncaforge.core.nca import NCA


def supports(nca: NCA) -> bool:
    """True when this model is made of parts the active-cell path knows."""
    return isinstance(nca.perception, FixedPerception) and isinstance(nca.update, UpdateMLP)


def _maxpool(a: torch.Tensor, size: int, circular: bool) -> torch.Tensor:
    r = size // 2
    a = a.unsqueeze(1)
    if circular:
        return F.max_pool2d(F.pad(a, (r, r, r, r), mode="circular"), size, 1).squeeze(1)
    return F.max_pool2d(a, size, 1, r).squeeze(1)


class ActiveCellStepper:
    """Runs steps of ``nca`` on channels-last states (B, H, W, C) touching only active cells."""

    def __init__(self, nca: NCA) -> None:
        if not supports(nca):
            raise TypeError("the active-cell path needs FixedPerception and UpdateMLP parts")
        self.nca = nca
        p = nca.perception
        bank = filter_bank(p.filters, p.angle).to(p.kernel.device)  # (F, 3, 3)
        self.bank = bank.reshape(len(p.filters), 9).T.contiguous()  # (9, F)
        self.circular = p.padding == "circular"
        self.linears = [m for m in nca.update.net if isinstance(m, torch.nn.Conv2d)]

    def _mlp(self, h: torch.Tensor) -> torch.Tensor:
        for k, conv in enumerate(self.linears):
            h = F.linear(h, conv.weight.flatten(1), conv.bias)
            if k < len(self.linears) - 1:
                h = torch.relu(h)
        return h

    def step(self, x: torch.Tensor, fire: torch.Tensor) -> torch.Tensor:
        """One step of a channels-last state ``x`` with a (B, H, W) fire mask."""
        nca, (b, h, w, c) = self.nca, x.shape
        alpha, thr = nca.layout.alpha, nca.alive_threshold
        if alpha is None:
            active, pre = fire.bool(), None
        else:
            a = x[..., alpha]
            pre = _maxpool(a, 3, self.circular) > thr
            active = (_maxpool(a, 5, self.circular) > thr) & fire.bool()
        idx = active.reshape(-1).nonzero().squeeze(1)
        bi, rest = idx // (h * w), idx % (h * w)
        row, col = rest // w, rest % w
        xp = F.pad(x.permute(0, 3, 1, 2), (1, 1, 1, 1), mode="circular" if self.circular else "constant")
        xp = xp.permute(0, 2, 3, 1).reshape(-1, c)
        centre = bi * (h + 2) * (w + 2) + (row + 1) * (w + 2) + (col + 1)
        offsets = torch.tensor([dy * (w + 2) + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
                               device=x.device)
        neigh = xp.index_select(0, (centre[:, None] + offsets).reshape(-1)).view(-1, 9, c)
        feats = torch.einsum("noc,of->ncf", neigh, self.bank).reshape(-1, c * self.bank.shape[1])
        delta = self._mlp(feats)  # every active cell fires
        x = x + torch.zeros(b * h * w, c, dtype=x.dtype, device=x.device).index_add(
            0, idx, delta).view(b, h, w, c)
        return self._mask(x, pre)

    def _mask(self, x: torch.Tensor, pre: torch.Tensor | None) -> torch.Tensor:
        """Clear cells that were not alive before, or are not alive after, the update."""
        if pre is None:
            return x
        post = _maxpool(x[..., self.nca.layout.alpha], 3, self.circular) > self.nca.alive_threshold
        return x * (pre & post).unsqueeze(-1)
