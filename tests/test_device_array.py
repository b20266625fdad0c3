"""Device arrays: writes, noise statistics, variation, faults, programming, persistence."""

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from conftest import std_tolerance
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.device import DeviceArray, DeviceModel, Drift, ProgNoise, ProgramMethod, ReadNoise, curve, load_device
from neurosim.device.kernels import ANALYTIC_TABLE, pulse_update_numba, pulse_update_numpy, pulse_write, pulse_write_numpy
from neurosim.device.noise import pcm_drift_nu_stats, pcm_prog_sigma_S, rram_prog_sigma_S
from neurosim.errors import NeurosimError
from neurosim.streams import normals_from_counters_numpy

N = 40_000


def _kernel_inputs(rng, n=5000, max_pulses=70, accelerating=0.0):
    """Random arguments of the write kernels: curved and linear devices, every train length up to max_pulses.

    ``accelerating``: the fraction of curved directions with a negative constant (decay per pulse > 1,
    e.g. depression of a positive LTD label)."""
    g_lo = rng.uniform(1e-7, 1e-6, n)
    g_hi = g_lo + rng.uniform(1e-6, 1e-5, n)
    g = rng.uniform(g_lo, g_hi)
    linear = rng.random(n) < 0.2
    a_p = np.where(linear, np.inf, rng.uniform(5, 200, n))
    a_d = np.where(linear, np.inf, rng.uniform(5, 200, n))
    if accelerating:
        a_p = np.where(rng.random(n) < accelerating, -a_p, a_p)
        a_d = np.where(rng.random(n) < accelerating, -a_d, a_d)
    decay_p, decay_d = np.exp(-1 / a_p), np.exp(-1 / a_d)
    w = g_hi - g_lo
    with np.errstate(divide="ignore", invalid="ignore"):
        move_p = np.where(linear, w / 64, g_lo + w / -np.expm1(-64 / a_p))
        move_d = np.where(linear, -w / 64, g_hi - w / -np.expm1(-64 / a_d))
    pulses = rng.integers(-max_pulses, max_pulses + 1, n) * (rng.random(n) < 0.7)
    return g, pulses, g_lo, g_hi, decay_p, move_p, decay_d, move_d, 0.02, ANALYTIC_TABLE, np.uint64(rng.integers(2**63))


def _kernel_atol(args):
    """Tolerance between kernel and twin: the kernel forms d^m from repeated squares (Numba's ``**`` for
    long trains does too), at most 2 x 7 products for m < 128, the twin by pow; a few more roundings in the
    update G_inf - (G_inf - G) d^m. In units of the largest |G_inf|."""
    return 16 * np.finfo(float).eps * max(np.abs(args[5]).max(), np.abs(args[7]).max())


@pytest.mark.parametrize("max_pulses", [3, 15, 70])
def test_numba_kernel_matches_numpy_twin(rng, max_pulses):
    args = _kernel_inputs(rng, max_pulses=max_pulses)
    g0 = args[0]
    a = pulse_update_numpy(g0.copy(), *args[1:])
    b = pulse_update_numba(g0.copy(), *args[1:])
    np.testing.assert_allclose(b, a, rtol=0, atol=_kernel_atol(args))
    assert np.all((a >= args[2]) & (a <= args[3]))
    idle = args[1] == 0
    np.testing.assert_array_equal(b[idle], g0[idle])  # not written: not moved, no noise
    assert np.all(b[~idle] != g0[~idle])


