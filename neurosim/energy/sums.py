"""Conductance sums that the array's read and write energies need, accumulated by the core next to its event counts.

:class:`~neurosim.events.EventCounts` counts events as integers; the energy
of an array read or a write pulse also depends on the conductance of the
devices it drives, so the core adds up these conductance-weighted sums as it
reads and writes (one float each, per layer):

``read_v2g_S``
    The sum over reads of ``(v / V_full)^2 G`` over the driven devices (S):
    ``v`` the voltage applied to a device's line, ``V_full`` that of a
    full-scale input, ``G`` its conductance as the read sees it (through the
    cell's series resistance). An array read's energy is
    ``V_full^2 t_read read_v2g_S``. It is formed per tile and read as the
    batch's summed squared inputs of every line times the conductance that
    line drives (:meth:`~neurosim.crossbar.tile.Tile.line_conductance_S`),
    not by a second matrix product.
``write_g_ltp_S`` / ``write_g_ltd_S``
    The sum over applied potentiation (depression) pulses of the device's
    mean conductance during its train, ``(G_before + G_after) / 2`` (S x
    pulses). A write's energy is ``V^2 t_pulse`` times this.
"""

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class AnalogSums:
    """Conductance-weighted sums of a layer's reads and writes (S; see :mod:`neurosim.energy.sums`)."""

    read_v2g_S: float = 0.0
    write_g_ltp_S: float = 0.0
    write_g_ltd_S: float = 0.0

    def __add__(self, other: "AnalogSums") -> "AnalogSums":
        if not isinstance(other, AnalogSums):
            return NotImplemented
        return AnalogSums(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def to_dict(self) -> dict:
        """The sums by field name (plain floats, for JSON)."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


def total(sums) -> AnalogSums:
    """The sum of an iterable of :class:`AnalogSums` (zero when empty)."""
    out = AnalogSums()
    for s in sums:
        out = out + s
    return out


def read_v2g_brute_force(v, g) -> float:
    """``sum_b sum_i sum_j v[b, i]^2 g[i, j]``: the definition of ``read_v2g_S`` for inputs ``v`` (batch, lines;
    fractions of full scale) on devices ``g`` (lines, devices per line; S), summed cell by cell (for tests)."""
    v, g = np.asarray(v, dtype=np.float64), np.asarray(g, dtype=np.float64)
    return float(sum(v[b, i] ** 2 * g[i, j] for b in range(v.shape[0]) for i in range(v.shape[1]) for j in range(g.shape[1])))
