"""Self-classification made visible: each digit cell in the colour of the class it votes for."""

from __future__ import annotations

import numpy as np
import torch

from ncaforge.core.nca import NCA
from ncaforge.models.classifier import logits
from ncaforge.objectives.classifier import mutate
from ncaforge.render.frames import mark, tile, to_image

# The legend of the original article, classes 0..9.
CLASS_COLOURS = torch.tensor([[128, 0, 0], [230, 25, 75], [70, 240, 240], [210, 245, 60], [250, 190, 190],
                              [170, 110, 40], [170, 255, 195], [165, 163, 159], [0, 128, 128],
                              [128, 128, 0]]) / 255.0


def class_rgb(nca: NCA, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W): digit cells in their voted class's colour, shaded by grey; white elsewhere."""
    votes = logits(nca, x).argmax(1)  # (B, H, W)
    colour = CLASS_COLOURS.to(x.device)[votes % len(CLASS_COLOURS)].permute(0, 3, 1, 2)
    grey = (x[:, nca.layout.living:nca.layout.living + 1] * nca.living(x)).clamp(0, 1)
    return 1.0 - grey * (1.0 - colour)


def legend(scale: int = 12) -> np.ndarray:
    """The ten class colours in a row, class 0 on the left."""
    return to_image(CLASS_COLOURS.T[:, None, :], scale)


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
