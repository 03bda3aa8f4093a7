"""Adversarial cells in a frozen classifier, measured: how many digits say the target while they act,
and how many are right again once they are removed."""

from __future__ import annotations

import numpy as np
import torch

from ncaforge.core.nca import NCA
from ncaforge.core.progress import bar
from ncaforge.families.classifier.evaluate import judge
from ncaforge.families.classifier.model import digit_state
from ncaforge.interventions.injection import adversary_mask
from ncaforge.interventions.intervened import Intervened
from ncaforge.interventions.phases import Measure, Phase, run_phases


def vote_measure(host: NCA, labels: torch.Tensor, target_class: int) -> Measure:
    """Per digit: ``target_majority`` (the cells' majority says the target), ``target_cells``
    (fraction of digit cells saying it) and ``correct_majority`` (the majority is the label)."""
    def measure(x: torch.Tensor) -> dict[str, torch.Tensor]:
        target = torch.full_like(labels, target_class)
        hits, cells, votes = judge(host, x, target)
        return {"target_majority": (votes == target_class).float(),
                "target_cells": hits / cells.clamp(min=1),
                "correct_majority": (votes == labels).float()}

    return measure


@torch.no_grad()
def classifier_injection(host: NCA, adversary: NCA, images: torch.Tensor, labels: torch.Tensor,
                         fraction: float, target_class: int, seed: int = 0, attack_steps: int = 100,
                         removed_steps: int = 200, batch: int = 500, every: int = 10,
                         progress: bool = False) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Digits classify themselves with ``fraction`` adversarial cells for ``attack_steps``; then
    the adversaries are removed for ``removed_steps``.

    Keys ``target_majority_100``, ``target_cells_100`` (named after ``attack_steps``),
    ``recovered_200_after_removal`` (after ``removed_steps``: the majority is the label
    again) and ``correct_majority_100``; curves are means over digits against step.
    """
    device = next(host.parameters()).device
    g = torch.Generator().manual_seed(seed)
    run, sums, n = Intervened(host, adversary=adversary), {}, len(images)
    steps: list[int] = []
    with bar(None, progress, log_every=30, total=n, unit="digit", desc="digits") as progress_bar:
        for lo in range(0, n, batch):
            y = labels[lo:lo + batch].to(device, torch.long)
            x = digit_state(host, images[lo:lo + batch].to(device, torch.float32) / 255)
            mask = adversary_mask(len(x), x.shape[2], x.shape[3], fraction, None, g, device)
            phases = [Phase("attack", attack_steps, run, mask), Phase("removed", removed_steps, host)]
            result = run_phases(x, phases, vote_measure(host, y, target_class), g, every)
            steps = result.steps
            for k, v in result.curves.items():
                sums[k] = sums.get(k, 0) + v.sum(1)
            for phase, values in result.ends.items():
                for k, v in values.items():
                    sums[f"{k}@{phase}"] = sums.get(f"{k}@{phase}", 0) + v.sum()
            progress_bar.update(len(x))
    a, r = attack_steps, removed_steps
    out = {f"target_majority_{a}": sums["target_majority@attack"] / n,
           f"target_cells_{a}": sums["target_cells@attack"] / n,
           f"correct_majority_{a}": sums["correct_majority@attack"] / n,
           f"recovered_{r}_after_removal": sums["correct_majority@removed"] / n,
           f"target_majority_{r}_after_removal": sums["target_majority@removed"] / n}
    curves = {k: v / n for k, v in sums.items() if "@" not in k}
    curves["step"] = np.array(steps)
    return {k: float(v) for k, v in out.items()}, curves
