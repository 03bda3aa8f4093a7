"""Data-parallel training across processes with PyTorch's own stack (DDP under torchrun).

``torchrun --nproc_per_node N -m ncaforge.cli train ...`` starts N processes with
RANK / WORLD_SIZE / LOCAL_RANK set; each joins the process group here (NCCL on
GPUs, gloo on CPU), trains on its shard of the batch and of the sample pool, and
DDP averages gradients. Rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Group:
    """Where this process stands: its rank, the number of processes, its device."""

    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int, what: str) -> int:
        """This rank's share of ``n`` (a global batch or pool size), which must divide evenly."""
        if n % self.world:
            raise ValueError(f"{what} ({n}) must be divisible by the number of processes ({self.world})")
        return n // self.world

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """Every rank's ``t`` (same shape on all), concatenated along dim 0 in rank order.

        Collectives run on this rank's device (NCCL takes GPU tensors only).
        """
        if self.world == 1:
            return t
        t = t.to(self.device).contiguous()
        parts = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(parts, t)
        return torch.cat(parts)

    def mine(self, t: torch.Tensor) -> torch.Tensor:
        """This rank's slice of a tensor gathered with :meth:`gather`."""
        return t.chunk(self.world)[self.rank] if self.world > 1 else t

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` summed over all ranks (on this rank's device)."""
        if self.world > 1:
            t = t.to(self.device)
            dist.all_reduce(t)
        return t


def setup(device: str | None = None) -> Group:
    """Join the process group when launched by torchrun; a single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    if world == 1:
        return Group(device=dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Group(dist.get_rank(), dist.get_world_size(), dev)


def teardown() -> None:
    """Leave the process group once every rank is done (a rank leaving early can abort another's gloo)."""
    if not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=120))
        else:
            dist.barrier()
    except RuntimeError:  # a rank failed or is gone: leave all the same
        pass
    dist.destroy_process_group()
