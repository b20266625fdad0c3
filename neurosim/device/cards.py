"""Device cards: one TOML file per device, with its citation.

A card's keys are the fields of :class:`~neurosim.device.model.DeviceModel`
(units in the names), except that the window may be given either as
``g_min_S`` and ``g_max_S`` or as ``r_on_ohm`` and ``on_off_ratio``
(``G_max = 1 / R_on``, ``G_min = G_max / on_off_ratio``). Enum fields are
strings (``prog_noise = "pcm_nandakumar"``). Shipped cards live in the
``devices/`` folder; users pass a card name or a path to their own file.
"""

import difflib
from dataclasses import MISSING, fields
from pathlib import Path

from neurosim.files import read_toml
from neurosim.device.measured import MeasuredCurve
from neurosim.device.model import DeviceModel, Drift, ProgNoise, ReadNoise
from neurosim.errors import CardError, NeurosimError
from neurosim.resources import shipped_dir
from neurosim.serial import from_plain, to_plain

_FIELDS = {f.name: f for f in fields(DeviceModel)}
_WINDOW_ALTERNATIVE = ("r_on_ohm", "on_off_ratio")
_ENUMS = {"prog_noise": ProgNoise, "read_noise": ReadNoise, "drift": Drift}
_KNOWN = set(_FIELDS) | set(_WINDOW_ALTERNATIVE)


def cards_dir() -> Path:
    """The folder of shipped device cards."""
    return shipped_dir("devices")


def list_cards() -> list[str]:
    """Names of the shipped device cards, sorted."""
    return sorted(p.stem for p in cards_dir().glob("*.toml"))


def _unknown_key_message(key: str) -> str:
    stem = key.rsplit("_", 1)[0]
    same_quantity = [k for k in sorted(_KNOWN) if k.rsplit("_", 1)[0] == stem]
    if same_quantity:
        return f"unknown field '{key}': wrong unit? neurosim takes '{same_quantity[0]}' (SI units, as in the name)"
    close = difflib.get_close_matches(key, sorted(_KNOWN), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; allowed fields: {', '.join(sorted(_KNOWN))}"
    return f"unknown field '{key}'{hint}"


def _number(data: dict, key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NeurosimError(f"field '{key}' = {value!r} must be a number")
    return float(value)


def device_from_mapping(data: dict, source: str = "<card>") -> DeviceModel:
    """Build a validated :class:`DeviceModel` from a card's key-value mapping.

    Raises :class:`CardError` naming ``source``, the field and what is allowed.
    """
    try:
        return _device_from_mapping(dict(data))
    except NeurosimError as exc:
        raise CardError(f"{source}: {exc}") from None


def _device_from_mapping(data: dict) -> DeviceModel:
    for key in data:
        if key not in _KNOWN:
            raise NeurosimError(_unknown_key_message(key))
    has_g = [k for k in ("g_min_S", "g_max_S") if k in data]
    has_r = [k for k in _WINDOW_ALTERNATIVE if k in data]
    if has_g and has_r:
        raise NeurosimError(f"give the window either as g_min_S/g_max_S or as r_on_ohm/on_off_ratio, not both {has_g + has_r}")
    if has_r:
        for key in _WINDOW_ALTERNATIVE:
            if key not in data:
                raise NeurosimError(f"missing field '{key}' (r_on_ohm and on_off_ratio go together)")
        r_on, ratio = _number(data, "r_on_ohm"), _number(data, "on_off_ratio")
        if not r_on > 0:
            raise NeurosimError(f"field 'r_on_ohm' = {r_on!r} must be a resistance > 0 ohm")
        if not ratio > 1:
            raise NeurosimError(f"field 'on_off_ratio' = {ratio!r} must be > 1")
        del data["r_on_ohm"], data["on_off_ratio"]
        data["g_max_S"] = 1.0 / r_on
        data["g_min_S"] = data["g_max_S"] / ratio
    required = [f.name for f in fields(DeviceModel) if f.default is MISSING]
    for key in required:
        if key not in data:
            extra = " (or r_on_ohm with on_off_ratio)" if key in ("g_min_S", "g_max_S") else ""
            raise NeurosimError(f"missing field '{key}'{extra}")
    for key, value in list(data.items()):
        if key in _ENUMS:
            enum = _ENUMS[key]
            allowed = [m.value for m in enum]
            if value not in allowed:
                raise NeurosimError(f"field '{key}' = {value!r} must be one of {allowed}")
            data[key] = enum(value)
        elif key == "measured":  # a [measured] table of the card (neurosim.device.measured)
            data[key] = None if value is None else from_plain(MeasuredCurve, value, "measured")
        elif _FIELDS[key].type is float or (_FIELDS[key].type == float | None and value is not None):
            data[key] = _number(data, key)
        elif _FIELDS[key].type is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise NeurosimError(f"field '{key}' = {value!r} must be a whole number")
        elif _FIELDS[key].type is str and not isinstance(value, str):
            raise NeurosimError(f"field '{key}' = {value!r} must be a string")
    return DeviceModel(**data)


def load_card(path) -> DeviceModel:
    """Read a device card from a TOML file."""
    return device_from_mapping(read_toml(path, "device card file", CardError), str(path))


def load_device(name_or_path) -> DeviceModel:
    """A device by shipped card name (``"sige_epiram"``) or by path to a TOML card."""
    if isinstance(name_or_path, DeviceModel):
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    if path.suffix == ".toml" or path.is_file() or "/" in text:
        return load_card(path)
    shipped = cards_dir() / f"{text}.toml"
    if not shipped.is_file():
        names = ", ".join(list_cards())
        raise CardError(f"unknown device '{text}'; shipped cards: {names} (or give a path to a .toml card)")
    return load_card(shipped)


def device_to_mapping(device: DeviceModel) -> dict:
    """The device's fields as plain values (enums as their strings), e.g. for JSON."""
    return to_plain(device)
