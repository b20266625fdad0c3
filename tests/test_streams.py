"""The counter-based Gaussian generator: NumPy twin equality and standard-normal statistics."""

import math

import numpy as np
import pytest
from scipy import stats

from neurosim import streams


def test_ziggurat_tables_close_and_match_the_published_edge():
    # Marsaglia and Tsang (2000), 256 layers: R = 3.6541528853610088.
    assert streams.ZIG_R == pytest.approx(3.6541528853610088, rel=1e-12)
    assert streams.ZIG_X[-1] == 0.0 and streams.ZIG_F[-1] == 1.0
    assert np.all(np.diff(streams.ZIG_X[1:]) < 0)
    # every layer has the same area v
    x, f = streams.ZIG_X, streams.ZIG_F
    areas = x[1:-1] * (f[2:] - f[1:-1])
    np.testing.assert_allclose(areas, areas[0], rtol=1e-9)


@pytest.mark.parametrize("n", [3, 1025])
def test_odd_lengths_are_refused(n):
    with pytest.raises(ValueError, match="even length"):
        streams.normals_numba(np.uint64(5), 3, np.empty(n))


def test_normals_numba_equals_numpy_twin():
    a = streams.normals_numba(np.uint64(2024), 7, np.empty(200_000))
    b = streams.normals_numpy(np.uint64(2024), 7, np.empty(200_000))
    np.testing.assert_array_equal(a, b)  # same integer arithmetic, same float operations
    c = streams.normals_numba(np.uint64(2025), 7, np.empty(16))
    assert not np.array_equal(a[:16], c)


def test_normals_are_standard_normal():
    n = 2_000_000
    z = streams.normals_numba(np.uint64(99), 0, np.empty(n))
    se = 1 / math.sqrt(n)
    assert abs(z.mean()) < 5 * se
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * math.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24 / n)
    # the tail beyond the ziggurat's base edge R (its own code path) has the right weight
    p = 2 * stats.norm.sf(streams.ZIG_R)
    assert abs(np.mean(np.abs(z) > streams.ZIG_R) - p) < 5 * math.sqrt(p / n)
    # and so does each quantile bin (a chi-square test over 50 equiprobable bins)
    edges = stats.norm.ppf(np.linspace(0, 1, 51))
    counts, _ = np.histogram(z, edges)
    assert stats.chisquare(counts).pvalue > 1e-4
    # neighbouring draws (the two halves of one 64-bit word) are uncorrelated
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 5 / math.sqrt(n / 2)


def test_fast_path_tables_are_the_ziggurat_test_exactly():
    # scale: the signed layer width; limit: the first rejected 23-bit uniform (accepted below it)
    scale, limit = streams._ZIG_SCALE, streams._ZIG_LIMIT
    x = streams.ZIG_X
    np.testing.assert_array_equal(scale, np.concatenate([x[:-1], -x[:-1]]) * 2.0**-23)
    edge = np.concatenate([x[1:], x[1:]])
    below, at = (limit - 1).astype(float), limit.astype(float)
    inside = limit > 0
    assert np.all(np.abs(below[inside] * scale[inside]) < edge[inside])
    short = limit < 2**23
    assert np.all(np.abs(at[short] * scale[short]) >= edge[short])
    # the candidate is the same float as sign * (u 2^-23 x[layer]) of the specification
    h = np.random.default_rng(0).integers(0, 2**32, 100_000)
    layer, sign = h & 255, 1.0 - 2.0 * ((h >> 8) & 1)
    spec = sign * ((h >> 9).astype(float) * 2.0**-23 * x[layer])
    np.testing.assert_array_equal((h >> 9).astype(float) * scale[h & 511], spec)
    np.testing.assert_array_equal((h >> 9) < limit[h & 511], np.abs(spec) < x[layer + 1])


@pytest.mark.parametrize("n", [2, 16, 254, 256, 1024, 5000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_pass_and_bulk_fills_equal_the_twin(n, dtype):
    key, first = np.uint64(2**63 + 12345), 2**40 + 3
    twin = streams.normals_numpy(key, first, np.empty(n)).astype(dtype)
    single = np.empty(n, dtype)
    streams._fill_normals(key, first, single)
    bulk = np.full(n, np.nan, dtype)
    streams._fill_normals_bulk(key, first, bulk, np.empty(n // 2 + 3, dtype=np.uint64))
    np.testing.assert_array_equal(single, twin)
    np.testing.assert_array_equal(bulk, twin)  # also: the halves of a word are read little-endian
    # normals_numba takes the one-pass fill below _BULK draws, the bulk one from there on
    twin64 = streams.normals_numpy(key, first, np.empty(n))
    np.testing.assert_array_equal(streams.normals_numba(key, first, np.empty(n)), twin64)


def test_uniform_kernel_equals_numpy_twin_and_is_uniform():
    from numba import njit

    @njit
    def draws(seed, n):
        out = np.empty(n)
        for c in range(n):
            out[c] = streams.uniform(seed, np.int64(c))  # an int64 counter, as the kernels pass it
        return out

    n = 100_000
    u = draws(np.uint64(7), n)
    np.testing.assert_array_equal(u, streams.uniform_numpy(np.uint64(7), np.arange(n)))
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # the salted stream is another stream
    assert not np.array_equal(u[:100], streams.uniform_numpy(np.uint64(7) ^ streams.SALT, np.arange(100)))
