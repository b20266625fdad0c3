"""Time-stepping kernel of the plastic (STDP) network: a Numba kernel and its NumPy twin.

The network (Diehl & Cook 2015): ``M`` Poisson inputs drive ``N`` excitatory
neurons through plastic all-to-all synapses ``W (M, N)``; excitatory neuron
``j`` drives inhibitory neuron ``j`` (weight ``w_ei``), and inhibitory neuron
``j`` inhibits every excitatory neuron but ``j`` (weight ``w_ie``).
Conductances are dimensionless (in units of the leak conductance).

One step of ``dt``, in brian2's order (state update, thresholds, synapses, resets):

1. every excitatory neuron out of its refractory period moves by exponential
   Euler with its conductances frozen over the step (brian2's
   ``exponential_euler``): with ``G = 1 + ge + gi`` and
   ``v_inf = (v_rest + ge E_exc + gi E_inh) / G``,
   ``v' = v_inf + (v - v_inf) exp(-dt G / tau_m)``; a neuron in its
   refractory period keeps ``v`` and counts down. Then
   ``ge *= exp(-dt/tau_ge)``, ``gi *= exp(-dt/tau_gi)``,
   ``theta *= exp(-dt/tau_theta)`` (adaptive thresholds only; otherwise ``theta``
   is held, as in Diehl & Cook's test mode) and the post traces decay by one step.
   The inhibitory neurons likewise (no inhibitory input). A neuron fires
   when it is not refractory and ``v > v_th (+ theta for excitatory)``; an
   excitatory neuron also needs its block counter (set to ``B = ip[IP_BLOCK]``
   at a spike, counted down every step) to be 0 before this step's count-down.
2. input ``i`` fires when a counter-based uniform ``u(step M + i) < rate_i dt``
   (:func:`neurosim.streams.uniform`, so a run cut anywhere draws the same spikes).
3. synapses, inputs in increasing index: ``ge_j += w_ij`` for every ``j``, then the
   pre trace jumps (``x_pre = 1`` or ``+= 1``) and ``w_ij`` is depressed by
   ``nu_pre x_post1_j`` (times ``w_ij / w_max`` for the multiplicative form);
   then excitatory spikes: ``ge_inh_j += w_ei``, each ``w_ij`` is potentiated
   by ``nu_post x_pre_i`` (times the triplet factor ``x_post2_j`` before its
   jump, when the rule has one, and ``(w_max - w_ij)/w_max`` for the
   multiplicative form), then the post traces jump; then inhibitory spikes:
   ``gi_k += w_ie`` for ``k != j``.
4. resets: ``v = v_reset``, ``theta += theta_plus`` (if adaptive), refractory and block counters set.

Pre traces are decayed lazily: input ``i`` stores its trace and the step of
its last update; its value at step ``s`` is ``x exp(-(s - s_i) dt / tau_pre)``
(a table of powers for recent steps). Conductances and post traces that
decay below :data:`FLUSH` are set to 0 (and a neuron without input then
leaks with a precomputed factor). Every weight change of the additive
form is clipped to ``[0, w_max]`` on an ideal (exact) synapse, and so is every
synapse a spike touches, even when its change is 0 (as brian2's
``w = clip(w + dw, 0, w_max)`` does; normalisation may have left it above ``w_max``).

Device synapses (``ip[IP_DEVICE] = 1``): ``W`` holds conductances ``G`` (S)
and a weight is ``w = (G - g0) / k`` (``k`` siemens per weight unit). A
change ``dw`` becomes ``x = dw / dw_pulse`` nominal pulses of its direction,
rounded stochastically (``floor(x) + (u < frac(x))``, so the expected change is
``dw``), and a non-zero count is written through the device core's
:func:`neurosim.device.kernels.pulse_write`: the card's nonlinear curve,
cycle-to-cycle noise and the clip to each device's window. Draw ``c`` of the
run's write counter gives the rounding uniform (stream ``key_round``) and
the noise (Gaussian draw ``c`` of stream ``key_noise``).
"""

import math

import numpy as np
from numba import njit

from neurosim.device.kernels import pulse_write, pulse_write_numpy
from neurosim.streams import normals_from_counters_numpy, normals_numba, uniform, uniform_numpy

