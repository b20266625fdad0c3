"""Shared checks for parameter dataclasses: one message format for every rejected value."""

from neurosim.errors import NeurosimError


def reject(field: str, value, allowed: str):
    """Raise :class:`NeurosimError` saying that ``field = value`` is not allowed and what is."""
    raise NeurosimError(f"{field} = {value!r} is not allowed: {allowed}")


def parse_enum(enum_cls, value, what: str):
    """The member of ``enum_cls`` for ``value`` (a member or its string value)."""
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum_cls)
        raise NeurosimError(f"unknown {what} {value!r}; allowed: {allowed}") from None
