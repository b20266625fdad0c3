"""Time-stepping kernels of the spiking simulator: a Numba kernel and its NumPy twin.

Both advance a flattened network (all neuron groups side by side, all input
sources after them) by ``n_steps`` time steps for the batch samples
``b0 <= b < b1``, in brian2's order within a step:

1. state monitors record ``v`` and the synaptic currents (values at the start of the step);
2. every neuron is updated with its group's exact propagator (see
   :mod:`neurosim.networks.spiking.dynamics`), evaluated in this order in both twins:
   ``v + (v_rest - v) a + (((q (i_ext + I_direct)) + p_0 I_0) + p_1 I_1 + ...)``, where the
   held-current term is left out for groups whose ``grp_held`` flag is 0 (no external
   current and no direct input: the term is exactly 0) and channels with ``p = D = 0``
   (unused by the group) are left out; then ``I_k *= D_k`` and ``I_direct = 0``. A neuron whose refractory
   counter is positive keeps its ``v`` (and counts down) while its currents
   still decay; the others fire if ``v > v_th`` and are reset at once (the
   reset only touches ``v``, which nothing else reads within the step);
3. the inputs fire: Poisson neurons when a uniform draw ``u < rate * dt``,
   regular-rate neurons when their phase (advanced by ``rate * dt`` per step)
   reaches 1 (the phase then drops by 1), spike-train neurons as listed;
4. the spikes of this step, in increasing source index, add their synaptic
   weights (CSR table by source) to the current slots of their targets.

State layout (``B`` samples, ``N`` neurons, ``M`` input neurons, ``K`` exponential
channels plus the direct channel): ``v (B, N)`` volts, ``cur (B, (K + 1) N)``
amperes with slot ``k N + j`` the channel-``k`` current of neuron ``j``
(``k = K``: the direct channel), ``ref (B, N)`` refractory counters,
``phase (B, M)`` regular-input phases. Per-sample inputs whose first axis has
length 1 are shared by all samples.

Poisson draws come from a counter-based generator (a SplitMix64 finaliser of
``seed_b + (counter + 1) * golden``, counter = ``step * M + m``), so both twins,
any split of the batch over threads and a run cut into single steps all draw
the same numbers.
"""

import numpy as np
from numba import njit

from neurosim.streams import uniform, uniform_numpy

