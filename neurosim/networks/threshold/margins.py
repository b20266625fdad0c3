"""Noise margins of threshold networks: error probabilities, analytic and simulated.

A unit's decision variable is ``d = I_column / I_unit - reference - offset``
in weight units (see :mod:`~neurosim.networks.threshold.hardware`); it fires
when ``d >= 0``. This module computes the probability that a network's output
is wrong for each input vector in two independent ways.

**Analytic (Gaussian column current).** The crossbar's noise sources enter a
column exactly as the crossbar draws them:

- programming noise (``ProgramMethod.DIRECT``): each device is set to its
  target snapped to the device's levels (the noise-free twin of the layer
  gives these conductances ``g``), plus ``N(0, prog_sigma_S(g))``, clipped to
  ``[G_min, G_max]``; open-loop programming (``ProgramMethod.OPEN_LOOP``)
  gives ``g`` after ``n`` whole pulses plus ``N(0, c2c_sigma_S * sqrt(n))``,
  clipped. The clipped (censored) Gaussian's mean and variance are exact.
- read noise: ``sigma = read_noise_frac * G`` per device and read; its
  variance averaged over the programmed state is ``read_noise_frac**2 * E[G**2]``
  (state-independent read noise, ``ReadNoise.CONSTANT``: ``(read_noise_frac * G_max)**2``).
- a column with inputs ``v_i`` (0 or 1) sums the devices of its active rows:
  mean ``sum_i v_i (E[G+_i] - E[G-_i]) / k``, variance
  ``sum_i v_i**2 (Var + read variance of both devices) / k**2``, with ``k`` the
  siemens per weight unit; plus output noise (per conversion, i.e. per row
  tile) and comparator noise. With the reference-column mapping the units of
  one tile share the reference devices: that part of the variance is a common
  Gaussian, integrated by Gauss-Hermite quadrature, so joint outputs (XOR's
  hidden layer) are right too.
- ``P(d >= 0) = Phi(mean / sd)``; hidden layers are summed over their output
  patterns, layer by layer.

The column current is exactly Gaussian when no device sits close to a rail of
its window (headroom > 1 for programming noise) and only one of programming
and read noise is present; otherwise it is the Gaussian with the exact mean
and variance. Device-to-device variation, stuck devices, wire resistance,
write-verify and bit-serial inputs are not in the analytic model (it refuses them).

**Simulated.** ``trials`` independent copies of the network
(:class:`~neurosim.networks.threshold.hardware.CrossbarThresholdNetwork` with
replicas) are programmed and every input vector is read through each copy,
so the error of each row is averaged over chips and reads. The standard error
is computed from the copies; with the reference-column mapping the copies in
one tile share its reference column, and the standard error is computed over
tiles (clusters).
"""

import logging
import math
import sys
from dataclasses import dataclass, replace
from enum import Enum
from functools import lru_cache

import numpy as np
from scipy.special import ndtr

from neurosim.crossbar import DacMode, Mapping
from neurosim.device import DeviceModel, ProgNoise, ProgramMethod, ReadNoise, load_device
from neurosim.device import curve
from neurosim.device.noise import prog_sigma_S
from neurosim.errors import NeurosimError
from neurosim.events import report
from neurosim.networks.threshold.hardware import (
    CrossbarThresholdLayer,
    CrossbarThresholdNetwork,
    ThresholdConfig,
)
from neurosim.networks.threshold.units import (
    Readout,
    ThresholdLayer,
    ThresholdNetwork,
    all_inputs,
    check_binary,
)
from neurosim.rng import as_generator
from neurosim.validation import real, whole

logger = logging.getLogger(__name__)

#: Most units per layer for which output patterns are enumerated (2**m patterns).
MAX_ENUMERATED_UNITS = 12

#: Gauss-Hermite nodes for the shared reference-column noise.
HERMITE_NODES = 96


