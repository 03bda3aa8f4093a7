"""Texture NCA throughput on a fully alive torus: the reference and every CPU path, then CAX, idle and
beside one busy process, in one run.

    python benchmarks/texture_throughput.py [--size 128] [--batch 4] [--threads 2] [--compile]
                                            [--cax-python .venv-cax/bin/python]

Forward: cell updates per second of a 64-step rollout; training: iterations per second, one
iteration being a 64-step rollout, backward and Adam step. "loaded" repeats every row while
another process keeps one core busy (a single-threaded matmul loop), the situation of a
workstation that is doing something else. The CAX row (CAX 0.4.4, JAX on CPU; idle table only:
XLA takes minutes per training iteration of it) runs in its own environment (`make bench-texture`
creates it; see benchmarks/cax_texture.py).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from pathlib import Path

import torch

from ncaforge.analysis import bench


def busy(stop: mp.Event) -> None:
    """Keep one core busy until ``stop`` is set."""
    torch.set_num_threads(1)
    a = torch.rand(256, 256)
    while not stop.is_set():
        a = (a @ a).clamp_(-1, 1)


def rows(args: argparse.Namespace, cax: bool) -> list[bench.Row]:
    w = bench.texture_workload((args.size, args.size), args.batch)
    found = bench.measure(w, 64, repeats=args.repeats, compile_step=args.compile)
    if cax and args.cax_python.exists():
        found.append(bench.cax_texture(args.cax_python, Path(__file__).with_name("cax_texture.py"),
                                       args.size, args.batch, 64, args.threads))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the step")
    parser.add_argument("--cax-python", type=Path, default=Path(".venv-cax/bin/python"),
                        help="Python of the environment with CAX 0.4.4 (the row is skipped if absent)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.cax_python.exists():
        print(f"(no CAX row: {args.cax_python} not found)\n")
    env = f"{args.threads} threads, torch {torch.__version__}"
    header = f"texture NCA {args.size}x{args.size}, batch {args.batch}, 64 steps, idle, {env}"
    print(bench.table(rows(args, cax=True), header))
    stop = mp.get_context("spawn").Event()
    load = mp.get_context("spawn").Process(target=busy, args=(stop,))
    load.start()
    try:
        print()
        print(bench.table(rows(args, cax=False), f"the same beside one busy process, {env} (no CAX row: "
                                                 "its training iteration takes minutes)"))
    finally:
        stop.set()
        load.join()


if __name__ == "__main__":
    main()
