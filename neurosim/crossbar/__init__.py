"""Crossbar arrays: weights on device conductances, tiles, DAC/ADC, wire resistance, read noise, pulse updates.

Typical use::

    from neurosim.crossbar import CrossbarConfig, CrossbarLayer, WireConfig

    layer = CrossbarLayer(W, "sige_epiram", CrossbarConfig(dac_bits=8, adc_bits=8), rng=0)
    layer.calibrate_adc(x_train[:1000])
    y = layer.forward(x_test, rng=1)          # approximately x_test @ W.T
    layer.clip_counts                         # how many conversions clipped
"""

from neurosim.crossbar.config import CrossbarConfig, DacMode, Mapping, PulsePolicy, WeightScale, WireConfig
from neurosim.crossbar.layer import ClipCounts, CrossbarLayer
from neurosim.crossbar.tile import ReadMatrices, Tile
from neurosim.crossbar.wires import nodal_solve, transfer_matrix

__all__ = [
    "ClipCounts",
    "CrossbarConfig",
    "CrossbarLayer",
    "DacMode",
    "Mapping",
    "PulsePolicy",
    "ReadMatrices",
    "Tile",
    "WeightScale",
    "WireConfig",
    "nodal_solve",
    "transfer_matrix",
]
