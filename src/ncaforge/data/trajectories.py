"""Trajectories: stacks of frames (T, C, H, W) from a simulation or a microscope, saved and loaded alike.

A trajectory is read from an ``.npz`` (the array ``frames``, or its only array), a
folder of images (sorted by name; grey images give one channel, colour ones three),
or a GIF/MP4. Values are float32; 8-bit images are scaled to [0, 1]. A ``.npz`` may
also carry ``every`` (simulation steps between frames) and JSON ``meta``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from ncaforge.core.atomic import atomic_file
from ncaforge.core.errors import NcaError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".gif", ".mp4", ".mov", ".avi", ".webm")


class TrajectoryError(NcaError, ValueError):
    """A file or folder that is not a usable trajectory."""


def save_trajectory(path: str | Path, frames: np.ndarray, every: int = 1, meta: dict | None = None) -> Path:
    """Atomically write ``frames`` (T, C, H, W) as an .npz with its frame spacing and metadata."""
    frames = np.asarray(frames, np.float32)
    if frames.ndim != 4:
        raise TrajectoryError(f"a trajectory is (T, C, H, W), got shape {frames.shape}")
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, frames=frames, every=np.int64(every), meta=json.dumps(meta or {}))
    return Path(path)


def _from_images(images: list[np.ndarray], source: str) -> np.ndarray:
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise TrajectoryError(f"{source}: frames differ in size ({sorted(shapes)})")
    stack = np.stack(images).astype(np.float32)
    # grey (T, H, W) gets a channel axis; colour (T, H, W, C) loses alpha
    stack = stack[:, None] if stack.ndim == 3 else stack[..., :3].transpose(0, 3, 1, 2)
    if np.issubdtype(images[0].dtype, np.integer):
        stack /= float(np.iinfo(images[0].dtype).max)
    return stack


def _read_image(path: Path) -> np.ndarray:
    try:
        return iio.imread(path)
    except (OSError, ValueError, RuntimeError, SyntaxError) as e:
        raise TrajectoryError(f"{path} is not an image that can be read: {e}") from e


def load_trajectory(path: str | Path) -> tuple[np.ndarray, int, dict]:
    """(frames (T, C, H, W) float32, every, meta) from an .npz, a folder of images, or a GIF/MP4."""
    path = Path(path)
    if not path.exists():
        raise TrajectoryError(f"no trajectory at {path}")
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) < 2:
            raise TrajectoryError(f"{path}: a folder trajectory needs at least 2 images "
                                  f"({', '.join(IMAGE_SUFFIXES)}), found {len(files)}")
        frames, every, meta = _from_images([_read_image(f) for f in files], str(path)), 1, {}
    elif path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                names = list(z.keys())
                key = "frames" if "frames" in names else (names[0] if len(names) == 1 else None)
                if key is None:
                    raise TrajectoryError(f"{path}: no 'frames' array among {names}")
                raw = z[key]
                if not (np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)):
                    raise TrajectoryError(f"{path}: frames of type {raw.dtype} are not numbers")
                frames = raw.astype(np.float32)
                if np.issubdtype(raw.dtype, np.integer):  # 8- or 16-bit frames: scaled as images are
                    frames /= float(np.iinfo(raw.dtype).max)
                every = int(z["every"]) if "every" in names else 1
                if every < 1:
                    raise TrajectoryError(f"{path}: 'every' is {every}; frames must be at least 1 step apart")
                meta = json.loads(str(z["meta"])) if "meta" in names else {}
                if not isinstance(meta, dict):
                    raise TrajectoryError(f"{path}: 'meta' must be a JSON object")
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
            if isinstance(e, TrajectoryError):
                raise
            raise TrajectoryError(f"cannot read {path} as .npz: {e}") from e
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        try:
            images = list(iio.imiter(path))
        except (OSError, ValueError, RuntimeError, IndexError, SyntaxError) as e:
            raise TrajectoryError(f"cannot read the video {path}: {e}") from e
        if not images:
            raise TrajectoryError(f"{path}: the video holds no frames")
        frames, every, meta = _from_images(images, str(path)), 1, {}
    else:
        raise TrajectoryError(f"{path}: a trajectory is an .npz, a folder of images or a video "
                              f"({', '.join(VIDEO_SUFFIXES)}), not {path.suffix or 'a suffix-less file'}")
    if frames.ndim != 4 or frames.shape[0] < 2:
        raise TrajectoryError(f"{path}: a trajectory is (T >= 2, C, H, W), got shape {frames.shape}")
    if not np.isfinite(frames).all():
        raise TrajectoryError(f"{path}: the frames hold NaN or infinite values")
    return frames, every, meta


def load_trajectories(paths: list[str | Path]) -> tuple[np.ndarray, int, dict]:
    """(N, T, C, H, W) from files or folders of .npz files, with one shared frame spacing."""
    files: list[Path] = []
    for p in map(Path, paths):
        npz = sorted(p.glob("*.npz")) if p.is_dir() else []
        files += npz or [p]
    loaded = [load_trajectory(f) for f in files]
    if not loaded:
        raise TrajectoryError("no trajectories given")
    shapes = {f.shape for f, _, _ in loaded}
    spacings = {e for _, e, _ in loaded}
    if len(shapes) != 1 or len(spacings) != 1:
        raise TrajectoryError(f"the trajectories differ in shape {sorted(shapes)} or frame spacing "
                              f"{sorted(spacings)}")
    return np.stack([f for f, _, _ in loaded]), spacings.pop(), loaded[0][2]
