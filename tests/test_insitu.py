"""In-situ (on-chip) training: kernels against their NumPy twins, device physics of the updates,
the SGD step, windows, reproducibility and resume, the crossbar read, the CLI and the sweep task.

Everything here runs on scikit-learn's 8x8 digits (binarised) or on random
data with small networks; the full MNIST reproductions are marked slow.
"""

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.crossbar import CrossbarLayer, Mapping, PulsePolicy, WeightScale
from neurosim.crossbar.config import DacMode, WireConfig
from neurosim.crossbar.kernels import readout_numpy
from neurosim.device import DeviceArray, DeviceModel, ProgramMethod, ReadNoise, load_device
from neurosim.streams import counter_words_numpy, normals_from_counters_numpy
from neurosim.errors import NeurosimError
from neurosim.networks import mlp
from neurosim.networks.insitu import (
    Backward,
    DeviceNetwork,
    FloatNetwork,
    HiddenUpdate,
    InsituConfig,
    InsituData,
    Optimizer,
    PulseRounding,
    digits_data,
    load_trained,
    train_insitu,
    train_software,
)
from neurosim.networks.insitu import kernels as K
from neurosim.networks.insitu.cli import add_insitu_parser, parse_assignment

EPS = np.finfo(np.float64).eps
REF_XB = InsituConfig().crossbar


def _xb(**changes):
    """The reference protocol's crossbar settings with ``changes``."""
    return replace(REF_XB, **changes)


SMALL = InsituConfig(sizes=(64, 24, 10), epochs=3, images_per_epoch=300)


@pytest.fixture(scope="module")
def digits():
    return digits_data()


def _noisy_sige():
    """SiGe with every source of randomness switched on: read noise, variation, stuck devices."""
    return replace(
        load_device("sige_epiram"),
        read_noise_frac=0.05,
        d2d_nl_sigma_frac=0.2,
        d2d_g_sigma_frac=0.05,
        stuck_off_frac=0.01,
        stuck_on_frac=0.01,
    )


def _chunk(net, data, order, t0=0, key=99, backend="numba"):
    stats = np.zeros(K.ST_SIZE, dtype=np.int64)
    loss = np.zeros(K.LS_SIZE)
    if isinstance(net, DeviceNetwork):
        net.train_chunk(data.csr, data.train_labels, order, t0, stats, loss, key, backend)
    else:
        net.train_chunk(data.csr, data.train_labels, order, t0, stats, loss, backend)
    return stats, loss  # the squared error and the conductance sums (K.LS_*)


def _conductances(net):
    return {k: v for k, v in net.state_arrays().items() if k.endswith(".g_S")}


# -- configuration --------------------------------------------------------------------------------
def test_reference_protocol_defaults():
    c = InsituConfig()
    assert c.sizes == (400, 100, 10) and c.epochs == 125 and c.images_per_epoch == 8000
    assert (c.lr_hidden, c.lr_output) == (0.4, 0.2) and c.weight_max == 1.0
    xb = c.crossbar
    assert xb.mapping is Mapping.REFERENCE_COLUMN and xb.adc_bits == 8 and c.threshold_hidden
    assert (xb.rows, xb.cols, xb.weight_scale, xb.dac_bits, xb.wire) == (128, 128, WeightScale.FIXED, None, None)
    assert c.hidden_threshold == 0.5 and c.optimizer is Optimizer.SGD and c.pulse_rounding is PulseRounding.NEAREST
    # hidden: NeuroSim's full scale, the whole 400-row column's largest output (for each tile's
    # partial sum); output: the sigmoid's range
    assert c.adc_ranges() == (400.0, 16.0, 10.0)


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(sizes=(400, 100)), "sizes"),
        (dict(epochs=0), "epochs"),
        (dict(lr_hidden=-0.1), "lr_hidden"),
        (dict(lr_output=float("nan")), "lr_output"),
        (dict(momentum=1.0), "momentum"),
        (dict(init_weight_max=2.0), "init_weight_max"),
        (dict(adc_range_hidden=0.0), "adc_range_hidden"),
        (dict(crossbar="differential"), "crossbar"),
        (dict(crossbar=_xb(weight_scale=WeightScale.MAX)), "crossbar.weight_scale"),
        (dict(crossbar=_xb(adc_range=4.0)), "crossbar.adc_range"),
        (dict(crossbar=_xb(wire=WireConfig())), "crossbar.wire"),
        (dict(crossbar=_xb(dac_bits=4, dac_mode=DacMode.BIT_SERIAL)), "crossbar.dac_mode"),
        (dict(crossbar=_xb(cols=64)), "crossbar.cols"),
        (dict(hidden_threshold=1.0), "hidden_threshold"),
        (dict(threshold_hidden=1), "threshold_hidden"),
    ],
)
def test_bad_settings_name_the_field(changes, field):
    with pytest.raises(NeurosimError, match=field):
        replace(InsituConfig(), **changes)


def test_config_round_trips_through_plain_values():
    c = InsituConfig(crossbar=_xb(mapping=Mapping.DIFFERENTIAL, adc_bits=None), pulse_rounding=PulseRounding.STOCHASTIC)
    assert InsituConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(NeurosimError, match="unknown in-situ setting"):
        InsituConfig.from_dict({"learning_rate": 0.1})
    with pytest.raises(NeurosimError, match="pulse_rounding"):
        InsituConfig.from_dict({"pulse_rounding": "up"})


def test_bad_data_and_arguments_are_rejected(digits):
    with pytest.raises(NeurosimError, match="inputs"):
        train_software(InsituConfig(epochs=1, images_per_epoch=5), data=digits)  # 400 inputs, digits have 64
    with pytest.raises(NeurosimError, match="NaN"):
        InsituData.from_arrays(np.full((3, 4), np.nan), [0, 1, 2], np.zeros((2, 4)), [0, 1])
    with pytest.raises(NeurosimError, match="backend"):
        train_software(SMALL, data=digits, backend="cuda")
    with pytest.raises(NeurosimError, match="rng"):
        train_software(SMALL, data=digits, rng="seed")
    with pytest.raises(NeurosimError, match="unknown device"):
        train_insitu("no_such_card", SMALL, data=digits)


