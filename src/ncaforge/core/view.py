"""How a state becomes a picture, declared as data so that Python and the browser draw it alike.

A family names one view; ``ncaforge.render.views.draw`` draws it in Python and the
playground's engine.js draws the same kinds. Each view maps a (B, C, H, W) state to
(B, 3, H, W) RGB in [0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# The legend of the self-classifying MNIST article, classes 0..9 (RGB, 0..255).
CLASS_COLOURS = ((128, 0, 0), (230, 25, 75), (70, 240, 240), (210, 245, 60), (250, 190, 190),
                 (170, 110, 40), (170, 255, 195), (165, 163, 159), (0, 128, 128), (128, 128, 0))


@dataclass(frozen=True)
class View:
    """Base of the view kinds; ``kind`` names it in JSON."""

    kind = "view"

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class RGBAView(View):
    """Premultiplied RGBA over white, as in Growing NCA: ``1 - clip(alpha) + rgb``."""

    kind = "rgba"
    rgb: tuple[int, int, int] = (0, 1, 2)
    alpha: int = 3


@dataclass(frozen=True)
class RGBView(View):
    """Three channels as colour, scaled from [low, high] to [0, 1] (textures, plain RGB states)."""

    kind = "rgb"
    channels: tuple[int, int, int] = (0, 1, 2)
    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True)
class FieldView(View):
    """One channel as a scalar field in the viridis colour map, from [low, high] (PDE species)."""

    kind = "field"
    channel: int = 0
    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True)
class ClassView(View):
    """Cells where ``living`` exceeds ``threshold`` in the colour of their arg-max class logit
    (the last ``classes`` channels), shaded by the living channel; white elsewhere."""

    kind = "classes"
    living: int = 0
    classes: int = 10
    threshold: float = 0.1
