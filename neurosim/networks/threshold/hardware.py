"""Threshold layers on crossbar columns with comparators.

Each threshold unit is one crossbar column (a pair of columns for the
differential mapping) of a :class:`~neurosim.crossbar.CrossbarLayer`. A binary
input is a read voltage on its row: 1 is applied as
``CrossbarConfig.read_voltage_V``, 0 as 0 V. The column current, after the
mapping's analog subtraction (``G+ - G-`` or ``G - G_ref``), is the unit's sum
``w . x`` in weight units; one weight unit at input 1 is
:attr:`CrossbarThresholdLayer.unit_current_A` amperes. When a unit spans
several row tiles their currents are summed before the comparator (ideal
summation; the crossbar's ADC is not used: ``adc_bits`` must be None).

The threshold is realised in one of two ways (:class:`ThresholdMode`):

- ``BIAS_ROW``: an extra row driven at the read voltage for every input holds
  the weight ``-theta``; the comparator compares the column current with 0 A.
- ``COMPARATOR``: no extra row; the comparator's reference current is
  ``theta * unit_current_A``.

The comparator fires (output 1) when ``I_column >= I_reference + offset + noise``
with ``comparator_offset_A`` a fixed offset and ``comparator_noise_A`` the
standard deviation of a fresh Gaussian draw per decision (both in amperes).
A winner-take-all layer (:class:`~neurosim.networks.threshold.units.Readout`)
compares the units' ``I_column - I_reference`` (plus the same comparator
noise) with each other instead and marks the largest.

Weight scale: ``weight_max = headroom * max |hardware weight|`` is mapped to
the full conductance window (``WeightScale.FIXED``; the crossbar
configuration's own ``weight_scale`` and ``weight_max`` are replaced). A
headroom above 1 keeps every device away from the window's rails, so that
programming noise is never clipped there (the analytic noise model in
:mod:`neurosim.networks.threshold.margins` is then exactly Gaussian).

Replicas. ``replicas = R`` programs ``R`` independent copies of the layer side
by side in one crossbar layer (for Monte Carlo estimates over chips): the
outputs gain a replica axis. With the differential mapping the copies share
no device. With the reference-column mapping the copies are grouped
``replicas_per_tile`` to a tile, and copies in one tile share that tile's
reference column, as units in one array do on a chip; the units of one copy
always lie in one tile, as they do with ``replicas = 1`` when the layer fits
one array.
"""

import math
from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np

from neurosim.crossbar import CrossbarConfig, CrossbarLayer, Mapping, PulsePolicy, WeightScale
from neurosim.device import DeviceModel, load_device
from neurosim.errors import NeurosimError
from neurosim.events import EventCounts, LayerEvents
from neurosim.networks.threshold.units import (
    Readout,
    ThresholdLayer,
    ThresholdNetwork,
    ThresholdUnit,
    check_binary,
    one_hot_argmax,
)
from neurosim.rng import as_generator
from neurosim.validation import real, reject, whole

#: Default number of tiles the replicas of a reference-column layer are spread over.
REPLICA_TILES = 64

#: Most units a layer fed with per-replica inputs may have as inputs (2**n patterns are read).
MAX_PATTERN_INPUTS = 12


class ThresholdMode(Enum):
    """Where a unit's threshold is realised."""

    #: An extra input row at the read voltage holding the weight ``-theta``; comparator reference 0 A.
    BIAS_ROW = "bias_row"
    #: The comparator's reference current is ``theta`` weight units of current.
    COMPARATOR = "comparator"


@dataclass(frozen=True)
class ThresholdConfig:
    """How threshold units are put on crossbars.

    ``crossbar``: array size, mapping, DAC, read voltage, output noise,
    programming method (its ``weight_scale``/``weight_max`` are replaced, see
    the module docstring; ``adc_bits`` must be None and ``input_full_scale``
    1, since inputs are binary and the comparator reads the current).
    ``headroom`` (>= 1): full-window weight over the largest hardware weight.
    ``comparator_offset_A``: comparator offset (A; positive = fires later).
    ``comparator_noise_A``: standard deviation (A) of the comparator's
    input-referred noise, drawn fresh for every decision.
    ``centre_integer_thresholds``: compare integer units against
    ``theta - 1/2`` (see :mod:`~neurosim.networks.threshold.units`).
    """

    crossbar: CrossbarConfig = field(default_factory=CrossbarConfig)
    threshold_mode: ThresholdMode = ThresholdMode.BIAS_ROW
    headroom: float = 1.0
    comparator_offset_A: float = 0.0
    comparator_noise_A: float = 0.0
    centre_integer_thresholds: bool = True

    def __post_init__(self):
        if not isinstance(self.crossbar, CrossbarConfig):
            reject("crossbar", self.crossbar, "a CrossbarConfig")
        if self.crossbar.adc_bits is not None:
            reject("crossbar.adc_bits", self.crossbar.adc_bits, "None: a comparator reads the column current, not an ADC")
        if self.crossbar.input_full_scale != 1.0:
            reject("crossbar.input_full_scale", self.crossbar.input_full_scale, "1.0: binary inputs are 0 V or the full read voltage")
        if not isinstance(self.threshold_mode, ThresholdMode):
            reject("threshold_mode", self.threshold_mode, f"one of {[m.value for m in ThresholdMode]}")
        real("headroom", self.headroom, "a number >= 1 (full-window weight / largest weight)", lambda v: v >= 1)
        real("comparator_offset_A", self.comparator_offset_A, "a finite current in A", lambda v: True)
        real("comparator_noise_A", self.comparator_noise_A, "a standard deviation >= 0 A", lambda v: v >= 0)
        if not isinstance(self.centre_integer_thresholds, bool):
            reject("centre_integer_thresholds", self.centre_integer_thresholds, "true or false")


