"""IDX files, MNIST resolution and download, preprocessing, the 8x8 digits."""

import gzip
import hashlib
import http.server
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.data import (
    IdxError,
    MnistError,
    Preprocessing,
    binarize,
    crop_center,
    download_mnist,
    find_mnist,
    flatten,
    load_digits_split,
    load_mnist,
    mnist_cache_dir,
    preprocess,
    read_idx,
    scale_unit,
    write_idx,
)
from neurosim.data import mnist as mnist_module
from neurosim.data.idx import IDX_DTYPES, encode_idx
from neurosim.errors import NeurosimError

REAL_DATA = os.environ.get("NEUROSIM_DATA")
SHIPPED = mnist_module.shipped_mnist_dir()
CLOSED_MIRROR = "http://127.0.0.1:9/"  # the discard port: connections are refused at once


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No real data folder, an empty user cache, and a mirror that refuses connections."""
    monkeypatch.delenv("NEUROSIM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("NEUROSIM_MNIST_MIRRORS", CLOSED_MIRROR)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def fake_split(rng, n):
    """Random uint8 images (n, 28, 28) and labels (n,)."""
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


def write_split(folder, split, images, labels, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for name, array in zip(mnist_module.MNIST_FILES[split], (images, labels)):
        write_idx(folder / f"{name}{suffix}", array)
    return folder


@pytest.fixture
def http_root(tmp_path):
    """A folder served over HTTP on 127.0.0.1; yields (folder, base URL, list of requested paths)."""
    root = tmp_path / "www"
    root.mkdir()
    requested = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_request(self, code="-", size="-"):  # once per response, errors included
            requested.append(self.path)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/mnist/", requested
    server.shutdown()
    server.server_close()
    thread.join()


# --- IDX -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    code=st.sampled_from(sorted(IDX_DTYPES)),
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    compress=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_idx_round_trip(tmp_path_factory, code, shape, compress, seed):
    dtype = IDX_DTYPES[code].newbyteorder("=")
    raw = np.random.default_rng(seed).integers(
        0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8
    )
    array = raw.view(dtype).reshape(shape)
    if dtype.kind == "f":
        array = np.nan_to_num(array)
    path = tmp_path_factory.mktemp("idx") / "a.idx"
    write_idx(path, array, compress=compress)
    back = read_idx(path)
    assert back.dtype == dtype and back.dtype.isnative
    assert back.shape == tuple(shape)
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_idx_layout_is_big_endian_with_standard_header(tmp_path):
    path = write_idx(tmp_path / "x", np.array([[1, 2, 3], [4, 5, 256]], dtype=np.int32))
    data = path.read_bytes()
    assert data[:4] == bytes([0, 0, 0x0C, 2])
    assert data[4:12] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert data[-4:] == (256).to_bytes(4, "big")
    assert len(data) == 12 + 6 * 4


def test_idx_gzip_detected_by_magic_bytes_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(
        read_idx(write_idx(tmp_path / "compressed-without-suffix", array, compress=True)), array
    )
    np.testing.assert_array_equal(
        read_idx(write_idx(tmp_path / "raw-with-suffix.gz", array, compress=False)), array
    )
    assert (tmp_path / "compressed-without-suffix").read_bytes()[:2] == b"\x1f\x8b"


def _good_idx():
    return encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


CORRUPT_CASES = {
    "truncated payload": (lambda: _good_idx()[:-1], "truncated"),
    "trailing garbage": (lambda: _good_idx() + b"\x00\x01", "trailing"),
    "bad magic": (lambda: b"\x01\x00" + _good_idx()[2:], "magic"),
    "unknown type code": (lambda: b"\x00\x00\x07" + _good_idx()[3:], "type code"),
    "zero dimensions": (lambda: b"\x00\x00\x08\x00", "0 dimensions"),
    "truncated header": (lambda: _good_idx()[:9], "truncated"),
    "shorter than magic": (lambda: b"\x00\x00", "too short"),
    "empty file": (lambda: b"", "too short"),
    "corrupt gzip": (lambda: b"\x1f\x8b" + b"not a deflate stream" * 3, "gzip"),
    "truncated gzip": (lambda: gzip.compress(_good_idx())[:-10], "gzip"),
    "gzip of truncated idx": (lambda: gzip.compress(_good_idx()[:-3]), "truncated"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT_CASES))
def test_idx_corrupt_files_raise_clear_errors(tmp_path, case):
    make, message = CORRUPT_CASES[case]
    path = tmp_path / "broken-file.idx"
    path.write_bytes(make())
    with pytest.raises(IdxError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, NeurosimError)


def test_idx_missing_file(tmp_path):
    with pytest.raises(IdxError, match="does not exist"):
        read_idx(tmp_path / "nothing-here")


@pytest.mark.parametrize("array", [np.zeros(3, np.uint16), np.zeros(3, np.complex64), np.array(5, np.uint8)])
def test_idx_writer_rejects_what_idx_cannot_hold(tmp_path, array):
    with pytest.raises(IdxError):
        write_idx(tmp_path / "x", array)


# --- MNIST: where it is found ----------------------------------------------------------


def test_explicit_path_wins_over_env_and_cache(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    explicit = write_split(tmp_path / "explicit", "train", *fake_split(rng, 3))
    write_split(tmp_path / "env" / "mnist", "train", *fake_split(rng, 4))
    write_split(mnist_cache_dir(), "train", *fake_split(rng, 5))
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "env"))
    images, labels = load_mnist("train", path=explicit)
    assert images.shape == (3, 28, 28) and labels.shape == (3,)
    assert images.dtype == np.uint8 and labels.dtype == np.uint8


def test_explicit_path_without_files_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    write_split(tmp_path / "env", "train", *fake_split(np.random.default_rng(0), 4))
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "env"))
    with pytest.raises(MnistError, match="the path argument") as info:
        load_mnist("train", path=tmp_path / "empty")
    assert str(tmp_path / "empty") in str(info.value)


@pytest.mark.parametrize("subfolder", ["mnist", ""])
def test_env_var_folder_with_or_without_mnist_subfolder(tmp_path, monkeypatch, subfolder):
    images, labels = fake_split(np.random.default_rng(1), 6)
    write_split(tmp_path / "data" / subfolder, "train", images, labels, gz=False)
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "data"))
    got_images, got_labels = load_mnist("train", download=False)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_env_var_beats_cache_and_cache_is_used_without_it(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    write_split(tmp_path / "data", "train", *fake_split(rng, 4))
    write_split(mnist_cache_dir(), "train", *fake_split(rng, 5))
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "data"))
    assert len(load_mnist("train", download=False)[1]) == 4
    monkeypatch.delenv("NEUROSIM_DATA")
    assert len(load_mnist("train", download=False)[1]) == 5
    assert find_mnist("train") == mnist_cache_dir()


def test_cache_dir_follows_xdg_or_home(tmp_path, monkeypatch):
    assert mnist_cache_dir() == tmp_path / "xdg-cache" / "neurosim" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist_cache_dir() == tmp_path / "home" / ".cache" / "neurosim" / "mnist"


def test_cache_beats_shipped_copy_of_the_test_split():
    write_split(mnist_cache_dir(), "test", *fake_split(np.random.default_rng(3), 7))
    assert len(load_mnist("test", download=False)[1]) == 7


def test_shipped_test_split_works_offline():
    images, labels = load_mnist("test", download=False)
    assert find_mnist("test") == SHIPPED
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert hashlib.md5(encode_idx(images)).hexdigest() == mnist_module.MNIST_MD5["t10k-images-idx3-ubyte"]
    assert hashlib.md5(encode_idx(labels)).hexdigest() == mnist_module.MNIST_MD5["t10k-labels-idx1-ubyte"]


def test_missing_train_split_without_download_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("NEUROSIM_DATA", raising=False)
    with pytest.raises(MnistError) as info:
        load_mnist("train", download=False)
    message = str(info.value)
    for expected in (str(mnist_cache_dir()), "NEUROSIM_DATA is not set", "download=False", "path=FOLDER"):
        assert expected in message


@pytest.mark.parametrize("kind", ["missing", "file", "empty folder"])
def test_env_var_that_holds_no_mnist_is_an_error_not_a_fallback(tmp_path, monkeypatch, kind):
    target = tmp_path / "data"
    if kind == "file":
        target.write_text("not a folder")
    elif kind == "empty folder":
        target.mkdir()
    write_split(mnist_cache_dir(), "test", *fake_split(np.random.default_rng(5), 3))
    monkeypatch.setenv("NEUROSIM_DATA", str(target))
    with pytest.raises(MnistError, match="NEUROSIM_DATA") as info:
        load_mnist("test")
    assert str(target) in str(info.value)


def test_a_split_of_zero_images_is_refused(tmp_path):
    folder = write_split(tmp_path / "zero", "test", np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    with pytest.raises(MnistError, match="0 images"):
        load_mnist("test", path=folder)


def test_unknown_split():
    with pytest.raises(MnistError, match="split"):
        load_mnist("validation")


def test_corrupt_or_misshapen_files_are_reported_with_their_name(tmp_path):
    folder = write_split(tmp_path / "bad", "train", *fake_split(np.random.default_rng(4), 3))
    images_file = folder / "train-images-idx3-ubyte.gz"
    images_file.write_bytes(images_file.read_bytes()[:-8])
    with pytest.raises(MnistError, match="train-images-idx3-ubyte.gz"):
        load_mnist("train", path=folder)
    write_split(folder, "train", np.zeros((3, 27, 27), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(MnistError, match=r"\(n, 28, 28\)"):
        load_mnist("train", path=folder)
    write_split(folder, "train", np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 10], np.uint8))
    with pytest.raises(MnistError, match="0 to 9"):
        load_mnist("train", path=folder)
    write_split(folder, "train", np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(MnistError, match="labels"):
        load_mnist("train", path=folder)


# --- MNIST: download ---------------------------------------------------------------------


def serve_fake_train_split(root, monkeypatch, n=5, seed=5):
    """Write fixture train files under root/mnist and make their MD5s the expected ones."""
    images, labels = fake_split(np.random.default_rng(seed), n)
    write_split(root / "mnist", "train", images, labels)
    for name, array in zip(mnist_module.MNIST_FILES["train"], (images, labels)):
        monkeypatch.setitem(mnist_module.MNIST_MD5, name, hashlib.md5(encode_idx(array)).hexdigest())
    return images, labels


def test_download_into_cache_then_reuse(http_root, monkeypatch):
    root, url, requested = http_root
    images, labels = serve_fake_train_split(root, monkeypatch)
    got_images, got_labels = load_mnist("train", mirrors=[url])
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    cached = sorted(p.name for p in mnist_cache_dir().iterdir())
    assert cached == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert len(requested) == 2
    load_mnist("train", mirrors=[url])
    assert len(requested) == 2, "a second load must come from the cache"


def test_mirrors_from_env_var_are_tried_in_order(http_root, monkeypatch):
    root, url, requested = http_root
    serve_fake_train_split(root, monkeypatch)
    missing = url.replace("/mnist/", "/absent/")
    monkeypatch.setenv("NEUROSIM_MNIST_MIRRORS", f"{CLOSED_MIRROR}, {missing} {url}")
    assert mnist_module.mnist_mirrors() == (CLOSED_MIRROR, missing, url)
    images, _ = load_mnist("train")
    assert images.shape == (5, 28, 28)
    assert requested == [
        "/absent/train-images-idx3-ubyte.gz",
        "/mnist/train-images-idx3-ubyte.gz",
        "/absent/train-labels-idx1-ubyte.gz",
        "/mnist/train-labels-idx1-ubyte.gz",
    ]


def test_checksum_mismatch_is_an_error_and_leaves_nothing_behind(http_root):
    root, url, _ = http_root
    write_split(root / "mnist", "train", *fake_split(np.random.default_rng(6), 5))
    with pytest.raises(MnistError, match="checksum mismatch") as info:
        load_mnist("train", mirrors=url)
    assert mnist_module.MNIST_MD5["train-images-idx3-ubyte"] in str(info.value)
    assert list(mnist_cache_dir().iterdir()) == []


def test_corrupt_download_leaves_nothing_behind(http_root):
    root, url, _ = http_root
    (root / "mnist").mkdir()
    (root / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(MnistError, match="gzip"):
        download_mnist("train", mirrors=[url])
    assert list(mnist_cache_dir().iterdir()) == []


def test_failed_download_says_where_it_looked_and_how_to_provide_data():
    with pytest.raises(MnistError) as info:
        load_mnist("train")
    message = str(info.value)
    for expected in (
        "download failed",
        CLOSED_MIRROR,
        str(mnist_cache_dir()),
        "NEUROSIM_DATA",
        "NEUROSIM_MNIST_MIRRORS",
    ):
        assert expected in message


def test_download_of_real_test_files_matches_published_checksums(http_root, tmp_path):
    root, url, _ = http_root
    shutil.copytree(SHIPPED, root / "mnist")
    folder = download_mnist("test", cache_dir=tmp_path / "cache", mirrors=[url])
    assert folder == tmp_path / "cache"
    images, labels = load_mnist("test", path=folder)
    shipped_images, shipped_labels = load_mnist("test", path=SHIPPED)
    np.testing.assert_array_equal(images, shipped_images)
    np.testing.assert_array_equal(labels, shipped_labels)


@pytest.mark.skipif(REAL_DATA is None, reason="NEUROSIM_DATA is not set")
def test_real_mnist_through_neurosim_data(monkeypatch):
    monkeypatch.setenv("NEUROSIM_DATA", REAL_DATA)
    counts = {
        "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    }
    for split, (image_file, label_file) in mnist_module.MNIST_FILES.items():
        assert find_mnist(split) in (Path(REAL_DATA) / "mnist", Path(REAL_DATA))
        images, labels = load_mnist(split, download=False)
        assert images.shape == (sum(counts[split]), 28, 28)
        assert np.bincount(labels, minlength=10).tolist() == counts[split]
        assert hashlib.md5(encode_idx(images)).hexdigest() == mnist_module.MNIST_MD5[image_file]
        assert hashlib.md5(encode_idx(labels)).hexdigest() == mnist_module.MNIST_MD5[label_file]


# --- preprocessing ------------------------------------------------------------------------


def test_scale_unit_maps_0_255_to_0_1_float32():
    scaled = scale_unit(np.array([[0, 51, 255]], np.uint8))
    assert scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled, np.array([[0, 0.2, 1]], np.float32))
    with pytest.raises(NeurosimError, match="uint8"):
        scale_unit(np.array([0.5]))


def test_flatten_is_row_major():
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    flat = flatten(images)
    assert flat.shape == (2, 12)
    np.testing.assert_array_equal(flat[1], np.arange(12, 24))
    with pytest.raises(NeurosimError):
        flatten(np.arange(3))


def test_crop_center_keeps_the_central_pixels():
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28)
    cropped = crop_center(images, 20)
    assert cropped.shape == (2, 20, 20)
    np.testing.assert_array_equal(cropped[1], images[1, 4:24, 4:24])
    np.testing.assert_array_equal(crop_center(np.arange(25).reshape(5, 5), 2), [[6, 7], [11, 12]])
    for size in (0, 29, 2.5, True):
        with pytest.raises(NeurosimError, match="crop size"):
            crop_center(images, size)


def test_binarize_thresholds_scaled_values():
    values = np.array([0.0, 0.49, 0.5, 0.51, 1.0], np.float32)
    np.testing.assert_array_equal(binarize(values), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(binarize(values, threshold=0.2), [0, 1, 1, 1, 1])
    assert binarize(values).dtype == np.float32
    with pytest.raises(NeurosimError, match="scale_unit"):
        binarize(np.array([0, 255], np.uint8))
    with pytest.raises(NeurosimError, match=r"\[0, 1\]"):
        binarize(np.array([0.0, 2.0]))
    with pytest.raises(NeurosimError, match="threshold"):
        binarize(values, threshold=1.5)


def test_preprocess_modes():
    images = np.zeros((2, 28, 28), np.uint8)
    images[0, 10, 10] = 200  # inside the 20x20 crop, above half intensity
    images[0, 11, 11] = 100  # inside, below half
    images[0, 1, 1] = 255  # outside the crop
    plain = preprocess(images, "none")
    assert plain.shape == (2, 784) and plain.dtype == np.float32
    assert plain[0, 10 * 28 + 10] == np.float32(200 / 255)
    binary = preprocess(images, Preprocessing.CROP20_BINARIZE)
    assert binary.shape == (2, 400)
    assert binary.sum() == 1 and binary[0, 6 * 20 + 6] == 1
    with pytest.raises(NeurosimError, match="crop20_binarize"):
        preprocess(images, "crop")


# --- 8x8 digits ---------------------------------------------------------------------------


def test_digits_split_is_a_seeded_partition():
    (x_train, y_train), (x_test, y_test) = load_digits_split(0.25, rng=0)
    assert x_train.shape == (1348, 64) and x_test.shape == (449, 64)
    assert x_train.dtype == np.float32 and y_train.dtype == np.uint8
    assert x_train.min() >= 0 and x_train.max() <= 1
    rows = {row.tobytes() for row in np.concatenate([x_train, x_test])}
    assert len(rows) > 1700  # the few duplicate images of the set aside, no row is lost
    again = load_digits_split(0.25, rng=0)
    np.testing.assert_array_equal(again[0][0], x_train)
    other = load_digits_split(0.25, rng=1)
    assert not np.array_equal(other[0][0], x_train)
    with pytest.raises(NeurosimError, match="test_fraction"):
        load_digits_split(1.0)
