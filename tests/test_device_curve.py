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
