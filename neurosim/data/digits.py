"""scikit-learn's bundled 8x8 handwritten digits: a small, fast set for tests.

1797 images of 8x8 pixels with intensities 0..16, digits 0 to 9. Needs
scikit-learn (the ``test`` extra), imported only when the set is loaded.
"""

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.rng import as_generator


def load_digits_split(test_fraction=0.25, rng=0):
    """Return ``(x_train, y_train), (x_test, y_test)`` from sklearn's 8x8 digits.

    ``x`` is float32 ``(n, 64)``, pixel intensity scaled from 0..16 to [0, 1];
    ``y`` is uint8 ``(n,)``. The images are shuffled by ``rng`` and the last
    ``round(test_fraction * 1797)`` of them form the test set.
    """
    if not 0.0 < test_fraction < 1.0:
        raise NeurosimError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise NeurosimError(
            "the 8x8 digits set needs scikit-learn, which is not installed; "
            "install it with: pip install scikit-learn (or pip install 'neurosim[test]')"
        ) from exc
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.uint8)
    order = as_generator(rng).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    train, test = order[: len(y) - n_test], order[len(y) - n_test :]
    return (x[train], y[train]), (x[test], y[test])
