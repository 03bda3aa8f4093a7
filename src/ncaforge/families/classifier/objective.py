"""Self-classifying MNIST: every digit cell should hold the one-hot of its digit's label.

Each iteration draws a batch from a pool of states with their labels; some samples
are replaced by fresh digits and some are *mutated* (a new digit under the old
states, which survive on its pixels), so the cells learn to reach, keep and revise
agreement. The L2 loss of the original compares the logits with the one-hot target
on digit cells and with zero elsewhere; cross-entropy on digit cells is an option.

With ``attack`` (a frozen host classifier under an adversary) the same objective
trains the adversary: every sample carries a mask of adversarial cells (kept for
mutated samples, new for fresh ones) and the target is ``target_class`` everywhere.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from ncaforge.core.nca import NCA
from ncaforge.data.mnist import load_mnist
from ncaforge.families.classifier.model import digit_state, logits, mutate
from ncaforge.families.classifier.task import LOSSES, ClassifierTask
from ncaforge.interventions.injection import adversary_mask
from ncaforge.interventions.intervened import Intervened
from ncaforge.objectives.base import Pool, PoolObjective, Processes


def targets(nca: NCA, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, classes, H, W): the one-hot of each sample's label on its digit cells, zeros elsewhere."""
    classes = nca.config.classes
    onehot = F.one_hot(labels.long(), classes).to(x.dtype)[:, :, None, None]
    return onehot * nca.living(x).to(x.dtype)


class ClassifierObjective(PoolObjective):
    """Runs one training batch of self-classification and returns its loss.

    ``images`` (N, H, W) uint8 and ``labels`` (N,) are the training digits. Per batch,
    ``fresh`` samples are replaced by new digits and ``mutated`` by new digits under
    their old states; the rest persist. Sizes are this process's (see GrowingObjective).
    """

    def __init__(self, model: NCA, images: torch.Tensor, labels: torch.Tensor, pool_size: int = 160,
                 batch_size: int = 16, steps: int = 20, fresh: int = 4, mutated: int = 4,
                 loss: str = "l2", checkpoint_every: int = 0, attack: Intervened | None = None,
                 fraction: float = 0.1, target_class: int | None = None) -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(f"images must be (N, H, W) with labels (N,), got {tuple(images.shape)} "
                             f"and {tuple(labels.shape)}")
        if pool_size < batch_size or fresh + mutated > batch_size:
            raise ValueError(f"need pool_size >= batch_size >= fresh + mutated, got {pool_size}, "
                             f"{batch_size}, {fresh} + {mutated}")
        if attack is not None and (attack.adversary is None or target_class is None):
            raise ValueError("an attack on a classifier needs an adversary and a target_class")
        if target_class is not None and not 0 <= target_class < model.config.classes:
            raise ValueError(f"target_class must be in 0..{model.config.classes - 1}, got {target_class}")
        self.host, self.target_class = model, target_class
        self.model = model if attack is None else attack.trained  # what learns and is saved
        self.forward_model = model if attack is None else attack  # the trainer may wrap it in DDP
        self.device = next(model.parameters()).device
        self.images, self.labels_all = images, labels
        self.batch_size, self.steps, self.fresh, self.mutated = batch_size, steps, fresh, mutated
        self.loss_name, self.checkpoint_every = loss, checkpoint_every
        generator = torch.Generator().manual_seed(0)
        states, labels = self.draw_digits(pool_size, generator)
        tensors = {"states": states, "labels": labels}
        self.fraction = fraction
        if attack is not None:
            tensors["masks"] = self.draw_masks(pool_size, generator)
        self.pool = Pool(**tensors)

    def draw_masks(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` new (1, H, W) adversary masks over the whole grid."""
        h, w = self.images.shape[1:]
        return adversary_mask(n, h, w, self.fraction, None, generator, self.device)

    def digits(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Grey images in [0, 1] and labels of training digits ``idx``, on the model's device."""
        return (self.images[idx].to(self.device, torch.float32) / 255.0,
                self.labels_all[idx].to(self.device, torch.long))

    def draw_digits(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Fresh states and labels of ``n`` random training digits."""
        images, labels = self.digits(torch.randint(len(self.images), (n,), generator=generator))
        return digit_state(self.host, images), labels

    def per_sample_loss(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.target_class is not None:
            labels = torch.full_like(labels, self.target_class)
        out = logits(self.host, x)
        if self.loss_name == "l2":
            return (targets(self.host, x, labels) - out).pow(2).sum(dim=(1, 2, 3)) / 2
        living = self.host.living(x)[:, 0]
        ce = F.cross_entropy(out, labels[:, None, None].expand_as(living), reduction="none")
        return (ce * living).sum(dim=(1, 2)) / living.sum(dim=(1, 2)).clamp(min=1)

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Run one batch: returns (mean loss, final states) and updates the pool."""
        idx = self.pool.sample(self.batch_size, generator)
        x, labels = self.pool.take(idx), self.pool.take(idx, "labels")
        f, m = self.fresh, self.mutated
        x[:f], labels[:f] = self.draw_digits(f, generator)
        images, labels[f:f + m] = self.digits(torch.randint(len(self.images), (m,), generator=generator))
        x[f:f + m] = mutate(self.host, x[f:f + m], images)
        options: dict = {"checkpoint_every": self.checkpoint_every}
        if "masks" in self.pool.tensors:  # fresh digits get new adversaries, mutated ones keep theirs
            masks = self.pool.take(idx, "masks")
            masks[:f] = self.draw_masks(f, generator)
            self.pool.put(idx, masks=masks)
            options["mask"] = masks
        x = self.forward_model(x, self.steps, generator, **options)
        loss = self.per_sample_loss(x, labels).mean()
        self.pool.put(idx, states=x, labels=labels)
        return loss, x


def make_objective(model: NCA, task: ClassifierTask, group: Processes,
                   grad_checkpoint: int = 0) -> ClassifierObjective:
    """The objective of ``task`` on the MNIST training digits, for this process's share."""
    data = load_mnist(task.mnist_dir)
    images, labels = (torch.from_numpy(a) for a in data.split("train"))
    objective = ClassifierObjective(model, images, labels, group.shard(task.pool, "--pool"),
                                    group.shard(task.batch, "--batch"), task.steps,
                                    group.shard(task.fresh, "--fresh"),
                                    group.shard(task.mutated, "--mutated"),
                                    task.loss, grad_checkpoint)
    objective.task = replace(task, grid=tuple(images.shape[1:]))
    objective.summary = f"an MNIST classifier on {len(images)} digits from {data.source}"
    objective.provenance = {"data": data.source, "train_digits": len(images)}
    return objective