@pytest.mark.parametrize("max_pulses", [3, 15, 300])
def test_kernel_twins_agree_with_accelerating_curves(rng, max_pulses):
    """Negative curve constants (decay > 1): short trains (repeated squares) and long ones (pow) stay in the window."""
    args = _kernel_inputs(rng, max_pulses=max_pulses, accelerating=0.5)
    assert np.any(args[6] > 1) and np.any(args[4] > 1)
    a = pulse_update_numpy(args[0].copy(), *args[1:])
    b = pulse_update_numba(args[0].copy(), *args[1:])
    np.testing.assert_allclose(b, a, rtol=0, atol=_kernel_atol(args))
    assert np.all(np.isfinite(a)) and np.all((a >= args[2]) & (a <= args[3]))


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_positive_ltd_label_walks_back_down_the_curve(backend):
    """gst_pcm-like depression (NL_LTD = +2.4, a = 0.499181 from the check points), by hand:
    P axis from G_min, A = 0.499181 x 10 pulses, G(P) = G_min + B (1 - exp(-P/A)); depression from G_max
    (P = 10) by n pulses lands on G(10 - n); 20 and 10**6 pulses end at G_min (no overflow, no NaN)."""
    dev = DeviceModel(name="pos_ltd", g_min_S=1e-6, g_max_S=11e-6, levels_ltp=10, levels_ltd=10, nl_ltp=1.0, nl_ltd=2.4)
    A = 0.499181 * 10
    B = 10e-6 / (1 - np.exp(-10 / A))
    by_hand = lambda p: 1e-6 + B * (1 - np.exp(-p / A))  # noqa: E731
    trains = np.array([-1, -2, -3, -9, -20, -(10**6)])
    arr = DeviceArray(dev, (trains.size,), rng=0)
    arr.apply_pulses(np.full(trains.size, 30), backend=backend)  # to G_max
    np.testing.assert_array_equal(arr.conductance_S, dev.g_max_S)
    assert arr.write_params[4][0] == pytest.approx(np.exp(1 / A), rel=1e-5)  # decay per depression pulse > 1
    arr.apply_pulses(trains, backend=backend)
    expected = [by_hand(max(10 + n, 0)) for n in trains]
    np.testing.assert_allclose(arr.conductance_S, expected, rtol=2e-6)
    steps = -np.diff(by_hand(np.arange(10, -1, -1)))
    assert steps[0] < steps[-1]  # small steps first near G_max


@pytest.mark.parametrize("max_pulses", [15, 300])
def test_one_device_write_is_the_array_write(rng, max_pulses):
    """pulse_write (the per-device write fused loops call) gives the array kernel's results bit for bit."""
    args = _kernel_inputs(rng, max_pulses=max_pulses)
    g, n, params, key = args[0], args[1], args[2:10], args[10]
    expected = pulse_update_numba(g.copy(), n, *params, key)
    z = normals_from_counters_numpy(key, np.arange(g.size))
    one = np.array([pulse_write(g[i], n[i], *(p[i] for p in params[:6]), params[6], params[7], z[i]) for i in range(g.size)])
    np.testing.assert_array_equal(one, expected)
    np.testing.assert_allclose(pulse_write_numpy(g, n, *params, z), expected, rtol=0, atol=_kernel_atol(args))


def test_program_writes_the_state_buffer_in_place(sige):
    """state_buffer_S stays the array's state through every programming method and write."""
    arr = DeviceArray(sige, (6, 5), 0)
    buf = arr.state_buffer_S
    target = np.full(arr.shape, 5e-6)
    for method in ProgramMethod:
        arr.program(target, method, rng=1)
        assert np.shares_memory(buf, arr.conductance_S)
        np.testing.assert_array_equal(buf, arr.conductance_S.ravel())
    arr.apply_pulses(np.full(arr.shape, 3), rng=2)
    np.testing.assert_array_equal(buf, arr.conductance_S.ravel())
    assert all(not p.flags.writeable for p in arr.write_params[:6])


@pytest.mark.parametrize("size", [1, 2, 7, 1023, 1024, 1025, 3001])
def test_kernel_noise_is_draw_i_for_device_i(rng, size):
    # block edges, odd lengths; the noise of device i is draw i of the key's stream, written or not
    key = np.uint64(rng.integers(2**63))
    pulses = rng.integers(-1, 2, size)
    ones, zeros = np.ones(size), np.zeros(size)
    args = (pulses, zeros, ones, ones, zeros, ones, zeros, 1e-3, ANALYTIC_TABLE, key)  # linear devices, no step: the noise alone
    out = pulse_update_numba(np.full(size, 0.5), *args)
    z = normals_from_counters_numpy(key, np.arange(size))
    np.testing.assert_array_equal(out, np.where(pulses != 0, 0.5 + 1e-3 * z, 0.5))
    np.testing.assert_array_equal(out, pulse_update_numpy(np.full(size, 0.5), *args))


