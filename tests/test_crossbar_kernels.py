"""Crossbar kernels: Numba versions equal their NumPy twins; the Gaussian draws are standard normal."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurosim.crossbar import kernels

DTYPES = [np.float32, np.float64]


def _eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("levels", [0, 1, 255])
def test_dac_kernel_matches_twin(dtype, levels):
    rng = np.random.default_rng(1)
    x = (rng.uniform(-1.3, 1.3, (37, 19))).astype(dtype)
    x[0, :3] = [0.5 / levels if levels else 0.5, -0.0, 1.0]  # a rounding tie, a negative zero, full scale
    x[1] = 0.0  # a row of zero inputs
    x[2:, 4] = 0.1 / levels if levels else 0.0  # a column rounded to zero by the DAC
    outs = [np.empty_like(x) for _ in range(4)]
    nonzero = [np.full(x.shape[1], 3, dtype=np.int64) for _ in range(2)]
    ca = kernels.dac_levels_numba(x, 1.0, levels, outs[0], outs[1], nonzero[0])
    cb = kernels.dac_levels_numpy(x, 1.0, levels, outs[2], outs[3], nonzero[1])
    assert ca == cb == ((np.count_nonzero(np.abs(x) > 1.0) if levels else 0), True)
    np.testing.assert_allclose(outs[0], outs[2], rtol=2 * _eps(dtype), atol=0)
    np.testing.assert_allclose(outs[1], outs[3], rtol=2 * _eps(dtype), atol=0)
    np.testing.assert_array_equal(nonzero[0], nonzero[1])
    np.testing.assert_array_equal(nonzero[0], 3 + np.count_nonzero(outs[0], axis=0))  # counts are added
    if levels:
        assert not outs[0][2:, 4].any()  # below half a step: applied as zero, not counted


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("levels", [0, 255])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_dac_kernel_reports_non_finite_inputs(dtype, levels, bad):
    x = np.zeros((9, 70), dtype)
    x[8, 69] = bad  # the last entry: past the vectorised part of the row
    outs = [np.empty_like(x) for _ in range(4)]
    counts = [np.zeros(70, np.int64) for _ in range(2)]
    assert not kernels.dac_levels_numba(x, 1.0, levels, outs[0], outs[1], counts[0])[1]
    assert not kernels.dac_levels_numpy(x, 1.0, levels, outs[2], outs[3], counts[1])[1]
    x[8, 69] = 0
    x[3, 5] = bad
    assert not kernels.dac_levels_numba(x, 1.0, levels, outs[0], outs[1], counts[0])[1]
    assert not kernels.dac_levels_numpy(x, 1.0, levels, outs[2], outs[3], counts[1])[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("var_cols", [0, 13, 14])
def test_sparse_products_kernel_matches_twin(dtype, var_cols):
    """The products that skip zero inputs equal the dense products (rows with no, few and all inputs non-zero)."""
    rng = np.random.default_rng(5)
    n, n_in, col0, rows, c = 40, 50, 7, 30, 13
    x = (rng.standard_normal((n, n_in)) * (rng.random((n, n_in)) < 0.2)).astype(dtype)
    x[0] = 0.0
    x[1] = rng.standard_normal(n_in)
    x[2, :] = 0.0
    x[2, col0 + 5] = 1.5  # a single non-zero input
    x2 = x * x
    signal = rng.standard_normal((rows, c)).astype(dtype)
    var = rng.random((rows, var_cols)).astype(dtype)
    padded = kernels.padded_columns(signal), kernels.padded_columns(var)
    assert padded[0].shape[1] % kernels.COLUMN_PAD == 0 and not padded[0][:, c:].any()
    means = [np.full((n, c), np.nan, dtype) for _ in range(2)]
    variances = [np.full((n, var_cols), np.nan, dtype) for _ in range(2)]
    kernels.sparse_products_numba(x, x2, col0, *padded, means[0], variances[0])
    kernels.sparse_products_numpy(x, x2, col0, *padded, means[1], variances[1])
    tol = 50 * _eps(dtype)
    np.testing.assert_allclose(means[0], means[1], rtol=tol, atol=tol)
    np.testing.assert_allclose(variances[0], variances[1], rtol=tol, atol=tol)
    np.testing.assert_allclose(means[0], x[:, col0 : col0 + rows] @ signal, rtol=tol, atol=tol)
    np.testing.assert_array_equal(means[0][0], 0.0)
    np.testing.assert_allclose(means[0][2], 1.5 * signal[5], rtol=tol)


def _readout_cases(rng, dtype, n=60, c=13):
    mean = rng.standard_normal((n, c)).astype(dtype)
    var = (0.01 * rng.random((n, c + 1))).astype(dtype)
    yield mean, var, True, 1e-4, 0.05, 31
    yield mean, np.ascontiguousarray(var[:, :c]), False, 0.0, 0.05, 31
    yield mean, np.ascontiguousarray(var[:, :0]), False, 2e-3, 0.0, 0
    yield mean, np.ascontiguousarray(var[:, :0]), False, 0.0, 0.2, 7
    yield mean, var, True, 0.0, 0.0, 0
    quiet = var.copy()
    quiet[[0, 5, 6, 7, 30, 31, 32, 33, 34, 59]] = 0.0  # rows of zero inputs: no draws, across a block edge
    yield mean, quiet, True, 0.0, 0.05, 31
    yield mean, np.ascontiguousarray(quiet[:, :c]), False, 0.0, 0.0, 0
    yield mean, quiet, True, 1e-4, 0.05, 31  # output noise: every row has draws
    zero = mean.copy()
    zero[[1, 5, 33]] = 0.0  # rows 5 and 33 also without variance: skipped, they add nothing
    yield zero, quiet, True, 0.0, 0.05, 31
    yield zero, np.ascontiguousarray(quiet[:, :0]), False, 0.0, 0.05, 31


@pytest.mark.parametrize("dtype", DTYPES)
def test_readout_kernel_matches_twin(dtype):
    rng = np.random.default_rng(2)
    for mean, var, common, out_var, step, max_code in _readout_cases(rng, dtype):
        out = [np.full((mean.shape[0], 20), 0.25, dtype=dtype) for _ in range(2)]
        args = (mean, var, common, out_var, step, max_code, 0.5, np.uint64(77))
        ca = kernels.readout_numba(*args, out[0], 3)
        cb = kernels.readout_numpy(*args, out[1], 3)
        assert ca == cb
        np.testing.assert_array_equal(out[0], out[1])  # bit for bit: same draws, same arithmetic
        np.testing.assert_array_equal(out[0][:, :3], 0.25)  # columns outside the tile untouched
        if out_var == 0 and var.shape[1]:  # a row without variance reads its mean through the ADC, noise-free
            quiet = ~var.any(axis=1)
            ideal = np.zeros_like(out[0])
            kernels.readout_numpy(mean, var[:, :0], False, 0.0, step, max_code, 0.5, np.uint64(0), ideal, 3)
            np.testing.assert_array_equal(out[0][quiet, 3:16], 0.25 + ideal[quiet, 3:16])


def test_adc_quantisation_and_clip_count_are_exact():
    mean = np.array([[0.0, 0.049, 0.051, -0.149, 0.349, 0.351, -0.36, 10.0]])
    out = np.zeros_like(mean)
    clipped = kernels.readout_numba(mean, mean[:, :0], False, 0.0, 0.1, 3, 1.0, np.uint64(0), out, 0)
    np.testing.assert_allclose(out, [[0.0, 0.0, 0.1, -0.1, 0.3, 0.3, -0.3, 0.3]], atol=1e-15)
    assert clipped == 3  # 0.351, -0.36 and 10 lie more than half a step beyond the top level 0.3


def test_kernels_run_without_jit():
    """Under NUMBA_DISABLE_JIT=1 the kernels run as plain Python and still equal their twins."""
    code = (
        "import numpy as np, warnings; warnings.simplefilter('ignore');"
        "from neurosim.crossbar import kernels as k;"
        "from neurosim import streams;"
        "a = streams.normals_numba(np.uint64(5), 3, np.empty(64)); b = streams.normals_numpy(np.uint64(5), 3, np.empty(64));"
        "assert np.array_equal(a, b);"
        "m = np.random.default_rng(0).standard_normal((5, 4)); v = np.full((5, 5), 0.01);"
        "o1, o2 = np.zeros((5, 4)), np.zeros((5, 4));"
        "assert k.readout_numba(m, v, True, 0.0, 0.1, 7, 1.0, np.uint64(3), o1, 0) == "
        "k.readout_numpy(m, v, True, 0.0, 0.1, 7, 1.0, np.uint64(3), o2, 0);"
        "assert np.allclose(o1, o2, rtol=1e-15, atol=1e-15);"
        "x = m / 2; p, q, r, s = (np.empty_like(x) for _ in range(4));"
        "c1, c2 = np.zeros(4, np.int64), np.zeros(4, np.int64);"
        "assert k.dac_levels_numba(x, 1.0, 15, p, q, c1) == k.dac_levels_numpy(x, 1.0, 15, r, s, c2);"
        "assert np.array_equal(p, r) and np.array_equal(c1, c2);"
        "e, f = np.empty((5, 4)), np.empty((5, 4));"
        "k.sparse_products_numba(x, q, 0, k.padded_columns(m[:4]), k.padded_columns(m[:4]), e, f);"
        "assert np.allclose(e, x @ m[:4]) and np.allclose(f, q @ m[:4])"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# -- read-out of one row (fused loops) -----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("var_cols, has_common, out_var", [(0, False, 0.0), (0, False, 0.04), (7, False, 0.0),
                                                          (8, True, 0.01)])
@pytest.mark.parametrize("step", [0.0, 0.3])
def test_readout_row_is_a_row_of_the_tile_readout(dtype, var_cols, has_common, out_var, step):
    """Both twins of the row helper, given row b's draws, equal row b of readout_numpy and readout_numba bit for bit."""
    from neurosim.streams import normals_from_counters_numpy

    rng = np.random.default_rng(3)
    n, c, key = 40, 7, np.uint64(123456789)
    mean = (rng.normal(0, 1, (n, c))).astype(dtype)
    var = (rng.random((n, var_cols)) * 0.2).astype(dtype)
    want = np.zeros((n, c), dtype)
    clips = kernels.readout_numpy(mean, var, has_common, out_var, step, 5, 0.5, key, want, 0)
    want_nb = np.zeros((n, c), dtype)
    assert kernels.readout_numba(mean, var, has_common, out_var, step, 5, 0.5, key, want_nb, 0) == clips
    np.testing.assert_array_equal(want_nb, want)
    consts = kernels.readout_constants_numpy(mean, out_var, step, 5, 0.5)
    np.testing.assert_array_equal(kernels.readout_constants_numba(mean, out_var, step, 5, 0.5), consts)
    work = np.zeros((2, c), dtype)
    pairs = (c + 2) // 2
    for row, kernel in ((kernels.readout_row_numpy, "numpy"), (kernels.readout_row_numba, "numba")):
        got, total = np.zeros((n, c), dtype), 0
        for b in range(n):
            z = normals_from_counters_numpy(key, b * 2 * pairs + np.arange(2 * pairs)).astype(dtype)
            total += row(mean[b], var[b], has_common, consts, z, got[b], work)
        np.testing.assert_array_equal(got, want, err_msg=kernel)
        assert total == clips
    if step > 0:
        assert clips > 0


