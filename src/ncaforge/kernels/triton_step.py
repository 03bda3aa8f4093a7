"""Fused GPU step (Triton): perception + MLP + fire in one kernel, alive masking in a second.

The forward kernel reads each cell's 3x3 neighbourhood once, multiplies it by the
fixed filter bank already folded into the MLP's first layer (see
``FixedPerception.fold``), runs the MLP in registers and writes the fired update
with the pre-update alive test. Alive masking after the update needs the
neighbours' *new* alpha, which only exists once every cell has been written, so it
is a second, light kernel. The backward kernel recomputes the hidden layer from the
state instead of storing it, and scatters neighbourhood gradients with atomic adds;
weight gradients are then a few dense matmuls.

Needs CUDA, or ``TRITON_INTERPRET=1`` (how the tests run it on CPU). Triton is an
optional extra (``pip install ncaforge[gpu]``); nothing imports it unless this path
is chosen.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ncaforge.core.perception import FixedPerception
from ncaforge.core.update import UpdateMLP

if TYPE_CHECKING:
    from ncaforge.core.nca import NCA

BLOCK = 32  # cells per program


def available() -> bool:
    """True when Triton is installed and can run here (a CUDA GPU, or the interpreter)."""
    if importlib.util.find_spec("triton") is None:
        return False
    return torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"


def _pow2(n: int) -> bool:
    return n >= 16 and n & (n - 1) == 0


def supports(nca: NCA) -> bool:
    """Fixed perception and a one-hidden-layer MLP whose widths are powers of two (>= 16)."""
    p, u = nca.perception, nca.update
    return (isinstance(p, FixedPerception) and isinstance(u, UpdateMLP) and len(u.hidden) == 1
            and _pow2(p.channels) and _pow2(u.hidden[0]) and (nca.layout.alpha is None
                                                               or nca.alive_threshold >= 0))


def _get():
    from ncaforge.kernels import triton_kernels as k

    return k.step_fwd, k.alive_fwd, k.step_bwd


class _FusedStep(torch.autograd.Function):
    """y = (x + fire * MLP(P(x))) * alive, with the MLP's hidden layer recomputed in backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, fire: torch.Tensor, w1f: torch.Tensor,
                b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor, alpha: int, thr: float,
                circular: bool, precision: str) -> torch.Tensor:
        step_fwd, alive_fwd, _ = _get()
        bsz, c, h, w = x.shape
        n, hid = bsz * h * w, b1.shape[0]
        x = x.contiguous()
        fire = fire.to(x.dtype).contiguous()
        x1 = torch.empty_like(x)
        pre = torch.empty(n, dtype=torch.int8, device=x.device)
        grid = (-(-n // BLOCK),)
        step_fwd[grid](x, fire, w1f, b1, w2, b2, x1, pre, n, h, w, thr, C=c, HID=hid, ALPHA=alpha,
                       CIRCULAR=circular, PREC=precision, BLOCK=BLOCK)
        if alpha < 0:
            y, keep = x1, torch.ones(n, dtype=torch.int8, device=x.device)
        else:
            y, keep = torch.empty_like(x), torch.empty(n, dtype=torch.int8, device=x.device)
            alive_fwd[grid](x1, pre, y, keep, n, h, w, thr, C=c, ALPHA=alpha, CIRCULAR=circular,
                            BLOCK=BLOCK)
        ctx.save_for_backward(x, fire, keep, w1f, b1, w2)
        ctx.circular, ctx.precision = circular, precision
        return y

    @staticmethod
    def backward(ctx, gy: torch.Tensor):
        _, _, step_bwd = _get()
        x, fire, keep, w1f, b1, w2 = ctx.saved_tensors
        bsz, c, h, w = x.shape
        n, hid = bsz * h * w, b1.shape[0]
        g1 = (gy * keep.view(bsz, 1, h, w)).contiguous()
        gx = g1.clone()  # the residual path; neighbourhood gradients are added on top
        hidden = torch.empty(n, hid, dtype=x.dtype, device=x.device)
        gh = torch.empty_like(hidden)
        step_bwd[(-(-n // BLOCK),)](x, fire, g1, w1f, b1, w2, gx, hidden, gh, n, h, w, C=c, HID=hid,
                                    CIRCULAR=ctx.circular, PREC=ctx.precision, BLOCK=BLOCK)
        gd = (g1 * fire.view(bsz, 1, h, w)).permute(0, 2, 3, 1).reshape(n, c)
        xp = F.pad(x, (1, 1, 1, 1), mode="circular" if ctx.circular else "constant")
        gw1f = torch.stack([xp[:, :, dy:dy + h, dx:dx + w].permute(0, 2, 3, 1).reshape(n, c).T @ gh
                            for dy in range(3) for dx in range(3)])
        return gx, None, gw1f.reshape(9 * c, hid), gh.sum(0), gd.T @ hidden, gd.sum(0), None, None, None, None


class TritonStepper:
    """Steps of ``nca`` on (B, C, H, W) states with the fused kernels."""

    def __init__(self, nca: NCA, precision: str = "ieee") -> None:
        if not supports(nca):
            raise TypeError("the Triton path needs FixedPerception and a one-hidden-layer UpdateMLP "
                            "with power-of-two widths >= 16")
        if precision not in ("ieee", "tf32"):
            raise ValueError(f"precision must be 'ieee' or 'tf32', got {precision!r}")
        self.nca, self.precision = nca, precision
        self.first, self.last = (m for m in nca.update.net if isinstance(m, torch.nn.Conv2d))

    def step(self, x: torch.Tensor, fire: torch.Tensor) -> torch.Tensor:
        """One step of ``x`` with a (B, H, W) fire mask."""
        nca, hid = self.nca, self.first.out_channels
        w1f = nca.perception.fold(self.first.weight.flatten(1)).reshape(-1, hid).contiguous()
        b2 = self.last.bias if self.last.bias is not None else torch.zeros_like(self.last.weight[:, 0, 0, 0])
        alpha = -1 if nca.layout.alpha is None else nca.layout.alpha
        return _FusedStep.apply(x, fire, w1f, self.first.bias, self.last.weight.flatten(1).contiguous(), b2,
                                alpha, float(nca.alive_threshold), nca.circular, self.precision)
