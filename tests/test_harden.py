"""Hardening (`nca train growing --harden`): attacks in the training loop act on the chosen samples only,
the co-trained adversary learns to raise the host's error without touching the host's gradients, the
host learns through the attacked steps, and a resumed run goes on with the same adversary."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from conftest import random_growing, train_and_resume
from ncaforge.cli import main
from ncaforge.families.growing.harden import Hardening
from ncaforge.families.growing.objective import GrowingObjective
from ncaforge.objectives.losses import rgba_mse


@pytest.fixture
def grown() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A random growing rule, a 12x12 target and a batch of 4 states that are alive everywhere."""
    host = random_growing(hidden=16, scale=0.05)
    target = torch.zeros(4, 12, 12)
    target[:, 3:9, 3:9] = 1.0
    x = torch.zeros(4, 16, 12, 12)
    x[:, 3:, 2:10, 2:10] = 1.0
    return host, target, x


def test_hardening_names_what_it_takes(grown):
    host, target, _ = grown
    with pytest.raises(ValueError, match="inject, perturb, noise"):
        Hardening(host, target, ["nose"])


@pytest.mark.parametrize("kind", ["noise", "perturb", "inject"])
def test_an_attack_changes_where_the_attacked_samples_go(grown, kind):
    host, target, x = grown
    hardening = Hardening(host, target, [kind], count=2, steps=(3, 4))
    x[2:] = x[:2]  # samples 0, 1 and 2, 3 start alike; 2 and 3 are attacked
    y = hardening.rollout(x, slice(2, 4), 3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = host(x[:2], 3, torch.Generator().manual_seed(0))
    assert not torch.allclose(y[2:], plain, atol=1e-6)  # attacked: not where the host alone goes
    assert y.shape == x.shape


def test_the_adversary_trains_up_the_hosts_error_and_leaves_the_hosts_gradients(grown):
    host, target, x = grown
    hardening = Hardening(host, target, ["inject"], count=2, steps=(4, 5))
    before = [p.clone() for p in hardening.adversary.parameters()]
    y = hardening.rollout(x, slice(0, 2), 4, torch.Generator().manual_seed(0))
    assert all(p.grad is None for p in host.parameters())  # the adversary's step used its own gradients
    assert any(not torch.equal(a, b) for a, b in zip(before, hardening.adversary.parameters(), strict=True))
    rgba_mse(y, target, host.layout.rgba).mean().backward()  # the host learns through the attacked steps
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in host.parameters())
    assert all(p.grad is None for p in hardening.adversary.parameters())


def test_the_adversary_is_saved_with_the_run(grown):
    host, target, _ = grown

    def objective() -> GrowingObjective:
        return GrowingObjective(host, target, "regenerating", pool_size=8, batch_size=6, steps=(3, 4),
                                damage_count=1, hardening=Hardening(host, target, ["inject"], count=2))

    first = objective()
    with torch.no_grad():
        for p in first.hardening.adversary.parameters():
            p.normal_()
    second = objective()
    second.load_state_dict(first.state_dict())
    for a, b in zip(first.hardening.adversary.parameters(), second.hardening.adversary.parameters(),
                    strict=True):
        assert torch.equal(a, b)


def test_the_batch_needs_room_and_a_pool(grown):
    host, target, _ = grown
    hardening = Hardening(host, target, ["noise"], count=3)
    with pytest.raises(ValueError, match="--harden-count"):
        GrowingObjective(host, target, "regenerating", pool_size=8, batch_size=4, damage_count=1,
                         hardening=hardening)
    with pytest.raises(ValueError, match="pool mode"):
        GrowingObjective(host, target, "growing", batch_size=8, damage_count=1, hardening=hardening)


def test_nca_train_growing_hardens_and_resumes(tmp_path, disc_png):
    train_and_resume(["--target", disc_png, "--harden", "inject,perturb,noise", "--harden-steps", "2", "3"],
                     str(tmp_path / "run"), "hardened against inject/perturb/noise")
    bad = CliRunner().invoke(main, ["train", "growing", "--target", disc_png, "--harden", "chaos",
                                    "--iterations", "1", "--out", str(tmp_path / "bad")])
    assert bad.exit_code != 0 and "inject, perturb, noise" in bad.output
