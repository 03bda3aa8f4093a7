"""The rollout engine shared by every runnable rule (a plain NCA, a host under interventions).

A rule provides a *stepper*, ``(to_internal, step(z, fire, noise), to_bchw)``: the
state layout its step works in and the step itself, and a ``draw(grid, device,
generator)`` that returns one step's randomness. The engine runs the steps, with
nested gradient checkpointing and all randomness drawn from the generator in one
fixed order, so every implementation and every blocking computes the same rollout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch.utils.checkpoint import checkpoint

Stepper = tuple[Callable, Callable, Callable]
Randomness = tuple[torch.Tensor, torch.Tensor | None]  # a fire mask, then noise or None
Draw = Callable[[tuple[int, int, int], torch.device, torch.Generator], Randomness]


class Kernel(Protocol):
    """A fast step of one model, in its own state layout (``to_internal`` / ``to_bchw``)."""

    channels_last: bool

    def to_internal(self, x: torch.Tensor) -> torch.Tensor: ...
    def to_bchw(self, z: torch.Tensor) -> torch.Tensor: ...
    def alive(self, z: torch.Tensor) -> torch.Tensor | None: ...

    def step(self, z: torch.Tensor, fire: torch.Tensor, noise: torch.Tensor | None = None,
             adversary: Any = None, cells: torch.Tensor | None = None) -> torch.Tensor:
        """One step; ``fire`` and ``cells`` (adversarial cells, with an ``adversary`` kernel) are
        (B, 1, H, W) bool."""
        ...


@dataclass(frozen=True)
class Implementation:
    """A step implementation that joins the registry: kernels register themselves when imported.

    ``devices``: the device types on which "auto" may pick it (in registration order);
    ``supports(model)``: whether it runs this model; ``make(model)``: its :class:`Kernel`;
    ``interventions``: whether its kernels take adversaries (and perturbations between steps).
    """

    name: str
    devices: tuple[str, ...]
    supports: Callable[[Any], bool]
    make: Callable[[Any], Kernel]
    available: Callable[[], bool] = lambda: True
    interventions: bool = False


IMPLEMENTATIONS: dict[str, Implementation] = {}


def register_implementation(implementation: Implementation, before: str | None = None) -> None:
    """Add an implementation last, or just ahead of the one named ``before`` ("auto" tries them in order)."""
    entries = [(k, v) for k, v in IMPLEMENTATIONS.items() if k != implementation.name]
    at = next((i for i, (k, _) in enumerate(entries) if k == before), len(entries))
    entries.insert(at, (implementation.name, implementation))
    IMPLEMENTATIONS.clear()
    IMPLEMENTATIONS.update(entries)


def resolve(model: Any, impl: str, device: torch.device | str) -> str:
    """The implementation ``impl`` means for ``model`` on ``device``: "auto" picks the first registered
    one for this device type that supports the model, else "reference"."""
    if impl != "auto" and impl != "reference" and impl not in IMPLEMENTATIONS:
        known = ["auto", "reference", *IMPLEMENTATIONS]
        raise ValueError(f"impl must be one of {tuple(known)}, got {impl!r}")
    if impl != "auto":
        return impl
    kind = torch.device(device).type
    for entry in IMPLEMENTATIONS.values():
        if kind in entry.devices and entry.supports(model) and entry.available():  # available() may build
            return entry.name
    return "reference"


def kernel_stepper(kernel: Kernel) -> Stepper:
    """The (to_internal, step, to_bchw) of one model's kernel."""
    return kernel.to_internal, lambda z, fire, noise: kernel.step(z, fire, noise), kernel.to_bchw


def run_rollout(stepper: Stepper, draw: Draw, x: torch.Tensor, steps: int,
                generator: torch.Generator | None = None, trajectory: bool = False,
                checkpoint_every: int = 0) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Run ``steps`` steps from ``x`` (see :meth:`ncaforge.core.nca.NCA.rollout`)."""
    to_internal, step, to_bchw = stepper
    if generator is None or generator.device != x.device:
        # no generator, or one on another device (a CPU one driving a GPU rollout):
        # seed a generator here from it, or from torch's global RNG
        seed = int(torch.randint(0, 2**62, (), generator=generator).item())
        generator = torch.Generator(device=x.device).manual_seed(seed)
    k = checkpoint_every if torch.is_grad_enabled() else 0
    sizes = [] if not k else [k * k, k] if steps > k * k else [k]
    grid = (x.shape[0], x.shape[2], x.shape[3])

    def run(z: torch.Tensor, state: torch.Tensor, n: int, sizes: list[int]
            ) -> tuple[torch.Tensor, torch.Tensor]:
        """n steps from z with randomness drawn from a generator at ``state``; returns (z, end state)."""
        g = torch.Generator(device=x.device)
        g.set_state(state)
        if not sizes:
            for _ in range(n):
                z = step(z, *draw(grid, x.device, g))
            return z, g.get_state()
        done = 0
        while done < n:
            m = min(sizes[0], n - done)
            z, state = checkpoint(run, z, g.get_state(), m, sizes[1:], use_reentrant=False)
            g.set_state(state)
            done += m
        return z, g.get_state()

    z, state = to_internal(x), generator.get_state()
    if not trajectory:
        z, state = run(z, state, steps, sizes)
        generator.set_state(state)
        return to_bchw(z)
    states = [x]
    for _ in range(steps):
        z, state = run(z, state, 1, sizes[-1:])
        states.append(to_bchw(z))
    generator.set_state(state)
    return states[-1], torch.stack(states)
