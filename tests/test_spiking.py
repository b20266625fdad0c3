"""Spiking simulator: exact propagators, kernel twins, analytic rates and PSPs, inputs, errors, plots."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.linalg import expm

from neurosim.errors import NeurosimError
from neurosim.networks.spiking import (
    CrossbarConnection,
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
    propagator,
    steady_rate_Hz,
)
from neurosim.streams import uniform_numpy

from conftest import std_tolerance

EPS = np.finfo(float).eps
DT = 1e-4


def _linear_system(params):
    """Generator matrix of (v, I_1..I_K, I_step, 1): the ODE that the propagator must solve exactly."""
    k = params.n_channels
    m = np.zeros((k + 3, k + 3))
    if params.model is NeuronModel.LIF:
        m[0, 0] = -1 / params.tau_m_s
        m[0, -1] = params.v_rest_V / params.tau_m_s
    m[0, 1 : k + 2] = 1 / params.c_m_F
    for i, tau in enumerate(params.tau_syn_s):
        m[1 + i, 1 + i] = -1 / tau
    return m


@pytest.mark.parametrize(
    "params",
    [
        NeuronParams(tau_syn_s=(5e-3, 10e-3)),
        NeuronParams(tau_m_s=10e-3, tau_syn_s=(10e-3,)),  # tau_syn = tau_m: the alpha-function limit
        NeuronParams(tau_m_s=10e-3, tau_syn_s=(10.5e-3, 0.3e-3)),
        NeuronParams(model=NeuronModel.IF, c_m_F=1e-12, v_th_V=1.0, v_reset_V=0.0, tau_syn_s=(3e-3,)),
    ],
)
@pytest.mark.parametrize("dt_s", [1e-4, 1e-3])
def test_propagator_is_the_matrix_exponential(params, dt_s):
    exact = expm(_linear_system(params) * dt_s)[0]
    pr = propagator(params, dt_s)
    k = params.n_channels
    assert 1 - pr.a == pytest.approx(exact[0], rel=1e-12)
    np.testing.assert_allclose(pr.p_V_per_A[:k], exact[1 : k + 1], rtol=1e-9)
    assert pr.q_V_per_A == pytest.approx(exact[k + 1], rel=1e-9)
    assert pr.a * params.v_rest_V == pytest.approx(exact[-1], rel=1e-9, abs=1e-300)
    np.testing.assert_allclose(pr.decay[:k], [math.exp(-dt_s / t) for t in params.tau_syn_s], rtol=1e-15)
    assert (pr.p_V_per_A[k], pr.decay[k]) == (pr.q_V_per_A, 0.0)


@pytest.mark.parametrize("rel", [1e-3, 1e-6, 1e-9, 1e-12, -1e-9])
def test_propagator_stays_accurate_when_tau_syn_nears_tau_m(rel):
    # scipy's expm loses about 1e-6 here; compare with the closed form in 50-digit arithmetic
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    params = NeuronParams(tau_m_s=10e-3, tau_syn_s=(10e-3 * (1 + rel),))
    tm, tk, dt = (mpmath.mpf(x) for x in (params.tau_m_s, params.tau_syn_s[0], 1e-3))
    exact = tm / mpmath.mpf(params.c_m_F) * tk / (tk - tm) * (mpmath.exp(-dt / tk) - mpmath.exp(-dt / tm))
    assert propagator(params, 1e-3).p_V_per_A[0] == pytest.approx(float(exact), rel=16 * EPS)


def _rich_network(seed=0, batch=3, monitors=True):
    """Every feature at once: LIF/IF, both resets, refractory, 0-2 channels, direct channel,
    Poisson / regular / per-sample spike-train inputs, dense and sparse connections, a batch."""
    rng = np.random.default_rng(seed)
    pa = NeuronParams(tau_m_s=20e-3, c_m_F=200e-12, v_rest_V=-60e-3, v_th_V=-50e-3, v_reset_V=-65e-3,
                      t_ref_s=2e-3, tau_syn_s=(5e-3, 10e-3))
    a = NeuronGroup(12, pa, name="A", v_init_V=rng.uniform(-65e-3, -50e-3, (batch, 12)))
    b = NeuronGroup(6, pa, name="B", tau_m_s=10e-3, tau_syn_s=(10e-3,), reset=Reset.SUBTRACT, t_ref_s=0.0)
    pc = NeuronParams(model=NeuronModel.IF, c_m_F=DT, v_th_V=1.0, v_reset_V=0.0, reset=Reset.SUBTRACT,
                      t_ref_s=0.0, tau_syn_s=())
    c = NeuronGroup(4, pc, name="C", i_ext_A=rng.uniform(0, 0.2, (batch, 4)))
    poisson = PoissonInput(10, rng.uniform(0, 300, (batch, 10)), name="poisson")
    regular = RegularInput(3, [40.0, 90.0, 250.0], phase=[0.0, 0.5, 0.9], name="regular")
    n_ev = 60
    train = SpikeTrainInput(5, rng.integers(0, 5, n_ev), rng.integers(0, 1000, n_ev) * DT,
                            samples=rng.integers(0, batch, n_ev), name="train")
    pre, post = np.nonzero(rng.random((12, 12)) < 0.3)
    objects = [
        DenseConnection(poisson, a, rng.uniform(0, 300e-12, (12, 10)), channel=0, name="p_a"),
        DenseConnection(regular, a, rng.uniform(0, 200e-12, (12, 3)), channel=0, name="r_a"),
        DenseConnection(train, a, rng.uniform(0, 400e-12, (12, 5)), channel=0, name="t_a"),
        SparseConnection(a, a, pre, post, rng.uniform(-300e-12, 0, pre.size), channel=1, name="a_a"),
        DenseConnection(a, b, rng.uniform(0, 500e-12, (6, 12)), channel=0, name="a_b"),
        DenseConnection(b, c, rng.uniform(0, 0.6, (4, 6)), channel=None, name="b_c"),
        DenseConnection(poisson, c, rng.uniform(-0.3, 0.5, (4, 10)), channel=None, name="p_c"),
    ]
    if monitors:
        objects += [SpikeMonitor(s, name=f"spikes_{s.name}") for s in (a, b, c, poisson, regular, train)]
        objects += [StateMonitor(a, [0, 3, 7], name="state_a"), StateMonitor(b, name="state_b")]
    return Network(objects, dt_s=DT)


def _assert_same_run(r1, r2, v_tol):
    assert r1.counts.keys() == r2.counts.keys()
    for name in r1.counts:
        np.testing.assert_array_equal(r1.counts[name], r2.counts[name])
    for name, rec in r1.records.items():
        other = r2.records[name]
        if hasattr(rec, "step"):
            for field in ("sample", "step", "neuron"):
                np.testing.assert_array_equal(getattr(rec, field), getattr(other, field))
        else:
            np.testing.assert_allclose(rec.v_V, other.v_V, rtol=0, atol=v_tol)
            np.testing.assert_allclose(rec.i_syn_A, other.i_syn_A, rtol=8 * EPS, atol=1e-30)
    for name in r1.v_final_V:
        np.testing.assert_allclose(r1.v_final_V[name], r2.v_final_V[name], rtol=0, atol=v_tol)


def test_numba_kernel_matches_numpy_twin():
    net = _rich_network()
    fast = net.run(0.1, rng=7, backend="numba")
    spec = net.run(0.1, rng=7, backend="numpy")
    assert fast.counts["A"].sum() > 50 and fast.counts["C"].sum() > 50 and fast.counts["B"].sum() > 20
    _assert_same_run(fast, spec, v_tol=8 * EPS * 1.0)


def test_kernel_runs_without_jit():
    code = (
        "import numpy as np, test_spiking as t;"
        "from neurosim.networks.spiking import kernels;"
        "assert not hasattr(kernels.advance_numba, 'signatures');"
        "net = t._rich_network(batch=2);"
        "t._assert_same_run(net.run(0.01, rng=1), net.run(0.01, rng=1, backend='numpy'), 1e-14)"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=os.path.dirname(__file__))


def test_threads_and_batch_split_do_not_change_results():
    net = _rich_network(batch=5)
    _assert_same_run(net.run(0.05, rng=3, threads=1), net.run(0.05, rng=3, threads=2), v_tol=0.0)


def test_batch_samples_are_independent():
    rng = np.random.default_rng(2)
    group = NeuronGroup(8, tau_syn_s=(4e-3,), name="g", i_ext_A=rng.uniform(0, 300e-12, (4, 8)))
    inp = RegularInput(6, rng.uniform(10, 400, (4, 6)), name="reg")
    w = rng.uniform(0, 400e-12, (8, 6))
    net = Network([DenseConnection(inp, group, w), SpikeMonitor(group, name="s")], dt_s=DT)
    together = net.run(0.2)
    for b in range(4):
        alone = net.run(0.2, i_ext_A={group: group.i_ext_A[b]}, rate_Hz={inp: inp.rate_Hz[b]})
        np.testing.assert_array_equal(alone.counts["g"][0], together.counts["g"][b])
        np.testing.assert_array_equal(alone.v_final_V["g"][0], together.v_final_V["g"][b])


def test_read_callable_matches_weight_table_and_draws_fresh_noise():
    rng = np.random.default_rng(4)
    w = rng.uniform(0, 500e-12, (10, 20))
    inp = PoissonInput(20, 200.0, name="inp")

    def build(**conn):
        g = NeuronGroup(10, name="g")
        return Network([DenseConnection(inp, g, channel=0, **conn), SpikeMonitor(g, name="s")], dt_s=DT)

    table = build(weights_A=w).run(0.2, rng=5)
    read = build(read=lambda spikes, rng: spikes @ w.T).run(0.2, rng=5)
    np.testing.assert_array_equal(read.counts["g"], table.counts["g"])
    np.testing.assert_allclose(read.v_final_V["g"], table.v_final_V["g"], rtol=0, atol=1e-15)
    assert table.counts["g"].sum() > 20

    calls = []

    def noisy(spikes, rng):
        calls.append(spikes.shape)
        return spikes @ w.T + rng.normal(0, 30e-12, (spikes.shape[0], 10))

    net = build(read=noisy, weights_A=w)
    first, again, other = net.run(0.05, rng=1, batch=2), net.run(0.05, rng=1, batch=2), net.run(0.05, rng=2, batch=2)
    assert calls == [(2, 20)] * 1500
    np.testing.assert_array_equal(first.v_final_V["g"], again.v_final_V["g"])
    assert not np.allclose(first.v_final_V["g"], other.v_final_V["g"])


def test_lif_rate_matches_the_analytic_interval():
    params = NeuronParams(tau_m_s=10e-3, c_m_F=100e-12, v_rest_V=-65e-3, v_th_V=-50e-3, v_reset_V=-65e-3, t_ref_s=2e-3)
    current = np.array([0.10, 0.152, 0.17, 0.21, 0.26, 0.33, 0.45, 0.6]) * 1e-9  # R I from 10 to 60 mV
    steps_to_fire = params.tau_m_s * np.log(np.maximum((params.r_m_Ohm * current) / (params.r_m_Ohm * current - 15e-3), 1)) / DT
    assert np.all(np.abs(steps_to_fire - np.round(steps_to_fire))[1:] > 1e-6)  # no spike lands exactly on a step edge
    group = NeuronGroup(current.size, params, name="g", i_ext_A=current)
    res = Network([SpikeMonitor(group, name="s")], dt_s=DT).run(2.0)
    discrete = steady_rate_Hz(params, current, DT)
    continuous = steady_rate_Hz(params, current)
    assert discrete[0] == continuous[0] == 0 and res.counts["g"][0, 0] == 0
    rec = res["s"]
    for i in range(1, current.size):
        steps = rec.step[rec.neuron == i]
        interval = round(1 / (discrete[i] * DT))
        assert steps[0] == np.floor(steps_to_fire[i])  # k* updates from v_reset, spike stamped at the step start
        assert np.all(np.diff(steps) == interval)
        assert abs(interval * DT - 1 / continuous[i]) <= DT
    assert res.rate_Hz(group)[0] == pytest.approx(continuous, rel=0.03, abs=1.0)


def test_if_rate_with_subtractive_reset_is_current_over_charge():
    params = NeuronParams(model=NeuronModel.IF, c_m_F=1e-9, v_th_V=0.02, v_reset_V=0.0, reset=Reset.SUBTRACT, t_ref_s=0.0)
    current = np.array([0.0, 0.3e-9, 1e-9, 7.7e-9, 40e-9, 500e-9])
    group = NeuronGroup(current.size, params, name="g", i_ext_A=current)
    res = Network([group], dt_s=DT).run(1.0)
    expected = steady_rate_Hz(params, current, DT) * 1.0
    assert np.all(np.abs(res.counts["g"][0] - expected) <= 1)
    assert expected[-1] == 1 / DT  # capped at one spike per step


@pytest.mark.parametrize("tau_syn_s", [4e-3, 10e-3])
@pytest.mark.parametrize("model", [NeuronModel.LIF, NeuronModel.IF])
def test_postsynaptic_potential_is_the_analytic_kernel(tau_syn_s, model):
    params = NeuronParams(model=model, tau_m_s=10e-3, c_m_F=100e-12, v_rest_V=-70e-3, v_th_V=0.0, v_reset_V=-80e-3,
                          tau_syn_s=(tau_syn_s,))
    w = 50e-12
    src = SpikeTrainInput(1, [0], [0.0], name="src")
    group = NeuronGroup(1, params, name="g", v_init_V=-70e-3)
    net = Network([DenseConnection(src, group, [[w]]), StateMonitor(group, name="st")], dt_s=DT)
    v = net.run(0.05)["st"].v_V[0, :, 0] - params.v_rest_V
    t = (np.arange(v.size) - 1) * DT  # delivered after the update of step 0: integrated from step 1 on
    r, tm, ts = params.r_m_Ohm, params.tau_m_s, tau_syn_s
    if model is NeuronModel.IF:
        psp = w * ts / params.c_m_F * -np.expm1(-t / ts)
    elif ts == tm:
        psp = r * w * t / tm * np.exp(-t / tm)
    else:
        psp = r * w * ts / (ts - tm) * (np.exp(-t / ts) - np.exp(-t / tm))
    assert v[0] == 0 and v[1] == 0
    np.testing.assert_allclose(v[1:], psp[1:], rtol=1e-9, atol=1e-15)


def test_direct_channel_adds_weight_dt_over_c_one_step_later():
    params = NeuronParams(model=NeuronModel.IF, c_m_F=DT, v_th_V=10.0, v_reset_V=0.0, tau_syn_s=())
    src = SpikeTrainInput(2, [0, 1, 0], [0.0, 2 * DT, 2 * DT], name="src")
    group = NeuronGroup(1, params, name="g", v_init_V=0.0)
    net = Network([DenseConnection(src, group, [[0.25, -0.5]], channel=None), StateMonitor(group, name="st")], dt_s=DT)
    np.testing.assert_allclose(net.run(6 * DT)["st"].v_V[0, :, 0], [0, 0, 0.25, 0.25, 0.0, 0.0], atol=1e-15)


def test_poisson_input_statistics():
    n, rate, duration = 400, 50.0, 1.0
    inp = PoissonInput(n, np.stack([np.full(n, rate), np.zeros(n)]), name="p")
    res = Network([NeuronGroup(1), inp, SpikeMonitor(inp, name="s")], dt_s=DT).run(duration, rng=11)
    p = rate * DT
    steps = round(duration / DT)
    total = res.counts["p"][0].sum()
    assert abs(total - n * steps * p) < 5 * math.sqrt(n * steps * p * (1 - p))
    counts = res.counts["p"][0]
    assert np.var(counts, ddof=1) == pytest.approx(steps * p * (1 - p), rel=5 * math.sqrt(2 / (n - 1)))
    assert res.counts["p"][1].sum() == 0
    u = uniform_numpy(np.uint64(3), np.arange(200_000, dtype=np.uint64))
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / u.size) and u.min() >= 0 and u.max() < 1
    again = Network([NeuronGroup(1), inp], dt_s=DT).run(duration, rng=11).counts["p"]
    np.testing.assert_array_equal(again, res.counts["p"])


def test_regular_input_fires_at_its_rate():
    rates = np.array([0.0, 7.0, 37.0, 100.0, 1234.0])
    phase = np.array([0.0, 0.5, 0.2, 0.99, 0.0])
    inp = RegularInput(rates.size, rates, phase=phase, name="r")
    res = Network([NeuronGroup(1), inp], dt_s=DT).run(1.0)
    assert np.all(np.abs(res.counts["r"][0] - (rates * 1.0 + phase)) < 1 + 1e-9)


def test_refractory_period_follows_brians_timestep_rule():
    # strong drive: fires on every update it is allowed, so the interval is max(r - 1, 0) + 1 steps
    for t_ref, interval in ((0.0, 1), (DT, 1), (2 * DT, 2), (2.5e-3, 25), (2.55e-3, 25), (2.7e-3, 27)):
        params = NeuronParams(model=NeuronModel.IF, c_m_F=1e-12, v_th_V=0.5, v_reset_V=0.0, t_ref_s=t_ref)
        group = NeuronGroup(1, params, name="g", i_ext_A=1.0)
        rec = Network([SpikeMonitor(group, name="s")], dt_s=DT).run(0.02)["s"]
        assert np.all(np.diff(rec.step) == interval), t_ref


@pytest.mark.parametrize(
    "make",
    [
        lambda: NeuronParams(tau_m_s=0.0),
        lambda: NeuronParams(tau_m_s=-1e-3),
        lambda: NeuronParams(tau_syn_s=(5e-3, 0.0)),
        lambda: NeuronParams(c_m_F=float("nan")),
        lambda: NeuronParams(t_ref_s=-1e-3),
        lambda: NeuronParams(v_reset_V=-50e-3, v_th_V=-50e-3),
        lambda: NeuronParams(reset="subtract"),
        lambda: NeuronParams().with_changes(tau_membrane=1.0),
        lambda: NeuronParams.from_mapping({"tau_m_s": 1e-2, "threshold": 1.0}),
        lambda: NeuronParams.from_mapping({"reset": "sideways"}),
        lambda: NeuronGroup(3, tau_mem_s=1e-2),
        lambda: NeuronGroup(0),
        lambda: NeuronGroup(3, v_init_V=[0.0, float("nan"), 0.0]),
        lambda: NeuronGroup(3, i_ext_A=np.ones((2, 4))),
        lambda: Network(dt_s=0.0),
        lambda: Network(dt_s=-1e-4),
        lambda: Network(dt_s=float("inf")),
        lambda: PoissonInput(3, [1.0, float("nan"), 2.0]),
        lambda: PoissonInput(3, -5.0),
        lambda: RegularInput(2, 10.0, phase=1.0),
        lambda: SpikeTrainInput(3, [0, 3], [0.0, 1e-3]),
        lambda: SpikeTrainInput(3, [0, 1], [0.0, float("nan")]),
        lambda: DenseConnection(NeuronGroup(3), NeuronGroup(2), np.ones((3, 2))),
        lambda: DenseConnection(NeuronGroup(3), NeuronGroup(2), np.full((2, 3), np.nan)),
        lambda: DenseConnection(NeuronGroup(3), NeuronGroup(2), np.ones((2, 3)), channel=1),
        lambda: DenseConnection(NeuronGroup(3), NeuronGroup(2)),
        lambda: SparseConnection(NeuronGroup(3), NeuronGroup(2), [0, 2], [1, 2], 1e-12),
        lambda: SparseConnection(NeuronGroup(3), NeuronGroup(2), [0, 2], [1, 1], [1e-12, np.nan]),
        lambda: Network([NeuronGroup(2, name="x"), NeuronGroup(2, name="x")]),
        lambda: Network(["not an object"]),
    ],
)
def test_bad_input_raises_a_clear_error(make):
    with pytest.raises(NeurosimError):
        make()


def test_bad_run_input_raises_a_clear_error():
    group = NeuronGroup(2, name="g")
    inp = PoissonInput(3, 10.0, name="p")
    net = Network([DenseConnection(inp, group, np.ones((2, 3)) * 1e-12)], dt_s=DT)
    bad_runs = [
        dict(duration_s=0.0),
        dict(duration_s=float("nan")),
        dict(duration_s=DT / 10),
        dict(duration_s=0.01, backend="cuda"),
        dict(duration_s=0.01, rate_Hz={inp: 2 / DT}),
        dict(duration_s=0.01, rate_Hz={inp: [1.0, np.nan, 1.0]}),
        dict(duration_s=0.01, rate_Hz={group: 1.0}),
        dict(duration_s=0.01, i_ext_A={group: np.zeros((3, 2))}, rate_Hz={inp: np.zeros((2, 3))}),
        dict(duration_s=0.01, batch=2, v_init_V={group: np.zeros((3, 2))}),
        dict(duration_s=0.01, threads=0),
        dict(duration_s=0.01, rng="seed"),
    ]
    for kwargs in bad_runs:
        with pytest.raises(NeurosimError):
            net.run(**kwargs)
    for read in (lambda s, rng: np.zeros((s.shape[0], 3)), lambda s, rng: np.full((s.shape[0], 2), np.nan)):
        g = NeuronGroup(2)
        with pytest.raises(NeurosimError, match="read returned"):
            Network([DenseConnection(inp, g, read=read)], dt_s=DT).run(0.01)
    with pytest.raises(NeurosimError, match="twice in one time step"):
        Network([SpikeTrainInput(2, [1, 1], [1e-3, 1.02e-3]), group], dt_s=DT).run(0.01)
    with pytest.raises(NeurosimError, match="no neuron group"):
        Network([inp], dt_s=DT).run(0.01)


def test_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosim.networks.spiking.plots import membrane_trace_plot, raster_plot

    net = _rich_network(batch=1)
    res = net.run(0.05, rng=0)
    ax = raster_plot(res["spikes_A"])
    assert ax.get_xlabel() == "time (ms)" and len(ax.lines) == 1
    ax2 = membrane_trace_plot(res["state_a"], v_th_V=-50e-3)
    assert len(ax2.lines) == 4
    fig, axes = plt.subplots(1, 2)
    assert raster_plot(res["spikes_B"], ax=axes[0]) is axes[0]
    assert membrane_trace_plot(res["state_b"], neurons=[0, 1], ax=axes[1]) is axes[1]
    with pytest.raises(NeurosimError):
        raster_plot(res["state_a"])
    plt.close("all")


# -- the neuron update shared with the converted SNN -------------------------------------------------------
@pytest.mark.parametrize("sub", [True, False])
def test_integrate_fire_kernel_equals_twin(sub):
    """One row of LIF neurons (leak, refractory counters, either reset): both twins give the same state and spikes."""
    from neurosim.networks.spiking.kernels import integrate_fire_numba, integrate_fire_numpy

    rng = np.random.default_rng(5)
    n = 37
    v0 = rng.normal(0.8, 0.4, n)
    ref0 = np.where(rng.random(n) < 0.2, rng.integers(1, 4, n), 0).astype(np.int32)
    drive = rng.normal(0.2, 0.3, n)
    results = []
    for kernel in (integrate_fire_numba, integrate_fire_numpy):
        v, ref = v0.copy(), ref0.copy()
        fire = np.zeros((n // 8 + 1) * 8, np.bool_)
        spk = np.full(n + 3, -1, np.int64)
        ns = kernel(v, ref, drive, 0.1, -0.05, 1.0, 0.2, sub, 2, fire, fire.view(np.uint64), spk, 3, 100)
        results.append((v, ref, spk[:ns].copy(), ns))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    v, ref, spk, ns = results[0]
    new = v0 + (-0.05 - v0) * 0.1 + drive
    fired = (ref0 == 0) & (new > 1.0)
    assert fired.sum() > 3 and ns == 3 + fired.sum()
    np.testing.assert_array_equal(spk[3:], 100 + np.flatnonzero(fired))
    np.testing.assert_array_equal(v[fired], new[fired] - 0.8 if sub else 0.2)
    np.testing.assert_array_equal(v[ref0 > 0], v0[ref0 > 0])
    np.testing.assert_array_equal(ref, np.where(ref0 > 0, ref0 - 1, np.where(fired, 2, 0)))


# -- crossbar connections ------------------------------------------------------------------------------
def _crossbar(w, frac=0.0, **config):
    import dataclasses

    from neurosim.crossbar import CrossbarConfig, CrossbarLayer
    from neurosim.device import load_device

    device = dataclasses.replace(load_device("sige_epiram"), read_noise_frac=frac)
    return CrossbarLayer(w, device, CrossbarConfig(**config), rng=0)


def test_noise_free_crossbar_connection_equals_the_dense_connection_of_its_weights():
    rng = np.random.default_rng(21)
    inp = PoissonInput(150, 300.0, name="inp")
    layer = _crossbar(rng.normal(0.1, 0.3, (10, 150)), rows=64, cols=8)  # 3 x 2 tiles, ideal ADC

    def build(make):
        g = NeuronGroup(10, name="g")
        return Network([make(g), SpikeMonitor(g, name="s")], dt_s=DT)

    via_crossbar = build(lambda g: CrossbarConnection(inp, g, layer, scale_A=2e-10, channel=0))
    weights = via_crossbar.connections[0].weights_A
    np.testing.assert_allclose(weights, layer.effective_weights() * 2e-10, rtol=1e-12)
    a = via_crossbar.run(0.1, rng=4, batch=3)
    b = build(lambda g: DenseConnection(inp, g, weights, channel=0)).run(0.1, rng=4, batch=3)
    np.testing.assert_array_equal(a.counts["g"], b.counts["g"])
    np.testing.assert_allclose(a.v_final_V["g"], b.v_final_V["g"], rtol=0, atol=1e-12 * np.abs(b.v_final_V["g"]).max())
    assert a.counts["g"].sum() > 30


def test_crossbar_connection_read_noise_has_the_device_variance_fresh_every_read():
    """Variance of one read's output = sum_i (v_i sigma_i)^2 with sigma = frac * G of both devices, over k^2 and scaled."""
    frac, n = 0.05, 20000
    rng = np.random.default_rng(22)
    layer = _crossbar(rng.normal(0, 0.3, (6, 200)), frac, rows=128, cols=8)
    src, g = PoissonInput(200, 0.0, name="inp"), NeuronGroup(6, name="g")
    conn = CrossbarConnection(src, g, layer, scale_A=3e-12)
    s = (rng.random(200) < 0.3).astype(np.float64)
    g_pos, g_neg = layer.conductances_S()
    k = layer.tiles[0][0].k_S
    expected = (frac**2 * (g_pos**2 + g_neg**2) / k**2) @ s * (3e-12) ** 2
    gen = np.random.default_rng(1)
    first, second = conn.read(np.tile(s, (n, 1)), gen), conn.read(np.tile(s, (n, 1)), gen)
    mean = layer.effective_weights() @ s * 3e-12
    np.testing.assert_allclose(first.var(axis=0), expected, rtol=2 * std_tolerance(n))
    np.testing.assert_allclose(first.mean(axis=0), mean, atol=5 * np.sqrt(expected / n).max())
    assert abs(np.corrcoef((first - mean).ravel(), (second - mean).ravel())[0, 1]) < 5 / np.sqrt(first.size)


def test_crossbar_connection_rejects_a_layer_of_the_wrong_shape():
    layer = _crossbar(np.ones((4, 5)))
    with pytest.raises(NeurosimError, match=r"\(target.n, source.n\) = \(4, 6\)"):
        CrossbarConnection(PoissonInput(6, 1.0), NeuronGroup(4), layer)
    with pytest.raises(NeurosimError, match="CrossbarLayer"):
        CrossbarConnection(PoissonInput(5, 1.0), NeuronGroup(4), np.ones((4, 5)))
    with pytest.raises(NeurosimError, match="scale_A"):
        CrossbarConnection(PoissonInput(5, 1.0), NeuronGroup(4), layer, scale_A=-1.0)
