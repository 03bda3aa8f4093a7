"""Long runs: do a model's states stay finite and bounded, and does its pattern neither die nor fill
the grid? For a zoo attack, the run is its host under the attack, as it was trained to act."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ncaforge import zoo
from ncaforge.analysis.attack import attacked, attacks_of
from ncaforge.core import family as registry
from ncaforge.core.progress import bar
from ncaforge.families.perturbation.task import AttackTask

BOUND = 1e6  # beyond this |state| a run has blown up


@dataclass
class Health:
    """What a long run showed: the largest |state|, living cells (families with an alpha channel) at
    step 200 and at the end, and the step at which states became non-finite or beyond ``BOUND``."""

    name: str
    steps: int
    max_abs: float
    alive_200: float | None
    alive_end: float | None
    diverged_at: int | None = None
    note: str = ""

    @property
    def persists(self) -> bool | None:
        """Alive cells at the end within 2x of those at step 200 (None: no alpha channel)."""
        if self.alive_200 is None or self.alive_end is None:
            return None
        return self.alive_200 > 0 and 0.5 <= self.alive_end / self.alive_200 <= 2.0


def start_of(model: nn.Module, batch: int, seed: int) -> torch.Tensor:
    """Where a long run of ``model`` starts: its family's ``start`` (data), else its seed on its grid."""
    family = registry.family_of(model)
    if family.start is not None:
        return family.start(model, batch, seed)
    if family.seed is None:
        raise registry.FamilyError(f"a {family.name} model runs on a host, not alone")
    grid = registry.recorded(model, "grid", "--size H W")
    return family.seed(model, model.task, batch, tuple(grid))


def alive_cells(model: nn.Module, x: torch.Tensor) -> float | None:
    """Mean count of cells whose alpha exceeds the model's threshold (None without an alpha channel)."""
    layout = getattr(model, "layout", None)
    if layout is None or layout.alpha is None:
        return None
    return float((x[:, layout.alpha] > model.alive_threshold).sum(dim=(1, 2)).float().mean())


@torch.no_grad()
def long_run(name: str, host: nn.Module, rule: nn.Module, x: torch.Tensor, steps: int, seed: int = 0,
             mask: torch.Tensor | None = None, progress: bool = False) -> Health:
    """Run ``rule`` (``host`` or an attacked host) ``steps`` steps from ``x``; stop where it blows up."""
    generator = torch.Generator().manual_seed(seed)
    options = {} if mask is None else {"mask": mask}
    largest, alive_200 = float(x.abs().max()), None
    for t in bar(range(1, steps + 1), progress, desc=name, unit="step", leave=False):
        x = rule.rollout(x, 1, generator, **options)
        top = float(x.abs().max())
        if not math.isfinite(top) or top > BOUND:
            return Health(name, steps, math.inf if not math.isfinite(top) else top, alive_200, None, t,
                          f"diverged at step {t}")
        largest = max(largest, top)
        if t == 200:
            alive_200 = alive_cells(host, x)
    return Health(name, steps, largest, alive_200, alive_cells(host, x))


def model_health(name: str, model: nn.Module, steps: int, seed: int = 0, batch: int = 4,
                 alone: bool = False, progress: bool = False) -> Health:
    """A long run of ``batch`` samples of ``model``: a host from its start; an attack (its task names its
    host, a zoo name or a checkpoint) acting on that host as in its preview; with ``alone``, an
    adversary on its own."""
    task = getattr(model, "task", None)
    if isinstance(task, AttackTask) and not alone:
        host = zoo.load(task.host)
        start = attacks_of(host).preview(host, task, seed)
        mask = None if start.mask is None else start.mask[:batch]
        return long_run(name, host, attacked(host, model), start.x[:batch], steps, seed, mask, progress)
    health = long_run(name, model, model, start_of(model, batch, seed), steps, seed, progress=progress)
    if isinstance(task, AttackTask) and health.diverged_at is not None:
        health.note = (f"an adversary trained to act among {task.host}'s cells; alone it is not meant to "
                       f"run (diverged at step {health.diverged_at})")
    return health


def alone_warning(model: nn.Module, name: str) -> str | None:
    """A warning when ``model`` is an adversary run without its host (it is not meant to persist)."""
    task = getattr(model, "task", None)
    if isinstance(task, AttackTask) and task.attack == "adversary":
        return (f"{name} is an adversary trained to act among the cells of {task.host!r}; alone it is not "
                f"meant to persist and its states may blow up (pair it with its host: nca eval attack "
                f"inject --host {task.host} --adversary {name} ...)")
    return None
