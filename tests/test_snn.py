"""ANN-to-SNN conversion on crossbars: kernels against their NumPy twins, reads against the crossbar
layer, IF physics, the two engines against each other, accuracy, errors, sweep task and CLI."""

import argparse
import dataclasses
import json

import numpy as np
import pytest

from neurosim.convert.snn import kernels as K
from neurosim.convert.network import resolve_model
from neurosim.convert.snn import (
    CrossbarSNN,
    Engine,
    InputCoding,
    ReadArrays,
    Readout,
    SNNConfig,
    check_settings,
    convert_mlp,
    default_checkpoints,
    events_from_dense,
    read_events,
    snn_point,
    spike_read,
)
from neurosim.crossbar import CrossbarConfig, CrossbarLayer, Mapping
from neurosim.crossbar.kernels import readout_constants_numpy
from neurosim.data import load_mnist
from neurosim.data.calibration import calibration_images
from neurosim.device import load_device
from neurosim.errors import NeurosimError
from neurosim.streams import uniform_numpy

from conftest import std_tolerance


@pytest.fixture(scope="module")
def mnist():
    model = resolve_model("mlp784")
    images, labels = load_mnist("test")
    return model, model.prepare(images), labels, model.prepare(calibration_images()[0])


@pytest.fixture(scope="module")
def converted(mnist):
    model, _, _, calib = mnist
    return convert_mlp(model, calib)


def noisy_sige(frac=0.02):
    return dataclasses.replace(load_device("sige_epiram"), read_noise_frac=frac)


# -- conversion ----------------------------------------------------------------------------------
def test_normalisation_puts_the_percentile_at_rate_one(mnist, converted):
    model, _, _, calib = mnist
    (w1, b1), (w2, b2) = model.params
    h = np.maximum(calib @ w1.T.astype(float) + b1, 0)
    z = h @ w2.T.astype(float) + b2
    lam1, lam2 = np.percentile(h, 99.9), np.percentile(np.maximum(z, 0), 99.9)
    assert converted.scales == pytest.approx((lam1, lam2), rel=1e-5)
    (v1, c1), (v2, c2) = converted.params
    np.testing.assert_allclose(v1, w1 / lam1, rtol=1e-6)
    np.testing.assert_allclose(c2, b2 / lam2, rtol=1e-6)
    np.testing.assert_allclose(v2, w2 * lam1 / lam2, rtol=1e-6)
    hidden, out = converted.rates(calib)
    # normalised activations are the ANN's divided by lambda: the percentile lands on 1, predictions keep
    assert np.percentile(np.maximum(calib @ v1.T + c1, 0), 99.9) == pytest.approx(1.0, rel=1e-9)
    logits = np.maximum(calib @ v1.T + c1, 0) @ v2.T + c2
    assert np.array_equal(np.argmax(logits, axis=1), model.predict(calib))
    assert hidden.min() >= 0 and hidden.max() <= 1 and np.mean(hidden == 1) < 0.01


def test_conversion_errors(mnist):
    model, x, _, calib = mnist
    with pytest.raises(NeurosimError, match="ReLU"):
        convert_mlp(resolve_model("mlp400_binary"), np.zeros((2, 400)))
    with pytest.raises(NeurosimError, match="layer 1: W has 99 inputs"):
        convert_mlp([(np.ones((100, 784)), np.zeros(100)), (np.ones((10, 99)), np.zeros(10))], calib)
    bad = calib.copy()
    bad[0, 0] = np.nan
    with pytest.raises(NeurosimError, match="NaN"):
        convert_mlp(model, bad)
    with pytest.raises(NeurosimError, match=r"intensities in \[0, 1\]"):
        convert_mlp(model, calib * 255)
    with pytest.raises(NeurosimError, match="shape"):
        convert_mlp(model, calib[:, :100])
    with pytest.raises(NeurosimError, match="percentile"):
        convert_mlp(model, calib, percentile=0)
    with pytest.raises(NeurosimError, match="silent"):
        convert_mlp([(-np.ones((3, 4)), -np.ones(3)), (np.ones((2, 3)), np.zeros(2))], np.full((5, 4), 0.5))


