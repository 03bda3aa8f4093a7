import json

import pytest
import torch

from conftest import random_growing
from ncaforge.core.atomic import atomic_dir, recover_dir
from ncaforge.families.growing.model import GrowingConfig, build_growing
from ncaforge.io import checkpoint as ckpt


def test_round_trip_keeps_weights_config_and_provenance(tmp_path):
    nca = random_growing(hidden=24)
    ckpt.save(tmp_path / "m", nca, {"seed": 7})
    back = ckpt.load(tmp_path / "m", family="growing")
    assert back.config == nca.config
    assert back.provenance == {"seed": 7}
    for a, b in zip(nca.state_dict().values(), back.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["feature_order"] == "interleaved" and cfg["layout"]["alpha"] == 3


def test_wrong_family_version_and_shape_are_clear_errors(tmp_path):
    ckpt.save(tmp_path / "m", build_growing())
    with pytest.raises(ckpt.CheckpointError, match="holds a 'growing' model, expected 'classifier'"):
        ckpt.load(tmp_path / "m", family="classifier")

    cfg_path = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["format_version"] = 99
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ckpt.CheckpointError, match="format version 99"):
        ckpt.load(tmp_path / "m")

    cfg["format_version"] = ckpt.FORMAT_VERSION
    cfg["config"]["hidden"] = 64  # the weights have 128
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ckpt.CheckpointError, match="has shape"):
        ckpt.load(tmp_path / "m")

    cfg["family"] = "teapot"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ckpt.CheckpointError, match="unknown model family 'teapot'"):
        ckpt.load(tmp_path / "m")


def test_missing_or_incomplete_checkpoints(tmp_path):
    with pytest.raises(ckpt.CheckpointError, match="no checkpoint directory"):
        ckpt.load(tmp_path / "nothing")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(ckpt.CheckpointError, match=r"needs model\.safetensors"):
        ckpt.load(tmp_path / "half")


def test_atomic_dir_keeps_the_old_copy_when_writing_fails(tmp_path):
    target = tmp_path / "ck"
    ckpt.save(target, build_growing(GrowingConfig(hidden=8)))
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "partial").write_text("x")
        raise RuntimeError("killed mid-write")
    assert ckpt.load(target).config.hidden == 8
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]


def test_recover_dir_restores_the_old_copy_after_a_crash_between_renames(tmp_path):
    ckpt.save(tmp_path / "ck", build_growing(GrowingConfig(hidden=8)))
    (tmp_path / "ck").rename(tmp_path / "ck.old")  # crash after moving old away
    assert recover_dir(tmp_path / "ck").exists()
    assert ckpt.load(tmp_path / "ck").config.hidden == 8
