"""Write a device card (TOML) from a :class:`~neurosim.device.model.DeviceModel`; :func:`neurosim.device.load_card` reads it back."""

import json
import math
from pathlib import Path

from neurosim.device.cards import device_to_mapping, load_card
from neurosim.errors import NeurosimError


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NeurosimError(f"cannot write the non-finite number {value!r} into a card")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise NeurosimError(f"cannot write {value!r} into a card")


def card_text(device, comments=()) -> str:
    """The card of ``device`` as TOML text: ``comments`` first (one ``#`` line each), then its fields.

    Fields at their default are left out; a measured curve is a ``[measured]`` table at the end.
    """
    from neurosim.device.model import DeviceModel

    defaults = device_to_mapping(DeviceModel(name="x", g_min_S=0.0, g_max_S=1.0, levels_ltp=1, levels_ltd=1))
    lines = [f"# {c}" if c else "#" for c in comments]
    table = None
    for key, value in device_to_mapping(device).items():
        if key == "measured":
            table = value
        elif key in ("name", "g_min_S", "g_max_S", "levels_ltp", "levels_ltd") or value != defaults[key]:
            lines.append(f"{key} = {_toml_value(value)}")
    if table is not None:
        lines += ["", "[measured]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def write_card(device, path, comments=()) -> Path:
    """Write ``device`` as a card to ``path`` and check that it loads back as the same device."""
    path = Path(path)
    path.write_text(card_text(device, comments), encoding="utf-8")
    if load_card(path) != device:
        raise NeurosimError(f"{path}: the written card does not read back as the same device (a bug; please report)")
    return path
