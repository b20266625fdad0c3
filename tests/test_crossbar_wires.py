"""Wire resistance: the transfer-matrix fast path against the exact nodal solve and analytic cases."""

from dataclasses import replace

import numpy as np
import pytest

from neurosim.crossbar import CrossbarConfig, CrossbarLayer, Mapping, WireConfig, nodal_solve, transfer_matrix
from neurosim.device import load_device
from neurosim.device.noise import read_sigma_S
from neurosim.errors import NeurosimError

WIRE = WireConfig(r_wire_ohm=2.0, r_driver_ohm=50.0, r_sense_ohm=30.0, r_access_ohm=1e3)


def _conductances(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.25e-6, 12e-6, shape)


def test_single_cell_is_a_series_circuit():
    g = np.array([[1e-5]])
    r_total = 50.0 + 2.0 + 1e3 + 1 / 1e-5 + 2.0 + 30.0  # driver, segment, transistor, device, segment, sense
    assert transfer_matrix(g, WIRE)[0, 0] == pytest.approx(1 / r_total, rel=1e-13)
    assert transfer_matrix(g, WIRE, transposed=True)[0, 0] == pytest.approx(1 / r_total, rel=1e-13)
    assert nodal_solve(g, WIRE, [[0.2]])[0, 0] == pytest.approx(0.2 / r_total, rel=1e-13)


def test_one_row_by_hand():
    """A row of two cells: solve the 4-node network by hand (nodal equations written out)."""
    g1, g2 = 4e-6, 9e-6
    w = WireConfig(r_wire_ohm=1e3, r_driver_ohm=1e3, r_sense_ohm=2e3)  # large, so the drop is visible
    gw, gi, go = 1 / 1e3, 1 / 2e3, 1 / 3e3  # segment, driver + segment, segment + sense
    # unknowns U0, U1 (row), V0, V1 (columns); row driven at 1 V
    k = np.array(
        [
            [gi + gw + g1, -gw, -g1, 0],
            [-gw, gw + g2, 0, -g2],
            [-g1, 0, g1 + go, 0],
            [0, -g2, 0, g2 + go],
        ]
    )
    _, _, v0, v1 = np.linalg.solve(k, [gi, 0, 0, 0])
    np.testing.assert_allclose(transfer_matrix(np.array([[g1, g2]]), w), [[go * v0, go * v1]], rtol=1e-12)


@pytest.mark.parametrize("shape", [(1, 6), (5, 1), (7, 5), (24, 24)])
def test_transfer_matrix_matches_the_nodal_solve(shape):
    g = _conductances(shape, seed=sum(shape))
    rng = np.random.default_rng(1)
    v = rng.uniform(-0.2, 0.2, (5, shape[0]))
    exact = nodal_solve(g, WIRE, v)
    np.testing.assert_allclose(v @ transfer_matrix(g, WIRE), exact, rtol=0, atol=1e-11 * np.abs(exact).max())
    vb = rng.uniform(-0.2, 0.2, (5, shape[1]))
    exact_b = nodal_solve(g, WIRE, vb, transposed=True)
    fast_b = vb @ transfer_matrix(g, WIRE, transposed=True).T
    np.testing.assert_allclose(fast_b, exact_b, rtol=0, atol=1e-11 * np.abs(exact_b).max())


def test_reciprocity_with_equal_driver_and_sense_resistance():
    g = _conductances((9, 6), seed=3)
    w = replace(WIRE, r_driver_ohm=40.0, r_sense_ohm=40.0)
    np.testing.assert_allclose(transfer_matrix(g, w, transposed=True), transfer_matrix(g, w), rtol=1e-11)


def test_attenuation_grows_with_distance_from_the_drivers_and_sense_amplifiers():
    g = np.full((32, 32), 10e-6)
    w = WireConfig(r_wire_ohm=5.0)
    ratio = transfer_matrix(g, w) / g  # 1 for ideal wires
    assert np.all(ratio < 1) and np.all(ratio > 0.5)
    assert np.all(np.diff(ratio, axis=1) < 0)  # farther along the row from its driver (column index up)
    assert np.all(np.diff(ratio, axis=0) > 0)  # nearer the sense amplifiers (at the last row)
    assert ratio[0, -1] == ratio.min()  # the far corner suffers most
    weaker = transfer_matrix(g, WireConfig(r_wire_ohm=0.5)) / g
    assert np.all(weaker > ratio)  # less wire resistance, less drop
    np.testing.assert_allclose(transfer_matrix(g, WireConfig(r_wire_ohm=1e-6)), g, rtol=1e-6)


@pytest.mark.parametrize("mapping", list(Mapping))
def test_layer_fast_path_matches_the_nodal_solve(mapping):
    device = load_device("sige_epiram")
    rng = np.random.default_rng(4)
    W = rng.standard_normal((10, 14))
    layer = CrossbarLayer(W, device, CrossbarConfig(rows=8, cols=6, mapping=mapping, wire=WIRE), rng=5)
    x = rng.uniform(0, 1, (6, 14))
    d = rng.standard_normal((6, 10))
    fast, exact = layer.forward(x), layer.forward(x, nodal=True)
    np.testing.assert_allclose(fast, exact, atol=1e-10 * np.abs(exact).max())
    np.testing.assert_allclose(fast, x @ layer.effective_weights(include_wires=True).T, atol=1e-10 * np.abs(fast).max())
    fast_b, exact_b = layer.backward(d), layer.backward(d, nodal=True)
    np.testing.assert_allclose(fast_b, exact_b, atol=1e-10 * np.abs(exact_b).max())
    ideal = x @ layer.effective_weights().T
    drop = np.abs(fast - ideal).max() / np.abs(ideal).max()
    assert 1e-4 < drop < 0.2  # the wires matter, but do not dominate


def test_read_noise_is_attenuated_like_the_signal():
    device = replace(load_device("ideal"), g_min_S=1e-7, read_noise_frac=0.05)
    W = np.random.default_rng(6).uniform(-1, 1, (4, 5))
    layer = CrossbarLayer(W, device, CrossbarConfig(wire=WireConfig(r_wire_ohm=50.0)), rng=7)
    tile = layer.tiles[0][0]
    m = tile.read_matrices(0.0, False, np.float64)
    expected = np.zeros_like(m.var)
    for devices in tile.arrays.values():
        g = devices.conductance_S
        expected += (read_sigma_S(device, g) * transfer_matrix(g, layer.config.wire) / g / tile.k_S) ** 2
    np.testing.assert_allclose(m.var, expected, rtol=1e-12)


def test_bad_network_input_is_rejected():
    with pytest.raises(NeurosimError, match="non-empty 2-D"):
        transfer_matrix(np.zeros((0, 3)), WIRE)
    with pytest.raises(NeurosimError, match=">= 0"):
        transfer_matrix(np.full((2, 2), -1.0), WIRE)
    with pytest.raises(NeurosimError, match=r"\(batch, 3\)"):
        nodal_solve(np.ones((3, 2)) * 1e-6, WIRE, np.ones((1, 2)))
    with pytest.raises(NeurosimError, match="WireConfig"):
        transfer_matrix(np.ones((2, 2)), {"r_wire_ohm": 1.0})
