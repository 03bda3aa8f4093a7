"""`nca arc solve`: an NCA per same-size ARC-AGI task of a split, trained on its pairs, scored on its
tests."""

from __future__ import annotations

from pathlib import Path

import click

from ncaforge.cli.common import fail


@click.group()
def arc() -> None:
    """ARC-AGI tasks solved by NCAs (one trained per task; `nca train arc --task ID` trains one)."""


@arc.command()
@click.option("--split", type=click.Choice(["training", "evaluation"]), default="training", show_default=True)
@click.option("--tasks", default=None, metavar="ID,...", help="Only these tasks (comma-separated ids).")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most N tasks (in id order).")
@click.option("--version", type=click.Choice(["arcagi1", "arcagi2"]), default="arcagi1", show_default=True)
@click.option("--iterations", type=click.IntRange(1), default=600, show_default=True,
              help="Training iterations per task.")
@click.option("--seed", default=0, show_default=True)
@click.option("--workers", type=click.IntRange(0), default=0, help="Processes (0: one per core).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("out/arc.json"), show_default=True,
              help="Results, written after every task; a run with the same settings resumes from it.")
def solve(split: str, tasks: str | None, limit: int | None, version: str, iterations: int, seed: int,
          workers: int, json_path: Path) -> None:
    """Train an NCA on each same-size task's training pairs and check its test outputs.

    Per task: solved (every test output exact), pixel accuracy, seconds; tasks whose outputs differ in
    size from their inputs are skipped. Totals: solved, attempted, skipped, seconds.
    """
    from ncaforge.analysis.arc import solve_split

    def report(task_id: str, result: dict) -> None:
        click.echo(f"{task_id}: {'solved' if result['solved'] else 'not solved'}, pixel accuracy "
                   f"{result['pixel_accuracy']:.3f}, {result['seconds']:.0f} s")

    ids = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
    try:
        summary = solve_split(split, json_path, ids, limit, version, iterations, seed, workers, report)
    except ValueError as e:
        fail(str(e))
    click.echo(f"solved {summary['solved']} of {summary['attempted']} attempted ({summary['skipped']} "
               f"skipped), {summary['seconds']:.0f} s of training; wrote {json_path}")
