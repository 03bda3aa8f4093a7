"""Adversarial cells and global perturbations: mixing, freezing, the algebra, clip and alive order."""

from __future__ import annotations

import pytest
import torch

from conftest import CPU_PATHS, assert_paths_agree, random_growing
from ncaforge.families.classifier.model import ClassifierConfig, build_classifier, digit_state
from ncaforge.interventions.injection import adversary_mask
from ncaforge.interventions.intervened import Intervened
from ncaforge.interventions.perturbation import Perturbation


def _state(b=2, h=14, w=15):
    x = torch.zeros(b, 16, h, w)
    x[:, :, 4:10, 4:11] = torch.rand(b, 16, 6, 7)
    return x


def _random_perturbation(scale=0.1, seed=1):
    m = torch.randn(16, 16, generator=torch.Generator().manual_seed(seed)) * scale
    return Perturbation.from_matrix(torch.eye(16) + (m + m.T) / 2)


@pytest.mark.parametrize("impl", ["reference", *CPU_PATHS])
def test_mask_zero_is_the_host_and_mask_one_the_adversary(impl):
    host, adversary = random_growing(scale=0.2), random_growing(scale=0.2)
    run = Intervened(host, adversary=adversary)
    x = _state()
    ones = torch.ones(2, 1, 14, 15, dtype=torch.bool)
    for mask, alone in ((~ones, host), (ones, adversary)):
        mixed = run.rollout(x, 6, torch.Generator().manual_seed(4), impl=impl, mask=mask)
        expected = alone.rollout(x, 6, torch.Generator().manual_seed(4), impl="reference")
        assert torch.allclose(mixed, expected, atol=1e-5)


def test_a_mixed_step_takes_each_cells_own_rule():
    host, adversary = random_growing(scale=0.2), random_growing(scale=0.2)
    x, fire = _state(), torch.ones(2, 1, 14, 15, dtype=torch.bool)
    mask = adversary_mask(2, 14, 15, 0.5, generator=torch.Generator().manual_seed(0))
    y = Intervened(host, adversary=adversary).step(x, fire, mask=mask)
    # before alive masking: the adversary's update where the mask is set, the host's elsewhere
    raw = torch.where(mask, x + adversary.delta(x), x + host.delta(x))
    alive = host.alive(x) & host.alive(raw)
    assert torch.allclose(y, raw * alive, atol=1e-6)
    assert 0 < mask.sum() < mask.numel()


def test_only_the_adversary_learns_and_both_paths_agree():
    grads = {}
    for impl in ("reference", *CPU_PATHS):
        torch.manual_seed(0)
        host, adversary = random_growing(scale=0.1), random_growing(scale=0.1)
        mask = adversary_mask(2, 14, 15, 0.3, generator=torch.Generator().manual_seed(2))
        run = Intervened(host, adversary=adversary)
        y = run(_state(), 8, torch.Generator().manual_seed(5), impl=impl, mask=mask)
        y[:, :4].pow(2).mean().backward()
        assert all(p.grad is None for p in host.parameters())
        grads[impl] = (y.detach(), [p.grad.clone() for p in adversary.parameters()])
        assert any(g.abs().sum() > 0 for g in grads[impl][1])
    assert_paths_agree(grads, rtol=1e-3)


def test_mixing_in_a_classifier_keeps_the_digit_read_only():
    cfg = ClassifierConfig(features=16, hidden=16)
    host, adversary = build_classifier(cfg), build_classifier(cfg)
    with torch.no_grad():
        adversary.update.net[-1].bias.fill_(0.5)
    images = torch.zeros(2, 9, 8)
    images[:, 2:7, 3:6] = 0.8
    x = digit_state(host, images)
    mask = torch.ones(2, 1, 9, 8, dtype=torch.bool)
    for impl in ("reference", "active"):
        y = Intervened(host, adversary=adversary).rollout(x, 3, torch.Generator().manual_seed(0),
                                                          impl=impl, mask=mask)
        assert torch.equal(y[:, 0], x[:, 0])
        assert y[:, 1:].abs().sum() > 0  # the adversary's bias moved the digit cells


def test_masks_respect_fraction_and_region():
    region = torch.zeros(40, 40, dtype=torch.bool)
    region[10:30, 10:30] = True
    m = adversary_mask(8, 40, 40, 0.25, region=region, generator=torch.Generator().manual_seed(0))
    assert not m[..., ~region].any()
    assert abs(m[..., region].float().mean().item() - 0.25) < 0.03
    with pytest.raises(ValueError, match="fraction"):
        adversary_mask(1, 4, 4, 1.5)


