"""DiffLogic CA (Miotti, Niklasson, Randazzo, Mordvintsev 2025): a cellular automaton whose rule is a
circuit of logic gates, learned by gradient descent through the gates' relaxations.

Cells hold binary channels. Each cell perceives every channel of its 3x3 neighbourhood (on a torus)
through ``kernels`` small gate circuits per channel, then an update circuit maps its own state and all
perception bits to its next state. As an :class:`NCA` this is perception (centre states, then kernel
outputs) and an update whose delta is the circuit's output minus the current state: a cell that fires
takes the circuit's state (all cells, with fire rate 1; a random part of them, asynchronous).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.families.logic.gates import GateLayer, GateNetwork

NEIGHBOURS = 9  # a 3x3 neighbourhood, raster order (dy, dx from -1 to 1)


@dataclass
class LogicConfig(Config):
    """Every hyperparameter of a DiffLogic CA; stored in a checkpoint's config.json."""

    channels: int = field(default=1, metadata={"min": 1, "help": "Binary state channels per cell."})
    kernels: int = field(default=16, metadata={"min": 1,
        "help": "Perception circuits per channel, each over the channel's 3x3 neighbourhood."})
    kernel_layers: tuple[int, ...] = field(default=(8, 4, 2, 1), metadata={"min": 1, "nonempty": True,
        "help": "Gates per layer of one perception circuit (the last: its output bits)."})
    update_layers: tuple[int, ...] = field(default=(128,) * 8 + (64, 32, 16, 8, 4, 2), metadata={"min": 1,
        "help": "Gates per hidden layer of the update circuit; a last layer of one gate per channel "
                "follows."})
    fire_rate: float = field(default=1.0, metadata={"min": 0.0, "max": 1.0,
        "help": "Probability that a cell updates in a step (1: synchronous; below: asynchronous)."})
    pass_through: float = field(default=10.0, metadata={"min": 0.0,
        "help": "Initial logit of every gate's pass-through function ('a'; the 15 others start at 0). "
                "Life reached 512/512 with 10, not with 3."})
    wiring_seed: int = field(default=0, metadata={"help": "Seed of the circuits' fixed random wiring."})
    clip_bits: bool = field(default=True, metadata={
        "help": "Circuits read states clipped to [0, 1], gradients passed straight through: training "
                "noise (--noise) pushes states out of [0, 1], and the gates' polynomials amplify what lies "
                "outside, step after step, until they overflow."})
    straight_through: bool = field(default=False, metadata={
        "help": "Train through the hard circuit: each gate's arg-max function forward, the relaxation's "
                "gradients backward (closes the gap between the two over long rollouts)."})


