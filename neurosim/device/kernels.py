"""Write kernels: apply pulse trains to many devices at once.

Each kernel exists twice: a Numba version for speed and a plain-NumPy twin
that is its specification; the tests run both on the same inputs and compare.
Both take flattened 1-D arrays of per-device curve parameters (built by
:class:`neurosim.device.array.DeviceArray`) and update the conductances in place.

A write of ``n`` pulses (``n > 0`` potentiation, ``n < 0`` depression) moves a
device along its curve with the closed form ``G' = G_inf - (G_inf - G) d^|n|``,
where ``d = exp(-1/A)`` is the curve's decay per pulse (a linear device,
``d = 1``, moves ``|n|`` equal steps instead; a direction that accelerates,
``A < 0``, has ``d > 1`` and its asymptote beyond the far end of the window,
so ``d^|n|`` grows and the clip ends the train there; a train long enough to
overflow ``d^|n|`` to inf lands on that end), adds cycle-to-cycle noise
``N(0, c2c_frac (g_hi - g_lo) sqrt(|n|))`` and clips to the device's window
``[g_lo, g_hi]``. A device that is not written (``n = 0``) keeps its
conductance and gets no noise.

A measured-curve device (:class:`neurosim.device.measured.MeasuredCurve`)
carries a ``table`` instead: rows ``(up step, up spread, down step, down
spread)`` over a uniform grid of the conductance's fraction of the window
``x = (G - g_lo) / (g_hi - g_lo)`` (``x = 0 .. 1``), steps as signed fractions
of the window and spreads normalised to an rms of 1 over the grid. Such a
write takes its ``|n|`` pulses one at a time, each the table's mean step at
the device's present ``x`` (linear interpolation, clipped to the window),
then adds ``N(0, c2c_frac (g_hi - g_lo) sqrt(sum_k s(x_k)^2))`` with ``s``
the spread at each pulse's starting ``x`` (for a constant spread this is the
curve's ``sqrt(|n|)`` law) and clips. An empty table (no columns) is the
analytic curve; the decay and move parameters are then used, otherwise
ignored.

Random numbers: the noise of device ``i`` (its index in the flat array) is
draw ``i`` of the counter-based stream ``key`` (:mod:`neurosim.streams`), so
the results are a pure function of ``key`` and the inputs, whichever devices
are written.

Speed (the Numba kernel): devices go in blocks of :data:`_BLOCK`. Per block the
draws are made in one go into a small buffer, then one branch-free loop, which
the compiler vectorises, updates every device: the direction's parameters are
selected, not branched on, and ``d^|n|`` is a product of at most four
repeated squares of ``d`` for trains shorter than :data:`_SHORT_TRAIN`
(no ``pow``); the rare longer trains are finished afterwards with ``pow``.
Both paths end in :func:`_written`; :func:`pulse_write` is the same write
for one device, for fused loops that write device by device (on-chip
training), so there is one implementation.
"""

import math

import numpy as np
from numba import njit

from neurosim.streams import _U64, _fill_normals_bulk, normals_from_counters_numpy

#: Trains shorter than this form d^|n| from repeated squares (four bits of |n|); longer ones use pow.
_SHORT_TRAIN = 16  # = 2**4: _power uses four squares and the mask _SHORT_TRAIN - 1
#: The ``table`` argument of an analytic-curve device (no columns: the decay and move parameters apply).
ANALYTIC_TABLE = np.zeros((4, 0))
#: Devices per block of the Numba kernel: its draws (8 bytes each, and 4 of scratch) stay in the L1 cache.
_BLOCK = 1024


