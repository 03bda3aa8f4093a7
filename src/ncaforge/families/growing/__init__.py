"""The Growing NCA family (Mordvintsev et al. 2020): a pattern grows from one cell and regenerates."""

from __future__ import annotations

from ncaforge.core.family import Evaluation, Family, Schedule
from ncaforge.core.view import RGBAView
from ncaforge.families.growing.attack import ATTACKS
from ncaforge.families.growing.evaluate import GrowingEvaluation, run_evaluation
from ncaforge.families.growing.model import GrowingConfig, build_growing
from ncaforge.families.growing.objective import make_objective
from ncaforge.families.growing.score import SCORING
from ncaforge.families.growing.task import GrowingTask

FAMILY = Family(
    name="growing",
    summary="Grow a target image from one seed cell (Growing NCA, three modes)",
    config=GrowingConfig,
    build=build_growing,
    task=GrowingTask,
    objective=make_objective,
    schedule=Schedule(iterations=8000, lr=2e-3, lr_drops=(2000,)),
    seed=lambda model, task, batch, grid: model.seed(batch, *grid),
    view=lambda model: RGBAView(tuple(model.layout.rgb), model.layout.alpha),
    evaluation=Evaluation(GrowingEvaluation, run_evaluation,
                          "Growth (MSE at 100, 200), persistence (max MSE 200..2000), regeneration "
                          "after a cut."),
    web=True,
    attack=ATTACKS,
    score=SCORING,
    default_model="lizard",
)
