"""brian2 agreement of the plastic network: the same network, STDP included, gives the same spikes and weights."""

import copy

import numpy as np
import pytest

from neurosim.errors import NeurosimError
from neurosim.device import load_device
from neurosim.networks.stdp import DiehlCookParams, PlasticNetwork, STDPForm, STDPRule


@pytest.mark.parametrize("rule, adaptive", [
    (STDPRule(), True),  # Diehl & Cook's rule: nearest-spike traces, triplet factor
    (STDPRule(form=STDPForm.MULTIPLICATIVE, tau_post2_s=None, reset_traces=False), True),
    (STDPRule(), False),  # thresholds held (Diehl & Cook's test mode)
], ids=["additive_triplet", "multiplicative_pair", "held_thresholds"])
def test_same_spikes_and_weights_as_brian2(rule, adaptive, brian2_numpy_target):
    b2 = brian2_numpy_target
    params = DiehlCookParams(w_total=20.0)
    net = PlasticNetwork(40, 8, params=params, rule=rule, seed=1)
    net.normalise()
    rates = np.random.default_rng(0).uniform(0, 150, 40)
    net.run(rates, 0.05)  # history: the export starts from a state with traces, thresholds and conductances
    net.adaptive = adaptive
    start = copy.deepcopy(net)
    rec = net.run(rates, 0.2, record=True)
    b2net = start.to_brian2(rec.spikes_in)
    b2net.run(0.2 * b2.second)
    mon = b2net["exc_spikes"]
    steps = np.round(np.asarray(mon.t / b2.second) / params.dt_s).astype(int) + start.step
    theirs = sorted(zip(steps.tolist(), np.asarray(mon.i).tolist()))
    ours = sorted(map(tuple, rec.spikes_e.tolist()))
    assert len(ours) > 15
    assert ours == theirs
    changed = np.abs(net.weights - start.weights).max()
    assert changed > 0.05  # plasticity acted
    w_b2 = np.asarray(b2net["input_exc"].w).reshape(40, 8)
    np.testing.assert_allclose(w_b2, net.weights, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(b2net["exc"].theta / b2.volt), net.theta_V, rtol=1e-12)


def test_device_synapses_are_not_exported():
    net = PlasticNetwork(4, 2, device=load_device("sige_epiram"))
    with pytest.raises(NeurosimError, match="device"):
        net.to_brian2(None)
