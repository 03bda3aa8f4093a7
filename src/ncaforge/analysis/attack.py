"""Trained attacks shown and set up: the task of an `nca attack` run, and its preview animation."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ncaforge.analysis.simulate import Attack, simulate
from ncaforge.core import family as registry
from ncaforge.families.perturbation.task import AttackTask
from ncaforge.interventions.intervened import Intervened
from ncaforge.render.frames import mark, tile, to_image
from ncaforge.render.views import occupied, picture


def attacks_of(host: nn.Module) -> registry.Attacks:
    """The attack hooks of ``host``'s family (a clear error when it has none)."""
    family = registry.family_of(host)
    if family.attack is None:
        raise registry.FamilyError(f"the {family.name} family cannot be attacked (it declares no attack "
                                   "hooks)")
    return family.attack


def attack_task(attack: str, **settings: Any) -> AttackTask:
    """The task of an attack from `nca attack` settings (unknown keys are ignored)."""
    names = set(AttackTask.__dataclass_fields__) - {"attack"}
    return AttackTask(attack=attack, **{k: v for k, v in settings.items() if k in names})


def attacked(host: nn.Module, module: nn.Module) -> Intervened:
    """``host`` under a trained adversary or perturbation."""
    if registry.family_of(module).name == "perturbation":
        return Intervened(host, perturbation=module)
    return Intervened(host, adversary=module)


@torch.no_grad()
def preview_frames(host: nn.Module, module: nn.Module, task: AttackTask, seed: int, every: int = 2,
                   scale: int = 3) -> list[np.ndarray]:
    """Frames of the trained attack acting (adversarial cells marked), then lifted."""
    start = attacks_of(host).preview(host, task, seed)
    schedule = Attack(attacked(host, module), start.mask, stop=start.attack_steps)

    def view(t: int, x: torch.Tensor) -> torch.Tensor:
        rgb = picture(host, x)
        marks = schedule.marks(t)
        return mark(rgb, marks & occupied(host, x)) if marks is not None else rgb

    rec = simulate(host, start.x, start.attack_steps + start.lifted_steps, frame_every=every,
                   generator=torch.Generator().manual_seed(seed), attack=schedule, view=view)
    return [tile([to_image(image, scale) for image in f]) for f in rec.frames]
