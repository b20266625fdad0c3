"""A network is an ordered list of layers; each layer knows its kind, its arrays and its activation.

:class:`Dense` is ``y = activation(x @ W.T + b)`` with ``W`` of shape
``(out, in)`` (the library convention, design 3.10). Convolutions unrolled
onto crossbar rows and digital pooling join as further layer kinds with the
same interface (``kind``, ``n_in``, ``n_out``, ``forward``, ``arrays``,
``describe``), so the model files (:mod:`neurosim.networks.modelio`), the
software MLP and the crossbar networks read one representation.

Code that still takes the older ``[(W, b), ...]`` list with one hidden
activation converts with :func:`mlp_layers` and :func:`layer_params`.
"""

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

import numpy as np
from scipy.special import expit

from neurosim.errors import NeurosimError
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
        raise NeurosimError(f"{what} must be a {ndim}-D float array, got {a.dtype} of shape {a.shape}")
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


#: Layer classes by their ``kind`` (the model-file name of the layer).
LAYER_KINDS = {Dense.kind: Dense}


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
