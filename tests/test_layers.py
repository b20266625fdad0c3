"""Layer lists (neurosim.networks.layers) and the one model file format (neurosim.networks.modelio)."""

import json
from pathlib import Path

import numpy as np
import pytest

from neurosim.convert.network import HardwareNetwork, shipped_models
from neurosim.crossbar import CrossbarConfig
from neurosim.data.preprocess import Preprocessing
from neurosim.errors import NeurosimError
from neurosim.networks.layers import (
    Activation,
    Dense,
    activate,
    check_layers,
    forward_layers,
    layer_params,
    mlp_layers,
)
from neurosim.networks.mlp import Output
from neurosim.networks.modelio import (
    FORMAT,
    ModelError,
    load_model,
    model_paths,
    read_model_file,
    weights_sha256,
    write_model_file,
)
from neurosim.networks.threshold.mnist import load_threshold_model, save_threshold_model

MODELS = Path(__file__).resolve().parents[1] / "models"


def _layers(rng):
    return [
        Dense(rng.normal(size=(6, 4)).astype(np.float32), rng.normal(size=6).astype(np.float32), Activation.RELU),
        Dense(rng.normal(size=(5, 6)).astype(np.float32), rng.normal(size=5).astype(np.float32), "step"),
        Dense(rng.normal(size=(3, 5)).astype(np.float32), np.zeros(3, np.float32), Activation.LINEAR),
    ]


def test_activations():
    z = np.array([-1.5, 0.0, 2.0], np.float32)
    np.testing.assert_array_equal(activate(z, Activation.RELU), [0, 0, 2])
    np.testing.assert_array_equal(activate(z, Activation.STEP), [0, 1, 1])
    assert activate(z, Activation.STEP).dtype == np.float32
    assert activate(z, Activation.LINEAR) is z
    np.testing.assert_allclose(activate(z, Activation.SIGMOID), 1 / (1 + np.exp(-z.astype(np.float64))), rtol=1e-6)


@pytest.mark.parametrize(
    "weight, bias, activation, message",
    [
        (np.ones((3, 2)), np.ones(2), "relu", "bias has 2 entries but the weight \\(3, 2\\) has 3 outputs"),
        (np.ones((3, 2), np.int64), np.ones(3), "relu", "weight must be a 2-D array of floats"),
        (np.ones(3), np.ones(3), "relu", "weight must be a 2-D array of floats"),
        (np.full((3, 2), np.nan), np.ones(3), "relu", "NaN"),
        (np.ones((3, 2)), np.ones(3), "tanh", "unknown layer activation 'tanh'; allowed: 'linear', 'relu', 'sigmoid', 'step'"),
    ],
)
def test_bad_dense_layers_are_rejected(weight, bias, activation, message):
    with pytest.raises(NeurosimError, match=message):
        Dense(weight, bias, activation)


def test_layers_must_chain():
    a, b, c = _layers(np.random.default_rng(0))
    assert check_layers([a, b, c]) == (4, 6, 5, 3)
    with pytest.raises(NeurosimError, match="layer 1 takes 5 inputs but layer 0 gives 6 outputs"):
        check_layers([a, c])
    with pytest.raises(NeurosimError, match="at least one layer"):
        check_layers([])
    with pytest.raises(NeurosimError, match="layer 0 is a tuple"):
        check_layers([(a.weight, a.bias)])


def test_params_and_layers_convert_both_ways():
    layers = _layers(np.random.default_rng(1))
    params = layer_params(layers)
    again = mlp_layers(params, Activation.SIGMOID)
    assert [layer.activation for layer in again] == [Activation.SIGMOID, Activation.SIGMOID, Activation.LINEAR]
    for old, new in zip(layers, again):
        assert new.weight is old.weight and new.bias is old.bias  # no copies


