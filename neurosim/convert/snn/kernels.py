"""Kernels of the converted spiking network: Poisson input events, crossbar reads of spike events, IF updates.

Each kernel exists twice: a Numba version (lazy, cached, serial, ``nogil``)
and a plain-NumPy twin that is its specification; the tests run both and
compare. The kernels work on a batch of independent samples and advance one
time step per call; :meth:`neurosim.convert.snn.CrossbarSNN.run` strings them together.

Spikes travel as *event lists*: ``idx (B, n)`` int32 holds, per sample, the
indices of the neurons that fired this step in increasing order, and
``cnt (B,)`` how many there are. Poisson inputs whose spike probability is
above 1/2 are read by complement: the read starts from the sum of their rows
(made once per sample) and takes away the rows of those that stayed silent
(a second event list), which gives the same sum with far fewer row
additions (an MNIST digit has about 104 spikes per step but only about 21
"surprises": low-probability inputs that fired, high-probability ones that did not).

Random numbers are counter-based, so results do not depend on how a batch is
split into chunks or threads:

- Poisson inputs use the spiking simulator's uniform draws
  (:mod:`neurosim.networks.spiking.kernels`): input ``m`` of a sample with
  stream ``seed`` fires at step ``s`` when ``u(seed, s * M + m) < p_m``; with the
  same seeds a :class:`~neurosim.networks.spiking.PoissonInput` of ``M`` neurons
  fires exactly the same spikes.
- Read noise uses :mod:`neurosim.streams` through the crossbar core: each
  sample has one stream per tile read (key), and its read at step ``s``
  takes the draws of row ``s`` of that stream, exactly as
  :func:`neurosim.crossbar.kernels.readout_numpy` draws row ``s`` of a batch.

The crossbar read of a spike vector (see :class:`ReadArrays` for the inputs):
a spike drives its row with the full read voltage, so each tile's noise-free
output is the sum of the signal rows of the active inputs, and its read-noise
variance the sum of their variance rows (independent Gaussian devices: the
output current is Gaussian with variance ``sum_i (v_i sigma_i)^2``). The
read-out of those sums (read noise, output noise, the reference column's
common current, ADC, clip counts) is the crossbar core's
(:func:`neurosim.crossbar.kernels.readout_row_numba`), and the neuron update
the spiking simulator's (:func:`neurosim.networks.spiking.kernels.integrate_fire_numba`).
With a per-tile ADC each tile is read out on its own and the codes are
summed across tiles, exactly as :meth:`neurosim.crossbar.CrossbarLayer.forward`
reads (the same draws given the same keys). With an ideal ADC (analog
integration of all tiles' column currents on the neuron) the row tiles'
sums are added first and each column tile is read out once with the summed
variances (signal, read noise, output noise of every row tile, reference
currents): the same distribution as the per-tile sum of independent
Gaussians, with a draw per output instead of one per tile output.
"""

import numpy as np
from numba import njit

from neurosim.crossbar.kernels import readout_row_numba, readout_row_numpy
from neurosim.networks.spiking.kernels import integrate_fire_numba, integrate_fire_numpy
from neurosim.streams import _fill_normals, counter_word, normals_from_counters_numpy, uniform_numpy


# -- Poisson input events ----------------------------------------------------------------------
@njit(cache=True, nogil=True)
def poisson_events_numba(seeds, nz_idx, nz_thr, nz_high, nz_cnt, step, m_in, idx, cnt, nidx, ncnt):
    """Numba kernel: see :func:`poisson_events_numpy`. The comparison ``u < p`` is made on the
    integers: ``u = k 2**-53`` with ``k`` the top 53 bits, and ``k 2**-53 < p`` exactly when
    ``k < ceil(p 2**53)`` (``nz_thr``, see :func:`spike_thresholds`)."""
    base = np.uint64(step) * np.uint64(m_in)
    for b in range(seeds.shape[0]):
        seed = seeds[b]
        ib, tb, hb = nz_idx[b], nz_thr[b], nz_high[b]
        n = 0
        nn = 0
        for k in range(nz_cnt[b]):
            i = ib[k]
            z = counter_word(seed, base + np.uint64(i))
            fired = (z >> np.uint64(11)) < tb[k]
            high = hb[k] != 0
            idx[b, n] = i
            n += 1 if (fired and not high) else 0
            nidx[b, nn] = i
            nn += 1 if (high and not fired) else 0
        cnt[b] = n
        ncnt[b] = nn


