"""ANN-to-SNN conversion onto crossbar arrays: integrate-and-fire networks read through the devices every step.

Conversion (Diehl et al. 2015, data-based normalisation; reset by subtraction
as in Rueckauer et al. 2017): a ReLU MLP with layers ``(W_l, b_l)`` becomes a
network of integrate-and-fire (IF) neurons with threshold 1, reset by
subtraction and no leak. ``lambda_l`` is the ``percentile``-th percentile
(99.9 by default) of layer ``l``'s activations on training data (all units and
samples, zeros included; ``max(z, 0)`` for the linear output layer) and
``lambda_0 = 1`` (inputs are intensities in [0, 1]); the spiking network uses
``W_l lambda_{l-1} / lambda_l`` and ``b_l / lambda_l``, so a neuron's firing
rate (spikes per step) approximates its normalised ANN activation, capped at 1.
Each step a neuron integrates its bias (a constant current) and the crossbar
read of the previous step's spikes of the layer below:

    v <- v + b + I;   v > 1  ->  spike, v <- v - 1.

Inputs (:class:`InputCoding`): ``POISSON`` spikes with probability = pixel
intensity per step (``intensity / dt_s`` Hz, 1000 Hz at full intensity with
the default 1 ms step), or ``RATE``: the intensities themselves applied to the
input rows by the DACs every step (a constant current, read with fresh noise
each step). The output is read (:class:`Readout`) as spike counts or as the
output neurons' accumulated membrane potential (``counts + v``: the total
input they integrated, since reset by subtraction keeps the overshoot).
Spikes need one step per layer to travel, so an L-layer network's output
sees the input from step L on.

Hardware: every weight matrix is one :class:`~neurosim.crossbar.CrossbarLayer`
(tiles, mapping, device variation and programming, ADC per tile as
configured). Each step every layer's crossbar is read with that step's spike
vector (spikes drive their rows at the full read voltage; input full scale
1), with a fresh read-noise draw per step, as on a chip. An ideal ADC
(``adc_bits=None``, the default) means the neurons integrate the column
currents of all tiles in analog.

Engines (:class:`Engine`): ``FUSED`` runs the Numba kernels of
:mod:`neurosim.convert.snn.kernels`: event-driven reads (only the rows of the
neurons that fired are summed, in float32; Poisson inputs that usually fire
are read by complement, the same sums with about five times fewer rows for
MNIST), chunks of samples in parallel threads, counter-based random numbers
(results do not depend on chunks or threads);
``NETWORK`` builds the same network with :mod:`neurosim.networks.spiking`,
whose :class:`~neurosim.networks.spiking.CrossbarConnection` connections call
:meth:`CrossbarLayer.forward` every step (the slower reference, and the way to
hand the network to brian2). With the same generator both engines fire the
same input spikes.
"""

import logging
import numbers
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import Enum

import numba
import numpy as np

from neurosim.convert.snn import kernels as snn_kernels
from neurosim.crossbar import CrossbarConfig, CrossbarLayer, DacMode
from neurosim.crossbar import kernels as core
from neurosim.device import DeviceModel, load_device
from neurosim.errors import NeurosimError
from neurosim.energy.counting import count_rows_numba, row_conductance_S
from neurosim.energy.estimate import estimate, shape_of
from neurosim.energy.runs import PREFIX as ENERGY_PREFIX
from neurosim.energy.runs import circuit_from_settings
from neurosim.energy.sums import AnalogSums
from neurosim.events import METRICS as EVENT_METRICS
from neurosim.events import EventCounts, total
from neurosim.events import metrics as event_metrics
from neurosim.networks.mlp import Activation, check_labels, check_params
from neurosim.progress import Progress
from neurosim.rng import as_generator
from neurosim.tasks import Task
from neurosim.validation import parse_enum
from neurosim.validation import real as _real
from neurosim.validation import whole

log = logging.getLogger(__name__)


class InputCoding(Enum):
    """How pixel intensities (in [0, 1]) enter the network."""

    #: Bernoulli spikes with probability = intensity per step (Poisson trains of ``intensity / dt_s`` Hz).
    POISSON = "poisson"
    #: The intensities applied to the input rows every step (constant current, fresh read noise each step).
    RATE = "rate"


class Readout(Enum):
    """How the class is read from the output layer."""

    #: Most output spikes (ties go to the lowest class index).
    SPIKES = "spikes"
    #: Largest accumulated membrane potential ``counts + v`` (the total input integrated).
    MEMBRANE = "membrane"


class Engine(Enum):
    """Which simulator runs the network (see the module docstring)."""

    FUSED = "fused"
    NETWORK = "network"


@dataclass(frozen=True)
class SNNConfig:
    """Conversion and simulation settings of a converted spiking network."""

    #: Percentile (in (0, 100]) of each layer's training activations that becomes firing rate 1.
    percentile: float = 99.9
    input_coding: InputCoding = InputCoding.POISSON
    readout: Readout = Readout.MEMBRANE
    #: Time step (s): sets the Poisson rates (``intensity / dt_s`` Hz) and the times in the spiking network.
    dt_s: float = 1e-3
    #: Samples simulated together in one chunk (bounds memory; chunks run in parallel threads).
    batch_size: int = 1000
    #: Percentile of calibration conversions that sets a calibrated ADC's range (with ``adc_bits``).
    adc_percentile: float = 100.0
    engine: Engine = Engine.FUSED

    def __post_init__(self):
        _real("percentile", self.percentile, "a percentile in (0, 100]", lambda v: 0 < v <= 100)
        _real("adc_percentile", self.adc_percentile, "a percentile in (0, 100]", lambda v: 0 < v <= 100)
        _real("dt_s", self.dt_s, "a finite time step > 0 s", lambda v: v > 0)
        whole("batch_size", self.batch_size, 1, "a whole number of samples >= 1")
        for name, enum in (("input_coding", InputCoding), ("readout", Readout), ("engine", Engine)):
            object.__setattr__(self, name, parse_enum(enum, getattr(self, name), name))


