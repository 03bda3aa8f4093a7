"""Run by tests/test_distributed.py under torchrun: trains a tiny model with DDP, checks ranks agree."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from ncaforge.families.growing.model import GrowingConfig, build_growing
from ncaforge.families.growing.objective import GrowingObjective
from ncaforge.training import distributed
from ncaforge.training.trainer import TrainConfig, Trainer


def main(run_dir: str) -> None:
    torch.set_num_threads(1)
    group = distributed.setup("cpu")
    torch.manual_seed(group.rank)  # different initial weights: DDP must broadcast rank 0's
    target = torch.zeros(4, 12, 12)
    target[:, 3:9, 3:9] = 1.0
    model = build_growing(GrowingConfig(hidden=16))
    objective = GrowingObjective(model, target, "persistent", pool_size=4, batch_size=2, steps=(4, 6),
                                 damage_count=0)
    trainer = Trainer(objective, run_dir, TrainConfig(iterations=3, checkpoint_every=3), group=group)
    trainer.fit(progress=False)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    both = group.gather(flat[None])
    pools = group.gather(objective.pool["states"][None])
    if group.main:
        report = {"param_diff": float((both[0] - both[1]).abs().max()), "param_norm": float(flat.norm()),
                  "pools_differ": bool((pools[0] != pools[1]).any())}
        Path(run_dir, "ranks.json").write_text(json.dumps(report))
    dist.barrier()
    distributed.teardown()


if __name__ == "__main__":
    main(sys.argv[1])
