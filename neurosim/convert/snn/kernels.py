"""Kernels of the converted spiking network: Poisson input events, crossbar reads of spike events, IF updates.

Each kernel exists twice: a Numba version (lazy, cached, serial, ``nogil``)
and a plain-NumPy twin that is its specification; the tests run both and
compare. The kernels work on a batch of independent samples and advance one
time step per call; :func:`simulate` strings them together.

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
- Read noise uses :mod:`neurosim.streams`: the read of a layer at step ``s``
  takes draws ``2 * first_pair + d`` of the sample's stream ``key``, with
  ``first_pair = s * pairs_per_step + pair offset of the layer``.

The crossbar read of a spike vector (see :class:`ReadArrays` for the inputs):
a spike drives its row with the full read voltage, so each tile's noise-free
output is the sum of the signal rows of the active inputs, and its read-noise
variance the sum of their variance rows (independent Gaussian devices: the
output current is Gaussian with variance ``sum_i (v_i sigma_i)^2``). With a
per-tile ADC each tile's output gets its own Gaussian draw (read noise plus
output noise; for the reference-column mapping minus the reference column's
current noise, common to the tile's outputs), is digitised and summed across
tiles, exactly as :meth:`neurosim.crossbar.CrossbarLayer.forward` reads.
With an ideal ADC (analog integration of all tiles' column currents on the
neuron) the tile sums are added first and one draw with the summed variance
is made per output: the same distribution with fewer draws.
"""

import math

import numpy as np
from numba import njit

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
def if_update_numba(v, cur, bias, idx, cnt, counts):
    """Numba kernel: see :func:`if_update_numpy`."""
    for b in range(v.shape[0]):
        vb, cb, kb = v[b], cur[b], counts[b]
        n = 0
        for j in range(v.shape[1]):
            x = vb[j] + (bias[j] + cb[j])
            if x > 1.0:
                x -= 1.0
                idx[b, n] = j
                n += 1
                kb[j] += 1
            vb[j] = x
        cnt[b] = n


def if_update_numpy(v, cur, bias, idx, cnt, counts):
    """One step of integrate-and-fire neurons with threshold 1 and reset by subtraction.

    ``v (B, n)``: membrane potentials (normalised: threshold 1), updated in
    place as ``v + (bias + cur)``; a neuron with ``v > 1`` fires and loses 1.
    ``cur (B, n)``: this step's synaptic input (the reads of the previous
    step's spikes), ``bias (n,)``: constant input per step. Writes the spikes
    to ``idx``/``cnt`` and adds them to ``counts (B, n)``.
    """
    x = v + (bias[None, :] + cur)
    fire = x > 1.0
    v[...] = np.where(fire, x - 1.0, x)
    counts += fire
    for b in range(v.shape[0]):
        fired = np.flatnonzero(fire[b])
        idx[b, : fired.size] = fired
        cnt[b] = fired.size


