"""The counter-based Gaussian generator: NumPy twin equality and standard-normal statistics."""

import math

import numpy as np
import pytest
from scipy import stats

from neurosim import normals


def test_ziggurat_tables_close_and_match_the_published_edge():
    # Marsaglia and Tsang (2000), 256 layers: R = 3.6541528853610088.
    assert normals.ZIG_R == pytest.approx(3.6541528853610088, rel=1e-12)
    assert normals.ZIG_X[-1] == 0.0 and normals.ZIG_F[-1] == 1.0
    assert np.all(np.diff(normals.ZIG_X[1:]) < 0)
    # every layer has the same area v
    x, f = normals.ZIG_X, normals.ZIG_F
    areas = x[1:-1] * (f[2:] - f[1:-1])
    np.testing.assert_allclose(areas, areas[0], rtol=1e-9)


def test_normals_numba_equals_numpy_twin():
    a = normals.normals_numba(np.uint64(2024), 7, np.empty(200_000))
    b = normals.normals_numpy(np.uint64(2024), 7, np.empty(200_000))
    np.testing.assert_array_equal(a, b)  # same integer arithmetic, same float operations
    c = normals.normals_numba(np.uint64(2025), 7, np.empty(16))
    assert not np.array_equal(a[:16], c)


def test_normals_are_standard_normal():
    n = 2_000_000
    z = normals.normals_numba(np.uint64(99), 0, np.empty(n))
    se = 1 / math.sqrt(n)
    assert abs(z.mean()) < 5 * se
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * math.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24 / n)
    # the tail beyond the ziggurat's base edge R (its own code path) has the right weight
    p = 2 * stats.norm.sf(normals.ZIG_R)
    assert abs(np.mean(np.abs(z) > normals.ZIG_R) - p) < 5 * math.sqrt(p / n)
    # and so does each quantile bin (a chi-square test over 50 equiprobable bins)
    edges = stats.norm.ppf(np.linspace(0, 1, 51))
    counts, _ = np.histogram(z, edges)
    assert stats.chisquare(counts).pvalue > 1e-4
    # neighbouring draws (the two halves of one 64-bit word) are uncorrelated
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 5 / math.sqrt(n / 2)
