"""Wire resistance (IR drop): nodal analysis of a crossbar array as a linear resistive network.

Geometry (see :class:`~neurosim.crossbar.config.WireConfig`): an array of
``R x C`` cells; cell ``(i, j)`` joins node ``U[i, j]`` of row wire ``i`` to
node ``V[i, j]`` of column wire ``j`` through the device in series with its
access transistor. Neighbouring nodes on a wire are one segment ``r_wire``
apart.

- Forward read: row ``i`` is driven with ``v_i`` through ``r_driver + r_wire``
  into ``U[i, 0]``; column ``j`` is sensed at a virtual ground through
  ``r_wire + r_sense`` from ``V[R-1, j]``. The far ends are open.
- Transposed read: column ``j`` is driven through ``r_driver + r_wire`` into
  ``V[R-1, j]`` (the column periphery's end) and row ``i`` is sensed through
  ``r_wire + r_sense`` from ``U[i, 0]``.

Every cell is ohmic, so the sensed currents are linear in the drive
voltages: ``I = v @ T`` (forward) and ``I = v @ T.T`` (transposed), with a
*transfer matrix* ``T`` of shape ``(R, C)`` in siemens (for ideal wires
``T`` is the cell conductance matrix). :func:`nodal_solve` solves the full
network for given voltages (``scipy.sparse``; the reference);
:func:`transfer_matrix` computes ``T`` once, exactly, by block elimination,
after which a read of a batch is one matrix product.

Read noise with wire resistance is drawn at the output like the signal, with
each device's noise attenuated as its signal is (``T / G``), a first-order
approximation (see :mod:`neurosim.crossbar.tile`).
"""

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from neurosim.crossbar.config import WireConfig
from neurosim.errors import NeurosimError


def cell_conductance_S(g_device_S, r_access_ohm: float) -> np.ndarray:
    """Conductance (S) of a device in series with its access transistor's on-resistance."""
    g = np.asarray(g_device_S, dtype=np.float64)
    return g / (1.0 + g * r_access_ohm)


def _check(g_device_S, wire: WireConfig) -> np.ndarray:
    if not isinstance(wire, WireConfig):
        raise NeurosimError(f"wire must be a WireConfig, got {type(wire).__name__}")
    g = np.asarray(g_device_S, dtype=np.float64)
    if g.ndim != 2 or 0 in g.shape:
        raise NeurosimError(f"conductances must be a non-empty 2-D array (rows, cols), got shape {g.shape}")
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise NeurosimError("conductances must be finite and >= 0 S")
    return g


def _end_conductances(wire: WireConfig):
    """Conductances (S) from a driver to the first cell and from the last cell to a sense amplifier."""
    return 1.0 / (wire.r_driver_ohm + wire.r_wire_ohm), 1.0 / (wire.r_wire_ohm + wire.r_sense_ohm)


def nodal_solve(g_device_S, wire: WireConfig, v_V, *, transposed: bool = False) -> np.ndarray:
    """Sensed currents (A) of an array for drive voltages ``v_V``, by exact nodal analysis.

    g_device_S: (R, C) device conductances. v_V: (batch, R) row voltages
    (forward) or (batch, C) column voltages (transposed). Returns (batch, C)
    column currents or (batch, R) row currents into the virtual grounds.
    Builds the sparse conductance matrix of all ``2 R C`` nodes and solves it
    with a sparse LU factorisation: the reference for :func:`transfer_matrix`.
    """
    g = cell_conductance_S(_check(g_device_S, wire), wire.r_access_ohm)
    n_rows, n_cols = g.shape
    v = np.atleast_2d(np.asarray(v_V, dtype=np.float64))
    n_in = n_cols if transposed else n_rows
    if v.ndim != 2 or v.shape[1] != n_in:
        raise NeurosimError(f"drive voltages must have shape (batch, {n_in}), got {np.shape(v_V)}")
    cells = n_rows * n_cols
    u_node = np.arange(cells).reshape(n_rows, n_cols)
    v_node = cells + u_node
    g_w = 1.0 / wire.r_wire_ohm
    pairs = [
        (u_node.ravel(), v_node.ravel(), g.ravel()),
        (u_node[:, :-1].ravel(), u_node[:, 1:].ravel(), np.full(n_rows * (n_cols - 1), g_w)),
        (v_node[:-1, :].ravel(), v_node[1:, :].ravel(), np.full((n_rows - 1) * n_cols, g_w)),
    ]
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    w = np.concatenate([p[2] for p in pairs])
    g_in, g_out = _end_conductances(wire)
    if transposed:
        driven, sensed = v_node[-1, :], u_node[:, 0]
    else:
        driven, sensed = u_node[:, 0], v_node[-1, :]
    diag = np.zeros(2 * cells)
    np.add.at(diag, a, w)
    np.add.at(diag, b, w)
    diag[driven] += g_in
    diag[sensed] += g_out
    k = sp.coo_matrix(
        (
            np.concatenate([diag, -w, -w]),
            (np.concatenate([np.arange(2 * cells), a, b]), np.concatenate([np.arange(2 * cells), b, a])),
        ),
        shape=(2 * cells, 2 * cells),
    ).tocsc()
    rhs = np.zeros((2 * cells, v.shape[0]))
    rhs[driven, :] = g_in * v.T
    x = spla.splu(k, permc_spec="MMD_AT_PLUS_A").solve(rhs)
    return (g_out * x[sensed, :]).T


