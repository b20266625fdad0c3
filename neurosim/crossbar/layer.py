"""A weight matrix on crossbar tiles: programming, forward and transposed reads, pulse updates.

:class:`CrossbarLayer` splits ``W`` (shape ``(out, in)``, torch convention)
into tiles of ``config.rows`` inputs by ``config.weight_cols`` outputs, one
:class:`~neurosim.crossbar.tile.Tile` each. A read of a batch goes, for every
tile: input DAC -> analog matrix-vector product (one BLAS call, the sparse
kernel for mostly-zero inputs, or the transfer matrix when wires have
resistance) -> read noise and output noise drawn at the output -> ADC ->
digital sum across tiles (the Numba read-out kernel). Results are in weight
units: ``forward(x)`` approximates ``x @ W.T`` and ``backward(d)``
approximates ``d @ W``.

Read noise: a device's conductance noise is independent and Gaussian, so an
output current is Gaussian with variance ``sum_i (v_i sigma_i)^2``; it is
drawn once per conversion (``(v^2) @ (sigma^2)``, a second matrix product),
never as a noisy copy of the matrix per input vector. When every device of a
tile has the same sigma (state-independent read noise, no wires), that
product is a row sum: ``sigma^2 * sum_i v_i^2``.

Inputs are applied with the precision of ``x``: float32 inputs are read in
float32 (fast), anything else in float64.

Cost of a read: two matrix products per tile (signal and, with read noise,
variance) plus one Gaussian draw and one conversion per tile output. A zero
input drives no current and adds no noise, so when most of a tile's inputs
are zero (images such as MNIST digits, ReLU activations) a forward read
skips them (:data:`SPARSE_DENSITY`); otherwise the products go to BLAS.
Without output noise, a vector whose inputs to a tile are all zero needs no
Gaussian draws there, and its conversions are zero. The
kernels are serial and release the GIL; parallelise over batches, layers or
sweep points. On machines shared with other jobs, pin BLAS to one thread
(``OPENBLAS_NUM_THREADS=1``): the per-tile products are small, and
multithreaded BLAS stalls when another process holds a core.
"""

import logging
import math
import numbers
from dataclasses import dataclass

import numpy as np

from neurosim import parallel
from neurosim.crossbar import kernels
from neurosim.crossbar import mapping as mp
from neurosim.crossbar.config import CrossbarConfig, DacMode, Mapping, PulsePolicy
from neurosim.crossbar.storage import load_layer, save_layer
from neurosim.crossbar.tile import Tile
from neurosim.crossbar.wires import cell_conductance_S
from neurosim.device import DeviceModel, ProgramResult, load_device
from neurosim.energy.sums import AnalogSums
from neurosim.errors import NeurosimError
from neurosim.events import EventCounts
from neurosim.rng import as_generator

logger = logging.getLogger(__name__)

#: Input elements per batch chunk: bounds a read's scratch memory and keeps it in cache.
_CHUNK_ELEMENTS = 1 << 20
#: A forward read skips zero inputs (a sparse kernel) when at most this fraction of a tile's inputs is non-zero;
#: denser inputs go to BLAS, which is faster then. Both give the same result up to float rounding.
SPARSE_DENSITY = 0.1


@dataclass(frozen=True)
class ClipCounts:
    """Cumulative converter clipping of one read direction since the last reset."""

    #: Inputs whose magnitude exceeded the DAC's full scale (clipped to it).
    dac_clipped: int = 0
    #: Inputs applied.
    dac_inputs: int = 0
    #: ADC conversions whose input lay beyond the ADC range by more than half a step.
    adc_clipped: int = 0
    #: ADC conversions made (one per tile output per read; bit-serial reads convert once per bit).
    adc_conversions: int = 0
    #: Device reads: for every input vector and tile (and bit plane), the devices on its driven lines
    #: (lines with a non-zero input) times the devices each line reads (both arrays of a differential
    #: pair; the reference column, driven in every transposed read of a reference-column tile).
    cell_reads: int = 0
    #: Tile read operations: one per tile, input vector and bit plane (:mod:`neurosim.events`).
    tile_reads: int = 0

    @property
    def adc_fraction(self) -> float:
        """Fraction of ADC conversions that clipped."""
        return self.adc_clipped / self.adc_conversions if self.adc_conversions else 0.0

    @property
    def dac_fraction(self) -> float:
        """Fraction of inputs that clipped at the DAC."""
        return self.dac_clipped / self.dac_inputs if self.dac_inputs else 0.0


def _edges(size: int, step: int) -> list[tuple[int, int]]:
    return [(s, min(s + step, size)) for s in range(0, size, step)]


