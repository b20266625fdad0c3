"""ANN -> crossbar conversion and the evaluate task / command."""

import json
from dataclasses import replace

import numpy as np
import pytest

from neurosim.cli import main
from neurosim.convert.evaluate import evaluate
from neurosim.convert.network import HardwareNetwork, resolve_model
from neurosim.crossbar import CrossbarConfig
from neurosim.device import load_device
from neurosim.errors import NeurosimError
from neurosim.networks.mlp import forward


@pytest.fixture(scope="module")
def small_net():
    rng = np.random.default_rng(0)
    params = [
        (rng.standard_normal((40, 300)).astype(np.float32) * 0.1, rng.standard_normal(40).astype(np.float32) * 0.1),
        (rng.standard_normal((10, 40)).astype(np.float32) * 0.3, rng.standard_normal(10).astype(np.float32) * 0.1),
    ]
    x = rng.random((200, 300)).astype(np.float32)
    return params, x


def test_ideal_hardware_equals_software(small_net):
    params, x = small_net
    net = HardwareNetwork(params, "relu", "ideal", CrossbarConfig(rows=64, cols=16), calibration_x=x, rng=0)
    np.testing.assert_allclose(net.forward(x, rng=1), forward(params, x, "relu"), rtol=1e-4, atol=1e-4)
    assert len(net.layers[0].tiles) == 5  # 300 inputs on 64-row arrays


def test_converter_precision_costs_are_bounded(small_net):
    params, x = small_net
    exact = forward(params, x, "relu")
    net = HardwareNetwork(params, "relu", "ideal", CrossbarConfig(dac_bits=8, adc_bits=8), calibration_x=x, rng=0)
    err8 = np.abs(net.forward(x, rng=1) - exact).max()
    coarse = HardwareNetwork(params, "relu", "ideal", CrossbarConfig(dac_bits=3, adc_bits=3), calibration_x=x, rng=0)
    err3 = np.abs(coarse.forward(x, rng=1) - exact).max()
    assert 0 < err8 < err3
    assert err8 < 0.05 * np.abs(exact).max()


def test_bad_inputs(small_net):
    params, x = small_net
    with pytest.raises(NeurosimError, match="calibration_x"):
        HardwareNetwork(params, "relu", "ideal", calibration_x=x[:, :10])
    net = HardwareNetwork(params, "relu", "ideal", calibration_x=x, rng=0)
    with pytest.raises(NeurosimError, match="finite"):
        net.forward(np.full((2, 300), np.nan))
    late_nan = x[:9].copy()
    late_nan[7, 0] = np.nan  # in the second batch: the first batch's reads must leave no clip counts
    with pytest.raises(NeurosimError, match="finite"):
        net.forward(late_nan, batch_size=4)
    assert all(layer.clip_counts.dac_inputs == 0 for layer in net.layers)
    noisy = HardwareNetwork(params, "relu", replace(load_device("ideal"), read_noise_frac=0.01), calibration_x=x)
    rng = np.random.default_rng(2)
    state = rng.bit_generator.state
    with pytest.raises(NeurosimError, match="finite"):
        noisy.forward(late_nan, rng, batch_size=4)
    assert rng.bit_generator.state == state and all(layer.clip_counts.dac_inputs == 0 for layer in noisy.layers)
    with pytest.raises(NeurosimError, match="x must be"):
        net.forward(x[:, :5])
    bad = [(params[0][0].copy(), params[0][1]), params[1]]
    bad[0][0][0, 0] = np.inf
    with pytest.raises(NeurosimError, match="NaN or infinite"):
        HardwareNetwork(bad, "relu", "ideal", calibration_x=x)
    with pytest.raises(NeurosimError, match="unknown model"):
        resolve_model("no_such_model")


def test_shipped_model_on_ideal_device_matches_software():
    result = evaluate({"device": "ideal", "test_images": 2000}, rng=0)
    assert result["accuracy"] == result["software_accuracy"]
    assert result["software_accuracy"] > 0.97


def test_eight_bit_converters_on_ideal_within_0p3_percent():
    result = evaluate({"device": "ideal", "crossbar.adc_bits": 8, "crossbar.dac_bits": 8}, rng=0)
    assert result["software_accuracy"] >= 0.975
    assert result["accuracy"] >= result["software_accuracy"] - 0.003


def test_sige_write_verify_within_one_percent():
    settings = {"device": "sige_epiram", "crossbar.adc_bits": 8, "crossbar.dac_bits": 8, "crossbar.program_method": "write_verify"}
    result = evaluate(settings, rng=0)
    assert result["accuracy"] >= result["software_accuracy"] - 0.01


def test_noise_lowers_accuracy_and_settings_are_validated():
    noisy = evaluate({"device": "ideal", "device.prog_noise": "constant", "device.prog_noise_frac": 0.2, "test_images": 2000}, rng=0)
    assert noisy["accuracy"] < noisy["software_accuracy"] - 0.1
    for settings, pattern in [
        ({"device": "ideal", "crossbar.mapping": "diagonal"}, "crossbar.mapping"),
        ({"device": "ideal", "crossbar.speed": 3}, "crossbar.speed"),
        ({"device": "ideal", "on_off_ratio": 0.5}, "on_off_ratio"),
        ({"device": "ideal", "test_images": 0}, "test_images"),
        ({"device": "ideal", "wire.r_wire_ohm": -1.0}, "r_wire_ohm"),
    ]:
        with pytest.raises(NeurosimError, match=pattern):
            evaluate(settings, rng=0)


def test_evaluate_command_json(capsys):
    code = main(["evaluate", "--device", "sige_epiram", "--adc-bits", "8", "--dac-bits", "8", "--test-images", "1000", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["device"] == "sige_epiram" and out["test_images"] == 1000
    assert 0.9 < out["accuracy"] <= 1 and out["software_accuracy"] > 0.97


def test_evaluate_command_bad_model(capsys):
    assert main(["evaluate", "--model", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
