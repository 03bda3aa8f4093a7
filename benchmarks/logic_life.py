"""Game of Life three ways: a learned logic circuit run bit-parallel, the same circuit in PyTorch with
hard gates, and a plain numpy Life (neighbour counts by rolling), on random tori.

    python benchmarks/logic_life.py [--model logic-life] [--sizes 128 512 1024] [--steps 20]

Prints one table of cell-updates per second (H * W * steps / seconds, best of --repeats) and checks
that the circuit's grids equal numpy Life's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ncaforge import zoo
from ncaforge.families.logic.bitwise import BitParallelCA
from ncaforge.families.logic.life import life_step
from ncaforge.families.logic.model import active_gates
from ncaforge.render.text import table


def best_of(repeats: int, fn, *args):
    """(the shortest of ``repeats`` timings of fn(*args), its result)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), out


def numpy_life(grid: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        grid = life_step(grid)
    return grid


def torch_hard(nca, grid: np.ndarray, steps: int) -> np.ndarray:
    """The circuit as the PyTorch model runs it (hard gates, every cell updating)."""
    x = torch.from_numpy(grid[None]).float()
    fire = torch.ones(1, 1, *grid.shape[-2:], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(steps):
            x = nca.step(x, fire)
    return x[0].bool().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="logic-life", help="zoo name or checkpoint of a Life circuit")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 512, 1024])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch-limit", type=int, default=512, help="largest grid the PyTorch row runs")
    args = parser.parse_args()
    nca = zoo.load(args.model)  # eval mode: hard gates
    runner = BitParallelCA(nca)
    rng = np.random.default_rng(0)
    rows = []
    for size in args.sizes:
        grid = rng.random((1, size, size)) < 0.5
        cells = size * size * args.steps
        seconds, truth = best_of(args.repeats, numpy_life, grid, args.steps)
        row = [size, f"{cells / seconds:.3g}"]
        seconds, bits = best_of(args.repeats, runner.run, grid, args.steps)
        row.append(f"{cells / seconds:.3g}")
        exact = np.array_equal(bits, truth)
        if size <= args.torch_limit:
            seconds, hard = best_of(1, torch_hard, nca, grid, args.steps)
            row.append(f"{cells / seconds:.3g}")
            exact = exact and np.array_equal(hard, truth)
        else:
            row.append("-")
        rows.append([*row, "yes" if exact else "NO"])
    print(f"{args.model}: {active_gates(nca)} active gates, {args.steps} steps, "
          f"{torch.get_num_threads()} torch threads; cell-updates per second")
    print(table(rows, ["grid", "numpy Life", "circuit, bit-parallel", "circuit, PyTorch", "= Life"]))


if __name__ == "__main__":
    main()
