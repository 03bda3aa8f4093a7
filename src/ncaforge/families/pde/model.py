"""The PDE NCA of Richardson, Antal, Blythe et al. (2024): a rule fitted to trajectories of a PDE.

8 channels of which the first ``observed`` (2: Gray-Scott's A and B) are compared with
the data, the rest hidden; fixed perception kernels chosen by name (identity +
laplacian makes the rule invariant to rotations and reflections of the grid); a per-cell
MLP 16 -> 32 -> 8 with a zero-initialised last layer; every cell updates every step
(fire rate 1); periodic (circular) padding; no alive masking.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ncaforge.core.config import Config
from ncaforge.core.layout import Layout
from ncaforge.core.nca import NCA
from ncaforge.core.perception import FILTERS, PADDING_MODES, FixedPerception
from ncaforge.core.update import UpdateMLP


@dataclass
class PDEConfig(Config):
    """Every hyperparameter of a PDE NCA; stored in a checkpoint's config.json."""

    channels: int = field(default=8, metadata={"min": 1, "help": "State channels (observed + hidden)."})
    observed: int = field(default=2, metadata={"min": 1, "cli": False,
        "help": "Channels compared with the data."})
    hidden: int = field(default=32, metadata={"min": 1, "help": "Width of the update MLP."})
    filters: tuple[str, ...] = field(default=("identity", "laplacian"), metadata={
        "choices": FILTERS, "nonempty": True,
        "help": f"Perception kernels, comma-separated: {', '.join(FILTERS)}."})
    padding: str = field(default="circular", metadata={"choices": PADDING_MODES, "help": "Grid border."})
    fire_rate: float = field(default=1.0, metadata={"min": 0.0, "max": 1.0,
        "help": "Probability that a cell updates in a step."})


def build_pde(config: PDEConfig | None = None) -> NCA:
    """Assemble a PDE NCA (an untrained one is the identity map)."""
    c = config or PDEConfig()
    if not 0 < c.observed <= c.channels:
        raise ValueError(f"observed channels ({c.observed}) must be between 1 and channels ({c.channels})")
    layout = Layout(channels=c.channels, rgb=None, alpha=None)
    perception = FixedPerception(c.channels, c.filters, padding=c.padding)
    update = UpdateMLP(perception.out_features, c.channels, (c.hidden,))
    nca = NCA(layout, perception, update, c.fire_rate)
    nca.config = c
    return nca


def observed_state(nca: NCA, frames: torch.Tensor) -> torch.Tensor:
    """Initial states (B, C, H, W) from observed frames (B, observed, H, W): hidden channels at 0."""
    b, o, h, w = frames.shape
    if o != nca.config.observed:
        raise ValueError(f"this model observes {nca.config.observed} channels, the frames have {o}")
    x = torch.zeros(b, nca.layout.channels, h, w, device=frames.device, dtype=frames.dtype)
    x[:, :o] = frames
    return x
