"""Texture exemplars (five bundled CC0 / public-domain ones, or any image) and the texture task.

A texture NCA lives on a torus where every cell is alive; it is trained to make the exemplar's
texture there, from noise or zeros. The rightmost ``holdout`` of the exemplar's columns is never
trained on: evaluation compares the grid with that held-out strip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ncaforge.core.config import Config
from ncaforge.data.targets import TargetError, open_image

TEXTURES = ("brick", "grass", "gravel", "hubble", "retina")  # data/assets/textures/NAME.png
SEEDS = ("noise", "zeros")


def texture_path(name: str) -> Path:
    """The file of a bundled exemplar."""
    return Path(str(resources.files("ncaforge.data") / "assets" / "textures" / f"{name}.png"))


def load_exemplar(spec: str, size: int = 128) -> torch.Tensor:
    """A bundled name (``brick``, ...) or an image path -> RGB (3, h, w) in [0, 1], longer side ``size``."""
    img = open_image(texture_path(spec) if spec in TEXTURES else spec).convert("RGB")
    scale = size / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                     Image.Resampling.LANCZOS)
    if min(img.size) < 8:
        raise TargetError(f"{spec}: the exemplar is {img.width}x{img.height} cells at size {size}; "
                          "it needs at least 8 on each side")
    return torch.from_numpy(np.asarray(img, np.float32) / 255.0).permute(2, 0, 1).contiguous()


@dataclass
class TextureTask(Config):
    """The task section of a texture checkpoint; each field is a `nca train texture|munca|rd` option."""

    KIND = "texture"  # stored under this kind whichever of the three families trained it

    target: str | None = field(default=None, metadata={
        "required": True, "help": f"The exemplar: {', '.join(TEXTURES)}, or an image file (any size)."})
    exemplar_size: int = field(default=128, metadata={"min": 8, "max": 1024,
        "help": "Longer side the exemplar is resized to, in cells."})
    holdout: float = field(default=0.25, metadata={"min": 0.0, "max": 0.5,
        "help": "Fraction of the exemplar's columns (the rightmost) kept out of training, for evaluation."})
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
    damage: int = field(default=0, metadata={"min": 0,
        "help": "Samples per batch that get a quarter of the torus (a random square) reset to a fresh start "
                "before their rollout, so that the rule learns to regrow it (may change on --resume)."})
    overflow: float = field(default=1.0, metadata={"min": 0.0,
        "help": "Weight of the penalty on states beyond [-1, 1]."})
    vgg: str | None = field(default=None, metadata={"path": "file",
        "help": "Also a Gram loss on VGG16 features: a safetensors file of torchvision's vgg16 weights "
                "(never downloaded)."})
    vgg_weight: float = field(default=1.0, metadata={"min": 0.0, "help": "Weight of the VGG Gram loss."})
    grid: tuple[int, int] | None = field(default=None, metadata={"min": 1, "cli": False,
        "help": "The torus H W (filled in when training starts)."})

    def full_exemplar(self) -> torch.Tensor:
        """The whole exemplar as RGB (3, h, w) in [0, 1], its longer side ``exemplar_size``."""
        if self.target is None:
            raise TargetError("a texture task needs an exemplar: pass --target NAME|PATH")
        return load_exemplar(self.target, self.exemplar_size)

    def exemplar(self) -> torch.Tensor:
        """The part of the exemplar training sees (all but the held-out columns)."""
        full = self.full_exemplar()
        return full[:, :, : full.shape[2] - self.held_out_columns(full)]

    def held_out(self) -> torch.Tensor:
        """The held-out strip evaluation compares with (the whole exemplar when ``holdout`` is 0)."""
        full = self.full_exemplar()
        cut = self.held_out_columns(full)
        return full[:, :, full.shape[2] - cut :] if cut else full

    def held_out_columns(self, full: torch.Tensor) -> int:
        """How many columns are held out; both parts must hold a 5x5 patch at the pyramid's top level."""
        cut = round(full.shape[2] * self.holdout)
        least = 5 * 2 ** (self.levels - 1)
        if min(full.shape[1], full.shape[2] - cut, cut or least) < least:
            raise TargetError(f"{self.target}: a {full.shape[2]}x{full.shape[1]} exemplar with --holdout "
                              f"{self.holdout} leaves a part under {least} cells (5 at the top of "
                              f"{self.levels} levels); use a larger --exemplar-size or fewer --levels")
        return cut
