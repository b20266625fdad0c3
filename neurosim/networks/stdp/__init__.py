"""Learning on device synapses: STDP and the Diehl & Cook (2015) unsupervised MNIST network.

:class:`PlasticNetwork` simulates the excitatory/inhibitory circuit with
plastic input synapses (exact, or devices written by pulses);
:mod:`neurosim.networks.stdp.train` trains, labels and tests it on MNIST
(``neurosim stdp``); :meth:`PlasticNetwork.to_brian2` hands it to brian2.
"""

from neurosim.networks.stdp.network import PlasticNetwork, RunRecord
from neurosim.networks.stdp.params import DiehlCookParams, STDPForm, STDPRule

__all__ = ["DiehlCookParams", "PlasticNetwork", "RunRecord", "STDPForm", "STDPRule"]