def pulse_update_numpy(g, n, g_lo, g_hi, decay_p, move_p, decay_d, move_d, c2c_frac, table, key):
    """NumPy twin of :func:`pulse_update_numba` (the specification). Updates ``g`` in place and returns it.

    g, g_lo, g_hi: conductances and each device's window (S), 1-D, same length.
    n: signed pulse counts (int). decay_*: the curve's decay per pulse
    ``exp(-1/A)`` for potentiation (``_p``) and depression (``_d``); 1 for a
    linear device, above 1 for a direction that accelerates (``A < 0``). move_*: where a pulse moves the device: the asymptote
    ``G_inf`` (S) of a curved device, the signed step per pulse (S) of a linear
    one. c2c_frac: cycle-to-cycle noise per pulse as a fraction of the window
    (float; 0 = none). table: a measured device's step table, shape
    ``(4, K)`` with ``K >= 2`` (shared by every device, in fractions of each
    device's own window), or shape ``(4, 0)`` for the analytic curve. key:
    the stream of the noise draws (uint64), draw ``i`` for device ``i``.
    """
    written = np.asarray(n) != 0
    z = np.zeros(g.shape)
    if c2c_frac != 0:
        z[written] = normals_from_counters_numpy(key, np.flatnonzero(written))
    g[...] = pulse_write_numpy(g, n, g_lo, g_hi, decay_p, move_p, decay_d, move_d, c2c_frac, table, z)
    return g


def pulse_write_numpy(g, n, g_lo, g_hi, decay_p, move_p, decay_d, move_d, c2c_frac, table, z):
    """NumPy twin of :func:`pulse_write` for arrays of devices: their conductances (S) after the trains ``n``.

    ``z``: each device's standard-normal draw (unused where ``n = 0``); the
    other arguments as in :func:`pulse_update_numpy`. Returns a new array.
    """
    n = np.asarray(n).astype(np.int64)  # -(-128) of an int8 is not an int8
    if table.shape[1] > 0:
        return _table_write_numpy(np.asarray(g, dtype=float), n, g_lo, g_hi, table, c2c_frac, z)
    m = np.abs(n)
    up = n > 0
    decay = np.where(up, decay_p, decay_d)
    move = np.where(up, move_p, move_d)
    with np.errstate(over="ignore"):  # decay > 1 and a long train: decay**m = inf, the clip takes the edge
        new = np.where(decay == 1.0, g + m * move, move - (move - g) * decay**m)
    if c2c_frac != 0:
        new = new + c2c_frac * (g_hi - g_lo) * np.sqrt(m) * z
    return np.where(n != 0, np.clip(new, g_lo, g_hi), g)


def _table_value_numpy(row, x):
    """NumPy twin of :func:`_table_value`: ``row`` (a uniform grid over x = 0..1) interpolated at ``x``."""
    t = x * (row.size - 1)
    i = np.clip(np.floor(t).astype(np.int64), 0, row.size - 2)
    return row[i] + (row[i + 1] - row[i]) * (t - i)


def _table_write_numpy(g, n, g_lo, g_hi, table, c2c_frac, z):
    """NumPy twin of :func:`_table_written` for arrays of devices (a new array; ``n = 0`` keeps ``g``)."""
    m = np.abs(n)
    up = n > 0
    width = g_hi - g_lo
    safe = np.where(width > 0, width, 1.0)
    new = np.array(g, dtype=float)
    var = np.zeros(new.shape)
    for k in range(int(m.max(initial=0))):
        moving = (m > k) & (width > 0)
        x = (new - g_lo) / safe
        step = np.where(up, _table_value_numpy(table[0], x), _table_value_numpy(table[2], x))
        spread = np.where(up, _table_value_numpy(table[1], x), _table_value_numpy(table[3], x))
        var = np.where(moving, var + spread * spread, var)
        new = np.where(moving, np.clip(new + width * step, g_lo, g_hi), new)
    new = new + c2c_frac * width * np.sqrt(var) * z
    return np.where(n != 0, np.clip(new, g_lo, g_hi), g)


@njit(cache=True)
def _table_value(row, x):
    """``row`` (values on a uniform grid over ``x = 0 .. 1``) linearly interpolated at ``x`` (in [0, 1])."""
    t = x * (row.shape[0] - 1)
    i = min(max(int(math.floor(t)), 0), row.shape[0] - 2)
    return row[i] + (row[i + 1] - row[i]) * (t - i)