# -- kernels against their NumPy twins -------------------------------------------------------------
TWIN_CASES = [
    dict(),
    dict(crossbar=_xb(mapping=Mapping.DIFFERENTIAL)),
    dict(pulse_rounding=PulseRounding.STOCHASTIC, crossbar=_xb(rows=20, dac_bits=3)),
    dict(crossbar=_xb(mapping=Mapping.DIFFERENTIAL, rows=16), pulse_rounding=PulseRounding.TRUNCATE,
         hidden_update=HiddenUpdate.THRESHOLDED),  # fmt: skip
    dict(backward=Backward.TRANSPOSED_READ, crossbar=_xb(output_noise_frac=0.02, dac_bits=4), adc_range_hidden=4.0),
    dict(crossbar=_xb(mapping=Mapping.DIFFERENTIAL, adc_bits=None), backward=Backward.TRANSPOSED_READ,
         optimizer=Optimizer.MOMENTUM),  # fmt: skip
    dict(crossbar=_xb(mapping=Mapping.DIFFERENTIAL), pulse_policy=PulsePolicy.BOTH,
         pulse_rounding=PulseRounding.STOCHASTIC),  # fmt: skip
    dict(optimizer=Optimizer.MOMENTUM, pulse_rounding=PulseRounding.STOCHASTIC, threshold_hidden=False),
    dict(crossbar=_xb(cell_r_series_ohm=15e3)),
    dict(crossbar=_xb(mapping=Mapping.DIFFERENTIAL, cell_r_series_ohm=15e3), backward=Backward.TRANSPOSED_READ),
]


