"""muNCA: the parameter counts of the original (68 and 588), its groupwise perception on a torus, its
synchronous one-layer update, and a tiny texture run through `nca train munca` and `nca grow`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import ncaforge as nf
from ncaforge.cli import main
from ncaforge.core.errors import ConfigError
from ncaforge.families.munca.model import MuNCAConfig, build_munca, default_filters


@pytest.mark.parametrize(("channels", "count"), [(4, 68), (12, 588)])
def test_the_original_parameter_counts(channels, count):
    model = build_munca(MuNCAConfig(channels=channels))
    assert sum(p.numel() for p in model.parameters()) == count


def test_default_filters_are_the_originals():
    assert default_filters(4) == ("laplacian_8", "laplacian_8", "sobel_x", "sobel_y")
    assert default_filters(12) == ("laplacian_8",) * 4 + ("sobel_x",) * 4 + ("sobel_y",) * 4
    with pytest.raises(ValueError, match="3 filters for 4 channels"):
        build_munca(MuNCAConfig(channels=4, filters=("laplacian", "sobel_x", "sobel_y")))
    with pytest.raises(ConfigError, match="not one of"):
        MuNCAConfig(channels=4, filters=("identity",) * 4)


def test_each_channel_sees_its_own_filter_on_a_torus():
    model = build_munca(MuNCAConfig(channels=4))
    x = torch.zeros(1, 4, 5, 5)
    x[0, 0, 0, 0] = 1.0  # a corner cell of the laplacian channel
    x[0, 2, 2, 2] = 1.0  # the centre of the sobel_x channel
    y = model.perception(x)
    assert y.shape == (1, 16, 5, 5)
    lap, sx = y[0, 4], y[0, 6]  # f(x) of channels 0 and 2
    assert lap[0, 0] == -12 / 8 and lap[4, 4] == 1 / 8 and lap[0, 4] == 2 / 8  # across the wrapped edges
    assert sx[2, 1] == pytest.approx(2 / 8) and sx[2, 3] == pytest.approx(-2 / 8) and sx[1, 1] == 1 / 8
    assert torch.equal(y[0, 8:], y[0, :8].abs()) and torch.equal(y[0, :4], x[0])


def test_every_cell_updates_every_step_by_one_layer():
    model = build_munca(MuNCAConfig(channels=4))
    torch.nn.init.normal_(model.update.net[0].weight, std=0.1)
    torch.nn.init.normal_(model.update.net[0].bias, std=0.1)
    x = torch.rand(2, 4, 6, 6) - 0.5
    layer = model.update.net[0]
    expected = x + torch.nn.functional.conv2d(model.perception(x), layer.weight, layer.bias)
    assert torch.allclose(model.rollout(x, 1, torch.Generator().manual_seed(0)), expected, atol=1e-6)


@pytest.mark.slow
def test_a_tiny_texture_run_learns_saves_and_grows_at_any_size(tmp_path):
    stripes = np.zeros((32, 32, 3), np.uint8)
    on = ((np.arange(32) // 4) % 2).astype(bool)
    stripes[:, on], stripes[:, ~on] = (220, 40, 40), (30, 30, 200)
    Image.fromarray(stripes).save(tmp_path / "stripes.png")
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "munca", "--target", str(tmp_path / "stripes.png"),
                                       "--channels", "4", "--exemplar-size", "32", "--holdout", "0",
                                       "--size", "16",
                                       "--pool", "8", "--steps", "8", "16", "--iterations", "100",
                                       "--checkpoint-every", "50", "--out", str(run)])
    assert result.exit_code == 0, result.output
    losses = [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) / 2, (losses[:10], losses[-10:])  # 0.24 -> 0.08
    model = nf.load(run / "checkpoint")
    assert model.task.grid == (16, 16) and model.task.target.endswith("stripes.png")
    result = CliRunner().invoke(main, ["grow", "--model", str(run / "checkpoint"), "--size", "24", "40",
                                       "--steps", "20", "--out", str(tmp_path / "grow")])
    assert result.exit_code == 0, result.output
    states = np.load(tmp_path / "grow" / "states.npz")
    assert states["final"].shape == (1, 4, 24, 40) and np.isfinite(states["final"]).all()
