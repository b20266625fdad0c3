"""Convolution and pooling layers: NumPy numerics against direct loops, exact gradients, crossbar reads, model files."""

import tracemalloc
from dataclasses import replace

import numpy as np
import pytest

from neurosim.convert.network import PATCH_ELEMENTS, HardwareNetwork
from neurosim.crossbar import CrossbarConfig, CrossbarLayer
from neurosim.device import Drift, load_device
from neurosim.errors import NeurosimError
from neurosim.networks import conv
from neurosim.networks.cnn import _with_arrays, lenet5, loss_and_gradients, train_cnn
from neurosim.networks.layers import Conv2d, Dense, Pool2d, check_layers, forward_layers
from neurosim.networks.modelio import ModelError, read_model_file, write_model_file


def direct_conv(images, weight, bias, stride, padding):
    """Cross-correlation by explicit loops over output pixels (the definition)."""
    n, c, h, w = images.shape
    c_out, _, k, _ = weight.shape
    padded = np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    out = np.zeros((n, c_out, oh, ow))
    for r in range(oh):
        for s in range(ow):
            window = padded[:, :, r * stride : r * stride + k, s * stride : s * stride + k]
            out[:, :, r, s] = np.einsum("nckl,ockl->no", window, weight) + bias
    return out


def direct_pool(images, k, stride, reduce):
    n, c, h, w = images.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, c, oh, ow))
    for r in range(oh):
        for s in range(ow):
            out[:, :, r, s] = reduce(images[:, :, r * stride : r * stride + k, s * stride : s * stride + k], axis=(2, 3))
    return out


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 2), (2, 1), (3, 0)])
def test_conv2d_equals_the_direct_sum(stride, padding):
    rng = np.random.default_rng(stride * 10 + padding)
    images = rng.normal(size=(3, 2, 9, 8))
    weight, bias = rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4)
    np.testing.assert_allclose(conv.conv2d(images, weight, bias, stride, padding),
                               direct_conv(images, weight, bias, stride, padding), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k, stride", [(2, 2), (3, 1), (3, 2), (3, 3)])
def test_pooling_equals_the_direct_reduction(k, stride):
    images = np.random.default_rng(k).normal(size=(2, 3, 7, 7))
    np.testing.assert_array_equal(conv.max_pool(images, k, stride), direct_pool(images, k, stride, np.max))
    np.testing.assert_allclose(conv.avg_pool(images, k, stride), direct_pool(images, k, stride, np.mean), rtol=1e-14)


def small_cnn(rng, pool_mode="max", dtype=np.float64):
    c1 = Conv2d(rng.normal(size=(3, 2, 3, 3)).astype(dtype), rng.normal(size=3).astype(dtype), (2, 7, 7), 2, 1, "relu")
    p1 = Pool2d("avg", c1.out_shape, 2, 1, "relu")
    c2 = Conv2d(rng.normal(size=(2, 3, 2, 2)).astype(dtype), rng.normal(size=2).astype(dtype), p1.out_shape, 1, 0)
    p2 = Pool2d(pool_mode, c2.out_shape, 2, 1)
    d = Dense(rng.normal(size=(4, p2.n_out)).astype(dtype), rng.normal(size=4).astype(dtype))
    return [c1, p1, c2, p2, d]


def test_gradients_equal_finite_differences():
    rng = np.random.default_rng(0)
    layers = small_cnn(rng)
    x, y = rng.normal(size=(5, layers[0].n_in)), rng.integers(0, 4, 5)
    _, grads = loss_and_gradients(layers, x, y)
    eps = 1e-6
    for i in (0, 2, 4):
        for j, a in enumerate(layers[i].arrays):
            for index in np.ndindex(a.shape):
                if rng.random() > 0.3:
                    continue
                values = []
                for sign in (1, -1):
                    changed = [np.array(b) for b in layers[i].arrays]
                    changed[j][index] += sign * eps
                    values.append(loss_and_gradients([*layers[:i], _with_arrays(layers[i], changed), *layers[i + 1 :]], x, y)[0])
                assert grads[i][j][index] == pytest.approx((values[0] - values[1]) / (2 * eps), rel=1e-5, abs=1e-8)


def digits_cnn(rng):
    """conv 3x3 (8 channels, padding 1) + ReLU + max pool 2, dense 128-32-10, He-initialised, for 8x8 digits."""
    rng = np.random.default_rng(rng)
    he = lambda *shape: (rng.normal(size=shape) * np.sqrt(2 / np.prod(shape[1:]))).astype(np.float32)  # noqa: E731
    c = Conv2d(he(8, 1, 3, 3), np.zeros(8, np.float32), (1, 8, 8), 1, 1, "relu")
    p = Pool2d("max", c.out_shape, 2)
    return [c, p, Dense(he(32, 128), np.zeros(32, np.float32), "relu"), Dense(he(10, 32), np.zeros(10, np.float32))]


def test_a_short_training_learns_digits():
    from neurosim.data import load_digits_split

    (x, y), (xt, yt) = load_digits_split(0.25, rng=0)
    layers = digits_cnn(0)
    trained = train_cnn(x, y, layers, epochs=10, batch_size=32, lr=3e-3, rng=0)
    accuracy = np.mean(np.argmax(forward_layers(trained, xt), axis=1) == yt)
    assert accuracy > 0.93  # 0.960 measured
    assert all(np.array_equal(a, b) for l0, l1 in zip(layers, digits_cnn(0))
               for a, b in zip(l0.arrays, l1.arrays))  # the initial layers are left as they were


def test_hardware_aware_training_trains_through_weight_noise():
    from neurosim.data import load_digits_split

    (x, y), (xt, yt) = load_digits_split(0.25, rng=0)
    clean = train_cnn(x, y, digits_cnn(0), epochs=3, batch_size=32, lr=3e-3, rng=0)
    noisy = train_cnn(x, y, digits_cnn(0), epochs=3, batch_size=32, lr=3e-3, rng=0, weight_noise=0.1)
    assert not np.array_equal(clean[0].weight, noisy[0].weight)  # the noisy forward passes changed the gradients
    assert np.mean(np.argmax(forward_layers(noisy, xt), axis=1) == yt) > 0.85
    with pytest.raises(NeurosimError, match="weight_noise"):
        train_cnn(x, y, digits_cnn(0), epochs=1, weight_noise=-1.0)


def test_lenet5_shapes():
    layers = lenet5(0)
    assert [layer.n_out for layer in layers] == [6 * 28 * 28, 6 * 14 * 14, 16 * 10 * 10, 400, 120, 84, 10]
    assert check_layers(layers)[0] == 784


def test_layers_refuse_bad_geometry():
    w, b = np.ones((2, 1, 3, 3)), np.ones(2)
    with pytest.raises(NeurosimError, match="square"):
        Conv2d(np.ones((2, 1, 3, 2)), b, (1, 5, 5))
    with pytest.raises(NeurosimError, match="channels"):
        Conv2d(w, b, (2, 5, 5))
    with pytest.raises(NeurosimError, match="does not fit"):
        Conv2d(w, b, (1, 2, 2))
    with pytest.raises(NeurosimError, match="stride"):
        Conv2d(w, b, (1, 5, 5), stride=0)
    with pytest.raises(NeurosimError, match="does not fit"):
        Pool2d("max", (1, 1, 1), 2)
    with pytest.raises(NeurosimError, match="pooling mode"):
        Pool2d("median", (1, 4, 4), 2)
    conv_layer = Conv2d(w, b, (1, 6, 6))
    with pytest.raises(NeurosimError, match="images"):  # the same width, another image shape
        check_layers([conv_layer, Pool2d("max", (8, 2, 2), 2)])


# --- crossbars ----------------------------------------------------------------------------


def test_ideal_crossbars_give_the_float_result_across_tiles():
    rng = np.random.default_rng(1)
    layers = small_cnn(rng, dtype=np.float32)
    x = rng.random((40, layers[0].n_in), dtype=np.float32)
    net = HardwareNetwork.from_layers(layers, "ideal", CrossbarConfig(rows=8, cols=4), calibration_x=x, rng=0)
    assert len(net.layers[0].row_edges) == 3  # 18 patch rows on 8-row tiles
    expected = forward_layers(layers, x.astype(np.float64))
    np.testing.assert_allclose(net.forward(x, rng=1), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_a_convolution_is_one_crossbar_read_per_patch():
    """Noise, converters and events of a conv layer are those of a CrossbarLayer read of its patches."""
    rng = np.random.default_rng(2)
    c = Conv2d(rng.normal(size=(5, 2, 3, 3)).astype(np.float32), np.zeros(5, np.float32), (2, 6, 6), 1, 1)
    x = rng.random((6, c.n_in), dtype=np.float32)
    device = replace(load_device("sige_epiram"), read_noise_frac=0.05, drift=Drift.POWER_LAW, drift_nu=0.05, drift_nu_sigma=0.01,
                     stuck_off_frac=0.05)
    config = CrossbarConfig(rows=8, dac_bits=8, adc_bits=8)
    net = HardwareNetwork.from_layers([c], device, config, calibration_x=x, rng=3)
    twin = CrossbarLayer(c.matrix, device, replace(config, input_full_scale=net.layers[0].config.input_full_scale), 3)
    twin.calibrate_adc(c.patches(x))
    out = net.forward(x, rng=4)
    np.testing.assert_array_equal(out, c.outputs_from_sums(twin.forward(c.patches(x), rng=4), len(x)))
    events = net.layers[0].events
    assert events.adc_conversions == len(x) * 36 * 5 * len(net.layers[0].row_edges)  # per position, channel, tile row
    assert events.dac_conversions == twin.events.dac_conversions == len(x) * 36 * 18
    net.drift_to(1e4)  # drift and stuck devices are the crossbar layer's: the same read after drifting
    twin.drift_to(1e4)
    drifted = net.forward(x, rng=5)
    np.testing.assert_array_equal(drifted, c.outputs_from_sums(twin.forward(c.patches(x), rng=5), len(x)))
    assert np.abs(drifted).mean() < 0.9 * np.abs(out).mean()  # conductances decay: |outputs| shrink


def test_read_noise_on_a_convolution_has_the_predicted_spread():
    """Each output position's noise is Gaussian with variance sum_i (v_i sigma_i)^2.

    Proportional read noise on the ideal device (G_min = 0): a weight ``w`` is
    one device at ``|w| / weight_max * G_max`` (its partner at 0), so in weight
    units ``sigma_i = frac * |w_i|``.
    """
    rng = np.random.default_rng(5)
    c = Conv2d(rng.uniform(-1, 1, size=(1, 1, 3, 3)).astype(np.float32), np.zeros(1, np.float32), (1, 4, 4), 1, 0)
    x = np.tile(rng.random((1, 16), dtype=np.float32), (4000, 1))
    frac = 0.05
    net = HardwareNetwork.from_layers([c], replace(load_device("ideal"), read_noise_frac=frac), CrossbarConfig(),
                                      calibration_x=x[:1], rng=0)
    out = net.forward(x, rng=1)
    patches = c.patches(x[:1])
    predicted = frac * np.sqrt(((patches * c.matrix[0]) ** 2).sum(axis=1))
    measured = out.std(axis=0)
    tolerance = 4 * predicted / np.sqrt(2 * len(x))
    assert np.all(np.abs(measured - predicted) < tolerance), (measured, predicted)


def test_memory_stays_bounded_with_the_number_of_images():
    layers = lenet5(0)
    x = np.random.default_rng(0).random((1200, 784), dtype=np.float32)
    net = HardwareNetwork.from_layers(layers, "ideal", CrossbarConfig(dac_bits=8, adc_bits=8), calibration_x=x[:50], rng=0)
    assert net.images_per_chunk * 28 * 28 * 25 <= PATCH_ELEMENTS
    peaks = []
    for n in (net.images_per_chunk, 1200):
        tracemalloc.start()
        net.forward(x[:n], rng=0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.2 * peaks[0]  # 1200 images need no more scratch than one chunk


# --- model files --------------------------------------------------------------------------


def test_cnn_model_files_round_trip(tmp_path):
    layers = small_cnn(np.random.default_rng(3), dtype=np.float32)
    write_model_file(tmp_path / "cnn", layers, output="softmax_cross_entropy", preprocessing="none", info={"x": 1})
    with np.load(tmp_path / "cnn.npz") as data:
        assert sorted(data.files) == ["W0", "W2", "W4", "b0", "b2", "b4"]  # pools store nothing
    file = read_model_file(tmp_path / "cnn")
    assert [layer.describe() for layer in file.layers] == [layer.describe() for layer in layers]
    x = np.random.default_rng(0).random((7, layers[0].n_in), dtype=np.float32)
    np.testing.assert_array_equal(file.forward(x), forward_layers(layers, x))


def test_cnn_sidecar_damage_is_named(tmp_path):
    import json

    layers = small_cnn(np.random.default_rng(3), dtype=np.float32)
    path = write_model_file(tmp_path / "cnn", layers, output="softmax_cross_entropy", preprocessing="none")
    sidecar = json.loads(path.read_text())
    sidecar["layers"][0]["stride"] = 1
    path.write_text(json.dumps(sidecar))
    with pytest.raises(ModelError, match="layer 1 takes"):
        read_model_file(tmp_path / "cnn")
    sidecar["layers"][0]["stride"] = 2
    del sidecar["layers"][1]["mode"]
    path.write_text(json.dumps(sidecar))
    with pytest.raises(ModelError, match="pool2d.*exactly the keys"):
        read_model_file(tmp_path / "cnn")


# --- the shipped LeNet-5 -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["lenet5", "lenet5_noisy"])
def test_shipped_lenet5_reaches_99_percent(name):
    from neurosim.convert.network import resolve_model
    from neurosim.data import load_mnist
    from neurosim.networks.reference_models import REFERENCE_SPECS

    model = resolve_model(name)
    images, labels = load_mnist("test")
    measured = model.accuracy(model.prepare(images), labels)
    assert measured >= 0.99
    assert measured == pytest.approx(model.info["accuracy"]["test"], abs=1e-4)
    spec = next(s for s in REFERENCE_SPECS if s.name == name)
    assert model.info["training"] == spec.training
    assert model.info["retrain"]["command"] == f"neurosim train-reference --out models --seed 0 --only {name}"
    assert [layer.describe() for layer in model.layers] == [layer.describe() for layer in lenet5(0)]


def test_evaluate_lenet5_on_an_ideal_device_matches_software():
    from neurosim.convert.evaluate import evaluate

    result = evaluate({"model": "lenet5", "device": "ideal", "test_images": 300}, rng=0)
    assert result["accuracy"] == result["software_accuracy"] >= 0.98
    assert result["events_dac_conversions"] == 300 * (784 * 25 + 100 * 150 + 400 + 120 + 84)
