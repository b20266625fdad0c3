"""Random-number conventions (SPEC 7).

Every stochastic function takes ``rng``: an ``np.random.Generator``, an int
seed (>= 0), a ``SeedSequence`` or None (fresh entropy). No global seeding anywhere.
"""

import numpy as np

from neurosim.errors import NeurosimError


def as_generator(rng=None) -> np.random.Generator:
    """Return a ``np.random.Generator`` for ``rng`` (a Generator is passed through)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not (rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence))):
        raise NeurosimError(f"rng must be a numpy Generator, an int seed, a SeedSequence or None, got {rng!r}")
    if isinstance(rng, (int, np.integer)) and rng < 0:
        raise NeurosimError(f"a random seed must be a whole number >= 0, got {rng}")
    return np.random.default_rng(rng)
