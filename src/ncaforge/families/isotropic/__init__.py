"""The isotropic NCA family (Mordvintsev, Randazzo, Fouts 2022): a pattern grows from seeds whose
cells perceive no direction; structured seeds or a rotation-invariant loss break the symmetry."""

from __future__ import annotations

from ncaforge.core.family import Family, Schedule
from ncaforge.core.view import RGBAView
from ncaforge.families.growing.score import SCORING
from ncaforge.families.isotropic.model import IsotropicConfig, build_isotropic
from ncaforge.families.isotropic.objective import make_objective
from ncaforge.families.isotropic.task import SymmetryTask, seed_states

FAMILY = Family(
    name="isotropic",
    summary="Grow a target with rotation-invariant perception (isotropic NCA): no compass in the cells",
    config=IsotropicConfig,
    build=build_isotropic,
    task=SymmetryTask,
    objective=make_objective,
    schedule=Schedule(iterations=4000, lr=1e-3, lr_drops=(2000,)),
    seed=seed_states,
    web=True,
    score=SCORING,
    view=lambda model: RGBAView(tuple(model.layout.rgb), model.layout.alpha),
)
