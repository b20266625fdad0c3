"""Event counts (neurosim.events): exact counts on hand-countable cases, and counts that scale with the work."""

import json

import numpy as np
import pytest

from neurosim import events
from neurosim.cli import main
from neurosim.convert.network import HardwareNetwork
from neurosim.crossbar import CrossbarConfig, CrossbarLayer, DacMode, Mapping
from neurosim.device import DeviceArray, ProgramMethod, load_device
from neurosim.errors import NeurosimError
from neurosim.events import EventCounts

READS = ("dac_conversions", "adc_conversions", "cell_reads", "tile_reads")


def _reads(c: EventCounts) -> dict:
    return {k: getattr(c, k) for k in READS}


def test_event_counts_validate_add_and_serialise():
    a = EventCounts(dac_conversions=1, pulses_ltp=2)
    b = EventCounts(dac_conversions=3, writes=4)
    assert (a + b).to_dict() == {**EventCounts().to_dict(), "dac_conversions": 4, "pulses_ltp": 2, "writes": 4}
    assert events.total([a, b]) == a + b and events.total([]) == EventCounts()
    assert events.report([a, b])["total"] == (a + b).to_dict() and len(events.report([a, b])["layers"]) == 2
    assert events.metrics(a)["events_pulses_ltp"] == 2 and set(events.metrics(a)) == set(events.METRICS)
    for bad in (-1, 1.5, True):
        with pytest.raises(NeurosimError, match="cell_reads"):
            EventCounts(cell_reads=bad)


@pytest.mark.parametrize("mapping", list(Mapping))
def test_reads_of_a_2x3_layer_counted_by_hand(mapping):
    W = np.array([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6]])  # (out 2, in 3): one tile
    layer = CrossbarLayer(W, load_device("ideal"), CrossbarConfig(rows=4, cols=8, mapping=mapping), rng=0)
    assert len(layer.tiles) == 1 and len(layer.tiles[0]) == 1
    programmed = layer.events
    layer.reset_events()
    assert layer.events == EventCounts()
    layer.forward(np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 0.0]]))
    differential = mapping is Mapping.DIFFERENTIAL
    # two vectors of 3 inputs; 2 outputs per vector; 2 driven rows, each reads 2 x 2 (differential) or 2 + 1 devices
    assert _reads(layer.events) == {"dac_conversions": 6, "adc_conversions": 4,
                                    "cell_reads": 2 * (4 if differential else 3), "tile_reads": 2}  # fmt: skip
    layer.reset_events()
    layer.backward(np.array([[1.0, 0.0]]))
    # one vector of 2 inputs; 3 row outputs; 1 driven column reads 3 x 2 devices, or 3 and the 3 reference devices
    assert _reads(layer.events) == {"dac_conversions": 2, "adc_conversions": 3, "cell_reads": 6, "tile_reads": 1}
    # programming (direct by default): one write per device, no passes, no pulses
    n_devices = 12 if differential else 9  # 3 rows x (2 + 1 reference)
    assert programmed == EventCounts(writes=n_devices)


def test_bit_serial_reads_count_every_plane():
    W = np.array([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6]])
    config = CrossbarConfig(rows=4, cols=8, dac_bits=2, dac_mode=DacMode.BIT_SERIAL)
    layer = CrossbarLayer(W, load_device("ideal"), config, rng=0)
    layer.reset_events()
    layer.forward(np.array([[1.0, 0.0, 1.0]]))  # codes 3, 0, 3: both planes drive rows 0 and 2
    assert _reads(layer.events) == {"dac_conversions": 3, "adc_conversions": 4, "cell_reads": 16, "tile_reads": 2}


def test_pulse_train_counted_by_direction():
    array = DeviceArray(load_device("sige_epiram"), (2, 2), rng=0)
    array.apply_pulses(np.array([[3, -2], [0, 1]]), rng=1)
    array.apply_pulses(np.array([[0, 0], [-5, 0]]), rng=2)
    assert array.events == EventCounts(pulses_ltp=4, pulses_ltd=7, writes=4)
    array.reset_events()
    assert array.events == EventCounts()


def test_programming_passes_and_pulses():
    device = load_device("sige_epiram")
    target = np.full((3, 4), device.g_min_S + 0.4 * device.window_S)
    a = DeviceArray(device, target.shape, rng=0)
    result = a.program(target, ProgramMethod.WRITE_VERIFY, rng=1)
    assert result.iterations > 1
    assert a.events.program_iterations == result.iterations
    assert a.events.pulses == int(result.pulses.sum())  # each pass pulses each device in one direction
    b = DeviceArray(device, target.shape, rng=0)
    result = b.program(target, ProgramMethod.OPEN_LOOP, rng=1)
    assert b.events == EventCounts(pulses_ltp=int(result.pulses.sum()), writes=int(np.count_nonzero(result.pulses)),
                                   program_iterations=1)  # fmt: skip
    c = DeviceArray(device, target.shape, rng=0)
    c.program(target, ProgramMethod.DIRECT, rng=1)
    assert c.events == EventCounts(writes=12)