def spike_thresholds(p) -> np.ndarray:
    """``ceil(p * 2**53)`` as uint64: the integer form of the test ``u < p`` (``p`` in [0, 1])."""
    return np.ceil(np.asarray(p, dtype=np.float64) * 2.0**53).astype(np.uint64)


def poisson_events_numpy(seeds, nz_idx, nz_thr, nz_high, nz_cnt, step, m_in, idx, cnt, nidx, ncnt):
    """Input spikes of one step, as the events a crossbar read needs.

    ``seeds (B,)`` uint64: each sample's stream. ``nz_idx (B, K)`` int32: the
    inputs with a spike probability ``0 < p < 1``, increasing, ``nz_cnt (B,)``
    of them per row; ``nz_thr (B, K)``: their :func:`spike_thresholds`;
    ``nz_high (B, K)`` uint8: 1 for the inputs read by complement (usually
    ``p > 1/2``). Input ``i`` fires when the spiking simulator's uniform
    ``u(seed, step * m_in + i) < p``. Writes the inputs that fired and are not
    high to ``idx``/``cnt``, and the high inputs that stayed silent to
    ``nidx``/``ncnt`` (both increasing).
    """
    counters = np.uint64(step) * np.uint64(m_in) + nz_idx.astype(np.uint64)
    u = uniform_numpy(seeds[:, None], counters)
    p = nz_thr.astype(np.float64) * 2.0**-53  # exact: thresholds are at most 2**53
    valid = np.arange(nz_idx.shape[1])[None, :] < nz_cnt[:, None]
    fired = u < p  # for the 53-bit uniforms, u < ceil(p 2**53) 2**-53 is u < p
    high = nz_high != 0
    for b in range(seeds.shape[0]):
        plus = nz_idx[b][valid[b] & fired[b] & ~high[b]]
        minus = nz_idx[b][valid[b] & ~fired[b] & high[b]]
        idx[b, : plus.size] = plus
        cnt[b] = plus.size
        nidx[b, : minus.size] = minus
        ncnt[b] = minus.size


# -- integrate-and-fire update -----------------------------------------------------------------
@njit(cache=True, nogil=True)
def if_update_numba(v, ref, cur, bias, idx, cnt, counts, drive, fire, fire_words):
    """Numba kernel: see :func:`if_update_numpy`."""
    d = drive[: v.shape[1]]
    for b in range(v.shape[0]):
        cb = cur[b]
        for j in range(v.shape[1]):
            d[j] = bias[j] + cb[j]
        n = integrate_fire_numba(v[b], ref[b], d, 0.0, 0.0, 1.0, 0.0, True, 0, fire, fire_words, idx[b], 0, 0)
        kb, ib = counts[b], idx[b]
        for k in range(n):
            kb[ib[k]] += 1
        cnt[b] = n


