"""Training kernels: one call trains on a chunk of images, image by image (batch 1).

Two kernels, each with a plain-NumPy twin that is its specification (the
tests run both on a few images and compare):

- :func:`train_hw_numba` / :func:`train_hw_numpy`: training on devices. Per
  image: forward crossbar reads (read noise drawn at the output, ADC, sigmoid,
  threshold), the output error, the hidden error (digital or by a transposed
  read), then every weight change is turned into a whole number of pulses and
  applied to one device with the closed-form pulse-update curve step, its
  cycle-to-cycle noise and the clip to that device's window.
- :func:`train_float_numba` / :func:`train_float_numpy`: the same network and
  protocol with float weights (the software baseline), optionally with the
  hardware's threshold and ADC quantisation (to take the gap apart).

Layout. A layer with ``n`` inputs (rows) and ``m`` outputs lives in device
arrays ``A`` and ``B``: their flat writable conductance buffers
(:attr:`neurosim.device.DeviceArray.state_buffer_S`, row-major) and their
per-device write parameters ``PA``, ``PB`` (the six per-device arrays of
:attr:`neurosim.device.DeviceArray.write_params`, the array's own layout,
followed by its step table, ``write_params[7]``). A
write is the device core's :func:`neurosim.device.kernels.pulse_write` (NumPy
twin :func:`~neurosim.device.kernels.pulse_write_numpy`): curve step,
cycle-to-cycle noise growing with ``sqrt(|n|)``, clip to the window; a stuck
device's window is its rail, so it never moves. Reference-column mapping: ``A``
is ``(n, m + 1)`` with the reference device of row ``i`` in its last column
and ``B`` is ``A``; weight ``w_ij = (A[i, j] - A[i, m]) / k``. Differential:
``A`` (``G+``) and ``B`` (``G-``) are ``(n, m)``, ``w_ij = (A[i, j] - B[i, j]) / k``.
``k`` is siemens per weight unit.

Forward reads go through the crossbar core: the rows are split into tiles of
``crossbar.rows`` rows; each tile's inputs pass the DAC
(:func:`neurosim.crossbar.kernels.dac_value`), its column partial sums and
read-noise variances (proportional or constant read noise) are formed, and
:func:`neurosim.crossbar.kernels.readout_numba` (twin ``readout_numpy``) adds
the noise at the output, converts each partial sum with the ADC and sums the
tiles digitally, as :meth:`neurosim.crossbar.CrossbarLayer.forward` does for
one vector.

Under ``Protocol.NEUROSIM_V3`` (``ip[IP_PROTOCOL] = 1``) a layer is read the way NeuroSim V3
reads it (:func:`_layer_read_v3`: column and reference currents truncated separately to codes of
the whole layer's current swing, worth half the weighted sum, never clipped) and the digital
backward pass uses NeuroSim's read-back weights, linear in each cell's read current
(:func:`_readback_v3`).

Random numbers are counter based (:func:`neurosim.streams.normals_numba`):
every draw is a pure function of the run's ``key`` and a counter, so results
do not depend on how the images are split into chunks, and the twin draws the
same numbers. Image ``T`` (counted over the whole run) owns the counters
``T * stride + offset``: see :func:`counter_layout`. Each tile read of image
``T`` draws from its own stream, keyed (as a crossbar read's tiles are) by the
word ``counter_word(key ^ READ_SALT, T * reads + r)`` of read ``r`` (the hidden
layer's tiles, then the output layer's).

Binary inputs are sparse: the kernels take the inputs as CSR rows
(``indptr, indices, values``) and touch only the rows of active inputs, in
the forward read and in the update (an inactive input's weights get no
gradient, so no pulses).
"""

import math

import numpy as np
from numba import njit

from neurosim.crossbar.kernels import (
    adc_clipped,
    adc_value,
    cell_conductance,
    cell_read_var,
    cell_read_var_numpy,
    dac_levels_numpy,
    dac_value,
    pulse_directions,
    pulse_directions_numpy,
    readout_numba,
    readout_numpy,
)
from neurosim.crossbar.wires import cell_conductance_S
from neurosim.device.kernels import pulse_write, pulse_write_numpy
from neurosim.energy.sums import AnalogSums
from neurosim.events import EventCounts
from neurosim.streams import (
    SALT,
    counter_word,
    counter_words_numpy,
    normals_from_counters_numpy,
    normals_numba,
    uniform,
    uniform_numpy,
)

#: Salt of the stream whose words key the tile reads (independent of the Gaussian and rounding streams).
READ_SALT = np.uint64(0x8CB92BA72F3D8DD7)

# -- integer parameters (ip) -------------------------------------------------------------------
IP_NIN, IP_NH, IP_NOUT = 0, 1, 2
IP_REF = 3  # 1: reference-column mapping, 0: differential
IP_ROUND = 4  # 0 nearest, 1 truncate, 2 stochastic
IP_HIDDEN_UPDATE = 5  # 0: sigmoid a1, 1: thresholded h
IP_BACKWARD = 6  # 0: digital, 1: transposed read
IP_MOMENTUM = 7  # 1: momentum optimiser
IP_THRESHOLD = 8  # 1: hidden units drive layer 2 with 0/1
IP_TILE_ROWS = 9  # rows of one crossbar tile (partial sums per tile)
IP_DAC_LEVELS = 10  # input DAC magnitude levels (0 = ideal)
IP_NOISY = 11  # 1: reads have read or output noise
IP_C2C = 12  # 1: some device has cycle-to-cycle noise
IP_POLICY = 13  # PulsePolicy code (neurosim.crossbar.kernels.POLICY_CODES) of the differential mapping
IP_PROTOCOL = 14  # 1: NeuroSim V3's read-out and read-back (Protocol.NEUROSIM_V3), 0: the project's
IP_SIZE = 15

# -- float parameters (fp) ---------------------------------------------------------------------
FP_LR1, FP_LR2, FP_MOMENTUM = 0, 1, 2
FP_K = 3  # siemens per weight unit
FP_DWP_LTP, FP_DWP_LTD = 4, 5  # weight change of one nominal potentiation / depression pulse
FP_THRESHOLD = 6
FP_STEP1, FP_MAX1, FP_STEP2, FP_MAX2, FP_STEPB, FP_MAXB = 7, 8, 9, 10, 11, 12  # ADC step (0 = ideal), top code
FP_READ_NOISE = 13  # proportional read noise: sigma as a fraction of G
FP_OUT_VAR = 14  # output noise variance per conversion (output units^2)
FP_WMAX = 15  # float kernels: weight clip
FP_READ_SD = 16  # constant read noise: sigma (S), the same for every device
FP_C2C = 17  # cycle-to-cycle noise per pulse, fraction of the window
FP_DAC_FS = 18  # input full scale of the DAC (input units)
FP_R_SERIES = 19  # series resistance of every cell (ohm, 0 = none): reads see G / (1 + G R)
FP_I_MAX, FP_I_MIN = 20, 21  # NeuroSim V3 read-out: a cell's read current at G_max / G_min (S, per volt of read)
FP_PSUM_LEVELS = 22  # NeuroSim V3 read-out: largest partial-sum code, 2**bits - 1 (0 = ideal)
FP_SIZE = 23

# -- statistics (stats, int64) -----------------------------------------------------------------
ST_PULSES_LTP, ST_PULSES_LTD, ST_WRITES = 0, 1, 2
ST_CLIP_HIDDEN, ST_CLIP_OUTPUT, ST_CLIP_BACKWARD = 3, 4, 5
ST_CORRECT, ST_IMAGES = 6, 7
#: Per-layer event counts (:mod:`neurosim.events`) from ``ST_EVENTS + layer * EV_SIZE`` (layer 0: hidden, 1: output):
#: DAC conversions, ADC conversions, cell reads, tile reads of the layer's reads (forward, and the output
#: layer's transposed read), and the potentiation pulses, depression pulses and device writes of its updates.
ST_EVENTS = 8
EV_DAC, EV_ADC, EV_CELLS, EV_TILES, EV_LTP, EV_LTD, EV_WRITES = range(7)
EV_SIZE = 7
ST_SIZE = ST_EVENTS + 2 * EV_SIZE