@pytest.mark.parametrize("changes", TWIN_CASES, ids=[",".join(c) or "reference" for c in TWIN_CASES])
@pytest.mark.parametrize("read_noise", list(ReadNoise))
def test_device_kernel_matches_numpy_twin(digits, changes, read_noise):
    config = replace(SMALL, lr_hidden=2.0, lr_output=1.0, **changes)  # large steps: many pulses
    device = replace(_noisy_sige(), read_noise=read_noise)
    a, b = DeviceNetwork(device, config, 5), DeviceNetwork(device, config, 5)
    order = np.random.default_rng(1).integers(0, digits.n_train, 12)
    # two chunks on the Numba side, one on the NumPy side: chunking must not matter
    sa1, la1 = _chunk(a, digits, order[:5], t0=40)
    sa2, la2 = _chunk(a, digits, order[5:], t0=45)
    sb, lb = _chunk(b, digits, order, t0=40, backend="numpy")
    np.testing.assert_array_equal(sa1 + sa2, sb)  # every count, the per-layer events included
    assert sb[K.ST_WRITES] > 50  # the comparison covers real pulse traffic
    ev = K.layer_events(sb)
    assert sum(e.pulses_ltp for e in ev) == sb[K.ST_PULSES_LTP] and sum(e.writes for e in ev) == sb[K.ST_WRITES]
    assert sum(e.pulses_ltd for e in ev) == sb[K.ST_PULSES_LTD] and min(e.writes for e in ev) > 0
    tiles = -(-64 // config.crossbar.rows)
    assert ev[0].dac_conversions == 12 * 64 and ev[0].adc_conversions == 12 * 24 * tiles and ev[0].tile_reads == 12 * tiles
    backward = 10 if config.backward is Backward.TRANSPOSED_READ else 0  # the transposed read's inputs
    assert ev[1].dac_conversions == 12 * (24 + backward) and ev[1].cell_reads > 0
    assert la1 + la2 == pytest.approx(lb, rel=1e3 * EPS)
    ga, gb = _conductances(a), _conductances(b)
    for name in ga:
        # the core's write forms d^n from squares, its twin with pow: rounding at the window's scale
        np.testing.assert_allclose(ga[name], gb[name], rtol=64 * EPS, atol=64 * EPS * device.g_max_S, err_msg=name)
    np.testing.assert_allclose(a.vel1, b.vel1, rtol=1e3 * EPS, atol=1e-15)


@pytest.mark.parametrize("mapping", list(Mapping))
def test_training_read_counts_match_the_forward_read_and_scale_with_the_images(digits, mapping):
    config = replace(SMALL, crossbar=_xb(mapping=mapping, rows=20, dac_bits=3), backward=Backward.TRANSPOSED_READ)
    order = np.random.default_rng(3).integers(0, digits.n_train, 30)
    once, _ = _chunk(DeviceNetwork(load_device("sige_epiram"), config, 5), digits, order)
    twice, _ = _chunk(DeviceNetwork(load_device("sige_epiram"), config, 5), digits, np.concatenate([order, order]))
    once, twice = K.layer_events(once), K.layer_events(twice)
    for a, b in zip(once, twice):  # the weights change, so only the hidden layer's cell reads repeat exactly
        for name in ("dac_conversions", "adc_conversions", "tile_reads"):
            assert getattr(b, name) == 2 * getattr(a, name) > 0
    assert twice[0].cell_reads == 2 * once[0].cell_reads
    # the evaluation read (NumPy, batched) counts the hidden layer's reads of the same images alike
    net = DeviceNetwork(load_device("sige_epiram"), config, 5)
    x = _dense(digits, order)
    net.forward(x)
    read = net.read_events[0]
    assert [read.dac_conversions, read.adc_conversions, read.cell_reads, read.tile_reads] == [
        once[0].dac_conversions, once[0].adc_conversions, once[0].cell_reads, once[0].tile_reads]
    net.reset_read_events()
    assert net.read_events[0].dac_conversions == 0


def _dense(data, order):
    indptr, indices, values = data.csr
    x = np.zeros((len(order), 64))
    for b, t in enumerate(order):
        x[b, indices[indptr[t] : indptr[t + 1]]] = values[indptr[t] : indptr[t + 1]]
    return x


@pytest.mark.parametrize(
    "changes", [dict(), dict(threshold_hidden=True, crossbar=_xb(adc_bits=6)), dict(optimizer=Optimizer.MOMENTUM)]
)
def test_float_kernel_matches_numpy_twin(digits, changes):
    config = replace(SMALL, **{"threshold_hidden": False, "crossbar": _xb(adc_bits=None), **changes})
    a, b = FloatNetwork(config, 3), FloatNetwork(config, 3)
    order = np.random.default_rng(2).integers(0, digits.n_train, 40)
    sa, _ = _chunk(a, digits, order)
    sb, _ = _chunk(b, digits, order, backend="numpy")
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_allclose(a.W1, b.W1, rtol=0, atol=1e3 * EPS)
    np.testing.assert_allclose(a.W2, b.W2, rtol=0, atol=1e3 * EPS)


def test_kernels_run_without_jit():
    code = (
        "import numpy as np;"
        "from neurosim.networks.insitu import digits_data, train_insitu, train_software, InsituConfig;"
        "from neurosim.networks.insitu import kernels as K;"
        "assert not hasattr(K.train_hw_numba, 'signatures');"
        "d = digits_data(); c = InsituConfig(sizes=(64, 8, 10), epochs=1, images_per_epoch=20);"
        "a = train_insitu('sige_epiram', c, data=d, rng=1);"
        "b = train_insitu('sige_epiram', c, data=d, rng=1, backend='numpy');"
        "assert a.final_accuracy == b.final_accuracy;"
        "assert train_software(c, data=d).final_accuracy > 0"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# -- physics of the updates -----------------------------------------------------------------------
def _linear(levels=64, **changes):
    return DeviceModel(
        name="linear", g_min_S=1e-6, g_max_S=11e-6, levels_ltp=levels, levels_ltd=levels, snap_to_levels=True, **changes
    )


@pytest.mark.parametrize("mapping", [Mapping.REFERENCE_COLUMN, Mapping.DIFFERENTIAL])
def test_one_update_of_a_noiseless_linear_device_is_the_sgd_step_up_to_levels(digits, mapping):
    """One image: weight changes on the devices = the float SGD step rounded to whole pulses."""
    levels = 64
    config = replace(SMALL, crossbar=_xb(mapping=mapping), init_weight_max=0.5)
    net = DeviceNetwork(_linear(levels), config, 7)
    W1, W2 = net.weights()
    ref = FloatNetwork(config, 0)  # the same network in float, from the devices' weights
    ref.W1[:], ref.W2[:] = W1.T.ravel(), W2.T.ravel()
    image = np.array([3])
    _chunk(net, digits, image)
    _chunk(ref, digits, image)
    step = config.weight_max * (2.0 if mapping is Mapping.REFERENCE_COLUMN else 1.0) / levels  # weight per pulse
    for before, after_dev, after_float in zip((W1, W2), net.weights(), ref.weights()):
        sgd = after_float - before
        moved = after_dev - before
        rounded = np.sign(sgd) * np.floor(np.abs(sgd) / step + 0.5) * step
        assert np.count_nonzero(moved) > 20
        # differential pairs: a change that would carry a weight across zero stops at zero
        crossing = (before != 0) & (np.sign(before + rounded) == -np.sign(before))
        if mapping is Mapping.REFERENCE_COLUMN:
            assert not crossing.any()
        np.testing.assert_allclose(moved[~crossing], rounded[~crossing], atol=1e-12)
        np.testing.assert_allclose(after_dev[crossing], 0.0, atol=1e-12)
        assert np.max(np.abs(moved - sgd)[~crossing]) <= step / 2 + 1e-12


def test_float_step_is_the_gradient_of_the_squared_error(digits):
    """The float kernel's step equals -lr x the gradient of sum (a - t)^2 from the library's MLP (an independent code)."""
    config = replace(SMALL, threshold_hidden=False, crossbar=_xb(adc_bits=None), init_weight_max=0.3)
    net = FloatNetwork(config, 4)
    W1, W2 = net.weights()
    t = 11
    x = np.zeros((1, 64))
    row = slice(digits.indptr[t], digits.indptr[t + 1])
    x[0, digits.indices[row]] = digits.values[row]
    params = [(W1, np.zeros(W1.shape[0])), (W2, np.zeros(W2.shape[0]))]
    _, grads = mlp.loss_and_gradients(
        params, x, digits.train_labels[[t]], activation="sigmoid", output="sigmoid_squared_error"
    )
    _chunk(net, digits, np.array([t]))
    new1, new2 = net.weights()
    # mlp's loss is 0.5 sum (a - t)^2: our sum (a - t)^2 has twice its gradient
    np.testing.assert_allclose(new1 - W1, -config.lr_hidden * 2 * grads[0][0], atol=1e-13)
    np.testing.assert_allclose(new2 - W2, -config.lr_output * 2 * grads[1][0], atol=1e-13)


_DEVICES = st.builds(
    lambda levels_p, levels_d, nl_p, nl_d, c2c, d2d: DeviceModel(
        name="random", g_min_S=0.5e-6, g_max_S=20e-6, levels_ltp=levels_p, levels_ltd=levels_d,
        nl_ltp=nl_p, nl_ltd=nl_d, c2c_sigma_frac=c2c, d2d_g_sigma_frac=d2d, d2d_nl_sigma_frac=d2d,
    ),  # fmt: skip
    st.integers(2, 300),
    st.integers(2, 300),
    st.floats(-8, 8),
    st.floats(-8, 8),
    st.floats(0, 0.5),
    st.floats(0, 0.3),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    device=_DEVICES,
    mapping=st.sampled_from(list(Mapping)),
    rounding=st.sampled_from(list(PulseRounding)),
    momentum=st.booleans(),
    lr=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**32),
)
def test_conductances_never_leave_their_window(digits, device, mapping, rounding, momentum, lr, seed):
    """Any pulse sequence (huge or tiny steps, any curve, heavy noise) keeps every device inside its own window."""
    optimizer = Optimizer.MOMENTUM if momentum else Optimizer.SGD
    config = replace(SMALL, sizes=(64, 6, 10), crossbar=_xb(mapping=mapping), pulse_rounding=rounding, optimizer=optimizer,
                     lr_hidden=lr, lr_output=lr)  # fmt: skip
    net = DeviceNetwork(device, config, seed)
    order = np.random.default_rng(seed).integers(0, digits.n_train, 30)
    _chunk(net, digits, order, key=seed)
    for name, arr in net.arrays.items():
        g = arr.conductance_S
        assert np.all(g >= arr.g_lo_S) and np.all(g <= arr.g_hi_S), name
    for W in net.weights():
        assert np.all(np.isfinite(W))


def test_stuck_devices_never_move(digits):
    device = replace(load_device("sige_epiram"), stuck_off_frac=0.2, stuck_on_frac=0.2)
    net = DeviceNetwork(device, replace(SMALL, lr_hidden=3.0, lr_output=3.0), 1)
    before = {n: a.conductance_S.copy() for n, a in net.arrays.items()}
    _chunk(net, digits, np.arange(50))
    moved = 0
    for name, arr in net.arrays.items():
        g = arr.conductance_S
        np.testing.assert_array_equal(g[arr.stuck], before[name][arr.stuck])
        moved += np.count_nonzero(g[~arr.stuck] != before[name][~arr.stuck])
    assert moved > 100


def test_reference_devices_are_never_written(digits):
    net = DeviceNetwork(load_device("sige_epiram"), replace(SMALL, lr_hidden=3.0), 2)
    ref_before = [a.conductance_S[:, -1].copy() for a in net.arrays.values()]
    _chunk(net, digits, np.arange(30))
    for arr, before in zip(net.arrays.values(), ref_before):
        np.testing.assert_array_equal(arr.conductance_S[:, -1], before)


def test_nonlinear_device_updates_follow_its_curve():
    """One potentiation pulse on the reference mapping moves a noiseless SiGe device by its curve's step."""
    device = replace(load_device("sige_epiram"), c2c_sigma_frac=0.0)
    config = InsituConfig(sizes=(1, 1, 2), init_weight_max=0.0, threshold_hidden=False, crossbar=_xb(adc_bits=None),
                          lr_hidden=1e-9, lr_output=1.0)  # fmt: skip
    net = DeviceNetwork(device, config, 0)
    data = InsituData.from_arrays(np.ones((1, 1)), [0], np.ones((1, 1)), [0])
    g0 = net.arrays["layer2.main"].conductance_S.copy()
    _chunk(net, data, np.array([0]))
    g1 = net.arrays["layer2.main"].conductance_S
    # target class 0 rises and class 1 falls: s2 = -2 a (1 - a)(t - a) with a = sigmoid(0) = 0.5
    a1 = 0.5
    dw = 1.0 * 2 * 0.25 * 0.5 * a1  # lr * 2 a(1-a) |t - a| * hidden input
    n = math.floor(dw / (2.0 / device.levels_ltp) + 0.5)
    args = (device.g_min_S, device.g_max_S, device.a_ltp, device.levels_ltp)
    from neurosim.device import curve

    p0 = curve.potentiation_pulses(g0[0, 0], *args)
    assert n == 4 and g1[0, 0] == pytest.approx(curve.potentiation_conductance(p0 + n, *args), rel=1e-10)
    q0 = curve.depression_pulses(g0[0, 1], device.g_min_S, device.g_max_S, device.a_ltd, device.levels_ltd)
    expected = curve.depression_conductance(q0 + n, device.g_min_S, device.g_max_S, device.a_ltd, device.levels_ltd)
    assert g1[0, 1] == pytest.approx(expected, rel=1e-10)


# -- the hardware read ---------------------------------------------------------------------------
def _layer_and_network(mapping, device="ideal", rows=16, dac_bits=None, r_series_ohm=None):
    """A network on ``device`` (crossbar tiles of ``rows`` rows) and a CrossbarLayer holding its first layer's devices."""
    if isinstance(device, str):
        device = load_device(device)
    xb = _xb(mapping=mapping, rows=rows, dac_bits=dac_bits, cell_r_series_ohm=r_series_ohm)
    config = InsituConfig(sizes=(40, 12, 10), crossbar=xb, adc_range_hidden=6.0)
    net = DeviceNetwork(device, config, 3)
    W1 = net.weights()[0]
    cols = 13 if mapping is Mapping.REFERENCE_COLUMN else 12
    layer = CrossbarLayer(W1, device, replace(xb, cols=cols, adc_range=6.0), rng=0)
    for r, (r0, r1) in enumerate(layer.row_edges):  # the same conductances, tile by tile
        for role, arr in layer.tiles[r][0].arrays.items():
            arr.state_buffer_S[:] = net.arrays[f"layer1.{role}"].conductance_S[r0:r1].ravel()
        layer.tiles[r][0]._cache.clear()
    return net, layer


def _fused_read(net, x, key, backend):
    """The training kernel's forward read of layer 1 (one vector at a time), with tile keys from ``key``."""
    n_h = net.config.sizes[1]
    gA, _, gB, _ = net._layers[:4]
    ref = int(net.reference)
    cells = net.device.read_noise_frac > 0
    out = np.zeros((x.shape[0], n_h))
    clipped = 0
    for b, v in enumerate(x):
        rows = np.flatnonzero(v).astype(np.int64)
        args = (net.ip, net.fp, net.fp[K.FP_STEP1], int(net.fp[K.FP_MAX1]), np.uint64(key) ^ K.READ_SALT, b * 10)
        if backend == "numba":
            bufs = (np.zeros((1, n_h)), np.zeros((1, n_h + ref if cells else 0)), out[b : b + 1])
            clipped += K._layer_read(gA, gB, 40, ref, rows, v[rows], rows.size, *args, *bufs, np.zeros(n_h + 1),
                                     np.zeros(1), 0)  # fmt: skip
        else:
            pos, neg = K._layer_views(gA, gB, 40, n_h, ref)
            out[b], c = K._layer_read_numpy(pos, neg, ref, rows, v[rows], *args)
            clipped += c
    return out, clipped


@pytest.mark.parametrize("dac_bits, r_series_ohm", [(None, None), (2, None), (None, 15e3)])
@pytest.mark.parametrize("mapping", [Mapping.REFERENCE_COLUMN, Mapping.DIFFERENTIAL])
def test_forward_read_equals_the_crossbar_layer(mapping, dac_bits, r_series_ohm):
    """The fused kernel's read, the network's batch read and CrossbarLayer.forward agree on the same conductances.

    Ideal device, 8-bit ADC on the partial sums of 16-row tiles (3 tiles for 40 inputs), an optional 2-bit
    DAC, optionally a 15 kOhm series resistor in every cell. The three compute the partial sums in
    different orders, so values agree to rounding and codes agree except at a code boundary (none here).
    """
    net, layer = _layer_and_network(mapping, dac_bits=dac_bits, r_series_ohm=r_series_ohm)
    assert len(layer.row_edges) == 3
    rng = np.random.default_rng(0)
    x = (rng.random((200, 40)) < 0.3) * rng.choice([1.0, 0.7], (200, 40))
    theirs = layer.forward(x)
    assert r_series_ohm or np.count_nonzero(np.abs(theirs) >= 6.0) > 0  # some conversions clip (the resistor shrinks them)
    np.testing.assert_allclose(net._layer_read(x, 1, np.zeros(3, np.uint64)), theirs, atol=1e-12)
    for backend in ("numba", "numpy"):
        ours, clipped = _fused_read(net, x, 0, backend)
        np.testing.assert_allclose(ours, theirs, atol=1e-12)
        assert clipped == layer.clip_counts.adc_clipped


@pytest.mark.parametrize("read_noise", list(ReadNoise))
@pytest.mark.parametrize("mapping", [Mapping.REFERENCE_COLUMN, Mapping.DIFFERENTIAL])
@pytest.mark.parametrize("r_series_ohm", [None, 15e3])
def test_noisy_forward_read_is_the_crossbar_read_out_of_each_tile(mapping, read_noise, r_series_ohm):
    """With read noise, the fused read is readout_numpy on CrossbarLayer's tile matrices, tile keys shared
    (also through the cells' series resistance: signal and noise scaled alike)."""
    device = replace(load_device("sige_epiram"), read_noise_frac=0.05, read_noise=read_noise)
    net, layer = _layer_and_network(mapping, device, r_series_ohm=r_series_ohm)
    rng = np.random.default_rng(1)
    x = (rng.random((30, 40)) < 0.4).astype(np.float64)
    key = 1234
    expected = np.zeros((30, 12))
    for b, v in enumerate(x):
        for r, (r0, r1) in enumerate(layer.row_edges):
            m = layer.tiles[r][0].read_matrices(0.0, False, np.float64)
            v2 = (v[r0:r1] ** 2)[None, :]
            tile_key = counter_words_numpy(np.uint64(key) ^ K.READ_SALT, b * 10 + r)
            readout_numpy(v[None, r0:r1] @ m.signal, v2 @ m.var, m.has_reference, 0.0, 6.0 / 127, 127, 1.0,
                          tile_key, expected[b : b + 1], 0)  # fmt: skip
    for backend in ("numba", "numpy"):
        ours, _ = _fused_read(net, x, key, backend)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)
    noise_free, _ = _fused_read(replace_device_noise(net), x, key, "numba")
    assert np.mean(ours != noise_free) > 0.3  # the noise is there


