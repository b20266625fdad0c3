"""The two trainable networks: one on device arrays, one in float (the software baseline).

Both hold their state in plain arrays that the training kernels update in
place, read a batch of inputs the way the training kernels read one image,
and turn their state into named arrays for checkpoints (and back).

:class:`DeviceNetwork` keeps each layer in :class:`~neurosim.device.DeviceArray`
objects (per-device conductance, window and curve rates, device-to-device
variation and faults drawn once when it is made), laid out like a crossbar
tile: the reference-column mapping has one ``(rows, cols + 1)`` array whose
last column holds the reference devices; the differential mapping has a
``plus`` and a ``minus`` array of ``(rows, cols)``. The arrays' rows are read
in tiles of ``config.crossbar.rows`` (each tile's partial sums digitised
separately, as a :class:`~neurosim.crossbar.CrossbarLayer` reads them). Reads
see the devices as they are now (``t_s = 0``: each write is a fresh
programming event, so drift, which counts from programming, does not apply
during training).
"""

import logging

import numpy as np

from neurosim.crossbar import mapping as mp
from neurosim.crossbar.config import Mapping
from neurosim.crossbar.wires import cell_conductance_S
from neurosim.crossbar.kernels import POLICY_CODES, dac_levels_numba, readout_numba
from neurosim.device import DeviceArray, DeviceModel, ReadNoise
from neurosim.errors import NeurosimError
from neurosim.energy.sums import AnalogSums
from neurosim.events import EventCounts
from neurosim.networks.insitu import kernels as K
from neurosim.networks.insitu.config import Backward, HiddenUpdate, InsituConfig, Optimizer, Protocol, PulseRounding
from neurosim.rng import as_generator

logger = logging.getLogger(__name__)

_ROUNDING = {PulseRounding.NEAREST: 0, PulseRounding.TRUNCATE: 1, PulseRounding.STOCHASTIC: 2}


def _adc(bits, full_scale):
    """(step, top code) of a symmetric ADC with ``2**(bits-1) - 1`` codes per polarity; (0, 0) if ideal."""
    if bits is None:
        return 0.0, 0
    max_code = 2 ** (bits - 1) - 1
    return float(full_scale) / max_code, max_code


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def initial_weights(config: InsituConfig, rng) -> tuple[np.ndarray, np.ndarray]:
    """Initial weights in array orientation, ``(inputs, hidden)`` and ``(hidden, outputs)``.

    Uniform in ``±init_weight_max``; under ``Protocol.NEUROSIM_V3`` one of the 7 levels
    ``k/3 x init_weight_max`` (``k = -3..3``), each equally likely (NeuroSim V3, ``Mapping.cpp`` 56-67).
    """
    rng = as_generator(rng)
    n_in, n_h, n_out = config.sizes
    m = config.init_weight_max
    if config.protocol is Protocol.NEUROSIM_V3:
        return tuple(rng.integers(-3, 4, shape) / 3.0 * m for shape in ((n_in, n_h), (n_h, n_out)))
    return rng.uniform(-m, m, (n_in, n_h)), rng.uniform(-m, m, (n_h, n_out))


def initial_targets(w, device: DeviceModel, config: InsituConfig) -> dict:
    """Conductance targets (S) of initial weights ``w`` by array role (``main``, or ``plus``/``minus``).

    The crossbar mapping's; under ``Protocol.NEUROSIM_V3`` the weight devices get
    ``(w + w_max) / (2 w_max) x (G_max - G_min)``, without ``G_min`` (NeuroSim V3's initial write,
    ``Array.cpp`` 178-187; the write clips to the window), the reference devices the mapping's midpoint.
    """
    xb = config.crossbar
    targets = mp.conductance_targets(w, device, xb.mapping, config.weight_max)
    if config.protocol is Protocol.NEUROSIM_V3:
        targets["main"][:, :-1] = (w + config.weight_max) / (2 * config.weight_max) * device.window_S
    return targets


def _dac_levels(config: InsituConfig) -> int:
    bits = config.crossbar.dac_bits
    return 0 if bits is None else 2**bits - 1


