"""The self-classifying MNIST family (Randazzo et al. 2020): the cells of a digit agree on its class."""

from __future__ import annotations

from ncaforge.core.family import Evaluation, Family, Schedule
from ncaforge.core.view import ClassView
from ncaforge.families.classifier.attack import ATTACKS
from ncaforge.families.classifier.evaluate import ClassifierEvaluation, long_run_start, run_evaluation
from ncaforge.families.classifier.model import ClassifierConfig, build_classifier
from ncaforge.families.classifier.objective import make_objective
from ncaforge.families.classifier.score import SCORING
from ncaforge.families.classifier.task import ClassifierTask

FAMILY = Family(
    name="classifier",
    command="mnist",
    summary="Self-classifying MNIST digits: every digit cell learns its digit's label",
    config=ClassifierConfig,
    build=build_classifier,
    task=ClassifierTask,
    objective=make_objective,
    start=long_run_start,
    schedule=Schedule(iterations=100_000, lr=1e-3, lr_drops=(30_000, 70_000)),
    view=lambda model: ClassView(model.layout.living, model.config.classes, model.alive_threshold),
    evaluation=Evaluation(ClassifierEvaluation, run_evaluation,
                          "Cell accuracy and total agreement on test digits at 20, 100, 200 steps and "
                          "after a mutation."),
    web=True,
    attack=ATTACKS,
    score=SCORING,
)
