"""Long-run health of every zoo model: 10,000 steps from its start (a seed, test digits, an unseen
initial condition; an attack on its host as in its preview), then each adversary alone.

    python benchmarks/long_run_health.py [--steps 10000] [--batch 4] [--seed 0] [--json FILE]

Prints one table: the largest |state| over the run, living cells (alpha > threshold, mean over the
batch) at step 200 and at the end, whether that count stayed within 2x, and where a run diverged.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

from ncaforge import zoo
from ncaforge.analysis.health import model_health
from ncaforge.render.text import table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    runs = [(name, False) for name in zoo.names()]
    runs += [(name, True) for name in zoo.names() if name.startswith("adversary-")]
    rows = []
    for name, alone in runs:
        start = time.perf_counter()
        health = model_health(name, zoo.load(name), args.steps, args.seed, args.batch, alone, progress=True)
        rows.append({**asdict(health), "name": name + (" (alone)" if alone else ""),
                     "persists": health.persists, "seconds": round(time.perf_counter() - start, 1)})
        print(f"{rows[-1]['name']}: {rows[-1]['seconds']} s", flush=True)

    columns = ["name", "max_abs", "alive_200", "alive_end", "persists", "diverged_at", "seconds"]
    print(f"\n{args.steps} steps, batch {args.batch}, seed {args.seed}")
    print(table([["-" if r[c] is None else r[c] for c in columns] for r in rows], columns))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
