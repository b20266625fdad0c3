"""Frozen parameter dataclasses to and from plain values (for JSON sidecars and TOML settings).

:func:`to_plain` turns a dataclass into nested dicts, lists, strings and
numbers: nested dataclasses become dicts, enums their ``value``, tuples lists,
NumPy scalars Python numbers. :func:`from_plain` is its inverse: it reads the
field types from the class annotations, so enum fields take their string
value, nested dataclass fields take a dict, ``tuple[...]`` fields take a list
and ``X | None`` fields take ``None`` or an ``X``; the dataclass's own
``__post_init__`` then checks the values. Unknown and missing fields raise
:class:`~neurosim.errors.NeurosimError` naming them and what is allowed, so
``from_plain(cls, to_plain(obj)) == obj`` for every valid ``obj``.
"""

import dataclasses
import types
import typing
from enum import Enum

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.validation import parse_enum


def to_plain(obj):
    """``obj`` as JSON/TOML-ready values (dataclasses to dicts, enums by value, tuples to lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def from_plain(cls, data, what: str | None = None):
    """The dataclass ``cls`` built from the plain mapping ``data`` (the inverse of :func:`to_plain`).

    ``what`` names the object in messages (default: the class name); nested
    fields are named ``what.field``.
    """
    what = what or cls.__name__
    if not isinstance(data, dict):
        raise NeurosimError(f"{what} must be a table of fields, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise NeurosimError(f"unknown {what} field(s) {unknown}; allowed: {sorted(fields)}")
    missing = sorted(
        name
        for name, f in fields.items()
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise NeurosimError(f"{what} lacks the required field(s) {missing}")
    hints = typing.get_type_hints(cls)
    values = {name: _convert(hints.get(name, typing.Any), value, f"{what}.{name}") for name, value in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise NeurosimError(f"{what}: {exc}") from None


def _convert(hint, value, what: str):
    """``value`` converted to the annotated type ``hint`` where it is an enum, dataclass, tuple or optional."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        real = [t for t in options if t is not type(None)]
        return _convert(real[0], value, what) if len(real) == 1 else value
    if isinstance(hint, type) and issubclass(hint, Enum):
        return parse_enum(hint, value, what)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else from_plain(hint, value, what)
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{what}[{i}]") for i, v in enumerate(value))
        if len(args) == len(value):
            return tuple(_convert(t, v, f"{what}[{i}]") for i, (t, v) in enumerate(zip(args, value)))
        return tuple(value)
    return value
