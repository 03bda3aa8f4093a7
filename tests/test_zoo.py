import json

import pytest

from conftest import random_growing
from ncaforge import zoo
from ncaforge.io import checkpoint as ckpt


@pytest.fixture
def tmp_zoo(tmp_path, monkeypatch):
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "index.json").write_text("[]")
    monkeypatch.setattr(zoo, "zoo_dir", lambda: tmp_path / "zoo")
    return tmp_path / "zoo"


def test_add_then_load_by_name_with_provenance(tmp_path, tmp_zoo):
    nca = random_growing(hidden=8)
    ckpt.save(tmp_path / "run", nca, {"command": "nca train growing", "seed": 3})
    zoo.add(tmp_path / "run", "tiny", "a tiny test model", {"mse_200": 0.5})
    assert zoo.names() == ["tiny"]
    assert zoo.load("tiny").config.hidden == 8
    text = (tmp_zoo / "tiny" / "PROVENANCE.md").read_text()
    assert "nca train growing" in text and "mse_200" in text


def test_damaged_zoo_weights_are_refused(tmp_path, tmp_zoo):
    ckpt.save(tmp_path / "run", random_growing(hidden=8))
    zoo.add(tmp_path / "run", "tiny", "a tiny test model", {})
    entries = json.loads((tmp_zoo / "index.json").read_text())
    entries[0]["sha256"] = "0" * 64
    (tmp_zoo / "index.json").write_text(json.dumps(entries))
    with pytest.raises(ckpt.CheckpointError, match="sha256"):
        zoo.load("tiny")


def test_bundled_lizard_loads_offline_and_grows_its_target():
    import torch

    from ncaforge.data.targets import load_target
    from ncaforge.objectives.growing import rgba_mse

    nca = zoo.load("lizard")
    assert nca.provenance["command"].startswith("nca train growing")
    target = load_target("lizard")
    with torch.no_grad():
        x = nca.rollout(nca.seed(2, 72, 72), 200, torch.Generator().manual_seed(0))
    assert rgba_mse(x, target, nca.layout.rgba).max() < 5e-4  # the bar for mse_200
