"""The plastic network: Diehl & Cook's excitatory/inhibitory circuit with STDP input synapses on devices.

:class:`PlasticNetwork` holds the whole state (membranes, conductances,
adaptive thresholds, refractory counters, traces, weights or device
conductances, the absolute step and the write-draw counter) and advances it
with :mod:`neurosim.networks.stdp.kernels`. A run continues from the current
state, so ``run(r, t1); run(r, t2)`` equals ``run(r, t1 + t2)``.

Synapses: on an ideal synapse (``device=None``) weight changes are applied
exactly; on a device card each input synapse is one device of a
:class:`~neurosim.device.DeviceArray` of shape ``(M, N)``, the weight
``w = w_max (G - G_min) / (G_max - G_min)`` (the card's nominal window), and
every change is a pulse train through :func:`neurosim.device.kernels.pulse_write`
(see the kernel module). The synaptic read is noise-free.

Random numbers: ``SeedSequence(seed)`` gives the device variation and initial
weights (child 0) and three stream keys (child 1): pulse rounding, write
noise, Poisson input. Every draw is a pure function of a key and the absolute
step or write counter.
"""

import math
from dataclasses import dataclass

import numpy as np

from neurosim.device import DeviceArray, DeviceModel, ProgramMethod
from neurosim.errors import NeurosimError
from neurosim.events import EventCounts
from neurosim.networks.spiking.dynamics import timestep
from neurosim.networks.stdp import kernels as K
from neurosim.networks.stdp.params import DiehlCookParams, STDPForm, STDPRule

_KERNELS = {"numba": (K.run_numba, K.normalise_numba), "numpy": (K.run_numpy, K.normalise_numpy)}
#: Steps of the tabulated pre-trace decay (beyond, exp).
_TABLE = 8192


@dataclass(frozen=True)
class RunRecord:
    """What one :meth:`PlasticNetwork.run` did: excitatory spike counts ``(N,)``, spikes per step
    (the population rate, ``rate_Hz``), and, when recorded, ``(step, index)`` rows of every
    excitatory and input spike (absolute steps)."""

    counts: np.ndarray
    population: np.ndarray
    spikes_e: np.ndarray | None
    spikes_in: np.ndarray | None
    dt_s: float
    n_neurons: int

    @property
    def rate_Hz(self) -> np.ndarray:
        """Mean excitatory firing rate (Hz) in each step."""
        return self.population / (self.n_neurons * self.dt_s)


