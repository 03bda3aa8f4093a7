"""A whole ARC split: one NCA trained per same-size task (in parallel processes), scored on its tests.

Results go to a JSON file after every task (atomically), so a stopped run resumes where it was.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from ncaforge.core.atomic import write_json
from ncaforge.data.arc import load_split


def solve_task(task_id: str, version: str, iterations: int, seed: int) -> dict:
    """Train an NCA on one task's training pairs and score it on the tests (in this process)."""
    import torch

    from ncaforge.core import family as registry
    from ncaforge.data.arc import find_task
    from ncaforge.families.arc.evaluate import score
    from ncaforge.families.arc.task import ArcTaskConfig
    from ncaforge.training.run import train
    from ncaforge.training.trainer import TrainConfig

    torch.set_num_threads(1)  # the pool's processes share the cores
    start = time.perf_counter()
    family, task = registry.get("arc"), ArcTaskConfig(task=task_id, version=version)

    def objective(group):
        return family.objective(family.build(family.config()).to(group.device), task, group)

    trainer = train(objective, TrainConfig(iterations=iterations, lr=family.schedule.lr, seed=seed), None,
                    {"command": f"nca arc solve ({task_id})", "seed": seed}, progress=False)
    model = trainer.objective.model.eval()
    figures = score(model, find_task(task_id, version), task.predict_steps, seed)
    return {**figures, "seconds": round(time.perf_counter() - start, 2)}


def totals(results: dict[str, dict]) -> dict:
    """solved / attempted / skipped counts and seconds over the tasks' results."""
    done = [r for r in results.values() if "skipped" not in r]
    return {"solved": sum(r["solved"] for r in done), "attempted": len(done),
            "skipped": len(results) - len(done), "seconds": round(sum(r.get("seconds", 0) for r in done), 1)}


def solve_split(split: str, out: Path, tasks: list[str] | None = None, limit: int | None = None,
                version: str = "arcagi1", iterations: int = 600, seed: int = 0, workers: int = 0,
                report: Callable[[str, dict], None] | None = None) -> dict:
    """Solve the tasks of ``split`` (or ``tasks``, at most ``limit``), writing ``out`` as it goes;
    tasks already in ``out`` (from a run with the same settings) are kept, not run again."""
    available = load_split(split, version)
    unknown = [t for t in tasks or () if t not in available]
    if unknown:
        raise ValueError(f"not in the {split} split of {version}: {', '.join(unknown)}")
    ids = (tasks or sorted(available))[:limit]
    settings = {"split": split, "version": version, "iterations": iterations, "seed": seed}
    previous = _read(out)
    results = previous["tasks"] if previous.get("settings") == settings else {}
    for task_id in ids:
        if task_id not in results and not available[task_id].same_size:
            results[task_id] = {"skipped": "an output differs in size from its input"}
    todo = [t for t in ids if t not in results]

    def save() -> dict:
        summary = {**totals({t: results[t] for t in ids if t in results}), "settings": settings,
                   "tasks": {t: results[t] for t in ids if t in results}}
        write_json(out, summary)
        return summary

    save()
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        running = {pool.submit(solve_task, t, version, iterations, seed): t for t in todo}
        for future in as_completed(running):
            task_id = running[future]
            results[task_id] = future.result()
            save()
            if report is not None:
                report(task_id, results[task_id])
    return save()


def _read(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
