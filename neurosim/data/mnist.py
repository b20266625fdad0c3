"""MNIST handwritten digits: find the IDX files locally, or download and verify them.

Where :func:`load_mnist` looks, in order:

1. the ``path`` argument, if given (used alone: a folder without the files is
   an error, never a silent fallback to other data);
2. when ``$NEUROSIM_DATA`` is set (and not empty): ``$NEUROSIM_DATA/mnist``,
   then ``$NEUROSIM_DATA`` itself, and nothing else (a variable naming a
   missing folder, a file or a folder without the split is an error, never a
   silent fallback to the cache or the shipped copy, and nothing is downloaded);
3. the user cache, ``$XDG_CACHE_HOME/neurosim/mnist`` (``~/.cache/neurosim/mnist``);
4. for the test split only, the copy shipped inside the package;
5. a download from the mirrors into the user cache (``download=True``), each
   file checked against the MD5 of its uncompressed bytes and written
   atomically, so the cache never holds a partial or unverified file.

A folder holds a split when it has both of its files, raw or gzip-compressed
(``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``, and so on).
"""

import hashlib
import http.client
import logging
import os
import re
import urllib.request
from importlib import resources
from pathlib import Path

import numpy as np

from neurosim.files import write_atomic
from neurosim.data.idx import IdxError, gunzip_if_compressed, read_idx
from neurosim.errors import NeurosimError

logger = logging.getLogger(__name__)

SPLITS = ("train", "test")

#: (images, labels) file names of each split, without the ``.gz`` suffix.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: MD5 of each file's uncompressed bytes (the .gz bytes differ between mirrors).
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

#: Base URLs that serve ``<name>.gz`` for the four files, tried in order.
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

DATA_ENV = "NEUROSIM_DATA"
MIRRORS_ENV = "NEUROSIM_MNIST_MIRRORS"

IMAGE_SHAPE = (28, 28)


class MnistError(NeurosimError):
    """MNIST could not be found, downloaded, verified or read."""


def _check_split(split) -> str:
    if split not in SPLITS:
        raise MnistError(f"MNIST split must be one of {SPLITS}, got {split!r}")
    return split


def mnist_cache_dir() -> Path:
    """Return the user cache folder for MNIST (it may not exist yet)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "neurosim" / "mnist"


def shipped_mnist_dir() -> Path:
    """Return the folder inside the package that holds the MNIST test split."""
    return Path(str(resources.files("neurosim.data"))) / "mnist_test"


def mnist_mirrors(mirrors=None) -> tuple[str, ...]:
    """Return the mirror base URLs to try.

    ``mirrors`` (a string or a sequence of strings) wins; otherwise
    ``$NEUROSIM_MNIST_MIRRORS`` (URLs separated by commas or whitespace);
    otherwise :data:`DEFAULT_MIRRORS`.
    """
    if mirrors is None:
        mirrors = os.environ.get(MIRRORS_ENV, "")
    if isinstance(mirrors, str):
        mirrors = re.split(r"[,\s]+", mirrors)
    mirrors = tuple(m for m in mirrors if m)
    return mirrors or DEFAULT_MIRRORS


def _split_files(folder: Path, split: str):
    """Return the (images, labels) paths of ``split`` in ``folder``, or None if either is missing."""
    found = []
    for name in MNIST_FILES[split]:
        candidates = [folder / name, folder / f"{name}.gz"]
        existing = [c for c in candidates if c.is_file()]
        if not existing:
            return None
        found.append(existing[0])
    return tuple(found)


def _search_dirs(split: str, path) -> list[tuple[str, Path]]:
    """Return the (description, folder) places to look, in order of preference."""
    if path is not None:
        return [("the path argument", Path(path))]
    root = os.environ.get(DATA_ENV)
    if root:
        return [(f"${DATA_ENV}/mnist", Path(root) / "mnist"), (f"${DATA_ENV}", Path(root))]
    places = []
    places.append(("the user cache", mnist_cache_dir()))
    if split == "test":
        places.append(("the copy shipped with neurosim", shipped_mnist_dir()))
    return places


def find_mnist(split="train", path=None) -> Path | None:
    """Return the first folder that holds both files of ``split``, or None (no download)."""
    split = _check_split(split)
    for _, folder in _search_dirs(split, path):
        if _split_files(folder, split) is not None:
            return folder
    return None


def _fetch_verified(url: str, name: str, dest_dir: Path, timeout_s: float) -> Path:
    """Download ``url``, check the MD5 of its uncompressed bytes, write it atomically into ``dest_dir``."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        body = response.read()
    digest = hashlib.md5(gunzip_if_compressed(body, source=url), usedforsecurity=False).hexdigest()
    if digest != MNIST_MD5[name]:
        raise MnistError(
            f"checksum mismatch: the MD5 of the uncompressed bytes is {digest}, "
            f"expected {MNIST_MD5[name]}; the file was discarded"
        )
    final = dest_dir / (f"{name}.gz" if body.startswith(b"\x1f\x8b") else name)
    write_atomic(final, lambda handle: handle.write(body))
    return final