def _common_params(config: InsituConfig):
    """Integer and float kernel parameters that do not depend on the device."""
    n_in, n_h, n_out = config.sizes
    ip = np.zeros(K.IP_SIZE, dtype=np.int64)
    fp = np.zeros(K.FP_SIZE, dtype=np.float64)
    ip[K.IP_NIN], ip[K.IP_NH], ip[K.IP_NOUT] = n_in, n_h, n_out
    ip[K.IP_ROUND] = _ROUNDING[config.pulse_rounding]
    ip[K.IP_HIDDEN_UPDATE] = int(config.hidden_update is HiddenUpdate.THRESHOLDED)
    ip[K.IP_BACKWARD] = int(config.backward is Backward.TRANSPOSED_READ)
    ip[K.IP_MOMENTUM] = int(config.optimizer is Optimizer.MOMENTUM)
    ip[K.IP_THRESHOLD] = int(config.threshold_hidden)
    ip[K.IP_POLICY] = POLICY_CODES[config.pulse_policy.value]
    ip[K.IP_PROTOCOL] = int(config.protocol is Protocol.NEUROSIM_V3)
    fp[K.FP_LR1], fp[K.FP_LR2] = config.lr_hidden, config.lr_output
    fp[K.FP_MOMENTUM] = config.momentum if config.optimizer is Optimizer.MOMENTUM else 0.0
    fp[K.FP_THRESHOLD] = config.hidden_threshold
    xb = config.crossbar
    r1, r2, rb = config.adc_ranges()
    fp[K.FP_STEP1], fp[K.FP_MAX1] = _adc(xb.adc_bits, r1)
    fp[K.FP_STEP2], fp[K.FP_MAX2] = _adc(xb.adc_bits, r2)
    fp[K.FP_STEPB], fp[K.FP_MAXB] = _adc(xb.adc_bits, rb)
    fp[K.FP_OUT_VAR] = (xb.output_noise_frac * config.weight_max * xb.input_full_scale) ** 2
    fp[K.FP_WMAX] = config.weight_max
    ip[K.IP_TILE_ROWS] = xb.rows
    ip[K.IP_DAC_LEVELS] = _dac_levels(config)
    fp[K.FP_DAC_FS] = xb.input_full_scale
    fp[K.FP_R_SERIES] = xb.r_series_ohm
    return ip, fp


class FloatNetwork:
    """The software baseline: float weights in ``[-weight_max, weight_max]``, the same protocol as on devices.

    ``W1`` ``(inputs, hidden)`` and ``W2`` ``(hidden, outputs)`` are in array
    orientation (rows = inputs); :meth:`weights` gives the library's ``(out, in)``.
    The threshold and the ADC apply only if the config asks for them (the
    float baseline of :func:`~neurosim.networks.insitu.config.float_baseline_config` does not).
    """

    kind = "software"

    def __init__(self, config: InsituConfig, rng=None):
        self.config = config
        W1, W2 = initial_weights(config, rng)
        self.W1, self.W2 = W1.ravel().copy(), W2.ravel().copy()
        momentum = config.optimizer is Optimizer.MOMENTUM
        self.vel1 = np.zeros(self.W1.size if momentum else 0)
        self.vel2 = np.zeros(self.W2.size if momentum else 0)
        self.ip, self.fp = _common_params(config)

    def weights(self) -> list[np.ndarray]:
        """Weight matrices ``(out, in)`` of the two layers."""
        n_in, n_h, n_out = self.config.sizes
        return [self.W1.reshape(n_in, n_h).T.copy(), self.W2.reshape(n_h, n_out).T.copy()]

    def train_chunk(self, csr, labels, order, t0, stats, loss, backend="numba") -> None:
        """Train on the images ``order`` (in place); ``t0`` is unused (no random draws)."""
        fn = K.train_float_numba if backend == "numba" else K.train_float_numpy
        fn(*csr, labels, order, self.W1, self.W2, self.vel1, self.vel2, self.ip, self.fp, stats, loss)

    def forward(self, x, key=None) -> np.ndarray:
        """Outputs (ADC-coded if the config has an ADC) of the output layer for a batch ``x`` (n, inputs)."""
        n_in, n_h, n_out = self.config.sizes
        fp = self.fp
        z1, _ = K._adc_numpy(np.asarray(x, dtype=np.float64) @ self.W1.reshape(n_in, n_h), fp[K.FP_STEP1], fp[K.FP_MAX1])
        a1 = _sigmoid(z1)
        h = (a1 >= self.config.hidden_threshold).astype(np.float64) if self.config.threshold_hidden else a1
        z2, _ = K._adc_numpy(h @ self.W2.reshape(n_h, n_out), fp[K.FP_STEP2], fp[K.FP_MAX2])
        return z2

    def state_arrays(self) -> dict:
        return {"W1": self.W1.copy(), "W2": self.W2.copy(), "vel1": self.vel1.copy(), "vel2": self.vel2.copy()}

    def load_state_arrays(self, arrays) -> None:
        for name in ("W1", "W2", "vel1", "vel2"):
            current = getattr(self, name)
            value = np.asarray(arrays[name], dtype=np.float64)
            if value.shape != current.shape:
                raise NeurosimError(f"checkpoint array {name} has shape {value.shape}, expected {current.shape}")
            current[...] = value