# -- rows of the float state ``sf (S_SIZE, N)`` ----------------------------------------------------
S_VE, S_GE, S_GI, S_THETA, S_VI, S_GEI, S_POST1, S_POST2 = range(8)
S_SIZE = 8
# -- rows of the int state ``si (3, N)``: refractory counters, excitatory firing block --------------
R_E, R_I, R_BLOCK = 0, 1, 2
# -- counters ``ctr`` (int64): absolute step, write draws used ------------------------------------
C_STEP, C_DRAW = 0, 1

# -- float parameters ``fp`` --------------------------------------------------------------------------
(FP_DT_TAU_E, FP_VREST_E, FP_EEXC, FP_EINH_E, FP_VTH_E, FP_VRESET_E, FP_DT_TAU_I, FP_VREST_I,
 FP_VTH_I, FP_VRESET_I, FP_D_GE, FP_D_GI, FP_D_GEI, FP_D_THETA, FP_THETA_PLUS, FP_D_POST1, FP_D_POST2,
 FP_W_EI, FP_W_IE, FP_NU_PRE, FP_NU_POST, FP_WMAX, FP_G0, FP_K, FP_DWP_LTP, FP_DWP_LTD, FP_C2C) = range(27)
FP_SIZE = 27
# -- int parameters ``ip`` ---------------------------------------------------------------------------
IP_REF_E, IP_REF_I = 0, 1  # refractory steps r: v is held for r - 1 updates after a spike
IP_PLASTIC = 2  # 1: STDP on
IP_ADAPT = 3  # 1: theta grows by theta_plus at each spike and decays; 0: theta is held (Diehl & Cook's test mode)
IP_TRIPLET = 4  # 1: potentiation times the post2 trace
IP_MULT = 5  # 1: multiplicative (soft-bound) form
IP_RESET_TRACE = 6  # 1: a spike sets its trace to 1 (nearest spike), 0: adds 1
IP_DEVICE = 7  # 1: W holds device conductances written by pulses
IP_BLOCK = 8  # steps B after an excitatory spike during which it cannot fire (allowed again B + 1 steps after)
IP_SIZE = 9
# -- statistics ``stats`` (int64) --------------------------------------------------------------------
ST_LTP, ST_LTD, ST_WRITES, ST_REC_E, ST_REC_IN = range(5)
ST_SIZE = 5


#: Conductances and post traces that decay below this are set to 0 (it keeps them out of the slow subnormal
#: range; a change of 1e-30 cannot move a weight or a membrane potential of ordinary size in float64).
FLUSH = 1e-30


@njit(cache=True)
def _decayed(x, d):
    """``x d``, or 0 once below :data:`FLUSH`."""
    y = x * d
    return y if y >= FLUSH else 0.0


@njit(cache=True)
def _pre_trace(x, last, s, table, log_decay):
    """Value at step ``s`` of a trace ``x`` last updated at step ``last`` (``table[k] = decay**k``)."""
    k = s - last
    return x * (table[k] if k < table.shape[0] else math.exp(k * log_decay))


@njit(cache=True, inline="always")
def _clip(w, w_max):
    """``w`` clipped to ``[0, w_max]``."""
    return 0.0 if w < 0.0 else (w_max if w > w_max else w)


@njit(cache=True)
def _change(W, P, d, dw, fp, ip, keys, ctr, buf, stats):
    """Apply the weight change ``dw`` to synapse ``d`` (flat index into ``W``): exact, or as device pulses."""
    if ip[IP_DEVICE] == 0:
        W[d] = _clip(W[d] + dw, fp[FP_WMAX])
        return
    x = dw / (fp[FP_DWP_LTP] if dw > 0 else fp[FP_DWP_LTD])
    c = ctr[C_DRAW]
    ctr[C_DRAW] = c + 1
    u = uniform(keys[0], np.uint64(c))
    fl = math.floor(x)
    n = np.int64(fl) + (1 if u < x - fl else 0)
    if n == 0:
        return
    z = 0.0
    if fp[FP_C2C] != 0.0:
        normals_numba(keys[1], c >> 1, buf)
        z = buf[c & 1]
    if n > 0:
        stats[ST_LTP] += n
    else:
        stats[ST_LTD] -= n
    stats[ST_WRITES] += 1
    W[d] = pulse_write(W[d], n, P[0][d], P[1][d], P[2][d], P[3][d], P[4][d], P[5][d], fp[FP_C2C], P[6], z)