class NoiseKind(Enum):
    """Which noise a margin sweep varies, and the unit of its level."""

    #: ``device.read_noise_frac``: fresh every read, sigma = fraction of G.
    READ = "read"
    #: ``device.prog_noise = constant``, ``prog_noise_frac``: sigma = fraction of G_max, at programming.
    PROG = "prog"
    #: ``device.prog_noise = proportional``, ``prog_noise_frac``: sigma = fraction of G, at programming.
    PROG_PROPORTIONAL = "prog_proportional"
    #: ``device.c2c_sigma_frac`` (fraction of the window per pulse), with open-loop programming.
    C2C = "c2c"
    #: ``crossbar.output_noise_frac``: per conversion, fraction of ``weight_max`` (one weight unit at full scale).
    OUTPUT = "output"
    #: ``comparator_noise_A``: comparator input noise, in amperes.
    COMPARATOR = "comparator"


def parse_noise_kind(value) -> NoiseKind:
    """The :class:`NoiseKind` for a member or its string value."""
    if isinstance(value, NoiseKind):
        return value
    try:
        return NoiseKind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in NoiseKind)
        raise NeurosimError(f"unknown noise kind {value!r}; allowed: {allowed}") from None


def with_noise(device: DeviceModel, config: ThresholdConfig, kind, level: float):
    """``(device, config)`` with the noise ``kind`` set to ``level`` (see :class:`NoiseKind` for units)."""
    kind = parse_noise_kind(kind)
    real(f"noise level for {kind.value}", level, "a finite number >= 0", lambda v: v >= 0)
    level = float(level)
    if kind is NoiseKind.READ:
        return replace(device, read_noise_frac=level), config
    if kind is NoiseKind.PROG:
        return replace(device, prog_noise=ProgNoise.CONSTANT, prog_noise_frac=level), config
    if kind is NoiseKind.PROG_PROPORTIONAL:
        return replace(device, prog_noise=ProgNoise.PROPORTIONAL, prog_noise_frac=level), config
    if kind is NoiseKind.C2C:
        crossbar = replace(config.crossbar, program_method=ProgramMethod.OPEN_LOOP)
        return replace(device, c2c_sigma_frac=level), replace(config, crossbar=crossbar)
    if kind is NoiseKind.OUTPUT:
        return device, replace(config, crossbar=replace(config.crossbar, output_noise_frac=level))
    return device, replace(config, comparator_noise_A=level)


# -- analytic model -----------------------------------------------------------------------------
def censored_normal_moments(mu, sigma, lo, hi):
    """Mean and variance of ``clip(N(mu, sigma**2), lo, hi)`` (arrays broadcast; sigma = 0 allowed)."""
    mu, sigma = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float))
    lo = np.broadcast_to(np.asarray(lo, dtype=float), mu.shape)
    hi = np.broadcast_to(np.asarray(hi, dtype=float), mu.shape)
    mean = np.array(np.clip(mu, lo, hi), dtype=float).reshape(mu.shape)
    var = np.zeros(mu.shape)
    noisy = sigma > 0
    if np.any(noisy):
        m, s, a_, b_ = mu[noisy], sigma[noisy], lo[noisy], hi[noisy]
        a, b = (a_ - m) / s, (b_ - m) / s
        pa, pb = ndtr(a), ndtr(b)
        fa, fb = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi), np.exp(-0.5 * b * b) / math.sqrt(2 * math.pi)
        inside = pb - pa
        first = a_ * pa + b_ * (1 - pb) + m * inside + s * (fa - fb)
        second = (
            a_**2 * pa
            + b_**2 * (1 - pb)
            + (m * m + s * s) * inside
            + 2 * m * s * (fa - fb)
            + s * s * (np.where(np.isfinite(a), a * fa, 0.0) - np.where(np.isfinite(b), b * fb, 0.0))
        )
        mean[noisy] = first
        var[noisy] = np.maximum(second - first * first, 0.0)
    return mean, var


