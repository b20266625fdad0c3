"""The measured-curve device kind: its table-driven write in the one device kernel, its twin, and its use
everywhere a device goes (DeviceArray writes and programming, cards, on-chip training)."""

from dataclasses import replace

import numpy as np
import pytest

from neurosim.device import DeviceArray, ProgramMethod, device_from_mapping, device_to_mapping, load_card
from neurosim.device.cardwrite import write_card
from neurosim.device.cycling import cycle_traces, model_cycle_S
from neurosim.device.kernels import pulse_update_numba, pulse_update_numpy, pulse_write, pulse_write_numpy
from neurosim.device.measured import KERNEL_GRID, MeasuredCurve
from neurosim.errors import NeurosimError
from neurosim.streams import normals_from_counters_numpy

EPS = np.finfo(float).eps


def _curve(points=9, up=0.025, down=-0.02, sigma=(0.02, 0.03)):
    """A table with steps that shrink towards each end of their direction (a saturating device); its mean
    steps (1.8 % and 1.4 % of the window) are near sige_epiram's 1/64, whose analytic fields plan the programming."""
    x = np.linspace(0, 1, points)
    return MeasuredCurve(tuple(x), tuple(up * (1.2 - x)), tuple(sigma[0] * (1 + x)), tuple(down * (0.2 + x)),
                         tuple(np.full(points, sigma[1])))  # fmt: skip


@pytest.fixture
def measured(sige):
    return replace(sige, measured=_curve())


def test_table_step_by_hand():
    """One noiseless pulse from x moves by the interpolated table step times the window; n pulses compose."""
    table = _curve().kernel_table()
    lo, hi = 1e-6, 11e-6
    x0 = 0.3
    g0 = lo + x0 * (hi - lo)
    one = pulse_write(g0, 1, lo, hi, 1.0, 0.0, 1.0, 0.0, 0.0, table, 0.0)
    assert one == pytest.approx(g0 + (hi - lo) * 0.025 * (1.2 - x0), rel=1e-12)  # linear table: exact interpolation
    three = pulse_write(g0, 3, lo, hi, 1.0, 0.0, 1.0, 0.0, 0.0, table, 0.0)
    g = g0
    for _ in range(3):
        g = g + (hi - lo) * 0.025 * (1.2 - (g - lo) / (hi - lo))
    assert three == pytest.approx(g, rel=1e-12)
    down = pulse_write(g0, -2, lo, hi, 1.0, 0.0, 1.0, 0.0, 0.0, table, 0.0)
    g = g0
    for _ in range(2):
        g = g - (hi - lo) * 0.02 * (0.2 + (g - lo) / (hi - lo))
    assert down == pytest.approx(g, rel=1e-12)
    assert pulse_write(g0, 10**6, lo, hi, 1.0, 0.0, 1.0, 0.0, 0.0, table, 0.0) == hi  # a long train ends at the edge


def test_table_noise_is_the_rms_of_the_spread_along_the_path():
    """Noise of n pulses: c2c * window * sqrt(sum of the normalised spread squared at each pulse's start) * z."""
    curve = _curve()
    table = curve.kernel_table()
    lo, hi, z, c2c = 0.0, 1.0, 0.7, 0.02
    g0 = 0.25
    noisy = pulse_write(g0, 4, lo, hi, 1.0, 0.0, 1.0, 0.0, c2c, table, z)
    clean = pulse_write(g0, 4, lo, hi, 1.0, 0.0, 1.0, 0.0, 0.0, table, z)
    g, var = g0, 0.0
    rms = curve.spread_rms_frac
    for _ in range(4):
        var += (0.02 * (1 + g) / rms) ** 2
        g = g + 0.025 * (1.2 - g)
    assert clean == pytest.approx(g, rel=1e-12)
    assert noisy - clean == pytest.approx(c2c * np.sqrt(var) * z, rel=1e-9)


def _inputs(rng, n=3000, max_pulses=40):
    """Random devices (windows, a few stuck) and trains for the table kernel."""
    g_lo = rng.uniform(0.5e-6, 1.5e-6, n)
    g_hi = g_lo + rng.uniform(5e-6, 15e-6, n)
    g_hi[:7] = g_lo[:7]  # stuck: the window is the rail
    g = rng.uniform(g_lo, g_hi)
    pulses = rng.integers(-max_pulses, max_pulses + 1, n) * (rng.random(n) < 0.7)
    ones, zeros = np.ones(n), np.zeros(n)
    return g, pulses, g_lo, g_hi, ones, zeros, ones, zeros


