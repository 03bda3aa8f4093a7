"""Hardening: attacks inside a growing model's training loop, so that the rule learns to return to its
pattern after them (`nca train growing --harden inject,perturb,noise`).

Each batch, a few pool samples are attacked at the start of their rollout, by one kind of attack drawn
at random from those asked for, and the loss at the end of the rollout asks them to be the target again:

- ``noise``: Gaussian noise (sigma drawn from 0.05-0.3) on every channel of the living cells;
- ``perturb``: a random global perturbation (a symmetric matrix on every living cell, every step; entries
  of standard deviation drawn from 0.02-0.1) for the first steps of the rollout;
- ``inject``: 10% of the living cells follow an adversary for the first steps.

The adversary (the host's architecture) trains alongside: each batch it takes one normalised gradient
step to *raise* the host's error on the attacked samples, then the host trains against it (a min-max
game). Attacked steps clip the states to the host's own range (``default_clip`` of the batch), as the
attack suite does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ncaforge.core.family import build, family_of
from ncaforge.core.nca import NCA
from ncaforge.families.growing.task import HARDENING
from ncaforge.interventions.injection import adversary_mask
from ncaforge.interventions.intervened import Intervened
from ncaforge.interventions.perturbation import Perturbation, PerturbationConfig, default_clip
from ncaforge.objectives.losses import rgba_mse

NOISE_SIGMA = (0.05, 0.3)
PERTURBATION_STD = (0.02, 0.1)
ADVERSARY_FRACTION = 0.1
ADVERSARY_LR = 2e-3  # each of the adversary's tensors moves this far (normalised gradient) a batch


def uniform(bounds: tuple[float, float], generator: torch.Generator) -> float:
    lo, hi = bounds
    return lo + (hi - lo) * float(torch.rand(1, generator=generator))


class Hardening:
    """The attacks of ``kinds`` on ``count`` samples of each batch, acting for ``steps`` (LO, HI) steps."""

    def __init__(self, host: NCA, target: torch.Tensor, kinds: Sequence[str], count: int = 2,
                 steps: tuple[int, int] = (16, 32)) -> None:
        unknown = sorted(set(kinds) - set(HARDENING))
        if unknown or not kinds:
            raise ValueError(f"--harden takes a comma list of {', '.join(HARDENING)}; got {list(kinds)}")
        self.host, self.target, self.kinds = host, target, tuple(kinds)
        self.count, self.steps = count, steps
        self.adversary = None
        if "inject" in self.kinds:
            device = next(host.parameters()).device
            self.adversary = build(family_of(host).name, host.config).to(device).requires_grad_(False)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The co-trained adversary's weights (a resumed run goes on with it)."""
        if self.adversary is None:
            return {}
        return {f"hardening.adversary.{k}": v for k, v in self.adversary.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if self.adversary is not None:
            prefix = "hardening.adversary."
            weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if not weights:
                raise ValueError("the saved run has no hardening adversary (it was not trained with "
                                 "--harden inject)")
            self.adversary.load_state_dict(weights)

    def _mask(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        alive = self.host.alive(x)
        mask = adversary_mask(b, h, w, ADVERSARY_FRACTION, None, generator, x.device)
        return mask if alive is None else mask & alive

    def _train_adversary(self, x: torch.Tensor, steps: int, mask: torch.Tensor, clip: float,
                         generator: torch.Generator) -> None:
        """One normalised gradient step of the adversary up the host's error on states ``x``."""
        params = list(self.adversary.parameters())
        for p in params:
            p.requires_grad_(True)
        try:
            rule = Intervened(self.host, adversary=self.adversary, freeze=False)
            y = rule.clipped_rollout(x, steps, clip, generator, mask)
            error = rgba_mse(y.clamp(0.0, 1.0), self.target, self.host.layout.rgba).mean()
            grads = torch.autograd.grad(-error, params)  # the host's own gradients are left alone
        finally:
            for p in params:
                p.requires_grad_(False)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= ADVERSARY_LR * g / (g.norm() + 1e-8)

    def rollout(self, x: torch.Tensor, attacked: slice, steps: int, generator: torch.Generator,
                checkpoint_every: int = 0) -> torch.Tensor:
        """``steps`` steps of the host from ``x``; the samples ``attacked`` start under one attack."""
        kind = self.kinds[int(torch.randint(len(self.kinds), (1,), generator=generator))]
        options = {"checkpoint_every": checkpoint_every}
        if kind == "noise":
            x = x.clone()
            z = x[attacked]
            alive = self.host.alive(z)
            noise = torch.randn(z.shape, generator=generator).to(z) * uniform(NOISE_SIGMA, generator)
            x[attacked] = z + noise * (1.0 if alive is None else alive.to(z.dtype))
            return self.host(x, steps, generator, **options)
        k = min(steps, int(torch.randint(self.steps[0], self.steps[1], (1,), generator=generator)))
        z = x[attacked]
        clip = default_clip(float(x.detach().abs().max()))  # attacks act within the host's range
        if kind == "perturb":
            c = self.host.layout.channels
            direction = torch.randn(c, c, generator=generator) * uniform(PERTURBATION_STD, generator)
            config = PerturbationConfig(c, clip)
            perturbation = Perturbation(config, direction).to(z.device).requires_grad_(False)
            rule, mask = Intervened(self.host, perturbation, freeze=False), None
        else:
            mask = self._mask(z, generator)
            self._train_adversary(z.detach(), k, mask, clip, generator)
            rule = Intervened(self.host, adversary=self.adversary, freeze=False)
        z = rule.clipped_rollout(z, k, clip, generator, mask)
        rest = torch.cat([x[: attacked.start], x[attacked.stop:]])
        rest = self.host(rest, k, generator, **options)
        a = attacked.start
        x = torch.cat([rest[:a], z, rest[a:]])
        return self.host(x, steps - k, generator, **options) if steps > k else x
