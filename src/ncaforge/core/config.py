"""The JSON round trip of the dataclass configs that checkpoints record."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, TypeVar

T = TypeVar("T", bound="Config")


class Config:
    """``to_dict`` / ``from_dict`` for a dataclass: tuples travel as JSON lists, unknown keys are ignored
    (so that a checkpoint written by a newer version with more settings still loads)."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        names = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})
