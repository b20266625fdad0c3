"""Crossbar layers: mapping, tiles, converters, noise, faults, drift, pulses, persistence, bad input.

Each non-ideality is switched on alone and checked against its analytic
expectation; noise statistics use tolerances computed from the sample size.
"""

import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
from conftest import std_tolerance

from neurosim.crossbar import CrossbarConfig, CrossbarLayer, DacMode, Mapping, WeightScale, WireConfig
from neurosim.crossbar import layer as layer_module
from neurosim.device import ProgNoise, ProgramMethod, ReadNoise, load_device
from neurosim.device.noise import drift_factor
from neurosim.errors import NeurosimError

MAPPINGS = list(Mapping)


@pytest.fixture
def ideal():
    return load_device("ideal")


def _layer(W, device, rng=0, **config):
    return CrossbarLayer(W, device, CrossbarConfig(**config), rng=rng)


# -- the ideal array ---------------------------------------------------------------------------
@pytest.mark.parametrize("mapping", MAPPINGS)
def test_ideal_arrays_reproduce_the_matrix_product(ideal, mapping):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((23, 37))
    layer = _layer(W, ideal, rows=16, cols=8, mapping=mapping)
    assert len(layer.tiles) == 3 and len(layer.tiles[0]) == math.ceil(
        23 / CrossbarConfig(cols=8, mapping=mapping).weight_cols
    )
    x = rng.uniform(-1, 1, (11, 37))
    d = rng.standard_normal((11, 23))
    np.testing.assert_allclose(layer.forward(x), x @ W.T, rtol=0, atol=1e-12 * np.abs(x @ W.T).max())
    np.testing.assert_allclose(layer.backward(d), d @ W, rtol=0, atol=1e-12 * np.abs(d @ W).max())
    np.testing.assert_allclose(layer.forward(x[3]), x[3] @ W.T, atol=1e-12 * np.abs(x @ W.T).max())
    y32 = layer.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, x @ W.T, atol=1e-5 * np.abs(x @ W.T).max())


@pytest.mark.parametrize("mapping", MAPPINGS)
def test_weights_round_trip_through_conductances(ideal, mapping):
    W = np.random.default_rng(1).standard_normal((9, 14))
    layer = _layer(W, ideal, rows=4, cols=5, mapping=mapping)
    np.testing.assert_allclose(layer.effective_weights(), W, rtol=0, atol=1e-14 * np.abs(W).max())
    g_pos, g_neg = layer.conductances_S()
    assert np.all((g_pos >= ideal.g_min_S) & (g_pos <= ideal.g_max_S))
    assert layer.weight_max == np.abs(W).max() and layer.clipped_weights == 0
    if mapping is Mapping.DIFFERENTIAL:
        assert np.all((g_pos == ideal.g_min_S) | (g_neg == ideal.g_min_S))
        assert g_pos.max() == pytest.approx(ideal.g_max_S) or g_neg.max() == pytest.approx(ideal.g_max_S)
    else:
        np.testing.assert_allclose(g_neg, 0.5 * (ideal.g_min_S + ideal.g_max_S))
    by_name = CrossbarLayer(W, "ideal", CrossbarConfig(rows=4, cols=5, mapping=mapping), rng=0)
    np.testing.assert_array_equal(by_name.effective_weights(), layer.effective_weights())


def test_weight_scale_by_percentile_clips_and_counts(ideal):
    W = np.random.default_rng(2).standard_normal((30, 40))
    layer = _layer(W, ideal, weight_scale=WeightScale.PERCENTILE, scale_percentile=95.0)
    w_max = np.percentile(np.abs(W), 95.0)
    assert layer.weight_max == pytest.approx(w_max)
    assert layer.clipped_weights == np.count_nonzero(np.abs(W) > w_max)
    np.testing.assert_allclose(layer.effective_weights(), np.clip(W, -w_max, w_max), atol=1e-14 * w_max)
    fixed = _layer(W, ideal, weight_scale=WeightScale.FIXED, weight_max=10.0)
    assert fixed.weight_max == 10.0 and fixed.clipped_weights == 0


