"""Energy, latency and area estimates: conductance sums against brute force, hand-computed 2 x 2 numbers, scaling."""

import dataclasses
import json
import tomllib

import numpy as np
import pytest

from neurosim.crossbar import CrossbarConfig, CrossbarLayer
from neurosim.crossbar.config import DacMode, Mapping
from neurosim.device import DeviceArray, DeviceModel, ProgramMethod, load_device
from neurosim.energy import circuit_from_mapping, circuit_with_overrides, layer_estimate, load_circuit, shape_of
from neurosim.energy.card import CircuitCard, circuits_dir, list_circuits
from neurosim.energy.runs import crossbar_estimates
from neurosim.energy.sums import AnalogSums, read_v2g_brute_force
from neurosim.errors import CardError, NeurosimError
from neurosim.events import EventCounts

DEVICE = DeviceModel(name="lin", g_min_S=1e-6, g_max_S=11e-6, levels_ltp=10, levels_ltd=10,
                     write_voltage_ltp_V=2.0, write_pulse_width_ltp_s=1e-6,
                     write_voltage_ltd_V=-1.0, write_pulse_width_ltd_s=2e-6)  # fmt: skip

#: A circuit with round numbers for hand computation.
HAND = dict(name="hand", technology_node_m=10e-9, read_voltage_V=0.5, read_pulse_width_s=10e-9,
            dac_type="binary_weighted", dac_energy_J=1e-13, dac_area_m2=1e-12, adc_type="sar",
            adc_fom_J_per_step=1e-15, adc_clock_Hz=1e9, adc_area_per_level_m2=1e-11, cols_per_adc=2,
            cell_type="1t1r", cell_area_F2=16.0, add_energy_J=1e-14, activation_energy_J=2e-14)  # fmt: skip
CARD = circuit_from_mapping(HAND)


def _layer(W, mapping=Mapping.DIFFERENTIAL, rows=128, **config):
    cfg = CrossbarConfig(rows=rows, cols=128, mapping=mapping, program_method=ProgramMethod.EXACT, **config)
    return CrossbarLayer(np.asarray(W, float), DEVICE, cfg, rng=0)


def _line_devices(layer, transposed):
    """Brute force: for each input line, the conductances of every device it drives (through the cell), and
    the reference column's devices per tile (transposed reference-column reads), as plain lists."""
    r = layer.config.r_series_ohm
    cell = lambda g: g / (1 + g * r)  # noqa: E731
    lines, refs = {}, []
    for tile, rows, cols in layer._tile_items():
        g = {n: cell(a.conductance_S) for n, a in tile.arrays.items()}
        if not transposed:
            devs = np.concatenate([g["plus"], g["minus"]], axis=1) if "plus" in g else g["main"]
            for i, line in enumerate(range(rows.start, rows.stop)):
                lines.setdefault(line, []).extend(devs[i])
        else:
            main = np.concatenate([g["plus"], g["minus"]], axis=0) if "plus" in g else g["main"][:, :-1]
            for j, line in enumerate(range(cols.start, cols.stop)):
                lines.setdefault(line, []).extend(main[:, j])
            if "main" in g:
                refs.append((cols, g["main"][:, -1]))
    return lines, refs


def _brute(layer, v, transposed):
    """``sum (v/V_full)^2 G`` cell by cell for inputs ``v`` (fractions of full scale)."""
    lines, refs = _line_devices(layer, transposed)
    total = sum(v[b, i] ** 2 * g for b in range(v.shape[0]) for i, devs in lines.items() for g in devs)
    for cols, ref in refs:  # the reference column, driven at minus the sum of the tile's column inputs
        total += sum(v[b, cols].sum() ** 2 * g for b in range(v.shape[0]) for g in ref)
    return total


@pytest.mark.parametrize("mapping", [Mapping.DIFFERENTIAL, Mapping.REFERENCE_COLUMN])
@pytest.mark.parametrize("transposed", [False, True])
def test_read_sum_equals_brute_force_on_tiled_layer(mapping, transposed):
    rng = np.random.default_rng(3)
    W = rng.uniform(-1, 1, (5, 7))
    cfg = CrossbarConfig(rows=3, cols=3, mapping=mapping, program_method=ProgramMethod.EXACT, cell_r_series_ohm=15e3)
    layer = CrossbarLayer(W, DEVICE, cfg, rng=0)
    x = rng.uniform(-1, 1, (4, 5 if transposed else 7))
    x[0, 1] = 0.0
    (layer.backward if transposed else layer.forward)(x, rng=1)
    v = x / np.abs(x).max(axis=1, keepdims=True) if transposed else x  # the DAC's inputs (ideal DAC)
    assert layer.read_v2g_S == pytest.approx(_brute(layer, v, transposed), rel=1e-12)


