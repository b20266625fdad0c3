"""Counting kernels for the conductance sums of event-driven reads (spiking networks).

A spiking layer's read drives the rows of the spikes below it at full scale,
so its ``sum (v / V_full)^2 G`` is, over a run on fixed conductances, the
number of reads that drove each row times the conductance that row drives.
:func:`count_rows_numba` (twin :func:`count_rows_numpy`) counts the drives
from the event lists the read kernels take, touching only the events.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def count_rows_numba(idx, cnt, counts):
    """Add one to ``counts[idx[b, p]]`` for every event ``p < cnt[b]`` of every sample ``b`` (in place)."""
    for b in range(cnt.shape[0]):
        for p in range(cnt[b]):
            counts[idx[b, p]] += 1


def count_rows_numpy(idx, cnt, counts):
    """NumPy twin of :func:`count_rows_numba`."""
    idx, cnt = np.asarray(idx), np.asarray(cnt)
    events = np.arange(idx.shape[1])[None, :] < cnt[:, None]
    counts += np.bincount(idx[events], minlength=counts.size).astype(counts.dtype)


def row_conductance_S(layer) -> np.ndarray:
    """Per input row of a :class:`~neurosim.crossbar.CrossbarLayer`: the conductance (S) a forward read of it
    drives, over every tile of its row band (:meth:`~neurosim.crossbar.tile.Tile.line_conductance_S`)."""
    g = np.zeros(layer.in_features)
    for r, (r0, r1) in enumerate(layer.row_edges):
        for tile in layer.tiles[r]:
            g[r0:r1] += tile.line_conductance_S(layer.t_s, False)[0]
    return g
