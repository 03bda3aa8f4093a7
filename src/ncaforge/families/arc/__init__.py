"""The ARC family (after Xu and Miikkulainen 2025): an NCA trained on one ARC-AGI task's training pairs
turns each test input into its output (`nca train arc --task ID`, `nca arc solve` for whole splits)."""

from __future__ import annotations

from ncaforge.core.family import Evaluation, Family, Schedule
from ncaforge.families.arc.evaluate import ArcEvaluation, run_evaluation
from ncaforge.families.arc.model import ArcConfig, build_arc
from ncaforge.families.arc.objective import make_objective
from ncaforge.families.arc.task import ArcTaskConfig

FAMILY = Family(
    name="arc",
    summary="An NCA per ARC-AGI task: one-hot colours and hidden channels, trained on the task's pairs",
    config=ArcConfig,
    build=build_arc,
    task=ArcTaskConfig,
    objective=make_objective,
    schedule=Schedule(iterations=600, lr=2e-3),
    evaluation=Evaluation(ArcEvaluation, run_evaluation,
                          "An ARC NCA on its task's test inputs: solved (every output exact), pixel "
                          "accuracy."),
)