# -- converters --------------------------------------------------------------------------------
def test_dac_quantisation_error_is_within_half_a_step(ideal):
    rng = np.random.default_rng(3)
    W = rng.standard_normal((6, 50))
    bits, full_scale = 4, 2.0
    layer = _layer(W, ideal, dac_bits=bits, input_full_scale=full_scale, rows=16)
    x = rng.uniform(-2.5, 2.5, (40, 50))
    step = full_scale / (2**bits - 1)
    applied = np.sign(x) * np.floor(np.minimum(np.abs(x), full_scale) / step + 0.5) * step
    assert np.all(np.abs(applied - np.clip(x, -full_scale, full_scale)) <= step / 2 + 1e-12)
    np.testing.assert_allclose(layer.forward(x), applied @ W.T, atol=1e-12)
    assert layer.clip_counts.dac_clipped == np.count_nonzero(np.abs(x) > full_scale)
    assert layer.clip_counts.dac_inputs == x.size
    bound = np.abs(W).sum(axis=1) * step / 2  # inputs within full scale: error <= sum |w| * step / 2
    inside = np.abs(x).max(axis=1) <= full_scale
    assert np.all(np.abs(layer.forward(x[inside]) - x[inside] @ W.T) <= bound + 1e-12)


def test_adc_quantisation_error_and_clip_counts(ideal):
    rng = np.random.default_rng(4)
    W = rng.uniform(-1, 1, (5, 24))
    bits, adc_range = 5, 1.5
    layer = _layer(W, ideal, rows=8, adc_bits=bits, adc_range=adc_range)
    x = rng.uniform(0, 1, (200, 24))
    step = adc_range / (2 ** (bits - 1) - 1)
    partial = np.stack([x[:, r : r + 8] @ W[:, r : r + 8].T for r in range(0, 24, 8)])  # (tiles, batch, out)
    codes = np.floor(np.abs(partial) / step + 0.5)
    expected = (np.sign(partial) * np.minimum(codes, 2 ** (bits - 1) - 1) * step).sum(axis=0)
    y = layer.forward(x)
    np.testing.assert_allclose(y, expected, atol=1e-12)
    assert layer.clip_counts.adc_clipped == np.count_nonzero(codes > 2 ** (bits - 1) - 1) > 0
    assert layer.clip_counts.adc_conversions == partial.size
    unclipped = np.all(codes <= 2 ** (bits - 1) - 1, axis=0)
    assert np.all(np.abs(y - x @ W.T)[unclipped] <= 3 * step / 2 + 1e-12)  # half a step per tile
    layer.reset_clip_counts()
    assert layer.clip_counts.adc_clipped == 0 == layer.clip_counts.adc_conversions


def test_adc_calibration_sets_the_range_from_sample_data(ideal):
    rng = np.random.default_rng(5)
    W = rng.standard_normal((10, 30))
    layer = _layer(W, ideal, rows=10, adc_bits=6)
    with pytest.raises(NeurosimError, match="calibrate_adc"):
        layer.forward(np.ones((1, 30)))
    x = rng.uniform(0, 1, (300, 30))
    partial = np.concatenate([np.abs(x[:, r : r + 10] @ W[:, r : r + 10].T).ravel() for r in (0, 10, 20)])
    ranges = layer.calibrate_adc(x)
    assert ranges["forward"] == pytest.approx(partial.max()) == layer.adc_range
    layer.forward(x)
    assert layer.clip_counts.adc_clipped == 0  # the sample itself never clips at percentile 100
    layer.calibrate_adc(x, percentile=90.0)
    layer.reset_clip_counts()
    layer.forward(x)
    fraction = layer.clip_counts.adc_fraction
    assert 0.05 < fraction <= 0.10  # about the 10 % beyond the 90th percentile, less the half step of grace


def test_bit_serial_inputs_shift_and_add(ideal):
    rng = np.random.default_rng(6)
    W = rng.standard_normal((7, 20))
    x = rng.uniform(-1, 1, (30, 20))
    levels = _layer(W, ideal, rows=8, dac_bits=5)
    serial = _layer(W, ideal, rows=8, dac_bits=5, dac_mode=DacMode.BIT_SERIAL)
    np.testing.assert_allclose(serial.forward(x), levels.forward(x), atol=1e-12)
    np.testing.assert_allclose(serial.backward(x[:, :7]), levels.backward(x[:, :7]), atol=1e-12)
    adc = _layer(W, ideal, rows=8, dac_bits=5, dac_mode=DacMode.BIT_SERIAL, adc_bits=6)
    adc.calibrate_adc(x)
    y = adc.forward(x)
    assert adc.clip_counts.adc_conversions == 5 * 3 * 7 * 30  # bits x tiles x outputs x vectors
    step = adc.adc_range / 31
    bound = 3 * step / 2 * sum(2.0**k for k in range(5)) / 31  # each plane's conversion within half a step
    assert np.all(np.abs(y - levels.forward(x)) <= bound + 1e-12)