# -- crossbar read of spike events -------------------------------------------------------------
@njit(cache=True, nogil=True)
def read_numba(idx, cnt, nidx, ncnt, pre, rw, n_out, has_var, has_common, tile_start, col_tile, dpos, cpos,
               out_var, step, max_code, keys, first_pair, out, acc, z, tot):
    """Numba kernel: see :func:`read_numpy`. Sample by sample; ``acc (width,)`` float32, ``z (draws,)``
    and ``tot (3, n_out)`` are work arrays."""
    nb = out.shape[0]
    n_in, width = rw.shape
    n_rt = tile_start.shape[0] - 1
    has_pre = pre.shape[0] > 0
    has_minus = ncnt.shape[0] > 0
    off_v = n_out
    off_c = n_out + (n_out if has_var else 0)
    noisy = has_var or out_var > 0.0
    tile_adc = step > 0.0
    per_tile = tile_adc or has_common
    n_pass = n_rt if per_tile else 1
    rest_var = out_var * n_rt
    inv = 1.0 / step if tile_adc else 0.0
    top = float(max_code)
    clipped = 0
    for b in range(nb):
        if noisy:
            _fill_normals(keys[b], first_pair, z)
        ob = out[b]
        if per_tile:
            for j in range(n_out):
                ob[j] = 0.0
                tot[0, j] = 0.0
                tot[1, j] = 0.0
                tot[2, j] = 0.0
        kp = 0
        kn = 0
        np_b = cnt[b]
        nn_b = ncnt[b] if has_minus else 0
        for r in range(n_pass):
            i1 = tile_start[r + 1] if per_tile else n_in
            if has_pre:
                pb = pre[b, r]
                for j in range(width):
                    acc[j] = pb[j]
            else:
                for j in range(width):
                    acc[j] = 0.0
            while kp < np_b and idx[b, kp] < i1:  # events are sorted by input: this tile's are next
                w = rw[idx[b, kp]]
                for j in range(width):
                    acc[j] += w[j]
                kp += 1
            while kn < nn_b and nidx[b, kn] < i1:
                w = rw[nidx[b, kn]]
                for j in range(width):
                    acc[j] -= w[j]
                kn += 1
            if tile_adc:
                for j in range(n_out):
                    y = np.float64(acc[j])
                    if noisy:
                        vv = out_var + max(np.float64(acc[off_v + j]), 0.0) if has_var else out_var
                        shared = 0.0
                        if has_common:
                            ct = col_tile[j]
                            shared = math.sqrt(max(np.float64(acc[off_c + ct]), 0.0)) * z[cpos[r, ct]]
                        y = y - shared + math.sqrt(vv) * z[dpos[r, j]]
                    u = abs(y) * inv + 0.5
                    if u >= top + 1.0:
                        clipped += 1
                    code = min(math.floor(u), top) * step
                    ob[j] += code if y >= 0 else -code
            elif per_tile:  # ideal ADC with reference columns: tile sums, one common draw per tile
                for j in range(n_out):
                    tot[0, j] += np.float64(acc[j])
                    if noisy:
                        tot[1, j] += out_var + max(np.float64(acc[off_v + j]), 0.0) if has_var else out_var
                        ct = col_tile[j]
                        tot[2, j] += math.sqrt(max(np.float64(acc[off_c + ct]), 0.0)) * z[cpos[r, ct]]
            elif noisy:  # ideal ADC, one pass over all rows: output j takes draw j (views: the loops vectorise)
                if has_var:
                    av = acc[off_v : off_v + n_out]
                    for j in range(n_out):
                        ob[j] = np.float64(acc[j]) + math.sqrt(rest_var + max(np.float64(av[j]), 0.0)) * z[j]
                else:
                    for j in range(n_out):
                        ob[j] = np.float64(acc[j]) + math.sqrt(rest_var) * z[j]
            else:
                for j in range(n_out):
                    ob[j] = np.float64(acc[j])
        if per_tile and not tile_adc:
            for j in range(n_out):
                y = tot[0, j]
                if noisy:
                    y = y - tot[2, j] + math.sqrt(tot[1, j]) * z[dpos[0, j]]
                ob[j] = y
    return clipped