def _solve_row_chain(g_row, g_w, g_in, rhs):
    """Solve ``K x = rhs`` for the tridiagonal conductance matrix ``K`` of one row wire.

    ``K`` holds the row's wire segments, its driver conductance at node 0 and
    its cells' conductances to the (held) column nodes.
    """
    diag = g_row + g_w * 2.0
    diag[0] += g_in - g_w
    diag[-1] -= g_w
    if g_row.shape[0] == 1:
        return rhs / diag[:, None]
    ab = np.zeros((2, g_row.shape[0]))
    ab[0, 1:] = -g_w
    ab[1] = diag
    return sla.solveh_banded(ab, rhs, check_finite=False)


def _forward_transfer(g, wire: WireConfig) -> np.ndarray:
    """Forward transfer matrix (S) of cell conductances ``g`` (R, C); see :func:`transfer_matrix`.

    Unknowns: row nodes ``U`` and column nodes ``V``. Eliminating each row's
    ``U`` (a tridiagonal chain, driven at its node 0) leaves a system in ``V``
    that is block tridiagonal over rows, with dense ``C x C`` diagonal blocks
    ``S_ii = diag(column terms) - D_i K_i^-1 D_i`` and ``-g_w I`` between
    neighbouring rows. Forward block elimination down to the sensed last row
    gives ``V[R-1]`` for every driven row at once; no back substitution is needed.
    """
    n_rows, n_cols = g.shape
    g_w = 1.0 / wire.r_wire_ohm
    g_in, g_out = _end_conductances(wire)
    s_hat_inv = None
    r_hat = np.zeros((n_cols, 0))
    for i in range(n_rows):
        d = g[i]
        rhs = np.zeros((n_cols, n_cols + 1))
        rhs[:, :n_cols] = np.diag(d)
        rhs[0, n_cols] = 1.0
        sol = _solve_row_chain(d, g_w, g_in, rhs)
        column = d + g_w * ((i > 0) + (i < n_rows - 1)) + (g_out if i == n_rows - 1 else 0.0)
        s_ii = np.diag(column) - d[:, None] * sol[:, :n_cols]  # diag(column) - D K^-1 D
        h = g_in * d * sol[:, n_cols]  # D K^-1 e_0 g_in: current injected into each column by row i at 1 V
        if i == 0:
            s_hat = s_ii
            r_hat = h[:, None]
        else:
            s_hat = s_ii - g_w * g_w * s_hat_inv
            r_hat = np.hstack([g_w * (s_hat_inv @ r_hat), h[:, None]])
        if i < n_rows - 1:
            s_hat_inv = _spd_inverse(s_hat)
    v_last = sla.cho_solve(sla.cho_factor(s_hat, check_finite=False), r_hat, check_finite=False)
    return g_out * v_last.T


def _spd_inverse(a):
    """Inverse of a symmetric positive definite matrix (LAPACK potrf + potri)."""
    c, info = sla.lapack.dpotrf(a, lower=False, clean=False)
    if info == 0:
        inv, info = sla.lapack.dpotri(c, lower=False)
    if info != 0:
        raise NeurosimError(f"wire network matrix is not positive definite (LAPACK info {info})")
    return np.triu(inv) + np.triu(inv, 1).T


def transfer_matrix(g_device_S, wire: WireConfig, *, transposed: bool = False) -> np.ndarray:
    """Exact transfer matrix ``T`` (S, shape (R, C)) of an array with wire resistance.

    Forward reads sense ``I = v @ T`` for row voltages ``v`` (batch, R);
    transposed reads sense ``I = v @ T.T`` for column voltages (batch, C).
    A transposed read is a forward read of the array turned so that its
    driven column ends become row starts: ``g[::-1, ::-1].T``.
    """
    g = cell_conductance_S(_check(g_device_S, wire), wire.r_access_ohm)
    if transposed:
        return _forward_transfer(np.ascontiguousarray(g[::-1, ::-1].T), wire)[::-1, ::-1].T.copy()
    return _forward_transfer(g, wire)