def _matrix(W, name: str = "W") -> np.ndarray:
    a = np.asarray(W)
    if a.dtype.kind not in "biuf":
        raise NeurosimError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if a.ndim != 2:
        raise NeurosimError(f"{name} must be 2-D with shape (out, in), got shape {a.shape}")
    if a.size == 0:
        raise NeurosimError(f"{name} must not be empty, got shape {a.shape}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise NeurosimError(f"{name} must be finite: found {a[tuple(bad)]} at index {tuple(int(i) for i in bad)}")
    return a


def _batch(x, n: int, name: str):
    """``x`` as a (batch, n) float32/float64 array, and whether it was a single vector.

    Finiteness is checked by the DAC pass of the read (it reads every input anyway).
    """
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise NeurosimError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    single = a.ndim == 1
    if single:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != n:
        raise NeurosimError(f"{name} must have shape (batch, {n}) or ({n},), got {np.shape(x)}")
    a = np.ascontiguousarray(a, dtype=np.float32 if a.dtype == np.float32 else np.float64)
    return a, single


class CrossbarLayer:
    """A weight matrix ``W`` (out, in) programmed onto crossbar tiles of ``device``.

    ``device`` is a :class:`~neurosim.device.DeviceModel` or a card name/path.
    ``config`` (default :class:`CrossbarConfig()`) sets the array size,
    mapping, converters and wires; ``rng`` draws device-to-device variation,
    faults and programming noise.

    A layer keeps scratch buffers between reads: use it from one thread at a time.
    """

    def __init__(self, W, device, config: CrossbarConfig | None = None, rng=None):
        config = CrossbarConfig() if config is None else config
        if not isinstance(config, CrossbarConfig):
            raise NeurosimError(f"config must be a CrossbarConfig, got {type(config).__name__}")
        if not isinstance(device, DeviceModel):
            device = load_device(device)
        W = _matrix(W)
        rng = as_generator(rng)
        self._build(device, config, W.shape, lambda r, c, shape: Tile(device, config.mapping, shape, config.wire_model, rng,
                                                                                 config.r_series_ohm))
        self.program(W, rng)

    def _build(self, device: DeviceModel, config: CrossbarConfig, shape, make_tile) -> None:
        self.device = device
        self.config = config
        self.out_features, self.in_features = (int(s) for s in shape)
        #: Input (row) and output (column) ranges of each tile.
        self.row_edges = _edges(self.in_features, config.rows)
        self.col_edges = _edges(self.out_features, config.weight_cols)
        #: Tiles as a grid: ``tiles[r][c]`` holds inputs ``row_edges[r]`` and outputs ``col_edges[c]``.
        self.tiles = [
            [make_tile(r, c, (r1 - r0, c1 - c0)) for c, (c0, c1) in enumerate(self.col_edges)]
            for r, (r0, r1) in enumerate(self.row_edges)
        ]
        #: Weight magnitude at the full conductance window.
        self.weight_max = 1.0
        #: Number of weights beyond ``weight_max`` that were clipped when programming.
        self.clipped_weights = 0
        #: What programming did, one :class:`~neurosim.device.ProgramResult` per device array.
        self.program_results: list[ProgramResult] = []
        #: Time since programming (s) at which reads see the devices (drift).
        self.t_s = 0.0
        #: ADC full scales (output units) of forward and transposed reads; None = not calibrated.
        self.adc_range = config.adc_range
        self.adc_range_backward = config.adc_range_backward
        #: Per read direction: DAC clips, DAC conversions, ADC clips, ADC conversions, cell reads, tile reads
        #: (:class:`ClipCounts`).
        self._clips = {False: np.zeros(6, dtype=np.int64), True: np.zeros(6, dtype=np.int64)}
        #: Per read direction: the sum over reads of ``(v / V_full)^2 G`` over driven devices (S; :attr:`read_v2g_S`).
        self._v2g = {False: np.zeros(1), True: np.zeros(1)}
        self._scratch = {}

    def __repr__(self) -> str:
        c = self.config
        return (
            f"CrossbarLayer({self.out_features}x{self.in_features} on {self.device.name}: "
            f"{len(self.row_edges)}x{len(self.col_edges)} tiles of {c.rows}x{c.cols}, {c.mapping.value})"
        )

    def _tile_items(self):
        for r, (r0, r1) in enumerate(self.row_edges):
            for c, (c0, c1) in enumerate(self.col_edges):
                yield self.tiles[r][c], slice(r0, r1), slice(c0, c1)

    # -- programming and pulse updates --------------------------------------------------------
    def program(self, W, rng=None) -> list[ProgramResult]:
        """Write weights ``W`` (out, in) into the existing devices (their variation and faults stay).

        Sets ``weight_max`` by ``config.weight_scale``, clips larger weights
        (counted in ``clipped_weights``) and programs every device with
        ``config.program_method``. Resets the drift clock (``t_s = 0``).
        """
        W = _matrix(W)
        if W.shape != (self.out_features, self.in_features):
            raise NeurosimError(f"W must have shape {(self.out_features, self.in_features)}, got {W.shape}")
        rng = as_generator(rng)
        cfg = self.config
        w_max = mp.weight_max(W, cfg)
        clipped = int(np.count_nonzero(np.abs(W) > w_max))
        W = np.clip(W, -w_max, w_max)
        results = []
        for tile, rows, cols in self._tile_items():
            results += tile.program(W[cols, rows].T, w_max, cfg.program_method, rng, cfg.write_verify_tol_frac)
        self.weight_max, self.clipped_weights, self.program_results, self.t_s = w_max, clipped, results, 0.0
        converged = np.mean([r.fraction_converged for r in results])
        logger.info(
            "programmed %s: w_max %.4g, %d weights clipped, %.2f%% of devices within tolerance",
            self,
            w_max,
            clipped,
            100 * converged,
        )
        return results

    def apply_pulses(self, pulses_pos, pulses_neg=None, rng=None) -> None:
        """Apply signed pulse counts (integer arrays of shape (out, in)) to every device at once.

        ``pulses_pos`` go to the ``G+`` devices (differential) or the weight
        devices (reference column); ``pulses_neg`` to the ``G-`` devices
        (differential only). A positive count potentiates (raises the
        conductance), a negative one depresses it, through the device curve
        with cycle-to-cycle noise drawn from ``rng``; stuck devices do not move.
        So ``+n`` on ``G+`` or ``-n`` on ``G-`` raises a weight.
        """
        shape = (self.out_features, self.in_features)
        arrays = []
        for name, p in (("pulses_pos", pulses_pos), ("pulses_neg", pulses_neg)):
            if p is None:
                arrays.append(None)
                continue
            p = np.asarray(p)
            if p.shape != shape:
                raise NeurosimError(f"{name} must have the weights' shape {shape}, got {p.shape}")
            if not np.issubdtype(p.dtype, np.integer):
                raise NeurosimError(f"{name} must be integers, got dtype {p.dtype}")
            arrays.append(p)
        if arrays[1] is not None and self.config.mapping is not Mapping.DIFFERENTIAL:
            raise NeurosimError("pulses_neg applies to G- devices: only with Mapping.DIFFERENTIAL")
        rng = as_generator(rng)
        for tile, rows, cols in self._tile_items():
            neg = None if arrays[1] is None else arrays[1][cols, rows].T
            tile.apply_pulses(arrays[0][cols, rows].T, neg, rng)

    def apply_weight_pulses(self, pulses, policy: PulsePolicy, rng=None) -> None:
        """Raise (``> 0``) or lower (``< 0``) each weight (out, in) by a train of whole pulses, by ``policy``.

        The devices a train moves and their directions follow ``policy``
        (:class:`~neurosim.crossbar.config.PulsePolicy`, the rule
        :func:`~neurosim.crossbar.kernels.pulse_directions_numpy`; the sign of a
        weight is read noise-free at ``t_s``), then :meth:`apply_pulses` writes them.
        """
        if not isinstance(policy, PulsePolicy):
            raise NeurosimError(f"policy must be a PulsePolicy, got {policy!r}")
        shape = (self.out_features, self.in_features)
        p = np.asarray(pulses)
        if p.shape != shape:
            raise NeurosimError(f"pulses must have the weights' shape {shape}, got {p.shape}")
        if not np.issubdtype(p.dtype, np.integer):
            raise NeurosimError(f"pulses must be integers, got dtype {p.dtype}")
        differential = self.config.mapping is Mapping.DIFFERENTIAL
        w = self.effective_weights() if differential and policy is PulsePolicy.SIGN_DEVICE else 0.0
        d_pos, d_neg = kernels.pulse_directions_numpy(p > 0, w, differential, kernels.POLICY_CODES[policy.value])
        m = np.abs(p).astype(np.int64)
        self.apply_pulses(d_pos * m, d_neg * m if differential else None, rng)

    def drift_to(self, t_s: float) -> None:
        """Read the devices ``t_s`` seconds after programming from now on (drifting devices decay)."""
        if isinstance(t_s, bool) or not isinstance(t_s, numbers.Real) or not math.isfinite(t_s) or t_s < 0:
            raise NeurosimError(f"t_s = {t_s!r} is not allowed: a time >= 0 s")
        self.t_s = float(t_s)

    # -- state ---------------------------------------------------------------------------------
    @property
    def current_per_output_A(self) -> float:
        """Column current (A) of one output unit in a forward read."""
        k = mp.siemens_per_weight(self.device, self.config.mapping, self.weight_max)
        return self.config.read_voltage_V / self.config.input_full_scale * k

    def effective_weights(self, include_wires: bool = False) -> np.ndarray:
        """Noise-free weights (out, in) that the devices represent at ``t_s``.

        With ``include_wires`` the forward transfer matrices (IR drop) are used
        instead of the conductances. Either way each device is seen through its
        cell's series resistance (``config.cell_r_series_ohm``), as every read sees it.
        """
        W = np.empty((self.out_features, self.in_features))
        r_series = self.config.r_series_ohm
        for tile, rows, cols in self._tile_items():
            if include_wires:
                W[cols, rows] = tile.read_matrices(self.t_s, False, np.float64).signal.T
            else:
                pos, neg = (cell_conductance_S(g, r_series) for g in tile.signal_pair_S(self.t_s))
                W[cols, rows] = ((pos - neg) / tile.k_S).T
        return W

    def conductances_S(self):
        """``(G_pos, G_neg)``, each (out, in) in siemens at ``t_s``: the weight is ``(G_pos - G_neg) / k``.

        Differential: the ``G+`` and ``G-`` device of each weight. Reference
        column: the weight's device and the reference device of its row.
        """
        pos = np.empty((self.out_features, self.in_features))
        neg = np.empty_like(pos)
        for tile, rows, cols in self._tile_items():
            p, n = tile.signal_pair_S(self.t_s)
            pos[cols, rows] = p.T
            neg[cols, rows] = np.broadcast_to(n, p.shape).T
        return pos, neg

    @property
    def clip_counts(self) -> ClipCounts:
        """Converter clipping of forward reads since the last :meth:`reset_clip_counts`."""
        return ClipCounts(*(int(v) for v in self._clips[False]))

    @property
    def clip_counts_backward(self) -> ClipCounts:
        """Converter clipping of transposed reads since the last :meth:`reset_clip_counts`."""
        return ClipCounts(*(int(v) for v in self._clips[True]))

    def reset_clip_counts(self) -> None:
        """Set both directions' clip counts (and :attr:`read_v2g_S`) to zero."""
        for counts in (*self._clips.values(), *self._v2g.values()):
            counts[:] = 0

    @property
    def read_v2g_S(self) -> float:
        """The sum, over every read since the last reset (both directions, every bit plane), of
        ``(v / V_full)^2 G`` over the driven devices (S): ``v`` the applied input voltage, ``V_full`` that of a
        full-scale input, ``G`` the device's conductance through its cell (:meth:`Tile.line_conductance_S`).
        The array's read energy is ``V_full^2 t_read`` times this (:mod:`neurosim.energy`)."""
        return float(self._v2g[False][0] + self._v2g[True][0])

    def _read_v2g(self, inputs, line_squares, transposed: bool) -> float:
        """``sum v^2 G`` of one read of ``inputs`` (input units^2 S; divided by the full scale squared by the caller):
        per tile, the batch's summed squares of each input line (``line_squares``, from :meth:`_inputs`) times the
        conductance that line drives."""
        total = 0.0
        for tile, rows, cols in self._tile_items():
            g_lines, g_ref = tile.line_conductance_S(self.t_s, transposed)
            total += float(line_squares[cols if transposed else rows] @ g_lines)
            if g_ref:  # the reference column, driven at minus the sum of the column inputs
                total += g_ref * float(np.square(inputs[:, cols].sum(axis=1, dtype=np.float64)).sum())
        return total

    @property
    def events(self) -> EventCounts:
        """Events since the layer was made or :meth:`reset_events` (definitions in :mod:`neurosim.events`).

        The conversions, cell reads and tile reads of forward and transposed
        reads (as :attr:`clip_counts` and :attr:`clip_counts_backward` count
        them), plus the pulses, writes and programming passes of every
        device array of its tiles (programming included).
        """
        reads = [self.clip_counts, self.clip_counts_backward]
        writes = EventCounts()
        for tile, _, _ in self._tile_items():
            for array in tile.arrays.values():
                writes = writes + array.events
        return writes + EventCounts(
            dac_conversions=sum(c.dac_inputs for c in reads),
            adc_conversions=sum(c.adc_conversions for c in reads),
            cell_reads=sum(c.cell_reads for c in reads),
            tile_reads=sum(c.tile_reads for c in reads),
        )

    @property
    def analog_sums(self) -> AnalogSums:
        """Conductance sums of the reads and writes :attr:`events` counts (:mod:`neurosim.energy.sums`)."""
        ltp = ltd = 0.0
        for tile, _, _ in self._tile_items():
            for array in tile.arrays.values():
                a, b = array.write_conductance_S
                ltp, ltd = ltp + a, ltd + b
        return AnalogSums(self.read_v2g_S, ltp, ltd)

    def reset_events(self) -> None:
        """Set :attr:`events` (and :attr:`analog_sums`) to zero: both directions' read counts (clip counts too) and
        the device arrays' write counts."""
        self.reset_clip_counts()
        for tile, _, _ in self._tile_items():
            for array in tile.arrays.values():
                array.reset_events()

    # -- reads ---------------------------------------------------------------------------------
    def forward(self, x, rng=None, *, nodal: bool = False) -> np.ndarray:
        """Forward read of a batch ``x`` (batch, in) or one vector (in,): approximately ``x @ W.T``.

        Inputs in input units (``config.input_full_scale`` = full read
        voltage); outputs in output units (weights x inputs). Read and output
        noise are drawn fresh from ``rng``. ``nodal=True`` computes the
        noise-free currents by an exact nodal solve per vector instead of the
        transfer matrix (validation; needs ``config.wire``).
        """
        x, single = _batch(x, self.in_features, "x")
        out = self._read(x, as_generator(rng), transposed=False, nodal=nodal, name="x")
        return out[0] if single else out

    def backward(self, d, rng=None, *, nodal: bool = False) -> np.ndarray:
        """Transposed read of ``d`` (batch, out) or (out,): approximately ``d @ W`` (for backpropagation).

        Inputs drive the columns and the rows are sensed. Each vector is scaled
        to ``max |d| = 1`` before the DAC (signed voltages) and its outputs are
        scaled back digitally, so deltas of any size use the DAC's full range;
        the ADC range ``adc_range_backward`` refers to such normalised reads.
        """
        d, single = _batch(d, self.out_features, "d")
        out = self._read(d, as_generator(rng), transposed=True, nodal=nodal, name="d")
        return out[0] if single else out

    def calibrate_adc(self, x_sample=None, d_sample=None, percentile: float = 100.0) -> dict:
        """Set the ADC range from sample inputs: the ``percentile`` of ``|output|`` over all conversions.

        ``x_sample`` (batch, in) calibrates forward reads, ``d_sample``
        (batch, out) transposed reads. Conversions are noise-free and made as
        the read would make them (DAC, tiles, bit planes). With
        ``percentile = 100`` the sample never clips; lower values trade
        clipping of rare large outputs for a finer step. Returns the ranges set.
        """
        if isinstance(percentile, bool) or not isinstance(percentile, numbers.Real) or not 0 < percentile <= 100:
            raise NeurosimError(f"percentile = {percentile!r} is not allowed: a percentile in (0, 100]")
        if x_sample is None and d_sample is None:
            raise NeurosimError("calibrate_adc needs x_sample (forward reads) and/or d_sample (transposed reads)")
        ranges = {}
        for sample, transposed, name in ((x_sample, False, "forward"), (d_sample, True, "backward")):
            if sample is None:
                continue
            n = self.out_features if transposed else self.in_features
            what = "d_sample" if transposed else "x_sample"
            a, _ = _batch(sample, n, what)
            if a.shape[0] == 0:
                raise NeurosimError(f"the {name} calibration sample is empty")
            peaks = np.concatenate([np.abs(y).ravel() for y in self._conversions(a, transposed, what)])
            peak = float(np.percentile(peaks, percentile))
            if not peak > 0:
                raise NeurosimError(f"the {name} calibration sample gives all-zero outputs: no ADC range to set")
            ranges[name] = peak
        self.adc_range = ranges.get("forward", self.adc_range)
        self.adc_range_backward = ranges.get("backward", self.adc_range_backward)
        logger.info("ADC ranges calibrated: %s", ranges)
        return ranges

    # -- read internals ------------------------------------------------------------------------
    def _adc(self, transposed: bool):
        bits = self.config.adc_bits
        if bits is None:
            return 0.0, 0
        full = self.adc_range_backward if transposed else self.adc_range
        if full is None:
            what = "adc_range_backward" if transposed else "adc_range"
            sample = "d_sample=" if transposed else "x_sample"
            raise NeurosimError(
                f"the ADC range is not set: give CrossbarConfig({what}=...) or call calibrate_adc({sample}...)"
            )
        max_code = 2 ** (bits - 1) - 1
        return full / max_code, max_code

    def _inputs(self, x, full_scale: float, buffers, name: str, counts=None):
        """Yield ``(applied inputs, their squares, non-zero count per input, digital gain, line squares)`` per DAC read.

        ``line squares``: each input line's squared inputs summed over the batch (float64, input units^2), for
        the array energy (:meth:`_read_v2g`); with a multi-level DAC, from its codes, summed in the threads
        exactly. Raises if an input of ``x`` (called ``name`` in the message) is NaN or infinite.
        """
        cfg = self.config
        levels = 0 if cfg.dac_bits is None else 2**cfg.dac_bits - 1
        applied, squares = buffers[0][: x.shape[0]], buffers[1][: x.shape[0]]
        by_codes = levels > 0 and cfg.dac_mode is DacMode.LEVELS

        def dac(r0, r1):  # one row block: its own non-zero counts and code squares, summed below (the same numbers)
            nz, code_sq = np.zeros(x.shape[1], dtype=np.int64), np.zeros(x.shape[1])
            out = kernels.dac_levels_numba(x[r0:r1], full_scale, levels, applied[r0:r1], squares[r0:r1], nz)
            if by_codes:
                kernels.line_code_squares_numba(applied[r0:r1], levels / full_scale, code_sq)
            return (*out, nz, code_sq)

        blocks = parallel.map_blocks(dac, parallel.row_blocks(x.shape[0]))
        clipped, finite = sum(b[0] for b in blocks), all(b[1] for b in blocks)
        nonzero = sum(b[2] for b in blocks)
        if not finite:
            raise NeurosimError(f"{name} must be finite (found NaN or inf)")
        if counts is not None:
            counts[0] += clipped
            counts[1] += x.size
        if cfg.dac_mode is DacMode.LEVELS:
            line_squares = (
                sum(b[3] for b in blocks) * (full_scale / levels) ** 2
                if by_codes
                else squares.sum(axis=0).astype(np.float64)
            )
            yield applied, squares, nonzero, 1.0, line_squares
            return
        codes = np.rint(np.abs(applied) * (levels / full_scale)).astype(np.int64)
        sign = np.sign(applied).astype(x.dtype) * x.dtype.type(full_scale)
        for bit in range(cfg.dac_bits):
            plane = ((codes >> bit) & 1).astype(x.dtype) * sign
            nz = np.count_nonzero(plane, axis=0)
            yield plane, plane * plane, nz, 2.0**bit / levels, nz * float(full_scale) ** 2

    def _tile_reads(self, inputs, squares, sparse, transposed: bool, nodal: bool, mean_flat, var_flat):
        """Yield ``(mean, var, has_common, first output index)`` of every tile for one read of ``inputs``.

        ``sparse(rows)``: whether the input lines ``rows`` are read by the
        sparse kernel (decided on the read's whole chunk, so every row block
        of the chunk is read alike: :meth:`_sparse_test`). ``mean`` and ``var`` are views of
        the flat scratch arrays ``mean_flat``, ``var_flat``, overwritten by the next tile.
        """
        n = inputs.shape[0]

        def scratch(flat, cols):  # a C-contiguous (n, cols) view of a flat buffer
            return flat[: n * cols].reshape(n, cols)

        empty = scratch(var_flat, 0)
        for tile, rows, cols in self._tile_items():
            m = tile.read_matrices(self.t_s, transposed, inputs.dtype)
            n_out = m.signal.shape[0] if transposed else m.signal.shape[1]
            mean = scratch(mean_flat, n_out)
            if not transposed:
                v, v2 = inputs[:, rows], squares[:, rows]
                var = empty if m.var is None else scratch(var_flat, m.var.shape[1])
                product_var = empty if m.uniform_var is not None else var  # the variance the products compute
                if not nodal and sparse(rows):
                    kernels.sparse_products_numba(inputs, squares, rows.start, *m.padded, mean, product_var)
                else:
                    if nodal:
                        mean[...] = tile.nodal_output(v, self.t_s, False)
                    else:
                        np.matmul(v, m.signal, out=mean)
                    if product_var.shape[1]:
                        np.matmul(v2, m.var, out=var)
                if m.uniform_var is not None:  # every device's variance alike: a row sum, not a product
                    np.multiply(v2.sum(axis=1, keepdims=True), inputs.dtype.type(m.uniform_var), out=var)
                yield mean, var, m.has_reference and m.var is not None, cols.start
            else:
                v, v2 = inputs[:, cols], squares[:, cols]
                if nodal:
                    mean[...] = tile.nodal_output(v, self.t_s, True)
                else:
                    np.matmul(v, m.signal.T, out=mean)
                var = empty
                if m.var is not None:
                    var = scratch(var_flat, n_out)
                    if m.has_reference:  # the reference device of row i is read at minus the sum of the inputs
                        np.matmul(v2, m.var[:, :-1].T, out=var)
                        var += np.square(v.sum(axis=1))[:, None] * m.var[:, -1]
                    else:
                        np.matmul(v2, m.var.T, out=var)
                yield mean, var, False, rows.start

    @property
    def devices_per_driven_row(self) -> int:
        """Devices one driven input row reads in a forward read, over all its tiles (the cell reads it adds):
        both devices of every weight (differential), or every weight device and each tile's reference device."""
        if self.config.mapping is Mapping.DIFFERENTIAL:
            return 2 * self.out_features
        return self.out_features + len(self.col_edges)

    def _cell_reads(self, nonzero, n: int, transposed: bool) -> int:
        """Devices read by one read of ``n`` vectors whose input lines have ``nonzero`` non-zero inputs each."""
        differential = self.config.mapping is Mapping.DIFFERENTIAL
        cells = 0
        for _, rows, cols in self._tile_items():
            lines = cols if transposed else rows
            per_line = (rows.stop - rows.start) if transposed else (cols.stop - cols.start)
            driven = int(nonzero[lines].sum())
            if differential:
                cells += 2 * driven * per_line
            elif transposed:  # the weight devices of the driven columns, and the reference column every read
                cells += driven * per_line + n * per_line
            else:  # each driven row reads its weight devices and its reference device
                cells += driven * (per_line + 1)
        return cells

    @staticmethod
    def _sparse_test(nonzero, n: int):
        """The test :meth:`_tile_reads` takes: at most :data:`SPARSE_DENSITY` of the ``n`` vectors' inputs
        on the lines are non-zero (``nonzero``: the count of each input line)."""
        lines_before = np.concatenate(([0], np.cumsum(nonzero)))  # non-zero inputs on the lines before each line
        return lambda rows: lines_before[rows.stop] - lines_before[rows.start] <= SPARSE_DENSITY * n * (rows.stop - rows.start)

    def _convert_block(self, inputs, squares, sparse, keys, gain, out_var, step, max_code, out, row0,
                       transposed, nodal, mean_flat, var_flat) -> int:  # fmt: skip
        """Read rows ``row0, ...`` of a chunk (``inputs``, ``squares``) through every tile into ``out``.

        Returns the number of clipped conversions. The Gaussian draws of row
        ``row0 + b`` are those a read of the whole chunk makes for it, so any
        split of a chunk into blocks gives the same result.
        """
        clipped = 0
        reads = self._tile_reads(inputs, squares, sparse, transposed, nodal, mean_flat, var_flat)
        for key, (mean, var, has_common, col0) in zip(keys, reads):
            clipped += kernels.readout_numba(mean, var, has_common, out_var, step, max_code, gain, key, out, col0, row0)
        return clipped

    def _buffers(self, x, transposed: bool):
        """Scratch arrays of one batch chunk: applied inputs, their squares, a tile's mean and variance.

        Kept between reads (fresh large allocations cost a page fault per 4 KiB).
        """
        n_in = x.shape[1]
        n_out = self.config.rows if transposed else self.config.cols
        chunk = max(1, min(x.shape[0], _CHUNK_ELEMENTS // n_in))
        key = (x.dtype, n_in, transposed)
        buffers = self._scratch.get(key)
        if buffers is None or buffers[0].shape[0] < chunk:
            buffers = (
                np.empty((chunk, n_in), x.dtype),
                np.empty((chunk, n_in), x.dtype),
                np.empty(chunk * n_out, x.dtype),
                np.empty(chunk * (n_out + 1), x.dtype),
            )
            self._scratch[key] = buffers
        return buffers

    def _normalised(self, x, transposed: bool):
        """Inputs as the DAC sees them, the per-vector scale to undo, and the DAC's full scale.

        Transposed reads scale each vector to ``max |d| = 1`` (full scale 1);
        forward reads apply ``x`` as it is (scale None).
        """
        if not transposed:
            return x, None, self.config.input_full_scale
        scale = np.max(np.abs(x), axis=1, initial=0.0)
        scale[scale == 0] = 1.0
        with np.errstate(invalid="ignore"):  # inf / inf = NaN, which the DAC pass reports
            return (x / scale[:, None]).astype(x.dtype), scale, 1.0

    def _read(self, x, rng, transposed: bool, nodal: bool, name: str) -> np.ndarray:
        """A read of the batch ``x`` (called ``name`` in error messages).

        Clip counts and ``rng`` change only if it succeeds: a NaN found in a
        later chunk leaves both as they were.
        """
        cfg = self.config
        if nodal and cfg.wire is None:
            raise NeurosimError("nodal=True needs wire resistance: set CrossbarConfig(wire=WireConfig(...))")
        step, max_code = self._adc(transposed)
        x, scale, full_scale = self._normalised(x, transposed)
        out_var = (cfg.output_noise_frac * self.weight_max * full_scale) ** 2
        n_out = self.in_features if transposed else self.out_features
        out = np.zeros((x.shape[0], n_out), dtype=x.dtype)
        counts = np.zeros(6, dtype=np.int64)
        v2g = 0.0
        buffers = self._buffers(x, transposed)
        chunk = max(1, min(x.shape[0], _CHUNK_ELEMENTS // x.shape[1]))
        n_tiles = len(self.row_edges) * len(self.col_edges)
        noisy = self.device.read_noise_frac > 0 or out_var > 0  # then each tile read draws from a stream of its own
        rng_state = rng.bit_generator.state
        cols = buffers[2].shape[0] // buffers[0].shape[0]  # scratch columns per row of a tile's mean (and var, + 1)
        try:
            for start in range(0, x.shape[0], chunk):
                block = out[start : start + chunk]
                for inputs, squares, nonzero, gain, line_squares in self._inputs(
                    x[start : start + chunk], full_scale, buffers, name, counts
                ):
                    keys = np.zeros(n_tiles, np.uint64)
                    if noisy:
                        keys = rng.integers(0, 2**64, size=n_tiles, dtype=np.uint64)
                    sparse = self._sparse_test(nonzero, inputs.shape[0])
                    for tile, _, _ in self._tile_items():  # fill the tiles' matrix caches before the threads read them
                        tile.read_matrices(self.t_s, transposed, inputs.dtype)

                    def convert(r0, r1, inputs=inputs, squares=squares, sparse=sparse, keys=keys, gain=gain, block=block):
                        return self._convert_block(
                            inputs[r0:r1], squares[r0:r1], sparse, keys, gain, out_var, step, max_code, block[r0:r1],
                            r0, transposed, nodal, buffers[2][r0 * cols : r1 * cols], buffers[3][r0 * (cols + 1) : r1 * (cols + 1)],
                        )  # fmt: skip

                    counts[2] += sum(parallel.map_blocks(convert, parallel.row_blocks(inputs.shape[0])))
                    counts[4] += self._cell_reads(nonzero, inputs.shape[0], transposed)
                    counts[3] += inputs.shape[0] * (self.in_features if transposed else self.out_features) * len(
                        self.col_edges if transposed else self.row_edges
                    )
                    counts[5] += inputs.shape[0] * n_tiles
                    v2g += self._read_v2g(inputs, line_squares, transposed) / full_scale**2
        except BaseException:
            rng.bit_generator.state = rng_state
            raise
        if transposed:
            out *= scale[:, None].astype(out.dtype)
        self._clips[transposed] += counts
        self._v2g[transposed] += v2g
        return out

    def _conversions(self, x, transposed: bool, name: str):
        """Noise-free tile outputs (before the ADC) of every conversion a read of ``x`` makes."""
        x, _, full_scale = self._normalised(x, transposed)
        buffers = self._buffers(x, transposed)
        chunk = max(1, min(x.shape[0], _CHUNK_ELEMENTS // x.shape[1]))
        for start in range(0, x.shape[0], chunk):
            for inputs, squares, nonzero, _, _ in self._inputs(x[start : start + chunk], full_scale, buffers, name):
                sparse = self._sparse_test(nonzero, inputs.shape[0])
                for mean, _, _, _ in self._tile_reads(inputs, squares, sparse, transposed, False, buffers[2], buffers[3]):
                    yield mean.copy()

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path) -> None:
        """Save the layer's full state (devices, faults, calibration, clip counts) to ``path`` (.npz)."""
        save_layer(self, path)

    @classmethod
    def load(cls, path, device: DeviceModel | None = None) -> "CrossbarLayer":
        """Load a layer saved with :meth:`save`; ``device`` defaults to the saved device model."""
        return load_layer(cls, path, device)