def _check_analytic(device: DeviceModel, config: ThresholdConfig) -> None:
    cb = config.crossbar
    problems = []
    if device.d2d_g_sigma_frac or device.d2d_nl_sigma_frac:
        problems.append("device-to-device variation (d2d_*_sigma_frac)")
    if device.stuck_on_frac or device.stuck_off_frac:
        problems.append("stuck devices (stuck_*_frac)")
    if cb.wire is not None:
        problems.append("wire resistance (crossbar.wire)")
    if cb.program_method is ProgramMethod.WRITE_VERIFY:
        problems.append("write-verify programming")
    if cb.dac_mode is DacMode.BIT_SERIAL:
        problems.append("bit-serial inputs")
    if problems:
        raise NeurosimError(
            "the analytic noise model covers programming, cycle-to-cycle (open-loop), read, output and "
            f"comparator noise only; this setup has {', '.join(problems)}: use the simulated error rates"
        )


def _noise_free(device: DeviceModel) -> DeviceModel:
    return replace(device, read_noise_frac=0.0, prog_noise=ProgNoise.NONE, prog_noise_frac=0.0, c2c_sigma_frac=0.0)


def _without_read_out_noise(config: ThresholdConfig) -> ThresholdConfig:
    return replace(config, comparator_noise_A=0.0, crossbar=replace(config.crossbar, output_noise_frac=0.0))


@lru_cache(maxsize=64)
def _twin(layer: ThresholdLayer, device: DeviceModel, config: ThresholdConfig):
    """The noise-free layer (same mapping, snapping and scale) and its device conductances (cached)."""
    twin = CrossbarThresholdLayer(layer, device, config, rng=0)
    g_pos, g_neg = twin.crossbar.conductances_S()
    return twin, g_pos, g_neg


def _device_moments(g_nominal, device: DeviceModel, method: ProgramMethod):
    """Mean and variance (S, S**2) of a programmed device whose noise-free result is ``g_nominal``, then read variance."""
    g = np.asarray(g_nominal, dtype=float)
    if method is ProgramMethod.DIRECT:
        sigma = prog_sigma_S(device, g)
    else:  # open loop: n whole pulses from G_min, one write
        p = curve.potentiation_pulses(g, device.g_min_S, device.g_max_S, device.a_ltp, device.levels_ltp)
        sigma = device.c2c_sigma_S * np.sqrt(np.rint(p))
    mean, var = censored_normal_moments(g, sigma, device.g_min_S, device.g_max_S)
    if device.read_noise is ReadNoise.CONSTANT:
        read_var = np.full(mean.shape, (device.read_noise_frac * device.g_max_S) ** 2)
    else:
        read_var = device.read_noise_frac**2 * (mean * mean + var)
    return mean, var + read_var


@dataclass(frozen=True)
class DecisionStats:
    """Gaussian statistics of a layer's decision variables ``d`` (weight units) for a set of inputs.

    ``mean``, ``var``, ``common_var``: (inputs, units). ``common_var`` is the
    part of ``var`` shared by every unit of the same ``block`` (units in one
    reference-column tile); ``block``: (units,) block index per unit.
    """

    mean: np.ndarray
    var: np.ndarray
    common_var: np.ndarray
    block: np.ndarray


