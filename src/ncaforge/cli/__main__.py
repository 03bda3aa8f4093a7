"""``python -m ncaforge.cli``: the same as the `nca` command."""

from ncaforge.cli import main

main()
