"""Data-parallel training with torchrun, 2 CPU processes on the gloo backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ncaforge.io import checkpoint as ckpt
from ncaforge.training.trainer import load_train_state

pytestmark = pytest.mark.distributed

HERE = Path(__file__).parent


def _torchrun(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_ddp_keeps_ranks_in_step_and_shards_the_pool(tmp_path):
    _torchrun(str(HERE / "ddp_worker.py"), str(tmp_path))
    ranks = json.loads((tmp_path / "ranks.json").read_text())
    assert ranks["param_diff"] == 0.0  # rank 0's weights broadcast, gradients averaged
    assert ranks["param_norm"] > 0
    assert ranks["pools_differ"]  # each rank trains on its own shard
    state = load_train_state(tmp_path / "checkpoint" / "train_state.safetensors")
    assert state["objective.states"].shape == (8, 16, 12, 12)  # 2 shards of 4, gathered whole


def test_cli_training_under_torchrun_checkpoints_once_and_resumes_on_one_process(tmp_path, disc_png):
    run = tmp_path / "run"
    common = ["--target", str(disc_png), "--target-size", "8", "--pad", "2", "--batch", "4",
              "--pool", "8", "--steps", "4", "6", "--hidden", "16", "--checkpoint-every", "2",
              "--threads", "1", "--out", str(run)]
    out = _torchrun("-m", "ncaforge.cli", "train", "growing", "--iterations", "4", *common)
    assert out.stdout.count("training a regenerating NCA") == 1  # rank 0 speaks
    assert "on 2 processes" in out.stdout
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["iteration"] for x in lines] == [1, 2, 3, 4]
    resumed = subprocess.run([sys.executable, "-m", "ncaforge.cli", "train", "growing", "--iterations", "6",
                              "--resume", *common], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "iteration 6" in resumed.stdout
    assert ckpt.load(run / "checkpoint").provenance["train_config"]["extra"]["processes"] == 1


def test_global_sizes_must_split_evenly_across_processes():
    import pytest

    from ncaforge.training.distributed import Group

    group = Group(rank=1, world=2)
    assert group.shard(8, "--batch") == 4
    with pytest.raises(ValueError, match=r"--batch \(5\) must be divisible by the number of processes \(2\)"):
        group.shard(5, "--batch")
    full = torch.arange(8)
    assert group.mine(full).tolist() == [4, 5, 6, 7]