def test_read_sum_definition_on_a_plain_matrix():
    v = np.array([[1.0, 0.5], [0.0, -1.0]])
    g = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert read_v2g_brute_force(v, g) == pytest.approx(1 * 3 + 0.25 * 7 + 0 + 1 * 7)


def test_two_by_two_by_hand():
    """W = [[1, -1], [0.5, 0]] on a 1-11 uS linear device, differential, input (1, 0.5): every number by hand."""
    layer = _layer([[1.0, -1.0], [0.5, 0.0]], adc_bits=4, dac_bits=2, adc_range=2.0)
    x = np.array([[1.0, 2.0 / 3.0]])  # on the 2-bit DAC's levels (multiples of 1/3 of full scale 1)
    layer.forward(x)
    # G+ = 1 uS + 10 uS * max(w, 0), G- = 1 uS + 10 uS * max(-w, 0); W[out, in], tile (in, out):
    # row 0 (input 1): G+ = [11, 6] uS, G- = [1, 1] uS -> 19 uS; row 1 (input 2/3): G+ = [1, 1], G- = [11, 1] -> 14 uS
    v2g = 1.0 * 19e-6 + (2 / 3) ** 2 * 14e-6
    assert layer.read_v2g_S == pytest.approx(v2g, rel=1e-12)
    est = layer_estimate(layer.events, layer.analog_sums, shape_of(layer), CARD, DEVICE, activations=2)
    assert est.energy_J["array"] == pytest.approx(0.5**2 * 10e-9 * v2g)  # 0.25 V^2 * 10 ns * 25.2 uS = 63 fJ
    assert est.energy_J["dac"] == pytest.approx(2 * 2 * 1e-13)  # 2 inputs, 2 binary-weighted units each
    assert est.energy_J["adc"] == pytest.approx(2 * 1e-15 * 2**4)  # 2 columns at 4 bits
    assert est.energy_J["digital"] == pytest.approx(2 * 1e-14 + 2 * 2e-14)
    assert est.energy_J["write"] == 0.0  # exact programming applies no pulses
    # one tile read: 2 columns share one ADC: 2 x (10 ns + 4 SAR cycles of 1 ns)
    assert est.latency_s == pytest.approx(2 * (10e-9 + 4e-9))
    # 8 devices of 16 F^2 at F = 10 nm; one 4-bit ADC of 16 levels; 2 input lines x 2 DAC units
    assert est.area_m2["cells"] == pytest.approx(8 * 16 * 1e-16)
    assert est.area_m2["adc"] == pytest.approx(16 * 1e-11)
    assert est.area_m2["dac"] == pytest.approx(2 * 2 * 1e-12)


def test_write_energy_of_pulses_by_hand():
    """A linear device from G_min: 2 potentiation pulses (1 uS each) then 1 depression pulse."""
    arr = DeviceArray(DEVICE, (1, 1), rng=0)
    arr.apply_pulses(np.array([[2]]))
    arr.apply_pulses(np.array([[-1]]))
    ltp, ltd = arr.write_conductance_S
    assert ltp == pytest.approx(2 * (1e-6 + 3e-6) / 2)  # 2 pulses at the mean of 1 and 3 uS
    assert ltd == pytest.approx(1 * (3e-6 + 2e-6) / 2)
    events = arr.events
    sums = AnalogSums(0.0, ltp, ltd)
    shape = shape_of(_layer([[1.0]], adc_bits=4))
    est = layer_estimate(events, sums, shape, CARD, DEVICE)
    assert est.energy_J["write"] == pytest.approx(2.0**2 * 1e-6 * 4e-6 + 1.0**2 * 2e-6 * 2.5e-6)
    arr.reset_events()
    assert arr.write_conductance_S == (0.0, 0.0)


def test_write_energy_unknown_without_a_pulse_on_the_card():
    dev = dataclasses.replace(DEVICE, write_voltage_ltp_V=None, write_pulse_width_ltp_s=None)
    shape = shape_of(_layer([[1.0]], adc_bits=4))
    est = layer_estimate(EventCounts(pulses_ltp=3), AnalogSums(0, 1e-6, 0), shape, CARD, dev)
    assert est.energy_J["write"] is None and est.total_energy_J is None
    assert layer_estimate(EventCounts(), AnalogSums(), shape, CARD, dev).energy_J["write"] == 0.0


