"""The ``nca`` command: train, grow, evaluate, attack, import and browse the zoo."""

from __future__ import annotations

import click

from ncaforge.cli import attack, data, evaluate, show, tools, train, web


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ncaforge")
def main() -> None:
    """ncaforge: grow, train, damage and analyse Neural Cellular Automata.

    Start with `nca demo`, `nca play` (in the browser), or `nca grow --model lizard`.
    Every command has --help.
    """


for command in (train.train, show.grow, show.classify, evaluate.eval_, attack.attack, attack.perturb,
                tools.import_, data.data, web.export, web.play, tools.zoo, tools.bench, tools.demo):
    main.add_command(command)
evaluate.eval_.add_command(attack.eval_attack)
