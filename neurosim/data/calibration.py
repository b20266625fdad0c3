"""A fixed sample of MNIST training images for calibrating converters offline.

Converted networks set their DAC and ADC ranges on training data, never on the
test set. The package ships 1,000 training images (drawn once, without
replacement, with ``np.random.default_rng(20261121)``; their indices into the
60,000-image training split are stored alongside) so that this works on a
machine that has only the shipped test split.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np

from neurosim.errors import NeurosimError

_FILE = Path(__file__).with_name("mnist_calibration.npz")


@lru_cache(maxsize=1)
def _load():
    with np.load(_FILE, allow_pickle=False) as data:
        return data["images"], data["labels"]


def calibration_images(n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` (at most 1000) calibration images (uint8, (n, 28, 28)) and their labels."""
    images, labels = _load()
    if not 1 <= n <= len(images):
        raise NeurosimError(f"calibration sample size must be in 1..{len(images)}, got {n}")
    return images[:n], labels[:n]