def test_estimate_scales_with_adc_bits_batch_and_tiles():
    rng = np.random.default_rng(0)
    W = rng.uniform(-1, 1, (6, 8))
    x = rng.uniform(0, 1, (5, 8))

    def run(bits=4, batch=1, rows=128):
        layer = _layer(W, rows=rows, adc_bits=bits, adc_range=8.0)
        layer.forward(np.tile(x, (batch, 1)))
        return layer_estimate(layer.events, layer.analog_sums, shape_of(layer), CARD, DEVICE), layer

    base, _ = run()
    six, _ = run(bits=6)
    assert six.energy_J["adc"] == pytest.approx(4 * base.energy_J["adc"])  # 2^b
    assert six.area_m2["adc"] == pytest.approx(4 * base.area_m2["adc"])
    assert six.latency_s / base.latency_s == pytest.approx((10e-9 + 6e-9) / (10e-9 + 4e-9))  # SAR: b cycles
    twice, _ = run(batch=2)
    for part in ("array", "dac", "adc", "digital"):
        assert twice.energy_J[part] == pytest.approx(2 * base.energy_J[part], rel=1e-12)
    assert twice.latency_s == pytest.approx(2 * base.latency_s)
    tiled, layer = run(rows=3)  # 3 row tiles: three times the conversions, the same cells and inputs
    assert len(layer.row_edges) == 3
    assert tiled.energy_J["array"] == pytest.approx(base.energy_J["array"], rel=1e-12)
    assert tiled.energy_J["adc"] == pytest.approx(3 * base.energy_J["adc"])
    assert tiled.latency_s == pytest.approx(base.latency_s)  # tiles read in parallel
    one_by_one = circuit_with_overrides(CARD, {"tiles_in_parallel": False})
    serial = layer_estimate(layer.events, layer.analog_sums, shape_of(layer), one_by_one, DEVICE)
    assert serial.latency_s == pytest.approx(3 * base.latency_s)
    assert tiled.area_m2["adc"] == pytest.approx(3 * base.area_m2["adc"])


def test_bit_serial_reads_count_each_plane():
    """A bit-serial DAC applies 0 or full scale per plane: the sum is over planes of the bits set."""
    layer = _layer([[1.0, 0.5]], dac_bits=2, dac_mode=DacMode.BIT_SERIAL, adc_bits=4, adc_range=4.0)
    layer.forward(np.array([[1.0, 1.0 / 3.0]]))  # codes 3 (both planes) and 1 (plane 0)
    lines, _ = _line_devices(layer, False)
    assert layer.read_v2g_S == pytest.approx(2 * sum(lines[0]) + 1 * sum(lines[1]))


def test_reads_and_programming_are_split():
    layer = _layer([[1.0, -1.0]], adc_bits=4, adc_range=2.0)
    layer.apply_pulses(np.array([[-1, 1]]), np.array([[1, 0]]))
    layer.forward(np.ones((3, 2)))
    per, program = crossbar_estimates([layer], CARD, DEVICE, 3, [1])
    assert per.energy_J["write"] == 0.0
    ltp, ltd = layer.analog_sums.write_g_ltp_S, layer.analog_sums.write_g_ltd_S
    assert program == pytest.approx(4.0 * 1e-6 * ltp + 1.0 * 2e-6 * ltd)
    assert per.energy_J["adc"] == pytest.approx(1 * 1e-15 * 16)  # one column per image


def test_shipped_cards_cite_every_number():
    assert "sar_32nm" in list_circuits()
    for path in circuits_dir().glob("*.toml"):
        data = tomllib.loads(path.read_text())
        card = load_circuit(path)
        numeric = [f.name for f in dataclasses.fields(CircuitCard) if f.type in (float, int) and f.name in data]
        assert numeric and set(numeric) <= set(card.sources), f"{path.name} lacks sources for {set(numeric) - set(card.sources)}"


def test_bad_cards_are_named():
    with pytest.raises(CardError, match="unknown circuit 'nope'"):
        load_circuit("nope")
    with pytest.raises(CardError, match="adc_type"):
        circuit_from_mapping({**HAND, "adc_type": "pipeline"})
    with pytest.raises(CardError, match="read_voltage_V"):
        circuit_from_mapping({**HAND, "read_voltage_V": -1})
    with pytest.raises(CardError, match="lacks the required"):
        circuit_from_mapping({k: v for k, v in HAND.items() if k != "cols_per_adc"})
    with pytest.raises(NeurosimError, match="circuit.colls_per_adc"):
        circuit_with_overrides(CARD, {"colls_per_adc": 3})
    with pytest.raises(NeurosimError, match="ideal ADC"):
        layer_estimate(EventCounts(adc_conversions=1), AnalogSums(), shape_of(_layer([[1.0]])), CARD, DEVICE)


