"""`nca data`: make training data (PDE trajectories)."""

from __future__ import annotations

from pathlib import Path

import click

from ncaforge.cli.common import fail
from ncaforge.data.pde import IC_KINDS, PRESETS


@click.group("data")
def data() -> None:
    """Make training data: trajectories for `nca train pde`."""


@data.command("pde")
@click.option("--preset", type=click.Choice(list(PRESETS)), default="paper", show_default=True,
              help="Gray-Scott regime: paper (feed 0.0623, kill 0.06268), mitosis (0.0367, 0.0649), coral, "
                   "worms.")
@click.option("--size", nargs=2, type=click.IntRange(3, 4096), default=(64, 64), show_default=True,
        metavar="H W")
@click.option("--steps", type=click.IntRange(1, 10**7), default=1024, show_default=True,
        help="Training horizon (PDE steps).")
@click.option("--every", type=click.IntRange(1), default=32, show_default=True,
        help="PDE steps between saved frames.")
@click.option("--train", "n_train", type=click.IntRange(1), default=8, show_default=True,
        help="Training trajectories.")
@click.option("--test", "n_test", type=click.IntRange(0), default=4, show_default=True,
              help="Test trajectories, from unseen initial conditions, run to twice the horizon.")
@click.option("--ic", type=click.Choice(IC_KINDS), default="squares", show_default=True,
              help="Initial conditions: A = 1 except zeroed squares or bars, B = 1 - A.")
@click.option("--seed", default=0, show_default=True, help="Seeds of training conditions start here.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def data_pde(preset: str, size: tuple[int, int], steps: int, every: int, n_train: int, n_test: int, ic: str,
             seed: int, out: Path) -> None:
    """Simulate Gray-Scott trajectories: OUT/train/*.npz and OUT/test/*.npz, each (T, 2, H, W).

    Test conditions use seeds no training run gets (offset by 1,000,000).
    """
    from ncaforge.core.progress import bar
    from ncaforge.data import pde
    from ncaforge.data.trajectories import save_trajectory

    try:
        params = pde.preset(preset)
        if steps % every:
            raise ValueError(f"--steps ({steps}) must be a multiple of --every ({every})")
    except ValueError as e:
        fail(str(e))
    h, w = size
    jobs = [("train", seed + i, steps) for i in range(n_train)]
    jobs += [("test", pde.TEST_SEED_OFFSET + seed + i, 2 * steps) for i in range(n_test)]
    for split, s, horizon in bar(jobs, True, desc="simulating", unit="trajectory"):
        frames = pde.trajectories(params, [s], h, w, horizon, every, ic)[0]
        meta = {"pde": "gray-scott", "preset": preset, "params": params.to_dict(), "ic": ic, "seed": s,
                "horizon": steps}
        save_trajectory(out / split / f"{s:07d}.npz", frames.numpy(), every, meta)
    click.echo(f"wrote {n_train} training and {n_test} test trajectories of {h}x{w} to {out}")
