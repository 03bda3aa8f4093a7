"""The PDE NCA family (Richardson et al. 2024): a rule fitted to trajectories of a PDE."""

from __future__ import annotations

from ncaforge.core.family import Evaluation, Family, Schedule
from ncaforge.core.view import FieldView
from ncaforge.families.pde.evaluate import PDEEvaluation, long_run_start, run_evaluation
from ncaforge.families.pde.model import PDEConfig, build_pde
from ncaforge.families.pde.objective import make_objective
from ncaforge.families.pde.score import SCORING
from ncaforge.families.pde.task import PDETask

FAMILY = Family(
    name="pde",
    summary="Fit an NCA to trajectories (Richardson et al. 2024): NAdam, Euclidean loss on the observed "
            "channels",
    config=PDEConfig,
    build=build_pde,
    task=PDETask,
    objective=make_objective,
    schedule=Schedule(iterations=3000, lr=1e-3, optimizer="nadam"),
    seed=None,  # a PDE NCA starts from data, not from a seed
    start=long_run_start,
    view=lambda model: FieldView(channel=model.config.observed - 1),
    evaluation=Evaluation(PDEEvaluation, run_evaluation,
                          "A PDE NCA on unseen initial conditions: MSE at 1x and 2x the horizon, coverage, "
                          "spectra, symmetry."),
    score=SCORING,
)