# -- conversion ------------------------------------------------------------------------------------
def _unit_inputs(x, n_in: int, what: str) -> np.ndarray:
    """``x`` as a float64 (batch, n_in) array of intensities in [0, 1], or NeurosimError."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise NeurosimError(f"{what} must be a real numeric array, got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] != n_in:
        raise NeurosimError(f"{what} must have shape (samples, {n_in}) for a network with {n_in} inputs, got {a.shape}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.size and not np.isfinite(a).all():
        raise NeurosimError(f"{what} contains NaN or infinite values")
    if a.size and (a.min() < 0 or a.max() > 1):
        raise NeurosimError(
            f"{what} must be intensities in [0, 1] (spike probabilities per step), got values in [{a.min():.4g}, {a.max():.4g}]"
        )
    return a


def ann_activations(params, x) -> list:
    """Activations of every layer of a ReLU MLP for inputs ``x``: ReLU for hidden layers, the logits last."""
    out, h = [], np.asarray(x, dtype=np.float64)
    for i, (w, b) in enumerate(params):
        z = h @ np.asarray(w, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
        h = np.maximum(z, 0.0) if i < len(params) - 1 else z
        out.append(h)
    return out


@dataclass(frozen=True, eq=False)
class ConvertedSNN:
    """A ReLU MLP normalised for integrate-and-fire neurons with threshold 1.

    ``params``: the normalised ``(W, b)`` layers (float64, ``W (out, in)``);
    ``scales``: ``lambda_1 .. lambda_L``, the activation (ANN units) of each
    layer that fires at one spike per step; ``percentile``: where they came from.
    """

    params: tuple
    scales: tuple
    percentile: float

    @property
    def sizes(self) -> tuple:
        """Layer widths ``(inputs, hidden..., outputs)``."""
        return check_params(self.params)

    def rates(self, x) -> list:
        """Firing rates (spikes per step) the conversion aims at: normalised ANN activations clipped to [0, 1]."""
        x = _unit_inputs(x, self.sizes[0], "x")
        return [np.clip(a, 0.0, 1.0) for a in ann_activations(self.params, x)]


def convert_mlp(model, calibration_x, percentile: float = 99.9) -> ConvertedSNN:
    """Normalise a trained ReLU MLP for IF neurons (data-based, module docstring).

    ``model``: an :class:`~neurosim.networks.modelio.MLPModel`, its name or path,
    or a list of ``(W, b)`` layers (ReLU assumed). ``calibration_x``: prepared
    training inputs (samples, inputs), intensities in [0, 1].
    """
    from neurosim.convert.network import resolve_model
    from neurosim.networks.modelio import MLPModel

    if isinstance(model, (str, MLPModel)) or hasattr(model, "__fspath__"):
        model = resolve_model(model)
        if model.activation is not Activation.RELU:
            raise NeurosimError(
                f"ANN-to-SNN conversion needs ReLU hidden units (firing rates are non-negative); this model uses {model.activation.value}"
            )
        params = model.params
    else:
        params = list(model)
    sizes = check_params(params)
    _real("percentile", percentile, "a percentile in (0, 100]", lambda v: 0 < v <= 100)
    x = _unit_inputs(calibration_x, sizes[0], "calibration_x")
    if x.shape[0] == 0:
        raise NeurosimError("calibration_x is empty: give training inputs to set the per-layer scales")
    scales, previous, normalised = [], 1.0, []
    for i, (act, (w, b)) in enumerate(zip(ann_activations(params, x), params)):
        lam = float(np.percentile(np.maximum(act, 0.0), percentile))
        if not lam > 0:
            raise NeurosimError(
                f"layer {i} is silent on the calibration data ({percentile}th percentile of its activations is {lam}): "
                "cannot normalise it; give more or other calibration inputs, or a higher percentile"
            )
        normalised.append((np.asarray(w, dtype=np.float64) * (previous / lam), np.asarray(b, dtype=np.float64) / lam))
        scales.append(lam)
        previous = lam
    log.info("SNN conversion: layer scales %s (%gth percentile)", [f"{s:.4g}" for s in scales], percentile)
    return ConvertedSNN(tuple(normalised), tuple(scales), float(percentile))


#: Most time steps one run simulates (rate-coded conversions need tens to a few thousand).
MAX_STEPS = 100_000


def default_checkpoints(steps: int) -> tuple:
    """1-2-5 step counts below ``steps`` (from 10), then ``steps``: where accuracy is recorded by default."""
    whole("steps", steps, 1, f"a whole number of time steps from 1 to {MAX_STEPS}", high=MAX_STEPS)
    out, base = [], 10
    while base < steps:
        out += [c for c in (base, 2 * base, 5 * base) if c < steps]
        base *= 10
    return tuple(out) + (int(steps),)


def _checkpoints(checkpoints, steps) -> np.ndarray:
    whole("steps", steps, 1, f"a whole number of time steps from 1 to {MAX_STEPS}", high=MAX_STEPS)
    if checkpoints is None:
        return np.array(default_checkpoints(steps), np.int64)
    ck = list(checkpoints) if not isinstance(checkpoints, numbers.Integral) else [checkpoints]
    for c in ck:
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or not 1 <= c <= steps:
            raise NeurosimError(f"checkpoint {c!r} is not allowed: whole step counts in [1, steps = {steps}]")
    if not ck:
        raise NeurosimError("checkpoints is empty: give at least one step count")
    return np.unique(np.array(ck, np.int64))


# -- crossbar reads of spike events ------------------------------------------------------------------
#: Poisson inputs with a spike probability above this are read by complement (see :mod:`~neurosim.convert.snn.kernels`).
COMPLEMENT_ABOVE = 0.5


@dataclass(frozen=True, eq=False)
class ReadArrays:
    """A :class:`CrossbarLayer` as the event-driven read kernel sees it (weight units; see
    :func:`neurosim.convert.snn.kernels.read_numpy` for each array)."""

    #: (n_in, width) float32 rows: signal, then read-noise variances, then reference variances per column tile.
    rw: np.ndarray
    n_out: int
    has_var: bool
    has_common: bool
    #: First input of each pass and ``n_in``: the row tiles with a per-tile ADC, else ``[0, n_in]``.
    pass_start: np.ndarray
    #: First output of each column tile and ``n_out``.
    col_start: np.ndarray
    #: The crossbar core's read-out constants (:func:`~neurosim.crossbar.kernels.readout_constants_numpy`,
    #: float64): per conversion, or for the analog sum of all row tiles with an ideal ADC.
    consts: np.ndarray
    #: Row tiles of the layer.
    n_row_tiles: int

    @classmethod
    def from_layer(cls, layer: CrossbarLayer) -> "ReadArrays":
        """Read arrays of ``layer`` now (its devices at ``layer.t_s``, its calibrated ADC)."""
        cfg = layer.config
        if cfg.dac_mode is not DacMode.LEVELS:
            raise NeurosimError("the fused SNN engine reads with DacMode.LEVELS (a spike is one full-scale level); "
                                "use engine 'network' for bit-serial DACs")
        n_in, n_out = layer.in_features, layer.out_features
        n_rt, n_ct = len(layer.row_edges), len(layer.col_edges)
        sig = np.empty((n_in, n_out))
        var = np.zeros((n_in, n_out))
        varc = np.zeros((n_in, n_ct))
        has_var = has_common = False
        for r, (r0, r1) in enumerate(layer.row_edges):
            for c, (c0, c1) in enumerate(layer.col_edges):
                m = layer.tiles[r][c].read_matrices(layer.t_s, False, np.float64)
                sig[r0:r1, c0:c1] = m.signal
                if m.var is not None:
                    has_var = True
                    var[r0:r1, c0:c1] = m.var[:, : c1 - c0]
                    if m.has_reference:
                        has_common = True
                        varc[r0:r1, c] = m.var[:, -1]
        parts = [sig] + ([var] if has_var else []) + ([varc] if has_common else [])
        rw = np.ascontiguousarray(np.hstack(parts), dtype=np.float32)
        step, max_code = layer._adc(False)
        tile_start = [r0 for r0, _ in layer.row_edges] if step > 0 else [0]
        pass_start = np.array(tile_start + [n_in], np.int64)
        col_start = np.array([c0 for c0, _ in layer.col_edges] + [n_out], np.int64)
        out_var = (cfg.output_noise_frac * layer.weight_max * cfg.input_full_scale) ** 2
        summed = 1 if step > 0 else n_rt  # an ideal ADC reads the analog sum of every row tile's output noise
        consts = core.readout_constants_numpy(np.zeros(0), out_var * summed, step, max_code, 1.0)
        return cls(rw, n_out, has_var, has_common, pass_start, col_start, consts, n_rt)

    @property
    def noisy(self) -> bool:
        """Whether a read draws random numbers (read or output noise)."""
        return self.has_var or self.consts[1] > 0

    @property
    def n_in(self) -> int:
        """Inputs (rows) of the layer."""
        return self.rw.shape[0]

    @property
    def n_passes(self) -> int:
        """Passes over the rows per read (the row tiles with a per-tile ADC, else 1)."""
        return self.pass_start.size - 1

    @property
    def n_keys(self) -> int:
        """Streams of Gaussian draws per sample: one per pass and column tile."""
        return self.n_passes * (self.col_start.size - 1)

    @property
    def conversions_per_read(self) -> int:
        """Per-tile ADC conversions one read of one sample makes (0 with an ideal ADC)."""
        return self.n_row_tiles * self.n_out if self.consts[3] > 0 else 0

    def analog(self, x) -> np.ndarray:
        """The ``pre`` sums ``(B, passes, width)`` float32 of analog inputs ``x (B, n_in)`` (already through the DAC)."""
        x = np.asarray(x, dtype=np.float64)
        rw = self.rw.astype(np.float64)
        n, t = self.n_out, self.pass_start
        pre = np.empty((x.shape[0], t.size - 1, rw.shape[1]), np.float32)
        for r in range(t.size - 1):
            xr, w = x[:, t[r] : t[r + 1]], rw[t[r] : t[r + 1]]
            pre[:, r, :n] = xr @ w[:, :n]
            pre[:, r, n:] = (xr * xr) @ w[:, n:]
        return pre


class _Work:
    """Work arrays of the read kernel (one per layer and chunk)."""

    def __init__(self, ra: ReadArrays):
        cols = int(np.max(np.diff(ra.col_start)))
        self.acc = np.zeros(ra.rw.shape[1], np.float32)
        self.m = np.zeros(cols)
        self.v = np.zeros(cols + 1)
        self.z = np.zeros(cols + 2)
        self.work = np.zeros((2, cols))


_NO_PRE = np.zeros((0, 0, 0), np.float32)
_NO_IDX = np.zeros((0, 0), np.int32)
_NO_CNT = np.zeros(0, np.int32)


def read_events(ra: ReadArrays, idx, cnt, keys, rows, out, work=None, *, minus=None, pre=None, backend="numba") -> int:
    """One crossbar read into ``out (B, n_out)``: ``pre`` sums (or zero) plus the rows of the events
    ``idx``/``cnt`` minus the rows of the events ``minus = (nidx, ncnt)``, read out by the crossbar core with
    the draws of row ``rows[b]`` of the streams ``keys (B, ra.n_keys)``; returns ADC clips
    (see :func:`neurosim.convert.snn.kernels.read_numpy`)."""
    work = _Work(ra) if work is None else work
    nidx, ncnt = (_NO_IDX, _NO_CNT) if minus is None else minus
    kernel = snn_kernels.KERNELS[backend][2]
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    if keys.shape != (out.shape[0], ra.n_keys):
        raise NeurosimError(f"keys must have shape (batch, {ra.n_keys}) (one stream per pass and column tile), got {keys.shape}")
    rows = np.broadcast_to(np.asarray(rows, dtype=np.int64), (out.shape[0],))
    return kernel(idx, cnt, nidx, ncnt, _NO_PRE if pre is None else pre, ra.rw, ra.n_out, ra.has_var, ra.has_common,
                  ra.pass_start, ra.col_start, ra.consts, keys, rows, out, work.acc, work.m, work.v, work.z,
                  work.work)


def spike_read(layer: CrossbarLayer, backend: str = "numba"):
    """A ``read(spikes, rng) -> outputs`` callable for dense 0/1 spike arrays ``(B, in)``: the event-driven
    read of ``layer`` (its state now), in output units. Usable as a DenseConnection ``read`` hook.

    It draws the keys as :meth:`CrossbarLayer.forward` does (one per tile from ``rng``, sample ``b`` on
    row ``b``): with a per-tile ADC, or one row tile, it makes the same draws as ``layer.forward(spikes, rng)``.
    """
    ra = ReadArrays.from_layer(layer)
    work = _Work(ra)

    def read(spikes, rng):
        s = np.asarray(spikes)
        if s.ndim != 2 or s.shape[1] != ra.n_in:
            raise NeurosimError(f"spikes must be (batch, {ra.n_in}), got {s.shape}")
        if np.any((s != 0) & (s != 1)):
            raise NeurosimError("spikes must be 0 or 1")
        idx, cnt = events_from_dense(s)
        rng = as_generator(rng)
        n_tiles = ra.n_row_tiles * (ra.col_start.size - 1)
        tile_keys = rng.integers(0, 2**64, size=n_tiles, dtype=np.uint64) if ra.noisy else np.zeros(n_tiles, np.uint64)
        keys = np.broadcast_to(tile_keys[: ra.n_keys], (s.shape[0], ra.n_keys))
        out = np.zeros((s.shape[0], ra.n_out))
        read_events(ra, idx, cnt, keys, np.arange(s.shape[0]), out, work, backend=backend)
        return out

    return read


def events_from_dense(spikes) -> tuple:
    """Event lists ``(idx (B, n) int32, cnt (B,) int32)`` of a dense 0/1 array ``(B, n)``."""
    s = np.asarray(spikes) != 0
    cnt = np.count_nonzero(s, axis=1).astype(np.int32)
    idx = np.zeros(s.shape, np.int32)
    rows, cols = np.nonzero(s)
    idx[rows, np.arange(rows.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)] = cols
    return idx, cnt


# -- results -----------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SNNRun:
    """What a run of a converted network produced, recorded at each checkpoint.

    ``counts (N, K, n_out)``: output spikes in the first ``checkpoints[k]`` steps;
    ``potential (N, K, n_out)``: the output neurons' membrane potentials then
    (normalised: threshold 1); ``layer_spikes (N, L)``: spikes of each layer
    (hidden..., output) over the run; ``input_spikes (N,)``: input spikes (Poisson coding);
    ``adc_clipped``/``adc_conversions``: per-tile ADC conversions that clipped, and all made (none counted
    with an ideal ADC); ``layer_events``: each layer's read events (:class:`~neurosim.events.EventCounts`;
    a read drives the rows of the spikes of the layer below, or of the input intensities; ideal ADCs
    counted), one read per sample and step as the engine made them: the fused engine skips the last
    step's reads (no neuron sees them: ``steps - 1`` reads), the network engine reads every step.
    """

    checkpoints: np.ndarray
    counts: np.ndarray
    potential: np.ndarray
    layer_spikes: np.ndarray
    input_spikes: np.ndarray
    steps: int
    dt_s: float
    #: Layer widths ``(inputs, hidden..., outputs)``.
    sizes: tuple = ()
    adc_clipped: int = 0
    adc_conversions: int = 0
    layer_events: tuple = ()
    #: Each layer's read conductance sums (:class:`~neurosim.energy.sums.AnalogSums`), for the reads ``layer_events`` counts.
    layer_sums: tuple = ()

    @property
    def events(self) -> EventCounts:
        """The run's read events summed over the layers."""
        return total(self.layer_events)

    def scores(self, readout=Readout.SPIKES) -> np.ndarray:
        """Per-class scores ``(N, K, n_out)``: spike counts, or accumulated membrane potential ``counts + v``."""
        readout = parse_enum(Readout, readout, "readout")
        return self.counts.astype(np.float64) if readout is Readout.SPIKES else self.counts + self.potential

    def predictions(self, readout=Readout.SPIKES) -> np.ndarray:
        """Predicted class ``(N, K)`` at every checkpoint."""
        return np.argmax(self.scores(readout), axis=2)

    def accuracy(self, labels, readout=Readout.SPIKES) -> np.ndarray:
        """Fraction of samples classified as ``labels`` at every checkpoint ``(K,)``."""
        y = check_labels(labels, self.counts.shape[0], self.sizes[-1])
        return np.mean(self.predictions(readout) == y[:, None], axis=0)

    def rates(self) -> np.ndarray:
        """Mean firing rate of each layer (hidden..., output) over the run, in spikes per neuron per step ``(L,)``;
        divide by ``dt_s`` for Hz."""
        return self.layer_spikes.mean(axis=0) / (np.asarray(self.sizes[1:], dtype=float) * self.steps)

    @property
    def adc_clip_fraction(self) -> float:
        """Fraction of per-tile ADC conversions that clipped."""
        return self.adc_clipped / self.adc_conversions if self.adc_conversions else 0.0


