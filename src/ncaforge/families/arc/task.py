"""Which ARC task an NCA learns, and how: rollout lengths and the steps the loss looks at."""

from __future__ import annotations

from dataclasses import dataclass, field

from ncaforge.core.config import Config
from ncaforge.data.arc import VERSIONS


@dataclass
class ArcTaskConfig(Config):
    """The task section of an ARC checkpoint; each field is a `nca train arc` option."""

    task: str = field(default="", metadata={"required": True, "metavar": "ID",
        "help": "The ARC task's id (8 hex digits, e.g. 007bbfb7; training or evaluation split)."})
    version: str = field(default="arcagi1", metadata={"choices": VERSIONS, "help": "ARC-AGI version."})
    steps: tuple[int, int] = field(default=(24, 32), metadata={"min": 1, "interval": True,
        "help": "Rollout length drawn uniformly from [LO, HI) each iteration."})
    supervised: int = field(default=8, metadata={"min": 1,
        "help": "The loss is the mean over this many last steps."})
    loss: str = field(default="mse", metadata={"choices": ("mse", "ce"),
        "help": "mse: squared distance of the colour channels to the one-hot output colours; ce: their "
                "cross-entropy, as logits."})
    predict_steps: int = field(default=32, metadata={"min": 1,
        "help": "Steps run on a test input before its colours are read."})