def test_kernel_without_noise_draws_nothing(rng):
    args = list(_kernel_inputs(rng, 2000))
    args[8] = 0.0
    a = pulse_update_numba(args[0].copy(), *args[1:])
    args[10] = np.uint64(99)
    b = pulse_update_numba(args[0].copy(), *args[1:])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, pulse_update_numpy(args[0].copy(), *args[1:]), rtol=0, atol=_kernel_atol(args))


def test_kernel_accepts_narrow_integer_counts(rng):
    args = _kernel_inputs(rng, 3000, max_pulses=20)
    args[1][:3] = [-128, 127, -127]
    a = pulse_update_numba(args[0].copy(), *args[1:])
    for narrow in (pulse_update_numba(args[0].copy(), args[1].astype(np.int8), *args[2:]),
                   pulse_update_numpy(args[0].copy(), args[1].astype(np.int8), *args[2:])):
        np.testing.assert_allclose(narrow, a, rtol=0, atol=_kernel_atol(args))


def test_kernels_run_without_jit():
    code = (
        "import numpy as np, test_device_array as t;"
        "args = t._kernel_inputs(np.random.default_rng(1), 300);"
        "a = t.pulse_update_numpy(args[0].copy(), *args[1:]);"
        "b = t.pulse_update_numba(args[0].copy(), *args[1:]);"
        "assert not hasattr(t.pulse_update_numba, 'signatures');"
        "np.testing.assert_allclose(a, b, rtol=0, atol=t._kernel_atol(args))"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=os.path.dirname(__file__))


def test_noiseless_writes_follow_the_curve(sige):
    clean = replace(sige, c2c_sigma_frac=0.0)
    arr = DeviceArray(clean, (7,), rng=0)
    start = np.array([0, 3, 10, 20, 40, 64, 30])
    arr.apply_pulses(start)
    np.testing.assert_allclose(arr.conductance_S, clean.potentiation_curve()[start], rtol=1e-12)
    arr.apply_pulses(np.array([5, -3, 60, -20, 1, 0, -5]))
    expected_p = np.clip(np.array([5, 0, 70, 0, 41, 64, 30]), 0, 64)
    g = arr.conductance_S
    np.testing.assert_allclose(g[[0, 2, 4, 5]], clean.potentiation_curve()[expected_p[[0, 2, 4, 5]]], rtol=1e-12)
    # depression moves along the mirrored curve: 20 down from the 20-pulse state
    q = curve.depression_pulses(clean.potentiation_curve()[20], clean.g_min_S, clean.g_max_S, clean.a_ltd, 64)
    assert g[3] == pytest.approx(curve.depression_conductance(q + 20, clean.g_min_S, clean.g_max_S, clean.a_ltd, 64))
    arr64 = DeviceArray(clean, (1,), rng=0)
    for _ in range(64):
        arr64.apply_pulses(np.array([1]))
    assert arr64.conductance_S[0] == pytest.approx(clean.g_max_S, rel=1e-3)


def test_numba_and_numpy_backends_agree(sige):
    a, b = DeviceArray(sige, (50, 40), rng=3), DeviceArray(sige, (50, 40), rng=3)
    pulses = np.random.default_rng(4).integers(-10, 11, (50, 40))
    a.apply_pulses(pulses, rng=5, backend="numba")
    b.apply_pulses(pulses, rng=5, backend="numpy")
    atol = _kernel_atol((None,) * 2 + a._kernel_params)
    np.testing.assert_allclose(a.conductance_S, b.conductance_S, rtol=0, atol=atol)


