import base64
import json

import numpy as np
import pytest
import torch

from conftest import random_growing
from ncaforge.io.distill import ImportFormatError, import_growing


def _weights(nca):
    first, last = nca.update.net[0], nca.update.net[-1]
    w1 = first.weight[:, :, 0, 0].T.detach().numpy()  # (48, 128) Keras layout
    w2 = last.weight[:, :, 0, 0].T.detach().numpy()  # (128, 16)
    return w1, first.bias.detach().numpy(), w2, last.bias.detach().numpy()


def _const(name, array):
    return {"name": name, "op": "Const", "attr": {"value": {"tensor": {
        "dtype": "DT_FLOAT",
        "tensorShape": {"dim": [{"size": str(s)} for s in array.shape]},
        "tensorContent": base64.b64encode(array.astype("<f4").tobytes()).decode()}},
        "dtype": {"type": "DT_FLOAT"}}}


def test_tfjs_graph_model_imports_exactly(tmp_path):
    nca = random_growing(hidden=128)
    w1, b1, w2, b2 = _weights(nca)
    doc = {"format": "graph-model", "modelTopology": {"node": [
        {"name": "x", "op": "Placeholder"},
        _const("w1", w1[None, None]), _const("b1", b1),
        {"name": "shape", "op": "Const", "attr": {"value": {"tensor": {"dtype": "DT_INT32"}}}},
        _const("w2", w2[None, None]), _const("b2", b2)]}}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    back, fmt = import_growing(path)
    assert fmt == "tfjs-graph-model"
    for a, b in zip(nca.state_dict().values(), back.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def _quantise(w, b):
    scale_w, scale_b = 2 * np.abs(w).max() + 1e-3, 2 * np.abs(b).max() + 1e-3
    q = np.concatenate([w / scale_w, b[None] / scale_b]) + 0.5
    q = np.clip(np.round(q * 255), 0, 255).astype(np.uint8)
    return {"data_b64": base64.b64encode(q.tobytes()).decode(), "in_ch": w.shape[0],
            "out_ch": w.shape[1], "weight_scale": float(scale_w), "bias_scale": float(scale_b),
            "type": "uint8"}


def test_quantised_webgl_model_reorders_features_and_dequantises(tmp_path):
    nca = random_growing(hidden=128)
    w1, b1, w2, b2 = _weights(nca)
    c = 16
    grouped = w1[[c_ * 3 + f for f in range(3) for c_ in range(c)]]  # [all id | all sx | all sy]
    path = tmp_path / "webgl.json"
    path.write_text(json.dumps([_quantise(grouped, b1), _quantise(w2, b2)]))
    back, fmt = import_growing(path)
    assert fmt == "webgl-quantised"
    bw1, bb1, bw2, bb2 = _weights(back)
    step = (2 * np.abs(w1).max() + 1e-3) / 255
    assert np.abs(bw1 - w1).max() <= step / 2 + 1e-6  # within half a quantisation step
    assert np.abs(bw2 - w2).max() <= (2 * np.abs(w2).max() + 1e-3) / 255 / 2 + 1e-6
    assert np.abs(bb1 - b1).max() <= (2 * np.abs(b1).max() + 1e-3) / 255 / 2 + 1e-6
    assert np.abs(bb2 - b2).max() <= (2 * np.abs(b2).max() + 1e-3) / 255 / 2 + 1e-6


def test_bad_import_files(tmp_path):
    with pytest.raises(ImportFormatError, match="does not exist"):
        import_growing(tmp_path / "none.json")
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ImportFormatError, match="not JSON"):
        import_growing(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps({"weights": []}))
    with pytest.raises(ImportFormatError, match="neither"):
        import_growing(tmp_path / "b.json")
    (tmp_path / "c.json").write_text(json.dumps([{"data_b64": ""}]))
    with pytest.raises(ImportFormatError, match="2 layers"):
        import_growing(tmp_path / "c.json")


def test_perturbation_matrix_imports_with_the_row_vector_convention(tmp_path):
    from click.testing import CliRunner

    from ncaforge.cli import main
    from ncaforge.io import checkpoint as ckpt

    rng = np.random.default_rng(0)
    m = rng.normal(0, 0.1, (16, 16)).astype(np.float32)
    matrix = np.eye(16, dtype=np.float32) + (m + m.T) / 2
    np.save(tmp_path / "tail.npy", matrix)
    result = CliRunner().invoke(main, ["import", "distill-perturbation", str(tmp_path / "tail.npy"),
                                       "--out", str(tmp_path / "tail")])
    assert result.exit_code == 0, result.output
    p = ckpt.load(tmp_path / "tail", family="perturbation")
    assert torch.allclose(p.matrix, torch.from_numpy(matrix), atol=1e-6)
    x = torch.from_numpy(rng.normal(0, 1, (1, 16, 1, 1)).astype(np.float32))
    expected = (x[0, :, 0, 0].numpy() @ matrix).clip(-3, 3)  # x'_j = sum_i x_i A_ij
    assert np.allclose(p.apply(x, None)[0, :, 0, 0].detach().numpy(), expected, atol=1e-5)

    np.save(tmp_path / "skew.npy", matrix + np.triu(np.ones((16, 16), np.float32), 1))
    np.save(tmp_path / "flat.npy", np.ones(16, np.float32))
    (tmp_path / "text.npy").write_text("not an array")
    for name, words in (("skew.npy", "symmetric"), ("flat.npy", "square"), ("text.npy", "not a .npy"),
                        ("missing.npy", "does not exist")):
        result = CliRunner().invoke(main, ["import", "distill-perturbation", str(tmp_path / name),
                                           "--out", str(tmp_path / "x")])
        assert result.exit_code != 0 and words in result.output and name in result.output, result.output