def read_numpy(idx, cnt, nidx, ncnt, pre, rw, n_out, has_var, has_common, tile_start, col_tile, dpos, cpos,
               out_var, step, max_code, keys, first_pair, out, acc, z, tot):
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
    read of the step's spike vector. Passes: one per row tile (input ``i`` is
    in tile ``r`` when ``tile_start[r] <= i < tile_start[r + 1]``) when the
    read keeps tiles apart (a per-tile ADC, ``step > 0``, or reference
    columns, ``has_common``), else one over all rows.

    Then each conversion gets its Gaussian draw: ``dpos (R, n_out)`` and
    ``cpos (R, C)`` say which draw of the read (ideal ADC: row 0 of ``dpos``,
    one draw per output); ``col_tile (n_out,)`` is each output's column tile;
    ``out_var`` is the output-noise variance of one conversion; variances are
    clipped at 0 (float32 rounding of complements). Per-tile ADC: ``y = m -
    sqrt(c) z_c + sqrt(out_var + v) z``, rounded half up to ``step`` and capped at
    ``max_code`` steps (counted as clipped beyond it), summed over tiles.
    Ideal ADC (tiles summed in analog): ``y = sum m - sum_r sqrt(c_r) z_r +
    sqrt(sum (out_var + v_r)) z``, or with one pass ``y = m + sqrt(R out_var + v) z``
    (output ``j`` then takes draw ``j``).
    ``keys (B,)`` uint64 and ``first_pair``: the draws (module docstring).
    ``acc``, ``z``, ``tot``: the Numba kernel's work arrays (only ``z``'s length,
    the draws per read, is used here).
    """
    nb = out.shape[0]
    n_in, width = rw.shape
    n_rt = tile_start.shape[0] - 1
    off_v = n_out
    off_c = n_out + (n_out if has_var else 0)
    noisy = has_var or out_var > 0.0
    per_tile = step > 0.0 or has_common
    passes = [(tile_start[r], tile_start[r + 1]) for r in range(n_rt)] if per_tile else [(0, n_in)]
    spikes = np.zeros((nb, n_in), np.float32)
    for b in range(nb):
        spikes[b, idx[b, : cnt[b]]] += 1.0  # each list holds an input at most once
        if ncnt.shape[0]:
            spikes[b, nidx[b, : ncnt[b]]] -= 1.0
    sums = np.stack([spikes[:, i0:i1] @ rw[i0:i1] for i0, i1 in passes], axis=1)
    if pre.shape[0] > 0:
        sums = pre + sums
    sums = sums.astype(np.float64)
    n_draws = z.shape[0]
    zz = np.zeros((nb, n_draws))
    if noisy:
        for b in range(nb):
            zz[b] = normals_from_counters_numpy(keys[b], 2 * first_pair + np.arange(n_draws))
    cols = np.arange(n_out)
    clipped = 0
    if step > 0.0:
        out[...] = 0.0
        for r in range(n_rt):
            a = sums[:, r]
            y = a[:, :n_out]
            if noisy:
                vv = out_var + np.maximum(a[:, off_v : off_v + n_out], 0.0) if has_var else np.full((nb, n_out), out_var)
                shared = np.sqrt(np.maximum(a[:, off_c + col_tile], 0.0)) * zz[:, cpos[r, col_tile]] if has_common else 0.0
                y = y - shared + np.sqrt(vv) * zz[:, dpos[r, cols]]
            u = np.abs(y) * (1.0 / step) + 0.5
            clipped += int(np.count_nonzero(u >= float(max_code) + 1.0))
            code = np.minimum(np.floor(u), float(max_code)) * step
            out += np.where(y >= 0, code, -code)
    elif per_tile:
        m = np.zeros((nb, n_out))
        vv = np.zeros((nb, n_out))
        shared = np.zeros((nb, n_out))
        for r in range(n_rt):
            a = sums[:, r]
            m = m + a[:, :n_out]
            if noisy:
                vv = vv + (out_var + np.maximum(a[:, off_v : off_v + n_out], 0.0) if has_var else out_var)
                shared = shared + np.sqrt(np.maximum(a[:, off_c + col_tile], 0.0)) * zz[:, cpos[r, col_tile]]
        out[...] = m - shared + np.sqrt(vv) * zz[:, dpos[0, cols]] if noisy else m
    else:
        a = sums[:, 0]
        rest = out_var * n_rt
        if noisy:
            vv = rest + np.maximum(a[:, off_v : off_v + n_out], 0.0) if has_var else np.full((nb, n_out), rest)
            out[...] = a[:, :n_out] + np.sqrt(vv) * zz[:, :n_out]
        else:
            out[...] = a[:, :n_out]
    return clipped


KERNELS = {
    "numba": (poisson_events_numba, if_update_numba, read_numba),
    "numpy": (poisson_events_numpy, if_update_numpy, read_numpy),
}
