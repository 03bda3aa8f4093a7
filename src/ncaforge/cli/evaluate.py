"""`nca eval FAMILY`: measure trained models; each family's evaluation options come from the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ncaforge.analysis.stability import StabilityOptions
from ncaforge.analysis.symmetry import SymmetryOptions
from ncaforge.cli.common import announce, echo_figures, fail, load_model
from ncaforge.cli.options import FamilyCommands, options_of, pick
from ncaforge.core import family as registry


def eval_command(family: registry.Family) -> click.Command:
    """`nca eval NAME`: --model, the family's evaluation options, and --json."""
    evaluation = family.evaluation
    params = [click.Option(["--model", "model"], default=family.default_model,
                           required=family.default_model is None, show_default=True,
                           help="Zoo name or checkpoint directory."),
              *options_of(evaluation.options),
              click.Option(["--json", "json_path"], type=click.Path(dir_okay=False, path_type=Path),
                           default=None, help="Write the figures here.")]

    def callback(model: str, json_path: Path | None, **values: Any) -> None:
        from ncaforge.core.atomic import write_json

        nca = load_model(model, family.name)
        try:
            options = registry.load_models(pick(evaluation.options, values), load_model)
            report = evaluation.run(nca, options, progress=True, json_path=json_path)
        except (ValueError, OSError) as e:
            fail(str(e))
        echo_figures(report.shown)
        if report.text:
            click.echo(report.text)
        if json_path:
            write_json(json_path, {**report.figures, "model": model})
            click.echo(f"wrote {json_path}")
        announce(report.files)

    return click.Command(family.cli_name, callback=callback, params=params, help=evaluation.summary,
                         short_help=evaluation.summary)


@click.group("eval", cls=FamilyCommands, make=eval_command, capability="evaluation")
def eval_() -> None:
    """Measure a trained model (--json, --seed)."""


@eval_.command("symmetry", params=[
    click.Option(["--model", "model"], required=True,
                 help="Zoo name or checkpoint directory (a model that grows from a seed: isotropic, "
                      "steerable, growing)."),
    *options_of(SymmetryOptions),
    click.Option(["--json", "json_path"], type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Write the figures here.")])
def eval_symmetry(model: str, json_path: Path | None, **values: Any) -> None:
    """Does the pattern turn with its seed? RGBA MSE at --steps from the seed as trained (mse_0), turned
    90 and 45 degrees and mirrored (each against the equally turned target), and after turning a grown
    pattern 45 degrees (mse_regrown_rot45); the same for --baseline (keys baseline_*)."""
    from ncaforge.analysis.symmetry import measure, ratios
    from ncaforge.core.atomic import write_json

    options = pick(SymmetryOptions, values)
    figures: dict[str, Any] = {}
    for prefix, spec in (("", model), ("baseline_", options.baseline)):
        if spec is None:
            continue
        nca = load_model(spec)
        if getattr(nca, "task", None) is None or not hasattr(nca.task, "image"):
            fail(f"{spec!r}: symmetry needs a model trained to grow a target image")
        try:
            found = measure(nca, options)
        except ValueError as e:
            fail(f"{spec!r}: {e}")
        figures |= {prefix + k: v for k, v in found.items()}
        figures |= ratios(figures, prefix)
    echo_figures({k: v for k, v in figures.items() if isinstance(v, float)})
    if json_path:
        write_json(json_path, {**figures, "model": model, "baseline": options.baseline, "seed": options.seed})
        click.echo(f"wrote {json_path}")


@eval_.command("stability", params=[
    click.Option(["--model", "model"], default="lizard", show_default=True,
                 help="Zoo name or checkpoint directory of a growing model."),
    click.Option(["--baseline", "baseline"], default=None,
                 help="Also measure this model (keys baseline_*), e.g. the same target without identity."),
    *options_of(StabilityOptions),
    click.Option(["--json", "json_path"], type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Write the figures here.")])
def eval_stability(model: str, baseline: str | None, json_path: Path | None, **values: Any) -> None:
    """Two organisms on one grid (120x180, 1000 steps) at --distances, --offsets and --delays: the
    bounding-box area of the living cells against two organisms grown alone (bbox_ratio, 1 is right),
    and the RGBA MSE to them; bbox_ratio_error is the mean |ratio - 1| over the sweep."""
    from ncaforge.analysis.stability import two_organisms
    from ncaforge.core.atomic import write_json

    options = pick(StabilityOptions, values)
    figures: dict[str, Any] = {}
    for prefix, spec in (("", model), ("baseline_", baseline)):
        if spec is None:
            continue
        nca = load_model(spec, "growing")
        try:
            found = two_organisms(nca, options, progress=True)
        except ValueError as e:
            fail(f"{spec!r}: {e}")
        figures |= {prefix + k: v for k, v in found.items()}
        figures[prefix + "identity"] = getattr(nca.task, "identity", "none")
    echo_figures({k: v for k, v in figures.items() if isinstance(v, float)})
    if json_path:
        write_json(json_path, {**figures, "model": model, "baseline": baseline, "seed": options.seed})
        click.echo(f"wrote {json_path}")
