"""Reaction-diffusion: the article's shapes, pure isotropic diffusion when untrained, fixed or learned rates,
and `nca train rd` end to end on a tiny torus."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import ncaforge as nf
from ncaforge.cli import main
from ncaforge.families.reaction_diffusion.model import (
    ReactionDiffusionConfig,
    build_reaction_diffusion,
    initial_rates,
)


def test_the_articles_shapes():
    model = build_reaction_diffusion()
    net = model.update.reaction.net
    assert (net[0].in_channels, net[0].out_channels, net[2].out_channels) == (32, 128, 32)
    assert net[2].bias is None and model.fire_rate == 1.0
    assert torch.allclose(model.update.rates(), initial_rates(32))
    assert initial_rates(32)[0] == pytest.approx(0.01) and initial_rates(32)[-1] == pytest.approx(0.25)


def test_untrained_it_only_diffuses_each_channel_at_its_rate():
    model = build_reaction_diffusion(ReactionDiffusionConfig(channels=4, hidden=8))
    x = torch.zeros(1, 4, 7, 7)
    x[0, :, 3, 3] = 1.0
    y = model.rollout(x, 1)
    rates = initial_rates(4)
    assert torch.allclose(y[0, :, 3, 3], 1 - rates * 12 / 16)
    assert torch.allclose(y[0, :, 2, 3], rates * 2 / 16) and torch.allclose(y[0, :, 2, 2], rates / 16)
    assert torch.allclose(y.sum(dim=(2, 3)), x.sum(dim=(2, 3)))  # diffusion conserves mass on the torus
    far = model.rollout(x, 400)
    assert torch.allclose(far[0, 3], torch.full((7, 7), 1 / 49), atol=1e-3)  # the fastest flattens out
    assert torch.equal(model.rollout(x.roll(2, 3), 3), model.rollout(x, 3).roll(2, 3))


def test_rates_are_learned_or_fixed():
    learned = build_reaction_diffusion(ReactionDiffusionConfig(channels=4, hidden=8))
    fixed = build_reaction_diffusion(ReactionDiffusionConfig(channels=4, hidden=8, diffusion="fixed"))
    assert "update.rate_logits" in dict(learned.named_parameters())
    assert "update.rate_logits" not in dict(fixed.named_parameters())
    x = torch.rand(1, 4, 8, 8)
    learned.rollout(x, 2).square().mean().backward()
    assert learned.update.rate_logits.grad.abs().sum() > 0


@pytest.mark.slow
def test_nca_train_rd_learns_and_evaluates(tmp_path):
    run = tmp_path / "run"
    args = ["train", "rd", "--target", "gravel", "--channels", "8", "--hidden", "16", "--exemplar-size", "40",
            "--levels", "2", "--size", "16", "--pool", "8", "--steps", "8", "12", "--iterations", "30",
            "--lr", "1e-2", "--checkpoint-every", "15", "--threads", "1", "--out", str(run)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    losses = [float(line.split('"loss": ')[1].split(",")[0]) for line in (run / "metrics.jsonl").open()
              if '"loss"' in line]
    assert sum(losses[-5:]) < sum(losses[:5])
    model = nf.load(run / "checkpoint")
    assert type(model.config) is ReactionDiffusionConfig and model.task.target == "gravel"
    result = CliRunner().invoke(main, ["eval", "rd", "--model", str(run / "checkpoint"), "--size", "16",
                                       "--samples", "1", "--steps", "4", "--until", "8", "--every", "4",
                                       "--regen-steps", "2"])
    assert result.exit_code == 0, result.output
    assert "swd_baseline_other" in result.output
