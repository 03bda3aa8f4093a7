"""Plots written as PNG files with matplotlib (no display needed)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np

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


def plot_agreement(per_digit_accuracy, agreement, path: str | Path, mutation_step: int | None = None,
                   title: str = "self-classification") -> Path:
    """Cell accuracy (mean and 10-90% spread over digits) and total agreement against step."""
    import numpy as np

    acc = np.asarray(per_digit_accuracy)
    steps = np.arange(acc.shape[0])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    lo, hi = np.percentile(acc, [10, 90], axis=1)
    ax.fill_between(steps, lo, hi, alpha=0.2, label="cell accuracy, 10-90% of digits")
    ax.plot(steps, acc.mean(1), label="cell accuracy, mean over digits")
    ax.plot(steps, agreement, label="total agreement")
    if mutation_step is not None:
        ax.axvline(mutation_step, color="grey", ls="--", lw=1, label="mutation")
    ax.set_ylim(0, 1)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_confusion(matrix, path: str | Path, title: str = "label vs majority vote of the cells") -> Path:
    """A confusion matrix with counts in the cells."""
    import numpy as np

    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(m, cmap="Blues")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]))
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_phases(steps: list[int], curves: dict[str, list[float]], boundaries: list[int], path: str | Path,
                ylabel: str = "RGBA MSE", log: bool = True) -> Path:
    """Curves against step with the phase boundaries of a schedule (attack on / off) marked."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, values in curves.items():
        dashed = name.startswith("host")
        ax.plot(steps, values, lw=1.5, label=name.replace("_", " "), ls="--" if dashed else "-")
    for b in boundaries:
        ax.axvline(b, color="k", lw=0.8, alpha=0.5)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_perturbation(matrix: np.ndarray, values: np.ndarray, vectors: np.ndarray, path: str | Path) -> Path:
    """A perturbation matrix beside its eigenvalues and eigenvectors (columns)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1, 0.8, 1]})
    lim = float(np.abs(matrix).max())
    im = axes[0].imshow(matrix, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[0].set_title("A (rows: input channel)")
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    axes[1].bar(range(len(values)), values)
    axes[1].axhline(1.0, color="k", lw=0.8)
    axes[1].set_title("eigenvalues (1: untouched)")
    lim = float(np.abs(vectors).max())
    axes[2].imshow(vectors, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title("eigenvectors (columns)")
    axes[2].set_xlabel("eigenvalue index")
    axes[2].set_ylabel("channel")
    return _save(fig, path)