@pytest.mark.parametrize("max_pulses", [1, 15, 200])
def test_table_kernel_matches_its_twin(rng, max_pulses):
    """Numba and NumPy give the same table writes (same operations in the same order: a few ulps at most)."""
    table = _curve(points=17).kernel_table()
    g, pulses, *params = _inputs(rng, max_pulses=max_pulses)
    key = np.uint64(rng.integers(2**63))
    a = pulse_update_numba(g.copy(), pulses, *params, 0.03, table, key)
    b = pulse_update_numpy(g.copy(), pulses, *params, 0.03, table, key)
    np.testing.assert_allclose(a, b, rtol=0, atol=8 * EPS * params[1].max())
    idle = pulses == 0
    np.testing.assert_array_equal(a[idle], g[idle])
    assert np.all((a >= params[0]) & (a <= params[1]))
    np.testing.assert_array_equal(a[:7], params[0][:7])  # stuck devices sit on their rail
    # the one-device write (fused loops) is the array write bit for bit
    z = normals_from_counters_numpy(key, np.arange(g.size))
    one = np.array([pulse_write(g[i], pulses[i], *(p[i] for p in params), 0.03, table, z[i]) for i in range(g.size)])
    np.testing.assert_array_equal(one, a)
    np.testing.assert_allclose(pulse_write_numpy(g, pulses, *params, 0.03, table, z), a, rtol=0, atol=8 * EPS * params[1].max())


def test_device_array_writes_follow_the_table(measured):
    """apply_pulses on a measured card uses the table, with either backend; the analytic fields do not move it."""
    a = DeviceArray(measured, (40, 30), rng=1)
    b = DeviceArray(measured, (40, 30), rng=1)
    pulses = np.random.default_rng(2).integers(-6, 7, a.shape)
    a.apply_pulses(pulses, rng=3, backend="numba")
    b.apply_pulses(pulses, rng=3, backend="numpy")
    np.testing.assert_allclose(a.conductance_S, b.conductance_S, rtol=0, atol=8 * EPS * measured.g_max_S)
    analytic = DeviceArray(replace(measured, measured=None), (40, 30), rng=1)
    analytic.apply_pulses(pulses, rng=3)
    assert np.max(np.abs(analytic.conductance_S - a.conductance_S)) > 0.01 * measured.window_S
    assert a.write_params[7].shape == (4, KERNEL_GRID)


def test_measured_table_of_the_analytic_curve_reproduces_it(sige):
    """A table of the card's own noiseless steps on a fine grid gives back the card's cycle (interpolation error only)."""
    clean = replace(sige, c2c_sigma_frac=0.0)
    up, down = clean.potentiation_curve(), clean.depression_curve()
    x = np.linspace(0, 1, 257)
    g = clean.g_min_S + x * clean.window_S
    arr = DeviceArray(clean, (x.size,), rng=0)
    steps = []
    for sign in (1, -1):
        arr.program(g, ProgramMethod.EXACT)
        arr.apply_pulses(np.full(x.size, sign))
        steps.append((arr.conductance_S - g) / clean.window_S)
    table = MeasuredCurve(tuple(x), tuple(steps[0]), tuple(np.zeros(x.size)), tuple(steps[1]), tuple(np.zeros(x.size)))
    cycle = cycle_traces(replace(clean, measured=table), 1, 1, rng=0)[:, 0]
    # the kernel's 65-point grid interpolates the smooth steps closely; the largest error (0.23 % of the window,
    # a seventh of one step) is the last potentiation step, where the clip at G_max puts a kink into the table
    np.testing.assert_allclose(cycle, model_cycle_S(clean), rtol=0, atol=3e-3 * clean.window_S)
    np.testing.assert_allclose(cycle[:64], model_cycle_S(clean)[:64], rtol=0, atol=1e-4 * clean.window_S)
    assert up[-1] == pytest.approx(sige.g_max_S) and down[-1] == pytest.approx(sige.g_min_S)


@pytest.mark.parametrize("method", list(ProgramMethod))
def test_programming_a_measured_device(measured, method):
    """Every programming method runs on a measured card; write-verify converges by the table's writes."""
    arr = DeviceArray(replace(measured, c2c_sigma_frac=0.005), (500,), rng=4)
    target = np.random.default_rng(5).uniform(measured.g_min_S, measured.g_max_S, 500)
    result = arr.program(target, method, rng=6)
    assert np.all((arr.conductance_S >= arr.g_lo_S) & (arr.conductance_S <= arr.g_hi_S))
    if method is ProgramMethod.WRITE_VERIFY:
        assert result.fraction_converged > 0.95


def test_measured_card_round_trips(tmp_path, measured):
    """A measured card written to TOML reads back as the same device; its mapping round-trips too (sweep overrides)."""
    path = write_card(measured, tmp_path / "m.toml", ["a comment"])
    assert "[measured]" in path.read_text()
    assert load_card(path) == measured
    assert device_from_mapping(device_to_mapping(measured)) == measured


