"""Programming-noise, read-noise and drift formulas, as pure functions.

Conductances are in siemens throughout; the published fits are in microsiemens
and are converted here.
"""

import numpy as np

from neurosim.device.model import DeviceModel, Drift, ProgNoise, ReadNoise
from neurosim.errors import NeurosimError

_uS = 1e-6


def pcm_prog_sigma_S(g_S, g_max_S):
    """PCM programming noise (Nandakumar et al. 2019) at target ``g_S``, in siemens.

    ``sigma(uS) = (0.26348 + 1.9650 x - 1.1731 x^2) * g_max / 25 uS`` with ``x = g/g_max``,
    the fit made on devices with ``g_max = 25 uS``, scaled to the device's ``g_max``.
    """
    x = np.asarray(g_S) / g_max_S
    return (0.26348 + 1.9650 * x - 1.1731 * x**2) * _uS * (g_max_S / (25 * _uS))


def rram_prog_sigma_S(g_S):
    """RRAM programming noise (Milo et al. 2021) at target ``g_S``: ``max(-0.009107 G + 4.782321, 0)`` uS."""
    g_uS = np.asarray(g_S) / _uS
    return np.maximum(-0.009107 * g_uS + 4.782321, 0.0) * _uS


def prog_sigma_S(device: DeviceModel, g_S, g_max_S=None):
    """Standard deviation (S) of programming noise at target conductance ``g_S``.

    ``g_max_S`` is each device's own G_max (device-to-device variation); it
    defaults to the model's.
    """
    g_S = np.asarray(g_S, dtype=float)
    g_max_S = device.g_max_S if g_max_S is None else g_max_S
    kind = device.prog_noise
    if kind is ProgNoise.NONE:
        return np.zeros_like(g_S)
    if kind is ProgNoise.CONSTANT:
        return np.broadcast_to(device.prog_noise_frac * np.asarray(g_max_S, dtype=float), g_S.shape).copy()
    if kind is ProgNoise.PROPORTIONAL:
        return device.prog_noise_frac * np.abs(g_S)
    if kind is ProgNoise.PCM_NANDAKUMAR:
        return pcm_prog_sigma_S(g_S, g_max_S)
    return rram_prog_sigma_S(g_S)


def read_sigma_S(device: DeviceModel, g_S):
    """Standard deviation (S) of one read of devices at conductance ``g_S`` (an array of that shape)."""
    g_S = np.asarray(g_S, dtype=float)
    if device.read_noise is ReadNoise.CONSTANT:
        return np.full(g_S.shape, device.read_noise_frac * device.g_max_S)
    return device.read_noise_frac * np.abs(g_S)


def pcm_drift_nu_stats(x):
    """Mean and std of the PCM drift exponent at normalised conductance ``x = G/G_max`` (Nandakumar)."""
    x = np.clip(np.asarray(x, dtype=float), 1e-12, None)
    mean = np.clip(-0.0155 * np.log(x) + 0.0244, 0.049, 0.1)
    std = np.clip(-0.0125 * np.log(x) - 0.0059, 0.008, 0.045)
    return mean, std


def draw_drift_nu(device: DeviceModel, g_S, g_max_S, rng: np.random.Generator):
    """Drift exponents, one per device, drawn at programming time (clipped at 0: no upward drift)."""
    g_S = np.asarray(g_S, dtype=float)
    if device.drift is Drift.NONE:
        return np.zeros_like(g_S)
    if device.drift is Drift.POWER_LAW:
        mean, std = device.drift_nu, device.drift_nu_sigma
    else:
        mean, std = pcm_drift_nu_stats(g_S / g_max_S)
    return np.maximum(mean + std * rng.standard_normal(g_S.shape), 0.0)


def drift_factor(t_s, nu, t0_s):
    """Multiplier ``((t + t0)/t0)^(-nu)`` of a conductance ``t_s`` seconds after programming."""
    if np.any(np.asarray(t_s) < 0):
        raise NeurosimError(f"drift time must be >= 0 s, got {t_s}")
    return ((t_s + t0_s) / t0_s) ** (-np.asarray(nu))
