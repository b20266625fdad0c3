"""A network is an ordered list of layers; each layer knows its kind, its arrays and its activation.

:class:`Dense` is ``y = activation(x @ W.T + b)`` with ``W`` of shape
``(out, in)`` (the library convention, design 3.10). :class:`Conv2d` (a
convolution, unrolled onto crossbar rows on hardware) and :class:`Pool2d`
(digital max or average pooling) have the same interface (``kind``,
``n_in``, ``n_out``, ``forward``, ``arrays``, ``describe``), so the model
files (:mod:`neurosim.networks.modelio`), the software networks and the
crossbar networks read one representation.

Every layer takes and gives flat rows ``(n, features)``; an image layer
reads its rows as ``(n, channels, height, width)`` in C order (its
``in_shape``), the torch layout, so a torch ``Flatten`` is the identity here
and needs no layer of its own.

Code that still takes the older ``[(W, b), ...]`` list with one hidden
activation converts with :func:`mlp_layers` and :func:`layer_params`.
"""

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

import numpy as np
from scipy.special import expit

from neurosim.errors import NeurosimError
from neurosim.networks import conv
from neurosim.validation import parse_enum


class Activation(Enum):
    """What a layer applies to its sums ``z``.

    ``LINEAR``: ``z`` itself (logits of an output layer). ``RELU``:
    ``max(z, 0)``. ``SIGMOID``: the logistic ``1 / (1 + exp(-z))``. ``STEP``:
    a threshold unit, ``1`` where ``z >= 0`` else ``0`` (in ``z``'s dtype).
    """

    LINEAR = "linear"
    RELU = "relu"
    SIGMOID = "sigmoid"
    STEP = "step"


def activate(z, activation: Activation):
    """``activation`` applied elementwise to ``z`` (see :class:`Activation`)."""
    if activation is Activation.SIGMOID:
        return expit(z)
    if activation is Activation.RELU:
        return np.maximum(z, 0)
    if activation is Activation.STEP:
        return (z >= 0).astype(z.dtype)
    if activation is Activation.LINEAR:
        return z
    raise NeurosimError(f"activation = {activation!r} is not allowed: one of {[a.value for a in Activation]}")


