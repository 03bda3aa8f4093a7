"""Training an NCA on one ARC task's training pairs: each iteration runs every pair (pairs of one shape
as a batch) from its one-hot input and scores the colours of the last steps against the output."""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from ncaforge.core.nca import NCA
from ncaforge.data.arc import COLOURS, ArcTask, find_task, one_hot
from ncaforge.families.arc.task import ArcTaskConfig
from ncaforge.objectives.base import PoolObjective, Processes


def batches(pairs, channels: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(inputs (n, C, H, W), outputs (n, H, W)) per grid shape of the (input, output) ``pairs``."""
    shapes: dict[tuple[int, int], list] = {}
    for i, o in pairs:
        shapes.setdefault(i.shape, []).append((i, o))
    return [(torch.stack([one_hot(i, channels) for i, _ in group]),
             torch.stack([torch.as_tensor(o, dtype=torch.long) for _, o in group]))
            for group in shapes.values()]


class ArcObjective(PoolObjective):
    """The colour channels against the outputs over the last steps: the mean squared distance to the
    one-hot colours (``mse``, states that settle on them) or the cross-entropy (``ce``, as logits)."""

    def __init__(self, model: NCA, task: ArcTask, steps: tuple[int, int], supervised: int,
                 loss: str = "mse") -> None:
        if not task.same_size:
            raise ValueError(f"ARC task {task.id} has outputs of another size than their inputs; an NCA "
                             "on the input's grid cannot produce them")
        self.model = self.forward_model = model
        device = next(model.parameters()).device
        self.pairs = [(x.to(device), y.to(device)) for x, y in batches(task.train, model.layout.channels)]
        self.steps, self.supervised, self.loss_kind = steps, supervised, loss

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = self.steps
        steps = int(torch.randint(lo, hi, (1,), generator=generator))
        last = min(self.supervised, steps)
        total, x = 0.0, None
        for inputs, outputs in self.pairs:
            x, frames = self.forward_model(inputs, steps, generator, trajectory=True)
            shown = frames[-last:, :, :COLOURS].flatten(0, 1)  # (last * n, 10, H, W)
            wanted = outputs.repeat(last, 1, 1)
            if self.loss_kind == "ce":
                total = total + F.cross_entropy(shown, wanted)
            else:  # the one-hot colours as the states to reach and keep
                total = total + (shown - F.one_hot(wanted, COLOURS).permute(0, 3, 1, 2)).pow(2).mean()
        return total / len(self.pairs), x


def make_objective(model: NCA, task: ArcTaskConfig, group: Processes, grad_checkpoint: int = 0
                   ) -> ArcObjective:
    arc = find_task(task.task, task.version)
    objective = ArcObjective(model, arc, task.steps, task.supervised, task.loss)
    objective.task = replace(task)
    objective.summary = f"an NCA on ARC task {arc.id} ({len(arc.train)} training pairs)"
    return objective
