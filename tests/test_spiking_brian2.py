"""brian2 as the reference: the same network in brian2 and in neurosim gives the same spikes.

brian2 runs with its NumPy target (no compilation) on small networks.
"""

import numpy as np
import pytest

from neurosim.errors import NeurosimError
from neurosim.networks.spiking import (
    DenseConnection,
    Network,
    NeuronGroup,
    NeuronModel,
    NeuronParams,
    PoissonInput,
    RegularInput,
    Reset,
    SparseConnection,
    SpikeMonitor,
    SpikeTrainInput,
    StateMonitor,
)

b2 = pytest.importorskip("brian2")
DT = 1e-4
# brian2 2.9 calls pyparsing's camelCase API, deprecated in pyparsing 3.3: not ours to fix
pytestmark = [
    pytest.mark.usefixtures("brian2_numpy_target"),
    pytest.mark.filterwarnings("ignore::pyparsing.warnings.PyparsingDeprecationWarning"),
]


def _deterministic_network(batch=2, seed=0, n_steps=2000):
    """LIF (two channels, refractory, recurrent inhibition), LIF with subtractive reset,
    IF with an exponential and the direct channel, regular and per-sample spike-train inputs."""
    rng = np.random.default_rng(seed)
    n_in = 30
    steps, neurons = np.nonzero(rng.random((batch * n_steps, n_in)) < 20 * DT)
    samples, steps = np.divmod(steps, n_steps)
    train = SpikeTrainInput(n_in, neurons, steps * DT, samples=samples, name="train")
    regular = RegularInput(4, [45.0, 70.0, 110.0, 333.0], phase=[0.0, 0.3, 0.5, 0.9], name="regular")
    pa = NeuronParams(tau_m_s=20e-3, c_m_F=200e-12, v_rest_V=-60e-3, v_th_V=-50e-3, v_reset_V=-65e-3,
                      t_ref_s=2e-3, tau_syn_s=(5e-3, 10e-3))
    a = NeuronGroup(20, pa, name="A", v_init_V=rng.uniform(-65e-3, -50e-3, (batch, 20)),
                    i_ext_A=rng.uniform(0, 60e-12, 20))
    pb = NeuronParams(tau_m_s=10e-3, c_m_F=100e-12, v_rest_V=-70e-3, v_th_V=-55e-3, v_reset_V=-70e-3,
                      reset=Reset.SUBTRACT, t_ref_s=0.0, tau_syn_s=(4e-3,))
    b = NeuronGroup(10, pb, name="B")
    pc = NeuronParams(model=NeuronModel.IF, c_m_F=1e-12, v_th_V=1.0, v_reset_V=0.0, reset=Reset.SUBTRACT,
                      t_ref_s=1e-3, tau_syn_s=(3e-3,))
    c = NeuronGroup(5, pc, name="C", i_ext_A=rng.uniform(0.1e-9, 0.3e-9, (batch, 5)))
    pre, post = np.nonzero(rng.random((20, 20)) < 0.2)
    objects = [
        DenseConnection(train, a, rng.uniform(0, 150e-12, (20, n_in)) * (rng.random((20, n_in)) < 0.3), name="train_A"),
        DenseConnection(regular, a, rng.uniform(0, 100e-12, (20, 4)), name="regular_A"),
        SparseConnection(a, a, pre, post, rng.uniform(-300e-12, 100e-12, pre.size), channel=1, name="A_A"),
        DenseConnection(a, b, rng.uniform(0, 400e-12, (10, 20)), name="A_B"),
        DenseConnection(b, c, rng.uniform(0, 2e-9, (5, 10)), name="B_C"),
        DenseConnection(train, c, rng.uniform(0, 3e-9, (5, n_in)), channel=None, name="train_C"),
    ]
    objects += [SpikeMonitor(g, name=f"spikes_{g.name}") for g in (a, b, c)]
    objects += [StateMonitor(a, [0, 1, 2], name="state_A"), StateMonitor(c, [0, 4], name="state_C")]
    return Network(objects, dt_s=DT), n_steps * DT


def _assert_same_spikes(neurosim_record, brian_monitor, sample, n):
    """Same spike count per neuron; each spike time equal to within one time step."""
    neuron, t_s = neurosim_record.of_sample(sample)
    b_i, b_t = np.asarray(brian_monitor.i), np.asarray(brian_monitor.t)
    np.testing.assert_array_equal(np.bincount(neuron, minlength=n), np.bincount(b_i, minlength=n))
    for i in range(n):
        diff = np.abs(np.sort(t_s[neuron == i]) - np.sort(b_t[b_i == i]))
        assert np.all(diff <= DT * (1 + 1e-9)), (i, diff.max())
    return neuron.size


@pytest.mark.parametrize("sample", [0, 1])
def test_to_brian2_round_trip_gives_the_same_spikes(sample):
    net, duration = _deterministic_network()
    ours = net.run(duration)
    theirs = net.to_brian2(sample=sample)
    theirs.run(duration * b2.second)
    total = 0
    for g in net.groups:
        total += _assert_same_spikes(ours[f"spikes_{g.name}"], theirs[f"spikes_{g.name}"], sample, g.n)
    assert total > 500 and all(ours.counts[g.name][sample].sum() > 20 for g in net.groups)
    for name, variables in (("state_A", ("I_syn0", "I_syn1")), ("state_C", ("I_syn0",))):
        rec, mon = ours[name], theirs[name]
        np.testing.assert_allclose(rec.v_V[sample].T, np.asarray(mon.v), rtol=0, atol=1e-12)
        for k, var in enumerate(variables):
            np.testing.assert_allclose(rec.i_syn_A[sample, :, k].T, np.asarray(getattr(mon, var)), rtol=1e-9, atol=1e-24)


