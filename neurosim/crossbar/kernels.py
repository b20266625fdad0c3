"""Crossbar read kernels: the input DAC (which also checks the inputs), sparse-input products, the read-out.

Each kernel exists twice: a Numba version (lazily compiled, cached, serial,
``nogil``) and a plain-NumPy twin that is its specification; the tests run
both and compare. The jitted helpers live in this module, except the
counter-based Gaussian draws of :mod:`neurosim.streams`, which the read-out
inlines: Numba's cache keys on this file only, so clear ``NUMBA_CACHE_DIR``
after editing that module (CI always starts from an empty cache).
"""

import math

import numpy as np
from numba import njit

from neurosim.streams import _U64, _fill_normals_bulk, normals_from_counters_numpy


# -- helpers ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _any_nonzero(a):
    """Whether the 1-D array ``a`` has a non-zero entry (a reduction that vectorises)."""
    found = False
    for i in range(a.shape[0]):
        found |= a[i] != 0
    return found


@njit(cache=True)
def _in_dtype(a, values):
    """``values`` (a tuple of floats) as an array of ``a``'s dtype: scalars in the compute precision."""
    out = np.empty(len(values), dtype=a.dtype)
    for i in range(len(values)):
        out[i] = values[i]
    return out


# -- one cell: what a read sees of a device through its series resistance ------------------
@njit(cache=True, nogil=True, inline="always")
def cell_conductance(g, r):
    """Conductance (S) a read sees of a device at ``g`` (S) in series with ``r`` ohm: ``g / (1 + g r)``.

    The jitted twin of :func:`neurosim.crossbar.wires.cell_conductance_S`; ``g`` itself when ``r = 0``
    (callers hoist ``r`` out of their loops, so the common case compiles to the loop without it).
    """
    return g if r == 0.0 else g / (1.0 + g * r)


@njit(cache=True, nogil=True)
def cell_read_var(g, sd_S, frac, r):
    """Read-noise variance (S^2) a read sees of a device at ``g`` (S) in series with ``r`` ohm.

    The device's own standard deviation is ``sd_S`` (constant read noise:
    ``read_noise_frac * G_max``) plus ``frac * g`` (proportional read
    noise), one of the two zero, as :func:`neurosim.device.noise.read_sigma_S`
    says; the series resistor scales it by ``(1 + g r)^-2``, the derivative
    of :func:`cell_conductance` (the tile's read matrices do the same).
    """
    att = 1.0 / (1.0 + g * r)
    att2 = att * att
    return (sd_S * sd_S + frac * frac * g * g) * (att2 * att2)


def cell_read_var_numpy(g, sd_S, frac, r):
    """NumPy twin of :func:`cell_read_var` (``g`` an array)."""
    return (sd_S**2 + frac**2 * g * g) * (1.0 / (1.0 + g * r)) ** 4


# -- converters of one value: the DAC and ADC arithmetic every read uses ---------------------
@njit(cache=True, nogil=True, inline="always")
def dac_value(x, to_steps, step, top, half):
    """One input through the DAC: ``|x| * to_steps`` clipped to ``top`` steps, rounded half up, times ``step``, sign kept.

    ``to_steps = levels / full_scale``, ``step = full_scale / levels``,
    ``top = levels`` and ``half = 0.5``, all in the compute precision (see
    :func:`dac_levels_numpy`). Input units in and out.
    """
    q = np.floor(min(abs(x) * to_steps, top) + half) * step
    return q if x >= 0 else -q


@njit(cache=True, nogil=True, inline="always")
def adc_value(y, inv_step, step, top, half):
    """One conversion of the symmetric ADC: ``|y| / step`` rounded half up, capped at ``top`` codes, sign kept.

    Returns the code times ``step`` (output units). ``inv_step = 1 / step``,
    ``top = max_code``, ``half = 0.5``, all in the compute precision; the
    conversion clipped when ``|y| * inv_step + half >= top + 1`` (see
    :func:`readout_numpy`).
    """
    code = min(np.floor(abs(y) * inv_step + half), top) * step
    return code if y >= 0 else -code