def _finite_float_array(value, what: str, ndim: int) -> np.ndarray:
    a = np.asarray(value)
    if a.ndim != ndim or not np.issubdtype(a.dtype, np.floating):
        raise NeurosimError(f"{what} must be a {ndim}-D array of floats, got {a.dtype} of shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise NeurosimError(f"{what} holds NaN or infinite values")
    return a


@dataclass(frozen=True, eq=False)
class Dense:
    """A fully connected layer ``activation(x @ weight.T + bias)``.

    ``weight``: finite float array ``(out, in)``; ``bias``: finite float array
    ``(out,)``; ``activation``: an :class:`Activation` (or its string value).
    The arrays are kept as given (no copy, no dtype change).
    """

    weight: np.ndarray
    bias: np.ndarray
    activation: Activation = Activation.LINEAR

    kind: ClassVar[str] = "dense"

    def __post_init__(self):
        w = _finite_float_array(self.weight, "Dense weight", 2)
        b = _finite_float_array(self.bias, "Dense bias", 1)
        if b.shape[0] != w.shape[0]:
            raise NeurosimError(f"Dense bias has {b.shape[0]} entries but the weight {w.shape} has {w.shape[0]} outputs")
        if 0 in w.shape:
            raise NeurosimError(f"Dense weight has shape {w.shape}; a layer needs at least one input and one output")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", b)
        object.__setattr__(self, "activation", parse_enum(Activation, self.activation, "layer activation"))

    @property
    def n_in(self) -> int:
        """Inputs of the layer."""
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        """Outputs of the layer."""
        return int(self.weight.shape[0])

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The layer's arrays in file order: ``(weight, bias)``."""
        return self.weight, self.bias

    def forward(self, x) -> np.ndarray:
        """The layer's outputs for row inputs ``x (n, in)``."""
        return activate(np.asarray(x) @ self.weight.T + self.bias, self.activation)

    def describe(self) -> dict:
        """The layer's kind, activation and widths as plain values (what a model sidecar records)."""
        return {"kind": self.kind, "activation": self.activation.value, "inputs": self.n_in, "outputs": self.n_out}


    @classmethod
    def from_spec(cls, spec: dict, arrays) -> "Dense":
        """The layer a model sidecar entry ``spec`` (its :meth:`describe`) and its ``arrays`` describe."""
        return cls(*arrays, spec["activation"])


def _positive_int(value, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise NeurosimError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _image_shape(value, what: str) -> tuple[int, int, int]:
    shape = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(shape) != 3:
        raise NeurosimError(f"{what} must be (channels, height, width), got {value!r}")
    return tuple(_positive_int(v, what) for v in shape)


#: Images a software image layer unrolls at once (bounds its scratch memory; results do not depend on it).
IMAGE_CHUNK = 256


class _ImageLayer:
    """Sizes of a layer over flat C-order images of ``in_shape`` to ``out_shape`` ``(channels, height, width)``."""

    @property
    def n_in(self) -> int:
        """Inputs of the layer (pixels times channels)."""
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        """Outputs of the layer (pixels times channels)."""
        return int(np.prod(self.out_shape))


@dataclass(frozen=True, eq=False)
class Conv2d(_ImageLayer):
    """A 2-D convolution ``activation(conv(x, weight) + bias)`` (cross-correlation, groups = 1).

    ``weight``: finite float array ``(out_channels, in_channels, k, k)`` (torch
    layout, square kernels); ``bias``: ``(out_channels,)``; ``in_shape``: the
    input images' ``(channels, height, width)``; ``stride``, ``padding``
    (zeros on every side) in pixels. Rows in and out are flat C-order images.
    On a crossbar the kernel is the ``(out_channels, in_channels * k * k)``
    matrix :attr:`matrix`, read once per output position.
    """

    weight: np.ndarray
    bias: np.ndarray
    in_shape: tuple
    stride: int = 1
    padding: int = 0
    activation: Activation = Activation.LINEAR

    kind: ClassVar[str] = "conv2d"

    def __post_init__(self):
        w = _finite_float_array(self.weight, "Conv2d weight", 4)
        b = _finite_float_array(self.bias, "Conv2d bias", 1)
        if w.shape[2] != w.shape[3] or 0 in w.shape:
            raise NeurosimError(f"Conv2d weight has shape {w.shape}; it must be (out, in, k, k) with a square kernel")
        if b.shape[0] != w.shape[0]:
            raise NeurosimError(f"Conv2d bias has {b.shape[0]} entries but the weight {w.shape} has {w.shape[0]} outputs")
        in_shape = _image_shape(self.in_shape, "Conv2d in_shape")
        if in_shape[0] != w.shape[1]:
            raise NeurosimError(f"Conv2d weight {w.shape} takes {w.shape[1]} channels but in_shape {in_shape} has {in_shape[0]}")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", b)
        object.__setattr__(self, "in_shape", in_shape)
        object.__setattr__(self, "stride", _positive_int(self.stride, "Conv2d stride"))
        object.__setattr__(self, "padding", _positive_int(self.padding, "Conv2d padding", 0))
        object.__setattr__(self, "activation", parse_enum(Activation, self.activation, "layer activation"))
        if min(self.out_shape[1:]) < 1:
            raise NeurosimError(f"Conv2d: a {self.kernel}x{self.kernel} kernel does not fit in the input {in_shape} "
                                f"with padding {self.padding}")

    @property
    def kernel(self) -> int:
        """Kernel side ``k`` in pixels."""
        return int(self.weight.shape[2])

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """Output images' ``(channels, height, width)``."""
        _, h, w = self.in_shape
        k, s, p = self.kernel, self.stride, self.padding
        return int(self.weight.shape[0]), conv.out_size(h, k, s, p), conv.out_size(w, k, s, p)

    @property
    def matrix(self) -> np.ndarray:
        """The unrolled kernel ``(out_channels, in_channels * k * k)``: the weight matrix a crossbar holds."""
        return self.weight.reshape(self.weight.shape[0], -1)

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The layer's arrays in file order: ``(weight, bias)``."""
        return self.weight, self.bias

    def patches(self, x) -> np.ndarray:
        """Unrolled inputs ``(n * out_h * out_w, in_channels * k * k)`` of flat rows ``x (n, n_in)``."""
        x = np.asarray(x)
        return conv.patches(x.reshape(x.shape[0], *self.in_shape), self.kernel, self.stride, self.padding)

    def outputs_from_sums(self, sums, n: int) -> np.ndarray:
        """Flat output rows ``(n, n_out)`` from per-position sums ``(n * out_h * out_w, out_channels)`` (bias, activation added)."""
        _, oh, ow = self.out_shape
        return activate(conv.rows_to_images(sums + self.bias, n, oh, ow).reshape(n, -1), self.activation)

    def forward(self, x) -> np.ndarray:
        """The layer's outputs ``(n, n_out)`` for flat rows ``x (n, n_in)`` (unrolled :data:`IMAGE_CHUNK` images at a time)."""
        x = np.asarray(x)
        m = self.matrix.T
        parts = (x[i : i + IMAGE_CHUNK] for i in range(0, len(x), IMAGE_CHUNK))
        chunks = [self.outputs_from_sums(self.patches(part) @ m, len(part)) for part in parts]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.n_out), np.result_type(x, self.weight))

    def describe(self) -> dict:
        """The layer's kind, activation, widths and geometry as plain values (what a model sidecar records)."""
        return {"kind": self.kind, "activation": self.activation.value, "inputs": self.n_in, "outputs": self.n_out,
                "in_shape": list(self.in_shape), "out_channels": self.out_shape[0], "kernel": self.kernel,
                "stride": self.stride, "padding": self.padding}

    @classmethod
    def from_spec(cls, spec: dict, arrays) -> "Conv2d":
        """The layer a model sidecar entry ``spec`` (its :meth:`describe`) and its ``arrays`` describe."""
        return cls(*arrays, spec["in_shape"], spec["stride"], spec["padding"], spec["activation"])