def replace_device_noise(net):
    """The same network state read without read noise."""
    quiet = DeviceNetwork.from_state_arrays(replace(net.device, read_noise_frac=0.0), net.config, net.state_arrays())
    return quiet


def test_in_situ_write_is_the_device_array_write():
    """The fused kernel's write of each device equals DeviceArray.apply_pulses on the same draws (trains beyond the levels)."""
    device = replace(_noisy_sige(), c2c_sigma_frac=0.05)
    arr = DeviceArray(device, (30, 20), 4)
    arr.program(np.full(arr.shape, 0.5 * (device.g_min_S + device.g_max_S)), rng=1)
    n = np.random.default_rng(2).integers(-200, 201, arr.shape)
    n[0, :5] = 0
    g = arr.state_buffer_S.copy()
    key = np.random.default_rng(3).integers(2**63, dtype=np.uint64)  # the key apply_pulses draws from rng=3
    stats = np.zeros(K.ST_SIZE, dtype=np.int64)
    loss, loss_numpy = np.zeros(K.LS_SIZE), np.zeros(K.LS_SIZE)
    z = normals_from_counters_numpy(key, np.arange(g.size))
    P = (*arr.write_params[:6], arr.write_params[7])
    for d in range(g.size):
        if n.flat[d]:
            K._write(g, P, device.c2c_sigma_frac, d, n.flat[d], z[d], stats, loss)
    g_numpy = arr.state_buffer_S.copy()
    K._write_numpy(g_numpy, P, device.c2c_sigma_frac, np.arange(g.size), n.ravel(), key, 0, 0, stats, loss_numpy)
    arr.reset_events()
    arr.apply_pulses(n, rng=3)
    np.testing.assert_array_equal(g, arr.state_buffer_S)
    # the write conductance sums (mean G over each train, times its pulses) agree with the device array's
    np.testing.assert_allclose(loss[[K.LS_WRITE_LTP, K.LS_WRITE_LTD]], arr.write_conductance_S, rtol=1e-12)
    np.testing.assert_allclose(loss_numpy[[K.LS_WRITE_LTP, K.LS_WRITE_LTD]], arr.write_conductance_S, rtol=1e-9)
    # the twin's d^n is a pow, the kernel's a product of squares: rounding of the window's scale
    np.testing.assert_allclose(g_numpy, g, rtol=0, atol=64 * EPS * device.g_max_S)
    assert stats[K.ST_PULSES_LTP] == 2 * n[n > 0].sum() and stats[K.ST_WRITES] == 2 * np.count_nonzero(n)
    # no cap at the levels: a train of 4 x levels saturates at the window with sqrt(n) noise
    assert np.any(np.abs(n) > device.levels_ltp)


