"""Write kernels: apply pulse trains to many devices at once.

Each kernel exists twice: a Numba version for speed and a plain-NumPy twin
that is its specification; the tests run both on the same inputs and compare.
Both take flattened 1-D arrays of per-device curve parameters (see
:class:`neurosim.device.array.CurveParams`) and the standard-normal draws for
cycle-to-cycle noise, consumed in order, one per device whose pulse count is
non-zero (a device that is not written gets no noise).

A write of ``n`` pulses (``n > 0`` potentiation, ``n < 0`` depression) moves a
device along its curve with the closed form ``G' = G_inf - (G_inf - G) e^(-|n| r)``
(``r = 1/A`` per pulse; a linear device, ``r = 0``, moves ``|n|`` equal steps),
adds ``N(0, c2c_S * sqrt(|n|))`` and clips to the device's window.
"""

import numpy as np
from numba import njit


def pulse_update_numpy(g, n, g_lo, g_hi, rate_p, ginf_p, step_p, rate_d, ginf_d, step_d, c2c_S, z, out):
    """NumPy twin of :func:`pulse_update_numba` (the specification).

    g, g_lo, g_hi, ginf_*, step_*, c2c_S: conductances in siemens, 1-D, same length.
    n: signed pulse counts (int). rate_*: curvature per pulse (1/A, 0 = linear).
    z: standard normals, one per non-zero ``n`` in order. Writes into and returns ``out``.
    """
    n = np.asarray(n)
    m = np.abs(n).astype(g.dtype)
    up = n > 0
    rate = np.where(up, rate_p, rate_d)
    ginf = np.where(up, ginf_p, ginf_d)
    step = np.where(up, step_p, -step_d)
    curved = ginf - (ginf - g) * np.exp(-m * rate)
    new = np.where(rate == 0.0, g + m * step, curved)
    written = n != 0
    noise = np.zeros_like(g)
    noise[written] = c2c_S[written] * np.sqrt(m[written]) * z[: int(written.sum())]
    new = np.where(written, np.clip(new + noise, g_lo, g_hi), g)
    out[...] = new
    return out


@njit(cache=True)
def pulse_update_numba(g, n, g_lo, g_hi, rate_p, ginf_p, step_p, rate_d, ginf_d, step_d, c2c_S, z, out):
    """Numba kernel: see :func:`pulse_update_numpy` for the contract."""
    k = 0
    for i in range(g.shape[0]):
        ni = n[i]
        if ni == 0:
            out[i] = g[i]
            continue
        if ni > 0:
            m = float(ni)
            rate, ginf, step = rate_p[i], ginf_p[i], step_p[i]
        else:
            m = float(-ni)
            rate, ginf, step = rate_d[i], ginf_d[i], -step_d[i]
        if rate == 0.0:
            new = g[i] + m * step
        else:
            new = ginf - (ginf - g[i]) * np.exp(-m * rate)
        new += c2c_S[i] * np.sqrt(m) * z[k]
        k += 1
        if new < g_lo[i]:
            new = g_lo[i]
        elif new > g_hi[i]:
            new = g_hi[i]
        out[i] = new
    return out