@njit(cache=True)
def _table_written(g, n, lo, hi, table, c2c_frac, z):
    """Conductance (S) of a measured-curve device after ``n != 0`` pulses, one table step per pulse (see the module notes)."""
    width = hi - lo
    if not width > 0.0:  # a stuck device: its window is its rail
        return lo
    up = n > 0
    m = n if up else -n
    row = 0 if up else 2
    var = 0.0
    for _ in range(m):
        x = (g - lo) / width
        s = _table_value(table[row + 1], x)
        var += s * s
        g = g + width * _table_value(table[row], x)
        g = g if g > lo else lo
        g = g if g < hi else hi
    g = g + c2c_frac * width * np.sqrt(var) * z
    g = g if g > lo else lo
    return g if g < hi else hi


@njit(cache=True)
def _power(d, m):
    """``d^m`` for ``0 <= m < 16`` from repeated squares of ``d`` (selects, no branches)."""
    d2 = d * d
    d4 = d2 * d2
    f = d if m & 1 else 1.0
    f = f * d2 if m & 2 else f
    f = f * d4 if m & 4 else f
    return f * (d4 * d4) if m & 8 else f


@njit(cache=True)
def _written(g, m, f, decay, move, lo, hi, sigma, z):
    """Conductance (S) after ``m >= 1`` pulses (a float), ``f = decay^m``; noise ``sigma`` (S) per sqrt(pulse)."""
    linear = g + m * move
    curved = move - (move - g) * f
    new = (linear if decay == 1.0 else curved) + sigma * np.sqrt(m) * z
    new = new if new > lo else lo
    return new if new < hi else hi


@njit(cache=True)
def pulse_write(g, n, g_lo, g_hi, decay_p, move_p, decay_d, move_d, c2c_frac, table, z):
    """Conductance (S) of one device after a train of ``n`` pulses (signed int; 0 = not written).

    The per-device write that every workload uses (the array kernel below and
    the fused on-chip training loop): the parameters are one device's entries
    of :attr:`neurosim.device.DeviceArray.write_params` (see
    :func:`pulse_update_numpy`; ``table`` is shared by all devices), ``z`` its
    standard-normal draw. Any train length: the noise grows with
    ``sqrt(|n|)`` and a long train saturates at the window's edge.
    """
    if n == 0:
        return g
    if table.shape[1] > 0:
        return _table_written(g, n, g_lo, g_hi, table, c2c_frac, z)
    up = n > 0
    m = n if up else -n
    decay = decay_p if up else decay_d
    f = _power(decay, m) if m < _SHORT_TRAIN else decay**m
    return _written(g, float(m), f, decay, move_p if up else move_d, g_lo, g_hi, c2c_frac * (g_hi - g_lo), z)


@njit(cache=True)
def _update_block(g, n, g_lo, g_hi, decay_p, move_p, decay_d, move_d, c2c_frac, z):
    """Update the block's devices with short trains (the vectorised loop); returns how many have long ones.

    Every parameter is loaded unconditionally so that the selects need no
    branches. A device not updated here (not written, or a long train) is
    clipped to ``[g, g]``: this stores its conductance unchanged without a
    masked store (which is slow).
    """
    long = 0
    for i in range(g.shape[0]):
        ni, gi = np.int64(n[i]), g[i]  # int64: -(-128) of an int8 is not an int8
        dp, dd, mp, md, lo, hi = decay_p[i], decay_d[i], move_p[i], move_d[i], g_lo[i], g_hi[i]
        up = ni > 0
        m = ni if up else -ni
        short = m < _SHORT_TRAIN
        long += not short
        keep = short & (ni != 0)
        decay = dp if up else dd
        mf = float(np.int32(m & (_SHORT_TRAIN - 1)))  # via int32: AVX2 converts int32, not int64, to float in vectors
        f = _power(decay, m & (_SHORT_TRAIN - 1))
        sigma = c2c_frac * (hi - lo)
        g[i] = _written(gi, mf, f, decay, mp if up else md, lo if keep else gi, hi if keep else gi, sigma, z[i])
    return long