def decision_statistics(layer: ThresholdLayer, device, config: ThresholdConfig | None, inputs) -> DecisionStats:
    """Mean and variance of each unit's decision variable for each binary input vector (analytic model)."""
    device = device if isinstance(device, DeviceModel) else load_device(device)
    config = ThresholdConfig() if config is None else config
    _check_analytic(device, config)
    x = check_binary(inputs, layer.n_inputs)
    if x.ndim == 1:
        x = x[None, :]
    twin, g_pos, g_neg = _twin(layer, _noise_free(device), _without_read_out_noise(config))
    method = config.crossbar.program_method
    k = twin.unit_current_A / config.crossbar.read_voltage_V  # siemens per weight unit
    m_pos, v_pos = _device_moments(g_pos, device, method)
    m_neg, v_neg = _device_moments(g_neg, device, method)
    xh = twin.hardware_inputs(x)
    mean = xh @ ((m_pos - m_neg) / k).T - twin.reference - twin.comparator_offset
    out_sd = config.crossbar.output_noise_frac * twin.weight_max * config.crossbar.input_full_scale
    cmp_sd = config.comparator_noise_A / twin.unit_current_A
    extra = out_sd**2 * len(twin.crossbar.row_edges) + cmp_sd**2
    x2 = xh * xh
    var = x2 @ ((v_pos + v_neg) / k**2).T + extra
    units = layer.n_outputs
    if config.crossbar.mapping is Mapping.REFERENCE_COLUMN:
        common = x2 @ (v_neg / k**2).T
        block = np.empty(units, dtype=np.int64)
        for b, (c0, c1) in enumerate(twin.crossbar.col_edges):
            block[c0:c1] = b
    else:
        common = np.zeros_like(var)
        block = np.arange(units)
    return DecisionStats(mean, var, common, block)


def _pattern_bits(m: int) -> np.ndarray:
    return all_inputs(m).astype(bool)


def _layer_pattern_probabilities(stats: DecisionStats) -> np.ndarray:
    """(inputs, 2**units): probability of each output pattern (truth-table order) for each input."""
    n_in, m = stats.mean.shape
    patterns = _pattern_bits(m)  # (2**m, m)
    nodes, weights = np.polynomial.hermite_e.hermegauss(HERMITE_NODES)
    weights = weights / weights.sum()
    out = np.ones((n_in, patterns.shape[0]))
    for b in np.unique(stats.block):
        units = np.flatnonzero(stats.block == b)
        c = stats.common_var[:, units[0]]  # the same for every unit of the block
        resid = np.maximum(stats.var[:, units] - c[:, None], 0.0)
        shifted = stats.mean[:, units, None] + np.sqrt(c)[:, None, None] * nodes[None, None, :]  # (in, u, q)
        sd = np.sqrt(resid)[:, :, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            p1 = np.where(sd > 0, ndtr(shifted / np.where(sd > 0, sd, 1.0)), (shifted >= 0).astype(float))
        pat = patterns[:, units]  # (2**m, u)
        # (in, 2**m, u, q): probability of each unit's bit in each pattern at each node
        per_unit = np.where(pat[None, :, :, None], p1[:, None, :, :], 1.0 - p1[:, None, :, :])
        out *= np.prod(per_unit, axis=2) @ weights
    return out


def layer_output_distribution(layer: ThresholdLayer, device, config, inputs) -> np.ndarray:
    """Analytic probability of each output pattern of ``layer`` (inputs, 2**units), truth-table order."""
    if layer.readout is not Readout.COMPARATOR:
        raise NeurosimError("the analytic noise model covers comparator layers, not winner-take-all read-outs")
    if layer.n_outputs > MAX_ENUMERATED_UNITS:
        raise NeurosimError(f"the analytic model enumerates output patterns: at most {MAX_ENUMERATED_UNITS} units per layer, got {layer.n_outputs}")
    return _layer_pattern_probabilities(decision_statistics(layer, device, config, inputs))


def network_output_distribution(network, device, config=None, inputs=None) -> np.ndarray:
    """Analytic probability of each output pattern of ``network`` for each input vector (inputs, 2**outputs).

    ``inputs`` default to the whole truth table. Hidden layers are summed over
    their output patterns; different layers' devices are independent.
    """
    network = network if isinstance(network, ThresholdNetwork) else ThresholdNetwork(network)
    x = all_inputs(network.n_inputs) if inputs is None else check_binary(inputs, network.n_inputs)
    if x.ndim == 1:
        x = x[None, :]
    dist = layer_output_distribution(network.layers[0], device, config, x)
    for layer in network.layers[1:]:
        dist = dist @ layer_output_distribution(layer, device, config, all_inputs(layer.n_inputs))
    return dist


# -- error rates ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ErrorRates:
    """Probability that a network's output vector is wrong, per input vector.

    ``error`` (rows,): per input row; ``std_error`` (rows,): its standard error
    (0 for the analytic model); ``rate``: the mean over rows (every input
    vector equally likely) and ``rate_std_error`` its standard error.
    """

    name: str
    method: str
    inputs: np.ndarray
    targets: np.ndarray
    error: np.ndarray
    std_error: np.ndarray
    rate: float
    rate_std_error: float
    trials: int = 0
    #: Simulated: the events of the ``trials`` copies per layer (programming and the one read each;
    #: :class:`~neurosim.events.EventCounts`); empty for the analytic model.
    layer_events: tuple = ()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "method": self.method,
            "trials": self.trials,
            "rate": self.rate,
            "rate_std_error": self.rate_std_error,
            "rows": [
                {"inputs": x.tolist(), "target": t.tolist(), "error": float(e), "std_error": float(s)}
                for x, t, e, s in zip(self.inputs, self.targets, self.error, self.std_error)
            ],
        }


