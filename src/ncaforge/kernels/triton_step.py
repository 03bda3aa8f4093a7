"""Fused GPU step (Triton): perception + MLP + fire in one kernel, alive masking in a second.

The forward kernel reads each cell's 3x3 neighbourhood, applies the filter bank,
runs the MLP in registers (two tl.dot products) and writes the
fired update with the pre-update alive test. Alive masking after the update needs
the neighbours' *new* alpha, which only exists once every cell has been written,
so it is a second, light kernel. The backward kernel recomputes the hidden layer
from the state instead of storing it across steps and writes per-cell gradients of
the hidden layer and the features; weight gradients are then dense matmuls and the
state's gradient the perception's transpose.

Needs CUDA, or ``TRITON_INTERPRET=1`` (how the tests run it on CPU). Triton is an
optional extra (``pip install ncaforge[gpu]``); nothing imports it unless this path
is chosen.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

import torch

from ncaforge.core.perception import FixedPerception, filter_bank
from ncaforge.core.rollout import Implementation, register_implementation
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
    """Fixed perception, a one-hidden-layer MLP with power-of-two widths (>= 16), every
    channel mutable, no living channel, no noise: the growing family."""
    p, u, layout = nca.perception, nca.update, nca.layout
    return (isinstance(p, FixedPerception) and isinstance(u, UpdateMLP) and len(u.hidden) == 1
            and _pow2(p.channels) and _pow2(u.hidden[0]) and not layout.readonly
            and layout.living is None and not nca.noise
            and (layout.alpha is None or nca.alive_threshold >= 0))


def _get():
    from ncaforge.kernels import triton_kernels as k

    return k.step_fwd, k.alive_fwd, k.step_bwd


class _FusedStep(torch.autograd.Function):
    """y = (x + fire * MLP(P(x))) * alive, with the MLP's hidden layer recomputed in backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, fire: torch.Tensor, w1: torch.Tensor,
                b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor, perception: FixedPerception,
                alpha: int, thr: float, precision: str) -> torch.Tensor:
        step_fwd, alive_fwd, _ = _get()
        bsz, c, h, w = x.shape
        n, hid = bsz * h * w, b1.shape[0]
        bank = filter_bank(perception.filters, perception.angle).reshape(-1, 9).to(x).contiguous()
        x, fire = x.contiguous(), fire.to(x.dtype).contiguous()
        circular = perception.padding == "circular"
        x1 = torch.empty_like(x)
        pre = torch.empty(n, dtype=torch.int8, device=x.device)
        grid = (_cdiv(n, BLOCK),)
        step_fwd[grid](x, fire, bank, w1, b1, w2, b2, x1, pre, n, h, w, thr, C=c, F=bank.shape[0], HID=hid,
                       ALPHA=alpha, CIRCULAR=circular, PREC=precision, BLOCK=BLOCK)
        if alpha < 0:
            y, keep = x1, torch.ones(n, dtype=torch.int8, device=x.device)
        else:
            y, keep = torch.empty_like(x), torch.empty(n, dtype=torch.int8, device=x.device)
            alive_fwd[grid](x1, pre, y, keep, n, h, w, thr, C=c, ALPHA=alpha, CIRCULAR=circular, BLOCK=BLOCK)
        ctx.save_for_backward(x, fire, keep, bank, w1, b1, w2)
        ctx.perception, ctx.precision = perception, precision
        return y

    @staticmethod
    def backward(ctx, gy: torch.Tensor):
        _, _, step_bwd = _get()
        x, fire, keep, bank, w1, b1, w2 = ctx.saved_tensors
        bsz, c, h, w = x.shape
        n, hid, nf = bsz * h * w, b1.shape[0], w1.shape[1]
        g1 = (gy * keep.view(bsz, 1, h, w)).contiguous()
        hidden = torch.empty(n, hid, dtype=x.dtype, device=x.device)
        gh = torch.empty_like(hidden)
        gfeat = torch.empty(n, nf, dtype=x.dtype, device=x.device)
        circular = ctx.perception.padding == "circular"
        step_bwd[(_cdiv(n, BLOCK),)](x, fire, g1, bank, w1, b1, w2, hidden, gh, gfeat, n, h, w, C=c,
                                           F=bank.shape[0], HID=hid, CIRCULAR=circular,
                                           PREC=ctx.precision, BLOCK=BLOCK)
        gd = (g1 * fire.view(bsz, 1, h, w)).permute(0, 2, 3, 1).reshape(n, c)
        with torch.enable_grad():  # perception is linear: its transpose carries the features' gradient
            xr = x.detach().requires_grad_(True)
            feats = ctx.perception(xr)
            (gx,) = torch.autograd.grad(feats, xr, gfeat.view(bsz, h, w, nf).permute(0, 3, 1, 2))
        feats = feats.detach().permute(0, 2, 3, 1).reshape(n, nf)
        return (g1 + gx, None, gh.T @ feats, gh.sum(0), gd.T @ hidden, gd.sum(0), None, None, None, None)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


class TritonStepper:
    """Steps of ``nca`` on (B, C, H, W) states with the fused kernels (a ``core.rollout.Kernel``)."""

    channels_last = False

    def __init__(self, nca: NCA, precision: str = "ieee") -> None:
        if not supports(nca):
            raise TypeError("the Triton path needs FixedPerception and a one-hidden-layer UpdateMLP "
                            "with power-of-two widths >= 16")
        if precision not in ("ieee", "tf32"):
            raise ValueError(f"precision must be 'ieee' or 'tf32', got {precision!r}")
        self.nca, self.precision = nca, precision
        self.first, self.last = (m for m in nca.update.net if isinstance(m, torch.nn.Conv2d))

    @staticmethod
    def to_internal(x: torch.Tensor) -> torch.Tensor:
        return x

    to_bchw = to_internal

    def alive(self, x: torch.Tensor) -> torch.Tensor | None:
        return self.nca.alive(x)

    def step(self, x: torch.Tensor, fire: torch.Tensor, noise: torch.Tensor | None = None,
             adversary: object = None, cells: torch.Tensor | None = None) -> torch.Tensor:
        """One step of ``x`` with a (B, H, W) or (B, 1, H, W) fire mask (the fused kernels take no
        noise and no adversaries: ``supports`` leaves such models to the other paths)."""
        fire = fire[:, 0] if fire.ndim == 4 else fire
        nca = self.nca
        b2 = self.last.bias if self.last.bias is not None else torch.zeros_like(self.last.weight[:, 0, 0, 0])
        alpha = -1 if nca.layout.alpha is None else nca.layout.alpha
        return _FusedStep.apply(x, fire, self.first.weight.flatten(1).contiguous(), self.first.bias,
                                self.last.weight.flatten(1).contiguous(), b2, nca.perception, alpha,
                                float(nca.alive_threshold), self.precision)


register_implementation(Implementation("triton", devices=("cuda",), supports=supports, make=TritonStepper,
                                       available=available))