@njit(cache=True, nogil=True, inline="always")
def adc_clipped(y, inv_step, half, limit):
    """Whether the conversion of ``y`` by :func:`adc_value` clipped: ``|y| / step + 0.5 >= max_code + 1``.

    ``limit = max_code + 1``; the other arguments as :func:`adc_value`'s.
    """
    return abs(y) * inv_step + half >= limit


# -- weight updates: which devices a pulse train moves ----------------------------------------
#: :class:`~neurosim.crossbar.config.PulsePolicy` as the kernels' integer code.
POLICY_CODES = {"sign_device": 0, "both": 1}


@njit(cache=True, nogil=True)
def pulse_directions(up, w, differential, policy):
    """The rule of :class:`~neurosim.crossbar.config.PulsePolicy` for one weight: ``(dir_pos, dir_neg)``.

    ``up``: the weight is to rise (else fall); ``w``: its sign-carrying value
    now (any units, ``G+ - G-``); ``differential``: the differential mapping
    (else the reference column, whose weight device is ``pos``); ``policy``:
    :data:`POLICY_CODES`. Each direction is +1 (potentiate), -1 (depress) or
    0 (not written); a train of ``n`` pulses on a device is ``direction * n``.
    """
    s = 1 if up else -1
    if not differential:
        return s, 0
    if policy == 1:
        return s, -s
    on_neg = w < 0 if up else w <= 0
    return (0, -s) if on_neg else (s, 0)


def pulse_directions_numpy(up, w, differential, policy):
    """NumPy twin of :func:`pulse_directions` for arrays ``up`` (bool) and ``w``: two int64 arrays."""
    up, w = np.broadcast_arrays(np.asarray(up, dtype=bool), np.asarray(w, dtype=np.float64))
    s = np.where(up, 1, -1).astype(np.int64)
    if not differential:
        return s, np.zeros_like(s)
    if policy == 1:
        return s, -s
    on_neg = np.where(up, w < 0, w <= 0)
    return np.where(on_neg, 0, s), np.where(on_neg, -s, 0)


# -- input DAC -------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def dac_levels_numba(x, full_scale, levels, out, out_sq, nonzero):
    """Quantise inputs to voltage levels; see :func:`dac_levels_numpy` for the contract.

    Non-zero and clipped inputs are counted per input in int32 (it
    vectorises twice as wide) and summed at the end: at most ``2**31 - 1``
    rows per call.
    """
    n, m = x.shape
    count = np.zeros(m, dtype=np.int32)
    clips = np.zeros(m, dtype=np.int32)
    finite = True
    if levels == 0:
        for b in range(n):
            xb, ob, sb = x[b], out[b], out_sq[b]
            for i in range(m):
                ob[i] = xb[i]
                sb[i] = xb[i] * xb[i]
                count[i] += np.int32(xb[i] != 0)
                finite &= abs(xb[i]) < np.inf  # False for inf and NaN
    else:
        to_steps, step, top, half = _in_dtype(x, (levels / full_scale, full_scale / levels, float(levels), 0.5))
        for b in range(n):
            xb, ob, sb = x[b], out[b], out_sq[b]  # 1-D row views: the loops below vectorise
            for i in range(m):
                a = abs(xb[i]) * to_steps
                q = dac_value(xb[i], to_steps, step, top, half)
                ob[i] = q
                sb[i] = q * q
                count[i] += np.int32(q != 0)
                clips[i] += np.int32(a > top)
                finite &= abs(xb[i]) < np.inf
    clipped = 0
    for i in range(m):
        nonzero[i] += count[i]
        clipped += clips[i]
    return clipped, finite