# -- runs: reproducibility, resume, files ---------------------------------------------------------
def _strip_times(history):
    return [replace(r, time_s=0.0) for r in history]


def test_runs_are_reproducible_from_their_seed(digits):
    a = train_insitu("sige_epiram", SMALL, data=digits, rng=4)
    b = train_insitu("sige_epiram", SMALL, data=digits, rng=4, chunk_images=37)
    c = train_insitu("sige_epiram", SMALL, data=digits, rng=5)
    assert _strip_times(a.history) == _strip_times(b.history)
    for name, g in _conductances(a.network).items():
        np.testing.assert_array_equal(g, _conductances(b.network)[name])
    assert _strip_times(a.history) != _strip_times(c.history)


@pytest.mark.parametrize("kind", ["device", "software"])
def test_resume_after_interruption_equals_an_uninterrupted_run(digits, tmp_path, kind):
    config = replace(SMALL, epochs=4, crossbar=_xb(mapping=Mapping.DIFFERENTIAL), pulse_rounding=PulseRounding.STOCHASTIC)

    def run(out, callback=None):
        if kind == "device":
            return train_insitu(_noisy_sige(), config, data=digits, rng=8, out_dir=out, callback=callback)
        return train_software(config, data=digits, rng=8, out_dir=out, callback=callback)

    whole = run(tmp_path / "whole")

    def interrupt(record):
        if record.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", interrupt)
    assert (tmp_path / "cut" / "checkpoint.npz").exists()
    resumed = run(tmp_path / "cut")
    assert _strip_times(resumed.history) == _strip_times(whole.history)
    sa, sb = whole.network.state_arrays(), resumed.network.state_arrays()
    for name in sa:
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)
    for name in ("history.csv", "run.json", "learning_curve.png"):
        assert (tmp_path / "cut" / name).stat().st_size > 100
    summary = json.loads((tmp_path / "cut" / "run.json").read_text())
    assert summary["complete"] and summary["epochs_trained"] == 4 and summary["seed"] == 8
    assert (tmp_path / "cut" / "history.csv").read_text().count("\n") == 5
    # the saved state is the trained network
    net, cfg, device = load_trained(tmp_path / "cut")
    assert cfg == whole.config and (device is None) == (kind == "software")
    np.testing.assert_array_equal(net.forward(digits.test_x, 1), whole.network.forward(digits.test_x, 1))


