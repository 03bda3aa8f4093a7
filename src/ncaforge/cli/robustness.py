"""`nca robustness`: the attack suite on one model, several, or every scored model of the zoo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ncaforge.analysis.robustness import SUITE_VERSION, SuiteOptions
from ncaforge.cli.common import echo_figures, fail, load_model
from ncaforge.cli.options import options_of, pick


def zoo_subjects() -> tuple[list[str], dict[str, str]]:
    """The zoo's models the attack suite can score, and why each other one cannot (the adversaries and
    perturbations trained against hosts, families without an error measure)."""
    from ncaforge import zoo
    from ncaforge.analysis.robustness import refusal

    subjects, others = [], {}
    for entry in zoo.index():
        reason = refusal(zoo.load(entry["name"]))
        if reason is None:
            subjects.append(entry["name"])
        else:
            others[entry["name"]] = reason
    return subjects, others


@click.command("robustness", params=[
    click.Option(["--model", "models"], multiple=True, metavar="NAME|DIR",
                 help="Zoo name or checkpoint directory (repeatable)."),
    click.Option(["--zoo", "whole_zoo"], is_flag=True,
                 help="Every zoo host whose family has an error measure (a leaderboard)."),
    *options_of(SuiteOptions),
    click.Option(["--threads", "threads"], type=click.IntRange(0), default=0,
                 help="CPU threads (0: PyTorch's default)."),
    click.Option(["--json", "json_path"], type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Write the figures here (one model: its figures; several: under \"models\", after "
                      "each model, and the models a file made with the same options holds are kept)."),
    click.Option(["--table", "table_path"], type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Write the leaderboard (recovered fraction per attack) here as a markdown table."),
    click.Option(["--pictures", "pictures"], type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="Write DIR/MODEL.png per model: each attack's first samples at its end and after "
                      "recovery.")])
def robustness(models: tuple[str, ...], whole_zoo: bool, threads: int, json_path: Path | None,
               table_path: Path | None, pictures: Path | None, **values: Any) -> None:
    """The attack suite: a disc cut, 10% and 30% cell death, state noise (sigma 0.1, 0.3), 10%
    adversarial cells trained briefly against the host, and the strongest of --directions global
    perturbations trained as briefly. For each: the damage at the end of the attack and, --recovery-steps
    later, the error and the fraction of samples back within 2x of the unattacked host (the family's own
    error measure)."""
    import torch

    from ncaforge.analysis.robustness import run_suite, table
    from ncaforge.core.atomic import write_json, write_text

    if threads:
        torch.set_num_threads(threads)
    subjects, unscored = zoo_subjects() if whole_zoo else ([], {})
    names = list(models) + subjects
    if not names:
        fail("give --model NAME|DIR (repeatable) or --zoo")
    options = pick(SuiteOptions, values)
    settings = json.loads(json.dumps({**vars(options), "suite": SUITE_VERSION}))  # as the JSON file has them
    board = len(names) > 1 or whole_zoo

    def leaderboard(results: dict[str, dict]) -> dict:
        return {"models": results, "unscored": unscored, "table": table(results, unscored),
                "options": settings}

    results = kept(json_path, settings) if board else {}
    for name in names:
        if name in results and (pictures is None or picture_path(pictures, name).exists()):
            click.echo(f"{name}: kept from {json_path} (same options)")
            continue
        click.echo(f"attack suite on {name}")
        states: dict = {}
        try:
            host = load_model(name)
            results[name] = run_suite(host, options, progress=True,
                                      observe=lambda a, x, y, into=states: into.update({a: (x, y)}))
        except ValueError as e:
            fail(f"{name}: {e}")
        rows = results[name]["attacks"]
        echo_figures({f"{a} recovered": r["recovered_fraction"] for a, r in rows.items()}
                     | {"mean recovered": results[name]["recovered_fraction_mean"]})
        if json_path and board:  # after every model: a stopped leaderboard resumes where it stopped
            write_json(json_path, leaderboard(results))
        if pictures:
            try:
                write_sheet(picture_path(pictures, name), host, states)
            except ValueError as e:  # a family with no picture of its states
                fail(f"{name}: {e}")
    results = {name: results[name] for name in names}
    click.echo(table(results, unscored))
    if json_path:
        write_json(json_path, leaderboard(results) if board
                   else {**results[names[0]], "model": names[0], "options": settings})
        click.echo(f"wrote {json_path}")
    if table_path:
        write_text(table_path, table(results, unscored) + "\n")
        click.echo(f"wrote {table_path}")


def picture_path(folder: Path, name: str) -> Path:
    """Where ``--pictures`` puts model ``name``'s sheet (a checkpoint directory: its folder's name)."""
    return folder / f"{Path(name).name if Path(name).is_dir() else name}.png"


def write_sheet(path: Path, host: Any, states: dict) -> None:
    """The attack sheet of ``host`` (see ``attack_sheet``) as a PNG, written atomically."""
    import imageio.v3 as iio

    from ncaforge.analysis.robustness import attack_sheet
    from ncaforge.core.atomic import atomic_file

    with atomic_file(path) as tmp:
        iio.imwrite(tmp, attack_sheet(host, states))
    click.echo(f"wrote {path}")


def kept(json_path: Path | None, settings: dict) -> dict[str, dict]:
    """The models already in the leaderboard ``json_path`` when it was made with the same options."""
    if json_path is None or not json_path.exists():
        return {}
    try:
        saved = json.loads(json_path.read_text())
    except (OSError, ValueError):
        return {}
    return dict(saved.get("models", {})) if saved.get("options") == settings else {}
