"""Throughput of the growing NCA step: reference vs fast paths, in one process.

Prints cell updates per second (B*H*W*steps/s) for forward rollouts and training
iterations per second (rollout + backward + Adam) on a grid holding a grown-size
pattern. Run: python benchmarks/step_throughput.py [--size 72 72] [--batch 8]
"""

from __future__ import annotations

import argparse
import time

import torch

from ncaforge.data.targets import load_target
from ncaforge.models.growing import build_growing


def grown_like_state(nca, target: torch.Tensor, batch: int, h: int, w: int) -> torch.Tensor:
    """A state shaped like a grown pattern: the target's RGBA plus noisy hidden channels."""
    x = torch.zeros(batch, nca.layout.channels, h, w)
    th, tw = target.shape[1:]
    oy, ox = (h - th) // 2, (w - tw) // 2
    x[:, :4, oy:oy + th, ox:ox + tw] = target
    alive = (target[3] > 0.1).float()
    x[:, 4:, oy:oy + th, ox:ox + tw] = torch.rand(batch, nca.layout.channels - 4, th, tw) * alive
    return x


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (and compilation, if any)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs=2, type=int, default=(72, 72))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=64, help="steps per rollout")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the step")
    args = parser.parse_args()
    h, w = args.size
    torch.manual_seed(0)
    nca = build_growing()
    with torch.no_grad():
        nca.update.net[-1].weight.normal_(0, 0.01)  # a non-trivial rule
    target = load_target("lizard")
    x0 = grown_like_state(nca, target, args.batch, h, w)
    opt = torch.optim.Adam(nca.parameters(), lr=1e-4)

    def forward(impl):
        def run():
            with torch.no_grad():
                nca.rollout(x0, args.steps, torch.Generator().manual_seed(0), impl=impl)
        return run

    def train(impl):
        def run():
            opt.zero_grad()
            y = nca.rollout(x0, args.steps, torch.Generator().manual_seed(0), impl=impl)
            y[:, :4].pow(2).mean().backward()
            opt.step()
        return run

    cells = args.batch * h * w * args.steps
    rows = []
    for impl in ("reference", "active"):
        f = timed(forward(impl), args.repeats)
        t = timed(train(impl), args.repeats)
        rows.append((impl, cells / f, 1 / t))
    if args.compile:
        step = nca.step
        nca.step = torch.compile(step)
        f = timed(forward("reference"), args.repeats)
        t = timed(train("reference"), args.repeats)
        nca.step = step
        rows.append(("reference+compile", cells / f, 1 / t))
    base_f, base_t = rows[0][1], rows[0][2]
    print(f"growing NCA, grid {h}x{w}, batch {args.batch}, {args.steps} steps, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'path':<20}{'forward cells/s':>18}{'x ref':>8}{'train it/s':>13}{'x ref':>8}")
    for name, f, t in rows:
        print(f"{name:<20}{f:>18,.0f}{f / base_f:>8.2f}{t:>13.3f}{t / base_t:>8.2f}")


if __name__ == "__main__":
    main()
