"""Noise margins of threshold gates: the Gaussian analytic model against Monte Carlo on the crossbar.

Tolerances come from the trial counts: exact binomial acceptance regions for
independent copies, cluster standard errors where copies share a reference
column, standard errors of sample moments for the column statistics.
"""

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import binom

from neurosim.crossbar import CrossbarConfig, Mapping, WireConfig
from neurosim.device import ProgNoise, ProgramMethod, ReadNoise
from neurosim.errors import NeurosimError
from neurosim.networks.threshold import (
    GATE_NAMES,
    CrossbarThresholdLayer,
    ThresholdConfig,
    all_inputs,
    analytic_errors,
    analytic_sweep,
    error_sweep,
    gate,
    gate_targets,
    simulated_errors,
    with_noise,
)
from neurosim.networks.threshold.margins import censored_normal_moments, decision_statistics

REF2 = ThresholdConfig(crossbar=CrossbarConfig(mapping=Mapping.REFERENCE_COLUMN), headroom=2.0)
ALPHA = 1e-6  # per-row false-alarm probability of the exact binomial test


def _binomial_ok(errors: int, trials: int, p: float) -> bool:
    """Two-sided exact binomial test at level ALPHA: is ``errors`` out of ``trials`` consistent with ``p``?"""
    low = binom.cdf(errors, trials, p)
    high = binom.sf(errors - 1, trials, p)
    return min(low, high) > ALPHA / 2


def test_censored_normal_moments_match_sampling(rng):
    n = 400_000
    for mu, sigma, lo, hi in ((0.5, 0.2, 0.0, 1.0), (0.05, 0.1, 0.0, 1.0), (1.0, 0.3, 0.0, 1.0), (0.3, 0.0, 0.0, 1.0)):
        x = np.clip(mu + sigma * rng.standard_normal(n), lo, hi)
        mean, var = censored_normal_moments(mu, sigma, lo, hi)
        sd = x.std()
        assert abs(x.mean() - mean) <= 5 * sd / np.sqrt(n) + 1e-15
        if sigma > 0:
            # standard error of a sample variance: sqrt((m4 - var^2) / n)
            m4 = np.mean((x - x.mean()) ** 4)
            assert abs(x.var() - var) <= 5 * np.sqrt((m4 - x.var() ** 2) / n)
        else:
            assert var == 0 and mean == mu


@pytest.mark.parametrize(
    "case",
    [
        "differential, constant programming noise (clipped at G_min)",
        "differential, open-loop programming with the card's C2C noise",
        "differential, proportional programming plus read and output noise",
        "differential, state-independent read noise",
        "reference column, constant programming noise at full window",
    ],
)
def test_decision_mean_and_variance_match_the_crossbar(sige, case):
    """The analytic column statistics are exact moments (clipping included): compare with sample moments."""
    if case.startswith("differential, constant"):
        dev, cfg = replace(sige, prog_noise=ProgNoise.CONSTANT, prog_noise_frac=0.05), ThresholdConfig()
    elif case.startswith("differential, open-loop"):
        dev, cfg = sige, ThresholdConfig(crossbar=CrossbarConfig(program_method=ProgramMethod.OPEN_LOOP))
    elif case.startswith("differential, proportional"):
        dev = replace(sige, prog_noise=ProgNoise.PROPORTIONAL, prog_noise_frac=0.1, read_noise_frac=0.1)
        cfg = ThresholdConfig(crossbar=CrossbarConfig(output_noise_frac=0.05))
    elif case.startswith("differential, state-independent"):
        dev, cfg = replace(sige, read_noise_frac=0.1, read_noise=ReadNoise.CONSTANT), ThresholdConfig()
    else:
        dev = replace(sige, prog_noise=ProgNoise.CONSTANT, prog_noise_frac=0.03)
        cfg = ThresholdConfig(crossbar=CrossbarConfig(mapping=Mapping.REFERENCE_COLUMN))
    layer = gate("MAJ3").layers[0]
    x = all_inputs(3)
    stats = decision_statistics(layer, dev, cfg, x)
    trials = 4032  # 64 tiles of 63 copies with the reference column
    hw = CrossbarThresholdLayer(layer, dev, cfg, rng=7, replicas=trials)
    d = hw.sums(x, rng=8)[:, :, 0] - hw.comparator_offset  # (inputs, trials)
    cluster = hw.replicas_per_tile  # copies sharing a reference column: standard errors over clusters

    def std_error(values):
        means = values.reshape(-1, cluster).mean(axis=1)
        return means.std(ddof=1) / np.sqrt(means.size)

    for r in range(len(x)):
        sample = d[r]
        dev2 = (sample - sample.mean()) ** 2
        assert abs(sample.mean() - stats.mean[r, 0]) <= 5 * std_error(sample) + 1e-12, (case, r)
        assert abs(dev2.mean() - stats.var[r, 0]) <= 5 * std_error(dev2) + 1e-15, (case, r)