@njit(cache=True, nogil=True)
def line_code_squares_numba(applied, inv_step, out):
    """Add to ``out[i]`` (float64) the sum over the rows of ``applied`` of the squared DAC code of input ``i``.

    ``applied`` (rows, n): DAC outputs, each a whole number of steps;
    ``inv_step``: the steps per input unit (``levels / full_scale``). The
    codes are recovered by rounding (in ``applied``'s precision) and their
    squares summed as whole numbers in float64: exact (below ``2**53``), so a
    split of the rows into blocks gives the same sums as one pass.
    """
    m = applied.shape[1]
    acc = np.zeros(m)
    to_steps, half = _in_dtype(applied, (inv_step, 0.5))
    for b in range(applied.shape[0]):
        row = applied[b]  # a 1-D row view: the loop vectorises
        for i in range(m):
            c = np.floor(abs(row[i]) * to_steps + half)  # a whole number, its square exact in any float
            acc[i] += np.float64(c * c)
    for i in range(m):
        out[i] += acc[i]


def line_code_squares_numpy(applied, inv_step, out):
    """NumPy twin of :func:`line_code_squares_numba`."""
    dt = applied.dtype.type
    codes = np.floor(np.abs(applied) * dt(inv_step) + dt(0.5))
    out += (codes * codes).astype(np.float64).sum(axis=0)


def dac_levels_numpy(x, full_scale, levels, out, out_sq, nonzero):
    """Input DAC with ``levels = 2**bits - 1`` magnitude steps over ``[0, full_scale]`` (0 = ideal).

    ``x`` (batch, n), float32 or float64, in input units; arithmetic in
    ``x``'s precision. The magnitude in steps, ``|x| * levels / full_scale``,
    is clipped to ``levels`` and rounded half up; the sign is kept. Writes
    the applied inputs (input units) to ``out`` and their squares to
    ``out_sq`` (same dtype as ``x``) and adds the number of non-zero applied
    inputs of each of the ``n`` inputs to ``nonzero`` (int64, length ``n``).
    Returns the number of clipped inputs (0 for an ideal DAC) and whether
    every input was finite (if not, the outputs are meaningless).
    """
    dt = x.dtype.type
    clipped = 0
    v = x
    if levels > 0:
        a = np.abs(x) * dt(levels / full_scale)
        clipped = int(np.count_nonzero(a > dt(levels)))
        q = np.floor(np.minimum(a, dt(levels)) + dt(0.5)) * dt(full_scale / levels)
        v = np.where(x >= 0, q, -q)
    out[...] = v
    out_sq[...] = v * v
    nonzero += np.count_nonzero(v, axis=0)
    return clipped, bool(np.isfinite(x).all())


# -- tile products of sparse inputs ----------------------------------------------------------
#: Column padding of the matrices :func:`sparse_products_numba` reads (one AVX2 vector of float32).
COLUMN_PAD = 8