@njit(cache=True)
def _weight(W, d, fp, ip):
    """Weight (weight units) of synapse ``d``."""
    return W[d] if ip[IP_DEVICE] == 0 else (W[d] - fp[FP_G0]) / fp[FP_K]


@njit(cache=True)
def run_numba(sf, si, x_pre, s_pre, W, P, keys, ctr, fp, ip, p_in, table, log_decay_pre,
              counts, pop, rec_e, rec_in, record, stats, n_steps):
    """Numba kernel: advance the network ``n_steps`` steps from step ``ctr[C_STEP]`` (see the module docstring).

    ``sf (S_SIZE, N)`` float state, ``si (3, N)`` refractory and block counters, ``x_pre (M,)``
    pre traces last updated at steps ``s_pre (M,)``; ``W (M*N,)`` weights or
    conductances (row ``i`` = input ``i``); ``P``: the six per-device write
    arrays of :attr:`neurosim.device.DeviceArray.write_params` (flat, ``W``'s
    layout) and its step table (``write_params[7]``; shape (4, 0) for the analytic curve); ``keys`` (uint64, 3): the rounding, noise and input streams; ``ctr``: counters (updated). ``p_in (M,)``: spike
    probability per step ``rate dt``. ``table``: powers of the pre-trace decay.
    Outputs: ``counts (N,)`` += excitatory spikes, ``pop (n_steps,)`` excitatory
    spikes per step, ``rec_e``/``rec_in`` ``(cap, 2)`` (step, index) of every
    excitatory / input spike when ``record``, ``stats`` (ST_*).
    """
    n = sf.shape[1]
    m = p_in.shape[0]
    ve, ge, gi, th = sf[S_VE], sf[S_GE], sf[S_GI], sf[S_THETA]
    vi, gei, post1, post2 = sf[S_VI], sf[S_GEI], sf[S_POST1], sf[S_POST2]
    re, ri, rb = si[R_E], si[R_I], si[R_BLOCK]
    fire_e = np.zeros(n, np.bool_)
    fire_i = np.zeros(n, np.bool_)
    spk_in = np.empty(m, np.int64)
    buf = np.empty(2)
    active = np.empty(m, np.int64)
    n_active = 0
    for i in range(m):
        if p_in[i] > 0.0:
            active[n_active] = i
            n_active += 1
    after_e = ip[IP_REF_E] - 1 if ip[IP_REF_E] > 1 else 0
    after_i = ip[IP_REF_I] - 1 if ip[IP_REF_I] > 1 else 0
    plastic = ip[IP_PLASTIC] == 1
    device = ip[IP_DEVICE] == 1
    mult = ip[IP_MULT] == 1
    adapt = ip[IP_ADAPT] == 1
    leak_e, leak_i = math.exp(-fp[FP_DT_TAU_E]), math.exp(-fp[FP_DT_TAU_I])
    for t in range(n_steps):
        s = ctr[C_STEP]
        n_fire_e = 0
        n_fire_i = 0
        for j in range(n):
            free = rb[j] == 0
            if not free:
                rb[j] -= 1
            if re[j] > 0:
                re[j] -= 1
                fire_e[j] = False
            else:
                if ge[j] == 0.0 and gi[j] == 0.0:  # no input: the plain leak (its factor computed once)
                    ve[j] = fp[FP_VREST_E] + (ve[j] - fp[FP_VREST_E]) * leak_e
                else:
                    g = 1.0 + ge[j] + gi[j]
                    v_inf = (fp[FP_VREST_E] + ge[j] * fp[FP_EEXC] + gi[j] * fp[FP_EINH_E]) / g
                    ve[j] = v_inf + (ve[j] - v_inf) * math.exp(-fp[FP_DT_TAU_E] * g)
                fire_e[j] = free and ve[j] > fp[FP_VTH_E] + th[j]
                n_fire_e += fire_e[j]
            ge[j] = _decayed(ge[j], fp[FP_D_GE])
            gi[j] = _decayed(gi[j], fp[FP_D_GI])
            if adapt:
                th[j] *= fp[FP_D_THETA]
            post1[j] = _decayed(post1[j], fp[FP_D_POST1])
            post2[j] = _decayed(post2[j], fp[FP_D_POST2])
            if ri[j] > 0:
                ri[j] -= 1
                fire_i[j] = False
            else:
                if gei[j] == 0.0:
                    vi[j] = fp[FP_VREST_I] + (vi[j] - fp[FP_VREST_I]) * leak_i
                else:
                    g = 1.0 + gei[j]
                    v_inf = (fp[FP_VREST_I] + gei[j] * fp[FP_EEXC]) / g
                    vi[j] = v_inf + (vi[j] - v_inf) * math.exp(-fp[FP_DT_TAU_I] * g)
                fire_i[j] = vi[j] > fp[FP_VTH_I]
                n_fire_i += fire_i[j]
            gei[j] = _decayed(gei[j], fp[FP_D_GEI])
        base = np.uint64(s) * np.uint64(m)
        ns = 0
        for a in range(n_active):
            i = active[a]
            if uniform(keys[2], base + np.uint64(i)) < p_in[i]:
                spk_in[ns] = i
                ns += 1
        for q in range(ns):
            i = spk_in[q]
            row = i * n
            if device:
                for j in range(n):
                    ge[j] += (W[row + j] - fp[FP_G0]) / fp[FP_K]
            else:
                for j in range(n):
                    ge[j] += W[row + j]
            if record:
                r = stats[ST_REC_IN]
                if r < rec_in.shape[0]:
                    rec_in[r, 0] = s
                    rec_in[r, 1] = i
                stats[ST_REC_IN] = r + 1
            if plastic:
                x = _pre_trace(x_pre[i], s_pre[i], s, table, log_decay_pre)
                x_pre[i] = 1.0 if ip[IP_RESET_TRACE] == 1 else x + 1.0
                s_pre[i] = s
                if not device:
                    for j in range(n):
                        dw = -fp[FP_NU_PRE] * post1[j]
                        if mult:
                            dw *= W[row + j] / fp[FP_WMAX]
                        W[row + j] = _clip(W[row + j] + dw, fp[FP_WMAX])
                else:
                    for j in range(n):
                        dw = -fp[FP_NU_PRE] * post1[j]
                        if dw == 0.0:
                            continue
                        if mult:
                            dw *= _weight(W, row + j, fp, ip) / fp[FP_WMAX]
                        if dw != 0.0:
                            _change(W, P, row + j, dw, fp, ip, keys, ctr, buf, stats)
        if n_fire_e:
            for j in range(n):
                if not fire_e[j]:
                    continue
                gei[j] += fp[FP_W_EI]
                counts[j] += 1
                pop[t] += 1
                if record:
                    r = stats[ST_REC_E]
                    if r < rec_e.shape[0]:
                        rec_e[r, 0] = s
                        rec_e[r, 1] = j
                    stats[ST_REC_E] = r + 1
                if plastic:
                    factor = fp[FP_NU_POST] * (post2[j] if ip[IP_TRIPLET] == 1 else 1.0)
                    for i in range(m):
                        dw = factor * _pre_trace(x_pre[i], s_pre[i], s, table, log_decay_pre)
                        if mult:
                            dw *= (fp[FP_WMAX] - _weight(W, i * n + j, fp, ip)) / fp[FP_WMAX]
                        if not device:
                            W[i * n + j] = _clip(W[i * n + j] + dw, fp[FP_WMAX])
                        elif dw != 0.0:
                            _change(W, P, i * n + j, dw, fp, ip, keys, ctr, buf, stats)
                    post1[j] = 1.0 if ip[IP_RESET_TRACE] == 1 else post1[j] + 1.0
                    post2[j] = 1.0 if ip[IP_RESET_TRACE] == 1 else post2[j] + 1.0
        if n_fire_i:
            for j in range(n):
                if fire_i[j]:
                    for k in range(n):
                        if k != j:
                            gi[k] += fp[FP_W_IE]
        for j in range(n):
            if fire_e[j]:
                ve[j] = fp[FP_VRESET_E]
                re[j] = after_e
                rb[j] = ip[IP_BLOCK]
                if ip[IP_ADAPT] == 1:
                    th[j] += fp[FP_THETA_PLUS]
            if fire_i[j]:
                vi[j] = fp[FP_VRESET_I]
                ri[j] = after_i
        ctr[C_STEP] = s + 1


