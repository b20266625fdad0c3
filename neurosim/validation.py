"""Shared checks for parameter dataclasses: one message format for every rejected value.

Every check raises :class:`~neurosim.errors.NeurosimError` with the message
``"<field> = <value> is not allowed: <what is allowed>"``. ``bool`` is never
accepted as a number (``True`` is an ``int`` in Python, never a count or a
resistance here).
"""

import math
import numbers
import re
from pathlib import Path

from neurosim.errors import NeurosimError


def reject(field: str, value, allowed: str):
    """Raise :class:`NeurosimError` saying that ``field = value`` is not allowed and what is."""
    raise NeurosimError(f"{field} = {value!r} is not allowed: {allowed}")


def real(field: str, value, allowed: str, ok=None) -> None:
    """Reject ``value`` unless it is a finite real number (not a bool) for which ``ok(value)`` holds."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or (ok is not None and not ok(value))
    ):
        reject(field, value, allowed)


def finite_number(field: str, value) -> None:
    """Reject ``value`` unless it is a finite real number."""
    real(field, value, "a finite number")


def whole(field: str, value, low: int, allowed: str | None = None, high: int | None = None) -> None:
    """Reject ``value`` unless it is an integer (not a bool) ``>= low`` (and ``<= high``); ``allowed`` words the message."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
        or (high is not None and value > high)
    ):
        reject(field, value, allowed or (f"a whole number >= {low}" if high is None else f"a whole number from {low} to {high}"))


def bits(field: str, value, low: int, high: int) -> None:
    """Reject ``value`` unless it is None (an ideal converter) or an integer number of bits in ``[low, high]``."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        reject(field, value, f"None (ideal converter) or an integer number of bits in [{low}, {high}]")


def enum_member(field: str, value, enum_cls) -> None:
    """Reject ``value`` unless it is a member of ``enum_cls`` (parameter dataclasses hold members, not strings)."""
    if not isinstance(value, enum_cls):
        allowed = ", ".join(f"{enum_cls.__name__}.{m.name}" for m in enum_cls)
        reject(field, value, f"one of {allowed}")


def parse_enum(enum_cls, value, what: str):
    """The member of ``enum_cls`` for ``value`` (a member or its string value)."""
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except (ValueError, TypeError):
        allowed = ", ".join(repr(m.value) for m in enum_cls)
        raise NeurosimError(f"unknown {what} {value!r}; allowed: {allowed}") from None


def file_name(field: str, value) -> None:
    """Reject ``value`` unless it is a plain file name: letters, digits, ``_``, ``-``, ``.``; not starting with ``.``.

    For names that become files inside an output folder (a sweep's ``name``):
    no folder separators, no ``..``, nothing absolute, so the file stays inside the folder.
    """
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}", value):
        reject(field, value, "a plain name of up to 100 letters, digits, '_', '-' or '.' (no '/', not starting with '.')")


def output_folder(option: str, value) -> Path:
    """``Path(value)`` for an output folder option, rejected when it names something that is not a folder."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        reject(option, str(value), "a folder (it is created if missing), but this is an existing file")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            reject(option, str(value), f"a folder, but {parent} is an existing file")
    return path


#: The Dask address schemes a sweep accepts.
SCHEDULER_SCHEMES = ("tcp", "tls", "ucx", "inproc")


def scheduler_address(option: str, value: str) -> str:
    """Reject a Dask scheduler address unless it is ``[scheme://]host:port`` (``tcp://10.0.0.5:8786``)."""
    allowed = f"a Dask scheduler address [scheme://]host:port with scheme one of {', '.join(SCHEDULER_SCHEMES)}, e.g. tcp://10.0.0.5:8786"
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "tcp", value
    if scheme not in SCHEDULER_SCHEMES:
        reject(option, value, allowed)
    if scheme == "inproc":
        return value
    host, colon, port = rest.rpartition(":")
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535 or "/" in host:
        reject(option, value, allowed)
    return value
