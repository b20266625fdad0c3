"""Spiking networks: LIF/IF neuron groups, inputs, dense, sparse and crossbar connections, monitors.

Simulated with a fixed time step and exact integration of the linear
subthreshold dynamics, in brian2's order within a step; ``Network.to_brian2()``
hands the same network to brian2. Plots are in
:mod:`neurosim.networks.spiking.plots` (imported on demand, it loads matplotlib).
"""

from neurosim.networks.spiking.connections import CrossbarConnection, DenseConnection, SparseConnection
from neurosim.networks.spiking.dynamics import Propagator, propagator, steady_rate_Hz
from neurosim.networks.spiking.groups import NeuronGroup, PoissonInput, RegularInput, SpikeTrainInput
from neurosim.networks.spiking.monitors import SpikeMonitor, SpikeRecord, StateMonitor, StateRecord
from neurosim.networks.spiking.network import Network, SimResult
from neurosim.networks.spiking.params import NeuronModel, NeuronParams, Reset

__all__ = [
    "CrossbarConnection",
    "DenseConnection",
    "Network",
    "NeuronGroup",
    "NeuronModel",
    "NeuronParams",
    "PoissonInput",
    "Propagator",
    "RegularInput",
    "Reset",
    "SimResult",
    "SparseConnection",
    "SpikeMonitor",
    "SpikeRecord",
    "SpikeTrainInput",
    "StateMonitor",
    "StateRecord",
    "propagator",
    "steady_rate_Hz",
]
