"""Gray-Scott reaction-diffusion: the PDE whose trajectories PDE NCAs learn (Richardson et al. 2024).

    dA/dt = D_A lap(A) - A B^2 + feed (1 - A)
    dB/dt = D_B lap(B) + A B^2 - (kill + feed) B

on a periodic grid, explicit Euler with dt = 1 and the 9-point Laplacian
[[.25, .5, .25], [.5, -3, .5], [.25, .5, .25]]. Initial conditions: A = 1 except
zeroed squares or bars, B = 1 - A, drawn from a seed, so that seeds split train
from unseen test conditions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ncaforge.core.config import Config

LAPLACIAN_9 = torch.tensor([[0.25, 0.5, 0.25], [0.5, -3.0, 0.5], [0.25, 0.5, 0.25]])


@dataclass(frozen=True)
class GrayScott(Config):
    """The parameters of one Gray-Scott regime."""

    d_a: float = 0.1
    d_b: float = 0.05
    feed: float = 0.0623
    kill: float = 0.06268
    dt: float = 1.0


PRESETS: dict[str, GrayScott] = {
    "paper": GrayScott(),  # Richardson et al.: a front of stripes and spots spreads from the squares
    "mitosis": GrayScott(feed=0.0367, kill=0.0649),  # spots that divide
    "coral": GrayScott(feed=0.0545, kill=0.062),  # branching stripes
    "worms": GrayScott(feed=0.078, kill=0.061),  # long worms
}
IC_KINDS = ("squares", "bars")
TEST_SEED_OFFSET = 1_000_000  # test conditions use seeds from here: never those of training


def preset(name: str) -> GrayScott:
    if name not in PRESETS:
        raise ValueError(f"unknown Gray-Scott preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name]


def laplacian(x: torch.Tensor) -> torch.Tensor:
    """The 9-point Laplacian of every channel of (B, C, H, W), periodic."""
    c = x.shape[1]
    kernel = LAPLACIAN_9.to(x).expand(c, 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), kernel, groups=c)


def gray_scott_step(x: torch.Tensor, p: GrayScott) -> torch.Tensor:
    """One explicit Euler step of (B, 2, H, W) states (A, B)."""
    lap = laplacian(x)
    a, b = x[:, :1], x[:, 1:2]
    reaction = a * b * b
    da = p.d_a * lap[:, :1] - reaction + p.feed * (1 - a)
    db = p.d_b * lap[:, 1:2] + reaction - (p.kill + p.feed) * b
    return x + p.dt * torch.cat([da, db], dim=1)


def simulate(x: torch.Tensor, steps: int, p: GrayScott, every: int = 1) -> torch.Tensor:
    """Frames (steps // every + 1, B, 2, H, W) at steps 0, every, 2 every, ... (computed in float64)."""
    if steps % every:
        raise ValueError(f"steps ({steps}) must be a multiple of every ({every})")
    state = x.double()
    frames = [state]
    for t in range(1, steps + 1):
        state = gray_scott_step(state, p)
        if t % every == 0:
            frames.append(state)
    return torch.stack(frames).to(x.dtype)


def initial_condition(height: int, width: int, seed: int, kind: str = "squares",
                      count: tuple[int, int] = (1, 3), side: tuple[int, int] = (4, 10)) -> torch.Tensor:
    """(2, H, W): A = 1 except ``count`` zeroed squares (or bars) of ``side`` cells, B = 1 - A.

    Squares have sides in ``side``; bars are one to three cells wide and ``side`` x 2 long,
    horizontal or vertical. Positions wrap around the periodic grid.
    """
    if kind not in IC_KINDS:
        raise ValueError(f"initial condition kind must be one of {IC_KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    a = np.ones((height, width), np.float32)
    for _ in range(rng.integers(count[0], count[1] + 1)):
        if kind == "squares":
            hh = ww = int(rng.integers(side[0], side[1] + 1))
        else:
            long, thin = int(rng.integers(2 * side[0], 2 * side[1] + 1)), int(rng.integers(1, 4))
            hh, ww = (thin, long) if rng.random() < 0.5 else (long, thin)
        i, j = int(rng.integers(height)), int(rng.integers(width))
        a[np.ix_(np.arange(i, i + hh) % height, np.arange(j, j + ww) % width)] = 0.0
    a_t = torch.from_numpy(a)
    return torch.stack([a_t, 1.0 - a_t])


def trajectories(p: GrayScott, seeds: list[int], height: int, width: int, steps: int, every: int,
                 kind: str = "squares") -> torch.Tensor:
    """(N, steps // every + 1, 2, H, W): one trajectory per seed."""
    x = torch.stack([initial_condition(height, width, s, kind) for s in seeds])
    return simulate(x, steps, p, every).transpose(0, 1).contiguous()
