"""Crossbar read kernels: counter-based Gaussian draws, the input DAC, and the tile read-out.

Each kernel exists twice: a Numba version (lazily compiled, cached, serial,
``nogil``) and a plain-NumPy twin that is its specification; the tests run
both and compare. The jitted helpers live in this module, except the
counter-based Gaussian draws of :mod:`neurosim.normals`, which the read-out
inlines: Numba's cache keys on this file only, so clear ``NUMBA_CACHE_DIR``
after editing that module (CI always starts from an empty cache).
"""

import math

import numpy as np
from numba import njit

from neurosim.normals import _U64, _fill_normals, normals_from_counters_numpy


# -- input DAC -------------------------------------------------------------------------------
@njit(cache=True)
def _in_dtype(a, values):
    """``values`` (a tuple of floats) as an array of ``a``'s dtype: scalars in the compute precision."""
    out = np.empty(len(values), dtype=a.dtype)
    for i in range(len(values)):
        out[i] = values[i]
    return out


@njit(cache=True, nogil=True)
def dac_levels_numba(x, full_scale, levels, out, out_sq):
    """Quantise inputs to voltage levels; see :func:`dac_levels_numpy` for the contract."""
    n, m = x.shape
    clipped = 0
    if levels == 0:
        for b in range(n):
            xb, ob, sb = x[b], out[b], out_sq[b]
            for i in range(m):
                ob[i] = xb[i]
                sb[i] = xb[i] * xb[i]
        return clipped
    to_steps, step, top, half = _in_dtype(x, (levels / full_scale, full_scale / levels, float(levels), 0.5))
    for b in range(n):
        xb, ob, sb = x[b], out[b], out_sq[b]  # 1-D row views: the loops below vectorise
        for i in range(m):
            q = np.floor(min(abs(xb[i]) * to_steps, top) + half) * step
            q = q if xb[i] >= 0 else -q
            ob[i] = q
            sb[i] = q * q
        for i in range(m):  # rare: a predictable branch
            if abs(xb[i]) * to_steps > top:
                clipped += 1
    return clipped


def dac_levels_numpy(x, full_scale, levels, out, out_sq):
    """Input DAC with ``levels = 2**bits - 1`` magnitude steps over ``[0, full_scale]`` (0 = ideal).

    ``x`` (batch, n), float32 or float64, in input units; arithmetic in
    ``x``'s precision. The magnitude in steps, ``|x| * levels / full_scale``,
    is clipped to ``levels`` and rounded half up; the sign is kept. Writes
    the applied inputs (input units) to ``out`` and their squares to
    ``out_sq`` (same dtype as ``x``) and returns the number of clipped inputs
    (0 for an ideal DAC).
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
    return clipped


# -- tile read-out: read noise, output noise, ADC, digital accumulation ------------------------
@njit(cache=True, nogil=True)
def readout_numba(mean, var, has_common, out_var, step, max_code, gain, key, out, col0):
    """Digitise one tile's outputs and accumulate them; see :func:`readout_numpy` for the contract.

    Row by row: the Gaussian draws first (a tight scalar loop), then
    branch-free loops over 1-D row views that the compiler vectorises.
    """
    n, c = mean.shape
    noisy_cells = var.shape[1] > 0
    noisy = noisy_cells or out_var > 0
    pairs = (c + 2) // 2
    k = _U64(key)
    inv_step = 1.0 / step if step > 0 else 0.0
    ov, sd_out, inv, st, top, gn, half, one, zero = _in_dtype(
        mean, (out_var, math.sqrt(out_var), inv_step, step, float(max_code), gain, 0.5, 1.0, 0.0)
    )
    z = np.zeros(2 * pairs, dtype=mean.dtype)
    y = np.empty(c, dtype=mean.dtype)
    clipped = 0
    for b in range(n):
        m = mean[b]
        o = out[b, col0 : col0 + c]
        if noisy:
            _fill_normals(k, b * pairs, z)
            if noisy_cells:
                v = var[b]
                common = np.sqrt(v[c]) * z[c] if has_common else zero
                for j in range(c):
                    y[j] = m[j] - common + np.sqrt(ov + v[j]) * z[j]
            else:
                for j in range(c):
                    y[j] = m[j] + sd_out * z[j]
        else:
            for j in range(c):
                y[j] = m[j]
        if step > 0:
            for j in range(c):
                code = min(np.floor(abs(y[j]) * inv + half), top) * st
                o[j] += gn * (code if y[j] >= 0 else -code)
            for j in range(c):  # code > top, i.e. |y| / step + 0.5 >= top + 1 (rare: a predictable branch)
                if abs(y[j]) * inv + half >= top + one:
                    clipped += 1
        else:
            for j in range(c):
                o[j] += gn * y[j]
    return clipped


def readout_numpy(mean, var, has_common, out_var, step, max_code, gain, key, out, col0):
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
    row ``b`` uses draws ``b * P * 2 + j`` with ``P = (c + 2) // 2``, ``j < c``
    for its outputs and ``j = c`` for the common current.
    Returns the number of clipped conversions.
    """
    n, c = mean.shape
    dt = mean.dtype.type
    y = mean.copy()
    if var.shape[1] > 0 or out_var > 0:
        pairs = (c + 2) // 2
        z = normals_from_counters_numpy(key, np.arange(n)[:, None] * (2 * pairs) + np.arange(c + 1)).astype(mean.dtype)
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
