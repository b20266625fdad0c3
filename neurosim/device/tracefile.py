"""Measured pulse trains from CSV files: conductance (or current, or resistance) against pulse number.

The layout (README, section "Your own device"): lines starting with ``#``
are comments; the first other line is a header naming the columns; then one
row per reading, in pulse order:

- ``pulse``: the pulse number, counting up by one per row (the first row may
  be the reading before any pulse);
- ``phase`` (optional; also ``polarity`` or ``direction``): the pulse that
  came before the row's reading: ``potentiation``, ``ltp``, ``set``, ``up``,
  ``+`` or ``1`` / ``depression``, ``ltd``, ``reset``, ``down``, ``-`` or
  ``-1``; ``start`` (or empty, ``0``, ``none``) for a reading with no pulse
  before it. Without the column each pulse's direction is read off the
  traces' turning points (:func:`infer_directions`);
- every other column is one device's trace, its header ``NAME (UNIT)``,
  ``NAME [UNIT]`` or ``NAME_UNIT`` with a conductance (S, mS, uS, nS, pS), a
  current at the read voltage (A, mA, uA, nA, pA; needs ``read_voltage_V``)
  or a resistance (ohm, kohm, Mohm, Gohm) unit.

Every problem is one :class:`~neurosim.errors.NeurosimError` naming the file,
the row or column, and what is allowed.
"""

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurosim.errors import NeurosimError

#: Fewest pulses of each direction a file must hold to be fitted.
MIN_PULSES = 5
#: Most readings one file may hold.
MAX_ROWS = 10_000_000

_PREFIX = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "n": 1e-9, "p": 1e-12, "k": 1e3, "M": 1e6, "G": 1e9}
_PHASES = {
    **dict.fromkeys(("potentiation", "ltp", "set", "up", "+", "1", "+1"), 1),
    **dict.fromkeys(("depression", "ltd", "reset", "down", "-", "-1"), -1),
    **dict.fromkeys(("start", "", "0", "none"), 0),
}
_PULSE_NAMES = {"pulse", "pulses", "pulsenumber", "pulseno", "pulsenr"}
_PHASE_NAMES = {"phase", "polarity", "direction"}
_UNIT_SYNTAX = re.compile(r"^(?P<name>.*?)\s*(?:\((?P<paren>[^()]*)\)|\[(?P<bracket>[^\[\]]*)\])\s*$")
#: Hysteresis of the turning-point search, as a fraction of the mean trace's range.
TURN_FRACTION = 1 / 3


@dataclass(frozen=True)
class Traces:
    """Readings of one or more devices that received the same pulses."""

    #: Where the data came from (the file name a fitted card cites).
    source: str
    #: One name per device (the column headers).
    names: tuple[str, ...]
    #: Pulse number of each row (counting up by one).
    pulse: np.ndarray
    #: Direction of the pulse before each row's reading: +1 potentiation, -1 depression, 0 none.
    direction: np.ndarray
    #: Conductance (S), shape (rows, devices).
    g_S: np.ndarray
    #: Whether ``direction`` was read off the traces (no phase column).
    inferred: bool = False


def _unit_scale(header: str, read_voltage_V):
    """``(name, factor, kind)`` of a trace column: conductance (S) = factor * value, or for resistance factor / value."""
    match = _UNIT_SYNTAX.match(header)
    if match:
        name, unit = match["name"], (match["paren"] if match["paren"] is not None else match["bracket"])
    elif "_" in header:
        name, unit = header.rsplit("_", 1)
    else:
        raise NeurosimError(f"column '{header}' has no unit: write it as 'NAME (UNIT)', 'NAME [UNIT]' or 'NAME_UNIT' "
                            "with a unit of conductance (S, mS, uS, nS, pS), current (A, mA, uA, nA, pA) or resistance (ohm, kohm, Mohm)")  # fmt: skip
    unit = unit.strip().replace("Ω", "ohm").replace("Ohm", "ohm")
    for base, kind in (("ohm", "resistance"), ("S", "conductance"), ("A", "current")):
        if unit.endswith(base) and unit[: -len(base)] in _PREFIX:
            prefix = unit[: -len(base)]
            if kind != "resistance" and prefix in ("k", "M", "G"):
                continue
            factor = _PREFIX[prefix]
            if kind == "current":
                if read_voltage_V is None:
                    raise NeurosimError(f"column '{header}' is a current: give the read voltage (--read-voltage V) to turn it into a conductance")
                factor /= read_voltage_V
            return name.strip() or header, factor, kind
    raise NeurosimError(f"column '{header}': unknown unit '{unit}'; allowed: S, mS, uS, nS, pS (conductance), "
                        "A, mA, uA, nA, pA (current at the read voltage), ohm, kohm, Mohm, Gohm (resistance)")  # fmt: skip