# -- noise -------------------------------------------------------------------------------------
def _repeat(x, n):
    return np.repeat(x[None, :], n, axis=0)


@pytest.mark.parametrize("mapping", MAPPINGS)
def test_read_noise_variance_is_the_sum_of_the_device_variances(ideal, mapping):
    rng = np.random.default_rng(7)
    device = replace(ideal, read_noise_frac=0.05)
    W = rng.uniform(-1, 1, (4, 20))
    layer = _layer(W, device, rows=8, mapping=mapping)
    x = rng.uniform(0, 1, 20)
    n = 20_000
    y = layer.forward(_repeat(x, n), rng)
    g_pos, g_neg = layer.conductances_S()
    k = (device.g_max_S - device.g_min_S) / (layer.weight_max * (1 if mapping is Mapping.DIFFERENTIAL else 2))
    sigma2 = (0.05 * g_pos) ** 2 + (0.05 * g_neg) ** 2  # independent devices (the reference: one per row)
    expected = (x**2) @ sigma2.T / k**2
    np.testing.assert_allclose(y.var(axis=0, ddof=1), expected, rtol=std_tolerance(n) * 2)
    assert np.all(np.abs(y.mean(axis=0) - x @ W.T) < 5 * np.sqrt(expected / n))
    z = (y - y.mean(axis=0)) / y.std(axis=0)
    corr = (z.T @ z) / n
    if mapping is Mapping.DIFFERENTIAL:  # distinct devices: independent outputs
        assert np.all(np.abs(corr[np.triu_indices(4, 1)]) < 5 / np.sqrt(n))
    else:  # the shared reference column correlates the outputs of a read
        common = (x**2) @ (0.05 * g_neg[0]) ** 2 / k**2
        predicted = common / np.sqrt(np.outer(expected, expected))
        np.testing.assert_allclose(corr[np.triu_indices(4, 1)], predicted[np.triu_indices(4, 1)], atol=5 / np.sqrt(n))
    y2 = layer.forward(_repeat(x, n), rng)  # a fresh draw on every read
    assert abs(np.corrcoef(y[:, 0], y2[:, 0])[0, 1]) < 5 / np.sqrt(n)


