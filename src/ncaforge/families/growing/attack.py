"""Attacks on a growing host: variant targets on the host's grid, the objective, preview and measures."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from ncaforge.core.family import Attacks, Preview, Report, Schedule, recorded
from ncaforge.core.nca import NCA
from ncaforge.data.variants import VARIANTS, load_variant
from ncaforge.families.growing import attack_measures as measures
from ncaforge.families.growing.objective import GrowingObjective, Recovery
from ncaforge.families.perturbation.task import AttackTask
from ncaforge.interventions.injection import adversary_mask
from ncaforge.interventions.intervened import attack_rule
from ncaforge.interventions.perturbation import Perturbation, default_clip
from ncaforge.objectives.base import Processes


def variant_target(host: NCA, spec: str) -> torch.Tensor:
    """A variant of the host's target (a named variant, or an image file) on the host's grid."""
    size = recorded(host, "target_size", "a host trained by ncaforge (its task gives the grid)")
    target = load_variant(spec, size, host.task.pad)
    if tuple(target.shape[1:]) != tuple(host.task.grid):
        raise ValueError(f"target {spec!r} is {tuple(target.shape[1:])}, the host grows on "
                         f"{tuple(host.task.grid)}")
    return target


def original_target(host: NCA) -> torch.Tensor:
    """The host's own target on its grid."""
    return variant_target(host, recorded(host, "target", "a host trained by ncaforge"))


def host_shape(host: NCA) -> torch.Tensor:
    """Where a growing host's cells are: its own target's alpha >= 0.1 (adversaries go there)."""
    return original_target(host)[3] >= 0.1


def grown_start(host: NCA, steps: int, seed: int, batch: int = 1) -> torch.Tensor:
    """Patterns grown by the host from seeds: where attacks on a grown pattern begin."""
    h, w = recorded(host, "grid", "a host trained by ncaforge")
    with torch.no_grad():
        return host.rollout(host.seed(batch, h, w), steps, torch.Generator().manual_seed(seed))