class PlasticNetwork:
    """``n_inputs`` Poisson inputs, ``n_neurons`` excitatory and ``n_neurons`` inhibitory neurons (see the kernels).

    ``device``: a :class:`DeviceModel` for device synapses, or None for exact
    (ideal) synapses. ``weights``: initial input weights ``(n_inputs, n_neurons)``
    (default: uniform in ``[w_init_min, w_init_max]``). ``backend``: ``numba`` or ``numpy`` (the twin).

    Switches (attributes, both True at first): ``plastic`` (STDP and, in
    :meth:`present`, weight normalisation) and ``adaptive`` (thresholds grow at
    each spike and decay; when False they are held fixed, Diehl & Cook's test mode).
    """

    def __init__(self, n_inputs: int, n_neurons: int, *, params: DiehlCookParams | None = None,
                 rule: STDPRule | None = None, device: DeviceModel | None = None, weights=None, seed=0,
                 backend: str = "numba"):
        for name, value in (("n_inputs", n_inputs), ("n_neurons", n_neurons)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise NeurosimError(f"{name} = {value!r} is not allowed: a whole number >= 1")
        if backend not in _KERNELS:
            raise NeurosimError(f"backend = {backend!r} is not allowed: one of {sorted(_KERNELS)}")
        if device is not None and not isinstance(device, DeviceModel):
            raise NeurosimError(f"device must be a DeviceModel or None, got {type(device).__name__}")
        self.m, self.n = int(n_inputs), int(n_neurons)
        self.params = params or DiehlCookParams()
        self.rule = rule or STDPRule()
        self.device = device
        self.backend = backend
        root = np.random.SeedSequence(seed)
        init_ss, key_ss = root.spawn(2)
        rng = np.random.default_rng(init_ss)
        p = self.params
        if weights is None:
            weights = rng.uniform(p.w_init_min, p.w_init_max, (self.m, self.n))
        weights = np.array(weights, dtype=float)
        if weights.shape != (self.m, self.n) or not np.all(np.isfinite(weights)):
            raise NeurosimError(f"weights must be finite of shape {(self.m, self.n)}, got {weights.shape}")
        self.keys = np.random.default_rng(key_ss).integers(0, 2**63, 3, dtype=np.uint64)
        self.sf = np.zeros((K.S_SIZE, self.n))
        self.sf[K.S_VE] = p.v_rest_e_V
        self.sf[K.S_VI] = p.v_rest_i_V
        self.sf[K.S_THETA] = p.theta_init_V
        self.si = np.zeros((3, self.n), np.int64)
        self.x_pre = np.zeros(self.m)
        self.s_pre = np.zeros(self.m, np.int64)
        self.ctr = np.zeros(2, np.int64)
        self.stats = np.zeros(K.ST_SIZE, np.int64)
        self.plastic = True
        self.adaptive = True
        if device is None:
            self.array = None
            self.W = np.clip(weights, 0.0, self.rule.w_max).reshape(-1).copy()
            self.P = (*(np.zeros(1) for _ in range(6)), np.zeros((4, 0)))  # no step table: the analytic curve
        else:
            self.array = DeviceArray(device, (self.m, self.n), rng)
            self.array.program(self._to_conductance(np.clip(weights, 0.0, self.rule.w_max)), ProgramMethod.EXACT, rng)
            self.W = self.array.state_buffer_S
            self.P = (*self.array.write_params[:6], self.array.write_params[7])
        self._build_params()

    # -- parameters ------------------------------------------------------------------------------
    def _k(self) -> float:
        d = self.device
        return (d.g_max_S - d.g_min_S) / self.rule.w_max

    def _to_conductance(self, w):
        return self.device.g_min_S + self._k() * w

    def _build_params(self):
        p, r, dt = self.params, self.rule, self.params.dt_s
        fp = np.zeros(K.FP_SIZE)
        fp[K.FP_DT_TAU_E], fp[K.FP_VREST_E], fp[K.FP_EEXC], fp[K.FP_EINH_E] = dt / p.tau_e_s, p.v_rest_e_V, p.e_exc_V, p.e_inh_e_V
        fp[K.FP_VTH_E], fp[K.FP_VRESET_E] = p.v_th_e_V, p.v_reset_e_V
        fp[K.FP_DT_TAU_I], fp[K.FP_VREST_I], fp[K.FP_VTH_I], fp[K.FP_VRESET_I] = dt / p.tau_i_s, p.v_rest_i_V, p.v_th_i_V, p.v_reset_i_V
        fp[K.FP_D_GE], fp[K.FP_D_GI], fp[K.FP_D_GEI] = (math.exp(-dt / t) for t in (p.tau_ge_s, p.tau_gi_s, p.tau_ge_i_s))
        fp[K.FP_D_THETA], fp[K.FP_THETA_PLUS] = math.exp(-dt / p.tau_theta_s), p.theta_plus_V
        fp[K.FP_D_POST1] = math.exp(-dt / r.tau_post_s)
        fp[K.FP_D_POST2] = math.exp(-dt / r.tau_post2_s) if r.tau_post2_s is not None else 0.0
        fp[K.FP_W_EI], fp[K.FP_W_IE], fp[K.FP_NU_PRE], fp[K.FP_NU_POST], fp[K.FP_WMAX] = p.w_ei, p.w_ie, r.nu_pre, r.nu_post, r.w_max
        if self.device is not None:
            d = self.device
            fp[K.FP_G0], fp[K.FP_K] = d.g_min_S, self._k()
            fp[K.FP_DWP_LTP], fp[K.FP_DWP_LTD] = r.w_max / d.levels_ltp, r.w_max / d.levels_ltd
            fp[K.FP_C2C] = d.c2c_sigma_frac
        self.fp = fp
        self.log_decay_pre = -dt / r.tau_pre_s
        self.table = np.exp(self.log_decay_pre * np.arange(_TABLE))

    def _ip(self):
        ip = np.zeros(K.IP_SIZE, np.int64)
        ip[K.IP_REF_E] = timestep(self.params.t_ref_e_s, self.params.dt_s)
        ip[K.IP_REF_I] = timestep(self.params.t_ref_i_s, self.params.dt_s)
        ip[K.IP_PLASTIC] = int(self.plastic)
        ip[K.IP_ADAPT] = int(self.adaptive)
        ip[K.IP_TRIPLET] = int(self.rule.tau_post2_s is not None)
        ip[K.IP_MULT] = int(self.rule.form is STDPForm.MULTIPLICATIVE)
        ip[K.IP_RESET_TRACE] = int(self.rule.reset_traces)
        ip[K.IP_DEVICE] = int(self.device is not None)
        ip[K.IP_BLOCK] = int(round(self.params.t_block_e_s / self.params.dt_s))
        return ip

    # -- state -----------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        """Absolute step counter (steps simulated since the network was made)."""
        return int(self.ctr[K.C_STEP])

    @property
    def weights(self) -> np.ndarray:
        """Input weights ``(n_inputs, n_neurons)`` (weight units; from the conductances on a device)."""
        w = self.W if self.device is None else (self.W - self.fp[K.FP_G0]) / self.fp[K.FP_K]
        return w.reshape(self.m, self.n).copy()

    @property
    def theta_V(self) -> np.ndarray:
        """Adaptive threshold increments (V) of the excitatory neurons."""
        return self.sf[K.S_THETA].copy()

    @property
    def events(self) -> EventCounts:
        """Pulses by direction and device writes of every weight change so far (zero on ideal synapses)."""
        s = self.stats
        return EventCounts.from_counts(pulses_ltp=s[K.ST_LTP], pulses_ltd=s[K.ST_LTD], writes=s[K.ST_WRITES])

    def state_arrays(self) -> dict:
        """The whole state as named arrays (for a checkpoint); :meth:`load_state` restores it."""
        out = {"sf": self.sf, "si": self.si, "x_pre": self.x_pre, "s_pre": self.s_pre, "ctr": self.ctr,
               "stats": self.stats, "keys": self.keys, "W": self.W}
        out = {k: np.array(v) for k, v in out.items()}
        if self.array is not None:
            out.update({f"device_{k}": v for k, v in self.array.state_arrays().items()})
        return out

    def load_state(self, arrays) -> None:
        """Restore a state saved with :meth:`state_arrays` from a network made with the same settings."""
        for name in ("sf", "si", "x_pre", "s_pre", "ctr", "stats", "keys"):
            value = np.asarray(arrays[name])
            if value.shape != getattr(self, name).shape:
                raise NeurosimError(f"saved state {name} has shape {value.shape}; this network needs {getattr(self, name).shape}")
            getattr(self, name)[...] = value
        if self.array is not None:
            self.array = DeviceArray.from_state_arrays(self.device, {k[7:]: arrays[k] for k in arrays if k.startswith("device_")})
            self.W = self.array.state_buffer_S
            self.P = (*self.array.write_params[:6], self.array.write_params[7])
        else:
            self.W[...] = np.asarray(arrays["W"]).reshape(-1)

    # -- running ---------------------------------------------------------------------------------
    def run(self, rates_Hz, duration_s: float, *, record: bool = False) -> RunRecord:
        """Advance ``duration_s`` (whole steps) with input rates ``rates_Hz`` (scalar or ``(n_inputs,)``, Hz)."""
        dt = self.params.dt_s
        rates = np.broadcast_to(np.asarray(rates_Hz, dtype=float), (self.m,))
        if not np.all(np.isfinite(rates)) or np.any(rates < 0) or np.any(rates * dt > 1):
            raise NeurosimError(f"rates_Hz must be finite, >= 0 and at most 1/dt = {1 / dt} Hz")
        if not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s >= 0):
            raise NeurosimError(f"duration_s = {duration_s!r} is not allowed: a time >= 0 s")
        n_steps = timestep(duration_s, dt)
        return self.run_steps(np.ascontiguousarray(rates * dt), n_steps, record=record)

    def run_steps(self, p_in: np.ndarray, n_steps: int, *, record: bool = False) -> RunRecord:
        """Advance ``n_steps`` steps with spike probabilities per step ``p_in`` (``rate dt``, ``(n_inputs,)``)."""
        counts = np.zeros(self.n, np.int64)
        pop = np.zeros(n_steps, np.int64)
        cap = n_steps * (self.m if record else 0)
        rec_e = np.zeros((n_steps * self.n if record else 0, 2), np.int64)
        rec_in = np.zeros((cap, 2), np.int64)
        self.stats[K.ST_REC_E] = self.stats[K.ST_REC_IN] = 0
        kernel = _KERNELS[self.backend][0]
        kernel(self.sf, self.si, self.x_pre, self.s_pre, self.W, self.P, self.keys, self.ctr, self.fp, self._ip(), p_in,
               self.table, self.log_decay_pre, counts, pop, rec_e, rec_in, record, self.stats, n_steps)
        if record:
            return RunRecord(counts, pop, rec_e[: self.stats[K.ST_REC_E]].copy(), rec_in[: self.stats[K.ST_REC_IN]].copy(), self.params.dt_s, self.n)
        return RunRecord(counts, pop, None, None, self.params.dt_s, self.n)

    def normalise(self) -> None:
        """Scale each neuron's input weights to sum ``params.w_total`` (pulses on a device)."""
        kernel = _KERNELS[self.backend][1]
        kernel(self.W, self.P, self.keys, self.ctr, self.fp, self._ip(), self.n, float(self.params.w_total), self.stats)

    def present(self, image) -> np.ndarray:
        """Show one image (pixel values in [0, 1], ``(n_inputs,)``) by Diehl & Cook's protocol; returns the spike counts.

        Normalise the weights (while learning), show the image as Poisson rates
        ``pixel * rate_per_intensity * intensity`` for ``t_present_s``, then rest
        ``t_rest_s`` without input; with fewer than ``min_spikes`` excitatory spikes
        show it again at intensity + 1 (at most ``max_repeats`` times).
        Returns the excitatory spike counts of the last presentation.
        """
        p = self.params
        pixels = np.asarray(image, dtype=float).reshape(-1)
        if pixels.shape != (self.m,):
            raise NeurosimError(f"image has {pixels.size} pixels; this network has {self.m} inputs")
        dt = p.dt_s
        present, rest = timestep(p.t_present_s, dt), timestep(p.t_rest_s, dt)
        zero = np.zeros(self.m)
        intensity = p.intensity
        for _ in range(p.max_repeats + 1):
            if self.plastic:
                self.normalise()
            p_in = np.ascontiguousarray(np.minimum(pixels * p.rate_per_intensity_Hz * intensity * dt, 1.0))
            counts = self.run_steps(p_in, present).counts
            self.run_steps(zero, rest)
            if counts.sum() >= p.min_spikes:
                break
            intensity += 1.0
        return counts

    # -- brian2 --------------------------------------------------------------------------------
    def to_brian2(self, spikes_in=None):
        """The same network as brian2 objects (see :mod:`neurosim.networks.stdp.brian2_export`)."""
        from neurosim.networks.stdp.brian2_export import export

        return export(self, spikes_in)
