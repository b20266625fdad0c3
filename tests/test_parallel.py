"""Threads over batch rows: the same results for any thread count."""

import numpy as np
import pytest

from neurosim import parallel
from neurosim.crossbar import CrossbarConfig, CrossbarLayer, Mapping
from neurosim.device import ReadNoise, load_device
from dataclasses import replace


def test_row_blocks_cover_the_rows_once():
    assert parallel.row_blocks(1000, 3) == [(0, 333), (333, 666), (666, 1000)]
    assert parallel.row_blocks(100, 4) == [(0, 100)]  # too few rows to split
    assert parallel.row_blocks(0, 2) == [(0, 0)]


def test_map_blocks_keeps_order_and_raises():
    assert parallel.map_blocks(lambda a, b: (a, b), [(0, 1), (1, 2), (2, 3)]) == [(0, 1), (1, 2), (2, 3)]

    def fail(a, b):
        raise ValueError(f"block {a}")

    with pytest.raises(ValueError, match="block"):
        parallel.map_blocks(fail, [(0, 1), (1, 2)])


@pytest.mark.parametrize("mapping", [Mapping.DIFFERENTIAL, Mapping.REFERENCE_COLUMN])
@pytest.mark.parametrize("noise", [ReadNoise.PROPORTIONAL, ReadNoise.CONSTANT])
def test_reads_are_identical_for_one_and_three_threads(monkeypatch, mapping, noise):
    rng = np.random.default_rng(0)
    device = replace(load_device("sige_epiram"), read_noise_frac=0.05, read_noise=noise)
    config = CrossbarConfig(rows=64, cols=32, mapping=mapping, dac_bits=6, adc_bits=6, output_noise_frac=0.01)
    layer = CrossbarLayer(rng.standard_normal((70, 150)), device, config, rng=1)
    x = rng.random((700, 150)) * (rng.random((700, 150)) < 0.3)  # sparse and dense tiles
    d = rng.standard_normal((700, 70))
    layer.calibrate_adc(x, d)
    results = {}
    for n in (1, 3):
        monkeypatch.setattr(parallel, "threads", lambda n=n: n)
        layer.reset_clip_counts()
        results[n] = (layer.forward(x, 5), layer.backward(d, 6), layer.clip_counts, layer.clip_counts_backward,
                      layer.read_v2g_S)  # fmt: skip
    assert len(parallel.row_blocks(700, 3)) == 3
    for a, b in zip(results[1], results[3]):
        np.testing.assert_array_equal(a, b)
    assert results[1][2].adc_conversions == 700 * 70 * 3  # three row tiles, every output converted


def test_event_counts_scale_exactly_with_the_work():
    rng = np.random.default_rng(2)
    device = replace(load_device("sige_epiram"), read_noise_frac=0.02)
    for mapping in (Mapping.DIFFERENTIAL, Mapping.REFERENCE_COLUMN):
        layer = CrossbarLayer(rng.standard_normal((40, 100)), device, CrossbarConfig(rows=64, cols=32, mapping=mapping, adc_bits=8, dac_bits=8), rng=3)
        x = (0.5 + 0.5 * rng.random((50, 100))) * (rng.random((50, 100)) < 0.5)  # no input rounds to 0 at the DAC
        layer.calibrate_adc(x, rng.standard_normal((50, 40)))
        layer.reset_clip_counts()
        layer.forward(x, 1)
        once = layer.clip_counts
        layer.forward(x, 1)
        twice = layer.clip_counts
        assert twice.cell_reads == 2 * once.cell_reads and twice.adc_conversions == 2 * once.adc_conversions
        assert twice.dac_inputs == 2 * once.dac_inputs == 2 * x.size
        driven = np.count_nonzero(x)  # each non-zero input drives a row of the two column tiles (32 and 8 outputs)
        if mapping is Mapping.DIFFERENTIAL:
            expected = 2 * driven * (32 + 8)  # both devices of every pair
        else:
            expected = driven * (32 + 1) + driven * (8 + 1)  # each tile row's reference device too
        assert once.cell_reads == expected
