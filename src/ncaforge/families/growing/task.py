"""What a growing model is trained to do: the target image, its grid, the mode and the batch recipe."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import torch

from ncaforge.core.config import Config
from ncaforge.data.targets import load_target

MODES = ("growing", "persistent", "regenerating")
HARDENING = ("inject", "perturb", "noise")


@dataclass
class GrowingTask(Config):
    """The task section of a growing checkpoint; each field is a `nca train growing` option."""

    target: str = field(default="lizard", metadata={
        "help": "Bundled name (lizard), emoji:<char>, or an image file (PNG/JPEG/WebP)."})
    target_size: int = field(default=40, metadata={"min": 1, "max": 2048,
            "help": "Longer side of the target, in cells."})
    pad: int = field(default=16, metadata={"min": 0, "max": 2048, "help": "Empty cells around the target."})
    mode: str = field(default="regenerating", metadata={
        "choices": MODES, "help": "growing: every batch from seeds; persistent: a sample pool; "
                                  "regenerating: the pool, and the best samples damaged."})
    batch: int = field(default=8, metadata={"min": 1,
        "help": "Samples per iteration (global under torchrun)."})
    pool: int = field(default=1024, metadata={"min": 1, "help": "Sample pool size (global under torchrun)."})
    steps: tuple[int, int] = field(default=(64, 96), metadata={"min": 1, "interval": True,
        "help": "Rollout length drawn uniformly from [LO, HI)."})
    damage_count: int = field(default=3, metadata={"min": 0,
        "help": "Samples damaged per batch in regenerating mode."})
    harden: tuple[str, ...] = field(default=(), metadata={
        "help": "Attacks in the training loop (comma list of inject, perturb, noise), so that the rule "
                "returns to its pattern after them: inject: 10% of a sample's cells follow an adversary "
                "trained alongside to undo the pattern; perturb: a random global perturbation; noise: "
                "Gaussian noise on the living cells. Pool modes; one kind per batch."})
    harden_count: int = field(default=2, metadata={"min": 1,
        "help": "Samples of each batch attacked when --harden is given."})
    harden_steps: tuple[int, int] = field(default=(16, 32), metadata={"min": 1, "interval": True,
        "help": "Steps an adversary or a perturbation acts at the start of the rollout, from [LO, HI)."})
    identity: str = field(default="none", metadata={"choices": ("none", "one", "several"),
        "help": "An identity channel (the last): the seed carries a value and every living cell is asked "
                "to keep it (one: 1; several: 0.25, 0.5, 0.75 or 1, one per seed), so organisms side by "
                "side can tell themselves apart."})
    identity_weight: float = field(default=1.0, metadata={"min": 0.0,
        "help": "Weight of the identity term in the loss."})
    grid: tuple[int, int] | None = field(default=None, metadata={"min": 1,
        "cli": False, "help": "The grid H W the target makes (filled in when training starts)."})

    # A version-1 checkpoint implies this task only where its provenance recorded the target.
    v1_required: ClassVar[tuple[str, ...]] = ("target",)

    def image(self) -> torch.Tensor:
        """The target as premultiplied RGBA (4, H, W) on its padded grid."""
        return load_target(self.target, self.target_size, self.pad)

    def resolved(self) -> GrowingTask:
        """This task with ``grid`` filled in from the target image."""
        return replace(self, grid=tuple(self.image().shape[1:]))