def _change_numpy(W, P, d, dw, fp, ip, keys, ctr, stats):
    """NumPy twin of :func:`_change` for the synapses ``d`` (int array, increasing) with changes ``dw``."""
    if ip[IP_DEVICE] == 0:
        W[d] = np.clip(W[d] + dw, 0.0, fp[FP_WMAX])
        return
    keep = dw != 0.0
    d, dw = d[keep], dw[keep]
    x = dw / np.where(dw > 0, fp[FP_DWP_LTP], fp[FP_DWP_LTD])
    c = ctr[C_DRAW] + np.arange(d.size, dtype=np.int64)
    ctr[C_DRAW] += d.size
    u = uniform_numpy(keys[0], c)
    fl = np.floor(x)
    n = fl.astype(np.int64) + (u < x - fl)
    w = n != 0
    d, n, c = d[w], n[w], c[w]
    z = normals_from_counters_numpy(keys[1], c) if fp[FP_C2C] != 0.0 else np.zeros(d.size)
    stats[ST_LTP] += n[n > 0].sum()
    stats[ST_LTD] -= n[n < 0].sum()
    stats[ST_WRITES] += d.size
    W[d] = pulse_write_numpy(W[d], n, *(p[d] for p in P[:6]), fp[FP_C2C], P[6], z)


