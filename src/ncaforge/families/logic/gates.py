"""Differentiable logic gate networks (Petersen et al. 2022), the rule of DiffLogic CA.

A gate reads two inputs a, b through fixed wiring and holds a distribution over the 16
two-input Boolean functions. Every function is affine in (1, a, b, ab) on reals in [0, 1]
(AND = ab, XOR = a + b - 2ab, ...), so a gate's relaxation is ``k0 + k1 a + k2 b + k3 ab``
with the coefficients averaged under softmax(logits). In training mode gates are relaxed;
in eval mode each takes its most likely function ("hard"), which on 0/1 inputs is exact
Boolean logic. With ``straight_through`` a training gate computes as the hard one but passes the
relaxation's gradients (for rules run many steps, whose relaxation can drift from the circuit).
Gates start leaning to pass-through (function "a"), so an untrained network copies its inputs
along, as in DiffLogic CA.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

# The 16 functions in the order of the difflogic papers, with their coefficients of (1, a, b, ab).
FUNCTIONS = ("false", "and", "a_and_not_b", "a", "not_a_and_b", "b", "xor", "or",
             "nor", "xnor", "not_b", "a_or_not_b", "not_a", "not_a_or_b", "nand", "true")
COEFFICIENTS = torch.tensor([
    [0, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, -1], [0, 1, 0, 0],
    [0, 0, 1, -1], [0, 0, 1, 0], [0, 1, 1, -2], [0, 1, 1, -1],
    [1, -1, -1, 1], [1, -1, -1, 2], [1, 0, -1, 0], [1, 0, -1, 1],
    [1, -1, 0, 0], [1, -1, 0, 1], [1, 0, 0, -1], [1, 0, 0, 0],
], dtype=torch.float32)
PASS_THROUGH = (FUNCTIONS.index("a"), FUNCTIONS.index("b"))
READS_A = (COEFFICIENTS[:, 1] != 0) | (COEFFICIENTS[:, 3] != 0)  # which functions depend on a
READS_B = (COEFFICIENTS[:, 2] != 0) | (COEFFICIENTS[:, 3] != 0)


def wiring(blocks: int, n_in: int, n_out: int, generator: torch.Generator) -> torch.Tensor:
    """(2, blocks * n_out) input indices of a layer of ``blocks`` independent blocks, each of ``n_out``
    gates over its own ``n_in`` inputs (block j reads inputs j*n_in ...). Within a block the 2*n_out
    slots take a random permutation of the inputs, repeated as needed, so that every input is read
    when 2*n_out >= n_in; a gate's two inputs differ where the block has more than one."""
    if n_in < 1 or n_out < 1:
        raise ValueError(f"a gate layer needs inputs and gates, got {n_in} inputs and {n_out} gates")
    slots = []
    for j in range(blocks):
        reps = -(-2 * n_out // n_in)
        order = torch.cat([torch.randperm(n_in, generator=generator) for _ in range(reps)])[: 2 * n_out]
        a, b = order[0::2].clone(), order[1::2].clone()
        if n_in > 1:  # a gate reading one input twice is a waste: move its second input along
            same = a == b
            b[same] = (b[same] + 1) % n_in
        slots.append(torch.stack([a, b]) + j * n_in)
    return torch.cat(slots, dim=1)


class GateLayer(nn.Module):
    """A layer of logic gates with fixed wiring ``index`` (2, n_out) into its input rows."""

    def __init__(self, index: torch.Tensor, pass_through: float = 10.0) -> None:
        super().__init__()
        self.register_buffer("index", index.long())
        logits = torch.zeros(index.shape[1], len(FUNCTIONS))
        logits[:, FUNCTIONS.index("a")] = pass_through
        self.logits = nn.Parameter(logits)
        self.straight_through = False

    @property
    def gates(self) -> int:
        return self.index.shape[1]

    def functions(self) -> torch.Tensor:
        """(n_out,) the most likely function of each gate: the hard circuit."""
        return self.logits.argmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, n_in) -> (N, n_out): relaxed gates in training mode, hard ones in eval mode."""
        a, b = x[:, self.index[0]], x[:, self.index[1]]
        table = COEFFICIENTS.to(x)
        if not self.training:
            k = table[self.functions()]
        else:
            k = torch.softmax(self.logits, dim=1) @ table
            if self.straight_through:  # the hard circuit's values, the relaxation's gradients
                k = table[self.functions()] + (k - k.detach())
        # k0 + k1 a + k2 b + k3 ab, as three fused multiply-adds over the (N, gates) batch
        return torch.addcmul(torch.addcmul(k[:, 0], k[:, 2], b), a, torch.addcmul(k[:, 1], k[:, 3], b))


def as_bits(x: torch.Tensor) -> torch.Tensor:
    """Values read as relaxed bits: clipped to [0, 1] forward, gradients passed straight through; values
    already in [0, 1] pass unchanged."""
    return x + (x.clamp(0.0, 1.0) - x).detach()


class GateNetwork(nn.Module):
    """Layers of gates; layer sizes are totals over ``blocks`` independent circuits that share nothing
    (block j of a layer reads only block j of the layer before)."""

    def __init__(self, n_in: int, layers: tuple[int, ...], generator: torch.Generator, blocks: int = 1,
                 pass_through: float = 10.0) -> None:
        super().__init__()
        sizes = (n_in, *layers)
        bad = [s for s in sizes if s % blocks]
        if bad:
            raise ValueError(f"layer sizes {sizes} must be multiples of the {blocks} blocks")
        self.n_in, self.blocks = n_in, blocks
        self.clip_bits = True  # read inputs with as_bits (a logic CA's config may turn it off)
        self.layers = nn.ModuleList(
            GateLayer(wiring(blocks, i // blocks, o // blocks, generator), pass_through)
            for i, o in itertools.pairwise(sizes))

    @property
    def n_out(self) -> int:
        return self.layers[-1].gates

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.clip_bits:
            x = as_bits(x)
        for layer in self.layers:
            x = layer(x)
        return x

    def circuit(self) -> list[list[dict]]:
        """The hard circuit as JSON-able layers: each gate's function name and its two inputs (indices into
        the layer before; layer 0 reads the network's inputs)."""
        return [[{"op": FUNCTIONS[f], "a": int(a), "b": int(b)}
                 for f, a, b in zip(layer.functions().tolist(), *layer.index.tolist(), strict=True)]
                for layer in self.layers]

    def web_spec(self) -> dict:
        """The hard circuit as the playground runs it (web/site/engine.js): each gate's function and
        inputs, layer by layer, and every function's coefficients of (1, a, b, ab)."""
        return {"inputs": self.n_in, "clip": self.clip_bits,
                "functions": dict(zip(FUNCTIONS, COEFFICIENTS.int().tolist(), strict=True)),
                "layers": self.circuit()}

    def dependencies(self, outputs: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """What the hard circuit's ``outputs`` (a bool mask of the last layer; default all) depend on: per
        layer a bool mask of the gates, and a bool mask of the network's inputs, found by walking back
        through the inputs each gate's function reads (as its coefficients say: constants read none)."""
        needed = torch.ones(self.n_out, dtype=torch.bool) if outputs is None else outputs.cpu().clone()
        sizes = [self.n_in] + [layer.gates for layer in self.layers[:-1]]
        masks = []
        for layer, n_in in zip(reversed(self.layers), reversed(sizes), strict=True):
            masks.append(needed)
            f, index = layer.functions().cpu(), layer.index.cpu()
            previous = torch.zeros(n_in, dtype=torch.bool)
            previous[index[0][needed & READS_A[f]]] = True
            previous[index[1][needed & READS_B[f]]] = True
            needed = previous
        return masks[::-1], needed

    def active_gates(self, outputs: torch.Tensor | None = None) -> int:
        """Gates the outputs depend on that compute something: pass-through gates (a, b) excluded."""
        masks, _ = self.dependencies(outputs)
        return sum(int((mask & ~torch.isin(layer.functions().cpu(), torch.tensor(PASS_THROUGH))).sum())
                   for layer, mask in zip(self.layers, masks, strict=True))
