"""Attacks on a classifier host: adversarial cells that make every digit say one class."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from ncaforge.core.family import Attacks, Preview, Report, Schedule
from ncaforge.core.nca import NCA
from ncaforge.data.mnist import load_mnist
from ncaforge.families.classifier.attack_measures import classifier_injection
from ncaforge.families.classifier.model import digit_state
from ncaforge.families.classifier.objective import ClassifierObjective
from ncaforge.families.perturbation.task import AttackTask
from ncaforge.interventions.injection import adversary_mask
from ncaforge.interventions.intervened import attack_rule
from ncaforge.objectives.base import Processes


def target_class(host: NCA, spec: str) -> int:
    """``class:N`` for a classifier host."""
    classes = host.config.classes
    if not spec.startswith("class:") or not spec[6:].isdigit() or not 0 <= int(spec[6:]) < classes:
        raise ValueError(f"a classifier host needs --target class:N with N in 0..{classes - 1}, got {spec!r}")
    return int(spec[6:])


def make_objective(host: NCA, task: AttackTask, group: Processes, grad_checkpoint: int = 0,
                   seed: int = 0) -> ClassifierObjective:
    """Adversarial cells trained from fresh and mutated training digits to make them say the target."""
    if task.attack != "adversary":
        raise ValueError("global perturbations are trained against growing hosts")
    if task.recover_weight:
        raise ValueError("--recover-weight is for growing hosts: a classifier host has no pattern to regrow")
    label = target_class(host, task.target)
    data = load_mnist(task.mnist_dir)
    images, labels = (torch.from_numpy(a) for a in data.split("train"))
    batch, pool = task.batch or 16, task.pool or 160
    quarter = group.shard(batch // 4, "--batch / 4")  # fresh and mutated samples, as in training
    objective = ClassifierObjective(host.to(group.device), images, labels, group.shard(pool, "--pool"),
                                    group.shard(batch, "--batch"), task.mnist_steps, quarter, quarter,
                                    checkpoint_every=grad_checkpoint, attack=attack_rule(host, "adversary"),
                                    fraction=task.fraction, target_class=label)
    objective.task = replace(task, batch=batch, pool=pool, clip=None, grid=tuple(images.shape[1:]))
    objective.summary = f"adversarial cells ({task.fraction:.0%}) making {task.host} say {label}"
    objective.provenance = {"data": data.source}
    return objective


def preview(host: NCA, task: AttackTask, seed: int) -> Preview:
    """Eight test digits with adversaries for 100 steps, then 200 without."""
    test = torch.from_numpy(load_mnist(task.mnist_dir).split("test")[0][:8]).float() / 255
    x = digit_state(host, test)
    mask = adversary_mask(len(x), *x.shape[2:], task.fraction, None, torch.Generator().manual_seed(seed))
    return Preview(x, mask, 100, 200)


def evaluate_injection(host: NCA, adversary: NCA, options: dict[str, Any]) -> Report:
    """Test digits with a fraction of adversarial cells for 100 steps, then 200 without; --sweep fractions."""
    from ncaforge.render.plots import plot_phases

    label = target_class(host, options["target"])
    images, labels = (torch.from_numpy(a[:options["limit"]])
                      for a in load_mnist(options["mnist_dir"]).split("test"))
    result: dict[str, Any] = {"digits": len(images)}
    lines, curves = [], None
    for p in (options["fraction"], *options["sweep"]):
        figures, c = classifier_injection(host, adversary, images, labels, p, label, options["seed"],
                                          progress=True)
        if p == options["fraction"]:
            result.update(figures)
            curves = c
        else:
            result.setdefault("sweep", {})[str(p)] = figures
        lines.append(f"fraction {p:.2f}: " + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))
    files = []
    if options.get("plot"):
        files.append(plot_phases(curves["step"], {k: v for k, v in curves.items() if k != "step"}, [100],
                                 options["plot"], ylabel="fraction of digits (cells)", log=False))
    return Report(result, {}, "\n".join(lines), files)


ATTACKS = Attacks(schedule=Schedule(2000, 1e-3), objective=make_objective, preview=preview,
                  evaluate_injection=evaluate_injection)