def _decayed_numpy(x, d):
    y = x * d
    return np.where(y >= FLUSH, y, 0.0)


def _weights_numpy(W, d, fp, ip):
    return W[d] if ip[IP_DEVICE] == 0 else (W[d] - fp[FP_G0]) / fp[FP_K]


def run_numpy(sf, si, x_pre, s_pre, W, P, keys, ctr, fp, ip, p_in, table, log_decay_pre,
              counts, pop, rec_e, rec_in, record, stats, n_steps):
    """NumPy twin of :func:`run_numba` (the specification), vectorised over neurons."""
    n = sf.shape[1]
    m = p_in.shape[0]
    ve, ge, gi, th = sf[S_VE], sf[S_GE], sf[S_GI], sf[S_THETA]
    vi, gei, post1, post2 = sf[S_VI], sf[S_GEI], sf[S_POST1], sf[S_POST2]
    re, ri, rb = si[R_E], si[R_I], si[R_BLOCK]
    after_e, after_i = max(int(ip[IP_REF_E]) - 1, 0), max(int(ip[IP_REF_I]) - 1, 0)
    plastic = ip[IP_PLASTIC] == 1
    cols = np.arange(n)

    def trace(i, s):
        k = s - s_pre[i]
        return x_pre[i] * np.where(k < table.shape[0], table[np.minimum(k, table.shape[0] - 1)], np.exp(k * log_decay_pre))

    for t in range(n_steps):
        s = int(ctr[C_STEP])
        free = rb == 0
        rb[...] = np.where(free, rb, rb - 1)
        frozen = re > 0
        g = 1.0 + ge + gi
        v_inf = (fp[FP_VREST_E] + ge * fp[FP_EEXC] + gi * fp[FP_EINH_E]) / g
        quiet = (ge == 0.0) & (gi == 0.0)
        leak = fp[FP_VREST_E] + (ve - fp[FP_VREST_E]) * math.exp(-fp[FP_DT_TAU_E])
        ve[...] = np.where(frozen, ve, np.where(quiet, leak, v_inf + (ve - v_inf) * np.exp(-fp[FP_DT_TAU_E] * g)))
        fire_e = ~frozen & free & (ve > fp[FP_VTH_E] + th)
        re[...] = np.where(frozen, re - 1, re)
        for x, d in ((ge, FP_D_GE), (gi, FP_D_GI), (post1, FP_D_POST1), (post2, FP_D_POST2)):
            x[...] = _decayed_numpy(x, fp[d])
        if ip[IP_ADAPT] == 1:
            th *= fp[FP_D_THETA]
        frozen_i = ri > 0
        g = 1.0 + gei
        v_inf = (fp[FP_VREST_I] + gei * fp[FP_EEXC]) / g
        leak = fp[FP_VREST_I] + (vi - fp[FP_VREST_I]) * math.exp(-fp[FP_DT_TAU_I])
        vi[...] = np.where(frozen_i, vi, np.where(gei == 0.0, leak, v_inf + (vi - v_inf) * np.exp(-fp[FP_DT_TAU_I] * g)))
        fire_i = ~frozen_i & (vi > fp[FP_VTH_I])
        ri[...] = np.where(frozen_i, ri - 1, ri)
        gei[...] = _decayed_numpy(gei, fp[FP_D_GEI])
        u = uniform_numpy(keys[2], np.uint64(s) * np.uint64(m) + np.arange(m, dtype=np.uint64))
        for i in np.flatnonzero((p_in > 0) & (u < p_in)):
            row = i * n + cols
            ge += _weights_numpy(W, row, fp, ip)
            if record:
                r = stats[ST_REC_IN]
                if r < rec_in.shape[0]:
                    rec_in[r] = (s, i)
                stats[ST_REC_IN] = r + 1
            if plastic:
                x = trace(i, s)
                x_pre[i] = 1.0 if ip[IP_RESET_TRACE] == 1 else x + 1.0
                s_pre[i] = s
                dw = -fp[FP_NU_PRE] * post1
                if ip[IP_MULT] == 1:
                    dw = dw * (_weights_numpy(W, row, fp, ip) / fp[FP_WMAX])
                _change_numpy(W, P, row, dw, fp, ip, keys, ctr, stats)
        for j in np.flatnonzero(fire_e):
            gei[j] += fp[FP_W_EI]
            counts[j] += 1
            pop[t] += 1
            if record:
                r = stats[ST_REC_E]
                if r < rec_e.shape[0]:
                    rec_e[r] = (s, j)
                stats[ST_REC_E] = r + 1
            if plastic:
                syn = np.arange(m) * n + j
                factor = fp[FP_NU_POST] * (post2[j] if ip[IP_TRIPLET] == 1 else 1.0)
                dw = factor * trace(np.arange(m), s)
                if ip[IP_MULT] == 1:
                    dw = dw * ((fp[FP_WMAX] - _weights_numpy(W, syn, fp, ip)) / fp[FP_WMAX])
                _change_numpy(W, P, syn, dw, fp, ip, keys, ctr, stats)
                post1[j] = 1.0 if ip[IP_RESET_TRACE] == 1 else post1[j] + 1.0
                post2[j] = 1.0 if ip[IP_RESET_TRACE] == 1 else post2[j] + 1.0
        for j in np.flatnonzero(fire_i):
            gi += np.where(cols != j, fp[FP_W_IE], 0.0)
        ve[fire_e] = fp[FP_VRESET_E]
        re[fire_e] = after_e
        rb[fire_e] = ip[IP_BLOCK]
        if ip[IP_ADAPT] == 1:
            th[fire_e] += fp[FP_THETA_PLUS]
        vi[fire_i] = fp[FP_VRESET_I]
        ri[fire_i] = after_i
        ctr[C_STEP] = s + 1


