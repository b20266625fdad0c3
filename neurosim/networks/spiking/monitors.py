"""Spike and state monitors, and the records a run returns for them."""

from dataclasses import dataclass

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.spiking.groups import NeuronGroup, SpikeSource, _name


class SpikeMonitor:
    """Record every spike of ``source`` (a neuron group or an input)."""

    def __init__(self, source, *, name=None):
        if not isinstance(source, SpikeSource):
            raise NeurosimError(f"SpikeMonitor needs a neuron group or an input, got {type(source).__name__}")
        self.source = source
        self.name = _name(name, "spikemonitor")


class StateMonitor:
    """Record ``v`` and the synaptic currents of some neurons of ``group`` at the start of every step.

    ``neurons``: indices into the group (default all).
    """

    def __init__(self, group, neurons=None, *, name=None):
        if not isinstance(group, NeuronGroup):
            raise NeurosimError(f"StateMonitor needs a NeuronGroup, got {type(group).__name__}")
        idx = np.arange(group.n) if neurons is None else np.atleast_1d(np.asarray(neurons))
        if idx.ndim != 1 or (idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= group.n)):
            raise NeurosimError(f"StateMonitor: neurons must be integer indices in [0, {group.n}) for {group.name}")
        self.group = group
        self.neurons = idx.astype(np.int64)
        self.name = _name(name, "statemonitor")


@dataclass(frozen=True)
class SpikeRecord:
    """Spikes of one source, sorted by (sample, step, neuron); a spike in step ``k`` has time ``k dt``."""

    sample: np.ndarray
    step: np.ndarray
    neuron: np.ndarray
    n: int
    dt_s: float

    @property
    def t_s(self) -> np.ndarray:
        """Spike times (s)."""
        return self.step * self.dt_s

    def of_sample(self, sample: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(neuron, t_s) of the spikes of one batch sample."""
        keep = self.sample == sample
        return self.neuron[keep], self.t_s[keep]

    def count(self, sample: int = 0) -> np.ndarray:
        """Spikes per neuron in one batch sample, shape ``(n,)``."""
        return np.bincount(self.neuron[self.sample == sample], minlength=self.n)


@dataclass(frozen=True)
class StateRecord:
    """State of the monitored neurons at the start of each step: ``v_V (batch, steps, R)``,
    ``i_syn_A (batch, steps, K, R)`` (exponential channels)."""

    neurons: np.ndarray
    v_V: np.ndarray
    i_syn_A: np.ndarray
    dt_s: float

    @property
    def t_s(self) -> np.ndarray:
        """Times (s) of the recorded values, one per step."""
        return np.arange(self.v_V.shape[1]) * self.dt_s
