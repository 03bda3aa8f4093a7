"""Runs in phases (an attack on, off, on again) with measures over time.

A *phase* runs a rule (the host, or the host under an intervention, with its
adversary mask) for some steps; one generator drives all phases, so a schedule with
and without the attack sees the same randomness. Measures are taken every
``every`` steps and at the end of every phase.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ncaforge.core.progress import bar

Measure = Callable[[torch.Tensor], dict[str, torch.Tensor]]  # states -> per-sample values


@dataclass
class Phase:
    """``steps`` steps of ``rule`` (an NCA or an Intervened host), with adversaries at ``mask``."""

    name: str
    steps: int
    rule: nn.Module
    mask: torch.Tensor | None = None


@dataclass
class PhaseRun:
    """What a phased run measured: ``curves[key]`` (T, N) at ``steps``; ``ends[phase][key]`` (N,)."""

    steps: list[int]
    curves: dict[str, np.ndarray]
    ends: dict[str, dict[str, np.ndarray]]
    boundaries: list[int]
    final: torch.Tensor

    def mean_at_ends(self) -> dict[str, float]:
        """``{key}_{phase}``: the mean over samples at the end of each phase."""
        return {f"{k}_{phase}": float(v.mean())
                for phase, values in self.ends.items() for k, v in values.items()}


@torch.no_grad()
def run_phases(x: torch.Tensor, phases: Sequence[Phase], measure: Measure, generator: torch.Generator,
               every: int = 10, progress: bool = False) -> PhaseRun:
    """Run ``phases`` in order from ``x``, measuring every ``every`` steps and at each phase end."""
    steps, rows, ends, boundaries, t = [0], [measure(x)], {}, [], 0
    total = sum(p.steps for p in phases)
    with bar(None, progress, total=total, unit="step", leave=False) as progress_bar:
        for phase in phases:
            done = 0
            while done < phase.steps:
                n = min(every - t % every, phase.steps - done)
                options = {} if phase.mask is None else {"mask": phase.mask}
                x = phase.rule.rollout(x, n, generator, **options)
                done, t = done + n, t + n
                if t % every == 0 or done == phase.steps:
                    steps.append(t)
                    rows.append(measure(x))
                progress_bar.update(n)
            ends[phase.name] = {k: v.cpu().numpy() for k, v in rows[-1].items()}
            boundaries.append(t)
    curves = {k: torch.stack([r[k] for r in rows]).cpu().numpy() for k in rows[0]}
    return PhaseRun(steps, curves, ends, boundaries[:-1], x)
