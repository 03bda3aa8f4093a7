"""What the `nca` commands share: errors, model lookup, the training options and their run."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from torch import nn

from ncaforge.cli.options import given, is_list_option
from ncaforge.render.text import blown_up, number


def fail(message: str) -> None:
    """Stop with a one-line error (exit code 1) instead of a traceback."""
    raise click.ClickException(message)


def device_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --device that names a device this machine has (cpu, cuda, cuda:N), or a usage error."""
    import torch

    if value is None:
        return None
    try:
        device = torch.device(value)
    except RuntimeError:
        raise click.BadParameter(f"{value!r} is not a device: use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or (device.index or 0) >= torch.cuda.device_count()):
        raise click.BadParameter(f"{value!r}: this machine has {torch.cuda.device_count()} CUDA devices")
    if device.type not in ("cpu", "cuda"):
        raise click.BadParameter(f"{value!r}: ncaforge runs on cpu or cuda")
    return value


def command_line() -> str:
    """The running command as it could be typed again: its name and the options given explicitly."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return "nca " + shlex.join(sys.argv[1:])
    words = ["nca", *ctx.command_path.split()[1:]]
    explicit = given(ctx)
    for param in ctx.command.params:
        if param.name not in explicit or not isinstance(param, click.Option):
            continue
        value, flag = ctx.params[param.name], param.opts[0]
        if param.is_flag:
            words += [flag] if value else []
        elif is_list_option(param):  # typed back as it was given: INT,INT,...
            words += [flag, ",".join(map(str, value))]
        elif param.multiple:
            for v in value:
                words += [flag, *map(str, v if isinstance(v, tuple) else (v,))]
        else:
            words += [flag, *map(str, value if isinstance(value, tuple) else (value,))]
    return shlex.join(words)


def training_options(iterations: int | None, lr: float | None, lr_drops: tuple[int, ...] | None
                     ) -> list[click.Option]:
    """The options every training command shares, with the task's own schedule as defaults.

    A default of None means the command picks one (e.g. by the host model's family).
    """
    return [
        click.Option(["--iterations", "iterations"], type=click.IntRange(1), default=iterations,
                     show_default=True, help="Iterations to train to (a resumed run may be given more)."),
        click.Option(["--lr", "lr"], type=click.FloatRange(0, 10, min_open=True), default=lr,
                     show_default=True, help="Learning rate."),
        click.Option(["--lr-drop", "lr_drops"], multiple=True, type=click.IntRange(1), default=lr_drops,
                     show_default=True,
                     help="Iteration at which the learning rate is multiplied by 0.1 (repeatable)."),
        click.Option(["--seed", "seed"], default=0, show_default=True, help="Seed of every random draw."),
        click.Option(["--checkpoint-every", "checkpoint_every"], type=click.IntRange(1), default=100,
                     show_default=True, help="Iterations between checkpoints."),
        click.Option(["--grad-checkpoint", "grad_checkpoint"], type=click.IntRange(0), default=0,
                     show_default=True,
                     help="Recompute activations in blocks of this many steps (0: off) to save memory."),
        click.Option(["--threads", "threads"], type=click.IntRange(0), default=0,
                help="CPU threads (0: PyTorch's default)."),
        click.Option(["--out", "out"], type=click.Path(file_okay=False, path_type=Path), required=True,
                     help="Run directory."),
        click.Option(["--resume", "resume"], is_flag=True,
                     help="Continue the run in --out from its last checkpoint, with its own settings."),
        click.Option(["--device", "device"], default=None, callback=device_option,
                     help="cpu, cuda or cuda:N [cuda when available]."),
    ]


def with_training_options(iterations: int | None, lr: float | None, lr_drops: tuple[int, ...] | None
                          ) -> Callable:
    """A decorator form of :func:`training_options`."""
    from ncaforge.cli.options import with_options

    return with_options(training_options(iterations, lr, lr_drops))


def resumed(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(values to train with, provenance to keep): on --resume, the run's stored settings win."""
    from ncaforge.training.run import resume_settings, resumed_provenance

    if not values["resume"]:
        return values, None
    ctx = click.get_current_context()
    flags = {p.name: p.opts[0] for p in ctx.command.params}
    merged, changes = resume_settings(values["out"], values, given(ctx), flags)
    if changes:
        click.echo("resuming with " + ", ".join(f"{flags.get(k, k)} {v}" for k, v in changes.items()))
    return merged, resumed_provenance(merged.pop("provenance"), command_line(), changes)


def run_training(build: Callable, values: dict[str, Any], provenance: dict[str, Any],
                 optimizer: str = "adam", extra: dict[str, Any] | None = None) -> nn.Module:
    """Train the objective ``build(group)`` makes with the shared options in ``values``; report.

    Returns the trained module (what the objective's model is).
    """
    from ncaforge.core.family import FamilyError
    from ncaforge.training.run import schedule_of, train
    from ncaforge.training.trainer import TrainingError

    config = schedule_of(values, optimizer, extra)
    provenance = {"command": command_line(), "seed": values["seed"], **provenance}
    out = values["out"]
    start = time.time()

    def announce(group: Any) -> Any:
        objective = build(group)
        if group.main:
            on = f" on {group.world} processes" if group.world > 1 else ""
            click.echo(f"training {getattr(objective, 'summary', 'a model')} -> {out}{on}")
        return objective

    try:
        trainer = train(announce, config, out, provenance, resume=values["resume"], device=values["device"],
                        threads=values["threads"])
    except (TrainingError, FamilyError, OSError, ValueError) as e:
        fail(str(e))
    if trainer.group.main:
        loss = trainer.records[-1]["loss"] if trainer.records else float("nan")
        click.echo(f"done: iteration {trainer.iteration}, loss {loss:.5f}, "
                   f"{time.time() - start:.0f}s this session; model in {Path(out) / 'checkpoint'}")
    return trainer.objective.model


def echo_figures(figures: dict[str, Any]) -> None:
    """One right-aligned ``key: value`` line per figure, and a warning when a figure is not finite
    or beyond 1e6 (the model diverged during the evaluation)."""
    if not figures:
        return
    width = max(map(len, figures))
    for key, v in figures.items():
        click.echo(f"{key:>{width}}: {number(v)}")  # a format that fits the magnitude
    diverged = blown_up(figures)
    if diverged:
        click.echo(f"warning: {', '.join(diverged)} diverged (not finite, or beyond 1e6): the model's states "
                   "blew up during the evaluation", err=True)


def load_model(spec: str, family: str | None = None) -> nn.Module:
    """A zoo model or checkpoint directory (a CheckpointError, printed as one line, if it is neither or
    does not fit)."""
    from ncaforge import zoo

    return zoo.load(spec, family=family)


def init_record(spec: str | None, family: str | None = None) -> dict[str, Any]:
    """What a run started from ``spec`` (``--init``) records: its name and its own provenance, so the
    chain of commands that made the new model is kept with it."""
    if not spec:
        return {}
    return {"init": spec, "init_provenance": getattr(load_model(spec, family), "provenance", {})}


def start_from(model: Any, spec: str, family: str | None = None) -> None:
    """Copy the weights of the model ``spec`` (zoo name or checkpoint, of ``family`` if given) into
    ``model``."""
    source = load_model(spec, family).state_dict()
    mine = model.state_dict()
    wrong = sorted(k for k in mine if k not in source or source[k].shape != mine[k].shape)
    if wrong:
        raise ValueError(f"--init {spec}: its weights do not fit this model ({', '.join(wrong[:4])}"
                         f"{', ...' if len(wrong) > 4 else ''} differ); give the same model settings")
    model.load_state_dict(source)


def load_term(spec: str) -> tuple[Any, float]:
    """A perturbation and its scale from NAME|DIR[:k]."""
    from ncaforge import zoo

    return zoo.load_term(spec)


def composed(specs: tuple[str, ...]) -> Any:
    """``I + sum k_i D_i`` of NAME|DIR[:k] terms, or None."""
    from ncaforge import zoo

    return zoo.compose_terms(specs)


def is_main_process() -> bool:
    """Rank 0 under torchrun (or the only process): the one that writes files."""
    import os

    return os.environ.get("RANK", "0") == "0"


def announce(files: list[Path]) -> None:
    for f in files:
        click.echo(f"wrote {f}")
