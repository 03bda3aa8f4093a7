"""The fused Triton step against the reference, run by Triton's interpreter on CPU."""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before Triton compiles anything

import pytest
import torch

from conftest import random_growing
from ncaforge.core.layout import Layout
from ncaforge.kernels import triton_step

pytestmark = pytest.mark.skipif(not triton_step.available(),
                                reason="Triton is not installed (pip install ncaforge[gpu])")


def _rollouts(nca, x, steps):
    out = {}
    for impl in ("reference", "triton"):
        nca.zero_grad()
        xi = x.clone().requires_grad_(True)
        y = nca.rollout(xi, steps, torch.Generator().manual_seed(1), impl=impl)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        out[impl] = (y.detach(), [xi.grad] + [p.grad.clone() for p in nca.parameters()])
    return out.values()


@pytest.mark.parametrize("padding", ["zeros", "circular"])
def test_fused_step_equals_the_reference_forward_and_backward(padding):
    nca = random_growing(hidden=16, scale=0.2)
    nca.perception.padding = padding
    x = torch.zeros(2, 16, 7, 9)
    x[:, :, 1:6, 2:7] = torch.rand(2, 16, 5, 5)
    (ya, ga), (yb, gb) = _rollouts(nca, x, 2)
    assert (ya != x).any() and (ya == 0).any()  # the rule acts and the alive mask clears cells
    assert torch.allclose(ya, yb, atol=1e-5)
    for a, b in zip(ga, gb, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_fused_step_without_alpha_updates_every_cell():
    nca = random_growing(hidden=16, scale=0.2)
    nca.layout = Layout(16, rgb=None, alpha=None)
    x = torch.rand(1, 16, 6, 6)
    (ya, ga), (yb, gb) = _rollouts(nca, x, 2)
    assert torch.allclose(ya, yb, atol=1e-5)
    for a, b in zip(ga, gb, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_unsupported_models_are_refused_by_name():
    nca = random_growing(channels=12, hidden=16)
    assert not triton_step.supports(nca)
    with pytest.raises(TypeError, match="power-of-two"):
        triton_step.TritonStepper(nca)
