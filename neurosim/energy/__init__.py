"""Energy, latency and area estimates from a run's event counts and a circuit card.

- :mod:`neurosim.energy.card`: circuit cards (``circuits/*.toml``): converters, cells, digital logic;
- :mod:`neurosim.energy.sums`: the conductance sums the core accumulates for read and write energies;
- :mod:`neurosim.energy.estimate`: the formulas (pure functions of counts, sums and cards).
"""

from neurosim.energy.card import (
    AdcType,
    CellType,
    CircuitCard,
    DacType,
    circuit_from_mapping,
    circuit_with_overrides,
    list_circuits,
    load_circuit,
)
from neurosim.energy.estimate import Estimate, LayerShape, estimate, layer_estimate, metric_names, shape_of
from neurosim.energy.sums import AnalogSums

__all__ = [
    "AdcType", "AnalogSums", "CellType", "CircuitCard", "DacType", "Estimate", "LayerShape", "circuit_from_mapping",
    "circuit_with_overrides", "estimate", "layer_estimate", "list_circuits", "load_circuit", "metric_names",
    "shape_of",
]
