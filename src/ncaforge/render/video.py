"""Animations: GIF always (Pillow), MP4 when an ffmpeg encoder is installed (imageio-ffmpeg)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import imageio.v3 as iio
import numpy as np


def has_mp4() -> bool:
    """True when imageio can encode MP4 (the ``video`` extra: imageio-ffmpeg)."""
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def write_gif(frames: list[np.ndarray], path: str | Path, fps: int = 20) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)
    return path


def write_mp4(frames: list[np.ndarray], path: str | Path, fps: int = 20) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # H.264 wants even sides
    h, w = frames[0].shape[:2]
    stack = np.stack([f[: h - h % 2, : w - w % 2] for f in frames])
    iio.imwrite(path, stack, extension=".mp4", fps=fps, codec="libx264",
                plugin="FFMPEG", macro_block_size=1)
    return path


def write_animation(frames: list[np.ndarray], stem: str | Path, fps: int = 20) -> list[Path]:
    """Write ``stem``.gif and, if possible, ``stem``.mp4; returns the files written."""
    stem = Path(stem)
    written = [write_gif(frames, stem.with_suffix(".gif"), fps)]
    if has_mp4():
        written.append(write_mp4(frames, stem.with_suffix(".mp4"), fps))
    return written
