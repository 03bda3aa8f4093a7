"""Run a model for a while with scheduled interventions, recording what happened.

This is what ``nca grow`` and the demo use: grow from seeds, cut discs out at
chosen steps, run the host under an attack (a perturbation, adversarial cells) for a
window of steps, keep the RGBA of chosen steps, and track the MSE to a target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ncaforge.core.family import family_of
from ncaforge.core.nca import NCA
from ncaforge.core.progress import bar
from ncaforge.interventions.damage import disc_mask
from ncaforge.interventions.injection import adversary_mask, mask_from_image
from ncaforge.objectives.losses import rgba_mse


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
    frames: list[torch.Tensor] = field(default_factory=list)  # each a view of (B, C, H, W) states
    mse: list[float] = field(default_factory=list)  # batch-mean MSE after each step 0..steps
    states: dict[int, torch.Tensor] = field(default_factory=dict)  # whole states at the extra frames
    final: torch.Tensor | None = None


@torch.no_grad()
def simulate(nca: NCA, x: torch.Tensor, steps: int, damage: list[Damage] | None = None,
             frame_every: int = 1, extra_frames: list[int] | None = None,
             target: torch.Tensor | None = None, generator: torch.Generator | None = None,
             progress: bool = False, attack: Attack | None = None,
             view: Callable[[int, torch.Tensor], torch.Tensor] | None = None) -> Record:
    """Run ``steps`` steps from ``x``; damage is applied before the step it names.

    Frames hold ``view(t, state)`` (default: the RGBA channels) every ``frame_every`` steps, at
    ``extra_frames`` (whose whole states are kept too) and at the end; with ``target``, the RGBA MSE
    to it after every step.
    """
    keep = set(extra_frames or [])
    rec = Record()

    def rgba(t: int, state: torch.Tensor) -> torch.Tensor:
        return state[:, nca.layout.rgba]

    view = view or rgba

    def observe(t: int, state: torch.Tensor) -> None:
        if t % frame_every == 0 or t in keep or t == steps:
            rec.frame_steps.append(t)
            rec.frames.append(view(t, state).cpu())
        if t in keep:
            rec.states[t] = state.cpu()
        if target is not None:
            rec.mse.append(float(rgba_mse(state, target, nca.layout.rgba).mean()))

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


def infiltration_mask(host: NCA, batch: int, grid: tuple[int, int], fraction: float, region: str = "target",
                      mask_image: str | Path | None = None, seed: int = 0) -> torch.Tensor:
    """Where adversaries go in a run of ``host``: the bright cells of ``mask_image``, else Bernoulli(fraction)
    cells within the host's own shape (``region`` "target", where the host's attack hooks know one) or
    anywhere ("grid"), drawn from their own generator (so the run's fire masks stay those of a plain run)."""
    if mask_image is not None:
        return mask_from_image(str(mask_image), *grid).expand(batch, 1, *grid)
    shape = None
    if region == "target":
        shape = host_region(host)
        if shape is not None and tuple(shape.shape) != tuple(grid):
            raise ValueError(f"--region target: the host's target is {tuple(shape.shape)}, the grid {grid}; "
                             "use --region grid")
    return adversary_mask(batch, *grid, fraction, shape, torch.Generator().manual_seed(seed))


def host_region(host: NCA) -> torch.Tensor | None:
    """The host's own shape where its family's attack hooks define one (growing: its target's cells)."""
    attacks = family_of(host).attack
    return attacks.region(host) if attacks is not None and attacks.region is not None else None