@pytest.mark.parametrize("mapping", MAPPINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reads_that_skip_zero_inputs_equal_dense_reads(ideal, mapping, dtype, monkeypatch):
    """Mostly-zero inputs take the sparse kernel; forcing BLAS gives the same noisy read (same draws)."""
    from neurosim.crossbar import layer as layer_module

    rng = np.random.default_rng(17)
    device = replace(ideal, read_noise_frac=0.05)
    W = rng.uniform(-1, 1, (21, 70))
    layer = _layer(W, device, rows=32, mapping=mapping)
    x = (rng.uniform(0, 1, (50, 70)) * (rng.random((50, 70)) < 0.05)).astype(dtype)
    x[:, 64:] = 0.0  # a tile without any input
    assert np.count_nonzero(x) <= layer_module.SPARSE_DENSITY * x.size
    calls = []
    kernel = layer_module.kernels.sparse_products_numba
    monkeypatch.setattr(layer_module.kernels, "sparse_products_numba", lambda *a: calls.append(1) or kernel(*a))
    sparse = layer.forward(x, rng=5)
    assert len(calls) == len(layer.row_edges) * len(layer.col_edges)  # every tile took the sparse kernel
    monkeypatch.setattr(layer_module, "SPARSE_DENSITY", -1.0)
    dense = layer.forward(x, rng=5)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(sparse, dense, rtol=tol, atol=tol)
    assert sparse.dtype == dtype
    assert not np.array_equal(sparse, layer.forward(x, rng=6))  # still noisy


@pytest.mark.parametrize("mapping", MAPPINGS)
@pytest.mark.parametrize("density", [1.0, 0.05])
def test_state_independent_read_noise_needs_no_variance_product(ideal, mapping, density):
    """sigma = frac * G_max for every device: the variance is a row sum of squared inputs, equal to the product."""
    rng = np.random.default_rng(18)
    device = replace(ideal, read_noise_frac=0.05, read_noise=ReadNoise.CONSTANT)
    W = rng.uniform(-1, 1, (4, 20))
    layer = _layer(W, device, rows=8, mapping=mapping)
    assert all(t.read_matrices(0.0, False, np.float64).uniform_var is not None for t, _, _ in layer._tile_items())
    x = rng.uniform(0, 1, 20) * (rng.random(20) < density)
    x[0] = 0.5
    n = 20_000
    y = layer.forward(_repeat(x, n), rng)
    k = (device.g_max_S - device.g_min_S) / (layer.weight_max * (1 if mapping is Mapping.DIFFERENTIAL else 2))
    expected = 2 * (0.05 * device.g_max_S / k) ** 2 * np.sum(x**2)  # two devices per output: G+ and G-, or G and G_ref
    np.testing.assert_allclose(y.var(axis=0, ddof=1), expected, rtol=std_tolerance(n) * 2)
    fast = layer.forward(_repeat(x, 50), rng=3)
    for tile, _, _ in layer._tile_items():  # the same reads through the general variance product
        m = tile.read_matrices(0.0, False, np.float64)
        tile._cache[(0.0, False, np.dtype(np.float64))] = replace(m, uniform_var=None)
    np.testing.assert_allclose(layer.forward(_repeat(x, 50), rng=3), fast, rtol=1e-12, atol=1e-12)


def test_transposed_read_noise_with_a_reference_column(ideal):
    rng = np.random.default_rng(8)
    device = replace(ideal, read_noise_frac=0.05)
    W = rng.uniform(-1, 1, (6, 3))
    layer = _layer(W, device, mapping=Mapping.REFERENCE_COLUMN)
    d = rng.uniform(-1, 1, 6)
    n = 20_000
    e = layer.backward(_repeat(d, n), rng)
    g_pos, g_neg = layer.conductances_S()
    k = (device.g_max_S - device.g_min_S) / (2 * layer.weight_max)
    # device (j, i) is read at d_j; the reference of row i at -sum_j d_j
    expected = ((d**2) @ (0.05 * g_pos) ** 2 + d.sum() ** 2 * (0.05 * g_neg[0]) ** 2) / k**2
    np.testing.assert_allclose(e.var(axis=0, ddof=1), expected, rtol=std_tolerance(n) * 2)
    np.testing.assert_allclose(e.mean(axis=0), d @ W, atol=5 * np.sqrt(expected.max() / n))


def test_output_noise_adds_one_draw_per_conversion(ideal):
    W = np.random.default_rng(9).uniform(-1, 1, (3, 30))
    layer = _layer(W, ideal, rows=10, output_noise_frac=0.1, input_full_scale=2.0)
    n = 20_000
    y = layer.forward(np.zeros((n, 30)), rng=1)
    expected = 3 * (0.1 * layer.weight_max * 2.0) ** 2  # three tiles, one conversion each
    np.testing.assert_allclose(y.var(axis=0, ddof=1), expected, rtol=std_tolerance(n) * 2)


def test_reads_are_reproducible_from_the_seed(ideal):
    device = replace(ideal, read_noise_frac=0.05)
    W = np.random.default_rng(10).standard_normal((5, 9))
    layer = _layer(W, device, rows=4)
    x = np.random.default_rng(11).uniform(0, 1, (20, 9))
    np.testing.assert_array_equal(layer.forward(x, rng=3), layer.forward(x, rng=3))
    assert not np.array_equal(layer.forward(x, rng=3), layer.forward(x, rng=4))


def test_programming_noise_shows_in_the_effective_weights(ideal):
    device = replace(ideal, prog_noise=ProgNoise.CONSTANT, prog_noise_frac=0.02)
    W = np.random.default_rng(12).uniform(-0.5, 0.5, (64, 64))
    W[0, 0] = 1.0  # w_max = 1, so no device nears a rail
    layer = _layer(W, device, rows=32, cols=32, mapping=Mapping.REFERENCE_COLUMN, rng=13)
    k = device.g_max_S / 2  # siemens per weight unit
    error = (layer.effective_weights() - W).ravel()[1:]
    sigma = 0.02 * device.g_max_S / k * np.sqrt(2)  # weight device and reference device both miss
    assert abs(error.std() / sigma - 1) < std_tolerance(error.size) * 3  # references shared along rows


# -- faults, drift, programming methods -------------------------------------------------------
def test_stuck_devices_sit_at_their_rails(ideal):
    device = replace(ideal, stuck_off_frac=0.2, stuck_on_frac=0.1)
    W = np.random.default_rng(14).uniform(-1, 1, (40, 50))
    layer = _layer(W, device, rows=16, cols=16, rng=15)
    for row in layer.tiles:
        for tile in row:
            for devices in tile.arrays.values():
                g = devices.conductance_S
                np.testing.assert_array_equal(g[devices.stuck_off], device.g_min_S)
                np.testing.assert_array_equal(g[devices.stuck_on], device.g_max_S)
    fraction_on = np.mean([d.stuck_on.mean() for r in layer.tiles for t in r for d in t.arrays.values()])
    assert abs(fraction_on - 0.1) < 5 * np.sqrt(0.1 * 0.9 / (2 * 40 * 50))
    assert np.abs(layer.effective_weights() - W).max() > 0.1  # the faults cost accuracy
    before = layer.conductances_S()
    layer.apply_pulses(np.full(W.shape, 5), np.full(W.shape, 5))
    after = layer.conductances_S()
    for tile in (t for r in layer.tiles for t in r):
        assert np.all(tile.arrays["plus"].conductance_S[tile.arrays["plus"].stuck_on] == device.g_max_S)
    assert np.any(after[0] != before[0])


def test_drift_scales_the_conductances_read():
    device = load_device("pcm_nandakumar")
    W = np.random.default_rng(16).uniform(-1, 1, (6, 10))
    layer = _layer(W, device, rng=17)
    g0 = layer.conductances_S()
    layer.drift_to(1e4)
    tile = layer.tiles[0][0]
    factor = drift_factor(1e4, tile.arrays["plus"].nu, device.drift_t0_s)
    np.testing.assert_allclose(layer.conductances_S()[0], g0[0] * factor.T)  # tiles are (in, out)
    assert np.all(layer.conductances_S()[0] <= g0[0])
    x = np.random.default_rng(18).uniform(0, 1, (5, 10))
    np.testing.assert_allclose(layer.forward(x), x @ layer.effective_weights().T, atol=1e-12)
    with pytest.raises(NeurosimError, match="t_s"):
        layer.drift_to(-1.0)


def test_programming_methods_are_passed_to_the_devices(sige):
    W = np.random.default_rng(19).uniform(-1, 1, (8, 8))
    for method in ProgramMethod:
        layer = _layer(W, sige, rng=20, program_method=method, write_verify_tol_frac=0.03)
        results = layer.program_results
        assert len(results) == 2
        if method in (ProgramMethod.DIRECT, ProgramMethod.EXACT):
            assert all(r.pulses.sum() == 0 for r in results)
        else:
            assert all(r.pulses.sum() > 0 for r in results)
        if method is ProgramMethod.EXACT:  # the targets themselves, no snapping, no noise
            np.testing.assert_allclose(layer.effective_weights(), W, rtol=0, atol=1e-12)
        if method is ProgramMethod.WRITE_VERIFY:
            assert min(r.fraction_converged for r in results) > 0.8


# -- pulse updates ----------------------------------------------------------------------------
@pytest.mark.parametrize("mapping", MAPPINGS)
def test_pulses_move_weights_along_the_device_curve(ideal, mapping):
    rng = np.random.default_rng(21)
    W = rng.uniform(-0.5, 0.5, (5, 7))
    W[0, 0] = 1.0  # w_max = 1; that weight's device sits at a rail and is left out below
    layer = _layer(W, ideal, rows=4, cols=3, mapping=mapping)
    up, down = rng.integers(0, 21, W.shape), rng.integers(0, 21, W.shape)
    before, reference = layer.effective_weights(), layer.conductances_S()[1]
    # the ideal device is linear: one pulse moves a conductance by G_max / levels, i.e. by 1 / levels of
    # the weight range [0, w_max] (differential) or [-w_max, w_max] (reference column)
    per_pulse = (1.0 if mapping is Mapping.DIFFERENTIAL else 2.0) * layer.weight_max / ideal.levels_ltp
    if mapping is Mapping.DIFFERENTIAL:
        layer.apply_pulses(up, down)  # G+ up by `up`, G- up by `down`
        expected = before + (up - down) * per_pulse
    else:
        layer.apply_pulses(up - down)
        expected = before + (up - down) * per_pulse
        np.testing.assert_array_equal(layer.conductances_S()[1], reference)  # references are not pulsed
        with pytest.raises(NeurosimError, match="DIFFERENTIAL"):
            layer.apply_pulses(up, down)
    inside = np.ones(W.shape, bool)
    inside[0, 0] = False
    np.testing.assert_allclose(layer.effective_weights()[inside], expected[inside], atol=1e-12)
    with pytest.raises(NeurosimError, match="shape"):
        layer.apply_pulses(np.zeros((7, 5), int))
    with pytest.raises(NeurosimError, match="integers"):
        layer.apply_pulses(np.zeros(W.shape))


def test_pulse_noise_is_the_devices_cycle_to_cycle_noise(sige):
    device = replace(sige, nl_ltp=0.0, nl_ltd=0.0)  # linear, so the mean step is known exactly
    W = np.full((64, 64), 0.5)  # G+ mid-window: far from both rails
    layer = _layer(W, device, weight_scale=WeightScale.FIXED, rows=32, cols=32, rng=27)
    g0 = layer.conductances_S()[0]
    layer.apply_pulses(np.full(W.shape, 4), rng=26)
    dg = (layer.conductances_S()[0] - g0).ravel()
    window = device.g_max_S - device.g_min_S
    sigma = device.c2c_sigma_frac * window * math.sqrt(4)  # one write of 4 pulses
    assert abs(dg.mean() - 4 * window / 64) < 5 * sigma / math.sqrt(dg.size)
    assert abs(dg.std(ddof=1) / sigma - 1) < std_tolerance(dg.size)


# -- persistence ------------------------------------------------------------------------------
def test_save_and_load_round_trip(tmp_path, sige):
    device = replace(sige, read_noise_frac=0.03, stuck_off_frac=0.05, d2d_g_sigma_frac=0.05)
    W = np.random.default_rng(23).standard_normal((9, 12))
    wire = WireConfig(r_wire_ohm=2.0, r_access_ohm=500.0)
    config = CrossbarConfig(rows=5, cols=4, dac_bits=6, adc_bits=7, mapping=Mapping.REFERENCE_COLUMN, wire=wire)
    layer = CrossbarLayer(W, device, config, rng=24)
    x = np.random.default_rng(25).uniform(0, 1, (7, 12))
    layer.calibrate_adc(x)
    layer.forward(x, rng=1)
    layer.drift_to(3.0)
    path = tmp_path / "layer.npz"
    layer.save(path)
    loaded = CrossbarLayer.load(path)
    assert loaded.config == config and loaded.device == device
    assert loaded.adc_range == layer.adc_range and loaded.t_s == 3.0
    assert loaded.clip_counts == layer.clip_counts
    assert loaded.read_v2g_S == layer.read_v2g_S > 0  # the energy's read sum (neurosim.energy) is kept too
    np.testing.assert_array_equal(loaded.effective_weights(), layer.effective_weights())
    np.testing.assert_array_equal(loaded.forward(x, rng=2), layer.forward(x, rng=2))
    with np.load(path, allow_pickle=False) as data:
        assert "meta" in data.files
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(NeurosimError, match="bad.npz"):
        CrossbarLayer.load(tmp_path / "bad.npz")


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "W, match",
    [
        (np.array([[1.0, np.nan]]), "finite"),
        (np.array([[1.0, np.inf]]), "finite"),
        (np.zeros((0, 3)), "empty"),
        (np.ones(3), "2-D"),
        (np.array([["a", "b"]]), "numeric"),
    ],
)
def test_bad_weights_are_rejected(ideal, W, match):
    with pytest.raises(NeurosimError, match=match):
        CrossbarLayer(W, ideal)