def make_objective(host: NCA, task: AttackTask, group: Processes, grad_checkpoint: int = 0,
                   seed: int = 0) -> GrowingObjective:
    """The regenerating-mode objective that trains ``task``'s attack on ``host``, for this process."""
    variant = variant_target(host, task.target)
    h, w = variant.shape[1:]
    grown = grown_start(host, task.grow_steps, seed)
    starts = torch.cat([host.seed(1, h, w), grown]) if task.attack == "perturbation" else grown
    reach = float(starts.abs().max())
    clip = task.clip if task.clip is not None else default_clip(reach)
    warning = ""
    if task.attack == "perturbation" and reach > clip:
        warning = (f"the host's grown states reach {reach:.2f}, beyond --clip {clip:g}: even the identity "
                   f"perturbation changes this host; consider --clip {default_clip(reach):g}")
    rule = attack_rule(host.to(group.device), task.attack, clip)
    batch, pool = task.batch or 8, task.pool or 1024
    local = group.shard(batch, "--batch")
    damage = max(1, task.damage_count * local // batch) if task.damage_count else 0
    recovery = None
    if task.recover_weight:
        if task.recover_weight < 0 or not 0 < task.recover_steps[0] < task.recover_steps[1]:
            raise ValueError(f"--recover-weight must be >= 0 and --recover-steps 0 < LO < HI, got "
                             f"{task.recover_weight} and {task.recover_steps}")
        recovery = Recovery(original_target(host), task.recover_weight, tuple(task.recover_steps))
    shape = host_shape(host) if task.attack == "adversary" and task.region == "target" else None
    objective = GrowingObjective(host, variant, "regenerating", group.shard(pool, "--pool"), local,
                                 tuple(task.steps), damage, grad_checkpoint, attack=rule, starts=starts,
                                 fraction=task.fraction, region=shape, recovery=recovery)
    objective.task = replace(task, clip=clip if task.attack == "perturbation" else None, batch=batch,
                             pool=pool,
                             grid=(h, w), target_size=host.task.target_size, pad=host.task.pad)
    objective.warning = warning
    what = (f"adversarial cells ({task.fraction:.0%})" if task.attack == "adversary"
            else "a global perturbation")
    objective.summary = f"{what} turning {task.host} into {task.target}"
    return objective


def preview(host: NCA, task: AttackTask, seed: int) -> Preview:
    """Four samples: grown patterns with adversaries, or seeds under the perturbation; 300 steps each way."""
    if task.attack == "perturbation":
        return Preview(host.seed(4, *recorded(host, "grid", "a host trained by ncaforge")), None, 300, 300)
    start = grown_start(host, task.grow_steps, seed)
    shape = host_shape(host) if task.region == "target" else None
    mask = adversary_mask(4, *start.shape[2:], task.fraction, shape, torch.Generator().manual_seed(seed))
    return Preview(start.expand(4, -1, -1, -1), mask, 300, 300)


def evaluate_injection(host: NCA, adversary: NCA, options: dict[str, Any]) -> Report:
    """A grown pattern attacked for 300 steps, then 300 without (MSE to the variant and the original)."""
    from ncaforge.render.plots import plot_phases

    variant, original = variant_target(host, options["target"]), original_target(host)
    shape = host_shape(host) if options["region"] == "target" else None
    figures, run = measures.injection_schedule(host, adversary, variant, original, options["fraction"], shape,
                                               options["samples"], options["seed"], progress=True)
    files = []
    if options.get("plot"):
        files.append(plot_phases(run.steps, {k: v.mean(1) for k, v in run.curves.items()}, run.boundaries,
                                 options["plot"]))
    return Report(figures, figures, files=files)


def evaluate_perturbation(host: NCA, perturbation: Perturbation, options: dict[str, Any]) -> Report:
    """On, off, on again from seeds beside the plain host; the scaled A_k; sums with ``options["with"]``
    (a list of (name, perturbation, its variant))."""
    from ncaforge.render.plots import plot_phases

    variant, original = variant_target(host, options["target"]), original_target(host)
    samples, seed, steps = options["samples"], options["seed"], options["phase_steps"]
    figures, run, plain = measures.perturbation_schedule(host, perturbation, variant, original, samples, seed,
                                                         steps, progress=True)
    result: dict[str, Any] = dict(figures)
    targets = {"variant": variant, "original": original}
    result["scaled"] = {str(k): measures.perturbation_effect(host, perturbation * k, targets, samples, seed,
                                                             steps) for k in (1.0, 0.5, 0.0, -0.5, -1.0)}
    lines = [f"k = {float(k):+.1f}: " + ", ".join(f"{a} {b:.5g}" for a, b in e.items())
             for k, e in result["scaled"].items()]
    for name, other, other_target in options.get("with", []):
        both = {**targets, "other": variant_target(host, other_target)}
        if all(n in VARIANTS for n in (options["target"], other_target)):  # the goal of the sum: both edits
            both["both"] = variant_target(host, f"{options['target']}+{other_target}")
        effect = measures.perturbation_effect(host, perturbation + other, both, samples, seed, steps)
        result.setdefault("pairs", {})[name] = effect
        lines.append(f"+ {name}: " + ", ".join(f"{a} {b:.5g}" for a, b in effect.items()))
    files = []
    if options.get("plot"):
        curves = {k: v.mean(1) for k, v in run.curves.items()}
        curves.update({f"host {k}": v.mean(1) for k, v in plain.curves.items()})
        files.append(plot_phases(run.steps, curves, run.boundaries, options["plot"]))
    return Report(result, figures, "\n".join(lines), files)


ATTACKS = Attacks(schedule=Schedule(8000, 2e-3, (2000,)), objective=make_objective, preview=preview,
                  evaluate_injection=evaluate_injection, evaluate_perturbation=evaluate_perturbation,
                  region=host_shape)
