"""Threshold (McCulloch-Pitts) units, layers and networks, in software.

A threshold unit with weights ``w`` (weight units) and threshold ``theta``
(weight units x input units) fires on a binary input vector ``x`` when
``w . x >= theta``: ``y = 1`` if so, else ``y = 0``. Inputs and outputs are
binary (0 or 1), so units chain into layered networks.

A :class:`ThresholdLayer` holds several units that read the same inputs
(weights ``(out, in)`` as everywhere in neurosim). Its :class:`Readout` is
either a comparator per unit (the threshold rule above) or a winner-take-all
across its units (a one-hot vector marking the unit with the largest
``w . x - theta``; used as the class read-out of a classifier).

Truth-table order: for ``n`` inputs the ``2**n`` rows are ``r = 0 .. 2**n - 1``
with input ``j`` equal to bit ``n - 1 - j`` of ``r``, so for two inputs the rows
are ``x1 x2 = 00, 01, 10, 11`` and AND is the truth table ``"0001"``.

Integer units. When a unit's weights and threshold are all whole numbers, the
sum ``w . x`` is a whole number too, and ``w . x >= theta`` is the same Boolean
function as ``w . x >= theta - 1/2``. :attr:`ThresholdLayer.decision_thresholds`
uses that centred threshold for such units, which puts the decision boundary
half a weight unit away from every reachable sum: the largest noise margin the
weights allow, and no exact ties for a noisy analog read to break at random.
"""

import numbers
from dataclasses import dataclass
from enum import Enum

import numpy as np

from neurosim.errors import NeurosimError

#: Largest number of inputs for which whole truth tables are enumerated.
MAX_TABLE_INPUTS = 16


class Readout(Enum):
    """How a layer turns its units' sums into binary outputs."""

    #: Each unit has its own comparator: ``y_j = [w_j . x >= theta_j]``.
    COMPARATOR = "comparator"
    #: A winner-take-all across the layer: ``y = onehot(argmax_j (w_j . x - theta_j))``.
    WINNER_TAKE_ALL = "winner_take_all"


def parse_readout(value) -> Readout:
    """The :class:`Readout` for a member or its string value."""
    if isinstance(value, Readout):
        return value
    try:
        return Readout(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in Readout)
        raise NeurosimError(f"unknown readout {value!r}; allowed: {allowed}") from None


def _count(n, what: str, low: int = 0, high: int | None = None) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < low or (high is not None and n > high):
        allowed = f"a whole number >= {low}" if high is None else f"a whole number from {low} to {high}"
        raise NeurosimError(f"{what} = {n!r} is not allowed: {allowed}")
    return int(n)


def all_inputs(n: int) -> np.ndarray:
    """All ``2**n`` binary input vectors in truth-table order, as uint8 of shape ``(2**n, n)``."""
    n = _count(n, "number of inputs", 0, MAX_TABLE_INPUTS)
    rows = np.arange(2**n, dtype=np.int64)
    shifts = np.arange(n - 1, -1, -1, dtype=np.int64)
    return ((rows[:, None] >> shifts[None, :]) & 1).astype(np.uint8)


def parse_truth_table(table, n_inputs: int | None = None) -> np.ndarray:
    """A truth table as uint8 outputs ``(2**n,)`` from a string like ``"0110"`` or a sequence of 0/1.

    The length must be a power of two (``2**n`` rows in truth-table order); if
    ``n_inputs`` is given it must match.
    """
    if isinstance(table, str):
        text = table.strip()
        if not text or set(text) - {"0", "1"}:
            raise NeurosimError(f"truth table {table!r} must be a string of 0s and 1s, one per input row")
        values = np.array([int(c) for c in text], dtype=np.uint8)
    else:
        values = check_binary(np.asarray(table).reshape(-1), None, "truth table")
    size = values.size
    n = size.bit_length() - 1
    if size == 0 or 2**n != size:
        raise NeurosimError(f"a truth table needs 2**n entries (1, 2, 4, 8, 16, ...), got {size}")
    if n_inputs is not None and n != n_inputs:
        raise NeurosimError(f"a truth table of {n_inputs} inputs needs {2**n_inputs} entries, got {size}")
    return values