def _targets(network: ThresholdNetwork, inputs, targets):
    x = all_inputs(network.n_inputs) if inputs is None else check_binary(inputs, network.n_inputs)
    if x.ndim == 1:
        x = x[None, :]
    t = network.evaluate(x) if targets is None else check_binary(targets, network.n_outputs, "targets")
    if t.ndim == 1:
        t = t[:, None] if network.n_outputs == 1 and t.shape[0] == x.shape[0] else t[None, :]
    if t.shape != (x.shape[0], network.n_outputs):
        raise NeurosimError(f"targets must have shape {(x.shape[0], network.n_outputs)}, got {t.shape}")
    return x, t


def analytic_errors(network, device, config=None, *, inputs=None, targets=None) -> ErrorRates:
    """Analytic error probability of each input row (targets default to the network's own noise-free outputs)."""
    network = network if isinstance(network, ThresholdNetwork) else ThresholdNetwork(network)
    x, t = _targets(network, inputs, targets)
    dist = network_output_distribution(network, device, config, x)
    codes = t.astype(np.int64) @ (1 << np.arange(network.n_outputs - 1, -1, -1))
    error = np.clip(1.0 - dist[np.arange(len(x)), codes], 0.0, 1.0)
    zeros = np.zeros_like(error)
    return ErrorRates(network.name, "analytic", x, t, error, zeros, float(error.mean()), 0.0)


def _cluster_std_error(wrong: np.ndarray, cluster: int) -> np.ndarray:
    """Standard error of the mean over the last axis of ``wrong`` (..., trials), trials grouped in clusters."""
    trials = wrong.shape[-1]
    groups = np.arange(trials) // cluster
    n_groups = int(groups[-1]) + 1
    if n_groups < 2:
        return np.full(wrong.shape[:-1], np.nan)
    sums = np.zeros(wrong.shape[:-1] + (n_groups,))
    np.add.at(sums, (..., groups), wrong)
    sizes = np.bincount(groups)
    p = wrong.mean(axis=-1, keepdims=True)
    resid = sums - p * sizes
    return np.sqrt(n_groups / (n_groups - 1) * np.sum(resid**2, axis=-1)) / trials


