"""The self-classifying MNIST model: shapes, the read-only digit, living cells, fast path."""

from __future__ import annotations

import torch

from ncaforge.models.classifier import ClassifierConfig, build_classifier, digit_state, logits


def _model():
    nca = build_classifier(ClassifierConfig(features=16, hidden=16))
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, 0.1)
        nca.update.net[-1].bias.normal_(0, 0.1)
    return nca


def _digits(b=2, h=9, w=8):
    images = torch.zeros(b, h, w)
    images[:, 2:7, 3:6] = torch.rand(b, 5, 3) * 0.9 + 0.1
    return images


def test_the_original_architecture_and_channels():
    nca = build_classifier()
    assert sum(p.numel() for p in nca.parameters()) == 22_499
    assert nca.layout.mutable == list(range(1, 20))
    x = digit_state(nca, _digits())
    assert x.shape == (2, 20, 9, 8) and logits(nca, x).shape == (2, 10, 9, 8)


def test_the_digit_is_read_only_and_only_its_cells_change():
    nca = _model()
    images = _digits()
    x = digit_state(nca, images)
    y = nca.rollout(x, 6, torch.Generator().manual_seed(0))
    assert torch.equal(y[:, 0], images)
    off = (images == 0).unsqueeze(1)  # grey 0 <= 0.1: never updated
    assert torch.equal(torch.where(off, y, 0.0), torch.where(off, x, 0.0))
    assert (y[:, 1:].abs().sum(1)[~off[:, 0]] > 0).all()


def test_residual_noise_moves_an_untrained_model():
    nca = build_classifier(ClassifierConfig(features=16, hidden=16))  # zero last layer
    x = digit_state(nca, _digits())
    y = nca.rollout(x, 2, torch.Generator().manual_seed(0))
    changed = (y - x)[:, 1:].abs()
    assert 0.005 < changed[changed > 0].std() < 0.05  # N(0, 0.02) on fired digit cells


def test_active_path_equals_the_reference_with_noise_and_gradients():
    nca = _model()
    assert nca.resolve_impl("auto", "cpu") == "active"  # learned perception, living channel, noise
    x = digit_state(nca, _digits())
    results = []
    for impl in ("reference", "active"):
        nca.zero_grad()
        y = nca.rollout(x, 5, torch.Generator().manual_seed(4), impl=impl)
        logits(nca, y).pow(2).mean().backward()
        results.append((y.detach(), [p.grad.clone() for p in nca.parameters()]))
    assert torch.allclose(results[0][0], results[1][0], atol=1e-5)
    for a, b in zip(results[0][1], results[1][1], strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
