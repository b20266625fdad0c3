"""The gate library: Boolean gates as threshold networks with integer weights.

Each gate is a :class:`~neurosim.networks.threshold.units.ThresholdNetwork`
built from McCulloch-Pitts units (fire when ``w . x >= theta``):

========  ===========================  ======================================
gate      unit(s)                      function
========  ===========================  ======================================
AND       w = (1, 1),  theta = 2       x1 and x2
OR        w = (1, 1),  theta = 1       x1 or x2
NAND      w = (-1, -1), theta = -1     not (x1 and x2)
NOR       w = (-1, -1), theta = 0      not (x1 or x2)
NOT       w = (-1,),    theta = 0      not x1
MAJ3      w = (1, 1, 1), theta = 2     at least two of x1, x2, x3
XOR       OR and NAND, then AND        x1 xor x2 (two layers: one unit cannot)
========  ===========================  ======================================

Every unit is an integer unit, so on hardware its decision threshold is
``theta - 1/2`` and every reachable sum lies half a weight unit or more from it.
The expected outputs (:func:`gate_targets`) are computed from Python's Boolean
operators, independently of the weights.
"""

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.threshold.units import ThresholdLayer, ThresholdNetwork, all_inputs

_LAYERS = {
    "AND": [([[1, 1]], [2])],
    "OR": [([[1, 1]], [1])],
    "NAND": [([[-1, -1]], [-1])],
    "NOR": [([[-1, -1]], [0])],
    "NOT": [([[-1]], [0])],
    "MAJ3": [([[1, 1, 1]], [2])],
    "XOR": [([[1, 1], [-1, -1]], [1, -1]), ([[1, 1]], [2])],
}

_FUNCTIONS = {
    "AND": lambda a, b: a and b,
    "OR": lambda a, b: a or b,
    "NAND": lambda a, b: not (a and b),
    "NOR": lambda a, b: not (a or b),
    "NOT": lambda a: not a,
    "MAJ3": lambda a, b, c: (a + b + c) >= 2,
    "XOR": lambda a, b: a != b,
}

#: Names of the gates, in display order.
GATE_NAMES = tuple(_LAYERS)

_ALIASES = {"MAJORITY": "MAJ3", "MAJ": "MAJ3", "INV": "NOT"}


def gate_name(name: str) -> str:
    """The canonical gate name for ``name`` (case-insensitive; ``majority`` = MAJ3)."""
    key = str(name).strip().upper()
    key = _ALIASES.get(key, key)
    if key not in _LAYERS:
        raise NeurosimError(f"unknown gate {name!r}; gates: {', '.join(GATE_NAMES)}")
    return key


def gate(name: str) -> ThresholdNetwork:
    """The threshold network of gate ``name`` (see the module table)."""
    key = gate_name(name)
    layers = [ThresholdLayer(np.array(w, dtype=float), np.array(t, dtype=float)) for w, t in _LAYERS[key]]
    return ThresholdNetwork(layers, name=key)


def gate_targets(name: str) -> np.ndarray:
    """The gate's truth table from Boolean operators: uint8 ``(2**n, 1)`` in truth-table order."""
    key = gate_name(name)
    f = _FUNCTIONS[key]
    n = gate(key).n_inputs
    return np.array([[int(bool(f(*(int(v) for v in row))))] for row in all_inputs(n)], dtype=np.uint8)
