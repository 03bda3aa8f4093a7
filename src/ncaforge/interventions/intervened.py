"""A frozen host NCA run under interventions: a global perturbation and/or adversarial cells.

``Intervened(host, perturbation, adversary)`` runs like an NCA (``step``, ``rollout``,
calling it runs a rollout) with the host's randomness, so the same generator gives
the same fire masks with and without the interventions. Each step: the
perturbation (alive mask taken first, then ``clip(x A) * alive``), then the host's
step in which the cells of ``mask`` use the adversary's rule. Only the perturbation
and the adversary have trainable parameters; the host is frozen.
"""

from __future__ import annotations

import torch
from torch import nn

from ncaforge.core.nca import NCA
from ncaforge.core.rollout import IMPLEMENTATIONS, Stepper, run_rollout
from ncaforge.interventions.injection import mixed_delta
from ncaforge.interventions.perturbation import Perturbation


class Intervened(nn.Module):
    """``host`` with an optional ``perturbation`` and an optional ``adversary`` rule (same layout)."""

    def __init__(self, host: NCA, perturbation: Perturbation | None = None, adversary: NCA | None = None,
                 freeze: bool = True) -> None:
        """``freeze`` False leaves the host trainable (hardening: the host learns under attack)."""
        super().__init__()
        if perturbation is not None and perturbation.channels != host.layout.channels:
            raise ValueError(f"the perturbation acts on {perturbation.channels} channels, the host has "
                             f"{host.layout.channels}")
        if adversary is not None and adversary.layout != host.layout:
            raise ValueError(f"the adversary's channel layout {adversary.layout} differs from the "
                             f"host's {host.layout}")
        self.host, self.perturbation, self.adversary = host, perturbation, adversary
        if freeze:
            host.requires_grad_(False)
        self.layout = host.layout

    def draw(self, grid: tuple[int, int, int], device: torch.device,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.host.draw(grid, device, generator)

    def _alive(self, x: torch.Tensor) -> torch.Tensor | None:
        """The cells a perturbation acts on: alive (alpha models) or living (classifiers)."""
        alive = self.host.alive(x)
        return alive if alive is not None else self.host.living(x)

    def _check_mask(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        if mask is None or self.adversary is None:
            return None
        b, _, h, w = x.shape
        if mask.dtype != torch.bool or mask.shape not in ((b, 1, h, w), (1, 1, h, w)):
            raise ValueError(f"the adversary mask must be bool (B, 1, H, W) = {(b, 1, h, w)} "
                             f"(or batch 1), got {mask.dtype} {tuple(mask.shape)}")
        return mask.expand(b, 1, h, w).to(x.device)

    def step(self, x: torch.Tensor, fire: torch.Tensor | None = None,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
             mask: torch.Tensor | None = None) -> torch.Tensor:
        """One step (the reference implementation); ``mask`` (B, 1, H, W) bool marks adversarial cells."""
        if fire is None:
            fire, noise = self.draw((x.shape[0], x.shape[2], x.shape[3]), x.device, generator)
        mask = self._check_mask(x, mask)
        if self.perturbation is not None:
            x = self.perturbation.apply(x, self._alive(x), self.layout.readonly)
        delta = None if mask is None else mixed_delta(self.host.delta, self.adversary.delta, mask)
        return self.host.step(x, fire, noise=noise, delta=delta)

    def _stepper(self, impl: str, device: torch.device, mask: torch.Tensor | None) -> Stepper:
        impl = self.host.resolve_impl(impl, device)
        entry = IMPLEMENTATIONS.get(impl)
        fast = entry is not None and entry.interventions and (
            self.adversary is None or entry.supports(self.adversary))
        if not fast:  # kernels that know no interventions: the reference runs them
            return (lambda x: x), (lambda x, f, n: self.step(x, f, noise=n, mask=mask)), (lambda x: x)
        host = entry.make(self.host)
        adversary = entry.make(self.adversary) if mask is not None else None
        readonly = self.layout.readonly

        def step(z: torch.Tensor, fire: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
            if self.perturbation is not None:
                z = self.perturbation.apply(z, host.alive(z), readonly, channels_last=host.channels_last)
            return host.step(z, fire, noise, adversary, mask)

        return host.to_internal, step, host.to_bchw

    def rollout(self, x: torch.Tensor, steps: int, generator: torch.Generator | None = None,
                trajectory: bool = False, checkpoint_every: int = 0, impl: str = "auto",
                mask: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run ``steps`` steps from ``x`` as :meth:`NCA.rollout` does, with adversaries at ``mask``."""
        mask = self._check_mask(x, mask)
        return run_rollout(self._stepper(impl, x.device, mask), self.draw, x, steps, generator, trajectory,
                           checkpoint_every)

    def forward(self, x: torch.Tensor, steps: int, generator: torch.Generator | None = None,
                **options: object) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        return self.rollout(x, steps, generator, **options)

    def clipped_rollout(self, x: torch.Tensor, steps: int, clip: float,
                        generator: torch.Generator | None = None, mask: torch.Tensor | None = None
                        ) -> torch.Tensor:
        """``steps`` attacked steps with states clipped to +-``clip`` after each: an attack kept within the
        host's own range (unclipped, a trained adversary learns to blow the states up)."""
        for _ in range(steps):
            x = self.rollout(x, 1, generator, mask=mask).clamp(-clip, clip)
        return x

    def seed(self, batch: int, height: int, width: int) -> torch.Tensor:
        return self.host.seed(batch, height, width)

    @property
    def trained(self) -> nn.Module:
        """The one module an attack trains: the adversary or the perturbation."""
        if (self.adversary is None) == (self.perturbation is None):
            raise ValueError("an attack trains exactly one of an adversary and a perturbation")
        return self.adversary if self.adversary is not None else self.perturbation


def attack_rule(host: NCA, attack: str, clip: float = 3.0) -> Intervened:
    """``host`` under a new, untrained attack: an adversary of the host's own family and config
    (``attack = "adversary"``) or the identity perturbation clipped at ``clip`` ("perturbation")."""
    from ncaforge.core.family import build, family_of

    device = next(host.parameters()).device
    if attack == "adversary":
        return Intervened(host, adversary=build(family_of(host).name, host.config).to(device))
    if attack == "perturbation":
        return Intervened(host, perturbation=Perturbation.identity(host.layout.channels, clip).to(device))
    raise ValueError(f"attack must be 'adversary' or 'perturbation', got {attack!r}")