@njit(cache=True)
def _update_long(g, n, g_lo, g_hi, decay_p, move_p, decay_d, move_d, c2c_frac, z, table):
    """Update the block's devices with ``|n| >= _SHORT_TRAIN`` (``decay ** m``)."""
    for i in range(g.shape[0]):
        ni = np.int64(n[i])
        if abs(ni) >= _SHORT_TRAIN:
            g[i] = pulse_write(g[i], ni, g_lo[i], g_hi[i], decay_p[i], move_p[i], decay_d[i], move_d[i], c2c_frac, table, z[i])


@njit(cache=True)
def _update_table(g, n, g_lo, g_hi, c2c_frac, table, z):
    """Update a block of measured-curve devices one by one (:func:`_table_written`)."""
    for i in range(g.shape[0]):
        ni = np.int64(n[i])
        if ni != 0:
            g[i] = _table_written(g[i], ni, g_lo[i], g_hi[i], table, c2c_frac, z[i])


@njit(cache=True)
def pulse_update_numba(g, n, g_lo, g_hi, decay_p, move_p, decay_d, move_d, c2c_frac, table, key):
    """Numba kernel: see :func:`pulse_update_numpy` for the contract (``g`` updated in place)."""
    key = _U64(key)
    z = np.zeros(_BLOCK)
    words = np.empty(_BLOCK // 2, dtype=np.uint64)
    for start in range(0, g.shape[0], _BLOCK):
        stop = min(start + _BLOCK, g.shape[0])
        if c2c_frac != 0:
            _fill_normals_bulk(key, start // 2, z[: (stop - start + 1) & -2], words)
        b = slice(start, stop)
        if table.shape[1] > 0:
            _update_table(g[b], n[b], g_lo[b], g_hi[b], c2c_frac, table, z)
            continue
        args = (g[b], n[b], g_lo[b], g_hi[b], decay_p[b], move_p[b], decay_d[b], move_d[b], c2c_frac, z)
        if _update_block(*args):
            _update_long(*args, table)
    return g


@njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def write_tally_numba(pulses, g_before, g_after):
    """One write's tally: ``(LTP pulses, LTD pulses, devices written, LTP sum, LTD sum)``.

    ``pulses`` (signed ints), ``g_before``, ``g_after`` (S): flat arrays of
    the devices. The sums add, per pulse, the device's mean conductance over
    its train, ``(G_before + G_after) / 2`` (S x pulses: the write energy's
    :class:`~neurosim.energy.sums.AnalogSums`). One branch-free pass whose
    sums may be reassociated (they vectorise); see :func:`write_tally_numpy`.
    """
    ltp = ltd = writes = 0
    s_ltp = s_ltd = 0.0
    for i in range(pulses.shape[0]):
        n = pulses[i]
        up, down = max(n, 0), max(-n, 0)
        g_mean = 0.5 * (g_before[i] + g_after[i])
        ltp += up
        ltd += down
        writes += n != 0
        s_ltp += up * g_mean
        s_ltd += down * g_mean
    return ltp, ltd, writes, s_ltp, s_ltd


def write_tally_numpy(pulses, g_before, g_after):
    """NumPy twin of :func:`write_tally_numba` (the sums equal up to float rounding)."""
    g_mean = 0.5 * (g_before + g_after)
    up, down = np.maximum(pulses, 0), np.maximum(-pulses, 0)
    return (int(up.sum(dtype=np.int64)), int(down.sum(dtype=np.int64)), int(np.count_nonzero(pulses)),
            float(np.sum(up * g_mean)), float(np.sum(down * g_mean)))  # fmt: skip
