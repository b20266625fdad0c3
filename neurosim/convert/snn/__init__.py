"""ANN-to-SNN conversion onto crossbar arrays (see :mod:`neurosim.convert.snn.engine`).

Modules: :mod:`~neurosim.convert.snn.engine` (conversion, the network on
crossbars, its two engines, the accuracy experiment),
:mod:`~neurosim.convert.snn.kernels` (the fused engine's Numba kernels and
their NumPy twins), :mod:`~neurosim.convert.snn.brian2` (the network in
brian2), :mod:`~neurosim.convert.snn.cli` (``neurosim snn``) and
:mod:`~neurosim.convert.snn.plots`. The public names of the engine are
re-exported here, loaded on first use so that the command line starts
without compiling or importing the simulator.
"""

import importlib

__all__ = [
    "COMPLEMENT_ABOVE",
    "ConvertedSNN",
    "CrossbarSNN",
    "Engine",
    "InputCoding",
    "ReadArrays",
    "Readout",
    "SNNConfig",
    "SNNRun",
    "accuracy_vs_steps",
    "ann_activations",
    "check_settings",
    "convert_mlp",
    "default_checkpoints",
    "events_from_dense",
    "read_events",
    "resolve_settings",
    "snn_point",
    "spike_read",
]


def __getattr__(name):
    if name in __all__:
        return getattr(importlib.import_module("neurosim.convert.snn.engine"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
