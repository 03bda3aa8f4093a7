"""The DiffLogic CA family (Miotti, Niklasson, Randazzo, Mordvintsev 2025): cellular automata whose rule
is a learned circuit of logic gates (Game of Life, a grown checkerboard)."""

from __future__ import annotations

from ncaforge.core.family import Evaluation, Family, Schedule
from ncaforge.core.view import FieldView
from ncaforge.families.logic.evaluate import LogicEvaluation, run_evaluation
from ncaforge.families.logic.model import LogicConfig, build_logic
from ncaforge.families.logic.objective import make_objective
from ncaforge.families.logic.score import SCORING
from ncaforge.families.logic.task import LogicTask, seed_states

FAMILY = Family(
    name="logic",
    summary="DiffLogic CA: a rule of learned logic gates over binary cells (Game of Life, checkerboards)",
    config=LogicConfig,
    build=build_logic,
    task=LogicTask,
    objective=make_objective,
    schedule=Schedule(iterations=3000, lr=0.05),
    seed=seed_states,
    view=lambda model: FieldView(channel=0, low=0.0, high=1.0),
    web=True,  # engine.js runs the hard circuits (on the CPU: gates are no fragment shader's home ground)
    evaluation=Evaluation(LogicEvaluation, run_evaluation,
                          "A logic CA with hard gates: Life's 512 configurations and a random torus against "
                          "true Life, or the checkerboard on its grid and a larger one; active gates."),
    score=SCORING,
)
