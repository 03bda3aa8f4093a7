"""Plots written as PNG files with matplotlib (no display needed)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def plot_loss(iterations: list[int], losses: list[float], path: str | Path,
              title: str = "training loss") -> Path:
    """Loss against iteration on a log scale."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(iterations, losses, lw=0.6, alpha=0.5, label="loss")
    if len(losses) >= 20:
        k = max(len(losses) // 50, 5)
        smooth = [sum(losses[max(0, i - k):i + 1]) / len(losses[max(0, i - k):i + 1])
                  for i in range(len(losses))]
        ax.plot(iterations, smooth, lw=1.5, label=f"running mean ({k})")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_curves(curves: dict[str, tuple[list[float], list[float]]], path: str | Path,
                xlabel: str, ylabel: str, title: str = "", log: bool = True) -> Path:
    """Several named (x, y) curves on one axis."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, (xs, ys) in curves.items():
        ax.plot(xs, ys, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)
