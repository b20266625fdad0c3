"""Parameters of plastic spiking networks: the STDP rule and the Diehl & Cook (2015) network.

Frozen, validated dataclasses with the SI unit in each field name. The
defaults are the values of P. U. Diehl and M. Cook, "Unsupervised learning
of digit recognition using spike-timing-dependent plasticity", Front.
Comput. Neurosci. 9, 99 (2015), and of the constants of the brian code the
authors published with it (checked against its brian2 ports).
"""

from dataclasses import dataclass, fields, replace
from enum import Enum

from neurosim.errors import NeurosimError
from neurosim.validation import enum_member, real, reject, whole


class STDPForm(Enum):
    """How a weight change depends on the weight."""

    #: ``dw`` independent of ``w`` (clipped to ``[0, w_max]``).
    ADDITIVE = "additive"
    #: Soft bounds: depression times ``w / w_max``, potentiation times ``(w_max - w) / w_max``.
    MULTIPLICATIVE = "multiplicative"


def _check(obj, positive=(), non_negative=(), finite=()):
    for name in positive:
        real(name, getattr(obj, name), "a finite number > 0", lambda x: x > 0)
    for name in non_negative:
        real(name, getattr(obj, name), "a finite number >= 0", lambda x: x >= 0)
    for name in finite:
        real(name, getattr(obj, name), "a finite number")


class _Changes:
    def with_changes(self, **changes):
        """A validated copy with some fields replaced; an unknown name raises NeurosimError."""
        allowed = [f.name for f in fields(self)]
        unknown = sorted(set(changes) - set(allowed))
        if unknown:
            raise NeurosimError(f"unknown {type(self).__name__} field(s) {unknown}; allowed: {allowed}")
        return replace(self, **changes)


@dataclass(frozen=True)
class STDPRule(_Changes):
    """Trace-based STDP on the input synapses.

    Each input has a trace ``x_pre`` (time constant ``tau_pre_s``) and each
    neuron ``x_post1`` (``tau_post_s``) and, for the triplet factor,
    ``x_post2`` (``tau_post2_s``). A presynaptic spike depresses the synapse by
    ``nu_pre x_post1``; a postsynaptic spike potentiates it by
    ``nu_post x_pre`` (times ``x_post2`` just before the spike when
    ``tau_post2_s`` is set: the rule of Diehl & Cook's published code, a
    minimal triplet rule in the sense of Pfister & Gerstner 2006;
    ``tau_post2_s = None`` is the plain pair-based rule). A spike sets its
    trace to 1 (``reset_traces``, nearest-spike interaction) or adds 1
    (all-to-all). Weights live in ``[0, w_max]``.
    """

    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre_s: float = 20e-3
    tau_post_s: float = 20e-3
    tau_post2_s: float | None = 40e-3
    w_max: float = 1.0
    form: STDPForm = STDPForm.ADDITIVE
    reset_traces: bool = True

    def __post_init__(self):
        _check(self, positive=("tau_pre_s", "tau_post_s", "w_max"), non_negative=("nu_pre", "nu_post"))
        if self.tau_post2_s is not None:
            _check(self, positive=("tau_post2_s",))
        enum_member("form", self.form, STDPForm)
        if not isinstance(self.reset_traces, bool):
            reject("reset_traces", self.reset_traces, "True or False")


@dataclass(frozen=True)
class DiehlCookParams(_Changes):
    """The Diehl & Cook (2015) network and its training protocol (SI units; conductances in leak units).

    Excitatory neurons: ``tau_m dv/dt = (v_rest - v) + ge (E_exc - v) + gi (E_inh - v)``,
    threshold ``v_th + theta`` (``theta`` starts at ``theta_init_V`` and grows by
    ``theta_plus_V`` at each spike during training, decaying with
    ``tau_theta_s``; Diehl & Cook write the threshold as
    ``theta - offset + v_th`` with ``theta`` starting near the 20 mV offset:
    the same threshold). Inhibitory neurons likewise without inhibitory input.
    """

    # excitatory neurons
    tau_e_s: float = 100e-3
    v_rest_e_V: float = -65e-3
    v_reset_e_V: float = -65e-3
    v_th_e_V: float = -52e-3
    t_ref_e_s: float = 5e-3
    #: After a spike an excitatory neuron cannot fire again for this long (its membrane is held only for
    #: ``t_ref_e_s``): in the published code the threshold also needs a timer, reset at each spike and
    #: running at 0.1 s per second, to exceed the 5 ms refractory period, which takes 50 ms. 0 turns it off.
    t_block_e_s: float = 50e-3
    e_exc_V: float = 0.0
    e_inh_e_V: float = -100e-3
    tau_ge_s: float = 1e-3
    tau_gi_s: float = 2e-3
    theta_plus_V: float = 0.05e-3
    tau_theta_s: float = 1e4
    theta_init_V: float = 0.0
    # inhibitory neurons
    tau_i_s: float = 10e-3
    v_rest_i_V: float = -60e-3
    v_reset_i_V: float = -45e-3
    v_th_i_V: float = -40e-3
    t_ref_i_s: float = 2e-3
    tau_ge_i_s: float = 1e-3
    # fixed connections (dimensionless conductance jumps)
    w_ei: float = 10.4
    w_ie: float = 17.0
    # input weights: initial uniform draw in [w_init_min, w_init_max], columns normalised to w_total
    w_init_min: float = 0.003
    w_init_max: float = 0.303
    w_total: float = 78.0
    # protocol
    dt_s: float = 0.5e-3
    t_present_s: float = 0.35
    t_rest_s: float = 0.15
    #: Poisson rate (Hz) of a pixel of value 1 at intensity 1: 255/8 (an 8-bit pixel / 8 Hz); intensity 2 gives 63.75 Hz.
    rate_per_intensity_Hz: float = 31.875
    intensity: float = 2.0
    #: Fewer excitatory spikes than this in a presentation: the image is shown again, intensity raised by 1.
    min_spikes: int = 5
    #: Give up raising the intensity after this many repeats (a guard; Diehl & Cook set none).
    max_repeats: int = 20

    def __post_init__(self):
        _check(self, positive=("tau_e_s", "tau_ge_s", "tau_gi_s", "tau_theta_s", "tau_i_s", "tau_ge_i_s", "dt_s",
                               "t_present_s", "rate_per_intensity_Hz", "intensity", "w_total"),
               non_negative=("t_ref_e_s", "t_block_e_s", "t_ref_i_s", "theta_plus_V", "w_ei", "w_ie", "w_init_min", "t_rest_s"),
               finite=("v_rest_e_V", "v_reset_e_V", "v_th_e_V", "e_exc_V", "e_inh_e_V", "theta_init_V",
                       "v_rest_i_V", "v_reset_i_V", "v_th_i_V"))  # fmt: skip
        real("w_init_max", self.w_init_max, f"a finite number >= w_init_min = {self.w_init_min}", lambda x: x >= self.w_init_min)
        whole("min_spikes", self.min_spikes, 0)
        whole("max_repeats", self.max_repeats, 0)
        if not self.v_reset_e_V < self.v_th_e_V:
            reject("v_reset_e_V", self.v_reset_e_V, f"a potential below v_th_e_V = {self.v_th_e_V} V")
        if not self.v_reset_i_V < self.v_th_i_V:
            reject("v_reset_i_V", self.v_reset_i_V, f"a potential below v_th_i_V = {self.v_th_i_V} V")