def simulated_errors(network, device, config=None, trials: int = 1000, rng=None, *, inputs=None, targets=None) -> ErrorRates:
    """Monte Carlo error rate of each input row over ``trials`` independently programmed copies, one read each."""
    network = network if isinstance(network, ThresholdNetwork) else ThresholdNetwork(network)
    whole("trials", trials, 2)
    rng = as_generator(rng)
    x, t = _targets(network, inputs, targets)
    hw = CrossbarThresholdNetwork(network, device, config, rng, replicas=int(trials))
    y = hw.forward(x, rng)  # (rows, trials, out)
    wrong = np.any(y != t[:, None, :], axis=2).astype(float)
    cluster = hw.layers[0].replicas_per_tile
    error = wrong.mean(axis=1)
    std_error = _cluster_std_error(wrong, cluster)
    per_trial = wrong.mean(axis=0, keepdims=True)
    rate_se = float(_cluster_std_error(per_trial, cluster)[0])
    return ErrorRates(network.name, "simulated", x, t, error, std_error, float(error.mean()), rate_se, int(trials),
                      tuple(hw.layer_events))


def error_sweep(networks, device, config=None, kind=NoiseKind.READ, levels=(0.0,), trials=1000, rng=None, *, targets=None, progress=None) -> list[dict]:
    """Analytic and simulated error rates of each network at each noise level: one dict per (network, level).

    ``networks``: a dict name -> ThresholdNetwork (or a list of networks with
    names). ``targets``: optional dict name -> expected outputs (default: each
    network's noise-free outputs). Each point draws from its own child of
    ``rng``. The analytic entry is None where the analytic model does not apply.
    """
    from tqdm import tqdm

    if not isinstance(networks, dict):
        networks = {n.name or f"network {i}": n for i, n in enumerate(networks)}
    device = device if isinstance(device, DeviceModel) else load_device(device)
    config = ThresholdConfig() if config is None else config
    kind = parse_noise_kind(kind)
    points = [(name, level) for level in levels for name in networks]
    streams = as_generator(rng).spawn(len(points))
    rows = []
    show = sys.stderr.isatty() if progress is None else progress
    for (name, level), stream in tqdm(list(zip(points, streams)), desc="noise margins", unit="point", disable=not show):
        dev, cfg = with_noise(device, config, kind, level)
        tgt = None if targets is None else targets.get(name)
        sim = simulated_errors(networks[name], dev, cfg, trials, stream, targets=tgt)
        try:
            ana = analytic_errors(networks[name], dev, cfg, targets=tgt)
        except NeurosimError as exc:
            logger.info("no analytic error rate for %s: %s", name, exc)
            ana = None
        rows.append(
            {
                "gate": name,
                "noise": kind.value,
                "level": float(level),
                "analytic": None if ana is None else ana.rate,
                "simulated": sim.rate,
                "std_error": sim.rate_std_error,
                "trials": sim.trials,
                "analytic_rows": None if ana is None else ana.error.tolist(),
                "simulated_rows": sim.error.tolist(),
                "std_error_rows": sim.std_error.tolist(),
                "events": report(sim.layer_events),
            }
        )
        logger.info("%s at %s = %g: analytic %s, simulated %.4f +- %.4f", name, kind.value, level, rows[-1]["analytic"], sim.rate, sim.rate_std_error)
    return rows


def analytic_sweep(networks, device, config=None, kind=NoiseKind.READ, levels=(0.0,), *, targets=None) -> list[dict]:
    """Analytic error rate of each network at each level (cheap: use a fine grid for smooth curves).

    Returns dicts with ``gate``, ``noise``, ``level`` and ``analytic``; arguments as in :func:`error_sweep`.
    """
    if not isinstance(networks, dict):
        networks = {n.name or f"network {i}": n for i, n in enumerate(networks)}
    device = device if isinstance(device, DeviceModel) else load_device(device)
    config = ThresholdConfig() if config is None else config
    kind = parse_noise_kind(kind)
    rows = []
    for name, net in networks.items():
        for level in levels:
            dev, cfg = with_noise(device, config, kind, level)
            tgt = None if targets is None else targets.get(name)
            rate = analytic_errors(net, dev, cfg, targets=tgt).rate
            rows.append({"gate": name, "noise": kind.value, "level": float(level), "analytic": rate})
    return rows