@pytest.mark.parametrize("noise", ["constant", "proportional"])
@pytest.mark.parametrize("r_series_ohm", [0.0, 15e3])
def test_cell_read_variance_is_the_tiles_and_its_twins(noise, r_series_ohm):
    """The jitted per-cell read variance (on-chip training's) equals its twin and the tile's read matrices."""
    from dataclasses import replace

    from neurosim.crossbar import Mapping
    from neurosim.crossbar.tile import Tile
    from neurosim.crossbar.wires import cell_conductance_S
    from neurosim.device import ReadNoise, load_device

    device = replace(load_device("sige_epiram"), read_noise_frac=0.03, read_noise=ReadNoise(noise))
    tile = Tile(device, Mapping.REFERENCE_COLUMN, (5, 4), None, rng=2, r_series_ohm=r_series_ohm)
    g = tile.conductances_S()["main"]
    sd = device.read_noise_frac * device.g_max_S if noise == "constant" else 0.0
    frac = 0.0 if noise == "constant" else device.read_noise_frac
    jitted = np.array([[kernels.cell_read_var(v, sd, frac, r_series_ohm) for v in row] for row in g])
    np.testing.assert_allclose(jitted, kernels.cell_read_var_numpy(g, sd, frac, r_series_ohm), rtol=1e-14)
    np.testing.assert_allclose(jitted / tile.k_S**2, tile.read_matrices(0.0, False, np.float64).var, rtol=1e-12)
    seen = np.array([[kernels.cell_conductance(v, r_series_ohm) for v in row] for row in g])
    np.testing.assert_array_equal(seen, cell_conductance_S(g, r_series_ohm))
    assert (r_series_ohm == 0) == np.array_equal(seen, g)


