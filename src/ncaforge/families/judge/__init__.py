"""The judge family: a small CNN classifier of MNIST digits that scores grown digits
(`nca train judge`, `nca eval judge`; the conditional family's evaluation asks it)."""

from __future__ import annotations

from ncaforge.core.family import Evaluation, Family, Schedule
from ncaforge.families.judge.evaluate import JudgeEvaluation, run_evaluation
from ncaforge.families.judge.model import JudgeConfig, build_judge
from ncaforge.families.judge.objective import make_objective
from ncaforge.families.judge.task import JudgeTask

FAMILY = Family(
    name="judge",
    summary="A small CNN that classifies MNIST digits, to judge grown ones",
    config=JudgeConfig,
    build=build_judge,
    task=JudgeTask,
    objective=make_objective,
    schedule=Schedule(iterations=3000, lr=1e-3, lr_drops=(2000,)),
    evaluation=Evaluation(JudgeEvaluation, run_evaluation, "Accuracy on the 10,000 MNIST test digits."),
    default_model="mnist-judge",
)