# -- float statistics (the ``loss`` array, float64) ---------------------------------------------
LS_LOSS = 0  # summed squared error of the images trained on
LS_WRITE_LTP, LS_WRITE_LTD = 1, 2  # running totals of the write conductance sums (all layers)
#: Per-layer conductance sums (:mod:`neurosim.energy.sums`) from ``LS_SUMS + layer * SU_SIZE``: the reads'
#: ``sum (v / V_full)^2 G`` (forward reads, and the output layer's transposed read) and the potentiation
#: and depression pulses' mean conductance.
LS_SUMS = 3
SU_V2G, SU_LTP, SU_LTD = range(3)
SU_SIZE = 3
LS_SIZE = LS_SUMS + 2 * SU_SIZE


def layer_events(stats) -> list:
    """The per-layer :class:`~neurosim.events.EventCounts` (hidden, output) counted in ``stats``."""
    names = ("dac_conversions", "adc_conversions", "cell_reads", "tile_reads", "pulses_ltp", "pulses_ltd", "writes")
    blocks = (stats[ST_EVENTS + layer * EV_SIZE : ST_EVENTS + (layer + 1) * EV_SIZE] for layer in (0, 1))
    return [EventCounts.from_counts(**dict(zip(names, block))) for block in blocks]


def layer_sums(loss) -> list:
    """The per-layer :class:`~neurosim.energy.sums.AnalogSums` (hidden, output) summed in the float statistics ``loss``."""
    blocks = (loss[LS_SUMS + layer * SU_SIZE : LS_SUMS + (layer + 1) * SU_SIZE] for layer in (0, 1))
    return [AnalogSums(*(float(v) for v in block)) for block in blocks]


def _even(n: int) -> int:
    return n + (n & 1)


