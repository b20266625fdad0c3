"""Flat experiment settings ("device.read_noise_frac = 0.02") split into their parts.

Sweep specs and the CLI describe a run with flat keys: a plain key
(``device = "sige_epiram"``, ``model = "mlp784"``) or a dotted one that
overrides a field of a parameter dataclass (``device.<DeviceModel field>``,
``crossbar.<CrossbarConfig field>``).
"""

import dataclasses
from enum import Enum

from neurosim.device import DeviceModel, device_from_mapping, device_to_mapping, load_device
from neurosim.errors import NeurosimError
from neurosim.validation import parse_enum


def split_settings(settings: dict, allowed_plain, allowed_groups) -> tuple[dict, dict]:
    """Split into (plain settings, {group: {field: value}}), rejecting unknown keys."""
    plain, groups = {}, {g: {} for g in allowed_groups}
    for key, value in settings.items():
        group, dot, name = key.partition(".")
        if dot:
            if group not in groups:
                raise NeurosimError(f"unknown setting '{key}'; dotted settings start with {sorted(groups)}")
            groups[group][name] = value
        elif key in allowed_plain:
            plain[key] = value
        else:
            raise NeurosimError(f"unknown setting '{key}'; allowed: {sorted(allowed_plain)} or {sorted(g + '.*' for g in groups)}")
    return plain, groups


def device_with_overrides(name_or_path, overrides: dict) -> DeviceModel:
    """The named device card with some fields replaced (validated like a card)."""
    device = load_device(name_or_path)
    if not overrides:
        return device
    return device_from_mapping({**device_to_mapping(device), **overrides}, f"{device.name} with {overrides}")


def replace_fields(base, values: dict, what: str, exclude=()):
    """``dataclasses.replace(base, **values)`` for settings: enum fields take their string value.

    ``what`` names the settings group in messages (``crossbar.mapping = ...``);
    fields in ``exclude`` cannot be set this way.
    """
    known = {f.name for f in dataclasses.fields(base)} - set(exclude)
    converted = {}
    for key, value in values.items():
        if key not in known:
            raise NeurosimError(f"unknown setting '{what}.{key}'; allowed: {sorted(known)}")
        default = getattr(base, key)
        if isinstance(default, Enum):
            value = parse_enum(type(default), value, f"{what}.{key}")
        converted[key] = value
    return dataclasses.replace(base, **converted)