# -- the network on crossbars ------------------------------------------------------------------------
class CrossbarSNN:
    """A converted spiking network whose weight matrices are crossbar arrays of ``device``.

    ``converted``: a :class:`ConvertedSNN`; ``device``: card name, path or
    :class:`~neurosim.device.DeviceModel`; ``crossbar``: a
    :class:`~neurosim.crossbar.CrossbarConfig` (its ``input_full_scale`` is set
    to 1: a spike or a full-intensity pixel is the full read voltage);
    ``config``: an :class:`SNNConfig`. ``rng`` draws device variation and
    programming noise (and the spike samples that calibrate ADC ranges, when
    ``crossbar.adc_bits`` is set without ``adc_range``: ``calibration_x`` are then
    needed, prepared training inputs).
    """

    def __init__(self, converted: ConvertedSNN, device, crossbar: CrossbarConfig | None = None,
                 config: SNNConfig | None = None, *, rng=None, calibration_x=None):
        if not isinstance(converted, ConvertedSNN):
            raise NeurosimError(f"converted must be a ConvertedSNN (see convert_mlp), got {type(converted).__name__}")
        self.converted = converted
        self.config = SNNConfig() if config is None else config
        if not isinstance(self.config, SNNConfig):
            raise NeurosimError(f"config must be an SNNConfig, got {type(self.config).__name__}")
        crossbar = CrossbarConfig() if crossbar is None else crossbar
        if not isinstance(crossbar, CrossbarConfig):
            raise NeurosimError(f"crossbar must be a CrossbarConfig, got {type(crossbar).__name__}")
        self.device = device if isinstance(device, DeviceModel) else load_device(device)
        self.crossbar = replace(crossbar, input_full_scale=1.0)
        rng = as_generator(rng)
        self.layers = [CrossbarLayer(w, self.device, self.crossbar, rng) for w, _ in converted.params]
        self.biases = [np.ascontiguousarray(b, dtype=np.float64) for _, b in converted.params]
        if self.crossbar.adc_bits is not None and self.crossbar.adc_range is None:
            if calibration_x is None:
                raise NeurosimError("crossbar.adc_bits without adc_range: give calibration_x (training inputs) to calibrate the ADCs")
            self.calibrate_adc(calibration_x, rng)
        self._arrays = None

    @classmethod
    def from_model(cls, model, device, crossbar=None, config=None, *, calibration_images=None, rng=None) -> "CrossbarSNN":
        """Convert a trained model (name, path or MLPModel) and program it onto ``device``.

        ``calibration_images``: raw training images for the normalisation and
        the ADC ranges (default: the 1,000 shipped calibration images).
        """
        from neurosim.convert.network import resolve_model
        from neurosim.data.calibration import calibration_images as shipped

        model = resolve_model(model)
        config = SNNConfig() if config is None else config
        images = shipped()[0] if calibration_images is None else calibration_images
        x = model.prepare(images)
        converted = convert_mlp(model, x, config.percentile)
        return cls(converted, device, crossbar, config, rng=rng, calibration_x=x)

    @property
    def sizes(self) -> tuple:
        """Layer widths ``(inputs, hidden..., outputs)``."""
        return self.converted.sizes

    def calibrate_adc(self, calibration_x, rng=None) -> list:
        """Set every layer's ADC range on spike vectors like the ones it will read.

        Layer 0 reads Bernoulli samples of the calibration inputs (or the
        intensities themselves with rate coding); layer ``l`` reads Bernoulli
        samples of layer ``l - 1``'s target rates (its normalised ANN
        activations). Returns the ranges set.
        """
        rng = as_generator(rng)
        rates = self.converted.rates(calibration_x)
        x = _unit_inputs(calibration_x, self.sizes[0], "calibration_x")
        sources = [x] + rates[:-1]
        ranges = []
        for i, (layer, p) in enumerate(zip(self.layers, sources)):
            analog = i == 0 and self.config.input_coding is InputCoding.RATE
            sample = p if analog else (rng.random(p.shape) < p).astype(np.float64)
            ranges.append(layer.calibrate_adc(sample, percentile=self.config.adc_percentile)["forward"])
        self._arrays = None
        return ranges

    def drift_to(self, t_s: float) -> None:
        """Read every layer's devices ``t_s`` seconds after programming from now on."""
        for layer in self.layers:
            layer.drift_to(t_s)
        self._arrays = None

    def read_arrays(self) -> list:
        """The :class:`ReadArrays` of every layer (rebuilt after :meth:`drift_to` or calibration)."""
        if self._arrays is None:
            self._arrays = [ReadArrays.from_layer(layer) for layer in self.layers]
        return self._arrays

    # -- running -------------------------------------------------------------------------------
    def run(self, x, steps: int, *, rng=None, checkpoints=None, engine=None, threads: int | None = None,
            backend: str = "numba") -> SNNRun:
        """Simulate inputs ``x`` (samples, inputs; intensities in [0, 1]) for ``steps`` time steps.

        ``checkpoints``: step counts at which the output is recorded (default
        :func:`default_checkpoints`). ``rng``: generator or seed for the input
        spikes and the read noise. ``engine``: :class:`Engine` (default the
        config's). ``threads``: chunks run in parallel (fused engine; default
        Numba's thread count). ``backend``: ``"numba"`` or ``"numpy"`` (the
        kernels' reference twins; fused engine).
        """
        x = _unit_inputs(x, self.sizes[0], "x")
        ck = _checkpoints(checkpoints, steps)
        engine = self.config.engine if engine is None else parse_enum(Engine, engine, "engine")
        if backend not in snn_kernels.KERNELS:
            raise NeurosimError(f"backend = {backend!r} is not allowed: one of {sorted(snn_kernels.KERNELS)}")
        n_threads = numba.get_num_threads() if threads is None else threads
        whole("threads", n_threads, 1, "a number of threads >= 1")
        rng = as_generator(rng)
        n, n_out, n_layers = x.shape[0], self.sizes[-1], len(self.layers)
        out = {
            "counts": np.zeros((n, ck.size, n_out), np.int32),
            "potential": np.zeros((n, ck.size, n_out)),
            "layer_spikes": np.zeros((n, n_layers), np.int64),
            "input_spikes": np.zeros(n, np.int64),
        }
        bs = self.config.batch_size
        chunks = [(s, min(s + bs, n)) for s in range(0, n, bs)]
        clips = np.zeros(2, np.int64)
        reads = np.zeros((n_layers, 4), np.int64)  # per layer: DAC, ADC conversions, cell reads, tile reads
        v2g = np.zeros(n_layers)  # per layer: the reads' sum (v / V_full)^2 G (S)
        bar = Progress(n, f"snn {steps} steps", "sample")
        log.info("SNN run: %d samples x %d steps, %s engine, %d chunk(s)", n, steps, engine.value, len(chunks))
        try:
            if engine is Engine.NETWORK:
                for a, b in chunks:
                    got_clips, got_reads, got_v2g = self._run_network(x[a:b], steps, ck, rng,
                                                                      {k: v[a:b] for k, v in out.items()})  # fmt: skip
                    clips += got_clips
                    reads += got_reads
                    v2g += got_v2g
                    bar.update(n=b - a)
            else:
                arrays = self.read_arrays()
                seeds = rng.integers(0, 2**64, size=n, dtype=np.uint64)
                keys = rng.integers(0, 2**64, size=(n, sum(ra.n_keys for ra in arrays)), dtype=np.uint64)
                kernels = snn_kernels.KERNELS[backend]

                def work(chunk):
                    a, b = chunk
                    got = self._run_fused(arrays, kernels, x[a:b], seeds[a:b], keys[a:b], steps, ck,
                                          {k: v[a:b] for k, v in out.items()})
                    bar.update(n=b - a)
                    return got

                if n_threads == 1 or len(chunks) == 1:
                    results = [work(c) for c in chunks]
                else:
                    with ThreadPoolExecutor(min(n_threads, len(chunks))) as pool:
                        results = list(pool.map(work, chunks))
                for got_clipped, got_conversions, got_reads, got_v2g in results:
                    clips += (got_clipped, got_conversions)
                    reads += got_reads
                    v2g += got_v2g
        finally:
            bar.close()
        layer_events = tuple(EventCounts.from_counts(dac_conversions=r[0], adc_conversions=r[1], cell_reads=r[2],
                                                     tile_reads=r[3]) for r in reads)  # fmt: skip
        return SNNRun(ck, out["counts"], out["potential"], out["layer_spikes"], out["input_spikes"], int(steps),
                      self.config.dt_s, tuple(self.sizes), int(clips[0]), int(clips[1]), layer_events,
                      tuple(AnalogSums(read_v2g_S=float(v)) for v in v2g))

    def _run_fused(self, arrays, kernels, x, seeds, keys, steps, ck, out) -> tuple:
        poisson, if_update, read = kernels
        b, sizes = x.shape[0], self.sizes
        widths = sizes[1:]
        v = [np.zeros((b, w)) for w in widths]
        ref = [np.zeros((b, w), np.int32) for w in widths]
        cur = [np.zeros((b, w)) for w in widths]
        idx = [np.zeros((b, w), np.int32) for w in widths]
        cnt = [np.zeros(b, np.int32) for _ in widths]
        counts = [np.zeros((b, w), np.int64) for w in widths]
        works = [_Work(ra) for ra in arrays]
        key_off = np.concatenate([[0], np.cumsum([ra.n_keys for ra in arrays])]).astype(np.int64)
        layer_keys = [np.ascontiguousarray(keys[:, key_off[l] : key_off[l + 1]]) for l in range(len(arrays))]
        step_row = np.zeros(b, np.int64)
        drive = np.zeros(max(widths))
        fire = np.zeros((max(widths) // 8 + 1) * 8, np.bool_)
        fire_words = fire.view(np.uint64)
        in_idx = np.zeros((b, sizes[0]), np.int32)
        in_cnt = np.zeros(b, np.int32)
        minus = (_NO_IDX, _NO_CNT)
        pre = _NO_PRE
        poisson_coding = self.config.input_coding is InputCoding.POISSON
        if poisson_coding:
            dt = self.config.dt_s
            p = (x / dt) * dt  # the probabilities a PoissonInput of rate x / dt_s uses, to the last bit
            high = p > COMPLEMENT_ABOVE  # read by complement; p == 1 always fires and is never drawn
            drawn = (p > 0) & (p < 1)
            nz_cnt = np.count_nonzero(drawn, axis=1).astype(np.int32)
            order = np.argsort(~drawn, axis=1, kind="stable")[:, : max(int(nz_cnt.max(initial=0)), 1)]
            nz_idx = np.ascontiguousarray(order, dtype=np.int32)
            nz_thr = snn_kernels.spike_thresholds(np.take_along_axis(p, order, axis=1))
            nz_high = np.ascontiguousarray(np.take_along_axis(high, order, axis=1), dtype=np.uint8)
            sure = np.count_nonzero(p >= 1, axis=1)
            high_drawn = np.count_nonzero(high & drawn, axis=1)
            pre = arrays[0].analog(high.astype(np.float64))
            minus = (np.zeros((b, sizes[0]), np.int32), np.zeros(b, np.int32))
        else:
            levels = 0 if self.crossbar.dac_bits is None else 2**self.crossbar.dac_bits - 1
            applied, squares = np.empty_like(x), np.empty_like(x)
            nonzero = np.zeros(x.shape[1], np.int64)
            core.dac_levels_numpy(x, 1.0, levels, applied, squares, nonzero)
            pre = arrays[0].analog(applied)
            rate_driven = int(nonzero.sum())  # input rows driven by every read of the intensities
        clipped = conversions = 0
        driven = np.zeros(len(widths), np.int64)  # driven rows summed over the reads, per layer
        drives = [np.zeros(n, np.int64) for n in sizes[:-1]]  # reads that drove each input row, per layer
        silent = np.zeros(sizes[0], np.int64)  # Poisson coding: reads in which a high row (read by complement) was silent
        k = 0
        for s in range(steps):
            for l in range(len(widths)):
                if_update(v[l], ref[l], cur[l], self.biases[l], idx[l], cnt[l], counts[l], drive, fire, fire_words)
            while k < ck.size and ck[k] == s + 1:
                out["counts"][:, k] = counts[-1]
                out["potential"][:, k] = v[-1]
                k += 1
            if poisson_coding:
                poisson(seeds, nz_idx, nz_thr, nz_high, nz_cnt, s, sizes[0], in_idx, in_cnt, minus[0], minus[1])
                out["input_spikes"] += in_cnt + (high_drawn - minus[1]) + sure
            if s == steps - 1:
                break  # reads of the last step's spikes would only drive step ``steps``
            step_row[:] = s  # the read at step s takes row s of each sample's streams
            if poisson_coding:  # the rows of the input spikes (the complement trick reads fewer, the chip drives these)
                driven[0] += int(in_cnt.sum()) + int((high_drawn - minus[1]).sum()) + int(sure.sum())
            else:
                driven[0] += rate_driven
            for l in range(1, len(widths)):
                driven[l] += int(cnt[l - 1].sum())
                count_rows_numba(idx[l - 1], cnt[l - 1], drives[l])
            if poisson_coding:  # the low rows that fired, and the high rows that did not
                count_rows_numba(in_idx, in_cnt, drives[0])
                count_rows_numba(minus[0], minus[1], silent)
            for l, ra in enumerate(arrays):
                src_idx, src_cnt = (in_idx, in_cnt) if l == 0 else (idx[l - 1], cnt[l - 1])
                nidx, ncnt = minus if l == 0 else (_NO_IDX, _NO_CNT)
                w = works[l]
                clipped += read(src_idx, src_cnt, nidx, ncnt, pre if l == 0 else _NO_PRE, ra.rw, ra.n_out,
                                ra.has_var, ra.has_common, ra.pass_start, ra.col_start, ra.consts, layer_keys[l],
                                step_row, cur[l], w.acc, w.m, w.v, w.z, w.work)
                conversions += b * ra.conversions_per_read
        for l in range(len(widths)):
            out["layer_spikes"][:, l] = counts[l].sum(axis=1)
        n_reads = b * max(steps - 1, 0)  # reads per layer: every step but the last, every sample
        row_g = [row_conductance_S(layer) for layer in self.layers]
        if poisson_coding:  # a high row drives every read it is not silent in (a row with p >= 1: every read)
            drives[0] += max(steps - 1, 0) * np.count_nonzero(high, axis=0) - silent
            v2g = [float(d @ g) for d, g in zip(drives, row_g)]  # spikes are full-scale inputs
        else:  # the same applied intensities at every read
            v2g = [max(steps - 1, 0) * float(squares.sum(axis=0) @ row_g[0])] + [
                float(d @ g) for d, g in zip(drives[1:], row_g[1:])]  # fmt: skip
        reads = np.array([[n_reads * layer.in_features, n_reads * layer.out_features * len(layer.row_edges),
                           driven[l] * layer.devices_per_driven_row,
                           n_reads * len(layer.row_edges) * len(layer.col_edges)]
                          for l, layer in enumerate(self.layers)], np.int64)  # fmt: skip
        return clipped, conversions, reads, np.array(v2g)

    # -- the same network in the spiking simulator ---------------------------------------------
    def network(self, x, *, input_trains=None, monitors: bool = True):
        """The network for inputs ``x`` (a batch) as a :class:`neurosim.networks.spiking.Network`.

        Neuron group ``layer{l}`` (IF, threshold 1 V, reset by subtraction to
        0 V) integrates the column current of crossbar ``l``: its capacitance
        is ``I_unit dt_s / 1 V`` with ``I_unit`` the layer's
        :attr:`~CrossbarLayer.current_per_output_A`, so one output unit held
        for one step moves ``v`` by 1 V; biases are constant currents
        ``b I_unit``. Each :class:`~neurosim.networks.spiking.CrossbarConnection`
        feeds the direct channel (a current lasting one step) with
        :meth:`CrossbarLayer.forward` of the step's spikes (fresh read noise
        every step); :meth:`Network.to_brian2` exports the devices' noise-free
        weights. With rate coding layer 0 is a :class:`DenseConnection` whose
        ``read`` hook applies the intensities instead of the input spikes. Inputs: a ``PoissonInput`` named
        ``input`` (rates ``x / dt_s``, give them to ``run`` as ``rate_Hz``), or
        with ``input_trains = (sample, step, index)`` arrays a
        ``SpikeTrainInput`` firing exactly those spikes. With rate coding the
        input group is silent and the first read applies ``x`` every step.
        Monitors (``monitors=True``): ``out_spikes`` and ``out_state``
        (output layer). Returns ``(network, input_group, groups)``.
        """
        from neurosim.networks.spiking import (CrossbarConnection, DenseConnection, Network, NeuronGroup, NeuronModel,
                                               NeuronParams, PoissonInput, Reset, SpikeMonitor, SpikeTrainInput, StateMonitor)

        x = _unit_inputs(x, self.sizes[0], "x")
        dt = self.config.dt_s
        rate_coding = self.config.input_coding is InputCoding.RATE
        if input_trains is not None:
            if rate_coding:
                raise NeurosimError("input_trains are spikes: only with Poisson input coding")
            sample, step, index = (np.asarray(a) for a in input_trains)
            source = SpikeTrainInput(self.sizes[0], index.astype(np.int64), step * dt, samples=sample.astype(np.int64), name="input")
        else:
            source = PoissonInput(self.sizes[0], 0.0 if rate_coding else x / dt, name="input")
        objects, groups, previous = [], [], source
        for l, (layer, bias) in enumerate(zip(self.layers, self.biases)):
            unit = layer.current_per_output_A
            params = NeuronParams(model=NeuronModel.IF, c_m_F=unit * dt / 1.0, v_th_V=1.0, v_reset_V=0.0,
                                  reset=Reset.SUBTRACT, t_ref_s=0.0)
            group = NeuronGroup(layer.out_features, params, name=f"layer{l}", v_init_V=0.0, i_ext_A=bias * unit)

            if l == 0 and rate_coding:  # the intensities, not the (silent) input spikes, drive the rows

                def read(spikes, rng, layer=layer, unit=unit):
                    return layer.forward(x, rng) * unit

                weights = layer.effective_weights(include_wires=layer.config.wire is not None) * unit
                objects.append(DenseConnection(previous, group, weights, read=read, channel=None, name=f"crossbar{l}"))
            else:
                objects.append(CrossbarConnection(previous, group, layer, scale_A=unit, channel=None, name=f"crossbar{l}"))
            groups.append(group)
            previous = group
        if monitors:
            objects += [SpikeMonitor(groups[-1], name="out_spikes"), StateMonitor(groups[-1], name="out_state")]
        return Network(objects, dt_s=dt), source, groups

    def _run_network(self, x, steps, ck, rng, out) -> np.ndarray:
        net, source, groups = self.network(x)
        for layer in self.layers:
            layer.reset_clip_counts()  # the reads' events of this chunk: its layers' read counts
        res = net.run(steps * self.config.dt_s, rng=rng, batch=x.shape[0])
        rec = res["out_spikes"]
        state = res["out_state"]
        n_out = self.sizes[-1]
        for k, t in enumerate(ck):
            keep = rec.step < t
            out["counts"][:, k] = np.bincount(rec.sample[keep] * n_out + rec.neuron[keep], minlength=x.shape[0] * n_out).reshape(-1, n_out)
            out["potential"][:, k] = state.v_V[:, t] if t < steps else res.v_final_V[groups[-1].name]
        for l, g in enumerate(groups):
            out["layer_spikes"][:, l] = res.counts[g.name].sum(axis=1)
        if self.config.input_coding is InputCoding.POISSON:
            out["input_spikes"][:] = res.counts[source.name].sum(axis=1)
        counts = [layer.clip_counts for layer in self.layers]
        reads = np.array([[c.dac_inputs, c.adc_conversions, c.cell_reads, c.tile_reads] for c in counts], np.int64)
        adc = self.crossbar.adc_bits is not None
        clips = np.array([sum(c.adc_clipped for c in counts), sum(c.adc_conversions for c in counts)]) if adc else np.zeros(2, np.int64)
        return clips, reads, np.array([layer.read_v2g_S for layer in self.layers])


# -- experiments: accuracy against time steps ------------------------------------------------------
_PLAIN = {"model", "device", "steps", "checkpoints", "input", "readout", "percentile", "test_images", "batch_size",
          "engine", "adc_percentile", "on_off_ratio", "t_s", "circuit"}
_GROUPS = ["device", "crossbar", "wire", "circuit"]


def resolve_settings(settings: dict):
    """``(model, device, crossbar config, SNN config, plain settings)`` for flat settings.

    Plain keys: ``model`` (default ``mlp784``), ``device`` (default
    ``sige_epiram``), ``steps`` (default 100), ``checkpoints`` (list of step
    counts; default :func:`default_checkpoints`), ``input`` (``poisson`` or
    ``rate``), ``readout`` (``membrane`` or ``spikes``: the one reported as
    ``accuracy``), ``percentile``, ``test_images`` (first N MNIST test images;
    default all), ``batch_size``, ``engine``, ``adc_percentile``,
    ``on_off_ratio``, ``t_s`` (read this long after programming). Dotted keys
    as for the ``evaluate`` task: ``device.<DeviceModel field>`` (e.g.
    ``device.read_noise_frac``), ``crossbar.<CrossbarConfig field>``,
    ``wire.<WireConfig field>``.
    """
    from neurosim.convert.evaluate import resolve as resolve_hardware
    from neurosim.settings import split_settings

    plain, _ = split_settings(settings, _PLAIN, _GROUPS)
    hardware = {k: v for k, v in settings.items() if "." in k or k in ("model", "device", "on_off_ratio", "t_s", "circuit")}
    model, device, crossbar, _ = resolve_hardware(hardware)
    if _is_cnn(model) and plain.get("engine", "fused") != "fused":
        raise NeurosimError("engine = 'network' is for MLPs; a CNN runs on its own engine (leave engine out)")
    if not _is_cnn(model) and model.activation is not Activation.RELU:
        raise NeurosimError(f"ANN-to-SNN conversion needs a ReLU model; {plain.get('model', 'mlp784')} uses {model.activation.value}")
    options = {"percentile": plain.get("percentile", 99.9), "batch_size": plain.get("batch_size", 1000),
               "adc_percentile": plain.get("adc_percentile", 100.0)}
    for key, name in (("input", "input_coding"), ("readout", "readout"), ("engine", "engine")):
        if key in plain:
            options[name] = plain[key]
    config = SNNConfig(**options)
    steps = plain.get("steps", 100)
    whole("steps", steps, 1, f"a whole number of time steps from 1 to {MAX_STEPS}", high=MAX_STEPS)
    _checkpoints(plain.get("checkpoints"), steps)
    n_test = plain.get("test_images")
    if n_test is not None:
        whole("test_images", n_test, 1, "a whole number of test images >= 1")
    return model, device, crossbar, config, plain


def _is_cnn(model) -> bool:
    """Whether a resolved model has convolution layers (it then converts with :mod:`neurosim.convert.snn.cnn`)."""
    from neurosim.networks.layers import Conv2d

    return any(isinstance(layer, Conv2d) for layer in model.layers)


def _test_set(model):
    from neurosim.data import load_mnist

    images, labels = load_mnist("test")
    return model.prepare(images), labels


def accuracy_vs_steps(settings: dict, rng=None) -> dict:
    """Convert, program, simulate the MNIST test images and score every checkpoint (see :func:`resolve_settings`).

    Returns flat metrics: ``accuracy`` (the configured readout after ``steps``),
    ``software_accuracy`` (the ANN on the same images), ``accuracy_spikes_<T>``
    and ``accuracy_membrane_<T>`` per checkpoint ``T``, mean firing rates
    (spikes per neuron per step) ``rate_input`` and ``rate_layer<l>``,
    ``adc_clip_fraction``, ``test_images``, ``steps`` and the run's read
    event totals ``events_<name>`` (:mod:`neurosim.events`).
    """
    metrics, run = simulate(settings, rng)
    return {**metrics, **event_metrics(run.events)}


def simulate(settings: dict, rng=None) -> tuple[dict, SNNRun]:
    """:func:`accuracy_vs_steps` without the event metrics, and the run (its per-layer events)."""
    from neurosim.data.calibration import calibration_images

    rng = as_generator(rng)
    model, device, crossbar, config, plain = resolve_settings(settings)
    x, y = _test_set(model)
    from neurosim.data import first_images

    x, y = first_images(x, y, plain.get("test_images"))
    n = len(y)
    steps = plain.get("steps", 100)
    calib = model.prepare(calibration_images()[0])
    if _is_cnn(model):  # a convolutional network runs on its own engine (neurosim.convert.snn.cnn)
        from neurosim.convert.snn.cnn import CrossbarCNNSNN, convert_cnn

        snn = CrossbarCNNSNN(convert_cnn(model.layers, calib, config.percentile), device, crossbar, rng=rng,
                             calibration_x=calib, input_coding=config.input_coding, readout=config.readout,
                             dt_s=config.dt_s, adc_percentile=config.adc_percentile)
    else:
        snn = CrossbarSNN(convert_mlp(model, calib, config.percentile), device, crossbar, config, rng=rng, calibration_x=calib)
    if plain.get("t_s"):
        snn.drift_to(float(plain["t_s"]))
    run = snn.run(x, steps, rng=rng, checkpoints=plain.get("checkpoints"))
    metrics = {"accuracy": float(run.accuracy(y, config.readout)[-1]), "software_accuracy": float(model.accuracy(x, y))}
    for readout in Readout:
        for t, acc in zip(run.checkpoints, run.accuracy(y, readout)):
            metrics[f"accuracy_{readout.value}_{int(t)}"] = float(acc)
    metrics["rate_input"] = float(run.input_spikes.mean() / (x.shape[1] * steps))
    for l, rate in enumerate(run.rates()):
        metrics[f"rate_layer{l}"] = float(rate)
    metrics.update({"adc_clip_fraction": run.adc_clip_fraction, "test_images": int(n), "steps": int(steps)})
    from neurosim.settings import split_settings

    card = circuit_from_settings(plain, split_settings(settings, _PLAIN, _GROUPS)[1]["circuit"])
    if card is not None:  # per test image: its reads over the run's steps, every neuron updated every step
        layers = [(e, sums, shape_of(layer), layer.out_features * steps * n)
                  for e, sums, layer in zip(run.layer_events, run.layer_sums, snn.layers)]  # fmt: skip
        metrics.update(estimate(layers, card, device).per(n).metrics(ENERGY_PREFIX))
    return metrics, run


def snn_point(settings: dict, rng: np.random.Generator) -> dict:
    """Sweep task (``task = "snn"``): :func:`accuracy_vs_steps` with the point's generator."""
    return accuracy_vs_steps(settings, rng)


def check_settings(settings: dict) -> None:
    """Raise :class:`NeurosimError` if ``settings`` cannot be run."""
    resolve_settings(settings)


#: The sweep task ``snn``.
TASK = Task(name="snn", run=snn_point, plain_settings=_PLAIN, setting_groups=_GROUPS, check=check_settings,
            metrics=("accuracy", "software_accuracy", "rate_input", "adc_clip_fraction", "test_images", "steps",
                     *EVENT_METRICS),
            metric_prefixes=("accuracy_membrane_", "accuracy_spikes_", "rate_layer", ENERGY_PREFIX),
            description="accuracy against time steps of a model converted to a spiking network on crossbars")
