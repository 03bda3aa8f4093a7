"""Attacks on a growing host, measured: phases of perturbations and adversaries, MSE to the variant
and to the original, and how many samples recover once the attack is lifted."""

from __future__ import annotations

import numpy as np
import torch

from ncaforge.core.nca import NCA
from ncaforge.interventions.injection import adversary_mask
from ncaforge.interventions.intervened import Intervened
from ncaforge.interventions.perturbation import Perturbation
from ncaforge.interventions.phases import Measure, Phase, PhaseRun, run_phases
from ncaforge.objectives.losses import rgba_mse

VARIANT_MARGIN = 0.5  # a sample shows the variant: its MSE to it at most this times that to the original


def aligned_mse(x: torch.Tensor, target: torch.Tensor, rgba: list[int], shift: int = 2) -> torch.Tensor:
    """Per-sample RGBA MSE to ``target`` at the best integer offset within ``shift`` pixels.

    A host that regrows its pattern whole but a pixel off scores as badly on plain MSE
    as a malformed one; this tells the two apart (the grid wraps, so keep patterns
    ``shift`` pixels from its edge).
    """
    offsets = range(-shift, shift + 1)
    return torch.stack([rgba_mse(torch.roll(x, (dy, dx), (2, 3)), target, rgba)
                        for dy in offsets for dx in offsets]).amin(0)


def image_measure(host: NCA, targets: dict[str, torch.Tensor], aligned: tuple[str, ...] = ()) -> Measure:
    """Per-sample RGBA MSE to each named target (``mse_<name>``) and, for the targets named in
    ``aligned``, the shift-aligned MSE (``aligned_mse_<name>``, see :func:`aligned_mse`)."""
    rgba = host.layout.rgba

    def measure(x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {f"mse_{name}": rgba_mse(x, t.to(x.device), rgba) for name, t in targets.items()}
        out.update({f"aligned_mse_{name}": aligned_mse(x, targets[name].to(x.device), rgba)
                    for name in aligned})
        return out

    return measure


def recovered_fraction(errors: np.ndarray, scale: float, factor: float = 2.0) -> float:
    """The fraction of samples whose error is within ``factor`` x ``scale`` (the plain host's)."""
    return float((errors <= factor * scale).mean())


def recovery_figures(ends: dict[str, np.ndarray], scale: float, phase: str) -> dict[str, float]:
    """``recovered_<phase>`` and ``aligned_recovered_<phase>``: the fraction of samples whose plain
    and shift-aligned MSE to the original, at the end of ``phase``, is within 2x of ``scale``."""
    return {f"{kind}recovered_{phase}": recovered_fraction(ends[f"{kind}mse_original"], scale)
            for kind in ("", "aligned_")}


@torch.no_grad()
def grown(host: NCA, height: int, width: int, samples: int, steps: int, generator: torch.Generator
          ) -> torch.Tensor:
    """``samples`` patterns grown by the host from seeds in ``steps`` steps."""
    return host.rollout(host.seed(samples, height, width), steps, generator)


def perturbation_schedule(host: NCA, perturbation: Perturbation, variant: torch.Tensor,
                          original: torch.Tensor, samples: int = 8, seed: int = 0, phase_steps: int = 300,
                          every: int = 10, progress: bool = False
                          ) -> tuple[dict[str, float], PhaseRun, PhaseRun]:
    """On / off / on from seeds, and the unperturbed host over the same steps with the same randomness.

    Keys ``mse_variant_on``, ``mse_original_on`` (step ``phase_steps``), ``..._off`` (2x),
    ``..._on_again`` (3x), the same as ``aligned_mse_original_*`` (best offset within 2
    pixels), and ``host_mse_original_off``: the unperturbed host's MSE to the original at
    the end of the off phase, the scale for recovery. ``recovered_off`` and
    ``aligned_recovered_off``: the fraction of samples back within 2x of that scale.
    """
    _, h, w = original.shape
    measure = image_measure(host, {"variant": variant, "original": original}, aligned=("original",))
    run = Intervened(host, perturbation=perturbation)
    phases = [Phase("on", phase_steps, run), Phase("off", phase_steps, host),
              Phase("on_again", phase_steps, run)]
    attacked = run_phases(host.seed(samples, h, w), phases, measure, torch.Generator().manual_seed(seed),
                          every, progress)
    plain = run_phases(host.seed(samples, h, w), [Phase(p.name, p.steps, host) for p in phases], measure,
                       torch.Generator().manual_seed(seed), every, progress)
    out = attacked.mean_at_ends()
    out.update({f"host_{k}": v for k, v in plain.mean_at_ends().items()})
    out.update(recovery_figures(attacked.ends["off"], out["host_mse_original_off"], "off"))
    return out, attacked, plain


@torch.no_grad()
def perturbation_effect(host: NCA, perturbation: Perturbation, targets: dict[str, torch.Tensor],
                        samples: int = 8, seed: int = 0, steps: int = 300) -> dict[str, float]:
    """Mean MSE to each target after ``steps`` steps from seeds under ``perturbation``."""
    _, h, w = next(iter(targets.values())).shape
    x = Intervened(host, perturbation=perturbation).rollout(host.seed(samples, h, w), steps,
                                                           torch.Generator().manual_seed(seed))
    return {k: float(v.mean()) for k, v in image_measure(host, targets)(x).items()}


def injection_schedule(host: NCA, adversary: NCA, variant: torch.Tensor, original: torch.Tensor,
                       fraction: float, region: torch.Tensor | None = None, samples: int = 8, seed: int = 0,
                       grow_steps: int = 200, attack_steps: int = 300, removed_steps: int = 300,
                       every: int = 10, progress: bool = False) -> tuple[dict[str, float], PhaseRun]:
    """Grown host patterns get adversaries for ``attack_steps``; then they are removed.

    Keys ``mse_variant_attack``, ``mse_original_attack``, ``mse_variant_removed``,
    ``mse_original_removed`` (and ``aligned_mse_original_*``, best offset within 2 pixels),
    ``host_mse_original``: the host alone after as many steps, and ``recovered_removed``,
    ``aligned_recovered_removed``: the fraction of samples back within 2x of it; ``variant_reached``:
    the fraction of samples that show the variant at the end of the attack (their MSE to it at most
    half their MSE to the original).
    """
    _, h, w = original.shape
    g = torch.Generator().manual_seed(seed)
    x = grown(host, h, w, samples, grow_steps, g)
    mask = adversary_mask(samples, h, w, fraction, region, g, x.device)
    measure = image_measure(host, {"variant": variant, "original": original}, aligned=("original",))
    run = run_phases(x, [Phase("attack", attack_steps, Intervened(host, adversary=adversary), mask),
                         Phase("removed", removed_steps, host)], measure, g, every, progress)
    alone = host.rollout(x, attack_steps + removed_steps, torch.Generator().manual_seed(seed + 1))
    out = run.mean_at_ends()
    out["host_mse_original"] = float(rgba_mse(alone, original, host.layout.rgba).mean())
    out.update(recovery_figures(run.ends["removed"], out["host_mse_original"], "removed"))
    ends = run.ends["attack"]
    out["variant_reached"] = float((ends["mse_variant"] <= VARIANT_MARGIN * ends["mse_original"]).mean())
    out["adversary_cells"] = float(mask.sum(dim=(1, 2, 3)).float().mean())
    return out, run
