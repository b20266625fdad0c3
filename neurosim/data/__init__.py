"""Datasets and preprocessing: IDX files, MNIST, the 8x8 digits, input pipelines."""

from neurosim.data.digits import load_digits_split
from neurosim.data.idx import IdxError, read_idx, write_idx
from neurosim.data.mnist import MnistError, download_mnist, find_mnist, first_images, load_mnist, mnist_cache_dir
from neurosim.data.preprocess import Preprocessing, binarize, crop_center, flatten, preprocess, scale_unit

__all__ = [
    "IdxError",
    "MnistError",
    "Preprocessing",
    "binarize",
    "crop_center",
    "download_mnist",
    "find_mnist",
    "first_images",
    "flatten",
    "load_digits_split",
    "load_mnist",
    "mnist_cache_dir",
    "preprocess",
    "read_idx",
    "scale_unit",
    "write_idx",
]
