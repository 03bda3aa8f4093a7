"""`nca eval conditional`: does the rule grow the digit it is asked for? A judge (a CNN trained on
MNIST) reads every grown pattern; then half the living cells are dropped and the judge reads again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ncaforge.core.family import Report
from ncaforge.core.nca import NCA
from ncaforge.core.progress import bar
from ncaforge.families.conditional.model import seed_states
from ncaforge.families.conditional.task import grey_of
from ncaforge.interventions.damage import drop_cells


@dataclass
class ConditionalEvaluation:
    """The options of `nca eval conditional`."""

    judge: str = field(default="mnist-judge", metadata={"model": "judge",  # replaced by the loaded model
        "help": "Zoo name or checkpoint directory of the judge (a `nca train judge` model)."})
    samples: int = field(default=100, metadata={"min": 1, "help": "Growths per class."})
    steps: int | None = field(default=None, metadata={"min": 1,
        "help": "Steps of growth [the longest rollout of training]."})
    drop: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0,
        "help": "Fraction of living cells dropped at random before the repair."})
    repair_steps: int = field(default=48, metadata={"min": 0, "help": "Steps after the drop."})
    seed: int = field(default=0, metadata={"help": "Seed of fire masks and dropped cells."})


@torch.no_grad()
def grow_and_repair(nca: NCA, label: int, options: ConditionalEvaluation, grid: tuple[int, int], steps: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``options.samples`` patterns of class ``label`` after ``steps`` of growth, and after the drop and
    repair."""
    grown = nca.rollout(seed_states(nca, nca.task, options.samples, grid, label), steps, generator)
    living = grown[:, nca.layout.alpha: nca.layout.alpha + 1] > nca.alive_threshold
    hurt = nca.layout.keep_inputs(drop_cells(grown, options.drop, living, generator), grown)
    return grown, nca.rollout(hurt, options.repair_steps, generator)


def run_evaluation(nca: NCA, options: ConditionalEvaluation, progress: bool = False,
                   json_path: str | None = None) -> Report:
    judge: Any = options.judge
    if isinstance(judge, str):
        raise ValueError(f"the judge {judge!r} must be loaded first (the CLI and ncaforge.evaluate do)")
    grid, steps = tuple(nca.task.grid), options.steps or nca.task.steps[1]
    generator = torch.Generator().manual_seed(options.seed)
    per_class: dict[str, dict[str, float]] = {}
    for label in bar(range(nca.config.classes), show=progress, desc="classes"):
        grown, repaired = grow_and_repair(nca, label, options, grid, steps, generator)
        per_class[str(label)] = {
            key: float((judge.classify(grey_of(x, nca.layout.rgb)) == label).float().mean())
            for key, x in (("judged_accuracy", grown), ("judged_accuracy_repair", repaired))}
    figures = {key: sum(c[key] for c in per_class.values()) / len(per_class)
               for key in ("judged_accuracy", "judged_accuracy_repair")}
    figures.update({"per_class": per_class, "samples_per_class": options.samples,
                    "steps": steps, "repair_steps": options.repair_steps,
                    "drop": options.drop, "seed": options.seed})
    text = "per class: " + ", ".join(f"{k} {c['judged_accuracy']:.2f}/{c['judged_accuracy_repair']:.2f}"
                                     for k, c in per_class.items()) + "  (grown/repaired)"
    return Report(figures, {k: figures[k] for k in ("judged_accuracy", "judged_accuracy_repair")}, text)