def test_adc_clip_test_is_the_conversion_reaching_its_top_code():
    """``adc_clipped`` is true exactly where ``adc_value`` had to cap the code."""
    step, top = 0.25, 7.0
    y = np.linspace(-3, 3, 601)
    capped = np.array([abs(kernels.adc_value(v, 1 / step, step, top, 0.5)) == top * step for v in y])
    uncapped = np.floor(np.abs(y) / step + 0.5) > top
    clipped = np.array([kernels.adc_clipped(v, 1 / step, 0.5, top + 1) for v in y])
    np.testing.assert_array_equal(clipped, uncapped)
    assert clipped.any() and not clipped.all() and np.all(capped[clipped])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_line_code_squares_match_twin_and_the_squares(dtype):
    """The DAC codes' squares per input line, summed exactly: twin, applied squares, any split of the rows."""
    rng = np.random.default_rng(4)
    x = (rng.random((301, 17)) * 1.2).astype(dtype)
    applied, sq, nz = np.empty_like(x), np.empty_like(x), np.zeros(17, np.int64)
    kernels.dac_levels_numba(x, 1.0, 255, applied, sq, nz)
    a, b, split = np.zeros(17), np.zeros(17), np.zeros(17)
    kernels.line_code_squares_numba(applied, 255.0, a)
    kernels.line_code_squares_numpy(applied, 255.0, b)
    for r0, r1 in ((0, 100), (100, 101), (101, 301)):
        kernels.line_code_squares_numba(applied[r0:r1], 255.0, split)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, split)
    assert np.all(a == np.round(a)) and a.max() > 255**2  # whole numbers; clipped inputs count at the top code
    np.testing.assert_allclose(a / 255.0**2, sq.astype(np.float64).sum(axis=0), rtol=1e-5)