def download_mnist(split="train", cache_dir=None, mirrors=None, timeout_s=60.0) -> Path:
    """Download the files of ``split`` that ``cache_dir`` lacks and return the folder.

    ``cache_dir`` defaults to :func:`mnist_cache_dir`; ``mirrors`` as in
    :func:`mnist_mirrors`; ``timeout_s`` is the socket timeout per request in
    seconds. Each mirror is tried in turn; a mirror that fails or serves bytes
    with the wrong checksum is skipped. Raises :class:`MnistError` listing every
    failure when no mirror delivers a file.
    """
    split = _check_split(split)
    dest_dir = Path(cache_dir) if cache_dir is not None else mnist_cache_dir()
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MnistError(f"cannot create the MNIST cache folder {dest_dir}: {exc}") from exc
    for name in MNIST_FILES[split]:
        if (dest_dir / name).is_file() or (dest_dir / f"{name}.gz").is_file():
            continue
        failures = []
        for base in mnist_mirrors(mirrors):
            url = f"{base.rstrip('/')}/{name}.gz"
            logger.info("downloading %s", url)
            try:
                saved = _fetch_verified(url, name, dest_dir, timeout_s)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                logger.warning("download of %s failed: %s", url, exc)
                failures.append(f"{url}: {exc}")
            else:
                logger.info("saved %s", saved)
                break
        else:
            raise MnistError(f"could not download {name}: " + "; ".join(failures))
    return dest_dir


def _read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    image_path, label_path = _split_files(folder, split)
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise MnistError(
            f"{image_path} holds {images.dtype} data of shape {images.shape}; "
            f"MNIST images must be uint8 of shape (n, 28, 28)"
        )
    if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise MnistError(
            f"{label_path} holds {labels.dtype} data of shape {labels.shape}; "
            f"the labels must be uint8 of shape ({images.shape[0]},) to match {image_path}"
        )
    if images.shape[0] == 0:
        raise MnistError(f"{image_path} holds 0 images; an MNIST split needs at least one")
    if labels.size and labels.max() > 9:
        raise MnistError(f"{label_path} holds label {labels.max()}; MNIST labels are 0 to 9")
    logger.info("loaded MNIST %s split (%d images) from %s", split, len(labels), folder)
    return images, labels


def _not_found_message(split: str, path, download: bool, download_failure, mirrors) -> str:
    places = "; ".join(f"{desc} ({folder})" for desc, folder in _search_dirs(split, path))
    if path is None and os.environ.get(DATA_ENV) is None:
        places += f"; ${DATA_ENV} is not set"
    names = " and ".join(f"{n}[.gz]" for n in MNIST_FILES[split])
    if path is not None:
        how = "put the files there, or call without path to search the usual places"
    elif os.environ.get(DATA_ENV):
        how = f"${DATA_ENV} is set, so no other place is searched: put the files there or unset it"
    elif download:
        how = f"the download failed: {download_failure}"
    else:
        how = "download=False, so nothing was downloaded"
    all_names = ", ".join(f"{n}.gz" for pair in MNIST_FILES.values() for n in pair)
    return (
        f"MNIST {split} split not found: looked for {names} in {places}; {how}. "
        f"To provide MNIST, put the standard files ({all_names}) in a folder and pass "
        f"path=FOLDER, or set {DATA_ENV} to a folder holding them (directly or in mnist/), "
        f"or copy them into {mnist_cache_dir()}, or allow the download "
        f"(mirrors: {', '.join(mnist_mirrors(mirrors))}; override with ${MIRRORS_ENV})."
    )


def first_images(images, labels, n: int | None, field: str = "test_images"):
    """``(images[:n], labels[:n])``; all of them when ``n`` is None, an error when there are fewer than ``n``."""
    if n is not None and n > len(labels):
        raise MnistError(f"{field} = {n!r} is not allowed: the test set holds {len(labels)} images")
    return (images, labels) if n is None else (images[:n], labels[:n])


def load_mnist(split="train", path=None, download=True, *, mirrors=None):
    """Load one MNIST split.

    Parameters
    ----------
    split : "train" (60000 images) or "test" (10000 images).
    path : folder holding the split's IDX files; searched alone when given.
    download : fetch missing files from the mirrors into the user cache.
    mirrors : mirror base URLs overriding ``$NEUROSIM_MNIST_MIRRORS`` and the defaults.

    Returns
    -------
    images : uint8 array (n, 28, 28), pixel intensities 0 (background) to 255.
    labels : uint8 array (n,), digits 0 to 9.
    """
    split = _check_split(split)
    root = os.environ.get(DATA_ENV)
    if path is None and root and not Path(root).is_dir():
        what = "an existing file" if Path(root).exists() else "no such folder"
        raise MnistError(f"{DATA_ENV} = {root!r} is not allowed: a folder holding the MNIST files ({what}); unset it to use the usual places")
    folder = find_mnist(split, path)
    failure = None
    if folder is None and path is None and download and not root:
        try:
            folder = download_mnist(split, mirrors=mirrors)
        except MnistError as exc:
            failure = exc
    if folder is None:
        raise MnistError(_not_found_message(split, path, download, failure, mirrors))
    try:
        return _read_split(folder, split)
    except IdxError as exc:
        raise MnistError(f"MNIST {split} split in {folder} cannot be read: {exc}") from exc
