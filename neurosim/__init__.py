"""neurosim: a simulator of neuromorphic hardware.

Synapse device models (:mod:`neurosim.device`), crossbar arrays built from them
(:mod:`neurosim.crossbar`), and the networks that run on those arrays.
"""

from neurosim.errors import NeurosimError

__version__ = "0.1.0"

__all__ = ["NeurosimError", "__version__"]