def test_bad_reads_are_rejected(ideal):
    layer = _layer(np.ones((3, 4)), ideal)
    with pytest.raises(NeurosimError, match=r"\(batch, 4\)"):
        layer.forward(np.ones((2, 5)))
    with pytest.raises(NeurosimError, match="finite"):
        layer.forward(np.array([[1.0, np.nan, 0.0, 0.0]]))
    with pytest.raises(NeurosimError, match=r"\(batch, 3\)"):
        layer.backward(np.ones(4))
    with pytest.raises(NeurosimError, match="wire"):
        layer.forward(np.ones(4), nodal=True)
    with pytest.raises(NeurosimError, match="x_sample"):
        layer.calibrate_adc()
    with pytest.raises(NeurosimError, match="rng"):
        layer.forward(np.ones(4), rng="seed")
    with pytest.raises(NeurosimError, match="shape"):
        layer.program(np.ones((4, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_read_with_a_non_finite_input_fails_whole(ideal, bad, monkeypatch):
    """Found in a later chunk of the batch, a NaN or inf input still leaves the clip counts as they were."""
    monkeypatch.setattr(layer_module, "_CHUNK_ELEMENTS", 40)  # chunks of 10 vectors
    noisy = replace(ideal, read_noise_frac=0.01)  # reads draw from rng
    layer = _layer(np.ones((3, 4)), noisy, dac_bits=4, adc_bits=4, adc_range=10.0, adc_range_backward=10.0)
    x = np.full((35, 4), 2.0)  # every input clips at the DAC
    layer.forward(x)
    before = layer.clip_counts
    x[31, 2] = bad
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    with pytest.raises(NeurosimError, match="x must be finite"):
        layer.forward(x, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scaling a transposed read by max |d| = inf warns nothing
        with pytest.raises(NeurosimError, match="d must be finite"):
            layer.backward(np.where(np.isfinite(x[:, :3]), 0.5, bad), rng)
    with pytest.raises(NeurosimError, match="x_sample must be finite"):
        layer.calibrate_adc(x)
    assert layer.clip_counts == before and before.dac_clipped == x.size
    assert rng.bit_generator.state == state  # the failed reads drew nothing


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"rows": 0}, "rows"),
        ({"rows": -128}, "rows"),
        ({"cols": 2.5}, "cols"),
        ({"dac_bits": 0}, "dac_bits"),
        ({"dac_bits": -8}, "dac_bits"),
        ({"adc_bits": 1}, "adc_bits"),
        ({"adc_bits": True}, "adc_bits"),
        ({"adc_range": -1.0}, "adc_range"),
        ({"adc_range": float("nan")}, "adc_range"),
        ({"read_voltage_V": 0.0}, "read_voltage_V"),
        ({"scale_percentile": 0.0}, "scale_percentile"),
        ({"output_noise_frac": -0.1}, "output_noise_frac"),
        ({"mapping": "differential"}, "mapping"),
        ({"dac_mode": DacMode.BIT_SERIAL}, "dac_bits"),
        ({"cols": 1, "mapping": Mapping.REFERENCE_COLUMN}, "cols"),
        ({"wire": {"r_wire_ohm": 1.0}}, "wire"),
    ],
)
def test_impossible_configurations_are_rejected(changes, field):
    with pytest.raises(NeurosimError, match=field):
        CrossbarConfig(**changes)


