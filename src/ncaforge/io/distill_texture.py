"""Importer for the texture NCAs the authors of "Self-Organising Textures" (Distill 2021) published.

One JSON file holds many models: ``{"model_names": [...], "layers": [L1, L2]}``, each layer
``{"scale", "data", "shape", "quant_scale_zero", "layout"}``:

- ``shape`` is one model's weight matrix (rows = inputs + 1, the bias the last row; columns = outputs):
  [49, 96] (12 channels x 4 filters + 1 -> 96 hidden) and [97, 12];
- ``data`` is a PNG data URL: each model's matrix, its columns padded to a multiple of 4, as
  (rows, columns/4) RGBA pixels; models tiled ``layout = [w, h]`` per row and column, row-major;
- byte q decodes as ``(q/255 - 127/255) * scale``;
- the first layer's input rows (not the bias) are filter-major ``[all id | all sx | all sy | all lap]``
  (ours are interleaved per channel), filters sobel/8 and laplacian/8;
- the demo stores hidden activations and states on 8 bits (``quant_scale_zero``) and shows
  RGB = x[:3] / 2 + 0.5.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ncaforge.core.nca import NCA
from ncaforge.data.textures import TextureTask
from ncaforge.families.texture.model import HIDDEN_SCALE_ZERO, STATE_SCALE_ZERO, TextureConfig, build_texture
from ncaforge.io.distill import ImportFormatError

FILTERS = ("identity", "sobel_x", "sobel_y", "laplacian_8")
PNG_PREFIX = "data:image/png;base64,"
# what an imported model records: no exemplar (evaluation takes --target), zero starts as in the demo
TASK = TextureTask(target=None, seed_kind="zeros", grid=(128, 128))


def _read(path: Path) -> dict:
    if not path.exists():
        raise ImportFormatError(f"{path} does not exist")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ImportFormatError(f"{path} is not JSON: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("model_names"), list) \
            or not isinstance(doc.get("layers"), list) or len(doc["layers"]) != 2:
        raise ImportFormatError(f"{path}: expected {{\"model_names\": [...], \"layers\": [L1, L2]}} (the "
                                "texture models' export)")
    return doc


def _pixels(layer: dict, where: str) -> np.ndarray:
    """The layer's whole tiled image as (H, W, 4) uint8."""
    data = layer.get("data")
    if not isinstance(data, str) or not data.startswith(PNG_PREFIX):
        raise ImportFormatError(f"{where}: 'data' must be a PNG data URL ({PNG_PREFIX}...)")
    try:
        with Image.open(io.BytesIO(base64.b64decode(data[len(PNG_PREFIX):], validate=True))) as img:
            return np.asarray(img.convert("RGBA"))
    except (ValueError, UnidentifiedImageError, OSError) as e:
        raise ImportFormatError(f"{where}: 'data' is not a readable PNG: {e}") from e


def layer_matrix(layer: dict, index: int, count: int, where: str) -> np.ndarray:
    """Model ``index``'s float (rows, columns) matrix from one layer of the export."""
    try:
        rows, cols = (int(v) for v in layer["shape"])
        per_row, per_col = (int(v) for v in layer["layout"])
        scale = float(layer["scale"])
    except (KeyError, TypeError, ValueError) as e:
        raise ImportFormatError(f"{where}: needs 'shape' [rows, cols], 'layout' [w, h] and 'scale' "
                                f"({e})") from e
    if per_row * per_col < count:
        raise ImportFormatError(f"{where}: layout {per_row}x{per_col} holds fewer than {count} models")
    width = -(-cols // 4)  # pixels per row of one model
    pixels = _pixels(layer, where)
    if pixels.shape[:2] != (per_col * rows, per_row * width):
        raise ImportFormatError(f"{where}: the image is {pixels.shape[1]}x{pixels.shape[0]} pixels; layout "
                                f"{per_row}x{per_col} of {cols}-column, {rows}-row models needs "
                                f"{per_row * width}x{per_col * rows}")
    y, x = (index // per_row) * rows, (index % per_row) * width
    block = pixels[y : y + rows, x : x + width].reshape(rows, width * 4)[:, :cols]
    return (block.astype(np.float32) / 255.0 - 127.0 / 255.0) * scale


def model_names(path: str | Path) -> list[str]:
    """The names of the models in an export file."""
    return [str(n) for n in _read(Path(path))["model_names"]]


def import_texture(path: str | Path, name: str) -> tuple[NCA, str]:
    """Model ``name`` of an export file as a texture NCA (12 channels, 96 hidden, 8-bit states)."""
    path = Path(path)
    doc = _read(path)
    names = [str(n) for n in doc["model_names"]]
    if name not in names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise ImportFormatError(f"{path}: no model {name!r}; it holds {len(names)}: {shown}")
    index = names.index(name)
    first, second = (layer_matrix(layer, index, len(names), f"{path} layer {i + 1}")
                     for i, layer in enumerate(doc["layers"]))
    hidden, channels = second.shape[0] - 1, second.shape[1]
    filters = len(FILTERS)
    if first.shape != (channels * filters + 1, hidden):
        raise ImportFormatError(f"{path}: layer shapes {list(first.shape)} and {list(second.shape)} do not "
                                f"fit a texture NCA ({filters} x channels + 1 -> hidden, hidden + 1 -> "
                                "channels)")
    for i, expected in enumerate((HIDDEN_SCALE_ZERO, STATE_SCALE_ZERO)):
        layer = doc["layers"][i]
        got = layer.get("quant_scale_zero")
        if got is not None and not np.allclose(got, expected, atol=1e-6):
            raise ImportFormatError(f"{path} layer {i + 1}: quant_scale_zero {got}, the demo's is "
                                    f"{list(expected)}")
    # filter-major rows (f * C + c) -> interleaved per channel (c * F + f)
    order = [f * channels + c for c in range(channels) for f in range(filters)]
    w1, b1 = first[:-1][order], first[-1]
    if np.abs(second[-1]).max() > abs(float(doc["layers"][1]["scale"])) / 255.0:
        raise ImportFormatError(f"{path}: the second layer has a bias; the texture NCA's has none")
    nca = build_texture(TextureConfig(channels=channels, hidden=hidden, filters=FILTERS, quantize=True,
                                      quantize_weights=False, rgb_scale=0.5))
    with torch.no_grad():
        nca.update.net[0].weight.copy_(torch.from_numpy(np.ascontiguousarray(w1.T))[:, :, None, None])
        nca.update.net[0].bias.copy_(torch.from_numpy(b1.copy()))
        w2 = torch.from_numpy(np.ascontiguousarray(second[:-1].T))
        nca.update.net[2].weight.copy_(w2[:, :, None, None])
    return nca, "distill-texture-png"