def truth_table_string(outputs) -> str:
    """The outputs of a single-output truth table as a string of 0s and 1s."""
    return "".join(str(int(v)) for v in np.asarray(outputs).reshape(-1))


def check_binary(x, n: int | None, what: str = "inputs") -> np.ndarray:
    """``x`` as a uint8 array after checking it holds only 0 and 1 (and ``n`` columns if given).

    Accepts bool, integer or float arrays (floats must be exactly 0.0 or 1.0).
    """
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise NeurosimError(f"{what} must be binary numbers (0 or 1), got dtype {a.dtype}")
    if n is not None:
        if a.ndim == 0 or a.shape[-1] != n:
            raise NeurosimError(f"{what} must have {n} values per vector (shape (..., {n})), got shape {a.shape}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise NeurosimError(f"{what} must be binary (0 or 1): found NaN or inf")
    bad = (a != 0) & (a != 1)
    if np.any(bad):
        value = a[tuple(np.argwhere(bad)[0])]
        raise NeurosimError(f"{what} must be binary (0 or 1), found {value!r}")
    return a.astype(np.uint8)


def _finite_array(values, what: str, ndim: int) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype.kind not in "biuf":
        raise NeurosimError(f"{what} must be real numbers, got dtype {a.dtype}")
    a = np.array(a, dtype=np.float64)
    if a.ndim != ndim:
        raise NeurosimError(f"{what} must be {ndim}-D, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise NeurosimError(f"{what} must be finite: found {a[bad]} at index {bad}")
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ThresholdLayer:
    """Threshold units reading the same binary inputs.

    ``weights`` (out, in) in weight units; ``thresholds`` (out,) in weight
    units (the sum ``w . x`` a unit must reach with inputs of 1). ``readout``
    picks comparators (default) or a winner-take-all. Arrays are stored as
    read-only float64 copies.
    """

    weights: np.ndarray
    thresholds: np.ndarray
    readout: Readout = Readout.COMPARATOR

    def __post_init__(self):
        w = _finite_array(self.weights, "weights", 2)
        t = np.asarray(self.thresholds)
        if t.ndim == 0:
            t = t.reshape(1)
        t = _finite_array(t, "thresholds", 1)
        if w.shape[0] == 0 or w.shape[1] == 0:
            raise NeurosimError(f"weights must have at least one unit and one input, got shape {w.shape}")
        if t.shape[0] != w.shape[0]:
            raise NeurosimError(f"thresholds must have one value per unit ({w.shape[0]}), got {t.shape[0]}")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "thresholds", t)
        object.__setattr__(self, "readout", parse_readout(self.readout))

    @property
    def n_inputs(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.weights.shape[0])

    @property
    def integral(self) -> np.ndarray:
        """Per unit: whether its weights and threshold are all whole numbers (bool, (out,))."""
        w_int = np.all(self.weights == np.round(self.weights), axis=1)
        return w_int & (self.thresholds == np.round(self.thresholds))

    @property
    def decision_thresholds(self) -> np.ndarray:
        """Thresholds the hardware compares against (weight units), centred for integer units.

        Comparator units whose weights and threshold are whole numbers get
        ``theta - 1/2`` (the same Boolean function with the largest margin, see
        the module docstring); every other unit keeps ``theta``.
        """
        if self.readout is Readout.WINNER_TAKE_ALL:
            return self.thresholds.copy()
        return np.where(self.integral, self.thresholds - 0.5, self.thresholds)

    def sums(self, x) -> np.ndarray:
        """``w . x - theta`` for binary inputs ``x`` (batch, in) or (in,): float64 (batch, out) or (out,)."""
        xb = check_binary(x, self.n_inputs)
        return xb.astype(np.float64) @ self.weights.T - self.thresholds

    def evaluate(self, x) -> np.ndarray:
        """Binary outputs (uint8) for binary inputs ``x`` (batch, in) or one vector (in,)."""
        s = self.sums(x)
        if self.readout is Readout.COMPARATOR:
            return (s >= 0).astype(np.uint8)
        return one_hot_argmax(s)


def one_hot_argmax(s) -> np.ndarray:
    """One-hot uint8 vectors marking the largest entry of ``s`` along its last axis (first on ties)."""
    s = np.asarray(s)
    out = np.zeros(s.shape, dtype=np.uint8)
    np.put_along_axis(out, np.argmax(s, axis=-1)[..., None], 1, axis=-1)
    return out


@dataclass(frozen=True, eq=False)
class ThresholdUnit:
    """One threshold unit: fires (1) when ``weights . x >= threshold``.

    ``weights`` (in,) in weight units, ``threshold`` a number in the same units.
    """

    weights: np.ndarray
    threshold: float

    def __post_init__(self):
        w = _finite_array(self.weights, "weights", 1)
        if w.size == 0:
            raise NeurosimError("a threshold unit needs at least one input weight")
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not np.isfinite(t):
            raise NeurosimError(f"threshold = {t!r} is not allowed: a finite number")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "threshold", float(t))

    @property
    def n_inputs(self) -> int:
        return int(self.weights.size)

    def as_layer(self) -> ThresholdLayer:
        """This unit as a one-unit comparator :class:`ThresholdLayer`."""
        return ThresholdLayer(self.weights[None, :], np.array([self.threshold]))

    def evaluate(self, x) -> np.ndarray:
        """Binary output (uint8) for binary inputs ``x`` (batch, in) -> (batch,), or (in,) -> scalar array."""
        return self.as_layer().evaluate(x)[..., 0]