@njit(cache=True)
def normalise_numba(W, P, keys, ctr, fp, ip, n, total, stats):
    """Numba kernel: scale each neuron's incoming weights (column ``j`` of ``W (M, N)``) to sum ``total``.

    Column sums are accumulated row by row. On an exact synapse ``w *= total / sum``
    (not clipped, as Diehl & Cook normalise); on a device the change
    ``w (total / sum - 1)`` goes through :func:`_change` (pulses), synapses in
    row-major order. A column summing to 0 or less is left alone.
    """
    m = W.shape[0] // n
    factor = np.zeros(n)
    for i in range(m):
        for j in range(n):
            factor[j] += _weight(W, i * n + j, fp, ip)
    for j in range(n):
        factor[j] = total / factor[j] if factor[j] > 0.0 else 1.0
    buf = np.empty(2)
    for i in range(m):
        for j in range(n):
            d = i * n + j
            if ip[IP_DEVICE] == 0:
                W[d] *= factor[j]
            else:
                dw = _weight(W, d, fp, ip) * (factor[j] - 1.0)
                if dw != 0.0:
                    _change(W, P, d, dw, fp, ip, keys, ctr, buf, stats)


def normalise_numpy(W, P, keys, ctr, fp, ip, n, total, stats):
    """NumPy twin of :func:`normalise_numba`."""
    m = W.shape[0] // n
    w = _weights_numpy(W, np.arange(m * n), fp, ip).reshape(m, n)
    sums = np.zeros(n)
    for i in range(m):  # row by row, the kernel's order of summation
        sums += w[i]
    factor = np.where(sums > 0.0, total / np.where(sums > 0.0, sums, 1.0), 1.0)
    if ip[IP_DEVICE] == 0:
        W *= np.tile(factor, m)
        return
    _change_numpy(W, P, np.arange(m * n), (w * (factor - 1.0)).reshape(-1), fp, ip, keys, ctr, stats)
