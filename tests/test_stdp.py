"""The plastic (STDP) network: kernel twins, analytic STDP windows, device pulses, continuation, training runs."""

import copy
import math
from dataclasses import replace

import numpy as np
import pytest

from neurosim.cli import main
from neurosim.device import DeviceArray, load_device
from neurosim.errors import NeurosimError
from neurosim.networks.stdp import DiehlCookParams, PlasticNetwork, STDPForm, STDPRule
from neurosim.networks.stdp import kernels as K
from neurosim.networks.stdp.train import StdpConfig, assign_labels, classify, train_stdp

PAIR = STDPRule(tau_post2_s=None)
#: Strong enough input that a small network fires in a few tens of steps.
SMALL = DiehlCookParams(w_total=20.0)


def _rates(m, seed=0):
    return np.random.default_rng(seed).uniform(0, 150, m)


def _state(net):
    return {k: v.copy() for k, v in net.state_arrays().items()}


@pytest.mark.parametrize("device", [None, "sige_epiram"])
@pytest.mark.parametrize("rule", [STDPRule(), STDPRule(form=STDPForm.MULTIPLICATIVE, tau_post2_s=None, reset_traces=False)])
def test_numba_kernel_matches_numpy_twin(device, rule):
    dev = None if device is None else load_device(device)
    nets = [PlasticNetwork(30, 6, params=SMALL, rule=rule, device=dev, seed=4, backend=b) for b in ("numba", "numpy")]
    records = []
    for net in nets:
        net.normalise()
        records.append(net.run(_rates(30), 0.15, record=True))
    a, b = nets
    ra, rb = records
    assert ra.counts.sum() > 5  # the comparison covers spikes and plasticity
    np.testing.assert_array_equal(ra.spikes_e, rb.spikes_e)
    np.testing.assert_array_equal(ra.spikes_in, rb.spikes_in)
    np.testing.assert_array_equal(a.ctr, b.ctr)
    np.testing.assert_array_equal(a.stats, b.stats)
    eps = np.finfo(float).eps
    np.testing.assert_allclose(a.weights, b.weights, rtol=0, atol=64 * eps)
    np.testing.assert_allclose(a.sf, b.sf, rtol=64 * eps, atol=1e-300)
    if device is not None:
        assert a.events.pulses_ltp > 0 and a.events.pulses_ltd > 0


def test_run_twice_equals_one_longer_run():
    one = PlasticNetwork(30, 6, params=SMALL, seed=2)
    two = copy.deepcopy(one)
    r = _rates(30)
    whole = one.run(r, 0.25)
    first, second = two.run(r, 0.1), two.run(r, 0.15)
    assert whole.counts.sum() > 0
    np.testing.assert_array_equal(whole.counts, first.counts + second.counts)
    np.testing.assert_array_equal(whole.population, np.concatenate([first.population, second.population]))
    for key, value in _state(one).items():
        np.testing.assert_array_equal(value, _state(two)[key], err_msg=key)


def _pair_probe(rule, lag_steps, post_first, device=None):
    """One input and one neuron: a pre spike and a forced post spike ``lag_steps`` apart; returns (w before, after, net)."""
    params = DiehlCookParams(w_total=1.0, w_ie=0.0, w_ei=0.0)
    net = PlasticNetwork(1, 1, params=params, rule=rule, device=device, weights=[[0.5]], seed=0)
    w0 = net.weights[0, 0]
    fire = lambda: net.sf.__setitem__((K.S_VE, 0), 0.0)  # noqa: E731 - v far above threshold: fires at the next step
    one, zero = np.ones(1), np.zeros(1)
    if post_first:
        fire()
        net.run_steps(zero, 1)
        net.run_steps(zero, lag_steps - 1)
        net.run_steps(one, 1)
    else:
        net.run_steps(one, 1)
        net.run_steps(zero, lag_steps - 1)
        fire()
        net.run_steps(zero, 1)
    return w0, net.weights[0, 0], net


