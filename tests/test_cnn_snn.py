"""ANN-to-SNN conversion of convolutional networks, read through crossbars every step."""

import numpy as np
import pytest

from neurosim.convert.snn.cnn import CrossbarCNNSNN, convert_cnn, max_pool_gate
from neurosim.data import load_digits_split
from neurosim.errors import NeurosimError
from neurosim.networks.cnn import train_cnn
from neurosim.networks.layers import Dense, Pool2d, forward_layers

from test_cnn import digits_cnn


@pytest.fixture(scope="module")
def digits_model():
    (x, y), (xt, yt) = load_digits_split(0.25, rng=0)
    return train_cnn(x, y, digits_cnn(0), epochs=10, batch_size=32, lr=3e-3, rng=0), (x, y), (xt, yt)


def test_max_pool_gate_passes_the_most_active_neuron():
    rng = np.random.default_rng(0)
    spikes = (rng.random((3, 2, 5, 5)) < 0.5).astype(np.float32)
    counts = rng.integers(0, 4, size=(3, 2, 5, 5))
    for k, s in ((2, 2), (3, 1)):
        got = max_pool_gate(spikes, counts, k, s)
        oh = (5 - k) // s + 1
        for n, c, r, q in np.ndindex(3, 2, oh, oh):
            window = counts[n, c, r * s : r * s + k, q * s : q * s + k].ravel()
            winner = int(np.argmax(window))  # the first of the largest
            assert got[n, c, r, q] == spikes[n, c, r * s : r * s + k, q * s : q * s + k].ravel()[winner]


def test_first_layer_rates_are_the_normalised_activations(digits_model):
    """IF with reset by subtraction under a constant current a in [0, 1] fires floor-like T * a spikes (within 1)."""
    layers, (x, _), (xt, _) = digits_model
    converted = convert_cnn(layers, x)
    snn = CrossbarCNNSNN(converted, "ideal", rng=0, input_coding="rate")
    steps = 50
    run = snn.run(xt[:20], steps, rng=1, checkpoints=[steps])
    target = np.clip(converted.layers[0].forward(xt[:20].astype(np.float64)), 0, 1)
    n_neurons = target.shape[1]
    assert np.all(np.abs(run.layer_spikes[:, 0] - steps * target.sum(axis=1)) <= n_neurons)
    assert np.abs(run.layer_spikes[:, 0] - steps * target.sum(axis=1)).mean() < 0.6 * n_neurons


@pytest.mark.parametrize("coding", ["rate", "poisson"])
def test_spiking_cnn_reaches_the_cnn_on_an_ideal_device(digits_model, coding):
    layers, (x, _), (xt, yt) = digits_model
    xt, yt = xt[:200], yt[:200]
    ann = np.mean(np.argmax(forward_layers(layers, xt), axis=1) == yt)
    snn = CrossbarCNNSNN(convert_cnn(layers, x), "ideal", rng=0, input_coding=coding)
    acc = snn.run(xt, 200, rng=1, checkpoints=[20, 200]).accuracy(yt, "membrane")
    assert acc[1] >= ann - 0.02  # 0.96 vs 0.96 measured on these images
    assert acc[1] >= acc[0] - 0.01  # more steps do not lose accuracy
    # every step reads every patch: 200 images x 200 steps x 64 positions x 9 rows through the first array
    assert snn.layer_events[0].dac_conversions == 200 * 200 * 64 * 9


def test_conversion_refuses_what_does_not_spike(digits_model):
    layers, (x, _), _ = digits_model
    from dataclasses import replace

    with pytest.raises(NeurosimError, match="ReLU hidden layers"):
        convert_cnn([replace(layers[0], activation="sigmoid"), *layers[1:]], x)
    with pytest.raises(NeurosimError, match="dense last layer"):
        convert_cnn(layers[:2], x)
    with pytest.raises(NeurosimError, match="intensities in \\[0, 1\\]"):
        convert_cnn(layers, x * 3)
    assert isinstance(layers[1], Pool2d) and isinstance(layers[-1], Dense)


def test_snn_task_runs_a_cnn_model(tmp_path):
    from neurosim.convert.snn.engine import accuracy_vs_steps
    from neurosim.networks.cnn import lenet5
    from neurosim.networks.modelio import write_model_file

    write_model_file(tmp_path / "cnn", lenet5(0, channels=(2, 4), hidden=(16, 12)), output="softmax_cross_entropy",
                     preprocessing="none")
    metrics = accuracy_vs_steps({"model": str(tmp_path / "cnn"), "device": "ideal", "steps": 5, "test_images": 6,
                                 "input": "rate"}, rng=0)
    assert metrics["test_images"] == 6 and metrics["steps"] == 5
    assert metrics["events_dac_conversions"] > 0 and 0 <= metrics["accuracy"] <= 1


@pytest.mark.slow
def test_lenet5_snn_within_half_a_point_at_200_steps():
    """The shipped lenet5 as an SNN on the ideal device, 1000 MNIST test images, 200 steps, rate coding."""
    from neurosim.convert.snn.engine import accuracy_vs_steps

    metrics = accuracy_vs_steps({"model": "lenet5", "device": "ideal", "steps": 200, "test_images": 1000,
                                 "input": "rate", "checkpoints": [50, 100, 200]}, rng=0)
    assert metrics["accuracy"] >= metrics["software_accuracy"] - 0.005


@pytest.mark.parametrize("dt_s", [0.0, -1e-3, float("nan"), "1ms"])
def test_a_bad_time_step_is_one_error(digits_model, dt_s):
    layers, (x, _), _ = digits_model
    with pytest.raises(NeurosimError, match="dt_s"):
        CrossbarCNNSNN(convert_cnn(layers, x), "ideal", rng=0, dt_s=dt_s)
