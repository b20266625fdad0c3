"""Which Boolean functions one threshold unit realises: exact enumeration.

A Boolean function of ``n`` inputs is identified by its *code*: bit ``r`` of
the code is the output on truth-table row ``r`` (row order as in
:func:`~neurosim.networks.threshold.units.all_inputs`), so for two inputs AND
is ``0b1000 = 8`` and its table string is ``"0001"``.

Two questions are answered exactly:

- *Restricted weights*: each weight takes one of ``k`` integer levels spaced
  evenly and symmetrically about zero, ``{-(k-1), -(k-3), ..., k-1}`` (k = 2:
  binary weights +-1; k = 3: ternary -2, 0, 2, the same functions as -1, 0, 1),
  and the threshold is any real number (the comparator's reference can be set
  anywhere). :func:`realisable_codes` enumerates every weight vector; for
  each, the functions reachable by moving the threshold are the sets
  ``{x : w . x >= t}`` for ``t`` at each reachable sum, plus the constant 0.
- *Unrestricted (real) weights*: the threshold functions. A function is one
  exactly when the linear program ``w . x_r - theta >= 1`` (output 1),
  ``w . x_r - theta <= -1`` (output 0) is feasible (strict separation of two
  finite sets, rescaled). :func:`threshold_function_codes` finds most of them
  constructively with small integer weights, drops functions that are not
  unate (a threshold function is monotone in every input, up or down) and
  settles the rest with the LP (scipy's HiGHS), checking every solution by
  evaluation. The counts for n = 0..4 are 2, 4, 14, 104 and 1882.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.threshold.units import _count, all_inputs, parse_truth_table, truth_table_string

#: Largest number of inputs counted (2**(2**5) functions would be too many to enumerate).
MAX_COUNT_INPUTS = 4

#: Largest number of weight vectors enumerated (k**n).
MAX_WEIGHT_VECTORS = 2**20

#: Known numbers of threshold functions of n = 0, 1, 2, ... inputs (OEIS A000609).
KNOWN_THRESHOLD_COUNTS = (2, 4, 14, 104, 1882, 94572)


def _inputs_count(n) -> int:
    n = _count(n, "number of inputs", 0)
    if n > MAX_COUNT_INPUTS:
        raise NeurosimError(
            f"number of inputs = {n} is not allowed: counting enumerates all 2**(2**n) functions, "
            f"so n must be from 0 to {MAX_COUNT_INPUTS}"
        )
    return n


def weight_levels(k) -> np.ndarray:
    """The ``k`` integer weight levels ``{-(k-1), -(k-3), ..., k-1}`` (int64)."""
    k = _count(k, "weight levels", 1)
    return np.arange(-(k - 1), k, 2, dtype=np.int64)


def function_code(outputs) -> int:
    """The code of a single-output truth table (string ``"0110"`` or 0/1 values in row order)."""
    values = parse_truth_table(outputs)
    return int(np.sum(values.astype(np.int64) << np.arange(values.size, dtype=np.int64)))


def code_table(code: int, n: int) -> str:
    """The truth-table string of function ``code`` of ``n`` inputs."""
    rows = 2**n
    if not 0 <= int(code) < 2**rows:
        raise NeurosimError(f"function code {code} is out of range for {n} inputs (0 .. {2**rows - 1})")
    return "".join(str((int(code) >> r) & 1) for r in range(rows))


def _weight_vectors(levels: np.ndarray, n: int) -> np.ndarray:
    grids = np.meshgrid(*([levels] * n), indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1) if n else np.zeros((1, 0), dtype=np.int64)


def _codes_of_weights(vectors: np.ndarray, n: int) -> np.ndarray:
    """Codes of every function ``{x : w . x >= t}`` over the weight vectors (one per row), any threshold."""
    x = all_inputs(n).astype(np.int64)
    rows = x.shape[0]
    bits = np.int64(1) << np.arange(rows, dtype=np.int64)
    codes = [np.zeros(1, dtype=np.int64)]  # the constant 0 (threshold above every sum)
    chunk = max(1, (1 << 22) // (rows * rows))
    for start in range(0, len(vectors), chunk):
        s = vectors[start : start + chunk] @ x.T  # (v, rows) reachable sums
        fires = s[:, None, :] >= s[:, :, None]  # threshold at each reachable sum
        codes.append(np.unique(fires.astype(np.int64) @ bits))
    return np.unique(np.concatenate(codes))


@lru_cache(maxsize=32)
def _realisable(n: int, k: int) -> np.ndarray:
    if n and k**n > MAX_WEIGHT_VECTORS:
        raise NeurosimError(
            f"weight levels = {k} with {n} inputs means {k**n} weight vectors; "
            f"at most {MAX_WEIGHT_VECTORS} are enumerated (k <= {int(MAX_WEIGHT_VECTORS ** (1 / n))})"
        )
    codes = _codes_of_weights(_weight_vectors(weight_levels(k), n), n)
    codes.flags.writeable = False
    return codes


def realisable_codes(n, k) -> np.ndarray:
    """Sorted codes of the functions of ``n`` inputs one unit realises with ``k`` weight levels (any threshold)."""
    return _realisable(_inputs_count(n), _count(k, "weight levels", 1))


@dataclass(frozen=True)
class ThresholdFit:
    """Whether a truth table is a threshold function, and a realisation if it is."""

    realisable: bool
    #: Weights (n,) and threshold of a unit realising it (``w . x >= theta``), or None.
    weights: np.ndarray | None = None
    threshold: float | None = None


def fit_samples(x, outputs) -> ThresholdFit:
    """Decide by linear programming whether one unit maps binary input rows ``x`` (P, n) to ``outputs`` (P,).

    A realisation found is checked by evaluating it on every row.
    """
    from scipy.optimize import linprog

    x = np.asarray(x, dtype=np.float64)
    outputs = np.asarray(outputs).astype(np.uint8).reshape(-1)
    if x.ndim != 2 or outputs.size != x.shape[0]:
        raise NeurosimError(f"fit_samples needs inputs (P, n) and P outputs, got {x.shape} and {outputs.size}")

    n = x.shape[1]
    sign = np.where(outputs == 1, -1.0, 1.0)  # output 1: -(w.x - theta) <= -1; output 0: w.x - theta <= -1
    a_ub = sign[:, None] * np.hstack([x, -np.ones((x.shape[0], 1))])
    res = linprog(np.zeros(n + 1), A_ub=a_ub, b_ub=-np.ones(x.shape[0]), bounds=[(None, None)] * (n + 1), method="highs")
    if res.status == 2:
        return ThresholdFit(False)
    if res.status != 0:
        raise NeurosimError(f"the linear program for truth table {truth_table_string(outputs)} failed: {res.message}")
    w, theta = res.x[:n], float(res.x[n])
    if not np.array_equal((x @ w >= theta).astype(np.uint8), outputs):
        raise NeurosimError(f"the LP realisation of {truth_table_string(outputs)} does not reproduce it (numerical trouble)")
    return ThresholdFit(True, w, theta)


def threshold_fit(table) -> ThresholdFit:
    """Decide by linear programming whether one threshold unit (real weights) realises ``table``.

    ``table``: a truth-table string (``"0110"``) or 0/1 outputs in row order.
    """
    outputs = parse_truth_table(table)
    n = outputs.size.bit_length() - 1
    return fit_samples(all_inputs(n).astype(np.float64), outputs)


def is_threshold_function(table) -> bool:
    """Whether one threshold unit with real weights realises ``table`` (see :func:`threshold_fit`)."""
    return threshold_fit(table).realisable


def _unate(codes: np.ndarray, n: int) -> np.ndarray:
    rows = 2**n
    bits = ((codes[:, None] >> np.arange(rows)) & 1).astype(np.int8)
    ok = np.ones(len(codes), dtype=bool)
    for j in range(n):
        mask = 1 << (n - 1 - j)  # input j is bit n-1-j of the row index
        low = np.array([r for r in range(rows) if not r & mask])
        diff = bits[:, low | mask] - bits[:, low]
        ok &= np.all(diff >= 0, axis=1) | np.all(diff <= 0, axis=1)
    return ok


@lru_cache(maxsize=8)
def _threshold_codes(n: int) -> np.ndarray:
    found = _realisable(n, 9)  # integer weights -4..4 (as levels -8, -6, ..., 8)
    candidates = np.setdiff1d(np.arange(2 ** (2**n), dtype=np.int64), found)
    candidates = candidates[_unate(candidates, n)]
    x = all_inputs(n).astype(np.float64)
    extra = [c for c in candidates if fit_samples(x, ((int(c) >> np.arange(2**n)) & 1).astype(np.uint8)).realisable]
    codes = np.union1d(found, np.array(extra, dtype=np.int64))
    codes.flags.writeable = False
    return codes


def threshold_function_codes(n) -> np.ndarray:
    """Sorted codes of all threshold functions of ``n`` inputs (unrestricted real weights and threshold)."""
    return _threshold_codes(_inputs_count(n))


@dataclass(frozen=True)
class FunctionCount:
    """How many of the ``2**(2**n)`` Boolean functions of ``n`` inputs one unit realises."""

    n_inputs: int
    weight_levels: int | None
    total: int
    #: Realisable with ``weight_levels`` integer levels per weight (None if not asked).
    realisable: int | None
    #: Realisable with real weights (the threshold functions).
    unrestricted: int
    #: Truth tables of the functions not realisable with the restricted weights (or, without
    #: weight levels, with real weights); listed for n <= 2 only.
    not_realisable: tuple = ()

    def to_dict(self) -> dict:
        return {
            "inputs": self.n_inputs,
            "weight_levels": self.weight_levels,
            "levels": None if self.weight_levels is None else weight_levels(self.weight_levels).tolist(),
            "functions": self.total,
            "realisable": self.realisable,
            "unrestricted": self.unrestricted,
            "not_realisable": list(self.not_realisable) if self.n_inputs <= 2 else None,
        }


def count_functions(n, k=None) -> FunctionCount:
    """Count the functions of ``n`` (0..4) inputs one unit realises, with ``k`` weight levels and with real weights."""
    n = _inputs_count(n)
    total = 2 ** (2**n)
    unrestricted = threshold_function_codes(n)
    restricted = None if k is None else realisable_codes(n, k)
    missing = ()
    if n <= 2:
        have = unrestricted if restricted is None else restricted
        missing = tuple(code_table(c, n) for c in np.setdiff1d(np.arange(total), have))
    return FunctionCount(
        n_inputs=n,
        weight_levels=None if k is None else int(k),
        total=total,
        realisable=None if restricted is None else int(restricted.size),
        unrestricted=int(unrestricted.size),
        not_realisable=missing,
    )