class PoolMode(Enum):
    """What a pooling window gives: its largest value (``MAX``) or its mean (``AVG``)."""

    MAX = "max"
    AVG = "avg"


@dataclass(frozen=True, eq=False)
class Pool2d(_ImageLayer):
    """Digital pooling over ``kernel x kernel`` windows with step ``stride`` (no padding), then ``activation``.

    ``mode``: a :class:`PoolMode`; ``in_shape``: the input images'
    ``(channels, height, width)``; ``stride`` None means ``kernel``
    (non-overlapping windows, as torch). No arrays: pooling runs in digital
    logic after the ADCs.
    """

    mode: PoolMode
    in_shape: tuple
    kernel: int = 2
    stride: int | None = None
    activation: Activation = Activation.LINEAR

    kind: ClassVar[str] = "pool2d"

    def __post_init__(self):
        object.__setattr__(self, "mode", parse_enum(PoolMode, self.mode, "pooling mode"))
        object.__setattr__(self, "in_shape", _image_shape(self.in_shape, "Pool2d in_shape"))
        object.__setattr__(self, "kernel", _positive_int(self.kernel, "Pool2d kernel"))
        stride = self.kernel if self.stride is None else self.stride
        object.__setattr__(self, "stride", _positive_int(stride, "Pool2d stride"))
        object.__setattr__(self, "activation", parse_enum(Activation, self.activation, "layer activation"))
        conv.pool_shape_check(*self.in_shape[1:], self.kernel, self.stride, "Pool2d")

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """Output images' ``(channels, height, width)``."""
        c, h, w = self.in_shape
        return (c, *conv.pool_shape_check(h, w, self.kernel, self.stride, "Pool2d"))

    @property
    def arrays(self) -> tuple:
        """No arrays (pooling has no weights)."""
        return ()

    def forward(self, x) -> np.ndarray:
        """The layer's outputs ``(n, n_out)`` for flat rows ``x (n, n_in)``."""
        x = np.asarray(x)
        images = x.reshape(x.shape[0], *self.in_shape)
        pool = conv.max_pool if self.mode is PoolMode.MAX else conv.avg_pool
        return activate(pool(images, self.kernel, self.stride).reshape(x.shape[0], -1), self.activation)

    def describe(self) -> dict:
        """The layer's kind, mode, activation, widths and geometry as plain values (what a model sidecar records)."""
        return {"kind": self.kind, "mode": self.mode.value, "activation": self.activation.value, "inputs": self.n_in,
                "outputs": self.n_out, "in_shape": list(self.in_shape), "kernel": self.kernel, "stride": self.stride}

    @classmethod
    def from_spec(cls, spec: dict, arrays) -> "Pool2d":
        """The layer a model sidecar entry ``spec`` (its :meth:`describe`) describes (``arrays`` is empty)."""
        if arrays:
            raise NeurosimError(f"a pool2d layer has no arrays, got {len(arrays)}")
        return cls(spec["mode"], spec["in_shape"], spec["kernel"], spec["stride"], spec["activation"])