def if_update_numpy(v, ref, cur, bias, idx, cnt, counts, drive, fire, fire_words):
    """One step of integrate-and-fire neurons with threshold 1 and reset by subtraction.

    The spiking simulator's neuron update
    (:func:`~neurosim.networks.spiking.kernels.integrate_fire_numpy`) with no
    leak, threshold 1, reset to 0 by subtraction and no refractory period,
    sample by sample: ``v (B, n)`` membrane potentials (normalised:
    threshold 1) become ``v + (bias + cur)``; a neuron with ``v > 1`` fires
    and loses 1. ``ref (B, n)`` int: refractory counters (stay 0). ``cur (B,
    n)``: this step's synaptic input (the reads of the previous step's
    spikes), ``bias (n,)``: constant input per step. Writes the spikes to
    ``idx``/``cnt`` and adds them to ``counts (B, n)``. ``drive (>= n,)``,
    ``fire`` and ``fire_words``: work arrays (see the neuron update).
    """
    d = drive[: v.shape[1]]
    for b in range(v.shape[0]):
        d[:] = bias + cur[b]
        n = integrate_fire_numpy(v[b], ref[b], d, 0.0, 0.0, 1.0, 0.0, True, 0, fire, fire_words, idx[b], 0, 0)
        counts[b, idx[b, :n]] += 1
        cnt[b] = n


