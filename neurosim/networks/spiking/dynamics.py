"""Exact per-step propagators of the subthreshold dynamics, and analytic firing rates.

Between spikes the state ``(v, I_1, ..., I_K)`` of a neuron is linear with
constant coefficients, so one time step ``dt`` is an exact linear map (for
inputs that are constant within the step):

    v'   = v + (v_rest - v) * a + sum_k P_k I_k + Q * I_step
    I_k' = D_k I_k

with ``I_step`` the current held over the step (external constant current
plus the direct channel). For a LIF neuron (``R = tau_m / C``):
``a = 1 - e^(-dt/tau_m)``, ``Q = R a``, ``D_k = e^(-dt/tau_k)`` and
``P_k = R (dt/tau_m) e^(-dt/tau_m) phi(h_k)`` with
``h_k = dt (tau_k - tau_m) / (tau_k tau_m)`` and ``phi(h) = (e^h - 1)/h``
(the usual ``R tau_k/(tau_k - tau_m) (D_k - e^(-dt/tau_m))``, written so that it stays
accurate when ``tau_k`` is close to ``tau_m``). For an IF neuron ``a = 0``,
``Q = dt / C`` and ``P_k = (tau_k / C)(1 - D_k)``.
"""

import math
from dataclasses import dataclass

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.spiking.params import NeuronModel, NeuronParams, Reset


def check_dt(dt_s) -> float:
    """Return ``dt_s`` as a float, or raise NeurosimError unless it is a finite time > 0 s."""
    if isinstance(dt_s, bool) or not isinstance(dt_s, (int, float, np.integer, np.floating)) or not math.isfinite(dt_s) or not dt_s > 0:
        raise NeurosimError(f"dt_s = {dt_s!r} is not allowed: a finite time step > 0 s")
    return float(dt_s)


def timestep(t_s: float, dt_s: float) -> int:
    """Whole time steps in ``t_s`` (brian2's rule: ``floor(t/dt + 1e-3)``)."""
    return int(math.floor((t_s + 1e-3 * dt_s) / dt_s))


def _phi(h: float) -> float:
    return 1.0 if h == 0.0 else math.expm1(h) / h


@dataclass(frozen=True)
class Propagator:
    """Coefficients of one exact time step for one neuron type (see the module docstring).

    ``p_V_per_A`` and ``decay`` have one entry per synaptic channel followed by
    one for the direct channel (``P = Q``, ``D = 0``: its current lasts one step).
    """

    #: Fraction of the way to v_rest covered in one step (0 for IF).
    a: float
    #: Volts per ampere of a current held constant over the step.
    q_V_per_A: float
    p_V_per_A: tuple
    decay: tuple
    #: Refractory steps r: after a spike, v is held for r - 1 updates.
    ref_steps: int


def propagator(params: NeuronParams, dt_s: float) -> Propagator:
    """Exact one-step coefficients of ``params`` at time step ``dt_s``."""
    dt = check_dt(dt_s)
    decay = [math.exp(-dt / tau) for tau in params.tau_syn_s]
    if params.model is NeuronModel.LIF:
        tm, r = params.tau_m_s, params.r_m_Ohm
        a = -math.expm1(-dt / tm)
        q = r * a
        lead = r * (dt / tm) * math.exp(-dt / tm)
        p = [lead * _phi(dt * (tk - tm) / (tk * tm)) for tk in params.tau_syn_s]
    else:
        a = 0.0
        q = dt / params.c_m_F
        p = [-(tk / params.c_m_F) * math.expm1(-dt / tk) for tk in params.tau_syn_s]
    return Propagator(a, q, tuple(p) + (q,), tuple(decay) + (0.0,), timestep(params.t_ref_s, dt))


def steady_rate_Hz(params: NeuronParams, i_ext_A, dt_s: float | None = None):
    """Firing rate (Hz) of a neuron driven by a constant current ``i_ext_A`` (A), from rest at v_reset.

    Continuous time (``dt_s=None``): the interspike interval is
    ``T = t_ref + tau_m ln((R I + v_rest - v_reset) / (R I + v_rest - v_th))`` for a LIF neuron
    and ``T = t_ref + C (v_th - v_reset) / I`` for an IF neuron; 0 Hz below rheobase.
    With a time step (exact integration as simulated here, brian2's scheduling): a
    spike is registered at the first update that ends above threshold, ``k*``
    updates after the reset, and the refractory period holds ``v`` for
    ``max(r - 1, 0)`` further steps, so the interval is ``(max(r - 1, 0) + k*) dt``.
    Reset by subtraction has this closed form only for an IF neuron without
    refractory period (``T = C (v_th - v_reset) / I``, at most one spike per step).
    """
    i = np.asarray(i_ext_A, dtype=float)
    if not np.all(np.isfinite(i)):
        raise NeurosimError("i_ext_A must be finite")
    dv = params.v_th_V - params.v_reset_V
    if params.reset is Reset.SUBTRACT:
        if params.model is not NeuronModel.IF or params.t_ref_s != 0:
            raise NeurosimError("steady_rate_Hz: reset by subtraction has a closed form only for IF neurons with t_ref_s = 0")
        rate = np.maximum(i, 0.0) / (params.c_m_F * dv)
        return rate if dt_s is None else np.minimum(rate, 1.0 / check_dt(dt_s))
    with np.errstate(divide="ignore", invalid="ignore"):
        if params.model is NeuronModel.LIF:
            v_inf = params.v_rest_V + params.r_m_Ohm * i
            fires = v_inf > params.v_th_V
            log_ratio = np.log((v_inf - params.v_reset_V) / (v_inf - params.v_th_V))
            t_fire = params.tau_m_s * log_ratio
        else:
            fires = i > 0
            t_fire = params.c_m_F * dv / i
        if dt_s is None:
            interval = params.t_ref_s + t_fire
        else:
            dt = check_dt(dt_s)
            k_star = np.floor(t_fire / dt) + 1
            interval = (max(timestep(params.t_ref_s, dt) - 1, 0) + k_star) * dt
        return np.where(fires, 1.0 / np.where(fires, interval, 1.0), 0.0)
