"""`nca analyse`: look at what a trained model learned (its attractor landscape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ncaforge.analysis.landscape import LandscapeOptions
from ncaforge.cli.common import announce, echo_figures, fail, load_model
from ncaforge.cli.options import options_of, pick


@click.group()
def analyse() -> None:
    """Look at what a trained model learned."""


@analyse.command("landscape", params=[
    click.Option(["--model", "model"], default="lizard", show_default=True, help="Zoo name or checkpoint."),
    *options_of(LandscapeOptions),
    click.Option(["--out", "out"], type=click.Path(file_okay=False, path_type=Path), required=True,
                 help="Folder for the trajectories, plots, index.html and landscape.json."),
    click.Option(["--json", "json_path"], type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Also write the figures here [--out/landscape.json is always written]."),
    click.Option(["--threads", "threads"], type=click.IntRange(0), default=0,
                 help="CPU threads (0: PyTorch's default).")])
def landscape(model: str, out: Path, json_path: Path | None, threads: int, **values: Any) -> None:
    """The attractor landscape: trajectories from many starts through a cut (recorded to --out), PCA
    of whole-grid and of cell states, two small autoencoders of the cells, persistent homology of the
    whole-grid cloud (with gudhi), and whether the grown, cut and regrown states form one basin."""
    import torch

    from ncaforge.analysis.landscape import analyse as run_analysis
    from ncaforge.core.atomic import write_json

    if threads:
        torch.set_num_threads(threads)
    nca = load_model(model)
    try:
        figures = run_analysis(nca, pick(LandscapeOptions, values), out, progress=True)
    except ValueError as e:
        fail(str(e))
    echo_figures({k: v for k, v in figures.items() if isinstance(v, int | float)})
    for path in (out / "landscape.json", json_path):
        if path is not None:
            write_json(path, {**figures, "model": model})
    announce([out / "index.html", out / "landscape.json", *([json_path] if json_path else [])])