def hardware_weights(layer: ThresholdLayer, config: ThresholdConfig):
    """The weights the crossbar holds and the comparator reference of each unit (weight units).

    Returns ``(W_hw, reference)``: with a bias row ``W_hw = [W | -theta_d]``
    (last input always 1) and ``reference = 0``; with the comparator mode
    ``W_hw = W`` and ``reference = theta_d``. ``theta_d`` are the decision
    thresholds (centred for integer units if the configuration says so).
    """
    theta = layer.decision_thresholds if config.centre_integer_thresholds else layer.thresholds.copy()
    if config.threshold_mode is ThresholdMode.BIAS_ROW:
        return np.hstack([layer.weights, -theta[:, None]]), np.zeros(layer.n_outputs)
    return np.array(layer.weights), theta


def _as_layer(layer) -> ThresholdLayer:
    if isinstance(layer, ThresholdUnit):
        return layer.as_layer()
    if not isinstance(layer, ThresholdLayer):
        raise NeurosimError(f"layer must be a ThresholdLayer or ThresholdUnit, got {type(layer).__name__}")
    return layer


class CrossbarThresholdLayer:
    """A :class:`ThresholdLayer` programmed onto crossbar columns of ``device``, with comparators.

    ``device``: a :class:`~neurosim.device.DeviceModel` or card name. ``config``:
    a :class:`ThresholdConfig`. ``rng`` draws device variation, faults and
    programming noise. ``weight_max`` (weight units) overrides
    ``config.headroom``'s choice of the full-window weight (needed when the
    weights will be trained on the devices). ``replicas`` and
    ``replicas_per_tile``: see the module docstring.
    """

    def __init__(
        self,
        layer,
        device,
        config: ThresholdConfig | None = None,
        rng=None,
        *,
        weight_max: float | None = None,
        replicas: int = 1,
        replicas_per_tile: int | None = None,
    ):
        self.layer = _as_layer(layer)
        self.device = device if isinstance(device, DeviceModel) else load_device(device)
        self.config = ThresholdConfig() if config is None else config
        if not isinstance(self.config, ThresholdConfig):
            raise NeurosimError(f"config must be a ThresholdConfig, got {type(self.config).__name__}")
        whole("replicas", replicas, 1)
        self.replicas = int(replicas)
        w_hw, reference = hardware_weights(self.layer, self.config)
        if weight_max is None:
            largest = float(np.max(np.abs(w_hw)))
            weight_max = self.config.headroom * largest if largest > 0 else 1.0
        real("weight_max", weight_max, "a weight magnitude > 0", lambda v: v > 0)
        if np.max(np.abs(w_hw)) > weight_max * (1 + 1e-12):
            raise NeurosimError(
                f"weight_max = {weight_max} is below the largest hardware weight {np.max(np.abs(w_hw))}: it would be clipped"
            )
        #: Comparator reference of each unit (weight units).
        self.reference = reference
        self.n_hw_inputs = w_hw.shape[1]
        m = self.layer.n_outputs
        cb = replace(self.config.crossbar, weight_scale=WeightScale.FIXED, weight_max=float(weight_max))
        self.replicas_per_tile = 1
        if self.replicas > 1:
            cb = self._replica_config(cb, m, replicas_per_tile)
        #: The crossbar holding every replica's units (outputs ordered replica by replica).
        self.crossbar = CrossbarLayer(np.tile(w_hw, (self.replicas, 1)), self.device, cb, as_generator(rng))

    def _replica_config(self, cb: CrossbarConfig, m: int, per_tile) -> CrossbarConfig:
        if cb.wire is not None:
            raise NeurosimError("replicas > 1 need ideal wires (crossbar.wire = None): the array layout changes with replicas")
        if cb.mapping is Mapping.DIFFERENTIAL:
            # no device is shared between columns: one wide tile holds every replica
            return replace(cb, cols=max(cb.cols, self.replicas * m))
        if m > cb.weight_cols:
            raise NeurosimError(
                f"replicas of a reference-column layer need its {m} units in one tile; "
                f"the arrays hold {cb.weight_cols} weight columns"
            )
        if per_tile is None:
            per_tile = math.ceil(self.replicas / min(self.replicas, REPLICA_TILES))
        whole("replicas_per_tile", per_tile, 1)
        self.replicas_per_tile = int(per_tile)
        return replace(cb, cols=self.replicas_per_tile * m + 1)

    def __repr__(self) -> str:
        extra = f", {self.replicas} replicas" if self.replicas > 1 else ""
        return f"CrossbarThresholdLayer({self.layer.n_outputs} units x {self.layer.n_inputs} inputs on {self.device.name}{extra})"

    # -- properties ----------------------------------------------------------------------------
    @property
    def weight_max(self) -> float:
        """Weight magnitude (weight units) at the full conductance window."""
        return self.crossbar.weight_max

    @property
    def unit_current_A(self) -> float:
        """Column current (A) of one weight unit at input 1 (the read voltage)."""
        return self.crossbar.current_per_output_A

    @property
    def comparator_offset(self) -> float:
        """The comparator offset in weight units."""
        return self.config.comparator_offset_A / self.unit_current_A

    @property
    def comparator_noise(self) -> float:
        """The comparator noise (standard deviation) in weight units."""
        return self.config.comparator_noise_A / self.unit_current_A

    def effective_weights(self) -> np.ndarray:
        """Noise-free weights the devices hold, ``(replicas, out, hardware inputs)`` (bias row last if any)."""
        w = self.crossbar.effective_weights()
        return w.reshape(self.replicas, self.layer.n_outputs, self.n_hw_inputs)

    # -- reads ---------------------------------------------------------------------------------
    def hardware_inputs(self, xb: np.ndarray) -> np.ndarray:
        """Row inputs (float64, last axis ``n_hw_inputs``) for binary inputs: the bias row's 1 appended if there is one."""
        x = xb.astype(np.float64)
        if self.config.threshold_mode is ThresholdMode.BIAS_ROW:
            x = np.concatenate([x, np.ones(x.shape[:-1] + (1,))], axis=-1)
        return x

    def sums(self, x, rng=None) -> np.ndarray:
        """Noisy ``I_column - I_reference`` in weight units, one crossbar read per input vector.

        ``x``: binary inputs (batch, in) fed to every replica, or
        (batch, replicas, in) with each replica's own inputs. Returns
        float64 (batch, replicas, out). Comparator offset and noise are not
        included (see :meth:`decide`).
        """
        rng = as_generator(rng)
        n = self.layer.n_inputs
        xb = check_binary(x, n)
        m, r = self.layer.n_outputs, self.replicas
        if xb.ndim == 2:
            s = self.crossbar.forward(self.hardware_inputs(xb), rng).reshape(xb.shape[0], r, m)
        elif xb.ndim == 3 and xb.shape[1] == r:
            s = self._per_replica_sums(xb, rng)
        else:
            raise NeurosimError(f"inputs must have shape (batch, {n}) or (batch, {r}, {n}), got {xb.shape}")
        return s - self.reference

    def _per_replica_sums(self, xb: np.ndarray, rng) -> np.ndarray:
        """Each replica reads its own inputs: every distinct input pattern is read once per batch row."""
        n = self.layer.n_inputs
        if n > MAX_PATTERN_INPUTS:
            raise NeurosimError(
                f"per-replica inputs are read pattern by pattern: at most {MAX_PATTERN_INPUTS} inputs, got {n}"
            )
        m, r = self.layer.n_outputs, self.replicas
        weights = 1 << np.arange(n - 1, -1, -1)
        codes = xb.astype(np.int64) @ weights  # (batch, replicas)
        out = np.empty((xb.shape[0], r, m))
        cols = np.arange(r)
        for b in range(xb.shape[0]):
            patterns, index = np.unique(codes[b], return_inverse=True)
            bits = ((patterns[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(np.uint8)
            read = self.crossbar.forward(self.hardware_inputs(bits), rng).reshape(len(patterns), r, m)
            out[b] = read[index, cols]
        return out

    def decide(self, s, rng=None) -> np.ndarray:
        """Binary outputs (uint8, same shape) from sums ``s`` (weight units): comparator offset and noise added."""
        rng = as_generator(rng)
        d = np.asarray(s, dtype=np.float64) - self.comparator_offset
        if self.config.comparator_noise_A > 0:
            d = d - self.comparator_noise * rng.standard_normal(d.shape)
        if self.layer.readout is Readout.WINNER_TAKE_ALL:
            return one_hot_argmax(d)
        return (d >= 0).astype(np.uint8)

    def forward(self, x, rng=None) -> np.ndarray:
        """Binary outputs for binary inputs: (batch, out) for ``replicas = 1`` and 2-D inputs, else (batch, replicas, out).

        A single input vector (in,) gives (out,) outputs (``replicas = 1``).
        """
        rng = as_generator(rng)
        xb = check_binary(x, self.layer.n_inputs)
        single = xb.ndim == 1
        y = self.decide(self.sums(xb[None, :] if single else xb, rng), rng)
        if self.replicas == 1 and (single or xb.ndim == 2):
            y = y[:, 0, :]
        return y[0] if single else y

    @property
    def events(self) -> EventCounts:
        """The crossbar's :attr:`~neurosim.crossbar.CrossbarLayer.events` (reads, pulses and programming, all
        replicas; comparator decisions are not counted: the partial sums pass an ideal ADC, counted once per tile)."""
        return self.crossbar.events

    def reset_events(self) -> None:
        """Set :attr:`events` to zero."""
        self.crossbar.reset_events()

    # -- pulse updates -------------------------------------------------------------------------
    def apply_pulses(self, pulses, rng=None) -> None:
        """Raise (``> 0``) or lower (``< 0``) hardware weights by integer pulse counts (out, hardware inputs).

        Reference-column mapping: the weight's device is potentiated or
        depressed. Differential mapping: push-pull, ``+n`` potentiates ``G+``
        and depresses ``G-`` (and the other way round for ``-n``): the crossbar
        layer's rule with :attr:`~neurosim.crossbar.config.PulsePolicy.BOTH`. Only for
        ``replicas = 1``; cycle-to-cycle noise is drawn from ``rng``.
        """
        if self.replicas != 1:
            raise NeurosimError("apply_pulses works on a single copy (replicas = 1)")
        p = np.asarray(pulses)
        shape = (self.layer.n_outputs, self.n_hw_inputs)
        if p.shape != shape:
            raise NeurosimError(f"pulses must have shape {shape} (units, hardware inputs), got {p.shape}")
        if not np.issubdtype(p.dtype, np.integer):
            raise NeurosimError(f"pulses must be integers, got dtype {p.dtype}")
        self.crossbar.apply_weight_pulses(p, PulsePolicy.BOTH, as_generator(rng))


class CrossbarThresholdNetwork(LayerEvents):
    """A :class:`ThresholdNetwork` with every layer on crossbars of ``device`` (see :class:`CrossbarThresholdLayer`).

    ``replicas``: independent copies of the whole network (Monte Carlo);
    each copy's hidden outputs feed only that copy's next layer.
    """

    def __init__(self, network, device, config: ThresholdConfig | None = None, rng=None, *, replicas: int = 1):
        if not isinstance(network, ThresholdNetwork):
            network = ThresholdNetwork(network)
        rng = as_generator(rng)
        device = device if isinstance(device, DeviceModel) else load_device(device)
        self.network = network
        self.layers = [CrossbarThresholdLayer(layer, device, config, rng, replicas=replicas) for layer in network.layers]
        self.device = device
        self.replicas = self.layers[0].replicas

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in self.network.sizes)
        extra = f", {self.replicas} replicas" if self.replicas > 1 else ""
        return f"CrossbarThresholdNetwork({sizes} on {self.device.name}{extra})"

    def forward(self, x, rng=None) -> np.ndarray:
        """Binary outputs: (batch, out) for ``replicas = 1`` ((out,) for one vector), else (batch, replicas, out)."""
        rng = as_generator(rng)
        xb = check_binary(x, self.network.n_inputs)
        single = xb.ndim == 1
        h = xb[None, :] if single else xb
        if h.ndim != 2:
            raise NeurosimError(f"inputs must have shape (batch, {self.network.n_inputs}) or ({self.network.n_inputs},), got {xb.shape}")
        for i, layer in enumerate(self.layers):
            h = layer.decide(layer.sums(h, rng), rng)  # (batch, replicas, units)
            if self.replicas == 1:
                h = h[:, 0, :]
        return h[0] if single else h

    def classify(self, x, rng=None, batch_size: int = 2000) -> np.ndarray:
        """Index of the output that fires (the winner of a winner-take-all output layer), (batch,). ``replicas = 1``."""
        if self.replicas != 1:
            raise NeurosimError("classify works on a single copy (replicas = 1)")
        rng = as_generator(rng)
        x = np.asarray(x)
        out = [np.argmax(self.forward(x[s : s + batch_size], rng), axis=1) for s in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.intp)
