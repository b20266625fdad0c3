"""Threshold units, gates, their crossbar mapping, function counts, the perceptron on devices, the logic CLI."""

import argparse
import json
from dataclasses import replace

import numpy as np
import pytest

from neurosim.crossbar import CrossbarConfig, Mapping
from neurosim.device import ProgNoise, load_device
from neurosim.errors import NeurosimError
from neurosim.networks.threshold import (
    GATE_NAMES,
    CrossbarThresholdLayer,
    CrossbarThresholdNetwork,
    PerceptronConfig,
    ThresholdConfig,
    ThresholdLayer,
    ThresholdMode,
    ThresholdNetwork,
    ThresholdUnit,
    all_inputs,
    count_functions,
    gate,
    gate_targets,
    is_threshold_function,
    realisable_codes,
    threshold_fit,
    threshold_function_codes,
    train_perceptron,
    weight_levels,
)
from neurosim.networks.threshold.cli import add_logic_parser
from neurosim.networks.threshold.counting import KNOWN_THRESHOLD_COUNTS, code_table, function_code

CONFIGS = {
    "differential/bias_row": ThresholdConfig(),
    "reference/bias_row": ThresholdConfig(crossbar=CrossbarConfig(mapping=Mapping.REFERENCE_COLUMN)),
    "differential/comparator": ThresholdConfig(threshold_mode=ThresholdMode.COMPARATOR),
    "reference/comparator/headroom2": ThresholdConfig(
        crossbar=CrossbarConfig(mapping=Mapping.REFERENCE_COLUMN), threshold_mode=ThresholdMode.COMPARATOR, headroom=2.0
    ),
}


# -- software units -------------------------------------------------------------------------------
def test_truth_table_order_and_units():
    assert all_inputs(2).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert all_inputs(0).shape == (1, 0)
    unit = ThresholdUnit([1, 1], 2)
    assert unit.evaluate(all_inputs(2)).tolist() == [0, 0, 0, 1]
    assert int(unit.evaluate([1, 1])) == 1
    layer = unit.as_layer()
    assert layer.integral.tolist() == [True]
    assert layer.decision_thresholds.tolist() == [1.5]
    real = ThresholdLayer([[0.7, 0.4]], [0.5])
    assert real.decision_thresholds.tolist() == [0.5]  # real-valued units keep their threshold
    assert real.evaluate(all_inputs(2)).ravel().tolist() == [0, 0, 1, 1]


def test_every_gate_matches_its_boolean_function_in_software():
    for name in GATE_NAMES:
        assert np.array_equal(gate(name).truth_table(), gate_targets(name)), name
    assert gate("xor").sizes == (2, 2, 1)  # two layers
    assert gate("majority").name == "MAJ3"


def test_bad_inputs_are_refused_with_clear_messages():
    unit = ThresholdUnit([1, 1], 2)
    with pytest.raises(NeurosimError, match="2 values per vector"):
        unit.evaluate([1, 0, 1])
    with pytest.raises(NeurosimError, match="binary"):
        unit.evaluate([1, 0.5])
    with pytest.raises(NeurosimError, match="binary"):
        unit.evaluate([np.nan, 1])
    with pytest.raises(NeurosimError, match="finite"):
        ThresholdUnit([1, np.nan], 1)
    with pytest.raises(NeurosimError, match="finite"):
        ThresholdLayer([[1.0, 2.0]], [np.inf])
    with pytest.raises(NeurosimError, match="one value per unit"):
        ThresholdLayer([[1.0, 2.0]], [1.0, 2.0])
    with pytest.raises(NeurosimError, match="unknown gate 'XNAND'; gates: AND, OR"):
        gate("XNAND")
    with pytest.raises(NeurosimError, match="layer 1 has 3 inputs"):
        ThresholdNetwork([ThresholdLayer(np.ones((2, 2)), [1, 1]), ThresholdLayer(np.ones((1, 3)), [1])])
    with pytest.raises(NeurosimError, match="input_full_scale"):
        ThresholdConfig(crossbar=CrossbarConfig(input_full_scale=2.0))
    with pytest.raises(NeurosimError, match="adc_bits"):
        ThresholdConfig(crossbar=CrossbarConfig(adc_bits=8))
    with pytest.raises(NeurosimError, match="headroom"):
        ThresholdConfig(headroom=0.5)
    with pytest.raises(NeurosimError, match="comparator_noise_A"):
        ThresholdConfig(comparator_noise_A=-1e-9)


