"""Growing NCA step throughput: the reference against the fast paths, in one run.

    python benchmarks/step_throughput.py [--size 72 72] [--batch 8] [--steps 64] [--compile]

Prints forward cell updates per second and training iterations per second (80-step
rollout + backward + Adam) for each implementation, with the ratio to the reference.
"""

from __future__ import annotations

import argparse

import torch

from ncaforge.bench import measure, table, training_memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs=2, type=int, default=(72, 72))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=64, help="steps per forward rollout")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the step")
    parser.add_argument("--memory", action="store_true",
                        help="also measure peak memory of a training iteration at 96 and 384 steps")
    args = parser.parse_args()
    rows = measure(tuple(args.size), args.batch, args.steps, repeats=args.repeats,
                   compile_step=args.compile)
    h, w = args.size
    print(table(rows, f"growing NCA, grid {h}x{w}, batch {args.batch}, forward {args.steps} steps, "
                      f"training 80 steps, {torch.get_num_threads()} threads, torch {torch.__version__}"))
    if args.memory:
        print(f"\npeak memory of one training iteration (MiB), grid {h}x{w}, batch {args.batch}")
        print(f"{'gradient checkpointing':<26}{'96 steps':>10}{'384 steps':>11}{'ratio':>7}")
        for every in (0, 16):
            short, long = (training_memory(tuple(args.size), args.batch, s, every) / 2**20
                           for s in (96, 384))
            label = f"blocks of {every} steps" if every else "off"
            print(f"{label:<26}{short:>10.0f}{long:>11.0f}{long / short:>7.2f}")


if __name__ == "__main__":
    main()