def test_write_noise_is_reproducible_and_per_device(sige):
    pulses = np.random.default_rng(4).integers(-3, 4, (30, 40))
    arrays = [DeviceArray(sige, (30, 40), rng=3) for _ in range(4)]
    for arr in arrays:
        arr.program(np.full((30, 40), 0.5 * (sige.g_min_S + sige.g_max_S)), ProgramMethod.DIRECT)
    for arr, seed in zip(arrays, (5, 5, 6)):
        arr.apply_pulses(pulses, rng=seed)
    np.testing.assert_array_equal(arrays[0].conductance_S, arrays[1].conductance_S)
    assert np.all((arrays[0].conductance_S != arrays[2].conductance_S)[pulses != 0])
    # a device's noise depends on the key and its index only, not on which other devices are written
    subset = np.where(np.arange(pulses.size).reshape(pulses.shape) % 3 == 0, pulses, 0)
    arrays[3].apply_pulses(subset, rng=5)
    written = subset != 0
    np.testing.assert_array_equal(arrays[3].conductance_S[written], arrays[0].conductance_S[written])


@pytest.mark.parametrize("n_pulses", [1, 4, -9])
def test_cycle_to_cycle_noise_statistics(sige, n_pulses):
    clean = replace(sige, c2c_sigma_frac=0.0)
    mid = np.full(N, 0.5 * (sige.g_min_S + sige.g_max_S))
    noisy, ref = DeviceArray(sige, (N,), rng=1), DeviceArray(clean, (N,), rng=1)
    for arr in (noisy, ref):
        arr.program(mid, ProgramMethod.DIRECT)
    pulses = np.full(N, n_pulses)
    noisy.apply_pulses(pulses, rng=2)
    ref.apply_pulses(pulses)
    dev = noisy.conductance_S - ref.conductance_S
    sigma = sige.c2c_sigma_frac * sige.window_S * np.sqrt(abs(n_pulses))
    assert np.std(dev, ddof=1) == pytest.approx(sigma, rel=std_tolerance(N))
    assert abs(np.mean(dev)) < 5 * sigma / np.sqrt(N)


def test_read_noise_statistics_and_fresh_draws(sige):
    dev = replace(sige, read_noise_frac=0.05)
    arr = DeviceArray(dev, (N,), rng=0)
    target = np.full(N, 6e-6)
    arr.program(target, ProgramMethod.DIRECT)
    g = arr.conductance_S.copy()
    r1, r2 = arr.read(rng=1), arr.read(rng=2)
    sigma = 0.05 * g[0]
    assert np.std(r1 - g, ddof=1) == pytest.approx(sigma, rel=std_tolerance(N))
    assert abs(np.mean(r1 - g)) < 5 * sigma / np.sqrt(N)
    assert np.corrcoef(r1 - g, r2 - g)[0, 1] == pytest.approx(0, abs=5 / np.sqrt(N))
    np.testing.assert_array_equal(arr.conductance_S, g)  # reading does not disturb


