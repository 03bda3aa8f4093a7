"""What the `nca` commands share: errors, model and target lookup, training options and loop."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
import torch

from ncaforge.core.nca import NCA

if TYPE_CHECKING:
    from ncaforge.training.distributed import Group


def fail(message: str) -> NoReturn:
    """Stop with a one-line error (exit code 1) instead of a traceback."""
    raise click.ClickException(message)


def training_options(iterations: int | None, lr: float | None, lr_drops: tuple[int, ...] | None) -> Callable:
    """The options every training command shares, with the task's own schedule as defaults.

    A default of None means the command picks one (e.g. by the host model's family).
    """
    options = [
        click.option("--iterations", type=int, default=iterations, show_default=True),
        click.option("--lr", type=float, default=lr, show_default=True),
        click.option("--lr-drop", "lr_drops", multiple=True, type=int, default=lr_drops, show_default=True,
                     help="Iteration at which the learning rate is multiplied by 0.1 (repeatable)."),
        click.option("--seed", default=0, show_default=True),
        click.option("--checkpoint-every", default=100, show_default=True,
                     help="Iterations between checkpoints."),
        click.option("--grad-checkpoint", default=0, show_default=True,
                     help="Recompute activations in blocks of this many steps (0: off) to save memory."),
        click.option("--threads", default=0, help="CPU threads (0: PyTorch's default)."),
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
                     help="Run directory."),
        click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint."),
        click.option("--device", default=None, help="cpu or cuda [cuda when available]."),
    ]

    def decorate(f: Callable) -> Callable:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def run_training(build: Callable[[Group], object], describe: str, run: dict, extra: dict,
           provenance: dict, optimizer: str = "adam") -> None:
    """Set up processes, build (model, objective) with ``build(group)``, train, report.

    ``run`` holds the shared options of `training_options`; ``extra`` the task's own
    settings, recorded in the run's config.
    """
    from ncaforge.training import distributed
    from ncaforge.training.trainer import TrainConfig, Trainer, TrainingError

    if run["threads"]:
        torch.set_num_threads(run["threads"])
    group = distributed.setup(run["device"])
    torch.manual_seed(run["seed"])
    try:
        objective = build(group)
    except ValueError as e:
        fail(str(e))
    config = TrainConfig(iterations=run["iterations"], lr=run["lr"], lr_drops=tuple(run["lr_drops"]),
                         optimizer=optimizer,
                         checkpoint_every=run["checkpoint_every"], seed=run["seed"],
                         extra={**extra, "processes": group.world})
    provenance = {"command": "nca " + shlex.join(sys.argv[1:]), "seed": run["seed"], **provenance}
    out = run["out"]
    trainer = Trainer(objective, out, config, provenance, group)
    if group.main:
        on = f" on {group.world} processes" if group.world > 1 else ""
        click.echo(f"training {describe} -> {out}{on}")
    start = time.time()
    try:
        records = trainer.fit(resume=run["resume"])
    except TrainingError as e:
        fail(str(e))
    finally:
        distributed.teardown()
    if group.main:
        click.echo(f"done: iteration {trainer.iteration}, loss {records[-1]['loss']:.5f}, "
                   f"{time.time() - start:.0f}s this session; model in {out / 'checkpoint'}")


def echo_figures(figures: dict[str, float], digits: int = 6) -> None:
    """One right-aligned ``key: value`` line per figure."""
    width = max(map(len, figures))
    for key, v in figures.items():
        click.echo(f"{key:>{width}}: {v:.{digits}f}")


def load_model(spec: str, family: str | None = None) -> NCA:
    from ncaforge import zoo
    from ncaforge.io.checkpoint import CheckpointError

    try:
        return zoo.load(spec, family=family)
    except CheckpointError as e:
        fail(str(e))


def grid_of(model: NCA, size: tuple[int, int] | None) -> tuple[int, int]:
    if size:
        return size
    grid = model.provenance.get("grid")
    return (int(grid[0]), int(grid[1])) if grid else (72, 72)


def target_for(model: NCA, target: str | None, target_size: int | None,
                pad: int | None) -> torch.Tensor:
    """The target a model was trained on (from its provenance), or the one given."""
    from ncaforge.data.targets import TargetError, load_target

    prov = model.provenance
    try:
        return load_target(target or prov.get("target", "lizard"),
                           target_size or prov.get("target_size", 40),
                           prov.get("pad", 16) if pad is None else pad)
    except TargetError as e:
        fail(str(e))