def test_resume_refuses_a_different_run_and_extends_a_finished_one(digits, tmp_path):
    out = tmp_path / "run"
    first = train_insitu("sige_epiram", replace(SMALL, epochs=2), data=digits, rng=1, out_dir=out)
    with pytest.raises(NeurosimError, match="lr_hidden"):
        train_insitu("sige_epiram", replace(SMALL, epochs=2, lr_hidden=0.1), data=digits, rng=1, out_dir=out)
    with pytest.raises(NeurosimError, match="entropy"):
        train_insitu("sige_epiram", replace(SMALL, epochs=2), data=digits, rng=2, out_dir=out)
    with pytest.raises(NeurosimError, match="device"):
        train_insitu("ideal", replace(SMALL, epochs=2), data=digits, rng=1, out_dir=out)
    longer = train_insitu("sige_epiram", replace(SMALL, epochs=3), data=digits, rng=None, out_dir=out)
    assert _strip_times(longer.history[:2]) == _strip_times(first.history)
    straight = train_insitu("sige_epiram", replace(SMALL, epochs=3), data=digits, rng=1)
    assert _strip_times(longer.history) == _strip_times(straight.history)


def test_training_learns_the_digits(digits):
    config = replace(SMALL, epochs=6, images_per_epoch=1000, sizes=(64, 32, 10))
    soft = train_software(config, data=digits, rng=0)
    ideal = train_insitu("ideal", config, data=digits, rng=0)
    sige = train_insitu("sige_epiram", config, data=digits, rng=0)
    assert soft.final_accuracy > 0.85
    assert ideal.final_accuracy > 0.8
    assert sige.final_accuracy > 0.6
    assert sige.history[-1].pulses_ltp > 0 and sige.history[-1].pulses_ltd > 0


