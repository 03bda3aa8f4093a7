"""Importers for the models the Distill authors published with their NCA articles.

"Growing Neural Cellular Automata", two release formats:
- a TF.js graph model (``model.json``): float32 ``Const`` nodes w1 (1,1,3C,H), b1 (H,),
  w2 (1,1,H,C), b2 (C,), in Keras layout (input features x output channels) with
  features interleaved per channel [id, sx, sy] -- our order;
- the quantised WebGL demo format: a JSON list of two layers, each a uint8 matrix of
  (in_ch + 1) x out_ch rows (the last row the bias) with ``weight_scale`` and
  ``bias_scale``; the first layer's rows are grouped by filter [all id | all sx | all sy].

"Self-classifying MNIST Digits": a JSON list of 6 base64 strings, the raw little-endian
float32 bytes of k1 (3,3,20,80), b1 (80), k2 (1,1,80,80), b2 (80), k3 (1,1,80,19),
b3 (19), kernels in Keras layout (height, width, in, out); or the article's TF.js graph
model holding the same arrays as Const nodes.

"Adversarial Reprogramming of Neural Cellular Automata": global state perturbations as
``.npy`` files of a symmetric C x C float32 matrix in the row-vector convention
(``x'_j = sum_i x_i A_ij``, ours); its adversaries are growing or MNIST models in the
formats above.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ncaforge.core.errors import NcaError
from ncaforge.core.nca import NCA
from ncaforge.families.classifier.model import ClassifierConfig, build_classifier
from ncaforge.families.growing.model import GrowingConfig, build_growing
from ncaforge.interventions.perturbation import Perturbation


class ImportFormatError(NcaError, ValueError):
    """A file is not in a format this importer knows."""


def _guarded(importer: Callable[[str | Path], tuple[Any, str]]) -> Callable[[str | Path], tuple[Any, str]]:
    """``importer``, with any failure on a malformed file (a missing key, a bad number, base64 without
    padding, a zero width, ...) and any non-finite weight reported as an ImportFormatError naming it."""

    @functools.wraps(importer)
    def guarded(path: str | Path) -> tuple[Any, str]:
        try:
            module, fmt = importer(path)
        except ImportFormatError as e:
            if str(path) in str(e):
                raise
            raise ImportFormatError(f"{path}: {e}") from e
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, ZeroDivisionError,
                OverflowError, RuntimeError) as e:
            raise ImportFormatError(f"{path}: malformed for this importer ({type(e).__name__}: {e})") from e
        bad = [name for name, t in module.state_dict().items()
               if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if bad:
            raise ImportFormatError(f"{path}: the weights {', '.join(bad)} hold NaN or inf")
        return module, fmt

    return guarded


def _read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise ImportFormatError(f"{path} does not exist")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ImportFormatError(f"{path} is not JSON: {e}") from e


def _tfjs_consts(doc: dict) -> list[np.ndarray]:
    """The float32 Const tensors of a TF.js graph model, in node order."""
    nodes = doc.get("modelTopology", {}).get("node", [])
    out = []
    for node in nodes:
        if node.get("op") != "Const":
            continue
        tensor = node.get("attr", {}).get("value", {}).get("tensor", {})
        if tensor.get("dtype") != "DT_FLOAT" or "tensorContent" not in tensor:
            continue
        shape = [int(d.get("size", 1)) for d in tensor.get("tensorShape", {}).get("dim", [])]
        data = np.frombuffer(base64.b64decode(tensor["tensorContent"]), dtype="<f4")
        if data.size != int(np.prod(shape)):
            raise ImportFormatError(f"Const node {node.get('name')!r}: {data.size} floats do not fill "
                                    f"shape {shape}")
        out.append(data.reshape(shape))
    return out


def _from_tfjs(doc: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    consts = _tfjs_consts(doc)
    kernels = [t for t in consts if t.ndim == 4 and t.shape[:2] == (1, 1)]
    biases = [t for t in consts if t.ndim == 1]
    if len(kernels) != 2 or len(biases) < 2:
        raise ImportFormatError("TF.js model: expected two 1x1 kernels and two biases among the "
                                f"float Const nodes, found kernels {[k.shape for k in kernels]}")
    w1, w2 = (k[0, 0] for k in kernels)
    if w1.shape[1] != w2.shape[0]:
        w1, w2 = w2, w1
    b1 = next((b for b in biases if b.shape[0] == w1.shape[1]), None)
    b2 = next((b for b in biases if b.shape[0] == w2.shape[1] and b is not b1), None)
    if b1 is None or b2 is None:
        raise ImportFormatError("TF.js model: biases do not match the kernel widths")
    return w1, b1, w2, b2


def _dequantise(layer: dict) -> tuple[np.ndarray, np.ndarray]:
    try:
        q = np.frombuffer(base64.b64decode(layer["data_b64"]), dtype=np.uint8)
        rows, cols = int(layer["in_ch"]) + 1, int(layer["out_ch"])
        q = q[: rows * cols].reshape(rows, cols).astype(np.float32) / 255.0
        return ((q[:-1] - 0.5) * float(layer["weight_scale"]),
                (q[-1] - 0.5) * float(layer["bias_scale"]))
    except (KeyError, ValueError, TypeError) as e:
        raise ImportFormatError(f"quantised layer is malformed: {e}") from e


def _from_webgl(doc: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if len(doc) != 2 or not all(isinstance(layer, dict) for layer in doc):
        raise ImportFormatError(f"quantised WebGL model: expected a list of 2 layers (objects), got "
                                f"{[type(layer).__name__ for layer in doc]}")
    if any(layer.get("type", "uint8") != "uint8" for layer in doc):
        raise ImportFormatError("quantised WebGL model: only type 'uint8' layers are supported")
    w1, b1 = _dequantise(doc[0])
    w2, b2 = _dequantise(doc[1])
    channels = w2.shape[1]
    n_filters = w1.shape[0] // channels
    # rows grouped by filter (f * C + c) -> interleaved per channel (c * F + f)
    order = [f * channels + c for c in range(channels) for f in range(n_filters)]
    return w1[order], b1, w2, b2


@_guarded
def import_growing(path: str | Path) -> tuple[NCA, str]:
    """Read a published Growing-CA model in either format; returns (model, format name)."""
    doc = _read_json(path)
    if isinstance(doc, dict) and "modelTopology" in doc:
        fmt, (w1, b1, w2, b2) = "tfjs-graph-model", _from_tfjs(doc)
    elif isinstance(doc, list):
        fmt, (w1, b1, w2, b2) = "webgl-quantised", _from_webgl(doc)
    else:
        raise ImportFormatError(f"{path}: neither a TF.js graph model (with 'modelTopology') nor a "
                                "quantised WebGL layer list")
    channels, hidden = w2.shape[1], w1.shape[1]
    if w1.shape[0] != 3 * channels or w2.shape[0] != hidden:
        raise ImportFormatError(f"{path}: layer shapes {w1.shape} and {w2.shape} do not fit a growing "
                                "model (3 x channels -> hidden -> channels)")
    nca = build_growing(GrowingConfig(channels=channels, hidden=hidden))
    first, last = nca.update.net[0], nca.update.net[-1]
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(np.ascontiguousarray(w1.T))[:, :, None, None])
        first.bias.copy_(torch.from_numpy(b1.copy()))
        last.weight.copy_(torch.from_numpy(np.ascontiguousarray(w2.T))[:, :, None, None])
        last.bias.copy_(torch.from_numpy(b2.copy()))
    return nca, fmt


def _mnist_from_tfjs(doc: dict) -> list[np.ndarray]:
    """k1, b1, k2, b2, k3, b3 of a TF.js graph model, matched by shape among its float Consts."""
    consts = _tfjs_consts(doc)
    k1 = next((t for t in consts if t.ndim == 4 and t.shape[:2] == (3, 3)), None)
    ones = [t for t in consts if t.ndim == 4 and t.shape[:2] == (1, 1)]
    if k1 is None or len(ones) != 2:
        raise ImportFormatError("TF.js model: expected a 3x3 kernel and two 1x1 kernels among the float "
                                f"Const nodes, found {[t.shape for t in consts if t.ndim == 4]}")
    k3, k2 = ones if ones[0].shape[3] == k1.shape[2] - 1 else ones[::-1]  # k3 writes C - 1 channels
    biases = [t for t in consts if t.ndim == 1]  # equal widths are taken in node order
    out = [k1, None, k2, None, k3, None]
    for i, kernel in ((1, k1), (3, k2), (5, k3)):
        out[i] = next((b for b in biases if b.shape[0] == kernel.shape[3]
                       and not any(b is o for o in out)), None)
        if out[i] is None:
            raise ImportFormatError(f"TF.js model: no bias of width {kernel.shape[3]}")
    return out


@_guarded
def import_mnist(path: str | Path) -> tuple[NCA, str]:
    """Read a published self-classifying MNIST model; returns (model, format name).

    Formats: a JSON list of 6 base64 float32 arrays (k1, b1, k2, b2, k3, b3), or a TF.js
    graph model (the article's ``model.json``) whose float Consts are those arrays.
    """
    doc = _read_json(path)
    if isinstance(doc, dict) and "modelTopology" in doc:
        fmt, flat = "tfjs-graph-model", [a.reshape(-1) for a in _mnist_from_tfjs(doc)]
    elif isinstance(doc, list) and len(doc) == 6 and all(isinstance(a, str) for a in doc):
        try:
            fmt, flat = "base64-arrays", [np.frombuffer(base64.b64decode(a, validate=True), dtype="<f4")
                                          for a in doc]
        except ValueError as e:
            raise ImportFormatError(f"{path}: not base64 float32 data: {e}") from e
    else:
        raise ImportFormatError(f"{path}: expected a JSON list of 6 base64 strings (k1, b1, k2, b2, k3, "
                                "b3) or a TF.js graph model")
    b1, b2, b3 = flat[1], flat[3], flat[5]
    features, hidden, mutable = len(b1), len(b2), len(b3)
    channels = mutable + 1
    shapes = [(3, 3, channels, features), (features,), (1, 1, features, hidden), (hidden,),
              (1, 1, hidden, mutable), (mutable,)]
    if any(a.size != int(np.prod(shape)) for a, shape in zip(flat, shapes, strict=True)):
        raise ImportFormatError(f"{path}: array sizes {[a.size for a in flat]} do not fit k1 (3,3,C,F), "
                                "b1 (F), k2 (1,1,F,H), b2 (H), k3 (1,1,H,C-1), b3 (C-1)")
    k1, k2, k3 = (torch.from_numpy(flat[i].reshape(shapes[i]).copy()).permute(3, 2, 0, 1) for i in (0, 2, 4))
    nca = build_classifier(ClassifierConfig(channels=channels, features=features, hidden=hidden))
    first, last = nca.update.net[0], nca.update.net[-1]
    with torch.no_grad():
        nca.perception.conv.weight.copy_(k1)
        nca.perception.conv.bias.copy_(torch.from_numpy(b1.copy()))
        first.weight.copy_(k2)
        first.bias.copy_(torch.from_numpy(b2.copy()))
        last.weight.copy_(k3)
        last.bias.copy_(torch.from_numpy(b3.copy()))
    return nca, fmt


@_guarded
def import_perturbation(path: str | Path) -> tuple[Perturbation, str]:
    """A global state perturbation from a ``.npy`` file of a symmetric (C, C) matrix."""
    path = Path(path)
    if not path.exists():
        raise ImportFormatError(f"{path} does not exist")
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ImportFormatError(f"{path}: not a .npy array file: {e}") from e
    if (not isinstance(matrix, np.ndarray) or matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]
            or matrix.shape[0] == 0 or not np.issubdtype(matrix.dtype, np.floating)):
        got = (f"{matrix.dtype} {matrix.shape}" if isinstance(matrix, np.ndarray)
               else f"a {type(matrix).__name__} (an .npz archive?)")
        raise ImportFormatError(f"{path}: expected a square float matrix (C, C), got {got}")
    if not np.isfinite(matrix).all():
        raise ImportFormatError(f"{path}: the matrix holds NaN or inf")
    try:
        return Perturbation.from_matrix(torch.from_numpy(matrix.astype(np.float32))), "npy-matrix"
    except ValueError as e:
        raise ImportFormatError(f"{path}: {e}") from e