def test_impossible_wires_are_rejected():
    with pytest.raises(NeurosimError, match="r_wire_ohm"):
        WireConfig(r_wire_ohm=0.0)
    with pytest.raises(NeurosimError, match="r_access_ohm"):
        WireConfig(r_access_ohm=-5.0)
    with pytest.raises(NeurosimError, match="r_sense_ohm"):
        WireConfig(r_sense_ohm=float("inf"))


# -- the weight-change-to-pulses rule ---------------------------------------------------------------
def test_pulse_policy_rule_and_its_twin_agree():
    """The jitted per-weight rule (used inside on-chip training) and its NumPy twin (used by CrossbarLayer) are one rule."""
    from neurosim.crossbar.kernels import POLICY_CODES, pulse_directions, pulse_directions_numpy

    ws = np.array([-0.5, 0.0, 0.5])
    for differential in (False, True):
        for code in POLICY_CODES.values():
            for up in (False, True):
                pos, neg = pulse_directions_numpy(np.full(3, up), ws, differential, code)
                for i, w in enumerate(ws):
                    assert pulse_directions(up, w, differential, code) == (pos[i], neg[i])
    # SIGN_DEVICE moves the device that holds the sign; BOTH is push-pull; the reference column its own device
    assert [pulse_directions(True, w, True, 0) for w in ws] == [(0, -1), (1, 0), (1, 0)]
    assert [pulse_directions(False, w, True, 0) for w in ws] == [(0, 1), (0, 1), (-1, 0)]
    assert pulse_directions(True, 0.5, True, 1) == (1, -1) and pulse_directions(False, 0.5, False, 1) == (-1, 0)


