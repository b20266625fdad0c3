"""Convolution and pooling numerics on image batches, in plain NumPy (pure functions).

Images are ``(n, channels, height, width)`` arrays (NCHW, the torch layout).
A convolution is computed by unrolling: :func:`patches` turns every output
position into one row of ``channels * k * k`` inputs (channel-major, then
kernel row, then kernel column, the order of ``weight.reshape(out, -1)`` for a
torch ``(out, in, k, k)`` kernel), and the kernel becomes a dense
``(out, channels * k * k)`` matrix. That is also how a crossbar holds a
convolution: one row per patch entry, one column (pair) per output channel.
The functions only ever unroll the batch they are given, so callers bound
memory by the batch size.

The backward functions (``*_backward``) are the exact gradients used by the
NumPy trainer (:mod:`neurosim.networks.cnn`).
"""

import numpy as np

from neurosim.errors import NeurosimError


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length along one axis: ``(size + 2 padding - kernel) // stride + 1`` (torch's floor rule)."""
    return (size + 2 * padding - kernel) // stride + 1


def _pad(images, padding: int, value=0.0) -> np.ndarray:
    if not padding:
        return images
    return np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=value)


def _windows(images, kernel: int, stride: int) -> np.ndarray:
    """Strided view ``(n, c, out_h, out_w, kernel, kernel)`` of every window of padded images (no copy)."""
    view = np.lib.stride_tricks.sliding_window_view(images, (kernel, kernel), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def patches(images, kernel: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Unrolled inputs ``(n * out_h * out_w, c * kernel * kernel)`` of images ``(n, c, h, w)``.

    Row ``(i * out_h + r) * out_w + s`` is the window of image ``i`` whose top
    left corner is at ``(r * stride - padding, s * stride - padding)``; zeros
    stand for the padding. Columns run over channel, kernel row, kernel column.
    """
    images = np.asarray(images)
    n, c = images.shape[:2]
    view = _windows(_pad(images, padding), kernel, stride)
    return view.transpose(0, 2, 3, 1, 4, 5).reshape(n * view.shape[2] * view.shape[3], c * kernel * kernel)


def rows_to_images(rows, n: int, out_h: int, out_w: int) -> np.ndarray:
    """Per-position outputs ``(n * out_h * out_w, channels)`` as images ``(n, channels, out_h, out_w)``."""
    return rows.reshape(n, out_h, out_w, -1).transpose(0, 3, 1, 2)


def conv2d(images, weight, bias, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Cross-correlation of ``images (n, c, h, w)`` with ``weight (out, c, k, k)`` plus ``bias (out,)``.

    The same operation as ``torch.nn.functional.conv2d`` (groups = 1);
    returns ``(n, out, out_h, out_w)``.
    """
    images = np.asarray(images)
    c_out, c_in, k, _ = weight.shape
    n, _, h, w = images.shape
    oh, ow = out_size(h, k, stride, padding), out_size(w, k, stride, padding)
    z = patches(images, k, stride, padding) @ weight.reshape(c_out, -1).T + bias
    return rows_to_images(z, n, oh, ow)


def patches_backward(grad_rows, image_shape, kernel: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Gradient with respect to the images ``(n, c, h, w)`` of a loss whose gradient on :func:`patches` is ``grad_rows``.

    Every patch entry adds its gradient back onto the pixel it was read from
    (padding positions are dropped).
    """
    n, c, h, w = image_shape
    oh, ow = out_size(h, kernel, stride, padding), out_size(w, kernel, stride, padding)
    g = grad_rows.reshape(n, oh, ow, c, kernel, kernel)
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=grad_rows.dtype)
    for i in range(kernel):
        for j in range(kernel):
            padded[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride] += g[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return padded[:, :, padding : padding + h, padding : padding + w]


def _window_entries(images, kernel: int, stride: int):
    """For each of the ``kernel * kernel`` offsets, the strided view of that entry of every window ``(n, c, out_h, out_w)``."""
    _, _, h, w = images.shape
    oh, ow = out_size(h, kernel, stride, 0), out_size(w, kernel, stride, 0)
    for i in range(kernel):
        for j in range(kernel):
            yield images[:, :, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride]


def max_pool(images, kernel: int, stride: int) -> np.ndarray:
    """Largest value of every ``kernel x kernel`` window (step ``stride``) of ``images (n, c, h, w)``.

    Computed as the elementwise maximum over the ``kernel * kernel`` window
    offsets (a few passes over the data, faster than reducing a window view).
    """
    entries = _window_entries(np.asarray(images), kernel, stride)
    out = np.array(next(entries))
    for entry in entries:
        np.maximum(out, entry, out=out)
    return out


def avg_pool(images, kernel: int, stride: int) -> np.ndarray:
    """Mean of every ``kernel x kernel`` window (step ``stride``) of ``images (n, c, h, w)``."""
    images = np.asarray(images)
    entries = _window_entries(images, kernel, stride)
    out = np.array(next(entries))
    for entry in entries:
        out += entry
    out /= images.dtype.type(kernel * kernel) if np.issubdtype(images.dtype, np.floating) else kernel * kernel
    return out


def max_pool_backward(grad, images, kernel: int, stride: int) -> np.ndarray:
    """Gradient with respect to ``images`` of :func:`max_pool`: each window's gradient goes to its (first) largest entry."""
    view = _windows(images, kernel, stride)
    n, c, oh, ow = view.shape[:4]
    winner = view.reshape(n, c, oh, ow, kernel * kernel).argmax(axis=4)
    out = np.zeros_like(images)
    for index in range(kernel * kernel):
        i, j = divmod(index, kernel)
        out[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride] += np.where(winner == index, grad, 0)
    return out


def pool_shape_check(h: int, w: int, kernel: int, stride: int, what: str) -> tuple[int, int]:
    """Output ``(out_h, out_w)`` of a window of ``kernel`` with step ``stride`` over ``h x w``, refused if empty."""
    oh, ow = out_size(h, kernel, stride, 0), out_size(w, kernel, stride, 0)
    if oh < 1 or ow < 1:
        raise NeurosimError(f"{what}: a {kernel}x{kernel} window does not fit in a {h}x{w} input")
    return oh, ow


def avg_pool_backward(grad, image_shape, kernel: int, stride: int) -> np.ndarray:
    """Gradient with respect to the images ``(n, c, h, w)`` of :func:`avg_pool`: each window's gradient spread evenly."""
    n, c, oh, ow = grad.shape
    out = np.zeros(image_shape, dtype=grad.dtype)
    share = grad / (kernel * kernel)
    for i in range(kernel):
        for j in range(kernel):
            out[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride] += share
    return out