def make_scratch(n_neurons: int, n_inputs: int) -> tuple:
    """Work arrays of one kernel call (one per thread): spike list, spike-train flags,
    drive (V), fire flags and the same flags as 8-byte words (to skip silent neurons fast)."""
    fire = np.zeros((n_neurons // 8 + 1) * 8, np.bool_)
    return (np.empty(n_neurons + n_inputs, np.int64), np.zeros(n_inputs, np.uint8), np.empty(n_neurons), fire, fire.view(np.uint64))


#: Input kinds (``in_kind``).
POISSON, REGULAR, SPIKE_TRAIN = 0, 1, 2


# -- the neuron update (shared with the converted SNN's fused engine) ------------------------------
@njit(cache=True, nogil=True)
def integrate_fire_numba(v, ref, drive, a, e, vth, vreset, sub, after, fire, fire_words, spk, ns, offset):
    """Numba kernel: see :func:`integrate_fire_numpy`. Skips 8 silent neurons at a time (``fire_words``)."""
    ng = v.shape[0]
    for j in range(ng):
        rj = ref[j]
        vj = v[j]
        new = vj + (e - vj) * a + drive[j]
        fz = rj > 0
        v[j] = vj if fz else new
        ref[j] = rj - 1 if fz else rj
        fire[j] = (not fz) and new > vth
    for j in range(ng, (ng + 7) // 8 * 8):
        fire[j] = False
    for w in range((ng + 7) // 8):
        if fire_words[w] != 0:
            for j in range(8 * w, 8 * w + 8 if 8 * w + 8 < ng else ng):
                if fire[j]:
                    v[j] = v[j] - (vth - vreset) if sub else vreset
                    ref[j] = after
                    spk[ns] = offset + j
                    ns += 1
    return ns


def integrate_fire_numpy(v, ref, drive, a, e, vth, vreset, sub, after, fire, fire_words, spk, ns, offset):
    """One time step of a row of LIF/IF neurons (one group, one sample), in place; returns the new ``ns``.

    ``v (n,)`` membrane potentials (V), ``ref (n,)`` refractory counters
    (steps), ``drive (n,)`` this step's input term (V): the exact update
    ``v + (e - v) a + drive`` (``a``: leak propagator, 0 for an IF neuron;
    ``e``: rest potential, V). A neuron whose counter is positive keeps
    ``v`` and counts down; the others fire when the new ``v > vth`` (V) and
    are reset by subtraction of ``vth - vreset`` (``sub``) or to ``vreset``,
    their counter set to ``after`` steps. The fired neurons' indices plus
    ``offset`` are appended to ``spk`` from position ``ns``, increasing.
    ``fire`` (at least ``n`` rounded up to 8 entries, bool) and its uint64
    view ``fire_words``: work arrays, left holding the fire flags.
    """
    n = v.shape[0]
    frozen = ref > 0
    new = v + (e - v) * a + drive
    fired = ~frozen & (new > vth)
    reset = new - (vth - vreset) if sub else np.full_like(new, vreset)
    v[...] = np.where(frozen, v, np.where(fired, reset, new))
    ref[...] = np.where(frozen, ref - 1, np.where(fired, after, ref))
    fire[: (n + 7) // 8 * 8] = False
    fire[:n] = fired
    idx = np.flatnonzero(fired)
    spk[ns : ns + idx.size] = offset + idx
    return ns + idx.size


@njit(cache=True, nogil=True)
def advance_numba(v, cur, ref, phase, i_ext, seeds,
                  grp_start, grp_a, grp_e, grp_vth, grp_vreset, grp_sub, grp_ref, grp_q, grp_p, grp_d, grp_held,
                  syn_ptr, syn_slot, syn_w,
                  in_kind, in_p, ev_ptr, ev_src,
                  rec_spk, counts, rec_idx, rec_v, rec_i,
                  dense, write_dense, scratch, buf, n_buf, step0, n_steps, b0, b1):
    """Numba kernel: see the module docstring and :func:`advance_numpy` for the contract.

    Returns ``(buf, n_buf)``: the spike-event buffer (rows ``(sample, step, source)``,
    grown by doubling when full) and the number of rows used. ``scratch`` is
    :func:`make_scratch` (work arrays made outside: allocating and viewing arrays
    inside the kernel costs seconds of compilation).
    """
    n = v.shape[1]
    m_in = in_kind.shape[0]
    n_src = n + m_in
    k1 = grp_p.shape[1]
    kd = (k1 - 1) * n
    n_groups = grp_a.shape[0]
    spk, fired, drive, fire, fire_words = scratch
    for b in range(b0, b1):
        vb, cb, rb = v[b], cur[b], ref[b]
        xb = i_ext[b if i_ext.shape[0] > 1 else 0]
        pb = in_p[b if in_p.shape[0] > 1 else 0]
        eb = ev_ptr[b if ev_ptr.shape[0] > 1 else 0]
        seed = seeds[b]
        for s in range(step0, step0 + n_steps):
            for r in range(rec_idx.shape[0]):
                j = rec_idx[r]
                rec_v[b, s, r] = vb[j]
                for k in range(k1 - 1):
                    rec_i[b, s, k, r] = cb[k * n + j]
            if write_dense:
                for x in range(n_src):
                    dense[b, x] = 0
            ns = 0
            for g in range(n_groups):
                # Views starting at 0 keep indices provably non-negative, which lets LLVM vectorise.
                j0, j1 = grp_start[g], grp_start[g + 1]
                ng = j1 - j0
                vg, rg, xg, dg = vb[j0:j1], rb[j0:j1], xb[j0:j1], drive[:ng]
                first = True
                if grp_held[g]:
                    cd, q = cb[kd + j0 : kd + j1], grp_q[g]
                    for j in range(ng):
                        dg[j] = q * (xg[j] + cd[j])
                        cd[j] = 0.0
                    first = False
                for k in range(k1 - 1):
                    pk, dk = grp_p[g, k], grp_d[g, k]
                    if pk == 0.0 and dk == 0.0:
                        continue
                    ck = cb[k * n + j0 : k * n + j1]
                    if first:
                        for j in range(ng):
                            c = ck[j]
                            dg[j] = pk * c
                            ck[j] = c * dk
                        first = False
                    else:
                        for j in range(ng):
                            c = ck[j]
                            dg[j] += pk * c
                            ck[j] = c * dk
                if first:
                    for j in range(ng):
                        dg[j] = 0.0
                after = grp_ref[g] - 1 if grp_ref[g] > 1 else 0
                ns = integrate_fire_numba(vg, rg, dg, grp_a[g], grp_e[g], grp_vth[g], grp_vreset[g], grp_sub[g], after,
                                          fire, fire_words, spk, ns, j0)
            for q in range(eb[s], eb[s + 1]):
                fired[ev_src[q] - n] = 1
            base = np.uint64(s) * np.uint64(m_in)
            for m in range(m_in):
                kind = in_kind[m]
                if kind == POISSON:
                    hit = uniform(seed, base + np.uint64(m)) < pb[m]
                elif kind == REGULAR:
                    phase[b, m] += pb[m]
                    hit = phase[b, m] >= 1.0
                    if hit:
                        phase[b, m] -= 1.0
                else:
                    hit = fired[m] == 1
                    fired[m] = 0
                if hit:
                    spk[ns] = n + m
                    ns += 1
            for i in range(ns):
                src = spk[i]
                for q in range(syn_ptr[src], syn_ptr[src + 1]):
                    cb[syn_slot[q]] += syn_w[q]
                counts[b, src] += 1
                if write_dense:
                    dense[b, src] = 1
                if rec_spk[src]:
                    if n_buf == buf.shape[0]:
                        grown = np.empty((2 * buf.shape[0] + 1024, 3), np.int64)
                        for x in range(n_buf):  # explicit loops: a 2-D slice copy costs seconds of compilation
                            for y in range(3):
                                grown[x, y] = buf[x, y]
                        buf = grown
                    buf[n_buf, 0] = b
                    buf[n_buf, 1] = s
                    buf[n_buf, 2] = src
                    n_buf += 1
    return buf, n_buf


def advance_numpy(v, cur, ref, phase, i_ext, seeds,
                  grp_start, grp_a, grp_e, grp_vth, grp_vreset, grp_sub, grp_ref, grp_q, grp_p, grp_d, grp_held,
                  syn_ptr, syn_slot, syn_w,
                  in_kind, in_p, ev_ptr, ev_src,
                  rec_spk, counts, rec_idx, rec_v, rec_i,
                  dense, write_dense, scratch, buf, n_buf, step0, n_steps, b0, b1):
    """NumPy twin of :func:`advance_numba` (the specification), vectorised over samples and neurons.

    Arguments (all modified in place where they are state or records):
    ``v, cur, ref, phase``: the state (module docstring). ``i_ext (1 or B, N)``: constant
    external current (A). ``seeds (B,)`` uint64: Poisson stream per sample.
    ``grp_*``: per neuron group ``g`` (neurons ``grp_start[g]:grp_start[g+1]``): propagator
    ``a``, ``q`` (V/A), ``p (G, K+1)`` (V/A), ``d (G, K+1)`` decays; ``e`` rest, ``vth``,
    ``vreset`` (V); ``sub`` 1 for reset by subtraction; ``ref`` refractory steps r;
    ``held`` 1 if the group may have a held current (external or direct channel).
    ``syn_ptr (N+M+1,)``, ``syn_slot``, ``syn_w`` (A): synapses of each source, CSR.
    ``in_kind (M,)``: POISSON, REGULAR or SPIKE_TRAIN; ``in_p (1 or B, M)``: rate * dt.
    ``ev_ptr (1 or B, steps+1)``, ``ev_src``: spike-train events (global source index) per step.
    ``rec_spk (N+M,)``: which sources' spikes go to ``buf``; ``counts (B, N+M)``: spike counts.
    ``rec_idx (R,)``, ``rec_v (B, steps, R)``, ``rec_i (B, steps, K, R)``: state records.
    ``dense (B, N+M)``: if ``write_dense``, this step's spikes as 0/1 (meant for one-step calls).
    ``scratch``: :func:`make_scratch` (the neuron update's work arrays). ``buf``, ``n_buf``: event rows so far.
    Steps ``step0 .. step0 + n_steps - 1`` (absolute indices) of samples ``b0 .. b1 - 1``.
    """
    n = v.shape[1]
    m_in = in_kind.shape[0]
    k1 = grp_p.shape[1]
    bs = slice(b0, b1)
    nb = b1 - b0
    cur3 = cur.reshape(cur.shape[0], k1, n)
    rows = np.arange(b0, b1)
    bx = rows if i_ext.shape[0] > 1 else np.zeros(nb, int)
    bp = rows if in_p.shape[0] > 1 else np.zeros(nb, int)
    be = rows if ev_ptr.shape[0] > 1 else np.zeros(nb, int)
    kind = np.asarray(in_kind)
    spk, _, _, fire, fire_words = scratch
    events = [buf[:n_buf]]
    for s in range(step0, step0 + n_steps):
        rec_v[bs, s, :] = v[bs][:, rec_idx]
        rec_i[bs, s, :, :] = cur3[bs, : k1 - 1][:, :, rec_idx]
        flags = np.zeros((nb, n + m_in), bool)
        for g in range(grp_a.shape[0]):
            sl = slice(grp_start[g], grp_start[g + 1])
            vv = v[bs, sl]
            terms = [grp_q[g] * (i_ext[bx, sl] + cur3[bs, k1 - 1, sl])] if grp_held[g] else []
            terms += [grp_p[g, k] * cur3[bs, k, sl] for k in range(k1 - 1) if grp_p[g, k] != 0.0 or grp_d[g, k] != 0.0]
            drive = np.zeros_like(vv)
            for i, term in enumerate(terms):
                drive = term if i == 0 else drive + term
            after = grp_ref[g] - 1 if grp_ref[g] > 1 else 0
            for i, b in enumerate(rows):
                ns = integrate_fire_numpy(v[b, sl], ref[b, sl], drive[i], grp_a[g], grp_e[g], grp_vth[g], grp_vreset[g],
                                          grp_sub[g], after, fire, fire_words, spk, 0, sl.start)
                flags[i, spk[:ns]] = True
            cur3[bs, :, sl] *= grp_d[g][None, :, None]
        counters = np.uint64(s) * np.uint64(m_in) + np.arange(m_in, dtype=np.uint64)
        u = uniform_numpy(seeds[bs, None], counters[None, :])
        p = in_p[bp]
        phase[bs] += np.where(kind == REGULAR, p, 0.0)
        regular_hit = (kind == REGULAR) & (phase[bs] >= 1.0)
        phase[bs] -= np.where(regular_hit, 1.0, 0.0)
        flags[:, n:] = ((kind == POISSON) & (u < p)) | regular_hit
        for i, b in enumerate(rows):
            listed = ev_src[ev_ptr[be[i], s] : ev_ptr[be[i], s + 1]]
            flags[i, listed] = True
            src = np.flatnonzero(flags[i])
            if src.size:
                syn = np.concatenate([np.arange(syn_ptr[x], syn_ptr[x + 1]) for x in src])
                np.add.at(cur[b], syn_slot[syn], syn_w[syn])
                kept = src[rec_spk[src].astype(bool)]
                events.append(np.stack([np.full(kept.size, b), np.full(kept.size, s), kept], axis=1))
        counts[bs] += flags
        if write_dense:
            dense[bs] = flags
    out = np.concatenate(events).astype(np.int64).reshape(-1, 3)
    return out, out.shape[0]