def test_handwritten_brian2_cuba_model_gives_the_same_spikes():
    """brian2's documented CUBA equations, written by hand (not by to_brian2), on a small network.

    ge and gi are in volts in brian2; neurosim's currents are in amperes, so with
    c_m = tau_m (R = 1 ohm) the two are the same numbers.
    """
    n, n_exc, duration = 250, 200, 0.2
    rng = np.random.default_rng(1)
    v0 = -60e-3 + rng.random(n) * 10e-3
    pre, post = np.nonzero(rng.random((n, n)) < 80 / n)
    exc = pre < n_exc
    we, wi = 60 * 0.27 / 10 * 1e-3, -20 * 4.5 / 10 * 1e-3

    params = NeuronParams(tau_m_s=20e-3, c_m_F=20e-3, v_rest_V=-49e-3, v_th_V=-50e-3, v_reset_V=-60e-3,
                          t_ref_s=5e-3, tau_syn_s=(5e-3, 10e-3))
    group = NeuronGroup(n, params, name="P", v_init_V=v0)
    net = Network([
        SparseConnection(group, group, pre[exc], post[exc], we, channel=0),
        SparseConnection(group, group, pre[~exc], post[~exc], wi, channel=1),
        SpikeMonitor(group, name="spikes"),
    ], dt_s=DT)
    ours = net.run(duration)

    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    ns = dict(taum=20 * b2.ms, taue=5 * b2.ms, taui=10 * b2.ms, Vt=-50 * b2.mV, Vr=-60 * b2.mV, El=-49 * b2.mV,
              we=we * b2.volt, wi=wi * b2.volt)
    P = b2.NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * b2.ms, method="exact",
                       namespace=ns, dt=DT * b2.second)
    P.v = v0 * b2.volt
    Ce = b2.Synapses(P, P, on_pre="ge += we", namespace=ns, dt=DT * b2.second)
    Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace=ns, dt=DT * b2.second)
    Ce.connect(i=pre[exc], j=post[exc])
    Ci.connect(i=pre[~exc], j=post[~exc])
    mon = b2.SpikeMonitor(P)
    b2.Network(P, Ce, Ci, mon).run(duration * b2.second)
    assert _assert_same_spikes(ours["spikes"], mon, 0, n) > 200


def test_poisson_and_regular_inputs_export_with_their_rates():
    rates = np.array([[5.0, 50.0, 500.0], [1.0, 2.0, 3.0]])
    poisson = PoissonInput(3, rates, name="p")
    regular = RegularInput(2, [10.0, 20.0], phase=[0.1, 0.2], name="r")
    g = NeuronGroup(2, name="g")
    net = Network([DenseConnection(poisson, g, np.ones((2, 3)) * 1e-12), DenseConnection(regular, g, np.ones((2, 2)) * 1e-12)])
    bnet = net.to_brian2(sample=1)
    np.testing.assert_allclose(np.asarray(bnet["p"].rates), rates[1])
    np.testing.assert_allclose(np.asarray(bnet["r"].phase), [0.1, 0.2])
    override = net.to_brian2(sample=0, rate_Hz={poisson: [7.0, 8.0, 9.0]})
    np.testing.assert_allclose(np.asarray(override["p"].rates), [7.0, 8.0, 9.0])
    for runnable in (bnet, override):
        runnable.run(10 * DT * b2.second)


def test_export_rejects_what_brian2_cannot_take():
    inp = PoissonInput(3, 10.0, name="p")
    g = NeuronGroup(2, name="g")
    net = Network([DenseConnection(inp, g, read=lambda s, rng: s @ np.ones((3, 2)))])
    with pytest.raises(NeurosimError, match="read callable"):
        net.to_brian2()
    with pytest.raises(NeurosimError, match="sample"):
        Network([g]).to_brian2(sample=1)


def test_to_brian2_with_tau_syn_equal_to_tau_m_is_finite_and_the_same():
    """brian2's exact solver divides by tau_m - tau_syn when the two are separate symbols: equal taus gave NaN."""
    params = NeuronParams(tau_m_s=10e-3, c_m_F=1e-10, v_rest_V=0.0, v_th_V=20e-3, v_reset_V=0.0,
                          t_ref_s=0.0, tau_syn_s=(10e-3, 5e-3))
    n_steps = 300
    rng = np.random.default_rng(3)
    times = np.arange(0, n_steps, 10) * DT
    train = SpikeTrainInput(1, np.zeros(times.size, int), times, name="train")
    group = NeuronGroup(3, params, name="G")
    objects = [train, group, DenseConnection(train, group, rng.uniform(1e-10, 3e-10, (3, 1)), channel=0, name="c0"),
               SpikeMonitor(group, name="spikes_G"), StateMonitor(group, [0], name="state_G")]
    net = Network(objects, dt_s=DT)
    ours = net.run(n_steps * DT)
    theirs = net.to_brian2(sample=0)
    theirs.run(n_steps * DT * b2.second)
    v = np.asarray(theirs["state_G"].v)
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(ours["state_G"].v_V[0].T, v, rtol=0, atol=1e-9)
    assert _assert_same_spikes(ours["spikes_G"], theirs["spikes_G"], 0, 3) > 0
