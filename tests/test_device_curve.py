"""The pulse-update curve against design.md section 4's published numbers."""

import numpy as np
import pytest

from neurosim.device import curve
from neurosim.device.cycling import model_cycle_S

uS = 1e-6


@pytest.mark.parametrize("nl, a", [(0.5, 2.519877), (1.0, 1.251653), (2.4, 0.499181)])
def test_nl_to_a_check_points(nl, a):
    assert curve.nl_to_a(nl) == pytest.approx(a, rel=1e-6)
    assert curve.nl_to_a(-nl) == curve.nl_to_a(nl)


@pytest.mark.parametrize("nl", np.round(np.concatenate([[0.05, 0.1, 0.25], np.linspace(0.5, 9, 18)]), 3))
def test_max_distance_above_diagonal_is_proportional_to_nl(nl):
    a = curve.nl_to_a(nl)
    x = np.linspace(0, 1, 400_001)
    g = np.expm1(-x / a) / np.expm1(-1 / a)  # brute force on a dense grid, independent of the closed form
    assert np.max(g - x) == pytest.approx(0.0989949 * nl, rel=1e-6)


def test_nl_zero_is_linear_and_out_of_range_rejected():
    assert curve.nl_to_a(0.0) == np.inf
    g = curve.potentiation_conductance(np.arange(11), 1e-6, 2e-6, np.inf, 10)
    np.testing.assert_allclose(np.diff(g), 1e-7, rtol=1e-12)
    with pytest.raises(ValueError, match="NL"):
        curve.nl_to_a(10.5)


def test_sige_window_and_steps(sige):
    assert sige.g_max_S == pytest.approx(12.35 * uS, rel=1e-3)
    assert sige.g_min_S == pytest.approx(0.2459 * uS, rel=1e-3)
    ltp = sige.potentiation_curve()
    assert ltp[0] == pytest.approx(sige.g_min_S, rel=1e-12)
    assert ltp[64] == pytest.approx(sige.g_max_S, rel=1e-3)
    steps = np.diff(ltp)
    assert steps[0] == pytest.approx(228.3e-9, abs=0.1e-9)
    assert steps[-1] == pytest.approx(154.5e-9, abs=0.1e-9)
    assert np.all(np.diff(steps) < 0)  # saturating: every step smaller than the one before
    linear_step = sige.window_S / 64
    assert linear_step == pytest.approx(189e-9, abs=0.5e-9)
    assert sige.c2c_sigma_S == pytest.approx(242e-9, abs=0.5e-9)
    assert sige.c2c_sigma_S > linear_step


def test_depression_mirrors_potentiation(sige):
    ltp, ltd = sige.potentiation_curve(), sige.depression_curve()
    np.testing.assert_allclose(ltd, sige.g_max_S + sige.g_min_S - ltp, rtol=1e-12)
    cycle = model_cycle_S(sige)
    np.testing.assert_allclose(np.diff(cycle)[:64], -np.diff(cycle)[64:], rtol=1e-9)


def _neurosim_depression(q, g_min, g_max, nl_ltd, a_unit, levels):
    """Depression by hand, as NeuroSim walks it: one pulse axis P (0 at G_min, levels at G_max),
    ``A = sign(NL) a levels``, ``G(P) = G_min + B (1 - exp(-P/A))``, depression moves P down from P = levels."""
    A = np.sign(nl_ltd) * a_unit * levels
    B = (g_max - g_min) / (1 - np.exp(-levels / A))
    return [g_min + B * (1 - np.exp(-(levels - k) / A)) for k in q]


@pytest.mark.parametrize("nl_ltd, a_unit", [(2.4, 0.499181), (-2.4, 0.499181), (-0.5, 2.519877), (0.5, 2.519877)])
def test_depression_follows_the_sign_of_its_label(nl_ltd, a_unit):
    """A positive LTD label walks back down the saturating curve (small steps first); a negative one mirrors."""
    g_min, g_max, levels = 1 * uS, 11 * uS, 10
    q = np.array([0, 1, 2, 5, 9, 10])
    expected = _neurosim_depression(q, g_min, g_max, nl_ltd, a_unit, levels)  # a from the published check points
    a_d = curve.depression_constant(nl_ltd, levels)
    assert np.sign(a_d) == -np.sign(nl_ltd)
    got = curve.depression_conductance(q, g_min, g_max, a_d, levels)
    np.testing.assert_allclose(got, expected, rtol=2e-6)
    np.testing.assert_allclose(curve.depression_pulses(got, g_min, g_max, a_d, levels), q, atol=1e-6)
    steps = -np.diff(curve.depression_conductance(np.arange(levels + 1), g_min, g_max, a_d, levels))
    assert (steps[0] < steps[-1]) == (nl_ltd > 0)  # positive label: small steps near G_max first


def test_depression_hand_points_for_nl_2p4():
    """Hand-computed: levels 10, window 1..11 uS, a(2.4) = 0.499181, so A = 4.99181 pulses,
    B = 10 uS / (1 - e^-2.00328) = 11.5592 uS; one depression pulse from G_max: P = 9,
    G = 1 + 11.5592 (1 - e^(-9/4.99181)) = 10.6542 uS; five: P = 5, G = 1 + 11.5592 (1 - e^(-1.00164)) = 8.3138 uS."""
    a_d = curve.depression_constant(2.4, 10)
    got = curve.depression_conductance(np.array([1, 5]), 1 * uS, 11 * uS, a_d, 10)
    np.testing.assert_allclose(got / uS, [10.6542, 8.3138], atol=2e-4)


def test_negative_potentiation_label_accelerates():
    a_p = curve.potentiation_constant(-2.4, 10)
    assert a_p == pytest.approx(-4.99181, rel=1e-5)
    g = curve.potentiation_conductance(np.arange(11), 1 * uS, 11 * uS, a_p, 10)
    assert g[0] == pytest.approx(1 * uS) and g[-1] == pytest.approx(11 * uS)
    assert np.all(np.diff(g, 2) > 0)  # every step larger than the one before
    np.testing.assert_allclose(curve.potentiation_pulses(g, 1 * uS, 11 * uS, a_p, 10), np.arange(11), atol=1e-9)


@pytest.mark.parametrize("nl, levels", [(0.5, 64), (2.4, 97), (4.88, 100), (0.04, 128), (0.0, 50)])
def test_pulse_inverse_round_trip(nl, levels):
    a = curve.nl_to_a(nl) * levels
    p = np.linspace(0, levels, 37)
    for forward, inverse in [
        (curve.potentiation_conductance, curve.potentiation_pulses),
        (curve.depression_conductance, curve.depression_pulses),
    ]:
        g = forward(p, 1e-7, 5e-6, a, levels)
        np.testing.assert_allclose(inverse(g, 1e-7, 5e-6, a, levels), p, atol=1e-9 * levels)
        assert forward(levels, 1e-7, 5e-6, a, levels) == pytest.approx(5e-6 if forward is curve.potentiation_conductance else 1e-7)