def test_layer_events_include_its_programming():
    W = np.random.default_rng(0).uniform(-1, 1, (5, 20))
    config = CrossbarConfig(rows=8, cols=8, program_method=ProgramMethod.WRITE_VERIFY)
    layer = CrossbarLayer(W, load_device("sige_epiram"), config, rng=0)
    assert layer.events.program_iterations == sum(r.iterations for r in layer.program_results) > 0
    assert layer.events.pulses == sum(int(r.pulses.sum()) for r in layer.program_results)
    assert _reads(layer.events) == dict.fromkeys(READS, 0)


def _network(rng=0):
    g = np.random.default_rng(rng)
    params = [(g.standard_normal((7, 12)), np.zeros(7)), (g.standard_normal((3, 7)), np.zeros(3))]
    x = g.uniform(0, 1, (50, 12)).astype(np.float32)
    config = CrossbarConfig(rows=8, cols=8, adc_bits=6)
    return HardwareNetwork(params, "relu", load_device("sige_epiram"), config, calibration_x=x, rng=rng), x


def test_network_read_counts_scale_exactly_with_the_images():
    net, x = _network()
    net.reset_events()
    net.forward(x, rng=1)
    once = net.layer_events
    net.reset_events()
    net.forward(np.concatenate([x, x]), rng=1, batch_size=30)
    twice = net.layer_events
    for a, b in zip(once, twice):
        assert _reads(b) == {k: 2 * v for k, v in _reads(a).items()} and a.dac_conversions > 0
    assert net.events == events.total(twice)
    # the first layer: 12 inputs per image, 7 outputs x 2 row tiles, 2 x 1 tiles
    assert _reads(once[0])["dac_conversions"] == 50 * 12 and once[0].adc_conversions == 50 * 7 * 2
    assert once[0].tile_reads == 50 * 2


def test_evaluate_json_reports_events(capsys):
    def run(n):
        code = main(["evaluate", "--device", "ideal", "--adc-bits", "8", "--test-images", str(n), "--json"])
        assert code == 0
        return json.loads(capsys.readouterr().out)["events"]

    one, two = run(100), run(200)
    assert len(one["layers"]) >= 2 and set(one["total"]) == set(events.NAMES)
    for k in ("dac_conversions", "adc_conversions", "tile_reads"):
        assert two["total"][k] == 2 * one["total"][k] > 0
    assert two["total"]["cell_reads"] > one["total"]["cell_reads"] > 0  # other images drive other rows
    assert one["total"]["writes"] == two["total"]["writes"] > 0  # programming does not scale with the images


# -- threshold logic ---------------------------------------------------------------------------------
def test_threshold_network_read_counts_scale_with_the_inputs():
    from neurosim.networks.threshold.gates import gate
    from neurosim.networks.threshold.hardware import CrossbarThresholdNetwork
    from neurosim.networks.threshold.units import all_inputs

    hw = CrossbarThresholdNetwork(gate("XOR"), "sige_epiram", rng=0)
    x = all_inputs(2)
    hw.reset_events()
    hw.forward(x, rng=1)
    once = hw.layer_events
    hw.reset_events()
    hw.forward(np.concatenate([x, x]), rng=1)
    for a, b in zip(once, hw.layer_events):
        assert _reads(b) == {k: 2 * v for k, v in _reads(a).items()} and a.tile_reads > 0
    # XOR's first layer: 2 units on 2 inputs plus the bias row, 4 input rows
    first = hw.layers[0].crossbar
    assert once[0].dac_conversions == 4 * first.in_features and once[0].adc_conversions == 4 * first.out_features


def _logic(argv, capsys):
    import argparse

    from neurosim.networks.threshold.cli import add_logic_parser

    parser = argparse.ArgumentParser(prog="neurosim")
    add_logic_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.func(args)
    return json.loads(capsys.readouterr().out)


def test_logic_json_reports_events(capsys):
    gates = _logic(["logic", "gates", "--gate", "AND", "--gate", "XOR", "--trials", "20", "--json"], capsys)["gates"]
    assert [len(g["events"]["layers"]) for g in gates] == [1, 2]
    assert all(g["events"]["total"]["cell_reads"] > 0 and g["events"]["total"]["writes"] > 0 for g in gates)
    train = _logic(["logic", "train", "--truth-table", "0111", "--json"], capsys)["events"]["total"]
    assert train["pulses_ltp"] + train["pulses_ltd"] > 0 and train["tile_reads"] > 0
    rows = _logic(["logic", "margins", "--gate", "NOT", "--levels", "0,0.1", "--trials", "30", "--json"], capsys)["rows"]
    assert all(r["events"]["total"]["dac_conversions"] > 0 for r in rows)
    one, two = (_logic(["logic", "mnist", "--device", "ideal", "--test-images", str(n), "--json"], capsys)["events"]
                for n in (100, 200))  # fmt: skip
    for k in ("dac_conversions", "adc_conversions", "tile_reads"):
        assert two["total"][k] == 2 * one["total"][k] > 0
