"""The fused CPU path: its C++ kernels against torch, and whole rollouts against the reference."""

import dataclasses
import sys

import pytest
import torch

from conftest import CPU_PATHS, random_growing
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FixedPerception, filter_bank
from ncaforge.families.texture.model import build_texture
from ncaforge.kernels import fused_cells

pytestmark = pytest.mark.skipif("fused" not in CPU_PATHS,
                                reason="no C++ compiler or ninja to build the fused path")


@pytest.mark.parametrize(("channels", "filters", "padding"), [
    (12, ("identity", "sobel_x", "sobel_y", "laplacian_8"), "circular"),  # a fixed-size instantiation
    (5, ("identity", "sobel_x", "sobel_y"), "zeros"),  # the generic channel count
    (16, ("average",), "circular"),
])
def test_perception_and_its_adjoint_equal_torch(channels, filters, padding):
    ext = fused_cells.extension()
    p = FixedPerception(channels, filters, padding=padding).double()
    x = torch.randn(2, channels, 7, 9, dtype=torch.float64, requires_grad=True)
    cells = (torch.rand(2 * 7 * 9) < 0.6).nonzero().squeeze(1)
    bank = filter_bank(filters).reshape(len(filters), 9).double()
    interleaved = p(x).permute(0, 2, 3, 1).reshape(-1, channels, len(filters))[cells]
    expected = interleaved.transpose(1, 2).reshape(len(cells), -1)  # the kernels' order: filter-major
    got = ext.perceive(x.detach().permute(0, 2, 3, 1).contiguous(), cells, bank, padding == "circular")
    assert torch.allclose(got, expected, atol=1e-12)
    g = torch.randn_like(got)
    (gx,) = torch.autograd.grad(expected, x, g)
    back = ext.perceive_backward(g, cells, bank, padding == "circular", 2, 7, 9)
    assert torch.allclose(back, gx.permute(0, 2, 3, 1), atol=1e-12)


@pytest.mark.parametrize("hidden", [96, 40])  # a whole register block and a partial one
def test_the_relu_linear_backward_equals_torch(hidden):
    gd, w = torch.randn(1100, 12, dtype=torch.float64), torch.randn(12, hidden, dtype=torch.float64)
    h = torch.randn(1100, hidden, dtype=torch.float64).relu()
    g_hidden, g_bias = fused_cells.extension().relu_linear_backward(gd, w, h)
    expected = (gd @ w) * (h > 0)
    assert torch.allclose(g_hidden, expected, atol=1e-12)
    assert torch.allclose(g_bias, expected.sum(0), atol=1e-10)


def _texture(scale: float = 0.05) -> NCA:
    nca = build_texture().double()
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, scale)
    return nca


@pytest.mark.parametrize("make", [_texture, lambda: random_growing(scale=0.1).double()],
                         ids=["texture-torus", "growing"])
def test_rollouts_and_gradients_equal_the_reference(make):
    nca = make()
    x = (torch.rand(2, nca.layout.channels, 10, 13, dtype=torch.float64) - 0.3).requires_grad_()
    w = torch.randn(2, nca.layout.channels, 10, 13, dtype=torch.float64)
    results = []
    for impl in ("reference", "fused"):
        y = nca.rollout(x, 6, torch.Generator().manual_seed(2), impl=impl)
        results.append((y, torch.autograd.grad((y * w).sum(), [x, *nca.parameters()])))
    (ya, ga), (yb, gb) = results
    assert torch.allclose(ya, yb, atol=1e-12)
    assert ya.ne(x).any()  # the rule did something
    for a, b in zip(ga, gb, strict=True):
        assert torch.allclose(a, b, atol=1e-10)


def test_deeper_mlps_fuse_only_the_perception():
    from ncaforge.families.growing.model import GrowingConfig, build_growing

    nca = build_growing(GrowingConfig(channels=8, hidden=16))
    nca.update = type(nca.update)(nca.update.in_features, 8, hidden=(16, 16))
    with torch.no_grad():
        for p in nca.update.parameters():
            p.normal_(0, 0.1)
    x = nca.seed(1, 9, 9)
    x[:, 3:] = torch.rand(1, 5, 9, 9)
    ys = [nca.rollout(x, 4, torch.Generator().manual_seed(0), impl=impl) for impl in ("reference", "fused")]
    assert torch.allclose(*ys, atol=1e-6)


def test_auto_picks_the_fused_path_for_fixed_perception_on_cpu(monkeypatch):
    assert build_texture().resolve_impl("auto", "cpu") == "fused"
    assert random_growing().resolve_impl("auto", "cpu") == "fused"
    too_many = random_growing()
    too_many.perception = FixedPerception(16, ("identity",) * 7)
    assert not fused_cells.supports(too_many)
    from ncaforge.core import rollout

    unbuildable = dataclasses.replace(rollout.IMPLEMENTATIONS["fused"], available=lambda: False)
    monkeypatch.setitem(rollout.IMPLEMENTATIONS, "fused", unbuildable)  # where nothing can be compiled
    assert build_texture().resolve_impl("auto", "cpu") == "active"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_training_keeps_freed_memory_for_reuse():
    from ncaforge.core.memory import keep_freed_memory

    assert keep_freed_memory()  # glibc accepted both thresholds
