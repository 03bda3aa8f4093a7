"""`nca train FAMILY`: one command per registered family, its options read from the family's dataclasses."""

from __future__ import annotations

from typing import Any

import click

from ncaforge.cli.common import fail, init_record, resumed, run_training, start_from, training_options
from ncaforge.cli.options import FamilyCommands, options_of, pick
from ncaforge.core import family as registry


def train_command(family: registry.Family) -> click.Command:
    """`nca train NAME`: the family's model config and task fields as options, plus the training options."""
    s = family.schedule
    params = [*options_of(family.config), *options_of(family.task),
              *training_options(s.iterations, s.lr, s.lr_drops),
              click.Option(["--init", "init"], default=None, metavar="NAME|DIR",
                           help="Start from the weights of this model of the family (a zoo name or "
                                "checkpoint; same shapes), e.g. to fine-tune with other settings.")]
    names = [p.name for p in params]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise registry.FamilyError(f"family {family.name!r}: options {clash} appear twice (config, task or "
                                   "the training options)")

    def callback(**values: Any) -> None:
        values, provenance = resumed(values)
        config, task = pick(family.config, values), pick(family.task, values)

        def build(group: Any) -> Any:
            try:
                model = family.build(config).to(group.device)
                if values["init"]:
                    start_from(model, values["init"], family.name)
                return family.objective(model, task, group, values["grad_checkpoint"])
            except (ValueError, OSError) as e:
                fail(str(e))

        run_training(build, values, provenance or init_record(values["init"], family.name), s.optimizer)

    return click.Command(family.cli_name, callback=callback, params=params,
                         help=f"{family.summary}.\n\nUnder torchrun, batch and pool sizes are global: each "
                              "process trains on its share.", short_help=family.summary)


@click.group(cls=FamilyCommands, make=train_command, capability="objective")
def train() -> None:
    """Train a model (checkpoints, metrics, --resume).

    Every run writes checkpoint/, metrics.jsonl and loss.png to --out; --resume continues
    a stopped run with its own settings.
    """
