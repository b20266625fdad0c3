"""Training and test sets for in-situ training, with the training inputs as sparse rows.

Binarised images are mostly background: a 20 x 20 MNIST digit has about 100
active pixels of 400. The training kernels take the inputs as CSR rows
(``indptr, indices, values``) and visit only active pixels.
"""

from dataclasses import dataclass

import numpy as np

from neurosim.errors import NeurosimError


@dataclass(frozen=True, eq=False)
class InsituData:
    """Training inputs as CSR rows plus labels, and the (dense) test set."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    train_labels: np.ndarray
    test_x: np.ndarray
    test_labels: np.ndarray
    #: Where the data came from (recorded in the run's JSON).
    source: str = ""

    @property
    def n_train(self) -> int:
        return int(self.train_labels.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.test_x.shape[1])

    @property
    def csr(self) -> tuple:
        return self.indptr, self.indices, self.values

    @classmethod
    def from_arrays(cls, x_train, y_train, x_test, y_test, source: str = "arrays") -> "InsituData":
        """Build from dense inputs ``(n, features)`` (any real values; zeros are skipped) and integer labels."""
        x_train = np.asarray(x_train)
        x_test = np.asarray(x_test)
        for name, x in (("x_train", x_train), ("x_test", x_test)):
            if x.ndim != 2 or x.dtype.kind not in "biuf":
                raise NeurosimError(f"{name} must be a real 2-D array (n, features), got {x.dtype} of shape {x.shape}")
            if not np.all(np.isfinite(x)):
                raise NeurosimError(f"{name} holds NaN or infinite values")
        if x_train.shape[1] != x_test.shape[1]:
            raise NeurosimError(f"x_train has {x_train.shape[1]} features but x_test has {x_test.shape[1]}")
        labels = []
        for name, y, n in (("y_train", y_train, x_train.shape[0]), ("y_test", y_test, x_test.shape[0])):
            y = np.asarray(y)
            if y.shape != (n,) or y.dtype.kind not in "iu":
                raise NeurosimError(f"{name} must be integer labels of shape ({n},), got {y.dtype} of shape {y.shape}")
            if n and y.min() < 0:
                raise NeurosimError(f"{name} must be non-negative class indices")
            labels.append(y.astype(np.int64))
        if x_train.shape[0] == 0 or x_test.shape[0] == 0:
            raise NeurosimError("training and test sets must not be empty")
        rows, cols = np.nonzero(x_train)
        indptr = np.zeros(x_train.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=x_train.shape[0]), out=indptr[1:])
        return cls(
            indptr=indptr,
            indices=cols.astype(np.int32),
            values=x_train[rows, cols].astype(np.float64),
            train_labels=labels[0],
            test_x=np.ascontiguousarray(x_test, dtype=np.float64),
            test_labels=labels[1],
            source=source,
        )

    def check(self, sizes) -> None:
        """Raise if the data do not fit a network of layer widths ``sizes``."""
        n_in, _, n_out = sizes
        if self.n_features != n_in:
            raise NeurosimError(f"the network has {n_in} inputs but the data have {self.n_features} features")
        top = max(int(self.train_labels.max()), int(self.test_labels.max()))
        if top >= n_out:
            raise NeurosimError(f"labels go up to {top} but the network has only {n_out} outputs")


def load_mnist_data(preprocessing, test_images: int | None = None) -> InsituData:
    """MNIST training and test sets through ``preprocessing`` (needs the training split: set NEUROSIM_DATA)."""
    from neurosim.data import first_images, load_mnist, preprocess

    train_images, train_labels = load_mnist("train")
    test_images_arr, test_labels = load_mnist("test")
    test_images_arr, test_labels = first_images(test_images_arr, test_labels, test_images)
    return InsituData.from_arrays(
        preprocess(train_images, preprocessing),
        train_labels,
        preprocess(test_images_arr, preprocessing),
        test_labels,
        source=f"MNIST ({preprocessing.value})",
    )


def digits_data(threshold: float = 0.5, rng=0) -> InsituData:
    """scikit-learn's 8x8 digits, binarised at ``threshold`` (64 inputs, 10 classes): small and fast, for tests."""
    from neurosim.data import load_digits_split

    (x_train, y_train), (x_test, y_test) = load_digits_split(0.25, rng)
    binary = lambda x: (x > threshold).astype(np.float64)  # noqa: E731
    return InsituData.from_arrays(binary(x_train), y_train, binary(x_test), y_test, source="sklearn digits (binarised)")