@pytest.mark.parametrize("lag", [1, 7, 40])
def test_pair_window_matches_exponential_traces(lag):
    dt = DiehlCookParams().dt_s
    w0, w1, net = _pair_probe(PAIR, lag, post_first=False)
    assert net.stats[K.ST_REC_E] == 0 and net.step == lag + 1
    assert w1 - w0 == pytest.approx(PAIR.nu_post * math.exp(-lag * dt / PAIR.tau_pre_s), rel=1e-12)
    w0, w1, _ = _pair_probe(PAIR, lag, post_first=True)
    assert w1 - w0 == pytest.approx(-PAIR.nu_pre * math.exp(-lag * dt / PAIR.tau_post_s), rel=1e-12)


def test_triplet_factor_and_soft_bounds():
    dt = DiehlCookParams().dt_s
    # First post spike ever: the post2 trace is 0, so the triplet rule does not potentiate.
    w0, w1, _ = _pair_probe(STDPRule(), 5, post_first=False)
    assert w1 == w0
    soft = STDPRule(tau_post2_s=None, form=STDPForm.MULTIPLICATIVE)
    w0, w1, _ = _pair_probe(soft, 5, post_first=False)
    assert w1 - w0 == pytest.approx(soft.nu_post * math.exp(-5 * dt / soft.tau_pre_s) * (1 - w0), rel=1e-12)
    w0, w1, _ = _pair_probe(soft, 5, post_first=True)
    assert w1 - w0 == pytest.approx(-soft.nu_pre * math.exp(-5 * dt / soft.tau_post_s) * w0, rel=1e-12)


def test_adaptive_threshold_and_lateral_inhibition():
    p = DiehlCookParams()
    net = PlasticNetwork(4, 3, params=p, seed=0)
    net.sf[K.S_VE, 1] = 0.0
    net.run_steps(np.zeros(4), 1)
    assert net.theta_V[1] == pytest.approx(p.theta_plus_V) and net.theta_V[0] == 0.0
    net.run_steps(np.zeros(4), 3)  # the inhibitory partner fires and inhibits the others
    gi = net.sf[K.S_GI]
    assert gi[0] > 0 and gi[2] > 0 and gi[1] == 0.0
    assert net.theta_V[1] == pytest.approx(p.theta_plus_V * math.exp(-3 * p.dt_s / p.tau_theta_s), rel=1e-12)
    held = net.theta_V
    net.adaptive = False  # held thresholds: no growth, no decay
    net.sf[K.S_VE, 1] = 0.0
    net.run_steps(np.zeros(4), 50)
    np.testing.assert_array_equal(net.theta_V, held)


def test_population_rate_counts_every_spike():
    net = PlasticNetwork(30, 6, params=SMALL, seed=1)
    rec = net.run(_rates(30), 0.1, record=True)
    assert rec.population.sum() == rec.counts.sum() == len(rec.spikes_e) > 0
    assert rec.rate_Hz.mean() == pytest.approx(rec.counts.sum() / (6 * 0.1))


def test_poisson_input_rate():
    net = PlasticNetwork(200, 1, seed=3)
    net.plastic = False
    rec = net.run(np.full(200, 40.0), 1.0, record=True)
    n = len(rec.spikes_in)
    expected = 200 * 40.0
    assert abs(n - expected) < 5 * math.sqrt(expected)


def test_normalisation_exact_and_on_a_device():
    params = DiehlCookParams(w_total=10.0)  # mean weight 0.2 of w_max = 1
    net = PlasticNetwork(50, 4, params=params, seed=0)
    net.normalise()
    np.testing.assert_allclose(net.weights.sum(axis=0), params.w_total, rtol=1e-12)
    dev = replace(load_device("ideal"), c2c_sigma_frac=0.0)
    on = PlasticNetwork(50, 4, params=params, device=dev, seed=0)
    on.normalise()
    # stochastic rounding: each synapse is within one pulse of its exact target
    target = net.weights
    assert np.all(np.abs(on.weights - target) <= 1.0 / dev.levels_ltd + 1e-12)
    assert on.events.pulses_ltp > 0 and on.events.writes > 0  # the initial weights sum to less than 10


