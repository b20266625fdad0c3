"""Figures of spiking runs: raster plot and membrane trace.

Each function takes ``ax=None`` (a new figure is made) and returns the axes;
nothing here shows a window or saves a file.
"""

import matplotlib.pyplot as plt
import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.spiking.monitors import SpikeRecord, StateRecord


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    return ax


def raster_plot(record: SpikeRecord, sample: int = 0, ax=None, color="k", markersize=2.0, title=None):
    """Spike raster of one batch sample of a :class:`SpikeRecord`: time (ms) against neuron index."""
    if not isinstance(record, SpikeRecord):
        raise NeurosimError(f"raster_plot needs a SpikeRecord, got {type(record).__name__}")
    ax = _axes(ax)
    neuron, t_s = record.of_sample(sample)
    ax.plot(t_s * 1e3, neuron, "|" if neuron.size < 5000 else ".", color=color, markersize=markersize * 2, linestyle="none")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    ax.set_ylim(-0.5, record.n - 0.5)
    ax.set_title(title if title is not None else f"{neuron.size} spikes from {record.n} neurons", fontsize=10)
    return ax


def membrane_trace_plot(record: StateRecord, sample: int = 0, neurons=None, v_th_V=None, ax=None, title=None):
    """Membrane potential (mV) against time (ms) of recorded neurons of one batch sample.

    ``neurons``: positions within the record (default all, at most 10 drawn);
    ``v_th_V``: draw the threshold as a dashed line.
    """
    if not isinstance(record, StateRecord):
        raise NeurosimError(f"membrane_trace_plot needs a StateRecord, got {type(record).__name__}")
    ax = _axes(ax)
    cols = np.arange(min(record.neurons.size, 10)) if neurons is None else np.atleast_1d(neurons)
    t_ms = record.t_s * 1e3
    for c in cols:
        ax.plot(t_ms, record.v_V[sample, :, c] * 1e3, lw=1.0, label=f"neuron {record.neurons[c]}")
    if v_th_V is not None:
        ax.axhline(v_th_V * 1e3, color="0.3", ls="--", lw=0.8, label="threshold")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("membrane potential (mV)")
    if len(cols) <= 5:
        ax.legend(fontsize=8, frameon=False)
    if title is not None:
        ax.set_title(title, fontsize=10)
    return ax