# -- crossbar read of spike events -------------------------------------------------------------
@njit(cache=True, nogil=True)
def read_numba(idx, cnt, nidx, ncnt, pre, rw, n_out, has_var, has_common, pass_start, col_start, consts, keys, rows,
               out, acc, m, v, z, work):
    """Numba kernel: see :func:`read_numpy`. Sample by sample; ``acc (width,)`` float32, ``m (cols,)``,
    ``v (cols + 1,)``, ``z (cols + 2,)`` and ``work (2, cols)`` (float64, ``cols`` the widest column
    tile) are work arrays."""
    nb = out.shape[0]
    width = rw.shape[1]
    n_pass = pass_start.shape[0] - 1
    n_ct = col_start.shape[0] - 1
    has_pre = pre.shape[0] > 0
    has_minus = ncnt.shape[0] > 0
    off_v = n_out
    off_c = n_out + (n_out if has_var else 0)
    noisy = has_var or consts[1] > 0.0
    clipped = 0
    for b in range(nb):
        ob = out[b]
        for j in range(n_out):
            ob[j] = 0.0
        kp = 0
        kn = 0
        np_b = cnt[b]
        nn_b = ncnt[b] if has_minus else 0
        for r in range(n_pass):
            i1 = pass_start[r + 1]
            if has_pre:
                pb = pre[b, r]
                for j in range(width):
                    acc[j] = pb[j]
            else:
                for j in range(width):
                    acc[j] = 0.0
            while kp < np_b and idx[b, kp] < i1:  # events are sorted by input: this pass's are next
                w = rw[idx[b, kp]]
                for j in range(width):
                    acc[j] += w[j]
                kp += 1
            while kn < nn_b and nidx[b, kn] < i1:
                w = rw[nidx[b, kn]]
                for j in range(width):
                    acc[j] -= w[j]
                kn += 1
            for c in range(n_ct):  # each column tile is one read-out of the crossbar core
                c0, c1 = col_start[c], col_start[c + 1]
                cw = c1 - c0
                for j in range(cw):
                    m[j] = np.float64(acc[c0 + j])
                nv = 0
                if has_var:
                    for j in range(cw):
                        v[j] = max(np.float64(acc[off_v + c0 + j]), 0.0)
                    nv = cw
                    if has_common:
                        v[cw] = max(np.float64(acc[off_c + c]), 0.0)
                        nv = cw + 1
                zc = z[: 2 * ((cw + 2) // 2)]
                if noisy:
                    _fill_normals(keys[b, r * n_ct + c], rows[b] * ((cw + 2) // 2), zc)
                clipped += readout_row_numba(m[:cw], v[:nv], has_common, consts, zc, ob[c0:c1], work)
    return clipped


def read_numpy(idx, cnt, nidx, ncnt, pre, rw, n_out, has_var, has_common, pass_start, col_start, consts, keys, rows,
               out, acc, m, v, z, work):
    """Crossbar read of one step's spikes: ``out (B, n_out)`` is overwritten; returns the clipped ADC conversions.

    A spike applies the full read voltage (input 1) to its row, so a tile's
    noise-free output is the sum of the signal rows of the inputs that fired,
    and its read-noise variance the sum of their variance rows. ``rw (n_in,
    width)`` float32 holds one row per input: the signal (weight units) of its
    devices for the ``n_out`` outputs, then (``has_var``) their read-noise
    variances, then (``has_common``) the variance of its reference device in
    each column tile. The sums of a sample start from ``pre[b, pass]`` (``pre
    (B, passes, width)`` float32; an empty ``(0, 0, 0)`` array means zero), add
    the rows of the events ``idx``/``cnt`` and subtract the rows of the events
    ``nidx``/``ncnt`` (empty arrays: none), in float32. So ``pre`` holds
    analog inputs (rows weighted by the applied inputs, variances by their
    squares), or the rows of the inputs read by complement, whose silent
    inputs are then the minus events: either way the same sum as the dense
    read of the step's spike vector. Passes: input ``i`` is in pass ``r``
    when ``pass_start[r] <= i < pass_start[r + 1]`` (the row tiles for a
    per-tile ADC, else one pass over all rows: the tiles' column currents
    summed in analog).

    Each pass and column tile (outputs ``col_start[c] .. col_start[c + 1] - 1``)
    is then one read-out of the crossbar core,
    :func:`~neurosim.crossbar.kernels.readout_row_numpy` with the read's
    ``consts`` (:func:`~neurosim.crossbar.kernels.readout_constants_numpy`),
    on the sums in float64 (variances clipped at 0: float32 rounding of
    complements): sample ``b`` takes the draws of row ``rows[b]`` of a core
    read-out with key ``keys[b, r * C + c]`` (``keys (B, passes * C)`` uint64),
    so with ``keys[b] = k`` and ``rows[b] = b`` this is exactly what
    :func:`~neurosim.crossbar.kernels.readout_numpy` draws for a batch read
    with tile keys ``k``. ``acc``, ``m``, ``v``, ``z``, ``work``: the Numba
    kernel's work arrays (unused here).
    """
    nb = out.shape[0]
    n_in = rw.shape[0]
    n_pass = pass_start.shape[0] - 1
    n_ct = col_start.shape[0] - 1
    off_v = n_out
    off_c = n_out + (n_out if has_var else 0)
    noisy = has_var or consts[1] > 0.0
    spikes = np.zeros((nb, n_in), np.float32)
    for b in range(nb):
        spikes[b, idx[b, : cnt[b]]] += 1.0  # each list holds an input at most once
        if ncnt.shape[0]:
            spikes[b, nidx[b, : ncnt[b]]] -= 1.0
    sums = np.stack([spikes[:, pass_start[r] : pass_start[r + 1]] @ rw[pass_start[r] : pass_start[r + 1]]
                     for r in range(n_pass)], axis=1)
    if pre.shape[0] > 0:
        sums = pre + sums
    sums = sums.astype(np.float64)
    out[...] = 0.0
    clipped = 0
    for b in range(nb):
        for r in range(n_pass):
            a = sums[b, r]
            for c in range(n_ct):
                c0, c1 = col_start[c], col_start[c + 1]
                cw = c1 - c0
                var = np.zeros(0)
                if has_var:
                    var = np.maximum(a[off_v + c0 : off_v + c1], 0.0)
                    if has_common:
                        var = np.append(var, max(a[off_c + c], 0.0))
                zc = np.zeros(cw + 1)
                if noisy:
                    zc = normals_from_counters_numpy(keys[b, r * n_ct + c], rows[b] * 2 * ((cw + 2) // 2) + np.arange(cw + 1))
                clipped += readout_row_numpy(a[c0:c1], var, has_common, consts, zc, out[b, c0:c1], None)
    return clipped


KERNELS = {
    "numba": (poisson_events_numba, if_update_numba, read_numba),
    "numpy": (poisson_events_numpy, if_update_numpy, read_numpy),
}
