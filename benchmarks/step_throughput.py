"""NCA step throughput and training memory: the reference against every fast path, in one run.

    python benchmarks/step_throughput.py [--sizes 72 128 256] [--batch 8] [--compile] [--memory]
                                         [--cax-python .venv-bench/bin/python]

For each grid size, one table (same process, same machine) of forward cell updates
per second and training iterations per second (80-step rollout + backward + Adam)
for the naive eager reference, each fast path, and the CAX peer when its
environment exists (`make bench-env`; first size only: CAX needs minutes per training
iteration); then the self-classifying MNIST model (20 channels, learned 3x3 perception
to 80 features, hidden 80, a digit's share of living cells; 20-step training
iterations); then, with --memory, peak memory of one training iteration at 96 and
384 steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ncaforge.analysis import bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[72, 128, 256], help="square grid sides")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=64, help="steps per forward rollout")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (1 for grids over 128)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the step")
    parser.add_argument("--memory", action="store_true",
                        help="also measure peak memory of a training iteration at 96 and 384 steps")
    parser.add_argument("--cax-python", type=Path, default=Path(".venv-bench/bin/python"),
                        help="Python of the environment with CAX (the peer row is skipped if absent)")
    args = parser.parse_args()
    env = f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    if not args.cax_python.exists():
        print(f"(no CAX peer row: {args.cax_python} not found; `make bench-env` creates it)\n")
    for side in args.sizes:
        w = bench.growing_workload((side, side), args.batch)
        big = side > 128  # the reference's training activations would not fit in memory
        rows = bench.measure(w, args.steps, repeats=args.repeats if not big else 1,
                             compile_step=args.compile and side == args.sizes[0],
                             checkpoint_every=8 if big else 0)
        peer = None
        if side == args.sizes[0] and args.cax_python.exists():  # CAX trains at minutes per iteration
            peer = bench.cax_peer(args.cax_python, Path(__file__).with_name("cax_peer.py"), (side, side),
                                  args.batch, args.steps)
        blocks = ", training with gradient checkpointing in blocks of 8" if big else ""
        header = f"{w.name}, forward {args.steps} steps, training {w.train_steps} steps, {env}{blocks}"
        print(bench.table(rows + ([peer] if peer else []), header))
        print()
    w = bench.classifier_workload()
    print(bench.table(bench.measure(w, args.steps, repeats=args.repeats),
                      f"{w.name}, forward {args.steps} steps, training {w.train_steps} steps, {env}"))
    if args.memory:
        side = args.sizes[0]
        print(f"\npeak memory of one training iteration (MiB), growing NCA {side}x{side}, batch {args.batch}")
        print(f"{'gradient checkpointing':<26}{'96 steps':>10}{'384 steps':>11}{'ratio':>7}")
        for every in (0, 8, 16):
            short, long = (bench.training_memory((side, side), args.batch, s, every) / 2**20
                           for s in (96, 384))
            label = f"blocks of {every} steps" if every else "off"
            print(f"{label:<26}{short:>10.0f}{long:>11.0f}{long / short:>7.2f}")


if __name__ == "__main__":
    main()
