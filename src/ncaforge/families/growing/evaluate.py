"""Evaluation of a growing model: growth, persistence and regeneration as RGBA MSE.

All figures are means over ``samples`` independent runs (different fire masks),
on the same grid and padding the model was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ncaforge.core.family import Report, recorded
from ncaforge.core.nca import NCA
from ncaforge.core.progress import bar
from ncaforge.data.targets import load_target
from ncaforge.families.growing.identity import kept_identity
from ncaforge.interventions.damage import disc_mask
from ncaforge.objectives.losses import rgba_mse


def damage_positions(target: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` (x, y) centres in [-1, 1] grid units, drawn from the target's visible cells."""
    _, h, w = target.shape
    ys, xs = torch.nonzero(target[3] > 0.1, as_tuple=True)
    pick = torch.randperm(len(xs), generator=generator)[:count]
    return torch.stack([xs[pick] / (w - 1) * 2 - 1, ys[pick] / (h - 1) * 2 - 1], dim=1).float()


@torch.no_grad()
def own_pattern(nca: NCA, height: int, width: int, steps: int = 1000, samples: int = 8,
                seed: int = 123) -> torch.Tensor:
    """The RGBA a model settles into: mean of ``samples`` runs from seeds after ``steps``.

    A stand-in target for models whose training image is not at hand (e.g. imported
    ones): errors against it measure how fast, how stably and how faithfully the model
    returns to its own pattern.
    """
    g = torch.Generator().manual_seed(seed)
    x = nca.rollout(nca.seed(samples, height, width), steps, g)
    return x[:, nca.layout.rgba].mean(0)


@torch.no_grad()
def mse_curve(nca: NCA, target: torch.Tensor, steps: int, samples: int,
              generator: torch.Generator, x: torch.Tensor | None = None,
              progress: bool = False) -> torch.Tensor:
    """Mean RGBA MSE after each step 0..steps (steps + 1 values) from seeds or ``x``."""
    _, h, w = target.shape
    x = nca.seed(samples, h, w) if x is None else x
    out = [rgba_mse(x, target, nca.layout.rgba).mean()]
    for _ in bar(range(steps), progress, desc="persistence", unit="step", leave=False):
        x = nca.rollout(x, 1, generator)
        out.append(rgba_mse(x, target, nca.layout.rgba).mean())
    return torch.stack(out)


@torch.no_grad()
def evaluate(nca: NCA, target: torch.Tensor, samples: int = 8, seed: int = 0,
             persistence_steps: int = 2000, damage_at: int = 300, regrow_steps: int = 200,
             positions: int = 4, radius_fraction: float = 0.25, target_size: int | None = None,
             progress: bool = False) -> dict:
    """The growing-model figures: ``mse_100``, ``mse_200``, ``persistence_max_mse``, ``regen_mse``.

    Regeneration: a disc of radius ``radius_fraction`` x target size (cells) is cut at
    step ``damage_at`` at each of ``positions`` places on the target; the MSE is read
    ``regrow_steps`` later and averaged over positions and samples.
    """
    if not (target[3] > 0.1).any():
        raise ValueError("the target has no visible cells (alpha > 0.1): nothing to grow or damage")
    target = target.to(next(nca.parameters()).device)
    g = torch.Generator().manual_seed(seed)
    _, h, w = target.shape
    curve = mse_curve(nca, target, persistence_steps, samples, g, progress=progress)
    result = {
        "mse_100": float(curve[100]),
        "mse_200": float(curve[200]),
        "persistence_max_mse": float(curve[200:].max()),
        "persistence_final_mse": float(curve[-1]),
    }
    size = target_size or int(max((target[3] > 0).any(0).sum(), (target[3] > 0).any(1).sum()))
    radius = radius_fraction * size / ((w - 1) / 2)  # in [-1, 1] units
    centres = damage_positions(target, positions, g)
    regen, damaged = [], []
    grown = nca.rollout(nca.seed(samples, h, w), damage_at, g)
    for centre in bar(centres, progress, desc="regeneration", unit="cut", leave=False):
        hole = disc_mask(h, w, centre.expand(samples, 2).to(target.device),
                         torch.full((samples,), radius, device=target.device))
        x = grown * ~hole
        damaged.append(float(rgba_mse(x, target, nca.layout.rgba).mean()))
        x = nca.rollout(x, regrow_steps, g)
        regen.append(float(rgba_mse(x, target, nca.layout.rgba).mean()))
    result.update({
        "regen_mse": sum(regen) / len(regen),
        "regen_mse_per_position": regen,
        "damaged_mse": sum(damaged) / len(damaged),
        "damage_centres": centres.tolist(),
        "damage_radius_cells": radius_fraction * size,
        "samples": samples,
        "seed": seed,
        "curve": [float(v) for v in curve],
    })
    return result


@dataclass
class GrowingEvaluation:
    """The options of `nca eval growing`."""

    target: str | None = field(default=None, metadata={
        "help": "Target [the one the model was trained on]; 'self': the model's own pattern after 1000 "
                "steps, for models whose target is not at hand."})
    target_size: int | None = field(default=None, metadata={"min": 1, "max": 2048,
            "help": "Longer side of --target [the task's]."})
    pad: int | None = field(default=None, metadata={"min": 0, "max": 2048,
            "help": "Padding of --target [the task's]."})
    size: tuple[int, int] | None = field(default=None, metadata={"min": 1,
        "help": "Grid H W for --target self [the training grid]."})
    samples: int = field(default=8, metadata={"min": 1, "help": "Independent runs to average over."})
    seed: int = field(default=0, metadata={"help": "Seed of the fire masks and damage positions."})
    persistence_steps: int = field(default=2000, metadata={"min": 500, "max": 10**6,
        "help": "Steps of the persistence test (at least 500: regeneration runs to step 500)."})


def evaluation_target(nca: NCA, options: GrowingEvaluation) -> torch.Tensor:
    """The RGBA target of an evaluation: --target, 'self', or the task's own."""
    if options.target == "self":
        grid = options.size or recorded(nca, "grid", "--size H W")
        return own_pattern(nca, *grid)
    if options.target is not None:
        task = getattr(nca, "task", None)
        size = options.target_size or getattr(task, "target_size", None) or 40
        pad = getattr(task, "pad", 16) if options.pad is None else options.pad
        return load_target(options.target, size, pad)
    recorded(nca, "target", "--target (a file, a bundled name, or 'self')")
    task = nca.task
    return load_target(task.target, options.target_size or task.target_size,
                       task.pad if options.pad is None else options.pad)


def run_evaluation(nca: NCA, options: GrowingEvaluation, progress: bool = False, json_path: str | None = None
                   ) -> Report:
    """`nca eval growing`: the figures of :func:`evaluate` on the evaluation target."""
    if options.persistence_steps < 500:
        raise ValueError("--persistence-steps must be at least 500 (the regeneration test runs to step 500)")
    target = evaluation_target(nca, options)
    task = getattr(nca, "task", None)
    size = options.target_size or getattr(task, "target_size", None)
    figures = evaluate(nca, target, samples=options.samples, seed=options.seed,
                       persistence_steps=options.persistence_steps, target_size=size, progress=progress)
    figures["target"] = options.target or task.target
    shown = ("mse_100", "mse_200", "persistence_max_mse", "regen_mse")
    if getattr(task, "identity", "none") != "none":  # does each organism keep the identity it was seeded?
        figures |= kept_identity(nca, tuple(target.shape[1:]), seed=options.seed)
        shown += ("identity_error_200", "identity_spread_200")
    return Report(figures, {k: figures[k] for k in shown})
