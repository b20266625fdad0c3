"""Image preprocessing: pure functions from uint8 images to network inputs.

Images are arrays of shape ``(n, height, width)`` (a single ``(height, width)``
image is accepted where noted). Network inputs are float32 rows ``(n, features)``.
"""

from enum import Enum

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.validation import parse_enum


class Preprocessing(Enum):
    """Named input pipelines, recorded in model sidecars.

    ``NONE``: scale uint8 pixels to [0, 1] and flatten (784 inputs for MNIST).
    ``CROP20_BINARIZE``: scale, keep the central 20x20 pixels, threshold at 0.5
    and flatten (400 binary inputs; NeuroSim's 400-100-10 benchmark).
    """

    NONE = "none"
    CROP20_BINARIZE = "crop20_binarize"

    @classmethod
    def parse(cls, value) -> "Preprocessing":
        """Return the member for ``value`` (a member or its string name)."""
        return parse_enum(cls, value, "preprocessing")


def _images(images, what: str, min_ndim=2) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim < min_ndim:
        raise NeurosimError(
            f"{what} needs an array of at least {min_ndim} dimensions, got shape {images.shape}"
        )
    return images


def scale_unit(images) -> np.ndarray:
    """Return uint8 pixel values 0..255 as float32 in [0, 1] (same shape)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise NeurosimError(f"scale_unit expects uint8 pixel values 0..255, got dtype {images.dtype}")
    return images.astype(np.float32) / np.float32(255)


def flatten(images) -> np.ndarray:
    """Return images ``(n, h, w)`` as rows ``(n, h*w)`` (C order, row by row)."""
    images = _images(images, "flatten", min_ndim=2)
    return images.reshape(images.shape[0], -1)


def crop_center(images, size=20) -> np.ndarray:
    """Return the central ``size x size`` pixels of images ``(..., h, w)``.

    For 28x28 MNIST and ``size=20`` this drops 4 pixels on each side. When
    ``h - size`` is odd the extra row (column) is dropped at the bottom (right).
    """
    images = _images(images, "crop_center", min_ndim=2)
    height, width = images.shape[-2:]
    if (
        isinstance(size, bool)
        or not isinstance(size, (int, np.integer))
        or not 1 <= size <= min(height, width)
    ):
        raise NeurosimError(
            f"crop size must be an integer from 1 to {min(height, width)} "
            f"for {height}x{width} images, got {size!r}"
        )
    top, left = (height - size) // 2, (width - size) // 2
    return images[..., top : top + size, left : left + size]


def binarize(images, threshold=0.5) -> np.ndarray:
    """Return float32 1.0 where a [0, 1] value exceeds ``threshold``, else 0.0."""
    images = np.asarray(images)
    if not np.issubdtype(images.dtype, np.floating):
        raise NeurosimError(
            f"binarize expects values scaled to [0, 1] (float), got dtype {images.dtype}; "
            "call scale_unit first"
        )
    if not 0.0 <= threshold <= 1.0:
        raise NeurosimError(f"binarize threshold must lie in [0, 1], got {threshold!r}")
    if images.size and not (images.min() >= 0.0 and images.max() <= 1.0):
        raise NeurosimError("binarize expects values in [0, 1]; got values outside that range (or NaN)")
    return (images > threshold).astype(np.float32)


def preprocess(images, mode=Preprocessing.NONE) -> np.ndarray:
    """Turn uint8 images ``(n, h, w)`` into float32 network inputs ``(n, features)`` by ``mode``."""
    mode = Preprocessing.parse(mode)
    x = scale_unit(_images(images, "preprocess", min_ndim=3))
    if mode is Preprocessing.CROP20_BINARIZE:
        x = binarize(crop_center(x, 20), 0.5)
    return flatten(x)