# -- on crossbars ------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["sige_epiram", "ideal", "ag_asi", "pcm_nandakumar", "rram_milo"])
@pytest.mark.parametrize("setup", list(CONFIGS))
def test_every_gate_is_exact_at_zero_noise(device, setup):
    dev = load_device(device)
    dev = replace(dev, read_noise_frac=0.0, prog_noise=ProgNoise.NONE)  # the card's own noise off: zero noise
    for name in GATE_NAMES:
        hw = CrossbarThresholdNetwork(gate(name), dev, CONFIGS[setup], rng=0)
        out = hw.forward(all_inputs(hw.network.n_inputs), rng=1)
        assert np.array_equal(out, gate_targets(name)), (device, setup, name)


def test_binary_inputs_are_read_voltages_and_the_unit_current_follows_the_mapping(sige):
    cfg = ThresholdConfig(crossbar=CrossbarConfig(read_voltage_V=0.1))
    hw = CrossbarThresholdLayer(ThresholdUnit([1.0, -0.5], 0.25), sige, cfg, rng=0)
    assert hw.weight_max == pytest.approx(1.0)  # largest hardware weight, headroom 1
    # differential: one weight unit = the full window at the read voltage
    assert hw.unit_current_A == pytest.approx(0.1 * sige.window_S)
    w = hw.effective_weights()[0, 0]
    assert w == pytest.approx([1.0, -0.5, -0.25], abs=0.02)  # bias row holds -theta, snapped to the device levels
    s = hw.sums(all_inputs(2), rng=0)[:, 0, 0]
    np.testing.assert_allclose(s, all_inputs(2) @ w[:2] + w[2], rtol=0, atol=1e-12)
    ref = CrossbarThresholdLayer(ThresholdUnit([1.0, -0.5], 0.25), sige, replace(cfg, threshold_mode=ThresholdMode.COMPARATOR), rng=0)
    assert ref.n_hw_inputs == 2 and ref.reference.tolist() == [0.25]


def test_comparator_offset_shifts_the_decision(sige):
    layer = ThresholdUnit([1.0], 0.5)  # fires for x = 1 with a margin of 0.5
    probe = CrossbarThresholdLayer(layer, sige, rng=0)
    unit_A = probe.unit_current_A
    for offset_units, expected in ((0.3, [0, 1]), (0.7, [0, 0]), (-0.7, [1, 1])):
        hw = CrossbarThresholdLayer(layer, sige, ThresholdConfig(comparator_offset_A=offset_units * unit_A), rng=0)
        assert hw.comparator_offset == pytest.approx(offset_units)
        assert hw.forward(all_inputs(1), rng=0).ravel().tolist() == expected