#: Layer classes by their ``kind`` (the model-file name of the layer).
LAYER_KINDS = {cls.kind: cls for cls in (Dense, Conv2d, Pool2d)}
#: Keys of each kind's model-sidecar entry (its ``describe()``).
LAYER_KEYS = {
    Dense.kind: ("kind", "activation", "inputs", "outputs"),
    Conv2d.kind: ("kind", "activation", "inputs", "outputs", "in_shape", "out_channels", "kernel", "stride", "padding"),
    Pool2d.kind: ("kind", "mode", "activation", "inputs", "outputs", "in_shape", "kernel", "stride"),
}
#: Arrays each kind stores in a model file.
LAYER_ARRAYS = {Dense.kind: 2, Conv2d.kind: 2, Pool2d.kind: 0}


def check_layers(layers) -> tuple[int, ...]:
    """Validate an ordered list of layers that chain (each ``n_in`` is the previous ``n_out``); return the widths."""
    layers = list(layers)
    if not layers:
        raise NeurosimError("a network needs at least one layer, got none")
    for i, layer in enumerate(layers):
        if not isinstance(layer, tuple(LAYER_KINDS.values())):
            raise NeurosimError(f"layer {i} is a {type(layer).__name__}; allowed: {sorted(LAYER_KINDS)} layers")
        if i and layer.n_in != layers[i - 1].n_out:
            raise NeurosimError(
                f"layer {i} takes {layer.n_in} inputs but layer {i - 1} gives {layers[i - 1].n_out} outputs"
            )
        before = getattr(layers[i - 1], "out_shape", None) if i else None
        if before is not None and hasattr(layer, "in_shape") and tuple(layer.in_shape) != tuple(before):
            raise NeurosimError(f"layer {i} takes images {tuple(layer.in_shape)} but layer {i - 1} gives {tuple(before)}")
    return (layers[0].n_in, *(layer.n_out for layer in layers))


def forward_layers(layers, x) -> np.ndarray:
    """The last layer's outputs for row inputs ``x (n, in)``, through every layer in order."""
    for layer in layers:
        x = layer.forward(x)
    return x


def mlp_layers(params, hidden: Activation, output: Activation = Activation.LINEAR) -> list[Dense]:
    """``[(W, b), ...]`` with one hidden activation as :class:`Dense` layers (the last one ``output``)."""
    hidden = parse_enum(Activation, hidden, "activation")
    params = list(params)
    return [Dense(w, b, hidden if i < len(params) - 1 else output) for i, (w, b) in enumerate(params)]


def layer_params(layers) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``[(W, b), ...]`` list of dense layers (for code that takes the older form)."""
    out = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, Dense):
            raise NeurosimError(f"layer {i} is a {layer.kind} layer; only dense layers have a (W, b) form")
        out.append((layer.weight, layer.bias))
    return out
