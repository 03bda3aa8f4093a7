"""Global state perturbations as checkpointable modules, and the task of every trained attack."""

from __future__ import annotations

from ncaforge.core.family import Family, register_task
from ncaforge.families.perturbation.task import AttackTask
from ncaforge.interventions.perturbation import Perturbation, PerturbationConfig

register_task("attack", AttackTask)  # adversaries are models of their host's family with this task

FAMILY = Family(
    name="perturbation",
    summary="A symmetric C x C matrix applied to every living cell before every step of a frozen host",
    config=PerturbationConfig,
    build=Perturbation,
)
