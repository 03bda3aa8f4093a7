"""Shared fixtures: small models, small targets, fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ncaforge.families.growing.model import GrowingConfig, build_growing
from ncaforge.kernels import fused_cells

# Test grids are tiny: one thread avoids threading overhead and oversubscription.
torch.set_num_threads(1)

# The CPU fast paths every agreement test checks against the reference; the fused one where its C++
# extension builds (a compiler and ninja: `make setup` builds it once).
CPU_PATHS = ("active", "fused") if fused_cells.available() else ("active",)


def assert_paths_agree(results: dict, rtol: float = 1e-4) -> None:
    """``results[impl] = (final state, gradients)``: every CPU path's equal the reference's."""
    ya, ga = results["reference"]
    for impl in CPU_PATHS:
        yb, gb = results[impl]
        assert torch.allclose(ya, yb, atol=1e-5), impl
        for a, b in zip(ga, gb, strict=True):
            assert torch.allclose(a, b, rtol=rtol, atol=1e-6), impl


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def random_growing(channels: int = 16, hidden: int = 32, scale: float = 0.05):
    """A growing model with a non-zero last layer, so steps actually change the state."""
    nca = build_growing(GrowingConfig(channels=channels, hidden=hidden))
    with torch.no_grad():
        for p in nca.update.parameters():
            p.normal_(0.0, scale)
    return nca


def bars(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of 8x8 "digits": a horizontal bar (label 0) or a vertical one (label 1)."""
    images = torch.zeros(n, 8, 8, dtype=torch.uint8)
    labels = torch.arange(n) % 2
    images[labels == 0, 4, 1:7] = 255
    images[labels == 1, 1:7, 4] = 255
    return images, labels


def train_and_resume(args: list[str], out: str, expect: str) -> None:
    """`nca train growing` on a tiny disc with ``args`` for 2 iterations into ``out`` (its output must
    mention ``expect``), then resumed to 3."""
    from click.testing import CliRunner

    from ncaforge.cli import main

    common = ["train", "growing", "--target-size", "10", "--pad", "3", "--batch", "8", "--pool", "8",
              "--damage-count", "1", "--steps", "4", "6", "--hidden", "16", *args, "--out", out]
    result = CliRunner().invoke(main, [*common, "--iterations", "2"])
    assert result.exit_code == 0 and expect in result.output, result.output
    result = CliRunner().invoke(main, [*common, "--iterations", "3", "--resume"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def disc_png(tmp_path) -> str:
    """A 16x16 RGBA PNG of a red disc on transparency."""
    yy, xx = np.mgrid[:16, :16]
    inside = (yy - 7.5) ** 2 + (xx - 7.5) ** 2 < 36
    a = np.zeros((16, 16, 4), np.uint8)
    a[inside] = (220, 40, 40, 255)
    path = tmp_path / "disc.png"
    Image.fromarray(a, "RGBA").save(path)
    return str(path)


@pytest.fixture
def small_model(tmp_path, disc_png) -> str:
    """A small growing model saved with the task commands read (target, size, pad, grid)."""
    from ncaforge.families.growing.task import GrowingTask
    from ncaforge.io import checkpoint as ckpt

    path = tmp_path / "model"
    ckpt.save(path, random_growing(hidden=16, scale=0.02), {"command": "a test"},
              GrowingTask(target=disc_png, target_size=10, pad=3, grid=(16, 16)))
    return str(path)
