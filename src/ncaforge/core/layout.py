"""Channel roles of a grid state, declared once per model."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class Layout:
    """Which channels of a (B, C, H, W) state mean what.

    ``rgb`` and ``alpha`` are optional so that models without colour (classifiers,
    PDEs) use the same object. RGB is stored premultiplied by alpha.
    """

    channels: int
    rgb: tuple[int, int, int] | None = (0, 1, 2)
    alpha: int | None = 3
    readonly: tuple[int, ...] = ()  # inputs the rule reads but never writes (a digit image)
    living: int | None = None  # a read-only channel: only cells where it exceeds the threshold update

    def __post_init__(self) -> None:
        used = [*(self.rgb or ()), *([self.alpha] if self.alpha is not None else []), *self.readonly,
                *([self.living] if self.living is not None else [])]
        bad = [c for c in used if not 0 <= c < self.channels]
        if bad:
            raise ValueError(f"Layout: channel index {bad} outside 0..{self.channels - 1}")
        if self.living is not None and self.living not in self.readonly:
            raise ValueError(f"Layout: the living channel {self.living} must be read-only")

    @property
    def mutable(self) -> list[int]:
        """The channels the update rule writes, in order."""
        return [c for c in range(self.channels) if c not in self.readonly]

    @property
    def rgba(self) -> list[int]:
        """The indices of the visible channels, RGB then alpha."""
        if self.rgb is None or self.alpha is None:
            raise ValueError("this layout has no RGBA channels")
        return [*self.rgb, self.alpha]

    def keep_inputs(self, cleared: torch.Tensor, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        """``cleared`` (states after alive masking) with the read-only channels of ``x`` put back: inputs
        such as a class one-hot stay in every cell, living or not. ``dim``: the channel dimension."""
        if not self.readonly:
            return cleared
        idx = torch.tensor(self.readonly, device=x.device)
        return cleared.index_copy(dim, idx, x.index_select(dim, idx))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Layout:
        rgb = d.get("rgb")
        return cls(channels=int(d["channels"]), rgb=tuple(rgb) if rgb is not None else None,
                   alpha=d.get("alpha"), readonly=tuple(d.get("readonly", ())), living=d.get("living"))
