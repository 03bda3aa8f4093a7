"""Losses shared by objectives, evaluations and analyses."""

from __future__ import annotations

import torch


def rgba_mse(x: torch.Tensor, target: torch.Tensor, rgba: list[int]) -> torch.Tensor:
    """Per-sample mean squared error between the RGBA channels of ``x`` and ``target``."""
    return (x[:, rgba] - target).pow(2).mean(dim=(1, 2, 3))