@pytest.mark.parametrize(
    "changes, field",
    [({"dt_s": 0.0}, "dt_s"), ({"dt_s": -1e-3}, "dt_s"), ({"dt_s": float("nan")}, "dt_s"), ({"batch_size": 0}, "batch_size"),
     ({"percentile": 100.5}, "percentile"), ({"readout": "votes"}, "readout"), ({"input_coding": "burst"}, "input_coding")],
)
def test_config_rejects_impossible_values(changes, field):
    with pytest.raises(NeurosimError, match=field):
        SNNConfig(**changes)


def test_config_takes_enum_values_by_string():
    c = SNNConfig(input_coding="rate", readout="spikes", engine="network")
    assert (c.input_coding, c.readout, c.engine) == (InputCoding.RATE, Readout.SPIKES, Engine.NETWORK)


def test_default_checkpoints():
    assert default_checkpoints(100) == (10, 20, 50, 100)
    assert default_checkpoints(300) == (10, 20, 50, 100, 200, 300)
    assert default_checkpoints(7) == (7,)


# -- kernels: Numba against the NumPy twins (dyadic values: every sum is exact in float32) ---------
def _dyadic(rng, shape, scale=64):
    return (rng.integers(-scale, scale + 1, shape) / scale).astype(np.float32)


def _keys(rng, ra, n):
    """Random streams of Gaussian draws for ``n`` samples (one per pass and column tile)."""
    return rng.integers(0, 2**64, size=(n, ra.n_keys), dtype=np.uint64)