@pytest.mark.parametrize("mapping", list(Mapping))
def test_apply_weight_pulses_follows_the_policy(mapping):
    """Noise-free linear device: BOTH moves a weight by two steps per pulse on a pair, SIGN_DEVICE by one."""
    from neurosim.crossbar import PulsePolicy

    device = replace(load_device("ideal"), c2c_sigma_frac=0.0)
    W = np.array([[-0.5, 0.0, 0.5], [0.25, -0.25, 0.0]])
    cfg = CrossbarConfig(mapping=mapping, weight_scale=WeightScale.FIXED, weight_max=1.0)
    pulses = np.array([[2, 2, -2], [-1, 1, -3]])
    moved = {}
    for policy in PulsePolicy:
        layer = CrossbarLayer(W, device, cfg, rng=0)
        before = layer.conductances_S()
        layer.apply_weight_pulses(pulses, policy, rng=1)
        after = layer.conductances_S()
        moved[policy] = (after[0] - before[0], after[1] - before[1])
        assert np.all(np.sign(layer.effective_weights() - W) == np.sign(pulses))
    pos_s, neg_s = moved[PulsePolicy.SIGN_DEVICE]
    pos_b, neg_b = moved[PulsePolicy.BOTH]
    if mapping is Mapping.REFERENCE_COLUMN:
        np.testing.assert_array_equal(pos_s, pos_b)
        return
    assert np.all((pos_s == 0) | (neg_s == 0))  # one device per weight
    np.testing.assert_array_equal(pos_s != 0, np.where(pulses > 0, W >= 0, W > 0))
    # push-pull: G+ in the change's direction, G- against it (a device at its rail stays there)
    assert np.all(pos_b * pulses >= 0) and np.all(neg_b * pulses <= 0)
    assert np.count_nonzero(pos_b) + np.count_nonzero(neg_b) > np.count_nonzero(pos_s) + np.count_nonzero(neg_s)
    with pytest.raises(NeurosimError, match="PulsePolicy"):
        layer.apply_weight_pulses(pulses, "both")