def test_adc_types_time_and_energy():
    for kind, cycles in (("sar", 6), ("flash", 1), ("ramp", 64)):
        card = circuit_with_overrides(CARD, {"adc_type": kind})
        assert card.adc_time_s(6) == pytest.approx(cycles / 1e9)
        assert card.adc_energy_J(6) == pytest.approx(64e-15)
    assert circuit_with_overrides(CARD, {"dac_type": "thermometer"}).dac_units(3) == 7


def test_device_card_write_pulses():
    dev = load_device("sige_epiram")
    assert (dev.write_voltage_ltp_V, dev.write_pulse_width_ltp_s, dev.write_voltage_ltd_V, dev.write_pulse_width_ltd_s) == (
        5.0, 5e-6, -3.0, 5e-6)  # fmt: skip
    with pytest.raises(NeurosimError, match="both or neither"):
        dataclasses.replace(dev, write_pulse_width_ltd_s=None)


def test_cli_energy_json_and_errors(capsys):
    from neurosim.cli import main

    assert main(["evaluate", "--test-images", "20", "--adc-bits", "6", "--energy", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    parts = ("array", "dac", "adc", "digital", "write")
    assert result["energy_J"] == pytest.approx(sum(result[f"energy_{p}_J"] for p in parts))
    assert result["energy_adc_J"] == pytest.approx(result["events"]["total"]["adc_conversions"] / 20 * 6.1e-15 * 64)
    for argv, what in ((["--energy", "--set", "circuit.cols_per_adc=0"], "cols_per_adc"), (["--energy"], "ideal ADC"),
                       (["--energy", "--adc-bits", "6", "--circuit", "nope"], "unknown circuit 'nope'")):  # fmt: skip
        assert main(["evaluate", "--test-images", "5", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and what in err


# -- the spiking and on-chip training paths ---------------------------------------------------------
def test_row_counting_kernel_matches_its_twin():
    from neurosim.energy.counting import count_rows_numba, count_rows_numpy

    rng = np.random.default_rng(0)
    idx = rng.integers(0, 9, (5, 7)).astype(np.int32)
    cnt = rng.integers(0, 8, 5).astype(np.int32)
    a, b = np.zeros(9, np.int64), np.zeros(9, np.int64)
    count_rows_numba(idx, cnt, a)
    count_rows_numpy(idx, cnt, b)
    np.testing.assert_array_equal(a, b)
    assert a.sum() == cnt.sum()


@pytest.mark.parametrize("coding", ["poisson", "rate"])
def test_fused_snn_read_sums_equal_the_network_engines(coding):
    """The fused engine counts each row's drives; the network engine reads through CrossbarLayer.forward:
    with the same spikes (fused T + 1 steps reads steps 0..T-1, as the network engine's T steps do)."""
    from neurosim.convert import snn as S
    from neurosim.convert.network import resolve_model
    from neurosim.data import load_mnist
    from neurosim.data.calibration import calibration_images

    model = resolve_model("mlp784")
    x = model.prepare(load_mnist("test")[0][:4])
    calib = model.prepare(calibration_images()[0])
    net = S.CrossbarSNN(S.convert_mlp(model, calib), "sige_epiram", config=S.SNNConfig(input_coding=coding), rng=0)
    fused = net.run(x, 9, rng=2)
    network = net.run(x, 8, rng=2, engine="network")
    for a, b in zip(fused.layer_sums, network.layer_sums):
        assert a.read_v2g_S == pytest.approx(b.read_v2g_S, rel=1e-6) and a.read_v2g_S > 0


def test_insitu_sums_by_brute_force():
    """One training image with no weight change: the kernel's read sums are the active rows' inputs squared
    times the conductance of every device of their rows (both layers); the evaluation read sums agree."""
    from neurosim.networks.insitu import kernels as K
    from neurosim.networks.insitu.config import InsituConfig
    from neurosim.networks.insitu.data import digits_data
    from neurosim.networks.insitu.network import DeviceNetwork

    data = digits_data()
    config = dataclasses.replace(InsituConfig(sizes=(64, 24, 10), epochs=1, images_per_epoch=10), lr_hidden=1e-12,
                                 lr_output=1e-12)  # fmt: skip
    net = DeviceNetwork(load_device("sige_epiram"), config, 0)
    g1 = net.arrays["layer1.main"].conductance_S.copy()  # (64, 24 + 1): the reference device last
    g2 = net.arrays["layer2.main"].conductance_S.copy()
    indptr, indices, values = data.csr
    order = np.array([3])
    stats, loss = np.zeros(K.ST_SIZE, np.int64), np.zeros(K.LS_SIZE)
    net.train_chunk(data.csr, data.train_labels, order, 0, stats, loss, 7)
    assert stats[K.ST_PULSES_LTP] + stats[K.ST_PULSES_LTD] == 0
    rows, vals = indices[indptr[3] : indptr[4]], values[indptr[3] : indptr[4]]
    x = np.zeros(64)
    x[rows] = vals
    hidden = K.layer_sums(loss)
    assert hidden[0].read_v2g_S == pytest.approx(float(np.sum(x**2 * g1.sum(axis=1))), rel=1e-12)
    assert hidden[1].read_v2g_S > 0
    net.forward(x[None, :])  # no read noise: the same hidden spikes drive the output layer
    assert net.read_sums[0].read_v2g_S == pytest.approx(hidden[0].read_v2g_S, rel=1e-12)
    assert net.read_sums[1].read_v2g_S == pytest.approx(hidden[1].read_v2g_S, rel=1e-12)
    assert g2.sum(axis=1).min() <= hidden[1].read_v2g_S <= 24 * g2.sum(axis=1).max()  # 1 to 24 active units


def test_insitu_energy_metrics_and_sweep_declarations(tmp_path):
    from neurosim.networks.insitu.tasks import TASK, energy_metrics, run_settings

    settings = {"dataset": "digits", "epochs": 1, "images_per_epoch": 50, "circuit": "sar_32nm"}
    TASK.validate(settings)
    result = run_settings(settings, 0, progress=False)
    m = energy_metrics(settings, result)
    assert m["energy_write_J"] > 0 and m["energy_test_write_J"] == 0.0
    assert TASK.returns("energy_J") and TASK.returns("energy_test_adc_J")
    # the write energy is V^2 t times the pulses' mean conductance, between the window's ends
    ev = result.layer_events("training")
    pulses = sum(e.pulses_ltp for e in ev) * 25 + sum(e.pulses_ltd for e in ev) * 9
    dev = load_device("sige_epiram")
    per = 50
    assert pulses * 5e-6 * dev.g_min_S / per <= m["energy_write_J"] <= pulses * 5e-6 * dev.g_max_S / per
    with pytest.raises(NeurosimError, match="software"):
        TASK.validate({"device": "software", "circuit": "sar_32nm"})


def test_pareto_front_and_spec():
    from neurosim.plots import pareto_front, plot_sweep
    from neurosim.sweep import check_spec, load_spec, parse_spec

    assert pareto_front([(1.0, 0.5), (2.0, 0.9), (1.5, 0.4), (3.0, 0.9), (0.5, 0.1)]) == [4, 0, 1]
    spec = load_spec(circuits_dir().parent / "experiments" / "accuracy_vs_energy.toml")
    check_spec(spec)  # every configuration valid for the evaluate task, which returns energy_J
    assert spec.plot["kind"] == "pareto" and spec.plot["cost"] == "energy_J"
    with pytest.raises(NeurosimError, match="cost"):
        parse_spec({"name": "p", "task": "evaluate", "grid": {"device": ["ideal"]}, "plot": {"kind": "pareto"}})
    with pytest.raises(NeurosimError, match="energy_J"):  # a task that returns no energy metrics
        parse_spec({"name": "p", "task": "program_error", "grid": {"device": ["ideal"]},
                    "plot": {"kind": "pareto", "cost": "energy_J"}})
    records = [{"settings": {"device": d, "crossbar.adc_bits": b}, "metrics": {"accuracy": a, "energy_J": e}}
               for d, b, a, e in (("ideal", 4, 0.5, 1e-9), ("ideal", 6, 0.9, 2e-9), ("sige_epiram", 4, 0.4, 3e-9))]  # fmt: skip
    small = parse_spec({"name": "p", "task": "evaluate", "grid": {"device": ["ideal", "sige_epiram"], "crossbar.adc_bits": [4, 6]},
                        "plot": {"kind": "pareto", "cost": "energy_J", "series": "device", "x": "crossbar.adc_bits"}})
    ax = plot_sweep(records, small)
    front = [line for line in ax.get_lines() if line.get_label() == "front"][0]
    np.testing.assert_allclose(front.get_xdata(), [1e-9, 2e-9])
