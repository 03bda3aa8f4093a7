"""Losses that do not care which way up a pattern grew: the L2 loss minimised over rotations
(and mirrors) of the target, as in the isotropic and steerable NCA papers.

Both images are resampled on a polar grid about the grid's centre (``radii`` rings of ``angles``
samples, bilinear). Rotating the target by one angular step shifts its rings by one sample, so the
squared distance for every rotation at once is ``|x|^2 + |t|^2 - 2 corr(x, t)``, the circular
cross-correlation over the angle computed with one FFT per ring. Rings are weighted by their radius
(the polar area element), so the figure approximates the plain L2 loss of the best rotation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def polar(images: torch.Tensor, radii: int, angles: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, radii, angles): samples on rings about the centre, out to the inscribed
    circle; angle j is 2 pi j / angles, measured from the +x (column) axis towards +y (rows)."""
    b = images.shape[0]
    r = (torch.arange(radii, dtype=images.dtype, device=images.device) + 0.5) / radii
    theta = torch.arange(angles, dtype=images.dtype, device=images.device) * (2 * math.pi / angles)
    # grid_sample's coordinates: x along columns, y along rows, both in [-1, 1] at pixel centres' span
    h, w = images.shape[-2:]
    scale = torch.tensor([(w - 1) / w, (h - 1) / h], dtype=images.dtype, device=images.device)
    grid = torch.stack([r[:, None] * torch.cos(theta), r[:, None] * torch.sin(theta)], dim=-1) * scale
    return F.grid_sample(images, grid.expand(b, -1, -1, -1), mode="bilinear", align_corners=False)


def rotation_distances(x: torch.Tensor, target: torch.Tensor, radii: int = 32, angles: int = 128
                       ) -> torch.Tensor:
    """(B, angles): the mean squared distance between ``x`` and ``target`` rotated by each of
    ``angles`` steps of 2 pi / angles, over all channels, weighted as area on the disc."""
    px, pt = polar(x, radii, angles), polar(target.expand_as(x), radii, angles)
    weight = (torch.arange(radii, dtype=x.dtype, device=x.device) + 0.5)[:, None]  # ring radius
    weight = weight / (weight.sum() * angles * x.shape[1])
    corr = torch.fft.irfft(torch.fft.rfft(px, dim=-1) * torch.fft.rfft(pt, dim=-1).conj(), n=angles, dim=-1)
    # corr[..., k] = sum_j px[j + k] pt[j]: x against the target turned by k steps
    energy = ((px * px + pt * pt) * weight).sum(dim=(1, 2, 3))
    return energy[:, None] - 2 * (corr * weight).sum(dim=(1, 2))


def invariant_l2(x: torch.Tensor, target: torch.Tensor, mirror: bool = False, radii: int = 32,
                 angles: int = 128) -> torch.Tensor:
    """(B,) the smallest mean squared distance between ``x`` and a rotation of ``target`` (or of its
    mirror image too, with ``mirror``): one rotation for all channels of a sample."""
    best = rotation_distances(x, target, radii, angles).min(dim=1).values
    if mirror:
        flipped = rotation_distances(x, torch.flip(target, dims=(-1,)), radii, angles).min(dim=1).values
        best = torch.minimum(best, flipped)
    return best.clamp_min(0.0)
