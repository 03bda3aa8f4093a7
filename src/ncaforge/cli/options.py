"""Command-line options made from dataclass fields, so that a family's command needs no CLI code.

Each field becomes ``--field-name`` (or ``metadata["flag"]``) with its type, default and
``metadata["help"]``; ``tuple[int, int]`` takes two numbers, ``tuple[str, ...]`` a
comma-separated list (or, with ``metadata["multiple"]``, a repeatable option),
``metadata["choices"]`` a fixed set, ``metadata["min"]`` / ``["max"]`` a range;
``metadata["cli"] = False`` hides a field that training fills in itself (a task's grid).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable, Iterable
from dataclasses import MISSING, fields
from typing import Any

import click
from click.core import ParameterSource

from ncaforge.core import family as registry
from ncaforge.core.errors import ConfigError


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """(the type, whether None is allowed) of a field's annotation."""
    args = typing.get_args(hint)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return hint, False


def _option(name: str, hint: Any, default: Any, meta: dict) -> click.Option:
    kind, _ = _unwrap(hint)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    flag = meta.get("flag", "--" + name.replace("_", "-"))
    extra: dict[str, Any] = {"help": meta.get("help"), "required": bool(meta.get("required"))}
    if default is not None and default != () and not extra["required"]:
        extra["show_default"] = True
    if meta.get("metavar"):
        extra["metavar"] = meta["metavar"]
    if origin is tuple and args and args[-1] is not Ellipsis:  # a fixed number of values
        return click.Option([flag, name], nargs=len(args), type=_ranged(args[0], meta), default=default,
                            **extra)
    if origin is tuple and meta.get("multiple"):
        return click.Option([flag, name], multiple=True, type=args[0], default=default or None, **extra)
    if origin is tuple:  # a comma-separated list
        extra.setdefault("metavar", f"{args[0].__name__.upper()},...")
        return click.Option([flag, name], type=str, callback=functools.partial(_split, kind=args[0]),
                            default=",".join(map(str, default)) if default is not None else None, **extra)
    if kind is bool:
        return click.Option([f"{flag}/--no-{flag[2:]}", name], default=default, **extra)
    if "choices" in meta:
        return click.Option([flag, name], type=click.Choice(list(meta["choices"])), default=default, **extra)
    if meta.get("path"):
        path = click.Path(file_okay=meta["path"] != "dir", dir_okay=meta["path"] != "file")
        return click.Option([flag, name], type=path, default=default, **extra)
    return click.Option([flag, name], type=_ranged(kind, meta), default=default, **extra)


def _ranged(kind: Any, meta: dict) -> Any:
    """``kind``, or a click range type when the field's metadata bounds it (``min`` / ``max``)."""
    if kind in (int, float) and ("min" in meta or "max" in meta):
        return (click.IntRange if kind is int else click.FloatRange)(meta.get("min"), meta.get("max"))
    return kind


def _split(ctx: click.Context, param: click.Parameter, value: str | None, kind: type = str
           ) -> tuple | None:
    """A comma-separated list as a tuple of ``kind`` (a click error names the bad item)."""
    if value is None:
        return None
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    try:
        return tuple(kind(v) for v in items)
    except ValueError:
        raise click.BadParameter(f"expected comma-separated {kind.__name__} values, got {value!r}") from None


def is_list_option(param: click.Parameter) -> bool:
    """Whether ``param`` takes a comma-separated list (given back as a tuple)."""
    callback = getattr(param, "callback", None)
    return isinstance(callback, functools.partial) and callback.func is _split


def exposed(cls: type) -> list[str]:
    """The names of ``cls``'s fields that are command-line options."""
    return [f.name for f in fields(cls) if f.metadata.get("cli", True)]


def options_of(cls: type, skip: Iterable[str] = ()) -> list[click.Option]:
    """One click option per exposed field of the dataclass ``cls`` (except ``skip``)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        if f.name in skip or not f.metadata.get("cli", True):
            continue
        default = f.default if f.default is not MISSING else (
            f.default_factory() if f.default_factory is not MISSING else None)
        out.append(_option(f.name, hints[f.name], default, dict(f.metadata)))
    return out


def with_options(options: list[click.Option]) -> Callable:
    """A decorator adding ``options`` to a click command, in order."""

    def decorate(f: Callable) -> Callable:
        f.__click_params__ = [*getattr(f, "__click_params__", []), *reversed(options)]
        return f

    return decorate


def pick(cls: type, values: dict[str, Any]) -> Any:
    """An instance of the dataclass ``cls`` from the values of its fields in ``values`` (None: default);
    a value the dataclass refuses is a usage error naming its option."""
    flags = {f.name: f.metadata.get("flag", "--" + f.name.replace("_", "-")) for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in values.items() if k in flags and v is not None})
    except ConfigError as e:
        name = e.where.split(".")[-1].split("[")[0]
        raise click.BadParameter(e.problem, param_hint=f"'{flags[name]}'" if name in flags else None) from e


def given(ctx: click.Context) -> set[str]:
    """The parameters of the running command set on the command line (not left at their default)."""
    return {name for name in ctx.params
            if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}


class FamilyCommands(click.Group):
    """A group whose subcommands are made from the family registry when first asked for."""

    def __init__(self, *args: Any, make: Any, capability: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.make, self.capability = make, capability

    def _families(self) -> dict[str, registry.Family]:
        return {f.cli_name: f for f in registry.with_capability(self.capability)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self._families(), *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        family = self._families().get(name)
        return self.make(family) if family is not None else None