def _plain(header: str) -> str:
    return re.sub(r"[^a-z]", "", header.lower())


def read_traces(path, read_voltage_V: float | None = None) -> Traces:
    """Read a CSV of pulse trains (layout in the module notes) into :class:`Traces`, conductances in S.

    ``read_voltage_V``: the read voltage (V, non-zero) of current columns.
    """
    path = Path(path)
    if read_voltage_V is not None and not (math.isfinite(read_voltage_V) and read_voltage_V != 0):
        raise NeurosimError(f"read voltage = {read_voltage_V!r} V is not allowed: a non-zero finite voltage")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = [(i, r) for i, r in enumerate(csv.reader(fh), start=1) if r and not r[0].lstrip().startswith("#")]
    except FileNotFoundError:
        raise NeurosimError(f"{path}: no such data file") from None
    except IsADirectoryError:
        raise NeurosimError(f"{path}: is a folder, not a CSV data file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NeurosimError(f"{path}: cannot read it as CSV text ({exc})") from None
    try:
        return _parse(rows, path, read_voltage_V)
    except NeurosimError as exc:
        raise NeurosimError(f"{path}: {exc}") from None


def _parse(rows, path, read_voltage_V) -> Traces:
    rows = [(i, [c.strip() for c in r]) for i, r in rows if any(c.strip() for c in r)]
    if not rows:
        raise NeurosimError("no data: expected a header row and one row per reading")
    if len(rows) > MAX_ROWS + 1:
        raise NeurosimError(f"{len(rows) - 1} rows is more than the {MAX_ROWS} allowed")
    header_line, header = rows[0]
    plain = [_plain(h) for h in header]
    pulse_cols = [j for j, h in enumerate(plain) if h in _PULSE_NAMES]
    if not pulse_cols and any(_is_number(c) for c in header):
        raise NeurosimError(f"no header row (line {header_line} holds numbers): the first line must name the columns, "
                            "e.g. 'pulse,phase,G1 (uS)'")  # fmt: skip
    phase_cols = [j for j, h in enumerate(plain) if h in _PHASE_NAMES]
    if len(pulse_cols) != 1:
        raise NeurosimError(f"expected one pulse-number column named 'pulse', found {len(pulse_cols)} in the header {header}")
    if len(phase_cols) > 1:
        raise NeurosimError(f"more than one phase column in the header {header}")
    trace_cols = [j for j in range(len(header)) if j not in pulse_cols + phase_cols]
    if not trace_cols:
        raise NeurosimError("no trace columns: add one column per device, e.g. 'G1 (uS)'")
    units = [_unit_scale(header[j], read_voltage_V) for j in trace_cols]
    data = rows[1:]
    for line, r in data:
        if len(r) != len(header):
            raise NeurosimError(f"line {line} has {len(r)} cells, the header {len(header)}")
    pulse = np.array([_cell(r[pulse_cols[0]], line, header[pulse_cols[0]]) for line, r in data], dtype=float)
    values = np.array([[_cell(r[j], line, header[j]) for j in trace_cols] for line, r in data], dtype=float).reshape(len(data), len(trace_cols))
    lines = [line for line, _ in data]
    if pulse.size and (np.any(pulse != np.round(pulse)) or np.any(np.diff(pulse) != 1)):
        k = int(np.flatnonzero((pulse != np.round(pulse))[1:] | (np.diff(pulse) != 1))[0]) + 1
        raise NeurosimError(f"line {lines[k]}: pulse numbers must be whole and count up by one per row (got {pulse[k]:g} after {pulse[k - 1]:g})")
    g = np.empty_like(values)
    for c, (name, factor, kind) in enumerate(units):
        column = values[:, c]
        if kind == "resistance":
            if np.any(column <= 0):
                k = int(np.flatnonzero(column <= 0)[0])
                raise NeurosimError(f"line {lines[k]}, column '{header[trace_cols[c]]}': resistance {column[k]:g} must be > 0")
            g[:, c] = 1.0 / (factor * column)
        else:
            g[:, c] = factor * column
        if np.any(g[:, c] < 0):
            k = int(np.flatnonzero(g[:, c] < 0)[0])
            raise NeurosimError(f"line {lines[k]}, column '{header[trace_cols[c]]}': conductance {g[k, c]:g} S is below 0")
        if np.ptp(g[:, c]) == 0:
            raise NeurosimError(f"column '{header[trace_cols[c]]}' never changes ({g[0, c]:g} S in every row): no pulse response to fit")
    names = tuple(name for name, _, _ in units)
    if phase_cols:
        j = phase_cols[0]
        direction = np.array([_phase(r[j], line) for line, r in data], dtype=np.int64)
        inferred = False
    else:
        direction = infer_directions(g)
        inferred = True
    n_up, n_down = int(np.sum(direction > 0)), int(np.sum(direction < 0))
    if min(n_up, n_down) < MIN_PULSES:
        raise NeurosimError(f"too few pulses: {n_up} potentiation and {n_down} depression pulses; a fit needs at least {MIN_PULSES} of each")
    return Traces(str(path), names, pulse.astype(np.int64), direction, g, inferred)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cell(text: str, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise NeurosimError(f"line {line}, column '{column}': {text!r} is not a number") from None
    if not math.isfinite(value):
        raise NeurosimError(f"line {line}, column '{column}': {text!r} is not a finite number")
    return value


def _phase(text: str, line: int) -> int:
    key = text.lower()
    if key not in _PHASES:
        raise NeurosimError(f"line {line}: phase {text!r} is not one of potentiation/ltp/set/up/+1, depression/ltd/reset/down/-1, start")
    return _PHASES[key]


def infer_directions(g_S: np.ndarray) -> np.ndarray:
    """Direction (+1, -1; 0 for row 0) of the pulse before each reading, from the traces' turning points.

    The traces are scaled to their own range and averaged; a turning point
    is where the average has moved back by :data:`TURN_FRACTION` of its
    range from its last extreme (a zigzag with hysteresis, so cycle-to-cycle
    noise below that does not turn it). Pulses up to a maximum are
    potentiation, up to a minimum depression; the first stretch takes the
    direction of its first turn. Exact only where the device still moves
    near its turning points; a phase column is exact always.
    """
    lo, hi = g_S.min(axis=0), g_S.max(axis=0)
    y = ((g_S - lo) / np.where(hi > lo, hi - lo, 1.0)).mean(axis=1)
    h = TURN_FRACTION * (y.max() - y.min())
    turns, kinds = [], []  # row of each extreme, +1 for a maximum, -1 for a minimum
    hunting, best = 0, 0  # hunting: +1 for a maximum, -1 for a minimum, 0 before the first move
    for k in range(1, y.size):
        if hunting == 0:
            if abs(y[k] - y[0]) >= h:
                hunting = 1 if y[k] > y[0] else -1
                best = int(np.argmax(hunting * y[: k + 1]))
        elif hunting * (y[k] - y[best]) > 0:
            best = k
        elif hunting * (y[best] - y[k]) >= h:
            turns.append(best)
            kinds.append(hunting)
            hunting, best = -hunting, k
    direction = np.zeros(y.size, dtype=np.int64)
    if hunting == 0:
        return direction
    start = 0
    for row, kind in zip(turns, kinds):
        direction[start + 1 : row + 1] = kind
        start = row
    direction[start + 1 :] = hunting
    return direction