class DeviceNetwork:
    """A 1-hidden-layer network whose weights are device conductances, trained by pulses.

    ``device`` is the :class:`~neurosim.device.DeviceModel`; ``rng`` draws the
    device-to-device variation and faults, the initial weights and their
    programming noise. ``arrays`` maps names (``"layer1.main"`` or
    ``"layer1.plus"``/``"layer1.minus"``, the same for ``layer2``) to the
    :class:`~neurosim.device.DeviceArray` objects, whose conductances the
    training kernels update in place.
    """

    kind = "device"

    def __init__(self, device: DeviceModel, config: InsituConfig, rng=None, *, _arrays=None):
        if not isinstance(device, DeviceModel):
            raise NeurosimError(f"device must be a DeviceModel, got {type(device).__name__}")
        self.device = device
        self.config = config
        xb = config.crossbar
        self.reference = xb.mapping is Mapping.REFERENCE_COLUMN
        n_in, n_h, n_out = config.sizes
        #: Siemens per weight unit (nominal window over the weight range of the mapping).
        self.k_S = mp.siemens_per_weight(device, xb.mapping, config.weight_max)
        rng = as_generator(rng)
        if _arrays is not None:
            self.arrays = _arrays
        else:
            self.arrays = {}
            for layer, (rows, cols) in (("layer1", (n_in, n_h)), ("layer2", (n_h, n_out))):
                if self.reference:
                    self.arrays[f"{layer}.main"] = DeviceArray(device, (rows, cols + 1), rng)
                else:
                    self.arrays[f"{layer}.plus"] = DeviceArray(device, (rows, cols), rng)
                    self.arrays[f"{layer}.minus"] = DeviceArray(device, (rows, cols), rng)
            for layer, w in zip(("layer1", "layer2"), initial_weights(config, rng)):
                for role, target in initial_targets(w, device, config).items():
                    self.arrays[f"{layer}.{role}"].program(
                        target, xb.program_method, rng, tol_frac=xb.write_verify_tol_frac
                    )
        momentum = config.optimizer is Optimizer.MOMENTUM
        self.vel1 = np.zeros(n_in * n_h if momentum else 0)
        self.vel2 = np.zeros(n_h * n_out if momentum else 0)
        self._prepare_kernel_args()

    @property
    def read_events(self) -> list[EventCounts]:
        """Per layer (hidden, output): the events of :meth:`forward` reads since the network was made or
        :meth:`reset_read_events` (definitions in :mod:`neurosim.events`; training reads and pulses are
        counted by the kernels in their ``stats``, :func:`~neurosim.networks.insitu.kernels.layer_events`)."""
        return [EventCounts.from_counts(dac_conversions=c[0], adc_conversions=c[1], cell_reads=c[2], tile_reads=c[3])
                for c in self._reads]  # fmt: skip

    @property
    def read_sums(self) -> list[AnalogSums]:
        """Per layer (hidden, output): the conductance sums of the reads :attr:`read_events` counts."""
        return [AnalogSums(read_v2g_S=float(v)) for v in self._v2g]

    def reset_read_events(self) -> None:
        """Set :attr:`read_events` (and :attr:`read_sums`) to zero."""
        self._reads[:] = 0
        self._v2g[:] = 0.0

    # -- kernel arguments ----------------------------------------------------------------------
    def _flat_and_params(self, name):
        """The array's writable flat state and its write parameters: six per-device arrays and the step table."""
        arr = self.arrays[name]
        return arr.state_buffer_S, (*arr.write_params[:6], arr.write_params[7])

    def _prepare_kernel_args(self):
        config, device = self.config, self.device
        n_in, n_h, n_out = config.sizes
        layers = []
        for layer in ("layer1", "layer2"):
            if self.reference:
                gA, PA = self._flat_and_params(f"{layer}.main")
                gB, PB = gA, PA
            else:
                gA, PA = self._flat_and_params(f"{layer}.plus")
                gB, PB = self._flat_and_params(f"{layer}.minus")
            layers += [gA, PA, gB, PB]
        self._layers = layers
        ip, fp = _common_params(config)
        ip[K.IP_REF] = int(self.reference)
        ip[K.IP_NOISY] = int(device.read_noise_frac > 0 or config.crossbar.output_noise_frac > 0)
        ip[K.IP_C2C] = int(device.c2c_sigma_frac > 0)
        fp[K.FP_C2C] = device.c2c_sigma_frac
        fp[K.FP_K] = self.k_S
        # weight change of one nominal (linear-equivalent) pulse of each direction
        fp[K.FP_DWP_LTP] = device.window_S / device.levels_ltp / self.k_S
        fp[K.FP_DWP_LTD] = device.window_S / device.levels_ltd / self.k_S
        # read noise (neurosim.device.noise.read_sigma_S): sigma = frac * G or frac * the model's G_max
        constant = device.read_noise is ReadNoise.CONSTANT
        fp[K.FP_READ_NOISE] = 0.0 if constant else device.read_noise_frac
        fp[K.FP_READ_SD] = device.read_noise_frac * device.g_max_S if constant else 0.0
        if config.protocol is Protocol.NEUROSIM_V3:
            if device.read_noise_frac > 0:
                raise NeurosimError(f"device.read_noise_frac = {device.read_noise_frac} is not allowed with "
                                    "protocol = neurosim_v3: 0 (its read-out is modelled without read noise)")  # fmt: skip
            # a cell's read current per volt at the window's ends, through its series resistance
            fp[K.FP_I_MAX], fp[K.FP_I_MIN] = (float(cell_conductance_S(g, fp[K.FP_R_SERIES]))
                                              for g in (device.g_max_S, device.g_min_S))  # fmt: skip
            bits = config.crossbar.adc_bits
            fp[K.FP_PSUM_LEVELS] = 0.0 if bits is None else 2.0**bits - 1
        self.ip, self.fp = ip, fp
        *offsets, n_dev = K.device_offsets(n_in, n_h, n_out, self.reference)
        self.offsets = np.array(offsets, dtype=np.int64)
        layout = K.counter_layout(n_in, n_h, n_out, n_dev, config.crossbar.rows)
        self.layout = np.array([layout[k] for k in K.LAYOUT_KEYS], dtype=np.int64)
        #: Forward-read counts per layer: DAC conversions, ADC conversions, cell reads, tile reads.
        self._reads = np.zeros((2, 4), dtype=np.int64)
        #: Forward reads' ``sum (v / V_full)^2 G`` per layer (S; :mod:`neurosim.energy.sums`).
        self._v2g = np.zeros(2)

    # -- training ------------------------------------------------------------------------------
    def train_chunk(self, csr, labels, order, t0, stats, loss, key, backend="numba") -> None:
        """Train on the images ``order`` in place; ``t0`` is the run counter of the first, ``key`` the run's stream."""
        fn = K.train_hw_numba if backend == "numba" else K.train_hw_numpy
        fn(
            *csr, labels, order, np.int64(t0), *self._layers, self.vel1, self.vel2,
            self.ip, self.fp, self.offsets, self.layout, np.uint64(key), stats, loss,
        )  # fmt: skip

    # -- reads -------------------------------------------------------------------------------
    def _pos_neg(self, layer: int):
        """The layer's (positive, negative) device conductances (S), as the cells read them (series resistance)."""
        n_in, n_h, n_out = self.config.sizes
        rows, cols = (n_in, n_h) if layer == 1 else (n_h, n_out)
        gA, _, gB, _ = self._layers[4 * (layer - 1) : 4 * layer]
        return (K._cell_g_numpy(g, self.fp) for g in K._layer_views(gA, gB, rows, cols, int(self.reference)))

    def weights(self) -> list[np.ndarray]:
        """Weights ``(out, in)`` the devices hold as the cells read them (noise-free, in weight units)."""
        out = []
        for layer in (1, 2):
            pos, neg = self._pos_neg(layer)
            out.append(((pos - neg) / self.k_S).T.copy())
        return out

    def _layer_read(self, x, layer: int, keys) -> np.ndarray:
        """A batch read of one layer with the training kernel's physics: DAC, tiles of
        ``crossbar.rows`` rows, read noise drawn at the output, a partial-sum ADC per tile
        (:func:`~neurosim.crossbar.kernels.readout_numba`, tile ``r`` keyed by ``keys[r]``: a stream
        of the batch read's own, not the kernel's per-image one), digital sum."""
        fp, k = self.fp, self.k_S
        gA, _, gB, _ = self._layers[4 * (layer - 1) : 4 * layer]
        if self.ip[K.IP_PROTOCOL] == 1:  # NeuroSim V3's read-out (binary inputs: no DAC)
            n_rows = x.shape[1]
            self._count_reads(layer, x, np.count_nonzero(x, axis=0), n_rows)
            self._v2g[layer - 1] += float(np.square(x).sum(axis=0) @ K._cell_g_numpy(gA.reshape(n_rows, -1), fp).sum(axis=1))
            return K._layer_read_v3_numpy(gA.reshape(n_rows, -1)[:, :-1], x, fp)
        pos, neg = self._pos_neg(layer)
        raw_pos, raw_neg = K._layer_views(gA, gB, pos.shape[0], pos.shape[1], int(self.reference))
        v, v2 = np.empty_like(x), np.empty_like(x)
        nonzero = np.zeros(x.shape[1], np.int64)
        dac_levels_numba(x, float(fp[K.FP_DAC_FS]), int(self.ip[K.IP_DAC_LEVELS]), v, v2, nonzero)
        cells = self.device.read_noise_frac > 0
        step = float(fp[K.FP_STEP1] if layer == 1 else fp[K.FP_STEP2])
        max_code = int(fp[K.FP_MAX1] if layer == 1 else fp[K.FP_MAX2])
        out = np.zeros((x.shape[0], pos.shape[1]))
        tile_rows = self.config.crossbar.rows
        for tile, r0 in enumerate(range(0, pos.shape[0], tile_rows)):
            rows = slice(r0, r0 + tile_rows)
            mean = v[:, rows] @ ((pos[rows] - neg[rows]) / k)
            var = np.empty((x.shape[0], 0))
            if cells:
                var_pos = v2[:, rows] @ (K._cell_var_numpy(raw_pos[rows], fp) / k**2)
                var_neg = v2[:, rows] @ (K._cell_var_numpy(raw_neg[rows], fp) / k**2)
                var = np.hstack([var_pos, var_neg]) if self.reference else var_pos + var_neg
            readout_numba(
                np.ascontiguousarray(mean), np.ascontiguousarray(var), bool(self.reference and cells),
                float(fp[K.FP_OUT_VAR]), step, max_code, 1.0, np.uint64(keys[tile]), out, 0,
            )  # fmt: skip
        self._count_reads(layer, x, nonzero, pos.shape[0])
        row_g = pos.sum(axis=1) + (neg[:, 0] if self.reference else neg.sum(axis=1))  # every device a row drives
        self._v2g[layer - 1] += float(v2.sum(axis=0) @ row_g) / float(fp[K.FP_DAC_FS]) ** 2
        return out

    def _count_reads(self, layer: int, x, nonzero, n_rows: int) -> None:
        """Add a batch read's events (DAC and ADC conversions, cell reads, tile reads) to ``layer``'s counts."""
        n_cols = self.config.sizes[layer]  # the layer's outputs
        n_tiles = -(-n_rows // self.config.crossbar.rows)
        row_devices = n_cols + 1 if self.reference else 2 * n_cols  # devices one driven row reads
        self._reads[layer - 1] += (x.size, x.shape[0] * n_cols * n_tiles, int(np.sum(nonzero)) * row_devices,
                                   x.shape[0] * n_tiles)  # fmt: skip

    def forward(self, x, key=0) -> np.ndarray:
        """Hardware forward pass of a batch ``x`` (n, inputs): the output layer's ADC-coded outputs.

        Each layer is a tiled crossbar read (:meth:`_layer_read`); the
        hidden layer's sigmoid outputs are thresholded (if the config says
        so) before driving the second layer. ``key`` (uint64) seeds the reads' noise.
        """
        x = np.ascontiguousarray(x, dtype=np.float64)
        n_reads = int(self.layout[K.L_READS])
        keys = np.random.SeedSequence([int(key)]).generate_state(n_reads, np.uint64)
        split = int(self.layout[K.L_OUTPUT_READS])
        a1 = _sigmoid(self._layer_read(x, 1, keys[:split]))
        h = (a1 >= self.config.hidden_threshold).astype(np.float64) if self.config.threshold_hidden else a1
        return self._layer_read(np.ascontiguousarray(h), 2, keys[split:])

    # -- persistence -----------------------------------------------------------------------------
    def state_arrays(self) -> dict:
        """Every device array's state (``NAME.KEY``) and the velocities."""
        out = {}
        for name, arr in self.arrays.items():
            for key, value in arr.state_arrays().items():
                out[f"{name}.{key}"] = value
        out["vel1"], out["vel2"] = self.vel1.copy(), self.vel2.copy()
        return out

    def load_state_arrays(self, arrays) -> None:
        """Restore a state written by :meth:`state_arrays` (same device, config and shapes)."""
        restored = {}
        for name, arr in self.arrays.items():
            prefix = f"{name}."
            state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            new = DeviceArray.from_state_arrays(self.device, state)
            if new.shape != arr.shape:
                raise NeurosimError(f"checkpoint array {name} has shape {new.shape}, expected {arr.shape}")
            restored[name] = new
        self.arrays = restored
        for name in ("vel1", "vel2"):
            value = np.asarray(arrays[name], dtype=np.float64)
            if value.shape != getattr(self, name).shape:
                raise NeurosimError(f"checkpoint array {name} has shape {value.shape}, expected {getattr(self, name).shape}")
            setattr(self, name, value.copy())
        self._prepare_kernel_args()

    @classmethod
    def from_state_arrays(cls, device: DeviceModel, config: InsituConfig, arrays) -> "DeviceNetwork":
        """A network rebuilt from :meth:`state_arrays` (e.g. the ``.npz`` of a finished run)."""
        self = cls.__new__(cls)
        self.device, self.config = device, config
        self.reference = config.crossbar.mapping is Mapping.REFERENCE_COLUMN
        self.k_S = mp.siemens_per_weight(device, config.crossbar.mapping, config.weight_max)
        names = ("main",) if self.reference else ("plus", "minus")
        self.arrays = {f"{layer}.{n}": None for layer in ("layer1", "layer2") for n in names}
        n_in, n_h, n_out = config.sizes
        for name in self.arrays:
            prefix = f"{name}."
            state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            self.arrays[name] = DeviceArray.from_state_arrays(device, state)
        expected = {}
        for layer, (rows, cols) in (("layer1", (n_in, n_h)), ("layer2", (n_h, n_out))):
            for n in names:
                expected[f"{layer}.{n}"] = (rows, cols + 1) if self.reference else (rows, cols)
        for name, shape in expected.items():
            if self.arrays[name].shape != shape:
                raise NeurosimError(f"saved array {name} has shape {self.arrays[name].shape}, expected {shape}")
        self.vel1 = np.asarray(arrays.get("vel1", np.zeros(0)), dtype=np.float64).copy()
        self.vel2 = np.asarray(arrays.get("vel2", np.zeros(0)), dtype=np.float64).copy()
        self._prepare_kernel_args()
        return self