def test_comparator_noise_statistics(sige):
    """Comparator noise alone: firing probability Phi(margin / sigma), checked within 5 binomial s.e."""
    from scipy.stats import norm

    layer = ThresholdUnit([1.0], 0.0)  # integer unit: decision at -0.5, so x = 0 has d = +0.5
    probe = CrossbarThresholdLayer(layer, sige, rng=0)
    sigma_units = 0.5
    cfg = ThresholdConfig(comparator_noise_A=sigma_units * probe.unit_current_A)
    hw = CrossbarThresholdLayer(layer, sige, cfg, rng=0, replicas=20000)
    y = hw.forward(np.zeros((1, 1), dtype=np.uint8), rng=3)
    p = norm.cdf(0.5 / sigma_units)
    n = y.size
    assert abs(y.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_replicas_are_independent_copies(sige):
    dev = replace(sige, prog_noise=ProgNoise.CONSTANT, prog_noise_frac=0.02)
    hw = CrossbarThresholdNetwork(gate("XOR"), dev, rng=0, replicas=50)
    w = hw.layers[0].effective_weights()
    assert w.shape == (50, 2, 3)
    assert np.unique(w[:, 0, 0]).size > 40  # every copy programmed with its own noise
    out = hw.forward(all_inputs(2), rng=1)
    assert out.shape == (4, 50, 1)
    ref = ThresholdConfig(crossbar=CrossbarConfig(mapping=Mapping.REFERENCE_COLUMN))
    hw = CrossbarThresholdLayer(gate("AND").layers[0], sige, ref, rng=0, replicas=130)
    assert hw.replicas_per_tile == 3 and len(hw.crossbar.col_edges) == 44


def test_hardware_errors(sige):
    hw = CrossbarThresholdNetwork(gate("AND"), sige, rng=0)
    with pytest.raises(NeurosimError, match="binary"):
        hw.forward([[0, 2]])
    with pytest.raises(NeurosimError, match="2 values per vector"):
        hw.forward([[0, 1, 1]])
    with pytest.raises(NeurosimError, match="ThresholdConfig"):
        CrossbarThresholdNetwork(gate("AND"), sige, CrossbarConfig())
    with pytest.raises(NeurosimError, match="unknown device"):
        CrossbarThresholdNetwork(gate("AND"), "no_such_device")
    with pytest.raises(NeurosimError, match="clipped"):
        CrossbarThresholdLayer(ThresholdUnit([2.0], 1), sige, weight_max=1.0)


# -- counting --------------------------------------------------------------------------------------
def test_known_numbers_of_threshold_functions():
    for n in range(5):
        assert threshold_function_codes(n).size == KNOWN_THRESHOLD_COUNTS[n]


def test_one_unit_realises_14_of_16_two_input_functions_not_xor_or_xnor():
    result = count_functions(2)
    assert (result.total, result.unrestricted) == (16, 14)
    assert sorted(result.not_realisable) == ["0110", "1001"]  # XOR, XNOR
    assert not is_threshold_function("0110") and not is_threshold_function("1001")
    fit = threshold_fit("0001")
    assert fit.realisable and ThresholdUnit(fit.weights, fit.threshold).evaluate(all_inputs(2)).tolist() == [0, 0, 0, 1]


def test_weight_level_counts():
    assert weight_levels(2).tolist() == [-1, 1] and weight_levels(3).tolist() == [-2, 0, 2]
    assert count_functions(2, 3).realisable == 14
    assert count_functions(2, 2).realisable == 10  # +-1 weights cannot ignore an input
    # more levels never realise fewer functions, and enough levels reach every threshold function
    counts = [realisable_codes(4, k).size for k in (1, 3, 5, 7, 9)]
    assert counts == sorted(counts) and counts[0] == 2 and counts[-1] == 1882
    assert set(realisable_codes(3, 5)) <= set(threshold_function_codes(3))
    # brute force for n = 2, k = 3: every (w1, w2) in {-1, 0, 1}^2, every threshold between sums
    found = set()
    x = all_inputs(2)
    for w1 in (-1, 0, 1):
        for w2 in (-1, 0, 1):
            s = x @ np.array([w1, w2])
            for t in np.arange(-2.5, 3.0, 0.5):
                found.add(function_code((s >= t).astype(np.uint8)))
    assert found == set(realisable_codes(2, 3).tolist())


def test_count_refuses_more_than_four_inputs():
    with pytest.raises(NeurosimError, match="n must be from 0 to 4"):
        count_functions(5)
    with pytest.raises(NeurosimError, match="weight vectors"):
        realisable_codes(4, 100)
    assert code_table(8, 2) == "0001"


# -- perceptron on devices ---------------------------------------------------------------------------
def test_perceptron_learns_every_separable_two_input_function_on_sige(sige):
    for code in range(16):
        table = code_table(code, 2)
        result = train_perceptron(table, sige, rng=code)
        assert result.linearly_separable == is_threshold_function(table)
        if result.linearly_separable:
            assert result.converged, (table, result.message)
            assert "".join(map(str, result.outputs)) == table
            # the learned weights realise the function in software, as a real-valued unit
            unit = ThresholdUnit(result.weights, result.threshold)
            assert np.array_equal(unit.evaluate(all_inputs(2)), result.targets)
        else:
            assert not result.converged and "not linearly separable" in result.message


def test_perceptron_xor_does_not_converge_and_says_why(sige):
    result = train_perceptron("0110", sige, PerceptronConfig(max_epochs=25), rng=0)
    assert not result.converged and result.epochs == 25 and min(result.mistakes) >= 1
    assert "not linearly separable" in result.message


def test_perceptron_uses_device_pulses(sige):
    """On the ideal linear device one update of n pulses moves a weight by n levels exactly."""
    ideal = load_device("ideal")
    cfg = PerceptronConfig(weight_max=1.0, pulses_per_update=4, max_epochs=50)
    result = train_perceptron("0111", ideal, cfg, rng=0)
    assert result.converged
    step = 2 * cfg.weight_max / ideal.levels_ltp  # reference column: window = 2 w_max
    levels = np.append(result.weights, -result.threshold) / (cfg.pulses_per_update * step)
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-9)
    # majority of three on SiGe with its cycle-to-cycle noise
    assert train_perceptron("00010111", sige, rng=1).converged
    with pytest.raises(NeurosimError, match="2\\*\\*n entries"):
        train_perceptron("011", sige)
    with pytest.raises(NeurosimError, match="pulses_per_update"):
        PerceptronConfig(pulses_per_update=0)