# -- command line and sweep task ------------------------------------------------------------------
def _parser():
    parser = argparse.ArgumentParser(prog="neurosim")
    add_insitu_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_trains_writes_files_and_resumes(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["insitu", "--dataset", "digits", "--epochs", "2", "--images-per-epoch", "200", "--out", str(out),
            "--set", "adc_range_hidden=8", "--mapping", "differential", "--set", "crossbar.rows=32",
            "--set", "device.c2c_sigma_frac=0.01"]  # fmt: skip
    args = _parser().parse_args(argv)
    args.func(args)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("epoch,images,test_accuracy") and len(lines) == 3
    args = _parser().parse_args([*argv[:4], "3", *argv[5:], "--json"])
    args.func(args)
    result = json.loads(capsys.readouterr().out)
    assert result["epochs_trained"] == 3 and result["device"] == "sige_epiram"
    assert result["config"]["crossbar"]["mapping"] == "differential" and result["config"]["adc_range_hidden"] == 8
    assert result["config"]["crossbar"]["rows"] == 32
    assert set(result["files"]) == {"checkpoint", "history", "json", "plot"}
    events = result["events"]  # the resumed epochs' events come from the checkpoint's history
    assert len(events["layers"]) == 2 and events["training"]["total"]["pulses_ltp"] > 0
    assert events["training"]["layers"][0]["dac_conversions"] == 3 * 200 * 64
    tested = sum(r["test_accuracy"] is not None for r in result["history"])
    assert events["evaluation"]["layers"][0]["dac_conversions"] == tested * digits_data().test_x.shape[0] * 64 > 0
    assert events["total"]["adc_conversions"] == sum(events[p]["total"]["adc_conversions"] for p in ("training", "evaluation"))


def test_cli_user_mistakes_raise_clear_errors():
    for argv, match in (
        (["insitu", "--dataset", "digits", "--set", "foo=1"], "unknown setting 'foo'"),
        (["insitu", "--dataset", "digits", "--set", "crossbar.adc_bits=1"], "adc_bits"),
        (["insitu", "--dataset", "digits", "--set", "adc_bits=8"], "adc_bits"),
        (["insitu", "--dataset", "digits", "--device", "nope"], "unknown device"),
        (["insitu", "--software", "--dataset", "digits", "--set", "device.c2c_sigma_frac=0.1"], "no sense"),
    ):
        args = _parser().parse_args(argv)
        with pytest.raises(NeurosimError, match=match):
            args.func(args)
    with pytest.raises(SystemExit):
        _parser().parse_args(["insitu", "--epochs", "0"])
    assert parse_assignment("adc_bits=none") == ("adc_bits", None)
    assert parse_assignment("sizes=[64, 16, 10]") == ("sizes", [64, 16, 10])
    assert parse_assignment("mapping=differential") == ("mapping", "differential")


def test_sweep_task_compares_devices(tmp_path):
    from neurosim.sweep import load_spec, parse_spec, run_sweep

    spec = parse_spec(
        {
            "name": "insitu_small",
            "task": "neurosim.networks.insitu.tasks:insitu_point",
            "seeds": 1,
            "base": {"dataset": "digits", "epochs": 2, "images_per_epoch": 300},
            "grid": {"device": ["software", "ideal", "sige_epiram"]},
            "plot": {"kind": "bar", "x": "device"},
        }
    )
    csv_path = run_sweep(spec, tmp_path / "sweep", workers=1)
    rows = csv_path.read_text().strip().splitlines()
    assert len(rows) == 4 and "accuracy" in rows[0] and "pulses_per_image" in rows[0]
    assert (tmp_path / "sweep" / "insitu_small.png").stat().st_size > 10_000
    with pytest.raises(NeurosimError, match="unknown setting"):
        parse_spec({"task": "neurosim.networks.insitu.tasks:insitu_point", "grid": {"lr": [0.1]}})
    # the shipped specs (one per protocol) cover NeuroSim V3's seven devices and validate
    for name, protocol in (("insitu_device_comparison", "project"), ("insitu_device_comparison_neurosim_v3", "neurosim_v3")):
        shipped = load_spec(Path(__file__).resolve().parents[1] / "experiments" / f"{name}.toml")
        assert set(shipped.grid["device"]) == set(NEUROSIM_DEVICES) and shipped.base["protocol"] == protocol
        assert shipped.seeds == 3 and shipped.plot["kind"] == "epochs"


NEUROSIM_DEVICES = ("sige_epiram", "ag_asi", "taox_hfox", "alox_hfo2", "pcmo", "gst_pcm", "hzo_fefet")


@pytest.mark.parametrize("protocol", ["project", "neurosim_v3"])
def test_sweep_draws_accuracy_per_epoch_per_device(tmp_path, protocol):
    """``kind = "epochs"``: the learning curves as list cells of results.csv and one line per device in the plot."""
    from neurosim.sweep import parse_spec, run_sweep

    spec = parse_spec(
        {
            "name": "curves",
            "task": "insitu",
            "seeds": 2,
            "base": {"dataset": "digits", "epochs": 3, "images_per_epoch": 200, "protocol": protocol},
            "grid": {"device": ["sige_epiram", "hzo_fefet"]},
            "plot": {"kind": "epochs", "series": "device", "metric": "accuracy_per_epoch",
                     "published": {"hzo_fefet": 88.0}, "note": "stars: published"},
        }
    )  # fmt: skip
    csv_path = run_sweep(spec, tmp_path / "sweep", workers=1)
    import csv

    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 4
    for row in rows:
        assert json.loads(row["evaluated_epochs"]) == [1, 2, 3]
        curve = json.loads(row["accuracy_per_epoch"])
        assert len(curve) == 3 and curve[-1] == pytest.approx(float(row["accuracy"]))
    assert (tmp_path / "sweep" / "curves.png").stat().st_size > 10_000
    with pytest.raises(NeurosimError, match="published"):
        parse_spec({**spec.to_dict(), "plot": {"kind": "epochs", "published": {"hzo_fefet": 188.0}}})


# -- the full reproductions (slow: run with pytest -m slow) ----------------------------------------
@pytest.mark.slow
def test_reference_protocol_reproduces_the_published_accuracies():
    pytest.importorskip("neurosim.data")
    if not os.environ.get("NEUROSIM_DATA"):
        pytest.skip("needs the MNIST training set: set NEUROSIM_DATA")
    from neurosim.networks.insitu import load_mnist_data

    data = load_mnist_data(InsituConfig().preprocessing)
    software = train_software(data=data, rng=0).final_accuracy
    ideal = train_insitu("ideal", data=data, rng=0).final_accuracy
    sige = train_insitu("sige_epiram", data=data, rng=0).final_accuracy
    assert software > 0.955
    assert ideal > software - 0.015
    assert sige >= 0.915


@pytest.mark.parametrize("method", [ProgramMethod.OPEN_LOOP, ProgramMethod.WRITE_VERIFY])
def test_training_writes_the_device_arrays_state_after_any_programming(digits, method):
    """The kernels write DeviceArray's own state (state_buffer_S), whichever way the initial weights were programmed."""
    config = replace(SMALL, crossbar=_xb(program_method=method))
    net = DeviceNetwork(load_device("sige_epiram"), config, 6)
    before = {n: a.conductance_S.copy() for n, a in net.arrays.items()}
    _chunk(net, digits, np.arange(20))
    for name, arr in net.arrays.items():
        assert np.shares_memory(arr.state_buffer_S, net._layers[0 if name == "layer1.main" else 4])
        assert np.count_nonzero(arr.conductance_S != before[name]) > 10, name


# -- NeuroSim V3's protocol (Protocol.NEUROSIM_V3) ---------------------------------------------------
def _v3(**changes):
    from neurosim.networks.insitu import NEUROSIM_V3_PROTOCOL

    return replace(NEUROSIM_V3_PROTOCOL, **changes)


def _v3_cell_currents(device, R=15e3):
    """By hand: a cell's read current per volt, I = 1 / (1/G + R), at the window's ends."""
    return 1 / (1 / device.g_max_S + R), 1 / (1 / device.g_min_S + R)


def test_neurosim_v3_initial_weights_are_seven_levels_written_without_g_min():
    """Mapping.cpp 56-67: w = k/3, k = -3..3 uniform; Array.cpp 178-187: G = (w + 1)/2 (G_max - G_min), clipped."""
    from neurosim.networks.insitu.network import initial_weights

    w1, w2 = initial_weights(_v3(), 0)
    levels, counts = np.unique(np.concatenate([w1.ravel(), w2.ravel()]), return_counts=True)
    np.testing.assert_allclose(levels, np.arange(-3, 4) / 3)
    assert np.all(np.abs(counts / counts.sum() - 1 / 7) < 5 * np.sqrt(1 / 7 / counts.sum()))
    for name, bias in (("pcmo", -0.29), ("alox_hfo2", None)):
        device = load_device(name)
        net = DeviceNetwork(device, _v3(), 0)
        g = net.arrays["layer1.main"].conductance_S
        W = device.g_max_S - device.g_min_S
        written = np.clip((np.arange(-3, 4) / 3 + 1) / 2 * W, device.g_min_S, device.g_max_S)  # by hand
        nearest = written[np.argmin(np.abs(g[:, :-1, None] - written), axis=-1)]
        np.testing.assert_allclose(g[:, :-1], nearest, rtol=1e-12)  # every device on one of the written levels
        assert g[:, :-1].max() == pytest.approx(W)  # w = 1 lands at G_max - G_min, below G_max
        i_max, i_min = _v3_cell_currents(device)
        i = 1 / (1 / g[:, :-1] + 15e3)
        readback = 2 * (i - i_min) / (i_max - i_min) - 1
        # the mean over the 7 equally likely levels, by hand
        by_hand = np.mean([2 * (1 / (1 / np.clip((k / 3 + 1) / 2 * W, device.g_min_S, device.g_max_S) + 15e3) - i_min)
                           / (i_max - i_min) - 1 for k in range(-3, 4)])  # fmt: skip
        assert readback.mean() == pytest.approx(by_hand, abs=0.01)
        assert by_hand < -0.25  # biased negative
        if bias is not None:
            assert by_hand == pytest.approx(bias, abs=0.01)


def test_neurosim_v3_first_read_of_a_fresh_array_by_hand():
    """The first read of the preset: currents through the 15 kOhm transistor, truncated codes, half the sum."""
    device = load_device("alox_hfo2")
    config = _v3(sizes=(40, 12, 10))
    net = DeviceNetwork(device, config, 2)
    rng = np.random.default_rng(0)
    x = (rng.random((25, 40)) < 0.3).astype(np.float64)
    g = net.arrays["layer1.main"].conductance_S[:, :-1]
    i_max, i_min = _v3_cell_currents(device)
    current = x @ (1 / (1 / g + 15e3))  # column currents per volt, (25, 12)
    i_ref = x.sum(axis=1, keepdims=True) * (i_max + i_min) / 2
    q = 40 * (i_max - i_min) / 255  # 8-bit codes of the whole layer's swing
    expected = (np.floor(current / q) - np.floor(i_ref / q)) * 40 / 255
    readback = 2 * (1 / (1 / g + 15e3) - i_min) / (i_max - i_min) - 1
    assert np.max(np.abs(expected - x @ readback / 2)) <= 2 * 40 / 255  # half the weighted sum, to two codes
    np.testing.assert_allclose(net._layer_read(x, 1, None), expected, rtol=0, atol=1e-12)
    for backend in ("numba", "numpy"):
        ours, clipped = _fused_read(net, x, 0, backend)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)
        assert clipped == 0


