"""Grow a target image from a seed, and keep it (persistent) or regrow it (regenerating).

The three modes of Growing NCA:
- ``growing``: every batch starts from seeds;
- ``persistent``: batches come from a sample pool, the worst one reseeded;
- ``regenerating``: as persistent, and the 3 best samples get a disc cut out.

The same objective trains an *attack* on a frozen host (adversarial reprogramming):
given ``attack`` (the host under an adversary or a perturbation), only the attack's
module learns, the pool can start from grown patterns (``starts``), and adversary
masks are kept with the pool samples. With a ``Recovery``, the host alone then runs on
from the attacked states and should regrow its own pattern: a second loss term that
favours attacks the host recovers from once they are lifted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ncaforge.core import budget
from ncaforge.core.nca import NCA
from ncaforge.families.growing.harden import Hardening
from ncaforge.families.growing.identity import identity_error, identity_seed, identity_values
from ncaforge.families.growing.task import MODES, GrowingTask
from ncaforge.interventions.damage import random_disc_damage
from ncaforge.interventions.injection import adversary_mask
from ncaforge.interventions.intervened import Intervened
from ncaforge.objectives.base import Pool, PoolObjective, Processes
from ncaforge.objectives.losses import rgba_mse


@dataclass
class Recovery:
    """After each attacked rollout the host alone runs a length drawn from ``steps`` and is scored
    against ``target`` (its own pattern); the loss adds ``weight`` times that MSE."""

    target: torch.Tensor
    weight: float = 1.0
    steps: tuple[int, int] = (64, 96)


class GrowingObjective(PoolObjective):
    """Runs one training batch of the growing task and returns its loss.

    ``pool_size`` and ``batch_size`` are this process's: under torchrun, each rank
    holds its shard of the global pool and batch.
    """

    def __init__(self, model: NCA, target: torch.Tensor, mode: str = "regenerating",
                 pool_size: int = 1024, batch_size: int = 8, steps: tuple[int, int] = (64, 96),
                 damage_count: int = 3, checkpoint_every: int = 0, attack: Intervened | None = None,
                 starts: torch.Tensor | None = None, fraction: float = 0.0,
                 region: torch.Tensor | None = None, recovery: Recovery | None = None,
                 hardening: Hardening | None = None) -> None:
        """``model`` is the NCA that grows (the host of an ``attack``, which then trains instead).

        ``starts`` (K, C, H, W) fill the pool in turn and replace the K worst samples of
        each batch (default: the seed). With an adversary, each sample carries a mask of
        adversarial cells drawn with probability ``fraction`` within ``region``. ``recovery``
        (attacks only) also scores the host's regrowth once the attack is lifted. ``hardening``
        attacks some samples of each batch, just before the damaged ones (pool modes).
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if target.ndim != 3 or target.shape[0] != 4:
            raise ValueError(f"target must be an RGBA tensor (4, H, W), got shape {tuple(target.shape)}")
        if mode != "growing" and pool_size < batch_size:
            raise ValueError(f"pool_size ({pool_size}) must be at least batch_size ({batch_size})")
        if not 0 <= damage_count < batch_size:
            raise ValueError(f"damage_count must be in [0, batch_size), got {damage_count}")
        self.host, self.mode = model, mode
        self.model = model if attack is None else attack.trained
        self.forward_model = model if attack is None else attack
        device = next(model.parameters()).device
        self.target = target.to(device)
        self.batch_size, self.steps, self.damage_count = batch_size, steps, damage_count
        self.checkpoint_every = checkpoint_every
        if recovery is not None and (attack is None or recovery.target.shape != target.shape):
            raise ValueError("recovery needs an attack and a target of the variant's shape "
                             f"{tuple(target.shape)}, got {tuple(recovery.target.shape)}")
        self.recovery = None if recovery is None else replace(recovery, target=recovery.target.to(device))
        _, self.height, self.width = target.shape
        cells = model.layout.channels * self.height * self.width
        budget.check(f"training on a {self.height}x{self.width} grid (pool {pool_size}, batch {batch_size}, "
                     f"{steps[1]} steps)", memory_bytes=4 * cells * (pool_size + 12 * batch_size * steps[1]),
                     hint=": choose a smaller --target-size, --pad, --pool or --batch")
        self.starts = model.seed(1, self.height, self.width) if starts is None else starts.to(device)
        if self.starts.shape[1:] != (model.layout.channels, self.height, self.width):
            raise ValueError(f"start states must be (K, {model.layout.channels}, {self.height}, "
                             f"{self.width}), got {tuple(self.starts.shape)}")
        hardened = hardening.count if hardening is not None else 0
        if hardening is not None and (mode == "growing" or attack is not None):
            raise ValueError("--harden trains a host in a pool mode (persistent or regenerating)")
        if mode != "growing" and len(self.starts) > batch_size - damage_count - hardened:
            raise ValueError(f"a batch of {batch_size} (--batch) has no room for its {len(self.starts)} "
                             f"fresh start states, {damage_count} damaged samples (--damage-count) and "
                             f"{hardened} attacked ones (--harden-count): it needs more than "
                             f"{len(self.starts) + damage_count + hardened}")
        self.hardening = hardening
        self.adversaries = attack is not None and attack.adversary is not None
        self.fraction, self.region, self.device = fraction, region, device
        if mode != "growing":
            tensors = {"states": self.starts[torch.arange(pool_size) % len(self.starts)].clone()}
            if self.adversaries:
                tensors["masks"] = self.draw_masks(pool_size, torch.Generator().manual_seed(0))
            self.pool = Pool(**tensors)

    def draw_masks(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` new (1, H, W) adversary masks."""
        return adversary_mask(n, self.height, self.width, self.fraction, self.region, generator, self.device)

    def per_sample_loss(self, x: torch.Tensor) -> torch.Tensor:
        return rgba_mse(x, self.target, self.host.layout.rgba)

    def select(self, idx: torch.Tensor, fresh: int = 0) -> None:
        """Called with a batch's pool indices, before they are sorted by loss and (``fresh``) after, when the
        first ``fresh`` restart from the start states: where a subclass reads its per-sample data."""

    def batch(self, generator: torch.Generator) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(pool indices or None, initial states) for the next batch; the worst get the start states."""
        k = len(self.starts)
        if self.pool is None:
            return None, self.starts[torch.arange(self.batch_size) % k]
        idx = self.pool.sample(self.batch_size, generator)
        x = self.pool.take(idx)
        self.select(idx)
        with torch.no_grad():
            order = self.per_sample_loss(x).argsort(descending=True)
        idx, x = idx[order], x[order]
        self.select(idx, fresh=k)
        x[:k] = self.starts
        if self.mode == "regenerating" and self.damage_count:
            x[-self.damage_count:] = random_disc_damage(x[-self.damage_count:], generator)
        return idx, x

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx, x = self.batch(generator)
        lo, hi = self.steps
        steps = int(torch.randint(lo, hi, (1,), generator=generator))
        options: dict = {"checkpoint_every": self.checkpoint_every}
        if self.adversaries:
            if idx is None:
                masks = self.draw_masks(self.batch_size, generator)
            else:  # the samples that restart from the start states get new adversaries
                masks = self.pool.take(idx, "masks")
                masks[:len(self.starts)] = self.draw_masks(len(self.starts), generator)
                self.pool.put(idx, masks=masks)
            options["mask"] = masks
        if self.hardening is not None and idx is not None:
            end = self.batch_size - self.damage_count  # the attacked samples come just before the damaged
            attacked = slice(end - self.hardening.count, end)
            x = self.hardening.rollout(x, attacked, steps, generator, self.checkpoint_every)
        else:
            x = self.forward_model(x, steps, generator, **options)
        loss = self.per_sample_loss(x).mean()
        if self.recovery is not None:
            lo, hi = self.recovery.steps
            lifted = self.host(x, int(torch.randint(lo, hi, (1,), generator=generator)), generator,
                               checkpoint_every=self.checkpoint_every)
            loss = loss + self.recovery.weight * rgba_mse(lifted, self.recovery.target,
                                                          self.host.layout.rgba).mean()
        if idx is not None:
            self.pool.put(idx, states=x)
        return loss, x


    def state_dict(self) -> dict[str, torch.Tensor]:
        state = super().state_dict()
        return state if self.hardening is None else {**state, **self.hardening.state_dict()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        super().load_state_dict({k: v for k, v in state.items() if not k.startswith("hardening.")})
        if self.hardening is not None:
            self.hardening.load_state_dict(state)


class IdentityObjective(GrowingObjective):
    """The growing objective whose samples carry an identity (kept in the pool beside their states):
    the loss adds ``weight`` times the mean squared difference of the identity channel of the living
    cells from the sample's identity."""

    def __init__(self, model: NCA, target: torch.Tensor, values: tuple[float, ...], weight: float = 1.0,
                 **kwargs: object) -> None:
        h, w = target.shape[1:]
        device = next(model.parameters()).device
        self.values = torch.tensor(values, device=device)
        starts = identity_seed(model, len(values), h, w, self.values)
        super().__init__(model, target, starts=starts, **kwargs)
        self.weight = weight
        if self.pool is not None:  # the pool starts as the start states in turn, and so do their ids
            self.pool = Pool(**self.pool.tensors, ids=self.values[torch.arange(len(self.pool)) % len(values)])
        self.batch_ids = self.values[torch.arange(self.batch_size) % len(values)]

    def per_sample_loss(self, x: torch.Tensor) -> torch.Tensor:
        ids = self.batch_ids[: len(x)]
        return super().per_sample_loss(x) + self.weight * identity_error(self.host, x, ids)

    def select(self, idx: torch.Tensor, fresh: int = 0) -> None:
        """The identities of the batch's samples; those that restart carry the start states' values."""
        ids = self.pool.take(idx, "ids")
        if fresh:
            ids[:fresh] = self.values
            self.pool.put(idx, ids=ids)
        self.batch_ids = ids


def local_shares(task: GrowingTask, group: Processes) -> dict[str, int]:
    """This process's pool, batch and damaged samples of the task's global ones (keyword arguments of
    :class:`GrowingObjective`)."""
    local_batch = group.shard(task.batch, "--batch")
    local_pool = group.shard(task.pool, "--pool") if task.mode != "growing" else task.pool
    local_damage = max(1, task.damage_count * local_batch // task.batch) if task.damage_count else 0
    return {"pool_size": local_pool, "batch_size": local_batch, "damage_count": local_damage}


def hardening_of(model: NCA, task: GrowingTask, target: torch.Tensor, group: Processes) -> Hardening | None:
    """The task's ``--harden`` attacks on ``model`` (None without them)."""
    if not task.harden:
        return None
    if group.world > 1:
        raise ValueError("--harden runs in one process (its attacked rollouts bypass DDP)")
    return Hardening(model, target.to(group.device), task.harden, task.harden_count, tuple(task.harden_steps))


def make_objective(model: NCA, task: GrowingTask, group: Processes, grad_checkpoint: int = 0
                   ) -> GrowingObjective:
    """The objective of ``task`` for this process's share of the batch and pool."""
    target = task.image()
    common = {"mode": task.mode, "steps": tuple(task.steps), "checkpoint_every": grad_checkpoint,
              "hardening": hardening_of(model, task, target, group), **local_shares(task, group)}
    values = identity_values(task.identity)
    objective = (IdentityObjective(model, target, values, task.identity_weight, **common) if values
                 else GrowingObjective(model, target, **common))
    objective.task = replace(task, grid=tuple(target.shape[1:]))
    hardened = f", hardened against {'/'.join(task.harden)}" if task.harden else ""
    hardened += f", identity channel: {task.identity}" if values else ""
    objective.summary = (f"a {task.mode} NCA on {task.target} ({target.shape[1]}x{target.shape[2]} grid)"
                         f"{hardened}")
    return objective