def padded_columns(a: np.ndarray) -> np.ndarray:
    """``a`` (rows, cols) with zero columns appended up to a multiple of :data:`COLUMN_PAD`."""
    rows, cols = a.shape
    out = np.zeros((rows, -(-cols // COLUMN_PAD) * COLUMN_PAD), dtype=a.dtype)
    out[:, :cols] = a
    return out


@njit(cache=True, nogil=True)
def _accumulate_rows(coef, idx, k, matrix, acc):
    """``acc = sum_p coef[p] * matrix[idx[p], :len(acc)]`` over ``p < k``, four rows per pass over ``acc``.

    ``coef`` and ``idx`` have at least three spare entries past ``k``, set to 0.
    """
    for j in range(acc.shape[0]):
        acc[j] = 0
    for p in range(0, k, 4):
        a1, a2, a3, a4 = coef[p], coef[p + 1], coef[p + 2], coef[p + 3]
        r1, r2, r3, r4 = matrix[idx[p]], matrix[idx[p + 1]], matrix[idx[p + 2]], matrix[idx[p + 3]]
        for j in range(acc.shape[0]):
            acc[j] += (a1 * r1[j] + a2 * r2[j]) + (a3 * r3[j] + a4 * r4[j])


@njit(cache=True, nogil=True)
def sparse_products_numba(x, x2, col0, signal, var, mean, var_out):
    """Products of inputs that are mostly zero; see :func:`sparse_products_numpy` for the contract.

    Per input vector: the indices of its non-zero inputs, then rows of the
    (column-padded) matrices added into the output rows four at a time, so
    the work is proportional to the number of non-zero inputs. Loops rather
    than slice assignments: the per-vector overhead matters when few inputs are non-zero.
    """
    n, r = x.shape[0], signal.shape[0]
    cv = var_out.shape[1]
    idx = np.zeros(r + 4, dtype=np.int64)
    coef = np.zeros(r + 4, dtype=x.dtype)
    for b in range(n):
        xb, x2b = x[b, col0 : col0 + r], x2[b, col0 : col0 + r]
        k = 0
        if _any_nonzero(xb):  # a quick test first: in a sparse tile many vectors have no non-zero input
            for i in range(r):  # branch-free compaction of the non-zero inputs
                idx[k] = i
                k += xb[i] != 0
        for p in range(k, k + 4):
            idx[p] = 0
            coef[p] = 0
        for p in range(k):
            coef[p] = xb[idx[p]]
        _accumulate_rows(coef, idx, k, signal, mean[b])
        if cv > 0:
            for p in range(k):
                coef[p] = x2b[idx[p]]
            _accumulate_rows(coef, idx, k, var, var_out[b])


def sparse_products_numpy(x, x2, col0, signal, var, mean, var_out):
    """Signal and read-noise variance products of one tile: ``mean = v @ S``, ``var_out = v2 @ V``.

    x, x2: (batch, n) applied inputs and their squares (input units), of
    which the tile reads columns ``col0 .. col0 + rows`` (``v`` and ``v2``).
    signal, var: (rows, >= c) and (rows, >= cv) matrices in weight units,
    their columns padded with zeros to a multiple of :data:`COLUMN_PAD`
    (:func:`padded_columns`); ``S`` and ``V`` are their first ``c`` and
    ``cv`` columns, with ``c = mean.shape[1]`` and ``cv = var_out.shape[1]``
    (0: no variance). All arrays share one float dtype, the arithmetic's.
    Zero inputs contribute nothing, so the Numba kernel skips them: it is
    faster than a dense matrix product when most inputs are zero.
    """
    rows, c, cv = signal.shape[0], mean.shape[1], var_out.shape[1]
    mean[...] = x[:, col0 : col0 + rows] @ signal[:, :c]
    if cv > 0:
        var_out[...] = x2[:, col0 : col0 + rows] @ var[:, :cv]


# -- tile read-out: read noise, output noise, ADC, digital accumulation ------------------------
#: Rows of a tile read whose Gaussian draws :func:`readout_numba` makes in one call (bulk draws are cheaper).
_DRAW_ROWS = 32


@njit(cache=True, nogil=True)
def readout_numba(mean, var, has_common, out_var, step, max_code, gain, key, out, col0, row0=0):
    """Digitise one tile's outputs and accumulate them; see :func:`readout_numpy` for the contract.

    The Gaussian draws of a block of :data:`_DRAW_ROWS` rows in one or a
    few bulk calls, then row by row branch-free loops over 1-D views that
    the compiler vectorises. Without output noise, a row whose variances
    are all zero (its inputs are all zero, or its devices read without
    noise) needs no draws, so they are not made: the other rows' draws keep
    their positions in the stream, and the result is the same. A noise-free
    row of zeros is skipped: it converts to code 0.
    """
    n, c = mean.shape
    noisy_cells = var.shape[1] > 0
    noisy = noisy_cells or out_var > 0
    width = 2 * ((c + 2) // 2)  # draws per row
    k = _U64(key)
    consts = readout_constants_numba(mean, out_var, step, max_code, gain)
    block = min(_DRAW_ROWS, n) if noisy else 0  # a one-row read (on-chip training) needs one row of scratch
    draws = np.zeros(max(block, 1) * width, dtype=mean.dtype)
    words = np.empty(block * width // 2, dtype=np.uint64)
    drawn = np.zeros(_DRAW_ROWS + 1, dtype=np.bool_)  # which rows of the block have draws
    work = np.empty((1, c), dtype=mean.dtype)  # readout_row_numba's scratch
    clipped = 0
    for b in range(n):
        r = b % _DRAW_ROWS
        if noisy and r == 0:
            rows = min(_DRAW_ROWS, n - b)
            for i in range(rows):
                drawn[i] = out_var > 0 or _any_nonzero(var[b + i])
            drawn[rows] = False
            first = 0
            for i in range(rows + 1):  # runs of rows that need draws
                if not drawn[i]:
                    if i > first:
                        _fill_normals_bulk(k, (row0 + b + first) * width // 2, draws[first * width : i * width], words)
                    first = i + 1
        # A row without draws has no noise (zero variances, no output noise): its draws are not read. A
        # noise-free row of zeros (such as a vector of zero inputs) converts to zero: nothing to add.
        if (noisy and drawn[r]) or _any_nonzero(mean[b]):
            z = draws[r * width : (r + 1) * width]
            clipped += readout_row_numba(mean[b], var[b], has_common, consts, z, out[b, col0 : col0 + c], work)
    return clipped


def readout_numpy(mean, var, has_common, out_var, step, max_code, gain, key, out, col0, row0=0):
    """Read-out of one tile: noise at the output, ADC, then ``out[:, col0:col0+c] += gain * value``.

    mean: (batch, c) noise-free tile outputs (output units), float32 or
    float64; ``var`` and ``out`` have the same dtype, and the arithmetic is
    done in it (the Gaussian draws are rounded to it).
    var: (batch, 0) for no read noise, (batch, c) read-noise variance of each
    output, or (batch, c + 1) when ``has_common``: the last column is the
    variance of a current common to all outputs of the row (the reference
    column's), subtracted from each.
    out_var: variance of the output noise added to every conversion.
    step, max_code: ADC step (output units; 0 = ideal ADC) and largest code.
    The ADC is symmetric: ``|y| / step`` is rounded half up, capped at
    ``max_code`` (counted as clipped when it was larger), and the sign kept.
    key: uint64 stream of the Gaussian draws (used only if there is noise):
    row ``b`` uses draws ``(row0 + b) * P * 2 + j`` with ``P = (c + 2) // 2``, ``j < c``
    for its outputs and ``j = c`` for the common current: with ``row0``, a read of
    rows ``row0, row0 + 1, ...`` of a batch draws what the read of the whole batch
    draws for them (threads split a batch this way).
    Returns the number of clipped conversions.
    """
    n, c = mean.shape
    dt = mean.dtype.type
    y = mean.copy()
    if var.shape[1] > 0 or out_var > 0:
        pairs = (c + 2) // 2
        z = normals_from_counters_numpy(key, (row0 + np.arange(n))[:, None] * (2 * pairs) + np.arange(c + 1)).astype(mean.dtype)
        if var.shape[1] > 0:
            if has_common:
                y = y - np.sqrt(var[:, c:]) * z[:, c:]
            y = y + np.sqrt(dt(out_var) + var[:, :c]) * z[:, :c]
        else:
            y = y + dt(math.sqrt(out_var)) * z[:, :c]
    clipped = 0
    if step > 0:
        inv, top = dt(1.0 / step), dt(max_code)
        u = np.abs(y) * inv + dt(0.5)
        clipped = int(np.count_nonzero(u >= top + dt(1.0)))
        code = np.minimum(np.floor(u), top) * dt(step)
        y = np.where(y >= 0, code, -code)
    out[:, col0 : col0 + c] += dt(gain) * y
    return clipped


# -- read-out of one tile row: readout_numba and the fused loops (the spiking read) call it -----
@njit(cache=True, nogil=True)
def readout_constants_numba(mean, out_var, step, max_code, gain):
    """Numba kernel: see :func:`readout_constants_numpy`."""
    inv = 1.0 / step if step > 0 else 0.0
    return _in_dtype(mean, (out_var, math.sqrt(out_var), inv, step, float(max_code), max_code + 1.0, gain, 0.5))


def readout_constants_numpy(mean, out_var, step, max_code, gain):
    """The scalars of a read-out in ``mean``'s dtype, made once per read for :func:`readout_row_numpy`.

    ``(out_var, sqrt(out_var), 1 / step (0 for an ideal ADC), step, max_code, max_code + 1, gain, 0.5)``:
    output-noise variance and the ADC step (output units), largest code, digital gain.
    """
    inv = 1.0 / step if step > 0 else 0.0
    return np.array([out_var, math.sqrt(out_var), inv, step, float(max_code), max_code + 1.0, gain, 0.5], mean.dtype)


@njit(cache=True, nogil=True, inline="always")
def readout_row_numba(mean, var, has_common, consts, z, out, work):
    """One row of :func:`readout_numba` with its draws given; see :func:`readout_row_numpy`.

    ``work (>= 1, >= c)`` of the row's dtype: scratch. Branch-free loops over 1-D views (they vectorise).
    Inlined into its callers (Numba IR): a fused loop calls it once per sample and tile, and the
    call with its array arguments measured about 25 % of a 10-output read.
    """
    c = mean.shape[0]
    ov, sd_out, inv, st, top, limit, gn, half = (consts[0], consts[1], consts[2], consts[3], consts[4], consts[5],
                                                 consts[6], consts[7])
    y = mean  # read as it is without noise
    if var.shape[0] > 0:
        y = work[0]
        common = np.sqrt(var[c]) * z[c] if has_common else half - half
        for j in range(c):
            y[j] = mean[j] - common + np.sqrt(ov + var[j]) * z[j]
    elif sd_out > 0:
        y = work[0]
        for j in range(c):
            y[j] = mean[j] + sd_out * z[j]
    clipped = 0
    if st > 0:
        for j in range(c):
            out[j] += gn * adc_value(y[j], inv, st, top, half)
        for j in range(c):  # rare: a predictable branch
            if adc_clipped(y[j], inv, half, limit):
                clipped += 1
    else:
        for j in range(c):
            out[j] += gn * y[j]
    return clipped


def readout_row_numpy(mean, var, has_common, consts, z, out, work):
    """Read-out of one tile row whose Gaussian draws ``z`` are given: ``out += gain * ADC(noisy mean)``.

    ``mean (c,)``, ``var`` (0,), (c,) or (c + 1,) with ``has_common`` and
    ``out (c,)`` as one row of :func:`readout_numpy` (output units, one
    dtype, the arithmetic's); ``consts``: :func:`readout_constants_numpy` of
    the read (the output noise is left out when its standard deviation is 0
    in this dtype); ``z`` at least ``c + 1`` standard normals of that dtype
    (``z[j]`` for output ``j``, ``z[c]`` for the common current; unused
    without noise). Row ``b`` of a :func:`readout_numpy` call with ``key``
    is this row with ``z = normals_from_counters_numpy(key, b * 2 P +
    arange(c + 1))``, ``P = (c + 2) // 2``. ``work``: the Numba kernel's
    scratch (unused here). Returns the clipped conversions.
    """
    ov, sd_out, inv, st, top, limit, gn, half = consts
    c = mean.shape[0]
    y = mean.copy()
    if var.shape[0] > 0:
        common = np.sqrt(var[c]) * z[c] if has_common else half - half
        y = y - common + np.sqrt(ov + var[:c]) * z[:c]
    elif sd_out > 0:
        y = y + sd_out * z[:c]
    clipped = 0
    if st > 0:
        u = np.abs(y) * inv + half
        clipped = int(np.count_nonzero(u >= limit))
        code = np.minimum(np.floor(u), top) * st
        y = np.where(y >= 0, code, -code)
    out += gn * y
    return clipped
