"""The ``nca`` command: train, grow, evaluate, attack, import and browse the zoo."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click

from ncaforge.cli import analyse, arc, attack, data, evaluate, robustness, show, texture, tools, train, web
from ncaforge.core.errors import NcaError


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler's preemption), stopping a command as Ctrl-C does."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


class Main(click.Group):
    """The command group that turns the library's errors (bad input, damaged files, diverged runs) and
    the system's (a full disk, a read-only folder) into one line and exit code 1; Ctrl-C into 130 and
    SIGTERM into 143, both after what stops on Ctrl-C (a training run: its last checkpoint) is kept."""

    def invoke(self, ctx: click.Context) -> Any:
        main_thread = threading.current_thread() is threading.main_thread()  # only it may take signals
        previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
        try:
            return super().invoke(ctx)
        except NcaError as e:
            raise click.ClickException(str(e)) from e
        except OSError as e:
            where = f": {e.filename}" if e.filename else ""
            raise click.ClickException(f"{e.strerror or e}{where}") from e
        except Terminated:
            click.echo("terminated", err=True)
            ctx.exit(143)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        finally:
            if main_thread:  # a caller's own handler (the command run in-process, e.g. by a test) comes back
                signal.signal(signal.SIGTERM, previous)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ncaforge")
def main() -> None:
    """ncaforge: grow, train, damage and analyse Neural Cellular Automata.

    Start with `nca demo`, `nca play` (in the browser), or `nca grow --model lizard`.
    Every command has --help.
    """


for command in (train.train, show.grow, show.classify, evaluate.eval_, attack.attack, attack.perturb,
                robustness.robustness, tools.import_, data.data, texture.texture, arc.arc, web.export,
                web.play, analyse.analyse, tools.zoo, tools.bench, tools.demo):
    main.add_command(command)
evaluate.eval_.add_command(attack.eval_attack)
