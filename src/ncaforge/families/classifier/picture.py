"""Self-classification made visible: each digit cell in the colour of the class it votes for."""

from __future__ import annotations

import numpy as np
import torch

from ncaforge.core.nca import NCA
from ncaforge.core.view import CLASS_COLOURS
from ncaforge.families.classifier.model import mutate
from ncaforge.render.frames import legend as swatches
from ncaforge.render.frames import mark, tile, to_image
from ncaforge.render.views import picture


def class_rgb(nca: NCA, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W): digit cells in their voted class's colour, shaded by grey; white elsewhere."""
    return picture(nca, x)


def legend(scale: int = 24) -> np.ndarray:
    """The ten class colours in a row, each with its digit, class 0 on the left."""
    return swatches(CLASS_COLOURS, range(10), scale)


@torch.no_grad()
def classification_frames(nca: NCA, x: torch.Tensor, mutant_images: torch.Tensor | None, steps: int,
                          every: int = 2, generator: torch.Generator | None = None,
                          scale: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of ``steps`` steps from ``x``, then, given ``mutant_images``, ``steps`` more after the
    mutation: (classification frames, re-classification frames), each a tile of the batch."""

    def frame(z: torch.Tensor) -> np.ndarray:
        return tile([to_image(rgb, scale) for rgb in class_rgb(nca, z)])

    phases: list[list[np.ndarray]] = []
    for phase in range(1 if mutant_images is None else 2):
        if phase == 1:
            x = mutate(nca, x, mutant_images)
        frames = [frame(x)]
        for _ in range(0, steps, every):
            x = nca.rollout(x, every, generator)
            frames.append(frame(x))
        phases.append(frames)
    return phases[0], phases[1] if len(phases) > 1 else []


@torch.no_grad()
def attack_frames(host: NCA, attacked: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor,
                  attack_steps: int, removed_steps: int, every: int = 2,
                  generator: torch.Generator | None = None, scale: int = 4) -> list[np.ndarray]:
    """Frames of digits whose ``mask`` cells follow an adversary (``attacked``, drawn red) for
    ``attack_steps``, then of the host alone for ``removed_steps``: each a tile of the batch."""
    shown = mask & host.living(x)

    def frame(z: torch.Tensor, attack: bool) -> np.ndarray:
        rgb = class_rgb(host, z)
        return tile([to_image(image, scale) for image in (mark(rgb, shown) if attack else rgb)])

    frames, t, end = [frame(x, True)], 0, attack_steps + removed_steps
    while t < end:
        attack = t < attack_steps
        n = min(every, (attack_steps if attack else end) - t)
        x = attacked.rollout(x, n, generator, mask=mask) if attack else host.rollout(x, n, generator)
        t += n
        frames.append(frame(x, t < attack_steps))
    return frames