def test_perturbations_are_symmetric_and_start_at_the_identity():
    p = Perturbation.identity(16)
    assert torch.equal(p.matrix, torch.eye(16))
    with torch.no_grad():
        p.weight.copy_(torch.randn(16, 16))
    assert torch.allclose(p.matrix, p.matrix.T)
    with pytest.raises(ValueError, match="symmetric"):
        Perturbation.from_matrix(torch.eye(16) + torch.triu(torch.ones(16, 16), 1))


def test_the_algebra_of_perturbations():
    a, b = _random_perturbation(seed=1), _random_perturbation(seed=2)
    eye = torch.eye(16)
    assert torch.allclose((0 * a).matrix, eye)
    assert torch.allclose((a + b).matrix, eye + a.direction + b.direction)
    assert torch.allclose((a + b).matrix, a.matrix + b.matrix - eye)
    for k in (1.0, 0.5, -0.5, -1.0):
        assert torch.allclose((k * a).matrix, k * a.matrix + (1 - k) * eye, atol=1e-6)
    assert torch.allclose(a.interpolate(b, 0.3).matrix, 0.3 * a.matrix + 0.7 * b.matrix, atol=1e-6)
    composed = Perturbation.compose([(a, 0.5), (b, -1.0)])
    assert torch.allclose(composed.matrix, eye + 0.5 * a.direction - b.direction, atol=1e-6)
    values, vectors = a.eigh()
    assert torch.allclose(vectors @ torch.diag(values) @ vectors.T, a.matrix, atol=1e-5)


def test_clip_then_the_alive_mask_taken_before_the_product():
    host = random_growing()
    x = torch.zeros(1, 16, 9, 9)
    x[0, :, 4, 4] = 1.0  # a living cell
    x[0, 3, 0, 0] = 0.05  # a dying cell at a corner: alpha below the threshold, nobody near
    x[0, 4, 0, 0] = 0.5
    p = Perturbation.from_matrix(torch.eye(16) * 4.0)
    y = Intervened(host, perturbation=p).step(x, torch.zeros(1, 1, 9, 9, dtype=torch.bool))
    assert torch.allclose(y[0, :, 4, 4], torch.full((16,), 3.0))  # 4 clipped to 3
    assert y[0, :, 0, 0].abs().sum() == 0  # alpha 0.2 after the product, but dead before it


def test_identity_perturbation_is_the_host_and_paths_agree_with_gradients():
    host = random_growing(scale=0.1)
    x = _state()
    plain = host.rollout(x, 5, torch.Generator().manual_seed(1), impl="reference")
    same = Intervened(host, perturbation=Perturbation.identity(16)).rollout(
        x, 5, torch.Generator().manual_seed(1), impl="active")
    assert torch.allclose(plain, same, atol=1e-5)
    grads = []
    for impl in ("reference", *CPU_PATHS):
        p = _random_perturbation(scale=0.05)
        y = Intervened(host, perturbation=p)(x, 6, torch.Generator().manual_seed(2), impl=impl)
        y[:, :4].pow(2).mean().backward()
        grads.append((y.detach(), p.weight.grad.clone()))
    for y, g in grads[1:]:
        assert torch.allclose(grads[0][0], y, atol=1e-5)
        assert torch.allclose(grads[0][1], g, rtol=1e-3, atol=1e-6)
    assert torch.allclose(grads[0][1], grads[0][1].T)  # the symmetric parametrisation


def test_incompatible_interventions_are_refused():
    host = random_growing()
    with pytest.raises(ValueError, match="channels"):
        Intervened(host, perturbation=Perturbation.identity(8))
    with pytest.raises(ValueError, match="layout"):
        Intervened(host, adversary=build_classifier())
    with pytest.raises(ValueError, match="mask"):
        Intervened(host, adversary=random_growing()).step(_state(), mask=torch.ones(2, 1, 3, 3))


def test_a_perturbation_checkpoint_round_trips(tmp_path):
    from ncaforge.io import checkpoint as ckpt

    p = _random_perturbation()
    ckpt.save(tmp_path / "p", p, {"host": "lizard"})
    q = ckpt.load(tmp_path / "p", family="perturbation")
    assert isinstance(q, Perturbation) and torch.equal(q.matrix, p.matrix)
    with pytest.raises(ckpt.CheckpointError, match="perturbation"):
        ckpt.load(tmp_path / "p", family="growing")
