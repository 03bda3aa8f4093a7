"""`nca eval logic`: how a logic CA does with hard gates (argmax functions, exact Boolean logic).

Life: the share of the 512 configurations right, and how many steps of a random torus the hard circuit
(run bit-parallel) matches true Life in every cell. Checkerboard: the hard loss on the training grid,
and the pattern grown on a grid ``scale`` times larger in ``scale`` times the steps; how it heals when a
square of it is scrambled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ncaforge.core.atomic import write_json
from ncaforge.core.family import Report
from ncaforge.core.nca import NCA
from ncaforge.families.logic.bitwise import WORD, BitParallelCA, circuit_json
from ncaforge.families.logic.life import configurations, life_step
from ncaforge.families.logic.model import active_gates, gate_count, next_states
from ncaforge.families.logic.task import LogicTask, checkerboard, seed_states


@dataclass
class LogicEvaluation:
    """The options of `nca eval logic`."""

    seed: int = field(default=0, metadata={"help": "Seed of the random Life torus (and of fire masks)."})
    size: int = field(default=128, metadata={"min": WORD, "max": 8192,
        "help": "Life: side of the random torus, a multiple of 64 (the bit-parallel runner's words)."})
    steps: int = field(default=300, metadata={"min": 1, "help": "Life: steps to compare with true Life."})
    scale: int = field(default=4, metadata={"min": 1, "max": 32,
        "help": "Checkerboard: grow on a grid this many times larger, for as many times the steps."})
    until: int = field(default=0, metadata={"min": 0,
        "help": "Checkerboard: run the larger grid on to this step and report large_first_exact (the first "
                "step it is exact) and large_exact_steps (how many steps it is; 0: only to --scale times "
                "the steps)."})
    fire_rate: float = field(default=0.6, metadata={"min": 0.01, "max": 1.0,
        "help": "Checkerboard: fire rate of the asynchronous runs (async_accuracy, async_exact_runs)."})
    runs: int = field(default=8, metadata={"min": 1,
        "help": "Checkerboard, asynchronous rules: runs with their own fire masks (means over them)."})
    circuit: str | None = field(default=None, metadata={"path": "file",
        "help": "Also write the hard circuit here: each gate's function and inputs, as JSON."})


def hard_accuracy(nca: NCA) -> float:
    """The share of the 512 configurations whose next centre state the hard circuit gets right."""
    x, target = configurations()
    with torch.no_grad():
        y = next_states(nca.eval(), x.flatten(1))[:, 0]
    return float((y == target).float().mean())


def life_exact_steps(nca: NCA, size: int, steps: int, seed: int, density: float = 0.5) -> int:
    """Steps (of ``steps``) that the hard circuit matches Life in every cell of a random torus."""
    rng = np.random.default_rng(seed)
    grid = rng.random((1, size, size)) < density
    runner = BitParallelCA(nca.eval())
    ours, truth = grid, grid
    for t in range(steps):
        ours, truth = runner.run(ours, 1), life_step(truth)
        if not np.array_equal(ours, truth):
            return t
    return steps


def checkerboard_figures(nca: NCA, task: LogicTask, scale: int, seed: int, fire_rate: float = 0.6,
                         until: int = 0, runs: int = 8) -> dict[str, float]:
    """Hard loss on the training grid at the last training step, and the accuracy (share of cells) and
    exactness of channel 0 on a grid ``scale`` times larger after ``scale`` times the steps; then
    self-healing: the grown training grid with a centred square of half its side set to random bits,
    its accuracy after as many steps again; and asynchronous growth: each cell fires with probability
    ``fire_rate`` a step, for ``scale`` times the steps. With ``until``, the larger grid runs on to that
    step: the first step it is exact in every run (None: never), and at how many of its steps it is.

    An asynchronous rule (fire rate below 1) runs ``runs`` times, each with its own fire masks: figures
    are means over the runs, and ``*exact_runs`` the share of runs exact in every cell."""
    steps = task.steps[1] - 1
    runs = runs if nca.fire_rate < 1 else 1  # a synchronous rule runs the same way every time
    figures: dict = {"runs": runs}
    large = tuple(s * scale for s in task.grid)
    g = torch.Generator().manual_seed(seed)
    nca.eval()

    def scored(prefix: str, x: torch.Tensor, target: torch.Tensor, loss: bool = True) -> None:
        if loss:
            figures[f"{prefix}hard_loss"] = float((x[:, 0] - target).pow(2).mean())
        right = (x[:, 0] > 0.5).float() == target
        figures[f"{prefix}accuracy"] = float(right.float().mean())
        figures[f"{prefix}exact_runs"] = float(right.flatten(1).all(1).float().mean())

    with torch.no_grad():
        for name, grid, n in (("", task.grid, steps), ("large_", large, steps * scale)):
            _, states = nca(seed_states(nca, task, runs, grid), max(n, until if name else 0), g,
                            trajectory=True)
            target = checkerboard(task, grid)
            scored(name, states[n], target)
            if not name:
                grown = states[n]
        if until:
            exact = (states[:, :, 0] == target).flatten(2).all(2).all(1).tolist()  # per step, every run
            figures["large_first_exact"] = exact.index(True) if True in exact else None
            figures["large_exact_steps"] = sum(exact)  # a pattern may blink: exact every other step
            figures["large_until"] = until
        h, w = task.grid
        top, left, side = h // 4, w // 4, (h // 2, w // 2)
        damaged = grown.clone()
        damaged[..., top:top + side[0], left:left + side[1]] = (torch.rand(
            *grown.shape[:2], *side, generator=g) < 0.5).float()
        healed = nca(damaged, steps, g)
        synchronous, nca.fire_rate = nca.fire_rate, fire_rate
        try:
            unsync = nca(seed_states(nca, task, max(runs, 8 if fire_rate < 1 else 1), task.grid),
                         steps * scale, g)
        finally:
            nca.fire_rate = synchronous
    target = checkerboard(task)
    figures["damaged_accuracy"] = float((damaged[:, 0] == target).float().mean())
    scored("healed_", healed, target, loss=False)
    scored("async_", unsync, target, loss=False)
    figures["large_grid"] = list(large)
    figures["large_steps"] = steps * scale
    return figures


def run_evaluation(nca: NCA, options: LogicEvaluation, progress: bool = False, json_path: str | None = None
                   ) -> Report:
    """`nca eval logic` (the command writes ``json_path`` from the report's figures)."""
    task = nca.task or LogicTask()
    figures: dict = {"task": task.task, "gates": gate_count(nca), "active_gates": active_gates(nca)}
    if task.task == "life":
        if nca.layout.channels != 1:
            raise ValueError(f"Game of Life has one channel; this logic CA has {nca.layout.channels} (a "
                             "checkerboard model without its task?)")
        if options.size % WORD:
            raise ValueError(f"--size must be a multiple of {WORD} (the bit-parallel runner's words), got "
                             f"{options.size}")
        figures["hard_accuracy"] = hard_accuracy(nca)
        figures["hard_correct"] = round(figures["hard_accuracy"] * 512)
        figures["life_exact_steps"] = life_exact_steps(nca, options.size, options.steps, options.seed,
                                                       task.density)
        figures["life_steps_of"] = options.steps
        figures["life_grid"] = options.size
    else:
        figures.update(checkerboard_figures(nca, task, options.scale, options.seed, options.fire_rate,
                                            options.until, options.runs))
    shown = {k: v for k, v in figures.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    files = []
    if options.circuit:
        write_json(options.circuit, circuit_json(nca))
        files.append(Path(options.circuit))
    return Report(figures, shown, files=files)