def counter_layout(n_in: int, n_h: int, n_out: int, n_dev: int, tile_rows: int) -> dict:
    """Offsets of each kind of draw inside one image's block of counters, the block size, and the tile reads.

    Gaussian stream ``key``: ``backward``: ``n_h`` transposed-read
    conversions; ``c2c``: one per device (global device index); ``uniform``:
    one per device, the counters of the uniform stream used for stochastic
    rounding; ``stride``: the block's size. The Gaussian generator makes
    draws in pairs, so blocks of consecutive draws start at even counters.
    Read keys (stream ``key ^ READ_SALT``): ``reads`` per image, the hidden
    layer's ``ceil(n_in / tile_rows)`` tiles first, the output layer's from ``output_reads``.
    """
    backward = 0
    c2c = backward + _even(n_h)
    uniform = c2c + _even(n_dev)
    hidden_reads = -(-n_in // tile_rows)
    reads = hidden_reads + -(-n_h // tile_rows)
    return {"backward": backward, "c2c": c2c, "uniform": uniform, "stride": uniform + _even(n_dev),
            "reads": reads, "output_reads": hidden_reads}  # fmt: skip


#: The order of :func:`counter_layout`'s entries in the kernels' ``layout`` array.
LAYOUT_KEYS = ("backward", "c2c", "uniform", "stride", "reads", "output_reads")
L_BACKWARD, L_C2C, L_UNIFORM, L_STRIDE, L_READS, L_OUTPUT_READS = range(6)


def device_offsets(n_in: int, n_h: int, n_out: int, reference: bool) -> tuple[int, int, int, int, int]:
    """Global device index of the first device of arrays (A1, B1, A2, B2), and the total count."""
    if reference:
        a1 = n_in * (n_h + 1)
        a2 = n_h * (n_out + 1)
        return 0, 0, a1, a1, a1 + a2
    a1 = n_in * n_h
    a2 = n_h * n_out
    return 0, a1, 2 * a1, 2 * a1 + a2, 2 * a1 + 2 * a2


# ==============================================================================================
# Numba kernels (all jitted helpers live in this module: Numba's cache keys on the file)
# ==============================================================================================
@njit(cache=True)
def _normal1(key, idx, buf):
    """Draw number ``idx`` of stream ``key`` (``buf``: scratch of length 2; draws come in pairs)."""
    normals_numba(key, idx >> 1, buf)
    return buf[idx & 1]


@njit(cache=True)
def _normals(key, start, out):
    """Draws ``start, start + 1, ...`` into ``out`` (``start`` and the length even)."""
    normals_numba(key, start >> 1, out)


@njit(cache=True)
def _pulse_count(x, mode, u):
    """Whole pulses for the exact count ``x`` (signed): nearest, truncate or stochastic with ``u``."""
    if mode == 0:
        n = math.floor(abs(x) + 0.5)
        return np.int64(n) if x >= 0 else -np.int64(n)
    if mode == 1:
        return np.int64(math.trunc(x))
    return np.int64(math.floor(x + u))


@njit(cache=True)
def _write(g, P, c2c_frac, d, n, z, stats, loss):
    """``n`` pulses (signed) on device ``d`` through the device core's write; counts them in ``stats`` and adds
    ``|n|`` times the device's mean conductance over the train to ``loss[LS_WRITE_LTP]`` (or ``LTD``)."""
    g0 = g[d]
    g[d] = pulse_write(g0, n, P[0][d], P[1][d], P[2][d], P[3][d], P[4][d], P[5][d], c2c_frac, P[6], z)
    if n > 0:
        stats[ST_PULSES_LTP] += n
        loss[LS_WRITE_LTP] += n * 0.5 * (g0 + g[d])
    else:
        stats[ST_PULSES_LTD] -= n
        loss[LS_WRITE_LTD] -= n * 0.5 * (g0 + g[d])
    stats[ST_WRITES] += 1


@njit(cache=True, inline="always")
def _no_pulse(dw, mode, reject, inv_dwp_min, ref, u):
    """True when the change ``dw`` cannot give a pulse (a cheap test before :func:`_change_weight`).

    Nearest and truncate: ``|dw|`` below half a pulse or one pulse of the
    finer direction. Stochastic (uniform ``u``): below one pulse, a pulse
    needs ``u >= 1 - |x|`` (``u < |x|`` for a depression of the reference
    mapping); the test uses the largest ``|x|`` either direction could give.
    """
    if dw == 0.0:
        return True
    if mode != 2:
        return abs(dw) < reject
    xu = abs(dw) * inv_dwp_min
    if xu >= 1.0:
        return False
    if ref == 1 and dw < 0:
        return u >= xu
    return u < 1.0 - xu


@njit(cache=True)
def _change_weight(gA, PA, gB, PB, a, b, ref, dw, ip, fp, key, c2c_base, u, offA, offB, buf, stats, loss):
    """Turn the weight change ``dw`` of the weight held by devices ``A[a]``, ``B[b]`` into pulses.

    Reference column: ``A[a]`` is potentiated (dw > 0) or depressed, by the
    signed count of ``dw`` in nominal pulses of that direction. Differential:
    the crossbar's :class:`~neurosim.crossbar.config.PulsePolicy` rule
    (:func:`~neurosim.crossbar.kernels.pulse_directions`, policy ``ip[IP_POLICY]``)
    picks the devices and directions; each moved device gets ``|dw|`` in
    nominal pulses of its direction. ``SIGN_DEVICE`` moves the device holding
    the weight's sign, so a change that would carry a weight across zero stops
    there (the depressed device saturates at its G_min).
    ``u``: the weight's uniform for stochastic rounding (draw ``offA + a``).
    """
    if dw == 0.0:
        return
    mode = ip[IP_ROUND]
    c2c = fp[FP_C2C]
    if ref == 1:
        x = dw / (fp[FP_DWP_LTP] if dw > 0 else fp[FP_DWP_LTD])
        n = _pulse_count(x, mode, u)
        if n == 0:
            return
        z = _normal1(key, c2c_base + offA + a, buf) if ip[IP_C2C] == 1 else 0.0
        _write(gA, PA, c2c, a, n, z, stats, loss)
        return
    da, db = pulse_directions(dw > 0, gA[a] - gB[b], True, ip[IP_POLICY])
    if da != 0:
        n = _pulse_count(abs(dw) / (fp[FP_DWP_LTP] if da > 0 else fp[FP_DWP_LTD]), mode, u)
        if n != 0:
            z = _normal1(key, c2c_base + offA + a, buf) if ip[IP_C2C] == 1 else 0.0
            _write(gA, PA, c2c, a, da * n, z, stats, loss)
    if db != 0:
        n = _pulse_count(abs(dw) / (fp[FP_DWP_LTP] if db > 0 else fp[FP_DWP_LTD]), mode, u)
        if n != 0:
            z = _normal1(key, c2c_base + offB + b, buf) if ip[IP_C2C] == 1 else 0.0
            _write(gB, PB, c2c, b, db * n, z, stats, loss)


@njit(cache=True)
def _dac(x, ip, fp):
    """One input (input units) through the layer's DAC (identity when ideal)."""
    levels = ip[IP_DAC_LEVELS]
    if levels == 0:
        return x
    fs = fp[FP_DAC_FS]
    return dac_value(x, levels / fs, fs / levels, float(levels), 0.5)


@njit(cache=True, inline="always")
def _cell_var(g, fp):
    """Read-noise variance (S^2) a read sees of a device at ``g`` (:func:`~neurosim.crossbar.kernels.cell_read_var`
    with the layer's noise and series resistance)."""
    return cell_read_var(g, fp[FP_READ_SD], fp[FP_READ_NOISE], fp[FP_R_SERIES])


@njit(cache=True)
def _layer_read_v3(gA, n_rows, rows, vals, n_active, fp, out, acc, sums, slot):
    """NeuroSim V3's read-out of one layer (reference-column mapping, no read noise) into ``out`` (1, cols).

    Following ``Train.cpp`` (the hidden layer's read-out, lines 166-184, and the output layer's,
    360-377) and ``Mapping.cpp`` (``CurrentToDigits`` / ``DigitsToAlgorithm``, lines 101-107): the
    column current ``I = sum_i v_i I_cell(G_ij)`` (each cell through its series resistance) and the
    reference current ``I_ref = sum_i v_i (I_max + I_min) / 2`` are each truncated to codes of
    ``q = n_rows (I_max - I_min) / P`` (``P = fp[FP_PSUM_LEVELS]``; the whole layer's swing, no
    tiles), and the code difference is worth ``n_rows / P``: ``sum_i v_i w_ij / 2`` with
    ``w = 2 (I_cell - I_mid) / (I_max - I_min)``, quantised, never clipped. ``P = 0``: no
    quantisation. Returns 0 (no clipping). Adds the read's ``sum v^2 G`` over the driven rows' devices
    (the reference device included) to ``sums[slot]`` (``acc``: scratch of ``cols + 1``).
    """
    o = out[0]
    n_cols = o.shape[0]
    stride = n_cols + 1
    i_max, i_min = fp[FP_I_MAX], fp[FP_I_MIN]
    levels = fp[FP_PSUM_LEVELS]
    rs = fp[FP_R_SERIES]
    swing = n_rows * (i_max - i_min)
    for j in range(n_cols):
        o[j] = 0.0
    vsum = 0.0
    for j in range(stride):
        acc[j] = 0.0
    for p in range(n_active):
        v = vals[p]
        vsum += v
        row = rows[p] * stride
        v2 = v * v
        for j in range(n_cols):
            g = cell_conductance(gA[row + j], rs)
            o[j] += v * g
            acc[j] += v2 * g
        acc[n_cols] += v2 * cell_conductance(gA[row + n_cols], rs)  # the reference device (a cell here)
    for j in range(stride):
        sums[slot] += acc[j]
    i_ref = vsum * 0.5 * (i_max + i_min)
    if levels > 0.0:
        q = swing / levels
        ref_code = math.trunc(i_ref / q)
        for j in range(n_cols):
            o[j] = (math.trunc(o[j] / q) - ref_code) * (n_rows / levels)
    else:
        for j in range(n_cols):
            o[j] = (o[j] - i_ref) * (n_rows / swing)
    return 0


@njit(cache=True, inline="always")
def _readback_v3(g, fp):
    """NeuroSim V3's digital weight of a device at ``g`` (``Array.cpp`` ``ConductanceToWeight``, read back after
    every image, ``Train.cpp`` 617-618): linear in its read current, ``2 (I - I_min) / (I_max - I_min) - 1`` in [-1, 1]."""
    i_max, i_min = fp[FP_I_MAX], fp[FP_I_MIN]
    w = 2.0 * (cell_conductance(g, fp[FP_R_SERIES]) - i_min) / (i_max - i_min) - 1.0
    return min(max(w, -1.0), 1.0)


@njit(cache=True)
def _count_read(stats, layer, n_inputs, n_conversions, n_tiles, cells):
    """Count one read of ``layer`` for one input vector in its events block of ``stats``."""
    e = ST_EVENTS + layer * EV_SIZE
    stats[e + EV_DAC] += n_inputs
    stats[e + EV_ADC] += n_conversions
    stats[e + EV_CELLS] += cells
    stats[e + EV_TILES] += n_tiles


@njit(cache=True)
def _count_writes(stats, layer, ltp0, ltd0, writes0):
    """Count the pulses and writes made since the totals were ``ltp0, ltd0, writes0`` in ``layer``'s events block."""
    e = ST_EVENTS + layer * EV_SIZE
    stats[e + EV_LTP] += stats[ST_PULSES_LTP] - ltp0
    stats[e + EV_LTD] += stats[ST_PULSES_LTD] - ltd0
    stats[e + EV_WRITES] += stats[ST_WRITES] - writes0


@njit(cache=True)
def _sum_writes(loss, layer, g_ltp0, g_ltd0):
    """Add the write conductance sums made since the totals were ``g_ltp0, g_ltd0`` to ``layer``'s sums."""
    e = LS_SUMS + layer * SU_SIZE
    loss[e + SU_LTP] += loss[LS_WRITE_LTP] - g_ltp0
    loss[e + SU_LTD] += loss[LS_WRITE_LTD] - g_ltd0


@njit(cache=True)
def _driven(vals, n_active, ip, fp):
    """Input lines driven by ``vals[:n_active]``: those whose DAC output is non-zero."""
    n = 0
    for p in range(n_active):
        if _dac(vals[p], ip, fp) != 0.0:
            n += 1
    return n


@njit(cache=True)
def _layer_read(gA, gB, n_rows, ref, rows, vals, n_active, ip, fp, step, max_code, rkey, read0, mean, var, out,
                acc, sums, slot):  # fmt: skip
    """Forward read of one layer for one input vector, tile by tile; returns the clipped conversions.

    The active rows ``rows[:n_active]`` (values ``vals``) go through the DAC;
    each tile of ``ip[IP_TILE_ROWS]`` rows forms its column partial sums
    ``mean[0]`` (output units) and read-noise variances ``var[0]`` (output
    units^2; with the reference mapping its last entry is the reference
    devices' common variance; ``var`` is (1, 0) without read noise), then
    :func:`~neurosim.crossbar.kernels.readout_numba` draws the noise (stream
    ``counter_word(rkey, read0 + tile)``), converts with the ADC
    (``step``, ``max_code``) and adds the codes into ``out`` (1, cols). Adds the read's
    ``sum (v / V_full)^2 G`` over every device of the driven rows (both of a pair; the reference
    device) to ``sums[slot]``, per column in the scratch ``acc`` (cols + 1) as the read goes.
    """
    if ip[IP_PROTOCOL] == 1:
        return _layer_read_v3(gA, n_rows, rows, vals, n_active, fp, out, acc, sums, slot)
    n_cols = mean.shape[1]
    stride = n_cols + ref
    cells = var.shape[1] > 0
    rs = fp[FP_R_SERIES]
    inv_k = 1.0 / fp[FP_K]
    inv_k2 = inv_k * inv_k
    tile_rows = ip[IP_TILE_ROWS]
    m, vr, o = mean[0], var[0], out[0]
    for j in range(n_cols):
        o[j] = 0.0
    for j in range(n_cols + 1):
        acc[j] = 0.0
    inv_fs2 = 1.0 / (fp[FP_DAC_FS] * fp[FP_DAC_FS])
    clipped = 0
    for tile, r0 in enumerate(range(0, n_rows, tile_rows)):
        r1 = r0 + tile_rows
        for j in range(n_cols):
            m[j] = 0.0
        for j in range(vr.shape[0]):
            vr[j] = 0.0
        for p in range(n_active):
            i = rows[p]
            if i < r0 or i >= r1:
                continue
            v = _dac(vals[p], ip, fp)
            if v == 0.0:
                continue
            row = i * stride
            vn2 = v * v * inv_fs2
            if ref == 1:
                gr = cell_conductance(gA[row + n_cols], rs)
                acc[n_cols] += vn2 * gr
                for j in range(n_cols):
                    g = cell_conductance(gA[row + j], rs)
                    m[j] += v * (g - gr)
                    acc[j] += vn2 * g
            else:
                for j in range(n_cols):
                    ga = cell_conductance(gA[row + j], rs)
                    gb = cell_conductance(gB[row + j], rs)
                    m[j] += v * (ga - gb)
                    acc[j] += vn2 * (ga + gb)
            if cells:
                v2 = v * v * inv_k2
                for j in range(n_cols):
                    vr[j] += v2 * _cell_var(gA[row + j], fp)
                if ref == 1:
                    vr[n_cols] += v2 * _cell_var(gA[row + n_cols], fp)
                else:
                    for j in range(n_cols):
                        vr[j] += v2 * _cell_var(gB[row + j], fp)
        for j in range(n_cols):
            m[j] *= inv_k
        key = counter_word(rkey, read0 + tile)
        clipped += readout_numba(mean, var, ref == 1 and cells, fp[FP_OUT_VAR], step, max_code, 1.0, key, out, 0)
    for j in range(n_cols + 1):
        sums[slot] += acc[j]
    return clipped


@njit(cache=True)
def _adc_scalar(y, step, max_code):
    """The crossbar ADC (:func:`~neurosim.crossbar.kernels.adc_value`) of one value; ``step = 0``: ideal."""
    if step <= 0.0:
        return y
    return adc_value(y, 1.0 / step, step, float(max_code), 0.5)


@njit(cache=True)
def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


@njit(cache=True)
def _hidden_activations(z1, a1, h, ip, fp):
    """Sigmoid activations ``a1`` of the hidden pre-activations ``z1``, and what the next layer reads, ``h``.

    ``h`` is ``a1``, or ``a1`` thresholded to 0/1 at ``fp[FP_THRESHOLD]`` when ``ip[IP_THRESHOLD]`` is 1.
    """
    for j in range(z1.shape[0]):
        a1[j] = _sigmoid(z1[j])
        if ip[IP_THRESHOLD] == 1:
            h[j] = 1.0 if a1[j] >= fp[FP_THRESHOLD] else 0.0
        else:
            h[j] = a1[j]


@njit(cache=True)
def _output_error(z2, label, s2, loss, stats):
    """Sigmoid outputs of ``z2`` against the one-hot ``label``: the squared-error gradient ``s2`` (w.r.t. ``z2``).

    Adds the squared error to ``loss[0]`` and counts the image (and whether its arg-max is ``label``) in ``stats``.
    """
    best = 0
    for c in range(z2.shape[0]):
        if z2[c] > z2[best]:
            best = c
        a2 = _sigmoid(z2[c])
        target = 1.0 if c == label else 0.0
        s2[c] = -2.0 * a2 * (1.0 - a2) * (target - a2)
        loss[0] += (a2 - target) * (a2 - target)
    if best == label:
        stats[ST_CORRECT] += 1
    stats[ST_IMAGES] += 1


@njit(cache=True)
def train_hw_numba(
    indptr, indices, values, labels, order, t0,
    gA1, PA1, gB1, PB1, gA2, PA2, gB2, PB2,
    vel1, vel2, ip, fp, offsets, layout, key, stats, loss,
):  # fmt: skip
    """Train on ``order`` (image indices into the CSR inputs) one image at a time; see :func:`train_hw_numpy`."""
    n_in, n_h, n_out = ip[IP_NIN], ip[IP_NH], ip[IP_NOUT]
    ref = ip[IP_REF]
    k = fp[FP_K]
    rnf = fp[FP_READ_NOISE]
    rsd = fp[FP_READ_SD]
    rs = fp[FP_R_SERIES]
    cells = rnf > 0.0 or rsd > 0.0
    noisy = ip[IP_NOISY]
    out_var = fp[FP_OUT_VAR]
    off1a, off1b, off2a, off2b = offsets[0], offsets[1], offsets[2], offsets[3]
    stride = layout[L_STRIDE]
    n_reads = layout[L_READS]
    zbuf = np.zeros(n_h + 2)
    buf = np.zeros(2)
    mean1, out1 = np.zeros((1, n_h)), np.zeros((1, n_h))
    mean2, out2 = np.zeros((1, n_out)), np.zeros((1, n_out))
    acc1, acc2 = np.zeros(n_h + 1), np.zeros(n_out + 1)  # per-column scratch of the reads' v^2 G sums
    var1 = np.zeros((1, (n_h + ref) if cells else 0))
    var2 = np.zeros((1, (n_out + ref) if cells else 0))
    z1 = out1[0]
    z2 = out2[0]
    a1 = np.zeros(n_h)
    h = np.zeros(n_h)
    hrows = np.zeros(n_h, dtype=np.int64)
    hvals = np.zeros(n_h)
    s2 = np.zeros(n_out)
    d = np.zeros(n_out)
    e = np.zeros(n_h)
    s1 = np.zeros(n_h)
    key_i = np.uint64(key)
    ukey = key_i ^ SALT  # the stream of the stochastic-rounding uniforms
    rkey = key_i ^ READ_SALT  # the stream of the tile reads' keys
    # |dw| below this gives no pulse whatever the device state (nearest: half a pulse; truncate: one pulse)
    mode = ip[IP_ROUND]
    dwp_min = min(fp[FP_DWP_LTP], fp[FP_DWP_LTD])
    reject = 0.5 * dwp_min if mode == 0 else (dwp_min if mode == 1 else 0.0)
    inv_dwp_min = 1.0 / dwp_min
    tiles1 = layout[L_OUTPUT_READS]
    tiles2 = n_reads - tiles1
    row_cells1 = n_h + 1 if ref == 1 else 2 * n_h  # devices one driven row reads
    row_cells2 = n_out + 1 if ref == 1 else 2 * n_out
    for b in range(order.shape[0]):
        t = order[b]
        base = (t0 + b) * stride
        read0 = (t0 + b) * n_reads
        c2c_base = base + layout[L_C2C]
        uni_base = base + layout[L_UNIFORM]
        p0, p1 = indptr[t], indptr[t + 1]
        rows = indices[p0:p1]
        vals = values[p0:p1]
        # -- forward: hidden layer ------------------------------------------------------------
        stats[ST_CLIP_HIDDEN] += _layer_read(
            gA1, gB1, n_in, ref, rows, vals, p1 - p0, ip, fp, fp[FP_STEP1], fp[FP_MAX1], rkey, read0, mean1, var1, out1,
            acc1, loss, LS_SUMS + SU_V2G,
        )  # fmt: skip
        _count_read(stats, 0, n_in, n_h * tiles1, tiles1, _driven(vals, p1 - p0, ip, fp) * row_cells1)
        _hidden_activations(z1, a1, h, ip, fp)
        n_active = 0
        for j in range(n_h):
            if h[j] != 0.0:
                hrows[n_active] = j
                hvals[n_active] = h[j]
                n_active += 1
        # -- forward: output layer ------------------------------------------------------------
        stats[ST_CLIP_OUTPUT] += _layer_read(
            gA2, gB2, n_h, ref, hrows, hvals, n_active, ip, fp, fp[FP_STEP2], fp[FP_MAX2],
            rkey, read0 + layout[L_OUTPUT_READS], mean2, var2, out2, acc2, loss, LS_SUMS + SU_SIZE + SU_V2G,
        )  # fmt: skip
        _count_read(stats, 1, n_h, n_out * tiles2, tiles2, _driven(hvals, n_active, ip, fp) * row_cells2)
        _output_error(z2, labels[t], s2, loss, stats)
        # -- backward: hidden error -------------------------------------------------------------
        stride2 = n_out + ref
        if ip[IP_BACKWARD] == 0 and ip[IP_PROTOCOL] == 1:
            for j in range(n_h):
                row = j * stride2
                tot = 0.0
                for c in range(n_out):
                    tot += _readback_v3(gA2[row + c], fp) * s2[c]
                e[j] = tot
        elif ip[IP_BACKWARD] == 0:
            for j in range(n_h):
                row = j * stride2
                tot = 0.0
                for c in range(n_out):
                    gb = gA2[row + n_out] if ref == 1 else gB2[row + c]
                    tot += (cell_conductance(gA2[row + c], rs) - cell_conductance(gb, rs)) * s2[c]
                e[j] = tot / k
        else:
            scale = 0.0
            for c in range(n_out):
                if abs(s2[c]) > scale:
                    scale = abs(s2[c])
            if scale == 0.0:
                scale = 1.0
            dsum = 0.0
            driven = 0
            for c in range(n_out):
                d[c] = _dac(s2[c] / scale, ip, fp)
                dsum += d[c]
                if d[c] != 0.0:
                    driven += 1
            # the transposed read: one conversion per row; each driven column reads its devices of every row
            # (both of a pair; with the reference mapping also the reference column, driven in every read)
            _count_read(stats, 1, n_out, n_h, tiles2, (driven + 1) * n_h if ref == 1 else 2 * driven * n_h)
            if noisy == 1:
                _normals(key_i, base + layout[L_BACKWARD], zbuf[: n_h + (n_h & 1)])
            inv_fs2 = 1.0 / (fp[FP_DAC_FS] * fp[FP_DAC_FS])
            v2g = 0.0  # each driven column's devices (both of a pair); the reference column at minus the sum
            for j in range(n_h):
                row = j * stride2
                tot = 0.0
                vv = 0.0
                for c in range(n_out):
                    ga = gA2[row + c]
                    gb = gA2[row + n_out] if ref == 1 else gB2[row + c]
                    tot += d[c] * (cell_conductance(ga, rs) - cell_conductance(gb, rs))
                    v2g += d[c] * d[c] * (cell_conductance(ga, rs) + (0.0 if ref == 1 else cell_conductance(gb, rs)))
                    if cells:
                        vv += d[c] * d[c] * _cell_var(ga, fp)
                        if ref == 0:
                            vv += d[c] * d[c] * _cell_var(gb, fp)
                if ref == 1:
                    v2g += dsum * dsum * cell_conductance(gA2[row + n_out], rs)
                if cells and ref == 1:
                    vv += dsum * dsum * _cell_var(gA2[row + n_out], fp)
                y = tot / k
                if noisy == 1:
                    y += math.sqrt(out_var + vv / (k * k)) * zbuf[j]
                yq = _adc_scalar(y, fp[FP_STEPB], fp[FP_MAXB])
                if fp[FP_STEPB] > 0.0 and adc_clipped(y, 1.0 / fp[FP_STEPB], 0.5, fp[FP_MAXB] + 1.0):
                    stats[ST_CLIP_BACKWARD] += 1
                e[j] = yq * scale
            loss[LS_SUMS + SU_SIZE + SU_V2G] += v2g * inv_fs2
        for j in range(n_h):
            s1[j] = a1[j] * (1.0 - a1[j]) * e[j]
        # -- updates: pulses ------------------------------------------------------------------
        ltp0, ltd0, writes0 = stats[ST_PULSES_LTP], stats[ST_PULSES_LTD], stats[ST_WRITES]
        g_ltp0, g_ltd0 = loss[LS_WRITE_LTP], loss[LS_WRITE_LTD]
        lr1, lr2 = fp[FP_LR1], fp[FP_LR2]
        stride1 = n_h + ref
        if ip[IP_MOMENTUM] == 1:
            mu = fp[FP_MOMENTUM]
            for q in range(vel1.shape[0]):
                vel1[q] *= mu
            for p in range(p1 - p0):
                i = rows[p]
                for j in range(n_h):
                    vel1[i * n_h + j] -= lr1 * s1[j] * vals[p]
            for i in range(n_in):
                for j in range(n_h):
                    dw = vel1[i * n_h + j]
                    a = i * stride1 + j
                    u = uniform(ukey, uni_base + off1a + a) if mode == 2 else 0.0
                    if _no_pulse(dw, mode, reject, inv_dwp_min, ref, u):
                        continue
                    bb = i * stride1 + n_h if ref == 1 else a
                    _change_weight(gA1, PA1, gB1, PB1, a, bb, ref, dw, ip, fp, key_i, c2c_base,
                                   u, off1a, off1b, buf, stats, loss)  # fmt: skip
        else:
            for j in range(n_h):
                e[j] = -lr1 * s1[j]  # reused: the first layer's weight change per unit input
            for p in range(p1 - p0):
                i = rows[p]
                v = vals[p]
                for j in range(n_h):
                    dw = e[j] * v
                    a = i * stride1 + j
                    u = uniform(ukey, uni_base + off1a + a) if mode == 2 else 0.0
                    if _no_pulse(dw, mode, reject, inv_dwp_min, ref, u):
                        continue
                    bb = i * stride1 + n_h if ref == 1 else a
                    _change_weight(gA1, PA1, gB1, PB1, a, bb, ref, dw, ip, fp, key_i, c2c_base,
                                   u, off1a, off1b, buf, stats, loss)  # fmt: skip
        _count_writes(stats, 0, ltp0, ltd0, writes0)
        _sum_writes(loss, 0, g_ltp0, g_ltd0)
        ltp0, ltd0, writes0 = stats[ST_PULSES_LTP], stats[ST_PULSES_LTD], stats[ST_WRITES]
        g_ltp0, g_ltd0 = loss[LS_WRITE_LTP], loss[LS_WRITE_LTD]
        if ip[IP_MOMENTUM] == 1:
            mu = fp[FP_MOMENTUM]
            for j in range(n_h):
                u2 = h[j] if ip[IP_HIDDEN_UPDATE] == 1 else a1[j]
                for c in range(n_out):
                    q = j * n_out + c
                    vel2[q] = mu * vel2[q] - lr2 * s2[c] * u2
        for j in range(n_h):
            u2 = h[j] if ip[IP_HIDDEN_UPDATE] == 1 else a1[j]
            if u2 == 0.0 and ip[IP_MOMENTUM] == 0:
                continue
            for c in range(n_out):
                a = j * stride2 + c
                bb = j * stride2 + n_out if ref == 1 else a
                dw = vel2[j * n_out + c] if ip[IP_MOMENTUM] == 1 else -lr2 * s2[c] * u2
                u = uniform(ukey, uni_base + off2a + a) if mode == 2 else 0.0
                if _no_pulse(dw, mode, reject, inv_dwp_min, ref, u):
                    continue
                _change_weight(gA2, PA2, gB2, PB2, a, bb, ref, dw, ip, fp, key_i, c2c_base,
                               u, off2a, off2b, buf, stats, loss)  # fmt: skip
        _count_writes(stats, 1, ltp0, ltd0, writes0)
        _sum_writes(loss, 1, g_ltp0, g_ltd0)
    return stats


@njit(cache=True)
def train_float_numba(indptr, indices, values, labels, order, W1, W2, vel1, vel2, ip, fp, stats, loss):
    """Float-weight training on ``order``, one image at a time; see :func:`train_float_numpy`."""
    n_h, n_out = ip[IP_NH], ip[IP_NOUT]
    wmax = fp[FP_WMAX]
    lr1, lr2 = fp[FP_LR1], fp[FP_LR2]
    mu = fp[FP_MOMENTUM]
    z1 = np.zeros(n_h)
    a1 = np.zeros(n_h)
    h = np.zeros(n_h)
    z2 = np.zeros(n_out)
    s2 = np.zeros(n_out)
    s1 = np.zeros(n_h)
    g1 = np.zeros(n_h)
    for b in range(order.shape[0]):
        t = order[b]
        p0, p1 = indptr[t], indptr[t + 1]
        for j in range(n_h):
            z1[j] = 0.0
        for p in range(p0, p1):
            row = indices[p] * n_h
            v = values[p]
            for j in range(n_h):
                z1[j] += v * W1[row + j]
        for j in range(n_h):
            z1[j] = _adc_scalar(z1[j], fp[FP_STEP1], fp[FP_MAX1])
        _hidden_activations(z1, a1, h, ip, fp)
        for c in range(n_out):
            z2[c] = 0.0
        for j in range(n_h):
            if h[j] != 0.0:
                row = j * n_out
                for c in range(n_out):
                    z2[c] += h[j] * W2[row + c]
        for c in range(n_out):
            z2[c] = _adc_scalar(z2[c], fp[FP_STEP2], fp[FP_MAX2])
        _output_error(z2, labels[t], s2, loss, stats)
        for j in range(n_h):
            row = j * n_out
            tot = 0.0
            for c in range(n_out):
                tot += W2[row + c] * s2[c]
            s1[j] = a1[j] * (1.0 - a1[j]) * tot
            g1[j] = -lr1 * s1[j]
        if ip[IP_MOMENTUM] == 1:
            for q in range(vel1.shape[0]):
                vel1[q] *= mu
            for p in range(p0, p1):
                row = indices[p] * n_h
                v = values[p]
                for j in range(n_h):
                    vel1[row + j] += g1[j] * v
            for q in range(vel1.shape[0]):
                W1[q] = min(max(W1[q] + vel1[q], -wmax), wmax)
        else:
            for p in range(p0, p1):
                row = indices[p] * n_h
                v = values[p]
                for j in range(n_h):
                    W1[row + j] = min(max(W1[row + j] + g1[j] * v, -wmax), wmax)
        for j in range(n_h):
            u2 = h[j] if ip[IP_HIDDEN_UPDATE] == 1 else a1[j]
            row = j * n_out
            for c in range(n_out):
                dw = -lr2 * s2[c] * u2
                if ip[IP_MOMENTUM] == 1:
                    vel2[row + c] = mu * vel2[row + c] + dw
                    dw = vel2[row + c]
                W2[row + c] = min(max(W2[row + c] + dw, -wmax), wmax)
    return stats


# ==============================================================================================
# NumPy twins (the specification)
# ==============================================================================================
def _adc_numpy(y, step, max_code):
    """The crossbar ADC (:func:`~neurosim.crossbar.kernels.readout_numpy` without noise) of ``y`` (any shape); returns (codes x step, clips)."""
    y = np.asarray(y, dtype=np.float64)
    rows = np.ascontiguousarray(y.reshape(-1, y.shape[-1] if y.ndim else 1))
    out = np.zeros_like(rows)
    clipped = readout_numpy(rows, rows[:, :0], False, 0.0, step, max_code, 1.0, np.uint64(0), out, 0)
    return out.reshape(y.shape), clipped


def _sigmoid_numpy(z):
    return 1.0 / (1.0 + np.exp(-z))


def _layer_views(gA, gB, n_rows, n_cols, ref):
    """(positive, negative) conductance matrices (rows, cols) / (rows, 1) of a layer's flat arrays."""
    A = gA.reshape(n_rows, n_cols + ref)
    if ref:
        return A[:, :n_cols], A[:, n_cols:]
    return A, gB.reshape(n_rows, n_cols)


def _dac_numpy(x, ip, fp):
    """Inputs (1-D) through the layer's DAC (:func:`~neurosim.crossbar.kernels.dac_levels_numpy`)."""
    x = np.asarray(x, dtype=np.float64)[None, :]
    out, sq = np.empty_like(x), np.empty_like(x)
    dac_levels_numpy(x, fp[FP_DAC_FS], int(ip[IP_DAC_LEVELS]), out, sq, np.zeros(x.shape[1], dtype=np.int64))
    return out[0]


def _cell_g_numpy(g, fp):
    """NumPy twin of :func:`~neurosim.crossbar.kernels.cell_conductance` with the layer's series resistance."""
    return cell_conductance_S(g, fp[FP_R_SERIES])


def _cell_var_numpy(g, fp):
    """NumPy twin of :func:`_cell_var`."""
    return cell_read_var_numpy(g, fp[FP_READ_SD], fp[FP_READ_NOISE], fp[FP_R_SERIES])


def _layer_read_v3_numpy(pos, vals_by_row, fp):
    """NumPy twin of :func:`_layer_read_v3` for a batch: ``vals_by_row`` (batch, rows) drives ``pos`` (rows, cols)."""
    n_rows = pos.shape[0]
    i_max, i_min, levels = fp[FP_I_MAX], fp[FP_I_MIN], fp[FP_PSUM_LEVELS]
    swing = n_rows * (i_max - i_min)
    current = vals_by_row @ _cell_g_numpy(pos, fp)
    i_ref = vals_by_row.sum(axis=1, keepdims=True) * (0.5 * (i_max + i_min))
    if levels > 0:
        q = swing / levels
        return (np.trunc(current / q) - np.trunc(i_ref / q)) * (n_rows / levels)
    return (current - i_ref) * (n_rows / swing)


def _readback_v3_numpy(g, fp):
    """NumPy twin of :func:`_readback_v3`."""
    i_max, i_min = fp[FP_I_MAX], fp[FP_I_MIN]
    return np.clip(2.0 * (_cell_g_numpy(g, fp) - i_min) / (i_max - i_min) - 1.0, -1.0, 1.0)


def _layer_read_numpy(pos, neg, ref, rows, vals, ip, fp, step, max_code, rkey, read0):
    """NumPy twin of :func:`_layer_read`: the layer's outputs (1-D) and the clipped conversions."""
    n_rows, n = pos.shape
    if ip[IP_PROTOCOL] == 1:
        x = np.zeros((1, n_rows))
        np.add.at(x[0], rows, vals)
        return _layer_read_v3_numpy(pos, x, fp)[0], 0
    cells = fp[FP_READ_NOISE] > 0 or fp[FP_READ_SD] > 0
    inv_k = 1.0 / fp[FP_K]
    v = _dac_numpy(vals, ip, fp)
    out = np.zeros((1, n))
    clipped = 0
    tile_rows = int(ip[IP_TILE_ROWS])
    for tile, r0 in enumerate(range(0, n_rows, tile_rows)):
        inside = (rows >= r0) & (rows < r0 + tile_rows)
        r, vt = rows[inside], v[inside]
        mean = (vt @ (_cell_g_numpy(pos[r], fp) - _cell_g_numpy(neg[r], fp)) * inv_k)[None, :]
        var = np.zeros((1, 0))
        if cells:
            v2 = vt * vt * inv_k * inv_k
            var = v2 @ _cell_var_numpy(pos[r], fp)
            if ref:
                var = np.append(var, v2 @ _cell_var_numpy(neg[r, 0], fp))
            else:
                var = var + v2 @ _cell_var_numpy(neg[r], fp)
            var = var[None, :]
        key = counter_words_numpy(rkey, read0 + tile)
        clipped += readout_numpy(mean, var, bool(ref and cells), fp[FP_OUT_VAR], step, max_code, 1.0, key, out, 0)
    return out[0], clipped


def _pulse_count_numpy(x, mode, u):
    if mode == 0:
        return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)
    if mode == 1:
        return np.trunc(x).astype(np.int64)
    return np.floor(x + u).astype(np.int64)


def _write_numpy(g, P, c2c_frac, idx, n, key, c2c_base, off, stats, loss):
    """Apply signed pulses ``n`` to devices ``idx`` of ``g`` through the device core's write (NumPy twin)."""
    keep = n != 0
    idx, n = idx[keep], n[keep]
    if idx.size == 0:
        return
    stats[ST_PULSES_LTP] += int(n[n > 0].sum())
    stats[ST_PULSES_LTD] += int(-n[n < 0].sum())
    stats[ST_WRITES] += idx.size
    z = normals_from_counters_numpy(key, c2c_base + off + idx) if c2c_frac > 0 else np.zeros(idx.size)
    g0 = g[idx].copy()
    g[idx] = pulse_write_numpy(g0, n, *(p[idx] for p in P[:6]), c2c_frac, P[6], z)
    mean = 0.5 * (g0 + g[idx])
    loss[LS_WRITE_LTP] += float(np.sum(np.maximum(n, 0) * mean))
    loss[LS_WRITE_LTD] += float(np.sum(np.maximum(-n, 0) * mean))


def _change_weights_numpy(gA, PA, gB, PB, a, b, ref, dw, ip, fp, key, c2c_base, uni_base, offA, offB, stats, loss):
    """Vectorised :func:`_change_weight` for weights held by devices ``A[a]``, ``B[b]`` (flat index arrays)."""
    a, b, dw = a.ravel(), b.ravel(), dw.ravel()
    nz = dw != 0
    a, b, dw = a[nz], b[nz], dw[nz]
    mode = ip[IP_ROUND]
    u = np.zeros(dw.size)
    if mode == 2:
        u = uniform_numpy(np.uint64(key) ^ SALT, uni_base + offA + a)
    c2c = fp[FP_C2C]
    up = dw > 0
    if ref:
        x = dw / np.where(up, fp[FP_DWP_LTP], fp[FP_DWP_LTD])
        n = _pulse_count_numpy(x, mode, u)
        _write_numpy(gA, PA, c2c, a, n, key, c2c_base, offA, stats, loss)
        return
    d_pos, d_neg = pulse_directions_numpy(up, gA[a] - gB[b], True, int(ip[IP_POLICY]))
    for g, P, idx, direction, off in ((gA, PA, a, d_pos, offA), (gB, PB, b, d_neg, offB)):
        moved = direction != 0
        x = np.abs(dw[moved]) / np.where(direction[moved] > 0, fp[FP_DWP_LTP], fp[FP_DWP_LTD])
        n = direction[moved] * _pulse_count_numpy(x, mode, u[moved])
        _write_numpy(g, P, c2c, idx[moved], n, key, c2c_base, off, stats, loss)


def _weight_indices(n_rows, n_cols, ref, rows=None):
    """Flat device indices (A, B) of the weights in ``rows`` (all rows if None), shape (rows, cols)."""
    rows = np.arange(n_rows) if rows is None else np.asarray(rows, dtype=np.int64)
    stride = n_cols + ref
    a = rows[:, None] * stride + np.arange(n_cols)[None, :]
    b = np.broadcast_to(rows[:, None] * stride + n_cols, a.shape) if ref else a
    return a, b


def train_hw_numpy(
    indptr, indices, values, labels, order, t0,
    gA1, PA1, gB1, PB1, gA2, PA2, gB2, PB2,
    vel1, vel2, ip, fp, offsets, layout, key, stats, loss,
):  # fmt: skip
    """NumPy twin of :func:`train_hw_numba` (the specification).

    For each image ``t = order[b]`` (run counter ``T = t0 + b``, counters from
    ``T * layout[L_STRIDE]``, tile reads from ``T * layout[L_READS]``): read the hidden layer
    (inputs: CSR row ``t``) tile by tile (:func:`_layer_read_numpy`), ADC,
    ``a1 = sigmoid``, ``h = [a1 >= threshold]`` (or ``a1``); read the output
    layer with ``h``; ``s2 = -2 a2 (1 - a2) (onehot - a2)``; hidden error
    ``e = W2 s2`` (digital, W from the conductances) or by a transposed read;
    ``s1 = a1 (1 - a1) e``; weight changes ``-lr1 s1 x`` (active rows only)
    and ``-lr2 s2 a1`` (or ``h``), through momentum if enabled, each turned
    into pulses on the devices the pulse policy picks (:func:`_change_weight`). Updates the
    conductances ``gA*, gB*``, the velocities, ``stats`` and the float statistics ``loss``
    (``loss[LS_LOSS]``: the sum of squared errors; the conductance sums of the reads and writes, ``LS_*``;
    an array of ``LS_SIZE``) in place.
    """
    n_in, n_h, n_out = int(ip[IP_NIN]), int(ip[IP_NH]), int(ip[IP_NOUT])
    ref = int(ip[IP_REF])
    k, out_var = fp[FP_K], fp[FP_OUT_VAR]
    noisy = bool(ip[IP_NOISY])
    stride, n_reads = int(layout[L_STRIDE]), int(layout[L_READS])
    key = np.uint64(key)
    rkey = key ^ READ_SALT
    pos1, neg1 = _layer_views(gA1, gB1, n_in, n_h, ref)
    pos2, neg2 = _layer_views(gA2, gB2, n_h, n_out, ref)
    lr1, lr2, mu = fp[FP_LR1], fp[FP_LR2], fp[FP_MOMENTUM]
    tiles = (-(-n_in // int(ip[IP_TILE_ROWS])), -(-n_h // int(ip[IP_TILE_ROWS])))
    row_devices = (n_h + 1, n_out + 1) if ref else (2 * n_h, 2 * n_out)  # devices one driven row reads
    events = stats[ST_EVENTS:].reshape(2, EV_SIZE)  # a view: (layer, event)
    for b, t in enumerate(np.asarray(order)):
        base = (int(t0) + b) * stride
        read0 = (int(t0) + b) * n_reads
        c2c_base, uni_base = base + int(layout[L_C2C]), base + int(layout[L_UNIFORM])
        rows = np.asarray(indices[indptr[t] : indptr[t + 1]], dtype=np.int64)
        vals = np.asarray(values[indptr[t] : indptr[t + 1]], dtype=np.float64)
        z1, clipped = _layer_read_numpy(pos1, neg1, ref, rows, vals, ip, fp, fp[FP_STEP1], fp[FP_MAX1], rkey, read0)
        stats[ST_CLIP_HIDDEN] += clipped
        a1 = _sigmoid_numpy(z1)
        h = (a1 >= fp[FP_THRESHOLD]).astype(np.float64) if ip[IP_THRESHOLD] else a1
        hrows = np.flatnonzero(h)
        z2, clipped = _layer_read_numpy(
            pos2, neg2, ref, hrows, h[hrows], ip, fp, fp[FP_STEP2], fp[FP_MAX2], rkey, read0 + int(layout[L_OUTPUT_READS])
        )
        stats[ST_CLIP_OUTPUT] += clipped
        sums = loss[LS_SUMS:].reshape(2, SU_SIZE)  # a view: (layer, sum)
        for layer, (x, r, n, n_out_l, pos, neg) in enumerate(((vals, rows, n_in, n_h, pos1, neg1),
                                                              (h[hrows], hrows, n_h, n_out, pos2, neg2))):  # fmt: skip
            driven = np.count_nonzero(_dac_numpy(x, ip, fp))
            events[layer, [EV_DAC, EV_ADC, EV_CELLS, EV_TILES]] += (n, n_out_l * tiles[layer],
                                                                    driven * row_devices[layer], tiles[layer])  # fmt: skip
            v = x if ip[IP_PROTOCOL] == 1 else _dac_numpy(x, ip, fp) / fp[FP_DAC_FS]
            row_g = _cell_g_numpy(pos[r], fp).sum(axis=1) + (_cell_g_numpy(neg[r, 0], fp) if ref else
                                                              _cell_g_numpy(neg[r], fp).sum(axis=1))  # fmt: skip
            sums[layer, SU_V2G] += float(np.sum(v * v * row_g))
        a2 = _sigmoid_numpy(z2)
        target = np.zeros(n_out)
        target[labels[t]] = 1.0
        s2 = -2.0 * a2 * (1.0 - a2) * (target - a2)
        loss[0] += float(np.sum((a2 - target) ** 2))
        stats[ST_CORRECT] += int(np.argmax(z2) == labels[t])
        stats[ST_IMAGES] += 1
        W2 = _cell_g_numpy(pos2, fp) - _cell_g_numpy(neg2, fp)  # (n_h, n_out), siemens, as the cells read
        if ip[IP_BACKWARD] == 0 and ip[IP_PROTOCOL] == 1:
            e = _readback_v3_numpy(pos2, fp) @ s2
        elif ip[IP_BACKWARD] == 0:
            e = (W2 @ s2) / k
        else:
            scale = np.max(np.abs(s2))
            scale = 1.0 if scale == 0 else scale
            d = _dac_numpy(s2 / scale, ip, fp)
            driven = np.count_nonzero(d) + (1 if ref else 0)  # the reference column is driven in every read
            events[1, [EV_DAC, EV_ADC, EV_CELLS, EV_TILES]] += (n_out, n_h, driven * n_h * (1 if ref else 2), tiles[1])
            y = (W2 @ d) / k
            col_g = _cell_g_numpy(pos2, fp).sum(axis=0) + (0.0 if ref else _cell_g_numpy(neg2, fp).sum(axis=0))
            ref_g = float(_cell_g_numpy(neg2[:, 0], fp).sum()) * np.sum(d) ** 2 if ref else 0.0
            sums[1, SU_V2G] += (float(np.sum(d * d * col_g)) + ref_g) / fp[FP_DAC_FS] ** 2
            if noisy:
                vv = _cell_var_numpy(pos2, fp) @ (d * d)
                if ref:
                    vv = vv + np.sum(d) ** 2 * _cell_var_numpy(neg2[:, 0], fp)
                else:
                    vv = vv + _cell_var_numpy(neg2, fp) @ (d * d)
                z = normals_from_counters_numpy(key, base + int(layout[L_BACKWARD]) + np.arange(n_h))
                y = y + np.sqrt(out_var + vv / (k * k)) * z
            yq, clipped = _adc_numpy(y, fp[FP_STEPB], fp[FP_MAXB])
            stats[ST_CLIP_BACKWARD] += clipped
            e = yq * scale
        s1 = a1 * (1.0 - a1) * e
        u2 = h if ip[IP_HIDDEN_UPDATE] == 1 else a1
        if ip[IP_MOMENTUM]:
            v1 = vel1.reshape(n_in, n_h)
            v1 *= mu
            v1[rows] -= (lr1 * s1)[None, :] * vals[:, None]
            a, bb = _weight_indices(n_in, n_h, ref)
            dw1 = v1.copy()
            v2 = vel2.reshape(n_h, n_out)
            v2[...] = mu * v2 - (lr2 * s2)[None, :] * u2[:, None]
            a2i, b2i = _weight_indices(n_h, n_out, ref)
            dw2 = v2.copy()
        else:
            a, bb = _weight_indices(n_in, n_h, ref, rows)
            dw1 = (-lr1 * s1)[None, :] * vals[:, None]
            a2i, b2i = _weight_indices(n_h, n_out, ref)
            dw2 = (-lr2 * s2)[None, :] * u2[:, None]
        args = (ip, fp, key, c2c_base, uni_base)
        for layer, (gA, PA, gB, PB, ai, bi, dw, oa, ob) in enumerate(
            ((gA1, PA1, gB1, PB1, a, bb, dw1, offsets[0], offsets[1]), (gA2, PA2, gB2, PB2, a2i, b2i, dw2, offsets[2], offsets[3]))
        ):
            before, g_before = stats[[ST_PULSES_LTP, ST_PULSES_LTD, ST_WRITES]], loss[[LS_WRITE_LTP, LS_WRITE_LTD]]
            _change_weights_numpy(gA, PA, gB, PB, ai, bi, ref, dw, *args, int(oa), int(ob), stats, loss)
            events[layer, [EV_LTP, EV_LTD, EV_WRITES]] += stats[[ST_PULSES_LTP, ST_PULSES_LTD, ST_WRITES]] - before
            sums[layer, [SU_LTP, SU_LTD]] += loss[[LS_WRITE_LTP, LS_WRITE_LTD]] - g_before
    return stats


def train_float_numpy(indptr, indices, values, labels, order, W1, W2, vel1, vel2, ip, fp, stats, loss):
    """NumPy twin of :func:`train_float_numba`: the same network with float weights (clipped to ``weight_max``).

    Optional hardware effects: the ADC quantisation of both layers' outputs
    (``FP_STEP*``) and the hidden threshold (``IP_THRESHOLD``). No noise, no devices.
    """
    n_in, n_h, n_out = int(ip[IP_NIN]), int(ip[IP_NH]), int(ip[IP_NOUT])
    wmax, lr1, lr2, mu = fp[FP_WMAX], fp[FP_LR1], fp[FP_LR2], fp[FP_MOMENTUM]
    w1, w2 = W1.reshape(n_in, n_h), W2.reshape(n_h, n_out)
    for t in np.asarray(order):
        rows = np.asarray(indices[indptr[t] : indptr[t + 1]], dtype=np.int64)
        vals = np.asarray(values[indptr[t] : indptr[t + 1]], dtype=np.float64)
        z1, _ = _adc_numpy(vals @ w1[rows], fp[FP_STEP1], fp[FP_MAX1])
        a1 = _sigmoid_numpy(z1)
        h = (a1 >= fp[FP_THRESHOLD]).astype(np.float64) if ip[IP_THRESHOLD] else a1
        z2, _ = _adc_numpy(h @ w2, fp[FP_STEP2], fp[FP_MAX2])
        a2 = _sigmoid_numpy(z2)
        target = np.zeros(n_out)
        target[labels[t]] = 1.0
        s2 = -2.0 * a2 * (1.0 - a2) * (target - a2)
        loss[0] += float(np.sum((a2 - target) ** 2))
        stats[ST_CORRECT] += int(np.argmax(z2) == labels[t])
        stats[ST_IMAGES] += 1
        s1 = a1 * (1.0 - a1) * (w2 @ s2)
        g1 = (-lr1 * s1)[None, :] * vals[:, None]
        u2 = h if ip[IP_HIDDEN_UPDATE] == 1 else a1
        dw2 = (-lr2 * s2)[None, :] * u2[:, None]
        if ip[IP_MOMENTUM]:
            v1, v2 = vel1.reshape(n_in, n_h), vel2.reshape(n_h, n_out)
            v1 *= mu
            v1[rows] += g1
            w1[...] = np.clip(w1 + v1, -wmax, wmax)
            v2[...] = mu * v2 + dw2
            dw2 = v2
        else:
            w1[rows] = np.clip(w1[rows] + g1, -wmax, wmax)
        w2[...] = np.clip(w2 + dw2, -wmax, wmax)
    return stats
