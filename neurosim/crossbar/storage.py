"""Saving and loading crossbar layers as ``.npz`` files (plain arrays and a JSON header, never pickle).

The file holds ``meta`` (a JSON string: format, shape, configuration, device
model, weight scale, drift time, ADC ranges, clip counts, each tile's
siemens-per-weight) and, for every tile ``(r, c)`` and device array ``name``,
the arrays of :meth:`~neurosim.device.DeviceArray.state_arrays` under
``tile.{r}.{c}.{name}.{key}``.
"""

import json
import logging
from dataclasses import fields

import numpy as np

from neurosim.crossbar.config import CrossbarConfig, Mapping
from neurosim.crossbar.tile import Tile
from neurosim.device import DeviceArray, device_from_mapping, device_to_mapping
from neurosim.errors import NeurosimError
from neurosim.serial import from_plain, to_plain
from neurosim.files import read_npz, write_atomic

logger = logging.getLogger(__name__)

FORMAT = "neurosim.crossbar.layer/1"


def save_layer(layer, path) -> None:
    """Write ``layer`` (a :class:`~neurosim.crossbar.layer.CrossbarLayer`) to ``path``."""
    meta = {
        "format": FORMAT,
        "shape": [layer.out_features, layer.in_features],
        "config": to_plain(layer.config),
        "device": device_to_mapping(layer.device),
        "weight_max": layer.weight_max,
        "clipped_weights": layer.clipped_weights,
        "t_s": layer.t_s,
        "adc_range": layer.adc_range,
        "adc_range_backward": layer.adc_range_backward,
        "clip_counts": {"forward": layer._clips[False].tolist(), "backward": layer._clips[True].tolist()},
        "read_v2g_S": {"forward": float(layer._v2g[False][0]), "backward": float(layer._v2g[True][0])},
        "k_S": [[tile.k_S for tile in row] for row in layer.tiles],
    }
    arrays = {"meta": np.array(json.dumps(meta))}
    for r, row in enumerate(layer.tiles):
        for c, tile in enumerate(row):
            for name, devices in tile.arrays.items():
                for key, value in devices.state_arrays().items():
                    arrays[f"tile.{r}.{c}.{name}.{key}"] = value
    write_atomic(path, lambda handle: np.savez(handle, **arrays))


def load_layer(cls, path, device=None):
    """Read a layer written by :func:`save_layer`; ``device`` defaults to the saved device model."""
    arrays = read_npz(path, "a saved crossbar layer")
    if "meta" not in arrays:
        raise NeurosimError(f"{path}: not a saved crossbar layer (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as exc:
        raise NeurosimError(f"{path}: corrupt header ({exc})") from None
    if meta.get("format") != FORMAT:
        raise NeurosimError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    saved_device = device_from_mapping(meta.get("device", {}), str(path))
    if device is None:
        device = saved_device
    elif device != saved_device:
        differ = [f.name for f in fields(device) if getattr(device, f.name) != getattr(saved_device, f.name)]
        logger.warning("%s: loading with a device model that differs from the saved one in %s", path, differ)
    try:
        config = from_plain(CrossbarConfig, meta["config"], "crossbar configuration")
    except KeyError as exc:
        raise NeurosimError(f"{path}: incomplete saved crossbar layer (missing {exc})") from None

    def make_tile(r, c, shape):
        names = ("plus", "minus") if config.mapping is Mapping.DIFFERENTIAL else ("main",)
        devices = {}
        for name in names:
            prefix = f"tile.{r}.{c}.{name}."
            state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            devices[name] = DeviceArray.from_state_arrays(device, state)
            expected = shape if name != "main" else (shape[0], shape[1] + 1)
            if devices[name].shape != expected:
                raise NeurosimError(
                    f"{path}: tile ({r}, {c}) {name} has shape {devices[name].shape}, expected {expected}"
                )
        return Tile.from_arrays(device, config.mapping, shape, config.wire_model, devices, meta["k_S"][r][c],
                                config.r_series_ohm)  # fmt: skip

    layer = cls.__new__(cls)
    try:
        layer._build(device, config, meta["shape"], make_tile)
        layer.weight_max = float(meta["weight_max"])
        layer.clipped_weights = int(meta["clipped_weights"])
        layer.t_s = float(meta["t_s"])
        layer.adc_range = meta["adc_range"]
        layer.adc_range_backward = meta["adc_range_backward"]
        counts = meta["clip_counts"]
        for d, k in ((False, "forward"), (True, "backward")):  # files saved before cell reads were counted hold 4
            layer._clips[d][: len(counts[k])] = np.array(counts[k], dtype=np.int64)
            layer._v2g[d][0] = float(meta.get("read_v2g_S", {}).get(k, 0.0))  # files saved before it was summed: 0
    except (KeyError, IndexError, TypeError) as exc:
        raise NeurosimError(f"{path}: incomplete saved crossbar layer (missing {exc})") from None
    return layer
