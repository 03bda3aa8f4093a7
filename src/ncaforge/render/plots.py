"""Plots written as PNG files with matplotlib's object API: no display, and no pyplot, so that importing
ncaforge leaves a notebook's backend alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ncaforge.core.atomic import atomic_file


def _save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` atomically (a temporary name of this process's own)."""
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    return Path(path)


def _figure(rows: int = 1, columns: int = 1, *, figsize: tuple[float, float], layout: str | None = None,
            **grid: object) -> tuple[Figure, object]:
    """A figure and its axes, as ``pyplot.subplots`` gives them, without pyplot."""
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(rows, columns, gridspec_kw=grid or None)


LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*")


def _distinct_lines(ax: Axes, curves: list[tuple[str, object, object]], markers: int = 12) -> None:
    """Draw named (name, xs, ys) curves so that each stays visible where others coincide with it.

    Each gets its own colour, dash pattern and marker (markers staggered along x); earlier curves are
    wider and drawn beneath later, thinner ones, so equal values show as a line inside a line.
    """
    n = len(curves)
    for i, (name, xs, ys) in enumerate(curves):
        every = max(1, len(xs) // markers)
        ax.plot(xs, ys, label=name, color=f"C{i % 10}", ls=LINE_STYLES[i % len(LINE_STYLES)],
                lw=1.2 + 1.4 * (n - 1 - i) / max(1, n - 1), zorder=2 + i,
                marker=MARKERS[i % len(MARKERS)], markersize=3 + 2.5 * (n - 1 - i) / max(1, n - 1),
                markevery=(i * every // n, every))


def _legend_outside(ax: Axes) -> None:
    """The legend to the right of the axes, where it cannot cover data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8)


def plot_loss(iterations: list[int], losses: list[float], path: str | Path,
              title: str = "training loss") -> Path:
    """Loss against iteration on a log scale."""
    fig, ax = _figure(figsize=(6, 3.5))
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
    fig, ax = _figure(figsize=(6, 3.5))
    _distinct_lines(ax, [(name, xs, ys) for name, (xs, ys) in curves.items()])
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _legend_outside(ax)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_agreement(per_digit_accuracy, agreement, path: str | Path, mutation_step: int | None = None,
                   title: str = "self-classification") -> Path:
    """Cell accuracy (mean and 10-90% spread over digits) and total agreement against step."""
    import numpy as np

    acc = np.asarray(per_digit_accuracy)
    steps = np.arange(acc.shape[0])
    fig, ax = _figure(figsize=(6, 3.5))
    lo, hi = np.percentile(acc, [10, 90], axis=1)
    ax.fill_between(steps, lo, hi, alpha=0.2, color="C0", label="cell accuracy, 10-90% of digits")
    _distinct_lines(ax, [("cell accuracy, mean over digits", steps, acc.mean(1)),
                         ("total agreement", steps, agreement)])
    if mutation_step is not None:
        ax.axvline(mutation_step, color="grey", ls="--", lw=1, label="mutation")
    ax.set_ylim(0, 1)
    ax.set_xlabel("step")
    ax.set_title(title)
    _legend_outside(ax)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_confusion(matrix, path: str | Path, title: str = "label vs majority vote of the cells") -> Path:
    """A confusion matrix with counts in the cells."""
    import numpy as np

    m = np.asarray(matrix)
    fig, ax = _figure(figsize=(4.5, 4))
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
    """Curves against step with the phase boundaries of a schedule (attack on / off) marked; every curve
    stays visible where it equals another (the host's own curves often do)."""
    fig, ax = _figure(figsize=(7, 3.5))
    _distinct_lines(ax, [(name.replace("_", " "), steps, values) for name, values in curves.items()])
    for b in boundaries:
        ax.axvline(b, color="k", lw=0.8, alpha=0.5)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    _legend_outside(ax)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_perturbation(matrix: np.ndarray, values: np.ndarray, vectors: np.ndarray, path: str | Path) -> Path:
    """A perturbation matrix beside its eigenvalues and eigenvectors (columns), each matrix with its own
    colour bar; constrained layout keeps bars and tick labels off the neighbouring axes."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = _figure(1, 3, figsize=(13, 4), layout="constrained", width_ratios=[1, 0.8, 1])
    for ax, image, title in ((axes[0], matrix, "A (rows: input channel)"),
                             (axes[2], vectors, "eigenvectors (columns)")):
        lim = float(np.abs(image).max()) or 1.0
        shown = ax.imshow(image, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(title)
        fig.colorbar(shown, ax=ax, shrink=0.9)
    axes[0].set_xlabel("output channel")
    axes[0].set_ylabel("input channel")
    axes[1].bar(range(len(values)), values)
    axes[1].axhline(1.0, color="k", lw=0.8)
    axes[1].set_title("eigenvalues (1: untouched)")
    axes[1].set_xlabel("eigenvalue index")
    axes[2].set_xlabel("eigenvalue index")
    axes[2].set_ylabel("channel")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (axes[0], axes[2]):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path)


def plot_landscape(points: np.ndarray, steps: np.ndarray | None, phases: np.ndarray | None,
                   path: str | Path, title: str) -> Path:
    """Trajectories ``points`` (runs, T, 2) in two coordinates, coloured by ``steps`` and the states of
    phase "perturbed" crossed; without ``steps``, a cloud of (N, 1, 2) points."""
    fig, ax = _figure(figsize=(6.4, 5.2), layout="constrained")
    if steps is None:
        flat = points.reshape(-1, 2)
        ax.scatter(flat[:, 0], flat[:, 1], s=2, alpha=0.3, color="#1f5fa8", rasterized=True)
    else:
        for run in points:
            ax.plot(run[:, 0], run[:, 1], color="#bbbbbb", linewidth=0.6, zorder=1)
        times = np.broadcast_to(steps, points.shape[:2])
        dots = ax.scatter(points[..., 0].ravel(), points[..., 1].ravel(), c=times.ravel(), s=9,
                          cmap="viridis", zorder=2)
        fig.colorbar(dots, ax=ax, label="step")
        if phases is not None and (phases == "perturbed").any():
            cut = points[:, phases == "perturbed"].reshape(-1, 2)
            ax.scatter(cut[:, 0], cut[:, 1], marker="x", s=40, color="#b42318", zorder=3, label="just cut")
            ax.legend(loc="best", fontsize=8)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_barcode(homology: dict, path: str | Path) -> Path:
    """A persistence diagram and a barcode of H0 and H1 (``h0_pairs``, ``h1_pairs``: (birth, death))."""
    fig, (diagram, bars) = _figure(1, 2, figsize=(10, 4.2), layout="constrained")
    finite = [d for k in ("h0_pairs", "h1_pairs") for _, d in homology[k] if np.isfinite(d)]
    top = max(finite, default=1.0) * 1.1
    row = 0
    for dim, colour in ((0, "#1f5fa8"), (1, "#c2410c")):
        pairs = homology[f"h{dim}_pairs"]
        births = [b for b, _ in pairs]
        deaths = [d if np.isfinite(d) else top for _, d in pairs]
        diagram.scatter(births, deaths, s=12, color=colour, label=f"H{dim}")
        for b, d in sorted(zip(births, deaths, strict=True), key=lambda p: p[0] - p[1]):
            bars.plot([b, d], [row, row], color=colour, linewidth=1.5)
            row += 1
    diagram.plot([0, top], [0, top], color="#888888", linewidth=0.8)
    diagram.set_xlabel("birth")
    diagram.set_ylabel("death (top: never)")
    diagram.legend(loc="lower right")
    diagram.set_title("persistence diagram", fontsize=10)
    bars.set_xlabel("scale")
    bars.set_yticks([])
    bars.set_title("barcode (H0 blue, H1 orange)", fontsize=10)
    return _save(fig, path)
