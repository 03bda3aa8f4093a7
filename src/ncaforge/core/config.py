"""The dataclass configs that checkpoints record: their JSON round trip, and every value checked.

A field may say in its metadata what it accepts beyond its type: ``min`` / ``max`` (inclusive bounds,
of each value of a tuple), ``choices``, ``nonempty`` (a tuple) and ``interval`` (a pair LO < HI); the
same metadata gives the command-line options their ranges (cli/options.py).
"""

from __future__ import annotations

import math
import numbers
import os
import types
import typing
from dataclasses import asdict, fields
from functools import cache
from typing import Any, TypeVar

from ncaforge.core.errors import ConfigError

T = TypeVar("T", bound="Config")


class Config:
    """A dataclass mixin: values are checked when an instance is made (from Python, the command line or
    a checkpoint), so ``"channels": "16"`` or ``hidden=0`` is an error naming the field, never a model
    built from it. Tuples travel as JSON lists; unknown keys are ignored on reading (a checkpoint written
    by a newer version with more settings still loads)."""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in fields(self):  # type: ignore[arg-type]
            value = checked(getattr(self, f.name), hints[f.name], f"{type(self).__name__}.{f.name}",
                            f.metadata)
            object.__setattr__(self, f.name, value)  # frozen dataclasses too

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        if not isinstance(d, dict):
            raise ConfigError(cls.__name__, f"expected a JSON object of settings, got {_kind(d)}")
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def checked(value: Any, hint: Any, where: str, meta: typing.Mapping[str, Any] | None = None) -> Any:
    """``value`` as type ``hint`` within ``meta``'s bounds and choices (lists become tuples, integers
    floats, paths strings), or a ConfigError that names ``where``."""
    meta = meta or {}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return checked(value, inner, where, meta)
    if origin is tuple and isinstance(value, list | tuple):
        if len(args) == 2 and args[1] is Ellipsis:
            hints = [args[0]] * len(value)
        elif len(value) == len(args):
            hints = list(args)
        else:
            raise ConfigError(where, f"expected {len(args)} values, got {len(value)}")
        value = tuple(checked(v, h, f"{where}[{i}]", meta) for i, (v, h) in enumerate(zip(value, hints,
                                                                                         strict=True)))
        if meta.get("nonempty") and not value:
            raise ConfigError(where, "expected at least one value, got none")
        if meta.get("interval") and not value[0] < value[1]:
            raise ConfigError(where, f"[{value[0]}, {value[1]}) is empty: the end must exceed the start")
        return value
    value = _typed(value, hint, where)
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(where, f"{value!r} is not one of {', '.join(map(repr, meta['choices']))}")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(where, f"{value} is below the least allowed value, {meta['min']}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(where, f"{value} is above the greatest allowed value, {meta['max']}")
    return value


def _typed(value: Any, hint: Any, where: str) -> Any:
    if hint is Any or typing.get_origin(hint) is typing.ClassVar:
        return value
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if hint is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(where, f"expected a finite number, got {value}")
        return float(value)
    if hint is str and isinstance(value, str | os.PathLike):
        return os.fspath(value)
    if typing.get_origin(hint) is dict and isinstance(value, dict):
        return value
    if hint not in (bool, int, float, str) and typing.get_origin(hint) not in (tuple, dict):
        return value  # a type this check does not know
    raise ConfigError(where, f"expected {_name(hint)}, got {_kind(value)}")


def _name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        hint, "a list" if origin is tuple else "an object" if origin is dict else str(hint))


def _kind(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})" if len(repr(value)) < 40 else type(value).__name__
