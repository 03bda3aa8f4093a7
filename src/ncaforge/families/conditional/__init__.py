"""The conditional family (after Sakour 2025): one rule grows whichever MNIST digit class its cells
are told (`nca train conditional`, `nca grow --class K`, `nca eval conditional` with a judge CNN)."""

from __future__ import annotations

from ncaforge.core.family import Evaluation, Family, Schedule
from ncaforge.core.view import RGBAView
from ncaforge.families.conditional.evaluate import ConditionalEvaluation, run_evaluation
from ncaforge.families.conditional.model import ConditionalConfig, build_conditional, seed_states
from ncaforge.families.conditional.objective import make_objective
from ncaforge.families.conditional.score import SCORING
from ncaforge.families.conditional.task import ConditionalTask

FAMILY = Family(
    name="conditional",
    summary="Grow the MNIST digit its cells are asked for (a class one-hot in every cell)",
    config=ConditionalConfig,
    build=build_conditional,
    task=ConditionalTask,
    objective=make_objective,
    schedule=Schedule(iterations=4000, lr=2e-3, lr_drops=(2000,)),
    seed=seed_states,
    view=lambda model: RGBAView(tuple(model.layout.rgb), model.layout.alpha),
    evaluation=Evaluation(ConditionalEvaluation, run_evaluation,
                          "A judge CNN reads digits grown for each class, then after half their cells "
                          "are dropped (judged_accuracy, judged_accuracy_repair)."),
    score=SCORING,
)