@pytest.mark.parametrize("device", ["alox_hfo2", "hzo_fefet"])
def test_neurosim_v3_kernel_matches_numpy_twin(digits, device):
    config = _v3(sizes=(64, 24, 10), lr_hidden=2.0, lr_output=1.0)
    device = load_device(device)
    a, b = DeviceNetwork(device, config, 5), DeviceNetwork(device, config, 5)
    order = np.random.default_rng(1).integers(0, digits.n_train, 12)
    sa1, la1 = _chunk(a, digits, order[:5], t0=40)
    sa2, la2 = _chunk(a, digits, order[5:], t0=45)
    sb, lb = _chunk(b, digits, order, t0=40, backend="numpy")
    np.testing.assert_array_equal(sa1 + sa2, sb)
    assert sb[K.ST_WRITES] > 50
    assert la1 + la2 == pytest.approx(lb, rel=1e3 * EPS)
    ga, gb = _conductances(a), _conductances(b)
    for name in ga:
        np.testing.assert_allclose(ga[name], gb[name], rtol=64 * EPS, atol=64 * EPS * device.g_max_S, err_msg=name)


def test_neurosim_v3_read_back_weights_are_linear_in_current():
    """The backward pass's digital weights (Train.cpp 617-618, Array.cpp ConductanceToWeight), by hand."""
    device = load_device("alox_hfo2")
    net = DeviceNetwork(device, _v3(sizes=(64, 24, 10)), 4)
    g2 = net.arrays["layer2.main"].conductance_S[:, :-1]
    i_max, i_min = _v3_cell_currents(device)
    w = 2 * (1 / (1 / g2 + 15e3) - i_min) / (i_max - i_min) - 1
    np.testing.assert_allclose(K._readback_v3_numpy(g2, net.fp), w, rtol=1e-12)
    ends = K._readback_v3_numpy(np.array([device.g_min_S, device.g_max_S, 2 * device.g_max_S]), net.fp)
    np.testing.assert_allclose(ends, [-1.0, 1.0, 1.0], atol=1e-12)  # clipped to [-1, 1]


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(crossbar=replace(REF_XB, mapping=Mapping.DIFFERENTIAL)), "crossbar.mapping"),
        (dict(backward=Backward.TRANSPOSED_READ), "backward"),
        (dict(crossbar=replace(REF_XB, dac_bits=4)), "crossbar.dac_bits"),
    ],
)
def test_neurosim_v3_refuses_what_its_read_out_does_not_model(changes, field):
    with pytest.raises(NeurosimError, match=field):
        _v3(**changes)


def test_protocol_is_a_setting_of_the_cli_and_the_sweep():
    from neurosim.networks.insitu import Protocol
    from neurosim.networks.insitu.tasks import resolve

    _, config, _ = resolve({"device": "hzo_fefet", "protocol": "neurosim_v3"})
    assert config.protocol is Protocol.NEUROSIM_V3 and config.crossbar.cell_r_series_ohm == 15e3
    assert config.crossbar.program_method is ProgramMethod.EXACT
    _, config, _ = resolve({"device": "hzo_fefet", "protocol": "neurosim_v3", "crossbar.cell_r_series_ohm": 0.0})
    assert config.crossbar.r_series_ohm == 0.0  # the preset is a base: settings override it
    _, config, _ = resolve({"device": "hzo_fefet"})
    assert config.protocol is Protocol.PROJECT and config.crossbar.r_series_ohm == 0.0
    with pytest.raises(NeurosimError, match="protocol"):
        resolve({"protocol": "neurosim_v2"})
    with pytest.raises(NeurosimError, match="read_noise_frac"):
        DeviceNetwork(replace(load_device("sige_epiram"), read_noise_frac=0.02), _v3(sizes=(64, 24, 10)), 0)
    parser = argparse.ArgumentParser()
    add_insitu_parser(parser.add_subparsers())
    from neurosim.networks.insitu.cli import _settings

    assert _settings(parser.parse_args(["insitu", "--protocol", "neurosim_v3"]))["protocol"] == "neurosim_v3"


@pytest.mark.slow
def test_hzo_fefet_learns_with_its_positive_ltd_label():
    """hzo_fefet (NL_LTD = +1.46): depression walks back down the saturating curve, so the device is nearly
    symmetric. Five epochs, seed 0, the project's protocol: 75.5 % measured (41 % when depression was
    always mirrored, the old physics; NeuroSim V3's own protocol gives 74.5 % here, 76 % in its C++)."""
    if not os.environ.get("NEUROSIM_DATA"):
        pytest.skip("needs the MNIST training set: set NEUROSIM_DATA")
    from neurosim.networks.insitu import load_mnist_data

    config = InsituConfig(epochs=5)
    data = load_mnist_data(config.preprocessing)
    assert train_insitu("hzo_fefet", config, data=data, rng=0, progress=False).final_accuracy > 0.65


def test_neurosim_v3_evaluation_reads_are_counted():
    """The batch evaluation read under the preset counts its events like the project's read."""
    net = DeviceNetwork(load_device("sige_epiram"), _v3(epochs=1, images_per_epoch=10), 0)
    x = (np.random.default_rng(1).random((7, 400)) < 0.25).astype(np.float64)
    net.forward(x)
    hidden = net.read_events[0]
    assert hidden.dac_conversions == x.size and hidden.tile_reads == 7 * 4  # 400 rows: 4 tiles of 128
    assert hidden.cell_reads == np.count_nonzero(x) * (100 + 1)  # each driven row: 100 weights and its reference
    net.forward(x)
    assert net.read_events[0].dac_conversions == 2 * x.size
