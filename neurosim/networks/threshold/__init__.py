"""Threshold-logic networks (McCulloch-Pitts units) on crossbars.

- :mod:`~neurosim.networks.threshold.units`: units, layers, networks, truth tables (software).
- :mod:`~neurosim.networks.threshold.hardware`: units on crossbar columns with comparators.
- :mod:`~neurosim.networks.threshold.gates`: AND, OR, NAND, NOR, NOT, MAJ3, XOR.
- :mod:`~neurosim.networks.threshold.counting`: how many Boolean functions one unit realises.
- :mod:`~neurosim.networks.threshold.perceptron`: the perceptron rule by device pulses.
- :mod:`~neurosim.networks.threshold.margins`: error probabilities, analytic and simulated.
- :mod:`~neurosim.networks.threshold.mnist`: a binarised threshold MLP that reads handwriting.
- :mod:`~neurosim.networks.threshold.cli`: the ``neurosim logic`` command.

Typical use::

    from neurosim.networks.threshold import CrossbarThresholdNetwork, gate, all_inputs

    hw = CrossbarThresholdNetwork(gate("XOR"), "sige_epiram", rng=0)
    hw.forward(all_inputs(2), rng=1)        # [[0], [1], [1], [0]]
"""

from neurosim.networks.threshold.counting import (
    FunctionCount,
    ThresholdFit,
    count_functions,
    fit_samples,
    is_threshold_function,
    realisable_codes,
    threshold_fit,
    threshold_function_codes,
    weight_levels,
)
from neurosim.networks.threshold.gates import GATE_NAMES, gate, gate_targets
from neurosim.networks.threshold.hardware import (
    CrossbarThresholdLayer,
    CrossbarThresholdNetwork,
    ThresholdConfig,
    ThresholdMode,
)
from neurosim.networks.threshold.margins import (
    ErrorRates,
    NoiseKind,
    analytic_errors,
    analytic_sweep,
    error_sweep,
    network_output_distribution,
    simulated_errors,
    with_noise,
)
from neurosim.networks.threshold.perceptron import PerceptronConfig, PerceptronResult, train_perceptron
from neurosim.networks.threshold.units import (
    Readout,
    ThresholdLayer,
    ThresholdNetwork,
    ThresholdUnit,
    all_inputs,
    parse_truth_table,
    truth_table_string,
)

__all__ = [
    "GATE_NAMES",
    "CrossbarThresholdLayer",
    "CrossbarThresholdNetwork",
    "ErrorRates",
    "FunctionCount",
    "NoiseKind",
    "PerceptronConfig",
    "PerceptronResult",
    "Readout",
    "ThresholdConfig",
    "ThresholdFit",
    "ThresholdLayer",
    "ThresholdMode",
    "ThresholdNetwork",
    "ThresholdUnit",
    "all_inputs",
    "analytic_errors",
    "analytic_sweep",
    "count_functions",
    "error_sweep",
    "fit_samples",
    "gate",
    "gate_targets",
    "is_threshold_function",
    "network_output_distribution",
    "parse_truth_table",
    "realisable_codes",
    "simulated_errors",
    "threshold_fit",
    "threshold_function_codes",
    "train_perceptron",
    "truth_table_string",
    "weight_levels",
    "with_noise",
]