# -- the cells' series resistance (1T1R access transistor) ---------------------------------------
@pytest.mark.parametrize("mapping", MAPPINGS)
def test_series_resistance_is_seen_by_every_read(ideal, mapping):
    """Each device reads as G / (1 + G R) (hand formula on the true conductances), forward, transposed and in calibration."""
    rng = np.random.default_rng(3)
    W = rng.uniform(-1, 1, (5, 12))
    R = 15e3
    layer = _layer(W, ideal, rows=8, cols=6, mapping=mapping, cell_r_series_ohm=R)
    g_pos, g_neg = layer.conductances_S()
    k = (ideal.g_max_S - ideal.g_min_S) / (layer.weight_max * (1 if mapping is Mapping.DIFFERENTIAL else 2))
    W_read = (g_pos / (1 + g_pos * R) - g_neg / (1 + g_neg * R)) / k
    assert np.abs(W_read - W).max() > 0.01  # the resistor matters at this window
    x = rng.uniform(-1, 1, (4, 12))
    d = rng.standard_normal((4, 5))
    np.testing.assert_allclose(layer.forward(x), x @ W_read.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.backward(d), d @ W_read, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.effective_weights(), W_read, rtol=0, atol=1e-12)
    ranges = layer.calibrate_adc(x_sample=x)  # the peak partial sum of a tile (rows 0-7, 8-11), as read
    assert ranges["forward"] == pytest.approx(np.abs(np.concatenate([x[:, :8] @ W_read[:, :8].T, x[:, 8:] @ W_read[:, 8:].T])).max())
    off = _layer(W, ideal, rows=8, cols=6, mapping=mapping, cell_r_series_ohm=0.0)
    np.testing.assert_array_equal(off.forward(x), _layer(W, ideal, rows=8, cols=6, mapping=mapping).forward(x))


def test_series_resistance_scales_the_read_noise(ideal):
    """Read noise through the resistor: sigma (1 + G R)^-2 per device (first order)."""
    device = replace(ideal, read_noise_frac=0.05)
    R = 15e3
    layer = _layer(np.array([[0.5, -0.25, 1.0]]), device, rows=4, cols=4, cell_r_series_ohm=R)
    tile = layer.tiles[0][0]
    m = tile.read_matrices(0.0, False, np.float64)
    g = tile.conductances_S()
    expected = sum((0.05 * g[n] / (1 + g[n] * R) ** 2 / tile.k_S) ** 2 for n in ("plus", "minus"))
    np.testing.assert_allclose(m.var, expected, rtol=1e-12)


def test_series_resistance_is_set_once(ideal):
    with pytest.raises(NeurosimError, match="cell_r_series_ohm"):
        CrossbarConfig(cell_r_series_ohm=-1.0)
    with pytest.raises(NeurosimError, match="set it once"):
        CrossbarConfig(cell_r_series_ohm=15e3, wire=WireConfig(r_access_ohm=1e3))
    both = CrossbarConfig(cell_r_series_ohm=15e3, wire=WireConfig(r_wire_ohm=2.0))
    assert both.wire_model.r_access_ohm == 15e3 and both.r_series_ohm == 15e3  # the nodal model puts it in series
    assert CrossbarConfig(wire=WireConfig(r_access_ohm=1e3)).r_series_ohm == 1e3
    assert CrossbarConfig().r_series_ohm == 0.0