def _read_setup(rng, n_in=40, n_out=7, rows=16, cols=4, tile_adc=False, has_var=True, common=False, analog=False, b=9):
    n_rt = -(-n_in // rows)
    col_edges = [(c, min(c + cols, n_out)) for c in range(0, n_out, cols)]
    n_ct = len(col_edges)
    parts = [_dyadic(rng, (n_in, n_out))]
    if has_var:
        parts.append(np.abs(_dyadic(rng, (n_in, n_out))) / 8)
    if common:
        parts.append(np.abs(_dyadic(rng, (n_in, n_ct))) / 8)
    rw = np.ascontiguousarray(np.hstack(parts))
    pass_start = np.array((list(range(0, n_in, rows)) if tile_adc else [0]) + [n_in], np.int64)
    col_start = np.array([c0 for c0, _ in col_edges] + [n_out], np.int64)
    consts = readout_constants_numpy(np.zeros(0), 0.25 if has_var else 0.0, 0.375 if tile_adc else 0.0,
                                     7 if tile_adc else 0, 1.0)
    ra = ReadArrays(rw, n_out, has_var, common, pass_start, col_start, consts, n_rt)
    spikes = rng.random((b, n_in)) < 0.3
    idx, cnt = events_from_dense(spikes)
    pre = None
    if analog:
        pre = np.abs(_dyadic(rng, (b, ra.n_passes, rw.shape[1]))) * 4
    return ra, idx, cnt, pre


@pytest.mark.parametrize("tile_adc", [False, True])
@pytest.mark.parametrize("has_var, common", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("mode", ["spikes", "analog", "complement"])
def test_read_kernel_equals_numpy_twin(tile_adc, has_var, common, mode):
    rng = np.random.default_rng(7)
    ra, idx, cnt, pre = _read_setup(rng, tile_adc=tile_adc, has_var=has_var, common=common, analog=mode != "spikes")
    minus = None
    if mode == "complement":
        minus = events_from_dense(rng.random(idx.shape[:1] + (ra.n_in,)) < 0.2)
    keys = _keys(rng, ra, idx.shape[0])
    outs, clips = [], []
    for backend in ("numba", "numpy"):
        out = np.full((idx.shape[0], ra.n_out), np.nan)
        clips.append(read_events(ra, idx, cnt, keys, 5, out, minus=minus, pre=pre, backend=backend))
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    assert clips[0] == clips[1]
    if tile_adc:
        assert clips[0] > 0  # the ADC range (7 codes of 0.375) is small enough to clip some conversions
        assert np.all(np.abs(outs[0] / 0.375 - np.round(outs[0] / 0.375)) < 1e-12)


@pytest.mark.parametrize("tile_adc, common", [(False, False), (True, False), (False, True)])
def test_reading_by_complement_gives_the_same_sums(tile_adc, common):
    """Rows of the high inputs summed once, minus the silent ones, plus the low ones that fired: the dense read."""
    rng = np.random.default_rng(12)
    ra, _, _, _ = _read_setup(rng, tile_adc=tile_adc, common=common, b=20)
    spikes = rng.random((20, ra.n_in)) < 0.5
    high = rng.random((20, ra.n_in)) < 0.5
    keys = _keys(rng, ra, 20)
    direct = np.zeros((20, ra.n_out))
    read_events(ra, *events_from_dense(spikes), keys, 2, direct)
    by_complement = np.zeros((20, ra.n_out))
    read_events(ra, *events_from_dense(spikes & ~high), keys, 2, by_complement, minus=events_from_dense(~spikes & high),
                pre=ra.analog(high.astype(float)))
    np.testing.assert_array_equal(by_complement, direct)


def test_poisson_kernel_fires_exactly_when_the_spiking_uniform_is_below_p():
    rng = np.random.default_rng(1)
    b, m = 6, 50
    p = np.where(rng.random((b, m)) < 0.3, 0.0, rng.random((b, m)))
    p[0, :5] = 1 - 1e-12
    p[1, :3] = 1e-12
    seeds = rng.integers(0, 2**64, size=b, dtype=np.uint64)
    drawn = p > 0
    nz_cnt = np.count_nonzero(drawn, axis=1).astype(np.int32)
    order = np.argsort(~drawn, axis=1, kind="stable")
    nz_idx = np.ascontiguousarray(order, dtype=np.int32)
    thr = K.spike_thresholds(np.take_along_axis(p, order, axis=1))
    high = p > 0.5
    nz_high = np.ascontiguousarray(np.take_along_axis(high, order, axis=1), dtype=np.uint8)
    for step in (0, 3, 1000):
        fired = uniform_numpy(seeds[:, None], np.uint64(step) * np.uint64(m) + np.arange(m, dtype=np.uint64)) < p
        for kernel in (K.poisson_events_numba, K.poisson_events_numpy):
            idx, cnt = np.zeros((b, m), np.int32), np.zeros(b, np.int32)
            nidx, ncnt = np.zeros((b, m), np.int32), np.zeros(b, np.int32)
            kernel(seeds, nz_idx, thr, nz_high, nz_cnt, step, m, idx, cnt, nidx, ncnt)
            plus, minus = np.zeros((b, m), bool), np.zeros((b, m), bool)
            for i in range(b):
                plus[i, idx[i, : cnt[i]]] = True
                minus[i, nidx[i, : ncnt[i]]] = True
                assert np.all(np.diff(idx[i, : cnt[i]]) > 0) and np.all(np.diff(nidx[i, : ncnt[i]]) > 0)
            np.testing.assert_array_equal(plus, fired & ~high)
            np.testing.assert_array_equal(minus, ~fired & high)
        assert fired[0, :5].all() and not fired[1, :3].any()


def _if_work(n):
    fire = np.zeros((n // 8 + 1) * 8, np.bool_)
    return np.zeros(n), fire, fire.view(np.uint64)


def test_if_kernel_equals_twin_and_keeps_the_overshoot():
    rng = np.random.default_rng(2)
    v0 = rng.normal(0.5, 0.5, (5, 30))
    cur = rng.normal(0.2, 0.6, (5, 30))
    bias = rng.normal(0, 0.1, 30)
    results = []
    for kernel in (K.if_update_numba, K.if_update_numpy):
        v, counts = v0.copy(), np.zeros((5, 30), np.int64)
        idx, cnt = np.zeros((5, 30), np.int32), np.zeros(5, np.int32)
        kernel(v, np.zeros((5, 30), np.int32), cur, bias, idx, cnt, counts, *_if_work(40))
        results.append((v, counts, [idx[b, : cnt[b]].tolist() for b in range(5)]))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]
    x = v0 + (bias + cur)
    np.testing.assert_array_equal(results[0][0], np.where(x > 1, x - 1, x))


@pytest.mark.parametrize("z", [0.0, 0.003, 0.137, 0.5, 0.77, 0.999, 1.0])
def test_if_neuron_fires_at_its_input_rate(z):
    """Reset by subtraction: after T steps of constant input z in [0, 1] the count is floor-ish of z T (error < 1)."""
    steps = 1000
    v, counts = np.zeros((1, 1)), np.zeros((1, 1), np.int64)
    idx, cnt = np.zeros((1, 1), np.int32), np.zeros(1, np.int32)
    ref, work = np.zeros((1, 1), np.int32), _if_work(1)
    for _ in range(steps):
        K.if_update_numba(v, ref, np.full((1, 1), z), np.zeros(1), idx, cnt, counts, *work)
    assert abs(counts[0, 0] - z * steps) <= 1
    assert counts[0, 0] + v[0, 0] == pytest.approx(z * steps, abs=1e-9)  # the integrated input is kept exactly


# -- reads against the crossbar layer --------------------------------------------------------------
@pytest.mark.parametrize("device, config", [
    ("ideal", CrossbarConfig()),
    ("sige_epiram", CrossbarConfig(rows=64, cols=32)),
    ("sige_epiram", CrossbarConfig(rows=64, cols=32, mapping=Mapping.REFERENCE_COLUMN)),
])
def test_noise_free_event_read_equals_crossbar_forward(device, config):
    rng = np.random.default_rng(4)
    W = rng.normal(0, 0.3, (50, 200))
    layer = CrossbarLayer(W, device, config, rng=0)
    spikes = (rng.random((64, 200)) < 0.2).astype(np.float64)
    got = spike_read(layer)(spikes, 1)
    np.testing.assert_allclose(got, layer.forward(spikes, 1), rtol=0, atol=2e-6 * np.abs(W).max() * 200 * 0.2)


def test_per_tile_adc_read_equals_crossbar_forward():
    rng = np.random.default_rng(5)
    W = rng.normal(0, 0.3, (40, 300))
    layer = CrossbarLayer(W, "ideal", CrossbarConfig(rows=128, cols=32, adc_bits=5), rng=0)
    spikes = (rng.random((200, 300)) < 0.2).astype(np.float64)
    layer.calibrate_adc(spikes[:100], percentile=99.0)
    got, want = spike_read(layer)(spikes, 0), layer.forward(spikes, 0)
    step = layer.adc_range / 15
    assert np.mean(np.isclose(got, want, rtol=0, atol=1e-6 * step)) > 0.999  # float32 sums may round across a code edge
    assert np.all(np.abs(got - want) <= step * 3 + 1e-9)  # 3 tiles, at most one code each
    assert layer.clip_counts.adc_clipped > 0
    ra = ReadArrays.from_layer(layer)
    idx, cnt = events_from_dense(spikes)
    out = np.zeros((200, 40))
    assert read_events(ra, idx, cnt, np.zeros((200, ra.n_keys), np.uint64), 0, out) == pytest.approx(layer.clip_counts.adc_clipped, rel=0.05)


@pytest.mark.parametrize("config", [
    CrossbarConfig(rows=256, cols=32),  # ideal ADC, one row tile: one read-out per column tile, as forward
    CrossbarConfig(rows=64, cols=16, mapping=Mapping.REFERENCE_COLUMN, output_noise_frac=0.01, adc_bits=6),
])
def test_noisy_event_read_equals_crossbar_forward_with_the_same_draws(config):
    """The fused read calls the crossbar core's read-out with forward's keys and rows: the same noisy outputs.

    Float32 event sums against forward's float64 products: ideal ADC to float32 rounding; per-tile ADC codes equal
    except where that rounding crosses a code edge (none expected here; at most one step per tile)."""
    rng = np.random.default_rng(14)
    W = rng.normal(0, 0.3, (40, 200))
    layer = CrossbarLayer(W, noisy_sige(0.05), config, rng=0)
    spikes = (rng.random((50, 200)) < 0.2).astype(np.float64)
    if config.adc_bits:
        layer.calibrate_adc(spikes, percentile=99.0)
    got, want = spike_read(layer)(spikes, 11), layer.forward(spikes, 11)
    other_draws = spike_read(layer)(spikes, 12)
    assert np.abs(got - other_draws).max() > 0.01  # so the agreement below is of the draws, not only the means
    scale = np.abs(want).max()
    if config.adc_bits is None:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * scale)
    else:
        step = layer.adc_range / (2 ** (config.adc_bits - 1) - 1)
        assert np.mean(got == want) > 0.999
        assert np.all(np.abs(got - want) <= step * len(layer.row_edges) + 1e-9)
        assert layer.clip_counts.adc_clipped > 0


def test_read_noise_has_the_crossbar_variance_and_is_fresh_every_step():
    """Output noise variance = sum over active rows of (sigma+^2 + sigma-^2) / k^2, sigma = frac * G."""
    frac, n = 0.05, 20000
    rng = np.random.default_rng(6)
    layer = CrossbarLayer(rng.normal(0, 0.3, (20, 300)), noisy_sige(frac), CrossbarConfig(), rng=0)
    s = (rng.random(300) < 0.25).astype(np.float64)
    g_pos, g_neg = layer.conductances_S()
    k = layer.tiles[0][0].k_S
    expected_var = (frac**2 * (g_pos**2 + g_neg**2) / k**2) @ s
    mean = layer.effective_weights() @ s
    ra = ReadArrays.from_layer(layer)
    idx, cnt = events_from_dense(np.tile(s, (n, 1)))
    keys = _keys(rng, ra, n)
    a, b = np.zeros((n, 20)), np.zeros((n, 20))
    read_events(ra, idx, cnt, keys, 0, a)
    read_events(ra, idx, cnt, keys, 1, b)  # the next step: same spikes, same streams, fresh draws
    tol = std_tolerance(n)
    np.testing.assert_allclose(a.mean(axis=0), mean, atol=5 * np.sqrt(expected_var / n).max() + 1e-6)
    np.testing.assert_allclose(a.var(axis=0), expected_var, rtol=2 * tol)
    corr = np.corrcoef((a - mean).ravel(), (b - mean).ravel())[0, 1]
    assert abs(corr) < 5 / np.sqrt(a.size)
    # the crossbar layer's own reads (one draw per tile) have the same variance
    forward = layer.forward(np.tile(s, (n, 1)), 9)
    np.testing.assert_allclose(forward.var(axis=0), expected_var, rtol=2 * tol)


def test_reference_column_noise_is_shared_within_a_tile():
    frac, n = 0.05, 20000
    rng = np.random.default_rng(8)
    config = CrossbarConfig(rows=256, cols=9, mapping=Mapping.REFERENCE_COLUMN)  # 8 weight columns per tile
    layer = CrossbarLayer(rng.normal(0, 0.3, (16, 100)), noisy_sige(frac), config, rng=0)
    s = (rng.random(100) < 0.3).astype(np.float64)
    g, g_ref = layer.conductances_S()
    k = layer.tiles[0][0].k_S
    ra = ReadArrays.from_layer(layer)
    idx, cnt = events_from_dense(np.tile(s, (n, 1)))
    out = np.zeros((n, 16))
    read_events(ra, idx, cnt, _keys(np.random.default_rng(1), ra, n), 3, out)
    cov = np.cov(out, rowvar=False)
    shared = frac**2 * (g_ref[0] ** 2) / k**2 @ s
    own = frac**2 * (g**2 + g_ref**2) / k**2 @ s
    np.testing.assert_allclose(np.diag(cov), own, rtol=2 * std_tolerance(n))
    same_tile, other_tile = cov[0, 1:8], cov[0, 8:]
    np.testing.assert_allclose(same_tile, shared, rtol=0.15)
    assert np.all(np.abs(other_tile) < 5 * own.max() / np.sqrt(n))


def test_rate_coding_read_applies_the_dac_levels():
    rng = np.random.default_rng(9)
    x = rng.random((30, 200))
    layer = CrossbarLayer(rng.normal(0, 0.3, (10, 200)), "ideal", CrossbarConfig(dac_bits=3), rng=0)
    ra = ReadArrays.from_layer(layer)
    applied, sq = np.empty_like(x), np.empty_like(x)
    from neurosim.crossbar.kernels import dac_levels_numpy

    dac_levels_numpy(x, 1.0, 7, applied, sq, np.zeros(200, np.int64))
    out = np.zeros((30, 10))
    read_events(ra, np.zeros((30, 1), np.int32), np.zeros(30, np.int32), np.zeros((30, ra.n_keys), np.uint64), 0, out,
                pre=ra.analog(applied))
    np.testing.assert_allclose(out, layer.forward(x, 0), atol=1e-5)


# -- the network ----------------------------------------------------------------------------------------
def test_fused_and_network_engines_fire_the_same_spikes(mnist, converted):
    _, x, _, _ = mnist
    snn = CrossbarSNN(converted, "ideal", rng=0)
    a = snn.run(x[:6], 25, rng=3, checkpoints=[5, 12, 25])
    b = snn.run(x[:6], 25, rng=3, checkpoints=[5, 12, 25], engine="network")
    np.testing.assert_array_equal(a.input_spikes, b.input_spikes)
    np.testing.assert_array_equal(a.layer_spikes, b.layer_spikes)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_allclose(a.potential, b.potential, atol=1e-5)
    assert a.layer_spikes.sum() > 100
    # the network engine also reads the last step's spikes (which no neuron sees): 25 reads per sample, not 24
    for ea, eb in zip(a.layer_events, b.layer_events):
        assert 25 * ea.dac_conversions == 24 * eb.dac_conversions and 25 * ea.tile_reads == 24 * eb.tile_reads
        assert 0 < ea.cell_reads <= eb.cell_reads


@pytest.mark.parametrize("engine", ["fused", "network"])
@pytest.mark.parametrize("coding", ["poisson", "rate"])
def test_read_events_counted_by_hand_and_scale_with_images_and_steps(mnist, converted, engine, coding):
    _, x, _, _ = mnist
    snn = CrossbarSNN(converted, "ideal", config=SNNConfig(input_coding=coding), rng=0)
    steps = 12
    run = snn.run(x[:3], steps, rng=5, engine=engine)
    reads = 3 * (steps - 1 if engine == "fused" else steps)  # the fused engine skips the last step's (unseen) reads
    for layer, ev in zip(snn.layers, run.layer_events):
        assert ev.dac_conversions == reads * layer.in_features
        assert ev.adc_conversions == reads * layer.out_features * len(layer.row_edges)
        assert ev.tile_reads == reads * len(layer.row_edges) * len(layer.col_edges)
    # the first layer's rows: the input spikes of the steps read, or the non-zero intensities
    if coding == "rate":
        driven = reads // 3 * np.count_nonzero(x[:3])  # every read of a sample drives its non-zero pixels
        assert run.layer_events[0].cell_reads == driven * snn.layers[0].devices_per_driven_row
    else:
        read_spikes = run.input_spikes.sum() * snn.layers[0].devices_per_driven_row
        if engine == "network":
            assert run.layer_events[0].cell_reads == read_spikes
        else:  # not the last step's spikes
            assert 0 < run.layer_events[0].cell_reads < read_spikes
    twice = snn.run(np.concatenate([x[:3], x[:3]]), steps, rng=5, engine=engine)
    for a, b in zip(run.layer_events, twice.layer_events):
        assert b.dac_conversions == 2 * a.dac_conversions and b.tile_reads == 2 * a.tile_reads
    longer = snn.run(x[:3], 2 * steps - (1 if engine == "fused" else 0), rng=5, engine=engine)
    assert longer.events.adc_conversions == 2 * run.events.adc_conversions


def test_network_engine_reads_the_crossbar_every_step(mnist, converted):
    """With read noise, the network engine's read hook draws fresh noise each step (CrossbarLayer.forward)."""
    _, x, _, _ = mnist
    snn = CrossbarSNN(converted, noisy_sige(0.5), rng=0)
    net, _, _ = snn.network(x[:2])
    hook = net.connections[0].read
    s = np.zeros((2, 784))
    s[:, :300] = 1
    r1, r2 = hook(s, np.random.default_rng(0)), hook(s, np.random.default_rng(1))
    assert np.all(r1 != r2)
    assert np.allclose(r1.mean(), r2.mean(), rtol=0.2)


def test_results_do_not_depend_on_chunks_or_threads(mnist, converted):
    _, x, _, _ = mnist
    snn = CrossbarSNN(converted, noisy_sige(), rng=0)
    ref = snn.run(x[:40], 30, rng=11, threads=1)
    snn.config = dataclasses.replace(snn.config, batch_size=7)
    other = snn.run(x[:40], 30, rng=11, threads=2)
    np.testing.assert_array_equal(ref.counts, other.counts)
    np.testing.assert_array_equal(ref.potential, other.potential)
    assert not np.array_equal(ref.counts, snn.run(x[:40], 30, rng=12).counts)


def test_rate_coding_makes_firing_rates_follow_the_normalised_ann(mnist):
    """One layer, constant-current input: each neuron integrates (T - 1) W x + T b (the input arrives one
    step late), and with a per-step drive z in [0, 1] its count is that integral within 1 (rate = z)."""
    _, x, _, calib = mnist
    w, b = resolve_model("mlp784").params[0]
    one = convert_mlp([(w[:20], b[:20])], calib)
    snn = CrossbarSNN(one, "ideal", config=SNNConfig(input_coding="rate"), rng=0)
    steps = 400
    run = snn.run(x[:50], steps, rng=0, checkpoints=[steps])
    wx = x[:50] @ one.params[0][0].T
    bias = one.params[0][1]
    drive = (steps - 1) * wx + steps * bias
    counts = run.counts[:, 0]
    np.testing.assert_allclose(counts + run.potential[:, 0], drive, atol=1e-3)  # membrane readout: the integral
    z = wx + bias
    inside = (z >= 0) & (z <= 1)
    assert inside.sum() > 100 and (z < 0).sum() > 100
    assert np.all(np.abs(counts - drive)[inside] <= 1 + np.abs(bias).max())
    assert np.all(counts[z < 0] == 0)
    assert np.all(counts[z > 1] >= steps - 2)  # saturated: at most one spike per step


def test_converted_network_matches_the_ann_at_100_steps(mnist, converted):
    model, x, y, _ = mnist
    n = 1000
    snn = CrossbarSNN(converted, "ideal", rng=0)
    run = snn.run(x[:n], 100, rng=0, checkpoints=[10, 100])
    ann = model.predict(x[:n])
    agree = np.mean(run.predictions(Readout.MEMBRANE)[:, -1] == ann)
    assert agree > 0.985
    assert run.accuracy(y[:n], "membrane")[-1] >= model.accuracy(x[:n], y[:n]) - 0.01
    assert run.accuracy(y[:n], "membrane")[0] > 0.9  # 10 steps already classify
    rates = run.rates()
    assert 0.01 < rates[0] < 0.3 and 0.01 < rates[1] < 0.3


def test_run_errors(mnist, converted):
    _, x, _, _ = mnist
    snn = CrossbarSNN(converted, "ideal", rng=0)
    for steps in (0, -5, 2.5, True):
        with pytest.raises(NeurosimError, match="steps"):
            snn.run(x[:2], steps)
    bad = x[:2].copy()
    bad[1, 3] = np.nan
    with pytest.raises(NeurosimError, match="NaN"):
        snn.run(bad, 10)
    with pytest.raises(NeurosimError, match=r"shape \(samples, 784\)"):
        snn.run(x[:2, :100], 10)
    with pytest.raises(NeurosimError, match="checkpoint"):
        snn.run(x[:2], 10, checkpoints=[5, 11])
    with pytest.raises(NeurosimError, match="engine"):
        snn.run(x[:2], 10, engine="gpu")
    with pytest.raises(NeurosimError, match="labels"):
        snn.run(x[:2], 10).accuracy(np.zeros(3))
    with pytest.raises(NeurosimError, match="ConvertedSNN"):
        CrossbarSNN([(np.ones((2, 2)), np.zeros(2))], "ideal")
    with pytest.raises(NeurosimError, match="calibration_x"):
        CrossbarSNN(converted, "ideal", CrossbarConfig(adc_bits=6))


def test_adc_calibration_on_spikes(mnist, converted):
    model, x, y, calib = mnist
    snn = CrossbarSNN(converted, "ideal", CrossbarConfig(adc_bits=8), rng=0, calibration_x=calib)
    assert all(layer.adc_range > 0 for layer in snn.layers)
    run = snn.run(x[:300], 60, rng=0)
    assert run.adc_conversions == 300 * 59 * (7 * 100 + 1 * 10)
    assert run.adc_clip_fraction < 1e-3
    assert run.accuracy(y[:300], "membrane")[-1] > model.accuracy(x[:300], y[:300]) - 0.03


# -- sweep task and CLI ------------------------------------------------------------------------------
def test_sweep_task_metrics_and_checks():
    settings = {"model": "mlp784", "device": "sige_epiram", "device.read_noise_frac": 0.02, "steps": 20,
                "checkpoints": [5, 20], "test_images": 100}
    a = snn_point(settings, np.random.default_rng(0))
    b = snn_point(settings, np.random.default_rng(0))
    assert a == b
    for key in ("accuracy", "software_accuracy", "accuracy_membrane_5", "accuracy_spikes_20", "rate_layer0", "rate_input"):
        assert key in a
    assert a["accuracy"] == a["accuracy_membrane_20"] and a["test_images"] == 100
    assert 0.02 < a["rate_input"] < 0.3
    for bad, match in (({"steps": 0}, "steps"), ({"bogus": 1}, "bogus"), ({"checkpoints": [50]}, "checkpoint"),
                       ({"input": "burst"}, "input_coding"), ({"crossbar.adc_bits": 0}, "adc_bits"),
                       ({"model": "mlp400_binary"}, "ReLU")):
        with pytest.raises(NeurosimError, match=match):
            check_settings({**settings, **bad})


def _cli(argv, monkeypatch):
    from neurosim import cli
    from neurosim.convert.snn.cli import add_snn_parser

    build = cli.build_parser

    def with_snn():
        parser = build()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "snn" not in sub.choices:
            add_snn_parser(sub)
        return parser

    monkeypatch.setattr(cli, "build_parser", with_snn)
    return cli.main(argv)


def test_cli_writes_csv_json_and_plot(tmp_path, monkeypatch, capsys):
    rc = _cli(["snn", "--device", "ideal", "--device", "sige_epiram:0.02", "--steps", "20", "--checkpoints", "5,10",
               "--test-images", "60", "--out", str(tmp_path), "--json"], monkeypatch)
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [d["device"] for d in out["devices"]] == ["ideal", "sige_epiram"]
    assert out["devices"][1]["read_noise_frac"] == 0.02
    assert [c["steps"] for c in out["devices"][0]["curve"]] == [5, 10, 20]
    lines = (tmp_path / "snn_accuracy_vs_steps.csv").read_text().splitlines()
    assert lines[0].startswith("device,read_noise_frac,seed,steps,accuracy") and len(lines) == 7
    assert (tmp_path / "snn_accuracy_vs_steps.png").stat().st_size > 1000
    layers = resolve_model("mlp784").layers
    for device in out["devices"]:  # 60 images x 19 reads (every step but the last) x each layer's inputs
        events = device["events"]
        assert [e["dac_conversions"] for e in events["layers"]] == [60 * 19 * layer.n_in for layer in layers]
        assert events["total"]["cell_reads"] > 0
    sidecar = json.loads((tmp_path / "snn_accuracy_vs_steps.json").read_text())
    assert sidecar["versions"]["numpy"] and sidecar["devices"][0]["settings"]["steps"] == 20


@pytest.mark.parametrize("argv, message", [
    (["snn", "--device", "nope"], "unknown device 'nope'"),
    (["snn", "--device", "sige_epiram:x"], "read-noise fraction"),
    (["snn", "--model", "mlp400_binary", "--test-images", "5"], "ReLU"),
    (["snn", "--steps", "10", "--checkpoints", "20"], None),
])
def test_cli_errors_are_one_line(argv, message, monkeypatch, capsys, tmp_path):
    rc = _cli(argv + ["--out", str(tmp_path), "--test-images", "5", "--no-plot"], monkeypatch)
    err = capsys.readouterr().err
    if message is None:  # checkpoints beyond --steps are dropped, not an error
        assert rc == 0
        return
    assert rc == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_rejects_non_positive_steps(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exc:
        _cli(["snn", "--steps", "0"], monkeypatch)
    assert exc.value.code == 2 and "--steps" in capsys.readouterr().err


def test_plots_from_sweep_records():
    from neurosim.convert.snn.plots import plot_accuracy_vs_steps, sweep_curves

    records = [{"settings": {"device": d, "steps": 20}, "metrics": {"accuracy_membrane_5": 0.5 + s / 100, "accuracy_membrane_20": 0.9,
                                                                   "software_accuracy": 0.95}}
               for d in ("ideal", "sige_epiram") for s in range(3)]
    curves, software = sweep_curves(records)
    assert set(curves) == {"ideal", "sige_epiram"} and software == pytest.approx(0.95)
    steps, mean, std = curves["ideal"]
    assert list(steps) == [5, 20] and mean[0] == pytest.approx(0.51) and std[0] == pytest.approx(0.01)
    ax = plot_accuracy_vs_steps(curves, reference=software)
    assert len(ax.lines) >= 3
    with pytest.raises(NeurosimError):
        sweep_curves([{"settings": {}, "metrics": {"accuracy": 1}}])


@pytest.mark.slow
@pytest.mark.parametrize("device, allowed_drop", [("ideal", 0.005), (noisy_sige(0.02), 0.01)])
def test_full_test_set_within_half_a_percent_of_the_ann(mnist, converted, device, allowed_drop):
    model, x, y, _ = mnist
    snn = CrossbarSNN(converted, device, rng=0)
    run = snn.run(x, 100, rng=0, checkpoints=[100])
    assert run.accuracy(y, "membrane")[-1] >= model.accuracy(x, y) - allowed_drop
    assert run.accuracy(y, "spikes")[-1] >= model.accuracy(x, y) - allowed_drop
