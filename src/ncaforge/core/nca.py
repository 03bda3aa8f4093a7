"""The NCA module: one rule applied by every cell, step after step."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ncaforge.core.layout import Layout
from ncaforge.core.life import alive_mask, fire_mask
from ncaforge.core.seeds import single_seed

IMPLEMENTATIONS = ("auto", "reference", "active")


class NCA(nn.Module):
    """perceive -> update -> stochastic fire -> alive masking, as in Growing NCA.

    ``perception`` maps (B, C, H, W) to (B, F, H, W) features and ``update`` maps
    those to (B, C, H, W) deltas. With ``layout.alpha`` set, cells whose 3x3
    neighbourhood has no alpha > ``alive_threshold`` before *and* after the update
    are cleared; with it unset every cell lives.
    """

    def __init__(self, layout: Layout, perception: nn.Module, update: nn.Module,
                 fire_rate: float = 0.5, alive_threshold: float = 0.1) -> None:
        super().__init__()
        if not 0.0 < fire_rate <= 1.0:
            raise ValueError(f"fire_rate must be in (0, 1], got {fire_rate}")
        self.layout, self.perception, self.update = layout, perception, update
        self.fire_rate, self.alive_threshold = fire_rate, alive_threshold
        self.config: object | None = None  # the family config that built this model, if any
        self.provenance: dict = {}  # how the weights were made (filled when loaded)

    @property
    def circular(self) -> bool:
        return getattr(self.perception, "padding", "zeros") == "circular"

    def alive(self, x: torch.Tensor) -> torch.Tensor | None:
        """The (B, 1, H, W) alive mask, or None when this model has no alpha channel."""
        if self.layout.alpha is None:
            return None
        return alive_mask(x, self.layout.alpha, self.alive_threshold, self.circular)

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """The proposed change of every cell, before fire and alive masks."""
        return self.update(self.perception(x))

    def fire(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw this step's (B, 1, H, W) fire mask for state ``x``."""
        b, _, h, w = x.shape
        return fire_mask((b, h, w), self.fire_rate, x.device, generator)

    def step(self, x: torch.Tensor, fire: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """One update of every cell (the reference); ``fire`` fixes the random mask if given."""
        if fire is None:
            fire = self.fire(x, generator)
        pre = self.alive(x)
        x = x + self.delta(x) * fire.to(x.dtype)
        if pre is None:
            return x
        return x * (pre & self.alive(x))

    def _stepper(self, impl: str) -> tuple[Callable, Callable, Callable]:
        """(to_internal, step(x, fire), to_bchw) for the chosen implementation."""
        if impl not in IMPLEMENTATIONS:
            raise ValueError(f"impl must be one of {IMPLEMENTATIONS}, got {impl!r}")
        from ncaforge.kernels import active_cells

        if impl == "active" or (impl == "auto" and active_cells.supports(self)):
            fast = active_cells.ActiveCellStepper(self)
            return (lambda x: x.permute(0, 2, 3, 1), lambda x, f: fast.step(x, f[:, 0]),
                    lambda x: x.permute(0, 3, 1, 2))
        return (lambda x: x), self.step, (lambda x: x)

    def rollout(self, x: torch.Tensor, steps: int, generator: torch.Generator | None = None,
                trajectory: bool = False, checkpoint_every: int = 0, impl: str = "auto"
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run ``steps`` steps from ``x``.

        With ``trajectory`` also returns every state (steps + 1, B, C, H, W), the
        first being ``x``. With ``checkpoint_every = k > 0`` and gradients on, the
        rollout is split into blocks of k steps whose activations are recomputed in
        the backward pass, so memory does not grow with the number of steps. Fire
        masks are drawn from ``generator`` in the same order by every
        implementation, so all of them compute the same rollout.
        """
        to_internal, step, to_bchw = self._stepper(impl)

        def block(z: torch.Tensor, fires: torch.Tensor) -> torch.Tensor:
            for fire in fires:
                z = step(z, fire)
            return z

        states = [x] if trajectory else None
        z, done = to_internal(x), 0
        while done < steps:
            n = 1 if trajectory else min(checkpoint_every or steps, steps - done)
            fires = torch.stack([self.fire(x, generator) for _ in range(n)])
            if checkpoint_every and torch.is_grad_enabled():
                z = checkpoint(block, z, fires, use_reentrant=False)
            else:
                z = block(z, fires)
            done += n
            if states is not None:
                states.append(to_bchw(z))
        x = to_bchw(z)
        if states is not None:
            return x, torch.stack(states)
        return x

    def seed(self, batch: int, height: int, width: int) -> torch.Tensor:
        """The standard seed state of this model's layout on this model's device."""
        device = next(self.parameters()).device
        return single_seed(self.layout, batch, height, width, device)
