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
