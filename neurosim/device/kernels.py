"""Write kernels: apply pulse trains to many devices at once.

Each kernel exists twice: a Numba version for speed and a plain-NumPy twin
that is its specification; the tests run both on the same inputs and compare.
Both take flattened 1-D arrays of per-device curve parameters (built by
:class:`neurosim.device.array.DeviceArray`) and the standard-normal draws for
cycle-to-cycle noise, consumed in order, one per device whose pulse count is
non-zero (a device that is not written gets no noise).

A write of ``n`` pulses (``n > 0`` potentiation, ``n < 0`` depression) moves a
device along its curve with the closed form ``G' = G_inf - (G_inf - G) d^|n|``,
where ``d = exp(-1/A)`` is the curve's decay per pulse (a linear device,
``d = 1``, moves ``|n|`` equal steps instead), adds
``N(0, c2c_S * sqrt(|n|))`` and clips to the device's window. ``d^|n|`` is a
product of ``|n|`` factors for short trains (no ``exp`` in the common case).
"""

import numpy as np
from numba import njit

#: Trains up to this length use repeated multiplication for d^|n|; longer ones use pow.
_SHORT_TRAIN = 8


def pulse_update_numpy(g, n, g_lo, g_hi, decay_p, ginf_p, step_p, decay_d, ginf_d, step_d, c2c_S, z, out):
    """NumPy twin of :func:`pulse_update_numba` (the specification).

    g, g_lo, g_hi, ginf_*, step_*, c2c_S: conductances in siemens, 1-D, same length.
    n: signed pulse counts (int). decay_*: curve decay per pulse ``exp(-1/A)``
    (1 = linear, which moves by ``step_*`` per pulse). z: standard normals, one
    per non-zero ``n`` in order. Writes into and returns ``out``.
    """
    n = np.asarray(n)
    m = np.abs(n)
    up = n > 0
    decay = np.where(up, decay_p, decay_d)
    ginf = np.where(up, ginf_p, ginf_d)
    step = np.where(up, step_p, -step_d)
    curved = ginf - (ginf - g) * decay**m
    new = np.where(decay == 1.0, g + m * step, curved)
    written = n != 0
    noise = np.zeros_like(g)
    noise[written] = c2c_S[written] * np.sqrt(m[written]) * z[: int(written.sum())]
    out[...] = np.where(written, np.clip(new + noise, g_lo, g_hi), g)
    return out


@njit(cache=True)
def pulse_update_numba(g, n, g_lo, g_hi, decay_p, ginf_p, step_p, decay_d, ginf_d, step_d, c2c_S, z, out):
    """Numba kernel: see :func:`pulse_update_numpy` for the contract."""
    k = 0
    for i in range(g.shape[0]):
        ni = n[i]
        gi = g[i]
        if ni == 0:
            out[i] = gi
            continue
        if ni > 0:
            m = ni
            decay, ginf, step = decay_p[i], ginf_p[i], step_p[i]
        else:
            m = -ni
            decay, ginf, step = decay_d[i], ginf_d[i], -step_d[i]
        if decay == 1.0:
            new = gi + m * step
        else:
            if m <= _SHORT_TRAIN:
                f = decay
                for _ in range(m - 1):
                    f *= decay
            else:
                f = decay**m
            new = ginf - (ginf - gi) * f
        new += c2c_S[i] * np.sqrt(np.float64(m)) * z[k]
        k += 1
        out[i] = min(max(new, g_lo[i]), g_hi[i])
    return out
