"""Weights to conductances and back, as pure functions.

A layer's weights share one scale ``w_max`` (weight units at the full
conductance window) and one conversion factor ``k`` (siemens per weight unit):

- ``Mapping.DIFFERENTIAL``: ``k = (G_max - G_min) / w_max``;
  ``G+ = G_min + k max(w, 0)``, ``G- = G_min + k max(-w, 0)``; ``w = (G+ - G-) / k``.
- ``Mapping.REFERENCE_COLUMN``: ``k = (G_max - G_min) / (2 w_max)``;
  ``G = G_mid + k w`` against a reference device at ``G_mid = (G_min + G_max) / 2``;
  ``w = (G - G_ref) / k``.

The nominal window of the device model is used (a chip does not know each
device's own window); device-to-device variation, level snapping, noise and
stuck devices show up as the difference between the targets and what the
devices hold.
"""

import logging

import numpy as np

from neurosim.crossbar.config import CrossbarConfig, Mapping, WeightScale
from neurosim.device.model import DeviceModel

logger = logging.getLogger(__name__)


def weight_max(W, config: CrossbarConfig) -> float:
    """The weight magnitude mapped to the full window, chosen by ``config.weight_scale``.

    An all-zero matrix with a data-derived scale gets ``w_max = 1`` (any value
    maps it to ``G_min``), with a warning in the log.
    """
    if config.weight_scale is WeightScale.FIXED:
        return float(config.weight_max)
    magnitude = np.abs(W)
    if config.weight_scale is WeightScale.MAX:
        w_max = float(magnitude.max())
    else:
        w_max = float(np.percentile(magnitude, config.scale_percentile))
    if w_max == 0.0:
        logger.warning("weight scale from an all-zero matrix is 0; using w_max = 1")
        return 1.0
    return w_max


def siemens_per_weight(device: DeviceModel, mapping: Mapping, w_max: float) -> float:
    """Conductance difference (S) that represents one weight unit."""
    window = device.g_max_S - device.g_min_S
    return window / w_max if mapping is Mapping.DIFFERENTIAL else window / (2.0 * w_max)


def conductance_targets(w, device: DeviceModel, mapping: Mapping, w_max: float) -> dict:
    """Target conductances (S) for weights ``w`` (array orientation: rows = inputs, already clipped to ``w_max``).

    Returns ``{"plus": G+, "minus": G-}`` (each ``w``'s shape) for the
    differential mapping, or ``{"main": G}`` of shape ``(rows, cols + 1)`` whose
    last column is the reference column for the reference-column mapping.
    """
    w = np.asarray(w, dtype=np.float64)
    k = siemens_per_weight(device, mapping, w_max)
    g_min = device.g_min_S
    if mapping is Mapping.DIFFERENTIAL:
        return {"plus": g_min + k * np.maximum(w, 0.0), "minus": g_min + k * np.maximum(-w, 0.0)}
    g_mid = 0.5 * (device.g_min_S + device.g_max_S)
    main = np.empty((w.shape[0], w.shape[1] + 1))
    main[:, :-1] = g_mid + k * w
    main[:, -1] = g_mid
    return {"main": main}


def signal_pair(per_array: dict, mapping: Mapping):
    """Split per-array quantities (conductances, transfer matrices) into ``(positive, negative)`` parts.

    The represented weight is ``(positive - negative) / k``; for the reference
    column mapping ``negative`` is the reference column, shape ``(rows, 1)``.
    """
    if mapping is Mapping.DIFFERENTIAL:
        return per_array["plus"], per_array["minus"]
    main = per_array["main"]
    return main[:, :-1], main[:, -1:]