def test_state_independent_read_noise(sige):
    dev = replace(sige, read_noise_frac=0.05, read_noise=ReadNoise.CONSTANT)
    arr = DeviceArray(dev, (2, N // 2), rng=0)
    arr.program(np.stack([np.full(N // 2, 1e-6), np.full(N // 2, 11e-6)]), ProgramMethod.DIRECT)
    noise = arr.read(rng=1) - arr.conductance_S
    for row in noise:  # a low and a high state: the same sigma, 5 % of G_max
        assert np.std(row, ddof=1) == pytest.approx(0.05 * sige.g_max_S, rel=std_tolerance(N // 2))


@pytest.mark.parametrize(
    "card, changes, target, sigma",
    [
        ("ideal", dict(prog_noise=ProgNoise.CONSTANT, prog_noise_frac=0.03), 5e-6, 0.03 * 10e-6),
        ("ideal", dict(prog_noise=ProgNoise.PROPORTIONAL, prog_noise_frac=0.05), 4e-6, 0.05 * 4e-6),
        ("pcm_nandakumar", {}, 12.5e-6, float(pcm_prog_sigma_S(12.5e-6, 25e-6))),
        ("rram_milo", {}, 100e-6, float(rram_prog_sigma_S(100e-6))),
    ],
)
def test_programming_noise_statistics(card, changes, target, sigma):
    dev = replace(load_device(card), **changes)
    arr = DeviceArray(dev, (N,), rng=0)
    arr.program(np.full(N, target), ProgramMethod.DIRECT, rng=1)
    err = arr.conductance_S - target
    assert np.std(err, ddof=1) == pytest.approx(sigma, rel=std_tolerance(N))
    assert abs(np.mean(err)) < 5 * sigma / np.sqrt(N)


def test_published_noise_formulas():
    # Nandakumar at x = 1 with g_max = 25 uS: 0.26348 + 1.9650 - 1.1731 uS
    assert pcm_prog_sigma_S(25e-6, 25e-6) == pytest.approx((0.26348 + 1.9650 - 1.1731) * 1e-6)
    assert rram_prog_sigma_S(50e-6) == pytest.approx((4.782321 - 0.009107 * 50) * 1e-6)
    assert rram_prog_sigma_S(600e-6) == 0.0
    mean, std = pcm_drift_nu_stats(np.array([1.0, 1e-3]))
    np.testing.assert_allclose(mean, [0.049, 0.1])
    np.testing.assert_allclose(std, [0.008, np.clip(-0.0125 * np.log(1e-3) - 0.0059, 0.008, 0.045)])


def test_pcm_drift_follows_power_law():
    dev = load_device("pcm_nandakumar")
    arr = DeviceArray(dev, (N,), rng=0)
    x = 0.02
    arr.program(np.full(N, x * dev.g_max_S), ProgramMethod.DIRECT, rng=1)
    g0 = arr.conductance_S.copy()
    mean, std = pcm_drift_nu_stats(arr.conductance_S / dev.g_max_S)
    assert np.mean(arr.nu) == pytest.approx(np.mean(mean), abs=5 * np.mean(std) / np.sqrt(N))
    t = 3600.0
    np.testing.assert_allclose(arr.conductance_at(t), g0 * ((t + 20) / 20) ** -arr.nu, rtol=1e-12)
    assert np.all(arr.conductance_at(t) <= g0)
    np.testing.assert_array_equal(arr.conductance_at(0.0), g0)
    power = replace(load_device("ideal"), drift=Drift.POWER_LAW, drift_nu=0.05, drift_nu_sigma=0.0)
    parr = DeviceArray(power, (3,), rng=0)
    parr.program(np.full(3, 5e-6))
    np.testing.assert_allclose(parr.read(t_s=20.0), 5e-6 * 2**-0.05)


def test_device_to_device_variation_is_frozen_per_device(sige):
    dev = replace(sige, d2d_g_sigma_frac=0.1, d2d_nl_sigma_frac=0.2)
    arr = DeviceArray(dev, (N,), rng=0)
    assert np.std(np.log(arr.g_hi_S), ddof=1) == pytest.approx(0.1, rel=std_tolerance(N))
    nl = np.array([abs(curve.max_distance_above_diagonal(a / 64)) / 0.0989949 for a in arr.a_ltp[:2000]])
    assert np.std(nl, ddof=1) == pytest.approx(0.2 * 0.5, rel=std_tolerance(2000))
    assert np.all(arr.a_ltp > 0) and np.all(arr.a_ltd > 0)  # labels +0.5 / -0.5: the spread keeps their signs
    flipped = DeviceArray(replace(sige, nl_ltd=0.5, d2d_nl_sigma_frac=0.2), (2000,), rng=0)
    assert np.all(flipped.a_ltd < 0)  # a positive LTD label stays positive on every device
    saved = {k: v.copy() for k, v in arr.state_arrays().items() if k not in ("g_S", "nu")}
    arr.apply_pulses(np.full(N, 20), rng=1)
    arr.program(np.full(N, 5e-6), ProgramMethod.WRITE_VERIFY, rng=2, max_iterations=3)
    for key, value in saved.items():
        np.testing.assert_array_equal(arr.state_arrays()[key], value)
    other = DeviceArray(dev, (N,), rng=1)
    assert not np.allclose(other.g_hi_S, arr.g_hi_S)


def test_stuck_devices_stay_at_their_rails(sige):
    dev = replace(sige, stuck_off_frac=0.05, stuck_on_frac=0.02)
    arr = DeviceArray(dev, (N,), rng=0)
    for frac, mask in ((0.05, arr.stuck_off), (0.02, arr.stuck_on)):
        assert mask.mean() == pytest.approx(frac, abs=5 * np.sqrt(frac * (1 - frac) / N))
    assert not np.any(arr.stuck_off & arr.stuck_on)
    for method in ProgramMethod:
        arr.program(np.full(N, 6e-6), method, rng=1, max_iterations=2)
        np.testing.assert_array_equal(arr.conductance_S[arr.stuck_off], arr.g_lo_S[arr.stuck_off])
        np.testing.assert_array_equal(arr.conductance_S[arr.stuck_on], arr.g_hi_S[arr.stuck_on])
    arr.apply_pulses(np.full(N, -30), rng=2)
    np.testing.assert_array_equal(arr.conductance_S[arr.stuck_on], arr.g_hi_S[arr.stuck_on])
    for pulses in (np.full(N, 1), np.full(N, -1), np.full(N, 40)):  # cycle-to-cycle noise does not move them either
        arr.apply_pulses(pulses, rng=3)
        np.testing.assert_array_equal(arr.conductance_S[arr.stuck_off], arr.g_lo_S[arr.stuck_off])
        np.testing.assert_array_equal(arr.conductance_S[arr.stuck_on], arr.g_hi_S[arr.stuck_on])
    moved = ~arr.stuck & (arr.conductance_S > arr.g_lo_S) & (arr.conductance_S < arr.g_hi_S)
    assert moved.mean() > 0.5


def test_direct_programming_snaps_to_levels(sige):
    clean = replace(sige, c2c_sigma_frac=0.0)
    arr = DeviceArray(clean, (500,), rng=0)
    target = np.random.default_rng(1).uniform(0, 13e-6, 500)
    arr.program(target, ProgramMethod.DIRECT)
    levels = clean.potentiation_curve()
    nearest = levels[np.argmin(np.abs(np.clip(target, clean.g_min_S, clean.g_max_S)[:, None] - levels), axis=1)]
    np.testing.assert_allclose(arr.conductance_S, nearest, rtol=1e-12)
    cont = DeviceArray(replace(clean, snap_to_levels=False), (500,), rng=0)
    cont.program(target, ProgramMethod.DIRECT)
    np.testing.assert_allclose(cont.conductance_S, np.clip(target, clean.g_min_S, clean.g_max_S))


def test_open_loop_uses_the_curve(sige):
    clean = replace(sige, c2c_sigma_frac=0.0)
    arr = DeviceArray(clean, (65,), rng=0)
    levels = clean.potentiation_curve()
    result = arr.program(levels, ProgramMethod.OPEN_LOOP)
    np.testing.assert_array_equal(result.pulses, np.arange(65))
    np.testing.assert_allclose(arr.conductance_S, levels, rtol=1e-12)
    assert result.converged.all()


def test_write_verify_converges_or_reports_failure(sige):
    n = 5000
    arr = DeviceArray(replace(sige, read_noise_frac=0.002), (n,), rng=0)
    target = np.random.default_rng(1).uniform(1e-6, 11e-6, n)
    result = arr.program(target, ProgramMethod.WRITE_VERIFY, rng=2, tol_frac=0.02, max_iterations=60)
    assert result.fraction_converged > 0.97
    tol = 0.02 * sige.window_S
    ok = result.converged
    # the verify read was within tolerance; the true state is within tolerance plus read noise
    assert np.all(np.abs(result.error_S[ok]) < tol + 6 * 0.002 * 12.5e-6)
    assert np.all(result.pulses[ok] >= 1)
    unreachable = DeviceArray(sige, (50,), rng=0)
    res = unreachable.program(np.full(50, 2 * sige.g_max_S), ProgramMethod.WRITE_VERIFY, rng=1, max_pulses=100)
    assert not res.converged.any()
    assert np.all(res.pulses <= 100)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-200, 200), min_size=1, max_size=30), st.integers(0, 2**31))
def test_any_pulse_sequence_stays_in_the_window(sequence, seed):
    dev = replace(load_device("ag_asi"), c2c_sigma_frac=0.2, d2d_g_sigma_frac=0.2, d2d_nl_sigma_frac=0.3)
    arr = DeviceArray(dev, (64,), rng=seed)
    rng = np.random.default_rng(seed)
    for n in sequence:
        arr.apply_pulses(rng.integers(-abs(n), abs(n) + 1, 64), rng)
        assert np.all(arr.conductance_S >= arr.g_lo_S) and np.all(arr.conductance_S <= arr.g_hi_S)


def test_state_round_trip(tmp_path, sige):
    arr = DeviceArray(replace(sige, stuck_off_frac=0.1, d2d_g_sigma_frac=0.05), (20, 30), rng=0)
    arr.apply_pulses(np.random.default_rng(1).integers(0, 64, (20, 30)), rng=2)
    np.savez(tmp_path / "state.npz", **arr.state_arrays())
    with np.load(tmp_path / "state.npz", allow_pickle=False) as saved:
        back = DeviceArray.from_state_arrays(sige, saved)
    np.testing.assert_array_equal(back.conductance_S, arr.conductance_S)
    pulses = np.full((20, 30), 3)
    arr.apply_pulses(pulses, rng=7)
    back.apply_pulses(pulses, rng=7)
    np.testing.assert_array_equal(back.conductance_S, arr.conductance_S)
    fortran = {k: np.asfortranarray(v) for k, v in arr.state_arrays().items()}  # e.g. transposed by a user
    again = DeviceArray.from_state_arrays(sige, fortran)
    again.apply_pulses(pulses, rng=8)  # writes land in the array's own state
    arr.apply_pulses(pulses, rng=8)
    np.testing.assert_array_equal(again.conductance_S, arr.conductance_S)
    assert not np.array_equal(fortran["g_S"], arr.state_arrays()["g_S"])  # the caller's arrays are not written
    with pytest.raises(NeurosimError, match="missing"):
        DeviceArray.from_state_arrays(sige, {"g_S": np.zeros(3)})


def test_bad_input_is_rejected(sige):
    arr = DeviceArray(sige, (4, 5), rng=0)
    with pytest.raises(NeurosimError, match="shape"):
        arr.apply_pulses(np.zeros((5, 4), int))
    with pytest.raises(NeurosimError, match="integers"):
        arr.apply_pulses(np.zeros((4, 5)))
    with pytest.raises(NeurosimError, match="finite"):
        arr.program(np.full((4, 5), np.nan))
    with pytest.raises(NeurosimError, match="backend"):
        arr.apply_pulses(np.zeros((4, 5), int), backend="cuda")
    with pytest.raises(NeurosimError, match="non-negative"):
        DeviceArray(sige, (-1, 3))
    with pytest.raises(NeurosimError, match="rng"):
        arr.read(rng="seed")


def test_write_tally_kernel_matches_its_twin():
    """Pulses by direction, writes and mean-conductance sums of one write: the jitted tally and its twin."""
    from neurosim.device.kernels import write_tally_numba, write_tally_numpy

    rng = np.random.default_rng(3)
    pulses = rng.integers(-4, 5, 5000) * (rng.random(5000) < 0.3)
    before, after = rng.random(5000) * 1e-5, rng.random(5000) * 1e-5
    a, b = write_tally_numba(pulses, before, after), write_tally_numpy(pulses, before, after)
    assert a[:3] == b[:3] == (pulses[pulses > 0].sum(), -pulses[pulses < 0].sum(), np.count_nonzero(pulses))
    np.testing.assert_allclose(a[3:], b[3:], rtol=1e-12)
    assert a[3] > 0 and a[4] > 0
