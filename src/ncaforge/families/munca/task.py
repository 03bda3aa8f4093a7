"""What a texture NCA is trained to make: an exemplar image's texture on a torus of its own size."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from ncaforge.core.config import Config
from ncaforge.data.targets import TargetError, open_image

SEEDS = ("noise", "zeros")


@dataclass
class TextureTask(Config):
    """The task section of a texture checkpoint; each field is a `nca train munca` option."""

    target: str | None = field(default=None, metadata={
        "required": True, "help": "The exemplar: an image file of the texture (any size)."})
    exemplar_size: int = field(default=128, metadata={"min": 8, "max": 1024,
        "help": "Longer side the exemplar is resized to, in cells."})
    size: int = field(default=64, metadata={"min": 8, "max": 1024, "help": "Side of the square torus."})
    seed_kind: str = field(default="noise", metadata={
        "flag": "--seed-state", "choices": SEEDS, "help": "Where every run starts: uniform noise or zeros."})
    pool: int = field(default=256, metadata={"min": 1, "help": "Sample pool size (global under torchrun)."})
    batch: int = field(default=4, metadata={"min": 1,
        "help": "Samples per iteration (global under torchrun)."})
    steps: tuple[int, int] = field(default=(32, 96), metadata={"min": 1, "interval": True,
        "help": "Rollout length drawn uniformly from [LO, HI)."})
    levels: int = field(default=3, metadata={"min": 1, "max": 6, "help": "Levels of the patch pyramid."})
    projections: int = field(default=32, metadata={"min": 1, "help": "Random directions per level and step."})
    overflow: float = field(default=1.0, metadata={"min": 0.0,
        "help": "Weight of the penalty on states beyond [-1, 1]."})
    grid: tuple[int, int] | None = field(default=None, metadata={"min": 1, "cli": False,
        "help": "The torus H W (filled in when training starts)."})

    def exemplar(self) -> torch.Tensor:
        """The exemplar as RGB (3, h, w) in [0, 1], its longer side ``exemplar_size``."""
        if self.target is None:
            raise TargetError("a texture task needs an exemplar image: pass --target PATH")
        img = open_image(self.target).convert("RGB")
        scale = self.exemplar_size / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.LANCZOS)
        if min(img.size) < 8:
            raise TargetError(f"{self.target}: the exemplar is {img.width}x{img.height} cells at "
                              f"--exemplar-size {self.exemplar_size}; it needs at least 8 on each side")
        return torch.from_numpy(np.asarray(img, np.float32) / 255.0).permute(2, 0, 1).contiguous()
