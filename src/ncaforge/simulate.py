"""Run a model for a while with scheduled interventions, recording what happened.

This is what ``nca grow`` and the demo use: grow from seeds, cut discs out at
chosen steps, run the host under an attack (a perturbation, adversarial cells) for a
window of steps, keep the RGBA of chosen steps, and track the MSE to a target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ncaforge.core.nca import NCA
from ncaforge.interventions.damage import disc_mask
from ncaforge.objectives.growing import rgba_mse
from ncaforge.progress import bar


@dataclass
class Damage:
    """Zero a disc at ``step``: centre (x, y) in [-1, 1] grid units, radius in cells."""

    step: int
    centre: tuple[float, float] = (0.0, 0.0)
    radius: float = 10.0

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        centre = torch.tensor(self.centre, device=x.device).expand(b, 2)
        radius = torch.full((b,), self.radius / ((w - 1) / 2), device=x.device)
        return x * ~disc_mask(h, w, centre, radius)


@dataclass
class Attack:
    """Steps ``start`` to ``stop`` (exclusive; None: to the end) run ``rule``, the host under
    interventions (an ``Intervened``), with adversarial cells at ``mask`` (B, 1, H, W) if any."""

    rule: nn.Module
    mask: torch.Tensor | None = None
    start: int = 0
    stop: int | None = None

    def active(self, t: int) -> bool:
        """Whether the step from state ``t`` to ``t + 1`` runs under the attack."""
        return self.start <= t and (self.stop is None or t < self.stop)

    def marks(self, t: int) -> torch.Tensor | None:
        """The adversarial cells to draw on the state at step ``t``: those that made it (or the first)."""
        return self.mask if self.mask is not None and self.active(max(t - 1, 0)) else None


@dataclass
class Record:
    """What a simulation kept: RGBA at ``frame_steps``, the final state, an MSE curve."""

    frame_steps: list[int] = field(default_factory=list)
    frames: list[torch.Tensor] = field(default_factory=list)  # each (B, 4, H, W)
    mse: list[float] = field(default_factory=list)  # batch-mean MSE after each step 0..steps
    final: torch.Tensor | None = None


@torch.no_grad()
def simulate(nca: NCA, x: torch.Tensor, steps: int, damage: list[Damage] | None = None,
             frame_every: int = 1, extra_frames: list[int] | None = None,
             target: torch.Tensor | None = None, generator: torch.Generator | None = None,
             progress: bool = False, attack: Attack | None = None) -> Record:
    """Run ``steps`` steps from ``x``; damage is applied before the step it names."""
    keep = set(extra_frames or [])
    rec = Record()
    rgba = nca.layout.rgba

    def observe(t: int, state: torch.Tensor) -> None:
        if t % frame_every == 0 or t in keep or t == steps:
            rec.frame_steps.append(t)
            rec.frames.append(state[:, rgba].cpu())
        if target is not None:
            rec.mse.append(float(rgba_mse(state, target, rgba).mean()))

    observe(0, x)
    for t in bar(range(1, steps + 1), progress, desc="simulate", unit="step", leave=False):
        for cut in damage or []:
            if cut.step == t - 1:
                x = cut.apply(x)
        if attack is not None and attack.active(t - 1):
            options = {} if attack.mask is None else {"mask": attack.mask}
            x = attack.rule.rollout(x, 1, generator, **options)
        else:
            x = nca.rollout(x, 1, generator)
        observe(t, x)
    rec.final = x.cpu()
    return rec