# -- command line -------------------------------------------------------------------------------------
def _run(argv, capsys):
    parser = argparse.ArgumentParser(prog="neurosim")
    add_logic_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.func(args)
    return capsys.readouterr().out


def test_cli_count_and_gates(capsys):
    out = json.loads(_run(["logic", "count", "--inputs", "2", "--weight-levels", "3", "--json"], capsys))
    assert out["realisable"] == 14 and out["not_realisable"] == ["0110", "1001"]
    out = _run(["logic", "count", "--inputs", "4"], capsys)
    assert "1882" in out
    out = json.loads(_run(["logic", "gates", "--trials", "50", "--json"], capsys))
    assert [g["name"] for g in out["gates"]] == list(GATE_NAMES)
    for g in out["gates"]:
        assert g["hardware_outputs"] == g["targets"] and g["error_rate_simulated"] == 0
        assert g["error_rate_analytic"] < 1e-12
    out = _run(["logic", "gates", "--gate", "xor", "--noise", "read=0.2", "--trials", "200"], capsys)
    assert "XOR" in out and "analytic" in out


def test_cli_train_and_margins(capsys, tmp_path):
    out = json.loads(_run(["logic", "train", "--function", "XOR", "--epochs", "10", "--json"], capsys))
    assert out["converged"] is False and out["linearly_separable"] is False
    out = json.loads(_run(["logic", "train", "--truth-table", "0111", "--json"], capsys))
    assert out["converged"] and out["outputs"] == "0111"
    plot = tmp_path / "margins.png"
    csv = _run(["logic", "margins", "--gate", "NOT", "--levels", "0,0.2", "--trials", "100", "-o", str(plot)], capsys)
    assert csv.splitlines()[0] == "gate,noise,level,analytic,simulated,std_error,trials" and len(csv.splitlines()) == 3
    assert plot.stat().st_size > 1000


def test_cli_user_errors(capsys):
    with pytest.raises(NeurosimError, match="n must be from 0 to 4"):
        _run(["logic", "count", "--inputs", "5"], capsys)
    with pytest.raises(NeurosimError, match="unknown gate"):
        _run(["logic", "gates", "--gate", "XNAND"], capsys)
    with pytest.raises(SystemExit):
        _run(["logic", "gates", "--noise", "loud=1"], capsys)
    with pytest.raises(SystemExit):
        _run(["logic", "train"], capsys)  # a function or a truth table is required
