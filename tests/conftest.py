import numpy as np
import pytest

from neurosim.device import load_device


@pytest.fixture
def sige():
    return load_device("sige_epiram")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def std_tolerance(n: int, k: float = 5.0) -> float:
    """Relative tolerance for a sample std of n normal draws: k standard errors (1/sqrt(2(n-1)))."""
    return k / np.sqrt(2 * (n - 1))


@pytest.fixture
def brian2_numpy_target():
    """brian2 with its NumPy code-generation target for one test: no compilation, fine for small networks."""
    b2 = pytest.importorskip("brian2")
    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    yield b2
    b2.prefs.codegen.target = old