def test_weight_change_becomes_pulses_through_the_card_curve():
    card = replace(load_device("sige_epiram"), c2c_sigma_frac=0.0)
    # A pre and a post spike in the same step (pre trace 1): dw = nu_post = 3 nominal pulses exactly.
    rule = STDPRule(tau_post2_s=None, nu_pre=0.0, nu_post=3.0 / card.levels_ltp)
    params = DiehlCookParams(w_ie=0.0, w_ei=0.0)
    net = PlasticNetwork(1, 1, params=params, rule=rule, device=card, weights=[[0.0]], seed=0)
    ref = DeviceArray.from_state_arrays(card, {k[7:]: v for k, v in net.state_arrays().items() if k.startswith("device_")})
    net.sf[K.S_VE, 0] = 0.0
    net.run_steps(np.ones(1), 1)
    assert (net.events.pulses_ltp, net.events.writes) == (3, 1)
    ref.apply_pulses(np.array([[3]]))
    assert net.W[0] == ref.conductance_S[0, 0]
    # the curve's first steps from G_min are larger than the nominal (linear) step
    assert net.weights[0, 0] > 3.0 / card.levels_ltp


def test_device_noise_is_reproducible_and_key_dependent():
    card = load_device("sige_epiram")
    a, b, c = (PlasticNetwork(30, 6, params=SMALL, device=card, seed=s) for s in (5, 5, 6))
    for net in (a, b, c):
        net.normalise()
        net.run(_rates(30), 0.1)
    np.testing.assert_array_equal(a.W, b.W)
    assert not np.array_equal(a.W, c.W)


def test_checkpoint_state_round_trip():
    card = load_device("sige_epiram")
    net = PlasticNetwork(30, 6, params=SMALL, device=card, seed=1)
    net.run(_rates(30), 0.05)
    other = PlasticNetwork(30, 6, params=SMALL, device=card, seed=1)
    other.load_state(net.state_arrays())
    ra, rb = net.run(_rates(30), 0.1), other.run(_rates(30), 0.1)
    np.testing.assert_array_equal(ra.counts, rb.counts)
    np.testing.assert_array_equal(net.W, other.W)


def test_bad_inputs_are_refused():
    with pytest.raises(NeurosimError, match="n_neurons"):
        PlasticNetwork(10, 0)
    with pytest.raises(NeurosimError, match="rates_Hz"):
        PlasticNetwork(10, 2).run(np.full(10, 5000.0), 0.01)
    with pytest.raises(NeurosimError, match="tau_pre_s"):
        STDPRule(tau_pre_s=-1.0)
    with pytest.raises(NeurosimError, match="v_reset_e_V"):
        DiehlCookParams(v_reset_e_V=0.0)
    with pytest.raises(NeurosimError, match="pixels"):
        PlasticNetwork(10, 2).present(np.zeros(11))


def test_label_assignment_and_classification():
    responses = np.array([[5, 0, 1], [4, 1, 0], [0, 6, 0], [1, 0, 7]])
    labels = np.array([0, 0, 1, 2])
    assignments = assign_labels(responses, labels, 3)
    np.testing.assert_array_equal(assignments, [0, 1, 2])
    np.testing.assert_array_equal(classify(responses, assignments, 3), labels)


def _digits():
    from neurosim.data import load_digits_split

    (x_train, y_train), (x_test, y_test) = load_digits_split(0.25, 0)
    return x_train / 16.0, y_train, x_test / 16.0, y_test


#: 8x8 digits have 64 inputs: a proportionally smaller weight sum (78 of 784 inputs) and brighter input.
_DIGITS_PARAMS = DiehlCookParams(w_total=78.0 * 64 / 784 * 2, intensity=8.0, t_present_s=0.1, t_rest_s=0.05)


