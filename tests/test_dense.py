"""The dense CPU path for fully alive tori equals the reference: states, gradients, checkpointed runs;
it takes only the models it can run."""

from __future__ import annotations

import pytest
import torch

from conftest import random_growing
from ncaforge.families.texture.model import TextureConfig, build_texture
from ncaforge.kernels.dense import supports


def random_model(**config) -> torch.nn.Module:
    model = build_texture(TextureConfig(**config))
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.update.parameters():
            p.normal_(0.0, 0.1)
    return model


def run(model, x, impl, **options):
    model.zero_grad()
    x = x.clone().requires_grad_(True)
    y = model.rollout(x, 6, torch.Generator().manual_seed(0), impl=impl, **options)
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    return y.detach(), [x.grad, *(p.grad.clone() for p in model.update.parameters())]


SMALL = {"filters": ("identity", "laplacian_8"), "hidden": 16, "channels": 5}


@pytest.mark.parametrize("config", [{}, SMALL])
def test_dense_equals_the_reference_with_gradients(config):
    model = random_model(**config)
    x = torch.rand(2, model.layout.channels, 9, 14) - 0.5
    want, want_grads = run(model, x, "reference")
    for options in ({}, {"checkpoint_every": 2}):
        got, got_grads = run(model, x, "dense", **options)
        assert torch.allclose(got, want, atol=1e-5)
        for g, w in zip(got_grads, want_grads, strict=True):
            assert torch.allclose(g, w, atol=1e-4, rtol=1e-4)
    assert not torch.equal(want, x)


def test_dense_takes_only_fully_alive_tori():
    assert supports(random_model())
    assert not supports(random_model(quantize=True))  # 8-bit states: its own step
    assert not supports(random_growing())  # alive masking
    zero_padded = random_model()
    zero_padded.perception.padding = "zeros"
    assert not supports(zero_padded)
