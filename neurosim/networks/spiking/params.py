"""Neuron parameters: a frozen, validated description of one kind of spiking neuron.

The membrane potential ``v`` (volts) of a leaky integrate-and-fire neuron obeys

    tau_m dv/dt = (v_rest - v) + (tau_m / C) * I,

and of a (non-leaky) integrate-and-fire neuron ``C dv/dt = I``, where ``I`` (amperes)
is the sum of the synaptic currents, the one-step direct current and the
constant external current. Each synaptic channel ``k`` carries a current that
jumps by the synaptic weight (amperes) when a presynaptic spike arrives and
decays as ``dI_k/dt = -I_k / tau_syn_s[k]``. A neuron fires when ``v > v_th``,
is then reset (to ``v_reset`` or by subtracting ``v_th - v_reset``) and holds
``v`` for its refractory period.
"""

from dataclasses import dataclass, fields, replace
from enum import Enum

from neurosim.errors import NeurosimError
from neurosim.validation import finite_number as _finite_number
from neurosim.validation import reject


class NeuronModel(Enum):
    """Subthreshold dynamics of the membrane."""

    #: Leaky integrate-and-fire: ``tau_m dv/dt = v_rest - v + (tau_m / C) I``.
    LIF = "lif"
    #: Integrate-and-fire without leak: ``C dv/dt = I`` (``tau_m_s`` and ``v_rest_V`` unused).
    IF = "if"


class Reset(Enum):
    """What a spike does to the membrane potential."""

    #: ``v = v_reset``.
    TO_VALUE = "to_value"
    #: ``v -= v_th - v_reset`` (keeps the overshoot; the usual choice for ANN-to-SNN conversion).
    SUBTRACT = "subtract"



@dataclass(frozen=True)
class NeuronParams:
    """Parameters of one neuron type (SI units in the field names).

    The defaults are a cortical LIF neuron (20 ms membrane, 200 pF, rest -65 mV,
    threshold -50 mV, reset -65 mV, 2 ms refractory) with one synaptic channel
    of 5 ms. Variants are made with :meth:`with_changes` (validated, and unknown
    names are rejected) or ``dataclasses.replace``.
    """

    model: NeuronModel = NeuronModel.LIF
    #: Membrane time constant (s), > 0. Unused by ``NeuronModel.IF``.
    tau_m_s: float = 20e-3
    #: Membrane capacitance (F), > 0: a current I changes v at I / C volts per second.
    c_m_F: float = 200e-12
    #: Resting (leak reversal) potential (V). Unused by ``NeuronModel.IF``.
    v_rest_V: float = -65e-3
    #: Firing threshold (V): a neuron fires when v > v_th_V after its update.
    v_th_V: float = -50e-3
    #: Reset potential (V), below v_th_V.
    v_reset_V: float = -65e-3
    reset: Reset = Reset.TO_VALUE
    #: Refractory period (s), >= 0: after a spike, v is held for
    #: ``timestep(t_ref_s) - 1`` updates (brian2's rule, ``timestep(t) = floor(t/dt + 1e-3)``).
    t_ref_s: float = 2e-3
    #: Decay time constant (s, each > 0) of each synaptic current channel; connections name a channel by index.
    tau_syn_s: tuple = (5e-3,)

    def __post_init__(self):
        if not isinstance(self.model, NeuronModel):
            reject("model", self.model, "a NeuronModel (" + ", ".join(m.name for m in NeuronModel) + ")")
        if not isinstance(self.reset, Reset):
            reject("reset", self.reset, "a Reset (" + ", ".join(m.name for m in Reset) + ")")
        for name in ("tau_m_s", "c_m_F", "v_rest_V", "v_th_V", "v_reset_V", "t_ref_s"):
            _finite_number(name, getattr(self, name))
        if not self.tau_m_s > 0:
            reject("tau_m_s", self.tau_m_s, "a time constant > 0 s")
        if not self.c_m_F > 0:
            reject("c_m_F", self.c_m_F, "a capacitance > 0 F")
        if not self.t_ref_s >= 0:
            reject("t_ref_s", self.t_ref_s, "a refractory period >= 0 s")
        if not self.v_reset_V < self.v_th_V:
            reject("v_reset_V", self.v_reset_V, f"a potential below v_th_V = {self.v_th_V} V")
        taus = self.tau_syn_s
        if isinstance(taus, (int, float)) and not isinstance(taus, bool):
            taus = (taus,)
        if not isinstance(taus, (tuple, list)):
            reject("tau_syn_s", self.tau_syn_s, "a tuple of synaptic time constants in seconds")
        for k, tau in enumerate(taus):
            _finite_number(f"tau_syn_s[{k}]", tau)
            if not tau > 0:
                reject(f"tau_syn_s[{k}]", tau, "a time constant > 0 s")
        object.__setattr__(self, "tau_syn_s", tuple(float(t) for t in taus))

    @property
    def r_m_Ohm(self) -> float:
        """Membrane resistance tau_m / C (ohm) of a LIF neuron."""
        return self.tau_m_s / self.c_m_F

    @property
    def n_channels(self) -> int:
        """Number of exponential synaptic current channels."""
        return len(self.tau_syn_s)

    def with_changes(self, **changes) -> "NeuronParams":
        """A validated copy with some fields replaced; an unknown name raises NeurosimError."""
        allowed = [f.name for f in fields(self)]
        unknown = sorted(set(changes) - set(allowed))
        if unknown:
            raise NeurosimError(f"unknown neuron parameter(s) {unknown}; allowed: {allowed}")
        return replace(self, **changes)

    @classmethod
    def from_mapping(cls, mapping: dict) -> "NeuronParams":
        """Parameters from a plain mapping (e.g. a TOML table); enum values may be given by name or value."""
        values = dict(mapping)
        for key, enum in (("model", NeuronModel), ("reset", Reset)):
            if isinstance(values.get(key), str):
                text = values[key]
                matches = [m for m in enum if text in (m.name, m.value)]
                if not matches:
                    allowed = ", ".join(m.value for m in enum)
                    raise NeurosimError(f"{key} = {text!r} is not allowed: one of {allowed}")
                values[key] = matches[0]
        return cls().with_changes(**values)
