"""The NCA module: one rule applied by every cell, step after step."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch import nn

from ncaforge.core.layout import Layout
from ncaforge.core.life import alive_mask, fire_mask
from ncaforge.core.rollout import IMPLEMENTATIONS, Stepper, kernel_stepper, resolve, run_rollout
from ncaforge.core.seeds import single_seed


class NCA(nn.Module):
    """perceive -> update -> stochastic fire -> alive masking, as in Growing NCA.

    ``perception`` maps (B, C, H, W) to (B, F, H, W) features and ``update`` maps
    those to deltas of the mutable channels (all but ``layout.readonly``). With
    ``layout.alpha`` set, cells whose 3x3 neighbourhood has no alpha >
    ``alive_threshold`` before *and* after the update are cleared (their read-only
    channels, inputs such as a class, excepted). With
    ``layout.living`` set, only cells whose living channel exceeds the threshold
    update, and nothing is cleared (self-classifying MNIST). ``noise`` adds
    N(0, noise^2) to every delta before masking.
    """

    # How step masks, for code that re-implements it (the playground): "pre_post", as above; a subclass
    # that redefines step declares its own (see families/isotropic: "pre", nothing is cleared).
    masking: ClassVar[str] = "pre_post"

    def __init__(self, layout: Layout, perception: nn.Module, update: nn.Module,
                 fire_rate: float = 0.5, alive_threshold: float = 0.1, noise: float = 0.0) -> None:
        super().__init__()
        if not 0.0 < fire_rate <= 1.0:
            raise ValueError(f"fire_rate must be in (0, 1], got {fire_rate}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        self.layout, self.perception, self.update = layout, perception, update
        self.fire_rate, self.alive_threshold, self.noise = fire_rate, alive_threshold, noise
        self.config: object | None = None  # the family config that built this model, if any
        self.provenance: dict = {}  # how the weights were made (filled when loaded)
        self.task: object | None = None  # what it was trained to do (a task dataclass), if known

    @property
    def circular(self) -> bool:
        return getattr(self.perception, "padding", "zeros") == "circular"

    def alive(self, x: torch.Tensor) -> torch.Tensor | None:
        """The (B, 1, H, W) alive mask, or None when this model has no alpha channel."""
        if self.layout.alpha is None:
            return None
        return alive_mask(x, self.layout.alpha, self.alive_threshold, self.circular)

    def living(self, x: torch.Tensor) -> torch.Tensor | None:
        """The (B, 1, H, W) mask of cells allowed to update, or None when all are."""
        if self.layout.living is None:
            return None
        return x[:, self.layout.living : self.layout.living + 1] > self.alive_threshold

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """The proposed change of the mutable channels of every cell, before noise and masks."""
        return self.update(self.perception(x))

    def draw(self, grid: tuple[int, int, int], device: torch.device,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One step's randomness for a (B, H, W) grid: the fire mask, then the noise (or None).

        Every implementation draws through here, in this order, so all compute the same rollout.
        """
        fire = fire_mask(grid, self.fire_rate, device, generator)
        if not self.noise:
            return fire, None
        b, h, w = grid
        return fire, torch.randn((b, len(self.layout.mutable), h, w), generator=generator,
                                 device=device) * self.noise

    def step(self, x: torch.Tensor, fire: torch.Tensor | None = None,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
             delta: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """One update of every cell (the reference); ``fire`` and ``noise`` fix the randomness if given.

        ``delta`` replaces this rule's :meth:`delta` (a population of rules: see interventions).
        """
        if fire is None:
            fire, noise = self.draw((x.shape[0], x.shape[2], x.shape[3]), x.device, generator)
        pre = self.alive(x)
        d = (delta or self.delta)(x)
        if noise is not None:
            d = d + noise
        living = self.living(x)
        d = d * (fire if living is None else fire & living).to(x.dtype)
        if self.layout.readonly:
            d = torch.zeros_like(x).index_copy(1, torch.tensor(self.layout.mutable, device=x.device), d)
        x = x + d
        if pre is None:
            return x
        return self.layout.keep_inputs(x * (pre & self.alive(x)), x)

    def forward(self, x: torch.Tensor, steps: int, generator: torch.Generator | None = None,
                **options: object) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Calling the module runs :meth:`rollout` (so that wrappers such as DDP see it)."""
        return self.rollout(x, steps, generator, **options)

    def resolve_impl(self, impl: str, device: torch.device | str) -> str:
        """The step implementation ``impl`` means for this model on ``device`` ("auto" picks one)."""
        return resolve(self, impl, device)

    def _stepper(self, impl: str, device: torch.device) -> Stepper:
        """(to_internal, step(x, fire, noise), to_bchw) for the chosen implementation."""
        impl = self.resolve_impl(impl, device)
        if impl == "reference":
            return (lambda x: x), (lambda x, f, n: self.step(x, f, noise=n)), (lambda x: x)
        return kernel_stepper(IMPLEMENTATIONS[impl].make(self))

    def rollout(self, x: torch.Tensor, steps: int, generator: torch.Generator | None = None,
                trajectory: bool = False, checkpoint_every: int = 0, impl: str = "auto"
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run ``steps`` steps from ``x``.

        With ``trajectory`` also returns every state (steps + 1, B, C, H, W), the
        first being ``x``. With ``checkpoint_every = k > 0`` and gradients on, the
        rollout is split into blocks of k steps whose activations are recomputed in
        the backward pass; rollouts longer than k*k steps nest blocks in segments of
        k*k steps, so memory stays nearly flat in the number of steps. Fire masks (and
        noise) are drawn from ``generator`` (or, without one, from a generator seeded by torch's
        global RNG) in the same order by every implementation and every blocking, so
        all of them compute the same rollout, and calling ``rollout`` twice equals one
        call of the summed length.
        """
        return run_rollout(self._stepper(impl, x.device), self.draw, x, steps, generator, trajectory,
                           checkpoint_every)

    def seed(self, batch: int, height: int, width: int) -> torch.Tensor:
        """The standard seed state of this model's layout on this model's device."""
        device = next(self.parameters()).device
        return single_seed(self.layout, batch, height, width, device)
