"""`nca texture graft`: two texture rules on one grid, each cell following the rule its mask names."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from ncaforge.cli.common import fail, load_model


def centred_disc(height: int, width: int) -> torch.Tensor:
    """A (1, 1, H, W) bool disc in the grid's centre, its diameter half the shorter side."""
    ys, xs = torch.meshgrid(torch.arange(height) - (height - 1) / 2, torch.arange(width) - (width - 1) / 2,
                            indexing="ij")
    return ((ys**2 + xs**2).sqrt() <= min(height, width) / 4)[None, None]


@click.group()
def texture() -> None:
    """Experiments with texture NCAs (texture, muNCA, reaction-diffusion models)."""


@texture.command()
@click.option("--model", "models", multiple=True, required=True,
              help="Two zoo names or checkpoint directories: A (dark cells of the mask), then B (bright).")
@click.option("--mask", "mask_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An image resized to the grid: its bright, opaque cells follow B's rule, the rest A's "
                   "[a centred disc half the grid across].")
@click.option("--size", type=click.IntRange(8, 1024), nargs=2, default=(128, 128), show_default=True,
              help="Grid H W (a torus).")
@click.option("--steps", type=click.IntRange(1, 10**5), default=1000, show_default=True)
@click.option("--seed", default=0, show_default=True, help="Seed of the start and the fire masks.")
@click.option("--fps", type=click.IntRange(1, 120), default=20, show_default=True)
@click.option("--every", type=click.IntRange(1), default=10, show_default=True, help="Steps per frame.")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True, help="Pixels per cell.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/graft"),
              show_default=True)
def graft(models: tuple[str, ...], mask_path: Path | None, size: tuple[int, int], steps: int, seed: int,
          fps: int, every: int, scale: int, out: Path) -> None:
    """Graft texture B into texture A: where the mask is bright, cells follow B's rule, elsewhere A's
    (the grafting experiment of "Self-Organising Textures"). Both start from A's start state; where
    the two rules meet, their textures blend.

    Writes graft.gif (and graft.mp4 with an encoder), graft.png (the last frame) and mask.png.

    Example:
      nca texture graft --model texture-brick --model texture-grass --size 128 128
    """
    import imageio.v3 as iio

    from ncaforge.analysis.simulate import Attack, simulate
    from ncaforge.core.family import family_of
    from ncaforge.interventions.injection import mask_from_image
    from ncaforge.interventions.intervened import Intervened
    from ncaforge.render.frames import tile, to_image
    from ncaforge.render.video import write_animation
    from ncaforge.render.views import picture

    if len(models) != 2:
        fail(f"--model is given {len(models)} times; graft takes exactly two: --model A --model B")
    a, b = (load_model(m) for m in models)
    for spec, model in zip(models, (a, b), strict=True):
        if family_of(model).seed is None or model.layout.alpha is not None:  # grows from a seed, no alpha
            fail(f"{spec!r} is a {family_of(model).name} model, not a texture NCA (all cells alive, a torus)")
    try:
        rule = Intervened(a, adversary=b)
        mask = mask_from_image(str(mask_path), *size) if mask_path is not None else centred_disc(*size)
    except ValueError as e:
        fail(str(e))
    start = family_of(a).seed(a, a.task, 1, size)
    g = torch.Generator().manual_seed(seed)
    rec = simulate(a, start, steps, frame_every=every, generator=g, progress=True,
                   attack=Attack(rule, mask), view=lambda t, x: picture(a, x))
    out.mkdir(parents=True, exist_ok=True)
    frames = [to_image(f[0], scale) for f in rec.frames]
    files = write_animation(frames, out / "graft", fps)
    iio.imwrite(out / "graft.png", frames[-1])
    iio.imwrite(out / "mask.png", tile([to_image(mask[0].float().expand(3, -1, -1), scale)]))
    click.echo(f"{mask.float().mean():.0%} of the cells follow {models[1]}, the rest {models[0]}")
    for f in [*files, out / "graft.png", out / "mask.png"]:
        click.echo(f"wrote {f}")