def test_layer_list_round_trips_through_a_model_file(tmp_path):
    layers = _layers(np.random.default_rng(2))
    json_path = write_model_file(tmp_path / "net", layers, output="sigmoid_squared_error",
                                 preprocessing="crop20_binarize", info={"note": "three layers"})
    file = read_model_file(json_path)
    assert (file.name, file.output, file.preprocessing, file.info) == (
        "net", Output.SIGMOID_SQUARED_ERROR, Preprocessing.CROP20_BINARIZE, {"note": "three layers"})
    assert [layer.describe() for layer in file.layers] == [layer.describe() for layer in layers]
    for old, new in zip(layers, file.layers):
        np.testing.assert_array_equal(old.weight, new.weight)
        np.testing.assert_array_equal(old.bias, new.bias)
    x = np.random.default_rng(3).normal(size=(7, 4)).astype(np.float32)
    np.testing.assert_array_equal(forward_layers(file.layers, x), forward_layers(layers, x))
    # a step layer is not an MLP: the MLP loader says so, naming the file
    with pytest.raises(ModelError, match="net.npz.*an MLP is dense layers with one hidden activation"):
        load_model(json_path)


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("mlp784", [("dense", "relu", 784, 100), ("dense", "linear", 100, 10)]),
        ("mlp400_binary", [("dense", "sigmoid", 400, 100), ("dense", "linear", 100, 10)]),
        ("threshold_mnist", [("dense", "step", 400, 256), ("dense", "linear", 256, 10)]),
    ],
)
def test_shipped_models_of_both_kinds_load_through_one_loader(name, pattern):
    sidecar = json.loads((MODELS / f"{name}.json").read_text())
    assert sidecar["format"] == FORMAT and sidecar["format_version"] == 1
    file = read_model_file(MODELS / name)
    assert [(l.kind, l.activation.value, l.n_in, l.n_out) for l in file.layers] == [tuple(p) for p in pattern]
    assert weights_sha256(file.layers) == sidecar["weights_sha256"]
    x = (np.random.default_rng(4).uniform(size=(16, file.layers[0].n_in)) > 0.5).astype(np.float32)
    model = load_threshold_model(MODELS / name) if name == "threshold_mnist" else load_model(MODELS / name)
    expected = model.logits(x) if name == "threshold_mnist" else model.forward(x)
    np.testing.assert_array_equal(forward_layers(file.layers, x), expected)  # the same numbers, bit for bit


def test_only_convertible_networks_are_listed_as_shipped_models():
    assert shipped_models() == ["lenet5", "lenet5_noisy", "mlp400_binary", "mlp784", "mlp784_noisy"]  # not threshold_mnist


LEGACY = {
    "neurosim-mlp": {"sizes": [4, 3, 2], "activation": "sigmoid", "output": "softmax_cross_entropy"},
    "neurosim-threshold-mlp": {"sizes": [4, 3, 2], "hidden_units": "step", "readout": "winner_take_all"},
}


@pytest.mark.parametrize("kind", sorted(LEGACY))
def test_sidecars_of_the_earlier_formats_still_load(tmp_path, kind):
    rng = np.random.default_rng(5)
    params = [(rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=3).astype(np.float32)),
              (rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=2).astype(np.float32))]
    npz_path, json_path = model_paths(tmp_path / "old")
    np.savez(npz_path, W0=params[0][0], b0=params[0][1], W1=params[1][0], b1=params[1][1])
    json_path.write_text(json.dumps({"format": kind, "format_version": 1, "name": "old", "preprocessing": "none",
                                     "weights_sha256": weights_sha256(params), "seed": 3, **LEGACY[kind]}))
    file = read_model_file(json_path)
    hidden = "sigmoid" if kind == "neurosim-mlp" else "step"
    assert [l.activation.value for l in file.layers] == [hidden, "linear"] and file.info == {"seed": 3}
    if kind == "neurosim-threshold-mlp":
        model = load_threshold_model(json_path)
        save_threshold_model(model, tmp_path / "new")  # rewritten in the current format, same weights
        assert json.loads((tmp_path / "new.json").read_text())["format"] == FORMAT
        assert read_model_file(tmp_path / "new").info == {"seed": 3}
    else:
        assert load_model(json_path).activation is Activation.SIGMOID
    newer = json.loads(json_path.read_text()) | {"format_version": 2}
    json_path.write_text(json.dumps(newer))
    with pytest.raises(ModelError, match="version 2"):
        read_model_file(json_path)


def test_hardware_network_from_layers_equals_the_params_form():
    rng = np.random.default_rng(6)
    layers = mlp_layers([(rng.normal(size=(8, 12)).astype(np.float32), rng.normal(size=8).astype(np.float32)),
                         (rng.normal(size=(4, 8)).astype(np.float32), np.zeros(4, np.float32))], "relu")
    x = rng.uniform(size=(20, 12)).astype(np.float32)
    config = CrossbarConfig(adc_bits=6, dac_bits=6)
    a = HardwareNetwork.from_layers(layers, "sige_epiram", config, calibration_x=x, rng=1)
    b = HardwareNetwork(layer_params(layers), "relu", "sige_epiram", config, calibration_x=x, rng=1)
    np.testing.assert_array_equal(a.forward(x, rng=2), b.forward(x, rng=2))
    assert a.activations == [Activation.RELU, Activation.LINEAR]