def _as_layer(layer) -> ThresholdLayer:
    if isinstance(layer, ThresholdLayer):
        return layer
    if isinstance(layer, ThresholdUnit):
        return layer.as_layer()
    raise NeurosimError(f"a threshold network is built from ThresholdLayer or ThresholdUnit objects, got {type(layer).__name__}")


class ThresholdNetwork:
    """Threshold layers in sequence: each layer's binary outputs are the next layer's inputs."""

    def __init__(self, layers, name: str = ""):
        if isinstance(layers, (ThresholdLayer, ThresholdUnit)):
            layers = [layers]
        layers = [_as_layer(layer) for layer in layers]
        if not layers:
            raise NeurosimError("a threshold network needs at least one layer")
        for i in range(1, len(layers)):
            if layers[i].n_inputs != layers[i - 1].n_outputs:
                raise NeurosimError(
                    f"layer {i} has {layers[i].n_inputs} inputs but layer {i - 1} has {layers[i - 1].n_outputs} outputs"
                )
        self.layers = tuple(layers)
        self.name = str(name)

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in self.sizes)
        return f"ThresholdNetwork({self.name + ': ' if self.name else ''}{sizes})"

    @property
    def sizes(self) -> tuple[int, ...]:
        """Widths ``(inputs, layer 1 units, ..., outputs)``."""
        return (self.layers[0].n_inputs, *(layer.n_outputs for layer in self.layers))

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_inputs

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_outputs

    def evaluate(self, x) -> np.ndarray:
        """Binary outputs (uint8) for binary inputs ``x`` (batch, in) or (in,)."""
        h = check_binary(x, self.n_inputs)
        for layer in self.layers:
            h = layer.evaluate(h)
        return h

    def truth_table(self) -> np.ndarray:
        """Outputs for every input vector in truth-table order: uint8 (2**in, out)."""
        if self.n_inputs > MAX_TABLE_INPUTS:
            raise NeurosimError(f"truth tables are enumerated for at most {MAX_TABLE_INPUTS} inputs, this network has {self.n_inputs}")
        return self.evaluate(all_inputs(self.n_inputs))
