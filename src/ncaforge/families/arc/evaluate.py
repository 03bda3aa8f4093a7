"""How an ARC NCA does on its task: the test inputs run ``predict_steps`` steps, their colours read."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ncaforge.core.family import Report
from ncaforge.core.nca import NCA
from ncaforge.data.arc import ArcTask, find_task, one_hot
from ncaforge.families.arc.model import colours


@dataclass
class ArcEvaluation:
    """The options of `nca eval arc`."""

    seed: int = field(default=0, metadata={"help": "Seed of the fire masks of the test runs."})


def predict(nca: NCA, grid: np.ndarray, steps: int, seed: int = 0) -> np.ndarray:
    """The output grid the NCA makes of an input grid in ``steps`` steps."""
    x = one_hot(grid, nca.layout.channels)[None].to(next(nca.parameters()).device)
    with torch.no_grad():
        y = nca(x, steps, torch.Generator().manual_seed(seed))
    return colours(y)[0].cpu().numpy()


def score(nca: NCA, task: ArcTask, steps: int, seed: int = 0) -> dict:
    """``solved`` (every test output exact), ``pixel_accuracy`` (mean share of test cells right) and the
    same on the training pairs."""
    figures = {}
    for name, pairs in (("test", task.test), ("train", task.train)):
        right = [predict(nca, i, steps, seed) == o for i, o in pairs]
        figures[f"{name}_exact"] = [bool(r.all()) for r in right]
        figures[f"{name}_pixel_accuracy"] = float(np.mean([r.mean() for r in right]))
    figures["solved"] = all(figures["test_exact"])
    figures["pixel_accuracy"] = figures["test_pixel_accuracy"]
    return figures


def run_evaluation(nca: NCA, options: ArcEvaluation, progress: bool = False, json_path: str | None = None
                   ) -> Report:
    """`nca eval arc`: the model's own task (the command writes ``json_path``)."""
    task = find_task(nca.task.task, nca.task.version)
    figures = {"task": task.id, **score(nca, task, nca.task.predict_steps, options.seed)}
    shown = {k: float(v) for k, v in figures.items() if isinstance(v, float | bool)}
    return Report(figures, shown)
