"""Global state perturbations: one symmetric C x C matrix applied to every living cell, every step.

From "Adversarial Reprogramming of Neural Cellular Automata": before each step of a
frozen host, ``x <- clip(x A, -lo, hi) * alive(x)`` with the row-vector convention
over channels (``x'_j = sum_i x_i A_ij``) and the alive mask taken *before* the
product. A perturbation is stored by its direction ``D = A - I``, so that the
algebra reads as arithmetic: ``k * P`` is ``A_k = I + kD`` (= kA + (1-k)I), ``P + Q``
is ``I + D_P + D_Q``, and ``0 * P`` is the identity (no perturbation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ncaforge.core.config import Config

ORIGINAL_CLIP = 3.0  # the original article's clip of perturbed states


def default_clip(reach: float) -> float:
    """The clip of perturbed states: the original's 3, or 1.25x the host's own grown range ``reach`` when
    that is larger (a clip inside the host's range changes the host even under the identity)."""
    return float(max(ORIGINAL_CLIP, math.ceil(1.25 * reach)))


@dataclass
class PerturbationConfig(Config):
    """What a perturbation checkpoint's config.json records."""

    channels: int = 16
    clip: float = 3.0


class Perturbation(nn.Module):
    """A symmetric matrix ``A = I + D`` acting on cell states; ``D`` is the (trainable) direction.

    The direction is kept symmetric by construction: the parameter ``weight`` is any
    C x C matrix and ``D = (weight + weight^T) / 2``. A new perturbation is the identity.
    """

    def __init__(self, config: PerturbationConfig | None = None, direction: torch.Tensor | None = None
                 ) -> None:
        super().__init__()
        self.config = config or PerturbationConfig()
        c = self.config.channels
        if direction is None:
            direction = torch.zeros(c, c)
        if direction.shape != (c, c):
            raise ValueError(f"a perturbation of {c} channels needs a ({c}, {c}) direction, "
                             f"got {tuple(direction.shape)}")
        self.weight = nn.Parameter(direction.detach().clone().float())
        self.provenance: dict = {}
        self.task: object | None = None  # what it was trained to do (a task dataclass), if known

    @classmethod
    def from_matrix(cls, matrix: torch.Tensor, clip: float = 3.0, tolerance: float = 1e-4) -> Perturbation:
        """The perturbation whose matrix is ``matrix`` (it must be symmetric within ``tolerance``)."""
        matrix = torch.as_tensor(matrix, dtype=torch.float32)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"a perturbation matrix must be square (C, C), got {tuple(matrix.shape)}")
        asymmetry = float((matrix - matrix.T).abs().max())
        if asymmetry > tolerance:
            raise ValueError(f"a perturbation matrix must be symmetric; |A - A^T| reaches {asymmetry:.3g}")
        c = matrix.shape[0]
        return cls(PerturbationConfig(c, clip), matrix - torch.eye(c))

    @classmethod
    def identity(cls, channels: int, clip: float = 3.0) -> Perturbation:
        return cls(PerturbationConfig(channels, clip))

    @property
    def channels(self) -> int:
        return self.config.channels

    @property
    def direction(self) -> torch.Tensor:
        """``D = A - I``, symmetric."""
        return (self.weight + self.weight.T) / 2

    @property
    def matrix(self) -> torch.Tensor:
        """``A = I + D``."""
        return torch.eye(self.channels, device=self.weight.device) + self.direction

    # ----- the algebra ------------------------------------------------------
    def _with(self, direction: torch.Tensor) -> Perturbation:
        return Perturbation(PerturbationConfig(self.channels, self.config.clip), direction)

    def _check(self, other: Perturbation) -> None:
        if not isinstance(other, Perturbation) or other.channels != self.channels:
            raise ValueError(f"can only combine perturbations of {self.channels} channels, got {other!r}")

    def __mul__(self, k: float) -> Perturbation:
        """``A_k = I + k D`` (= kA + (1-k)I): k = 0 is no perturbation, k < 0 the opposite one."""
        return self._with(float(k) * self.direction.detach())

    __rmul__ = __mul__

    def __neg__(self) -> Perturbation:
        return self * -1.0

    def __add__(self, other: Perturbation) -> Perturbation:
        """``I + D_P + D_Q``: both perturbations at once (``A + B - I``)."""
        self._check(other)
        return self._with(self.direction.detach() + other.direction.detach())

    def __sub__(self, other: Perturbation) -> Perturbation:
        return self + (-other)

    def interpolate(self, other: Perturbation, k: float) -> Perturbation:
        """``kA + (1-k)B``: this perturbation at k = 1, ``other`` at k = 0."""
        return self * k + other * (1.0 - k)

    @staticmethod
    def compose(terms: Iterable[tuple[Perturbation, float]]) -> Perturbation:
        """``I + sum k_i D_i`` of (perturbation, k_i) pairs."""
        terms = list(terms)
        if not terms:
            raise ValueError("compose needs at least one (perturbation, k) term")
        total = terms[0][0] * terms[0][1]
        for p, k in terms[1:]:
            total = total + p * k
        return total

    def eigh(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Eigenvalues (ascending) and eigenvectors (columns) of ``A``: the channel mixtures it scales."""
        return torch.linalg.eigh(self.matrix.detach())

    def __repr__(self) -> str:
        return f"Perturbation(channels={self.channels}, |D|={float(self.direction.detach().norm()):.3g})"

    # ----- applying it ------------------------------------------------------
    def apply(self, x: torch.Tensor, alive: torch.Tensor | None, readonly: Iterable[int] = (),
              channels_last: bool = False) -> torch.Tensor:
        """``clip(x A) * alive``: ``alive`` is the mask taken before, broadcastable to ``x``.

        ``x`` is (B, C, H, W), or (B, H, W, C) with ``channels_last``; read-only channels
        (a classifier's digit) keep their values.
        """
        c = x.shape[-1] if channels_last else x.shape[1]
        if c != self.channels:
            raise ValueError(f"this perturbation acts on {self.channels} channels; the state has {c}")
        y = x @ self.matrix if channels_last else torch.einsum("bihw,ij->bjhw", x, self.matrix)
        y = y.clamp(-self.config.clip, self.config.clip)
        if alive is not None:
            y = y * alive.to(y.dtype)
        readonly = list(readonly)
        if readonly:
            keep = torch.zeros(c, dtype=torch.bool, device=x.device)
            keep[readonly] = True
            y = torch.where(keep if channels_last else keep[:, None, None], x, y)
        return y