def test_simulated_gate_errors_agree_with_analytic_across_read_noise(sige):
    """Differential mapping, read noise (the column current is exactly Gaussian): every gate, every row."""
    trials = 2000
    checked = 0
    for level in (0.1, 0.2, 0.3):
        dev, cfg = with_noise(sige, ThresholdConfig(), "read", level)
        for i, name in enumerate(GATE_NAMES):
            net, targets = gate(name), gate_targets(name)
            ana = analytic_errors(net, dev, cfg, targets=targets)
            sim = simulated_errors(net, dev, cfg, trials, rng=100 * i + int(100 * level), targets=targets)
            for r in range(len(ana.error)):
                errors = int(round(sim.error[r] * trials))
                assert _binomial_ok(errors, trials, ana.error[r]), (name, level, r, sim.error[r], ana.error[r])
                checked += 1
    assert checked == 3 * sum(2 ** gate(n).n_inputs for n in GATE_NAMES)
    # the sweep really spans the interesting range
    assert analytic_errors(gate("XOR"), *with_noise(sige, ThresholdConfig(), "read", 0.3)).rate > 0.2


@pytest.mark.parametrize(
    "kind, levels",
    [("prog", (0.02, 0.04)), ("c2c", (0.005,)), ("comparator", (3e-7,)), ("output", (0.3,))],
)
def test_simulated_gate_errors_agree_with_analytic_reference_column(sige, kind, levels):
    """Reference column, headroom 2 (no device near a rail): copies in one tile share the reference
    devices, so the tolerance is 5 cluster standard errors (floored at the binomial one)."""
    trials = 2000
    for level in levels:
        dev, cfg = with_noise(sige, REF2, kind, level)
        for i, name in enumerate(("AND", "XOR", "MAJ3")):
            targets = gate_targets(name)
            ana = analytic_errors(gate(name), dev, cfg, targets=targets)
            sim = simulated_errors(gate(name), dev, cfg, trials, rng=i, targets=targets)
            p = ana.error
            floor = np.sqrt(p * (1 - p) / trials)
            tol = 5 * np.maximum(np.nan_to_num(sim.std_error), floor) + 2.0 / trials
            assert np.all(np.abs(sim.error - p) <= tol), (kind, level, name, sim.error, p, sim.std_error)
    assert ana.rate > 0.01  # the check is not vacuous


def test_xor_hidden_units_are_correlated_through_the_reference_column(sige):
    """XOR's two hidden units share reference devices; the analytic model must account for it."""
    dev, cfg = with_noise(sige, REF2, "prog", 0.04)
    from neurosim.networks.threshold.margins import decision_statistics as stats_of

    stats = stats_of(gate("XOR").layers[0], dev, cfg, all_inputs(2))
    assert np.all(stats.block == stats.block[0])
    assert np.all(stats.common_var[1:] > 0.3 * stats.var[1:])  # a large shared part
    diff = with_noise(sige, ThresholdConfig(), "prog", 0.04)
    assert not np.any(stats_of(gate("XOR").layers[0], *diff, all_inputs(2)).common_var)


def test_error_sweep_rows_and_plot(sige, tmp_path):
    from neurosim.networks.threshold.plots import plot_gate_errors
    from neurosim.plots import save_figure

    nets = {"NOT": gate("NOT"), "AND": gate("AND")}
    rows = error_sweep(nets, sige, ThresholdConfig(), "read", [0.0, 0.3], trials=200, rng=0)
    assert [(r["gate"], r["level"]) for r in rows] == [("NOT", 0.0), ("AND", 0.0), ("NOT", 0.3), ("AND", 0.3)]
    assert rows[0]["simulated"] == 0 and rows[0]["analytic"] < 1e-12
    again = error_sweep(nets, sige, ThresholdConfig(), "read", [0.0, 0.3], trials=200, rng=0)
    assert again == rows  # reproducible from the seed
    curves = analytic_sweep(nets, sige, ThresholdConfig(), "read", np.linspace(0, 0.3, 7))
    ax = plot_gate_errors(rows, curves=curves)
    save_figure(ax.figure, tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_analytic_model_refuses_what_it_does_not_cover(sige):
    net = gate("AND")
    cases = [
        (replace(sige, d2d_g_sigma_frac=0.05), ThresholdConfig(), "device-to-device"),
        (replace(sige, stuck_on_frac=0.01), ThresholdConfig(), "stuck"),
        (sige, ThresholdConfig(crossbar=CrossbarConfig(wire=WireConfig(r_wire_ohm=1.0))), "wire"),
        (sige, ThresholdConfig(crossbar=CrossbarConfig(program_method=ProgramMethod.WRITE_VERIFY)), "write-verify"),
    ]
    for dev, cfg, what in cases:
        with pytest.raises(NeurosimError, match=what):
            analytic_errors(net, dev, cfg)
    with pytest.raises(NeurosimError, match="unknown noise kind 'loud'"):
        with_noise(sige, ThresholdConfig(), "loud", 0.1)
    with pytest.raises(NeurosimError, match="trials"):
        simulated_errors(net, sige, trials=1)
    # simulation still works where the analytic model does not apply
    sim = simulated_errors(net, replace(sige, d2d_g_sigma_frac=0.05), trials=20, rng=0)
    assert sim.error.shape == (4,)