@pytest.mark.parametrize(
    "change, needle",
    [
        (dict(x=(0.0, 0.5, 0.9)), "measured.x"),
        (dict(x=(0.0, 0.7, 0.5, 1.0)), "measured.x"),
        (dict(up_step_frac=(0.1, 0.1)), "as many values"),
        (dict(up_step_frac=(-0.1, -0.1, -0.1)), "positive step"),
        (dict(down_step_frac=(0.1, 0.1, 0.1)), "negative step"),
        (dict(down_sigma_frac=(0.1, -0.1, 0.1)), "standard deviations"),
        (dict(up_step_frac=(0.1, float("nan"), 0.1)), "finite"),
        (dict(up_step_frac=(0.1, 1.5, 0.1)), "smaller than the window"),
    ],
)
def test_bad_measured_tables_are_refused(change, needle):
    base = dict(x=(0.0, 0.5, 1.0), up_step_frac=(0.1, 0.1, 0.0), up_sigma_frac=(0.01,) * 3,
                down_step_frac=(0.0, -0.1, -0.1), down_sigma_frac=(0.01,) * 3)  # fmt: skip
    with pytest.raises(NeurosimError, match=needle):
        MeasuredCurve(**{**base, **change})


def test_in_situ_training_runs_on_a_measured_card(measured):
    """The fused on-chip training loop writes a measured card through the same device write (kernel vs twin)."""
    from neurosim.networks.insitu import kernels as K

    arr = DeviceArray(measured, (20, 10), rng=4)
    arr.program(np.full(arr.shape, 0.5 * (measured.g_min_S + measured.g_max_S)), rng=1)
    n = np.random.default_rng(2).integers(-9, 10, arr.shape)
    key = np.random.default_rng(3).integers(2**63, dtype=np.uint64)  # the key apply_pulses draws from rng=3
    z = normals_from_counters_numpy(key, np.arange(n.size))
    P = (*arr.write_params[:6], arr.write_params[7])
    g = arr.state_buffer_S.copy()
    stats = np.zeros(K.ST_SIZE, dtype=np.int64)
    loss, loss_numpy = np.zeros(K.LS_SIZE), np.zeros(K.LS_SIZE)
    for d in range(g.size):
        if n.flat[d]:
            K._write(g, P, measured.c2c_sigma_frac, d, n.flat[d], z[d], stats, loss)
    g_numpy = arr.state_buffer_S.copy()
    K._write_numpy(g_numpy, P, measured.c2c_sigma_frac, np.arange(g.size), n.ravel(), key, 0, 0, stats, loss_numpy)
    arr.apply_pulses(n, rng=3)
    np.testing.assert_array_equal(g, arr.state_buffer_S)
    np.testing.assert_allclose(g_numpy, g, rtol=0, atol=8 * EPS * measured.g_max_S)


def test_insitu_command_trains_with_a_measured_card(tmp_path, measured):
    """`neurosim insitu --device card.toml` trains on the digits set with a measured-curve card and learns."""
    import json

    from neurosim.cli import main

    card = write_card(measured, tmp_path / "m.toml")
    out = tmp_path / "run"
    code = main(["insitu", "--dataset", "digits", "--device", str(card), "--epochs", "2", "--images-per-epoch", "1500",
                 "--out", str(out), "--seed", "0"])  # fmt: skip
    assert code == 0
    result = json.loads((out / "run.json").read_text())
    assert result["device"] == measured.name
    assert result["final_accuracy"] > 0.5  # ten classes: chance is 0.1


def test_measured_field_type_is_checked(sige):
    with pytest.raises(NeurosimError, match="measured"):
        replace(sige, measured={"x": [0, 1]})


@pytest.mark.parametrize("twin", [False, True])
def test_stdp_writes_follow_the_table(measured, twin):
    """A plastic synapse on a measured-curve card is written through the same table as ``apply_pulses``."""
    from neurosim.networks.stdp import DiehlCookParams, PlasticNetwork, STDPRule
    from neurosim.networks.stdp import kernels as K

    card = replace(measured, c2c_sigma_frac=0.0)
    rule = STDPRule(tau_post2_s=None, nu_pre=0.0, nu_post=3.0 / card.levels_ltp)  # 3 pulses on a pre-post pair
    net = PlasticNetwork(1, 1, params=DiehlCookParams(w_ie=0.0, w_ei=0.0), rule=rule, device=card, weights=[[0.0]], seed=0)
    ref = DeviceArray.from_state_arrays(card, {k[7:]: v for k, v in net.state_arrays().items() if k.startswith("device_")})
    analytic = DeviceArray.from_state_arrays(replace(card, measured=None), ref.state_arrays())
    net.sf[K.S_VE, 0] = 0.0
    net.backend = "numpy" if twin else net.backend
    net.run_steps(np.ones(1), 1)
    ref.apply_pulses(np.array([[3]]))
    analytic.apply_pulses(np.array([[3]]))
    assert net.events.pulses_ltp == 3
    assert net.W[0] == ref.conductance_S[0, 0] != analytic.conductance_S[0, 0]
