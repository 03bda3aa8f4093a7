"""A trained logic CA as what it is once hard: a Boolean circuit, exported as JSON and run bit-parallel.

The bit-parallel runner packs each channel of a (C, H, W) grid into machine words, 64 cells of a row
a uint64, so one numpy bitwise operation computes one gate for 64 cells. Neighbours are whole-array
shifts of the words (rows by rolling, columns by a one-bit shift that carries across words, on a
torus). Only the gates the next state depends on are run (pass-through gates alias their input).
A small C++ extension (bitwise.cpp, built once per machine) runs the gates a cache-sized chunk of
words at a time; without a compiler, numpy runs them a whole row at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ncaforge.core.nca import NCA
from ncaforge.families.logic.gates import FUNCTIONS, GateNetwork
from ncaforge.families.logic.model import NEIGHBOURS, active_gates, circuits, gate_count

WORD = 64
A, B = FUNCTIONS.index("a"), FUNCTIONS.index("b")
ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
# the 16 functions on words, in FUNCTIONS' order
OPS = (
    lambda a, b: np.zeros_like(a), lambda a, b: a & b, lambda a, b: a & ~b, lambda a, b: a,
    lambda a, b: ~a & b, lambda a, b: b, lambda a, b: a ^ b, lambda a, b: a | b,
    lambda a, b: ~(a | b), lambda a, b: ~(a ^ b), lambda a, b: ~b, lambda a, b: a | ~b,
    lambda a, b: ~a, lambda a, b: ~a | b, lambda a, b: ~(a & b), lambda a, b: np.full_like(a, ALL),
)


@dataclass
class Layer:
    """The gates of one layer that matter: function indices and the rows of the layer before they read."""

    functions: np.ndarray
    a: np.ndarray
    b: np.ndarray


def pruned(net: GateNetwork, outputs: torch.Tensor | None = None) -> tuple[list[Layer], np.ndarray]:
    """``net``'s hard circuit cut to the gates that ``outputs`` (a bool mask of its last layer; default
    all) depend on, each layer's indices renumbered to the rows kept before it; and the network inputs
    read, in order (the first layer's indices point into this list)."""
    masks, read = net.dependencies(outputs)
    kept = np.flatnonzero(read.numpy())
    inputs = kept
    layers, rows_before = [], net.n_in
    for layer, mask in zip(net.layers, masks, strict=True):
        position = np.zeros(rows_before, dtype=np.int64)  # a cut row is read only by a function ignoring it
        position[kept] = np.arange(len(kept))
        rows = np.flatnonzero(mask.numpy())
        a, b = layer.index.cpu().numpy()[:, rows]
        layers.append(Layer(layer.functions().cpu().numpy()[rows], position[a], position[b]))
        kept, rows_before = rows, layer.gates
    return layers, inputs


def compiled_gates():
    """The C++ gate runner, or None where it cannot be built."""
    from ncaforge.kernels.compiled import compiled

    return compiled("ncaforge_logic_gates", Path(__file__).with_name("bitwise.cpp"), "the bit-parallel gates")


def run_layers(layers: list[Layer], values: list[np.ndarray], words: int) -> list[np.ndarray]:
    """Rows of ``words`` words through the layers, one gate at a time: each gate one or two numpy
    bitwise operations over whole rows (no gathers); a pass-through gate is its input row itself."""
    for layer in layers:
        if not values:  # nothing before is read (constant gates): any row will do
            values = [np.zeros(words, dtype=np.uint64)]
        gates = zip(layer.functions.tolist(), layer.a.tolist(), layer.b.tolist(), strict=True)
        values = [values[a] if f == A else values[b] if f == B else OPS[f](values[a], values[b])
                  for f, a, b in gates]
    return values


def pack(grid: np.ndarray) -> np.ndarray:
    """(C, H, W) bool -> (C, H, W/64) uint64 (cell (i, 64k + j) is bit j of word (i, k))."""
    if grid.shape[-1] % WORD:
        raise ValueError(f"the bit-parallel runner needs a width that is a multiple of {WORD}, got "
                         f"{grid.shape[-1]}")
    return np.packbits(grid.astype(bool), axis=-1, bitorder="little").view("<u8")


def unpack(words: np.ndarray) -> np.ndarray:
    """(C, H, W/64) uint64 -> (C, H, W) bool."""
    return np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little").astype(bool)


def neighbour_planes(words: np.ndarray) -> np.ndarray:
    """(C, H, K) words -> (C*9, H, K): plane c*9 + n holds neighbour n (raster order) of every cell."""
    planes = []
    for channel in words:
        for dy in (-1, 0, 1):
            rows = np.roll(channel, -dy, axis=0)
            for dx in (-1, 0, 1):
                if dx == 1:  # bit j takes column j + 1: shift down one bit, carry bit 0 of the next word
                    rows_dx = (rows >> np.uint64(1)) | (np.roll(rows, -1, axis=1) << np.uint64(63))
                elif dx == -1:
                    rows_dx = (rows << np.uint64(1)) | (np.roll(rows, 1, axis=1) >> np.uint64(63))
                else:
                    rows_dx = rows
                planes.append(rows_dx)
    return np.stack(planes)


class BitParallelCA:
    """The hard circuit of a logic CA (synchronous: every cell updates every step), on packed grids;
    ``native`` False keeps to numpy even where the C++ runner builds."""

    def __init__(self, nca: NCA, native: bool = True) -> None:
        perception, update = circuits(nca)
        c, kernels = nca.layout.channels, nca.perception.kernels
        self.update, read = pruned(update)  # update inputs: the C states, then the kernel bits
        self.states = read[read < c]
        kernel_bits = torch.zeros(perception.n_out, dtype=torch.bool)
        kernel_bits[torch.from_numpy(read[read >= c] - c)] = True
        self.perception, inputs = pruned(perception, kernel_bits)
        # perception input j is neighbour j % 9 of channel j // (kernels * 9)
        self.planes = inputs // (kernels * NEIGHBOURS) * NEIGHBOURS + inputs % NEIGHBOURS
        self.native = native
        self.native_perception, self.native_update = (
            [(layer.functions.tolist(), layer.a.tolist(), layer.b.tolist()) for layer in layers]
            for layers in (self.perception, self.update))
        if self.perception:  # natively the first gates read the neighbour planes themselves: no gather
            first = self.perception[0]
            self.native_perception[0] = (first.functions.tolist(), self.planes[first.a].tolist(),
                                         self.planes[first.b].tolist())

    def step(self, words: np.ndarray) -> np.ndarray:
        """(C, H, K) packed states -> the next ones."""
        c, h, k = words.shape
        planes = neighbour_planes(words).reshape(c * NEIGHBOURS, h * k)
        native = compiled_gates() if self.native else None
        if native is not None:
            bits = native.run(planes, self.native_perception) if self.perception else planes[:0]
            rows = np.concatenate([words.reshape(c, h * k)[self.states], bits])
            return native.run(rows, self.native_update).reshape(c, h, k)
        bits = run_layers(self.perception, [planes[i] for i in self.planes], h * k)  # the kernel bits read
        states = words.reshape(c, h * k)
        rows = run_layers(self.update, [*(states[i] for i in self.states), *bits], h * k)
        return np.stack(rows).reshape(c, h, k)

    def run(self, grid: np.ndarray, steps: int) -> np.ndarray:
        """(C, H, W) bool -> the state ``steps`` steps later."""
        words = pack(grid)
        for _ in range(steps):
            words = self.step(words)
        return unpack(words)


def circuit_json(nca: NCA) -> dict:
    """The hard circuit as JSON: each gate's function and inputs, layer by layer, for both circuits."""
    perception, update = circuits(nca)
    c = nca.layout.channels
    return {
        "functions": list(FUNCTIONS),
        "channels": c, "kernels": nca.perception.kernels, "neighbours": "raster order, dy then dx in -1..1",
        "perception": {"inputs": f"channel j // ({nca.perception.kernels} * 9), neighbour j % 9",
                       "layers": perception.circuit()},
        "update": {"inputs": f"the {c} states, then the perception outputs", "layers": update.circuit()},
        "gates": gate_count(nca), "active_gates": active_gates(nca),
    }
