"""Pictures of states: each view kind of ``ncaforge.core.view`` drawn in Python (engine.js draws the same)."""

from __future__ import annotations

import torch
from matplotlib import colormaps
from torch import nn

from ncaforge.core import family as registry
from ncaforge.core.view import CLASS_COLOURS, ClassView, FieldView, RGBAView, RGBView, View

_VIRIDIS = torch.tensor(colormaps["viridis"](torch.linspace(0, 1, 256).numpy())[:, :3], dtype=torch.float32)


def draw(view: View, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] of states ``x`` (B, C, H, W) as ``view`` says."""
    if isinstance(view, RGBAView):
        alpha = x[:, view.alpha:view.alpha + 1].clamp(0.0, 1.0)
        return (1.0 - alpha + x[:, list(view.rgb)]).clamp(0.0, 1.0)
    if isinstance(view, RGBView):
        return ((x[:, list(view.channels)] - view.low) / (view.high - view.low)).clamp(0.0, 1.0)
    if isinstance(view, FieldView):
        v = ((x[:, view.channel] - view.low) / (view.high - view.low)).clamp(0, 1)
        return _VIRIDIS.to(x.device)[(v * 255).round().long()].permute(0, 3, 1, 2)
    if isinstance(view, ClassView):
        votes = x[:, -view.classes:].argmax(1)
        colours = torch.tensor(CLASS_COLOURS, dtype=torch.float32, device=x.device) / 255.0
        colour = colours[votes % len(colours)].permute(0, 3, 1, 2)
        grey = x[:, view.living:view.living + 1]
        grey = (grey * (grey > view.threshold)).clamp(0, 1)
        return 1.0 - grey * (1.0 - colour)
    raise ValueError(f"no picture for view {type(view).__name__}")


def view_of(model: nn.Module) -> View:
    """The view ``model``'s family declares."""
    family = registry.family_of(model)
    if family.view is None:
        raise ValueError(f"the {family.name} family declares no view: its states have no picture")
    return family.view(model)


def picture(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] of ``model``'s states: its family's picture, or its declared view."""
    family = registry.family_of(model)
    if family.picture is not None:
        return family.picture(model, x)
    return draw(view_of(model), x)


def occupied(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) bool: the cells that show (opaque, or living, or all), where marks are painted."""
    view = view_of(model)
    if isinstance(view, RGBAView):
        return x[:, view.alpha:view.alpha + 1] > 0.1
    if isinstance(view, ClassView):
        return x[:, view.living:view.living + 1] > view.threshold
    return torch.ones_like(x[:, :1], dtype=torch.bool)