def neighbourhoods(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B*H*W, 9*C): each cell's 3x3 neighbourhood on a torus, neighbour-major (raster
    order), channels last: the rows the active-cell path gathers."""
    b, c, h, w = x.shape
    patches = F.unfold(F.pad(x, (1, 1, 1, 1), mode="circular"), 3)  # (B, C*9, H*W)
    return patches.view(b, c, NEIGHBOURS, h * w).permute(0, 3, 2, 1).reshape(b * h * w, NEIGHBOURS * c)


class LogicPerception(nn.Module):
    """``kernels`` gate circuits per channel over its 3x3 neighbourhood; features are the cells' states
    then the circuits' outputs, (B, C + C*kernels*outputs, H, W)."""

    padding = "circular"  # the CA lives on a torus

    def __init__(self, channels: int, kernels: int, layers: tuple[int, ...], generator: torch.Generator,
                 pass_through: float) -> None:
        super().__init__()
        self.channels, self.kernels = channels, kernels
        blocks = channels * kernels
        self.circuits = GateNetwork(blocks * NEIGHBOURS, tuple(n * blocks for n in layers), generator,
                                    blocks=blocks, pass_through=pass_through)
        # circuit input j reads neighbour j % 9 of channel j // (kernels * 9): each kernel its own copy
        rows = torch.arange(blocks * NEIGHBOURS)
        self.register_buffer("source", rows % NEIGHBOURS * channels + rows // (kernels * NEIGHBOURS),
                             persistent=False)

    @property
    def out_features(self) -> int:
        return self.channels + self.circuits.n_out

    def web_spec(self) -> dict:
        """How the playground runs this perception: circuit input j reads entry ``source[j]`` of a cell's
        neighbourhood (neighbour-major, then channel), and the features are the cell's states, then the
        circuits' outputs."""
        return {"kind": "logic", "features": self.out_features, "source": self.source.tolist(),
                "circuits": self.circuits.web_spec()}

    def cell_features(self, neigh: torch.Tensor) -> torch.Tensor:
        """(N, 9*C) neighbourhoods (see :func:`neighbourhoods`) -> (N, F) features of their centres."""
        centre = neigh[:, NEIGHBOURS // 2 * self.channels:][:, : self.channels]
        return torch.cat([centre, self.circuits(neigh.index_select(1, self.source))], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if c != self.channels:
            raise ValueError(f"a logic CA of {self.channels} channels got states of {c}")
        features = self.cell_features(neighbourhoods(x))  # (B*H*W, F)
        return features.view(b, h, w, -1).permute(0, 3, 1, 2)


class LogicUpdate(nn.Module):
    """The update circuit: perception features (B, F, H, W) -> the change (B, C, H, W) that takes each
    cell from its state (the first C features) to the circuit's output."""

    def __init__(self, in_features: int, channels: int, layers: tuple[int, ...], generator: torch.Generator,
                 pass_through: float) -> None:
        super().__init__()
        self.channels = channels
        self.circuit = GateNetwork(in_features, (*layers, channels), generator, pass_through=pass_through)

    def web_spec(self) -> dict:
        """How the playground runs this update: the circuit's output replaces the first C features."""
        return {"kind": "gates", "circuit": self.circuit.web_spec()}

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b, f, h, w = features.shape
        rows = features.permute(0, 2, 3, 1).reshape(b * h * w, f)
        new = self.circuit(rows).view(b, h, w, self.channels).permute(0, 3, 1, 2)
        return new - features[:, : self.channels]  # a cell that fires takes the circuit's state


def build_logic(config: LogicConfig | None = None) -> NCA:
    """An untrained DiffLogic CA (every gate leaning to pass-through), wired by ``config.wiring_seed``."""
    c = config or LogicConfig()
    if c.fire_rate <= 0:
        raise ValueError("fire_rate must be above 0: no cell would ever update")
    g = torch.Generator().manual_seed(c.wiring_seed)
    perception = LogicPerception(c.channels, c.kernels, c.kernel_layers, g, c.pass_through)
    update = LogicUpdate(perception.out_features, c.channels, c.update_layers, g, c.pass_through)
    nca = NCA(Layout(channels=c.channels, rgb=None, alpha=None), perception, update, c.fire_rate)
    for layer in nca.modules():
        if isinstance(layer, GateLayer):
            layer.straight_through = c.straight_through
        if isinstance(layer, GateNetwork):
            layer.clip_bits = c.clip_bits
    nca.config = c
    return nca


def next_states(nca: NCA, neigh: torch.Tensor) -> torch.Tensor:
    """(N, 9*C) neighbourhoods -> (N, C): the next states of their centre cells, when they fire. Life's
    objective and evaluation ask this of the 512 configurations alone, 9x less work than a step of their
    3x3 grids."""
    return nca.update.circuit(nca.perception.cell_features(neigh))


def circuits(nca: NCA) -> tuple[GateNetwork, GateNetwork]:
    """The (perception, update) gate networks of a logic CA."""
    return nca.perception.circuits, nca.update.circuit


def active_gates(nca: NCA) -> int:
    """Gates of the hard circuit that the next state depends on, pass-through gates excluded."""
    perception, update = circuits(nca)
    _, read = update.dependencies()
    kernel_bits = read[nca.layout.channels:]  # update inputs: the states, then the kernels' outputs
    return update.active_gates() + perception.active_gates(kernel_bits)


def gate_count(nca: NCA) -> int:
    """All gates of the circuit, used or not."""
    return sum(layer.gates for net in circuits(nca) for layer in net.layers)


def binary(x: torch.Tensor) -> torch.Tensor:
    """States rounded to 0/1 (what the hard circuit reads and writes)."""
    return (x > 0.5).to(x.dtype)