def test_training_resumes_to_the_same_result(tmp_path):
    data = _digits()
    config = StdpConfig(n_neurons=10, train_images=30, assign_images=40, test_images=40, checkpoint_every=10)
    whole = train_stdp(config, None, 3, data, params=_DIGITS_PARAMS)

    class Stop(Exception):
        pass

    def stop(phase, done, total):
        if phase == "assign" and done == 25:
            raise Stop

    with pytest.raises(Stop):
        train_stdp(config, None, 3, data, out_dir=tmp_path, params=_DIGITS_PARAMS, callback=stop)
    resumed = train_stdp(config, None, 3, data, out_dir=tmp_path, params=_DIGITS_PARAMS)
    assert resumed.accuracy == whole.accuracy
    np.testing.assert_array_equal(resumed.network.weights, whole.network.weights)
    assert (tmp_path / "run.json").exists() and (tmp_path / "receptive_fields.png").exists()
    with pytest.raises(NeurosimError, match="other settings"):
        train_stdp(replace(config, n_neurons=11), None, 3, data, out_dir=tmp_path, params=_DIGITS_PARAMS)


def test_unsupervised_learning_beats_chance_on_mnist():
    from neurosim.data import load_mnist

    x, y = load_mnist("test")  # ships with the package: train, label and test on disjoint parts of it
    x = x.reshape(len(x), -1) / 255.0
    data = (x[:600], y[:600], x[600:900], y[600:900])
    result = train_stdp(StdpConfig(n_neurons=20, train_images=600, assign_images=300, test_images=300), None, 0, data)
    assert result.accuracy > 0.3  # chance is 0.1


@pytest.mark.parametrize("argv, message", [
    (["--device", "no_such_card"], "no_such_card"),
    (["--neurons", "0"], "--neurons"),
    (["--test-images", "20000"], "--test-images"),
])
def test_cli_bad_input_is_one_line(argv, message, capsys):
    try:
        code = main(["stdp", *argv])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_sweep_task_checks_settings_before_running():
    from neurosim.tasks import resolve_task

    task = resolve_task("stdp")
    task.validate({"device": "sige_epiram", "n_neurons": 10, "train_images": 100})
    with pytest.raises(NeurosimError, match="no_such_card"):
        task.validate({"device": "no_such_card"})
    with pytest.raises(NeurosimError, match="n_neurons"):
        task.validate({"n_neurons": 0})
    with pytest.raises(NeurosimError, match="unknown|not allowed"):
        task.validate({"neurons": 10})


@pytest.mark.slow
def test_diehl_cook_100_neurons_reproduces_the_paper():
    """Diehl & Cook (2015), Table 1: 100 excitatory neurons, one epoch of 60,000 images: 82.9 % (about 30 min)."""
    from neurosim.networks.stdp.tasks import load_data

    result = train_stdp(StdpConfig(n_neurons=100), None, 0, load_data())
    assert result.accuracy > 0.80


def test_firing_block_of_the_published_code():
    """After a spike an excitatory neuron cannot fire for t_block_e_s = 50 ms (100 steps), though its
    membrane is held only for the 5 ms refractory period."""
    p = DiehlCookParams(w_ie=0.0)
    net = PlasticNetwork(1, 1, params=p, seed=0)
    net.plastic = False
    spikes = []
    for _ in range(130):
        net.sf[K.S_VE, 0] = 0.0 if net.si[K.R_E, 0] == 0 else net.sf[K.S_VE, 0]  # drive it above threshold
        spikes.append(net.run_steps(np.zeros(1), 1).counts[0])
    fired = np.flatnonzero(spikes)
    np.testing.assert_array_equal(fired, [0, 101])
    short = PlasticNetwork(1, 1, params=replace(p, t_block_e_s=0.0), seed=0)
    short.sf[K.S_VE, 0] = 0.0
    short.run_steps(np.zeros(1), 1)
    assert short.si[K.R_BLOCK, 0] == 0 and short.si[K.R_E, 0] == timestep_ref(p) - 1


def timestep_ref(p):
    from neurosim.networks.spiking.dynamics import timestep

    return timestep(p.t_ref_e_s, p.dt_s)
