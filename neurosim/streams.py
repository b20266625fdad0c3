"""Counter-based random streams (uniform and Gaussian draws), identical in Numba and NumPy.

The one random module of the simulator: every jitted kernel that needs random
numbers (crossbar reads, device writes, on-chip training, spiking inputs)
draws them here, as a pure function of a 64-bit stream key and a counter.

Uniforms: draw ``c`` of stream ``seed`` is the top 53 bits of the SplitMix64
finaliser of ``seed + (c + 1) * GAMMA`` (:func:`counter_word`,
:func:`uniform`; NumPy twin :func:`uniform_numpy`).

Gaussians. A noisy read of a batch needs one Gaussian per conversion
(millions per batch); ``Generator.standard_normal`` costs 15-25 ns per draw
on the target machines, several times the rest of the read. So the kernels make their own, as a pure function of a 64-bit ``key`` (drawn from the
caller's ``rng``, one per read) and the draw's index:

- bits: draws come in pairs; pair ``p`` is the SplitMix64 finaliser (a
  bijective 64-bit mixer) of ``key + p * GAMMA``, whose low and high 32 bits
  make draws ``2p`` and ``2p + 1``.
- Gaussian: the ziggurat method (Marsaglia and Tsang, 2000) with 256 layers:
  8 bits choose the layer, 1 bit the sign, 23 bits the uniform (a resolution
  of about 1e-7 of the layer width). The rare wedge and tail cases (about
  1.2 %) draw more 64-bit words, ``mix(seed + k * GAMMA)`` for ``k = 1, 2, ...``,
  seeded by the pair's word (its low draw) or that word xor a salt (its high
  draw), with 53-bit uniforms and Marsaglia's exponential method beyond ``R``.

Results do not depend on how a batch is split, and the NumPy twin reproduces
the Numba kernels to the last bit.

Speed (about 2.5-3 ns per draw on one core): the fast path is a table
look-up with no branches (:func:`_fast_path_tables`) and the rare cases are
finished in a second pass. :func:`_fill_normals` needs no scratch (short
arrays, such as one image's draws in the spiking kernels);
:func:`_fill_normals_bulk` first makes all the 64-bit words in a loop that
vectorises, then runs the fast path over their 32-bit halves (long arrays;
it relies on a little-endian machine, as the tests check).

Jitted kernels in other modules call them: the crossbar read-out and the
device write path :func:`_fill_normals_bulk`, the spiking kernels
:func:`_fill_normals`, on-chip training :func:`normals_numba`.
Numba's on-disk cache keys on each kernel's own file, so after editing this
module clear the cache (``NUMBA_CACHE_DIR``); CI always starts from an empty one.
"""

import math

import numpy as np
from numba import njit


def _ziggurat_tables(layers: int = 256):
    """Layer edges ``x[0..layers]`` and heights ``f(x)`` of the ziggurat for ``f(x) = exp(-x^2/2)``.

    All layers have the same area ``v``: the base layer is the rectangle
    ``[0, R] x [0, f(R)]`` plus the tail beyond ``R`` (``x[0] = v / f(R)`` is
    its equivalent width); layer ``i >= 1`` spans ``[0, x[i]]`` in x and
    ``[f(x[i]), f(x[i+1])]`` in y, and ``x[layers] = 0``. ``R`` is found by
    bisection so that the top layer closes at ``f = 1``.
    """

    def f(x):
        return math.exp(-0.5 * x * x)

    def build(r):
        v = r * f(r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
        x = [v / f(r), r]
        for _ in range(2, layers):
            y = f(x[-1]) + v / x[-1]
            if y >= 1.0:
                return None, v, x
            x.append(math.sqrt(-2.0 * math.log(y)))
        return f(x[-1]) + v / x[-1] - 1.0, v, x

    # A smaller R means larger layers: they reach the top too early (None) or overshoot (gap > 0).
    lo, hi = 2.0, 5.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        gap, _, _ = build(mid)
        if gap is None or gap > 0:
            lo = mid
        else:
            hi = mid
    _, _, x = build(hi)
    x = np.array(x + [0.0])
    return x, np.exp(-0.5 * x * x)


# -- Gaussian draws ----------------------------------------------------------------------------
_U64 = np.uint64
#: SplitMix64 constants: the Weyl increment and the finaliser's multipliers.
GAMMA = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
#: Seeds the rare extra draws of the high half of a pair apart from the low half's; ``key ^ SALT`` is
#: also a stream independent of ``key`` (on-chip training's rounding uniforms use it).
SALT = _SALT = _U64(0xD1B54A32D192ED03)
_S30, _S27, _S31, _S32, _S11, _S8 = _U64(30), _U64(27), _U64(31), _U64(32), _U64(11), _U64(8)
_LOW8, _LOW32, _ONE = _U64(255), _U64(0xFFFFFFFF), _U64(1)
_TWO_M53 = 2.0**-53
_TWO_M23 = 2.0**-23

ZIG_X, ZIG_F = _ziggurat_tables()
ZIG_R = float(ZIG_X[1])


def _fast_path_tables():
    """The ziggurat's fast path as tables indexed by a draw's low 9 bits ``j = layer + 256 sign``.

    ``scale[j] = (1 - 2 sign) x[layer] 2^-23``: the candidate ``float(u) scale[j]``
    is the same float64 as ``sign * (float(u) 2^-23 x[layer])`` (the factor 2^-23
    only shifts the exponent). ``limit[j]``: the candidate is accepted,
    ``|candidate| < x[layer + 1]``, exactly when the 23-bit uniform ``u < limit[j]``
    (the rounded product grows with ``u``, so the accepted ``u`` are a prefix;
    its end is found next to ``x[layer + 1] / |scale[j]|`` with the same float arithmetic).
    """
    width = ZIG_X[:-1] * _TWO_M23
    edge = ZIG_X[1:]
    guess = np.floor(edge / width).astype(np.int64)
    limit = np.full(guess.shape, 1 << 23)
    for step in range(3, -4, -1):  # ends at the smallest rejected u near the guess
        u = guess + step
        rejected = (u >= 0) & (u < limit) & (u.astype(np.float64) * width >= edge)
        limit = np.where(rejected, u, limit)
    return np.concatenate([width, -width]), np.concatenate([limit, limit])


_ZIG_SCALE, _ZIG_LIMIT = _fast_path_tables()


@njit(cache=True)
def _mix(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True)
def counter_word(seed, counter):
    """The 64-bit word of draw ``counter`` of the uniform stream ``seed`` (both uint64)."""
    return _mix(_U64(seed) + (_U64(counter) + _ONE) * GAMMA)


@njit(cache=True, nogil=True)
def uniform(seed, counter):
    """Uniform in [0, 1): draw ``counter`` of stream ``seed``, from the top 53 bits of :func:`counter_word`."""
    return float(counter_word(seed, counter) >> _S11) * _TWO_M53


@njit(cache=True)
def _uniform_open(u):
    """Uniform in (0, 1] from the top 53 bits of ``u``."""
    return (float(u >> _S11) + 1.0) * _TWO_M53


@njit(cache=True)
def _normal_rare(seed, layer, x, sign):
    """The ziggurat's wedge test and tail for candidate ``x`` of ``layer``; extra words from ``seed``."""
    k = 0
    while True:
        if layer == 0:
            while True:
                a = -math.log(_uniform_open(_mix(seed + _U64(k + 1) * GAMMA))) / ZIG_R
                b = -math.log(_uniform_open(_mix(seed + _U64(k + 2) * GAMMA)))
                k += 2
                if 2.0 * b > a * a:
                    return sign * (ZIG_R + a)
        y = ZIG_F[layer] + _uniform_open(_mix(seed + _U64(k + 1) * GAMMA)) * (ZIG_F[layer + 1] - ZIG_F[layer])
        if y < math.exp(-0.5 * x * x):
            return sign * x
        k += 2
        u = _mix(seed + _U64(k) * GAMMA)
        layer = np.int64(u & _LOW8)
        sign = 1.0 - 2.0 * float(np.int64((u >> _S8) & _ONE))
        x = float(np.int64(u >> _S11)) * _TWO_M53 * ZIG_X[layer]
        if x < ZIG_X[layer + 1]:
            return sign * x


@njit(cache=True)
def _fast_normal(h):
    """The ziggurat's fast path for the 32 random bits ``h`` (uint32): the draw, or NaN where it misses.

    Layer ``h & 255``, sign bit 8, uniform ``u = h >> 9`` (23 bits), through the
    tables of :func:`_fast_path_tables`; no branches.
    """
    j = h & np.uint32(511)
    u = np.int32(h >> np.uint32(9))
    x = float(u) * _ZIG_SCALE[j]
    return x if u < _ZIG_LIMIT[j] else np.nan


@njit(cache=True)
def _rare_draw(key, first_pair, i):
    """Draw ``2 first_pair + i`` of stream ``key`` when it missed the fast path: :func:`_normal_rare`."""
    s = _mix(key + _U64(first_pair + (i >> 1)) * GAMMA)
    high = i & 1
    h = np.int64(s >> _S32) if high else np.int64(s & _LOW32)
    layer = h & 255
    x = float(h >> 9) * _TWO_M23 * ZIG_X[layer]
    return _normal_rare(s ^ _SALT if high else s, layer, x, 1.0 - 2.0 * float((h >> 8) & 1))


@njit(cache=True)
def _finish_rare(key, first_pair, z):
    """Replace the NaNs that :func:`_fast_normal` left in ``z`` (draws ``2 first_pair, ...``)."""
    for i in range(z.shape[0]):
        if np.isnan(z[i]):
            z[i] = _rare_draw(key, first_pair, i)


@njit(cache=True)
def _fill_normals(key, first_pair, z):
    """Fill ``z`` (even length, float32 or float64) with draws ``2 first_pair, ...`` of stream ``key``.

    One pass over the pairs takes the ziggurat's fast path for every draw
    (marking the misses, about 1.2 %, with NaN), a second finishes those.
    Needs no scratch: for short arrays; :func:`_fill_normals_bulk` is faster for long ones.
    """
    for q in range(z.shape[0] // 2):
        s = _mix(key + _U64(first_pair + q) * GAMMA)
        z[2 * q] = _fast_normal(np.uint32(s & _LOW32))
        z[2 * q + 1] = _fast_normal(np.uint32(s >> _S32))
    _finish_rare(key, first_pair, z)


@njit(cache=True)
def _mix_pairs(key, first_pair, words):
    """``words[q] = mix(key + (first_pair + q) GAMMA)``: the 64-bit words of pairs ``first_pair, ...``.

    A loop of its own so that it vectorises (no branches, no table look-ups).
    """
    counter = key + _U64(first_pair) * GAMMA
    for q in range(words.shape[0]):
        words[q] = _mix(counter)
        counter += GAMMA


@njit(cache=True)
def _fill_normals_bulk(key, first_pair, z, words):
    """:func:`_fill_normals` with scratch ``words`` (uint64, at least ``len(z) / 2`` long).

    The words of all pairs first (a vectorised loop), then the fast path for
    every draw: draw ``2q`` is the low half of ``words[q]``, ``2q + 1`` the
    high half (the words read as uint32 pairs, little-endian). The indices
    of the misses are written into the same uint32 halves as they are found
    (miss number ``k`` at half ``k``, never ahead of the draw being read),
    without branching, and only those draws are finished afterwards.
    """
    words = words[: z.shape[0] // 2]
    _mix_pairs(key, first_pair, words)
    halves = words.view(np.uint32)
    misses = 0
    for i in range(z.shape[0]):
        h = halves[i]
        j = h & np.uint32(511)
        u = np.int32(h >> np.uint32(9))
        z[i] = float(u) * _ZIG_SCALE[j]
        halves[misses] = np.uint32(i)
        misses += u >= _ZIG_LIMIT[j]
    for m in range(misses):
        i = np.int64(halves[m])
        z[i] = _rare_draw(key, first_pair, i)


#: From this many draws on, :func:`normals_numba` takes the two-pass :func:`_fill_normals_bulk`.
_BULK = 256


@njit(cache=True, nogil=True)
def normals_numba(key, first_pair, out):
    """Fill ``out`` (1-D float64, even length) with draws ``2 first_pair, ...`` of stream ``key``."""
    if out.shape[0] % 2:
        raise ValueError("normals_numba fills whole pairs: out must have an even length")
    if out.shape[0] >= _BULK:
        _fill_normals_bulk(_U64(key), first_pair, out, np.empty(out.shape[0] // 2, dtype=np.uint64))
    else:
        _fill_normals(_U64(key), first_pair, out)
    return out


def _mix_numpy(z):
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def counter_words_numpy(seeds, counters) -> np.ndarray:
    """NumPy twin of :func:`counter_word`: ``seeds`` (uint64) broadcast against ``counters`` (int array)."""
    seeds = np.asarray(seeds, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix_numpy(seeds + (np.asarray(counters, dtype=np.uint64) + _ONE) * GAMMA)


def uniform_numpy(seeds, counters) -> np.ndarray:
    """NumPy twin of :func:`uniform`: ``seeds`` (uint64) broadcast against ``counters`` (int array)."""
    return (counter_words_numpy(seeds, counters) >> _S11).astype(np.float64) * _TWO_M53


def _uniform_open_numpy(u):
    return (float(u >> _S11) + 1.0) * _TWO_M53


def _normal_rare_numpy(seed, layer, x, sign):
    """NumPy-scalar twin of the ziggurat's rare branches."""
    k = 0
    with np.errstate(over="ignore"):
        while True:
            if layer == 0:
                while True:
                    a = -math.log(_uniform_open_numpy(_mix_numpy(seed + _U64(k + 1) * GAMMA))) / ZIG_R
                    b = -math.log(_uniform_open_numpy(_mix_numpy(seed + _U64(k + 2) * GAMMA)))
                    k += 2
                    if 2.0 * b > a * a:
                        return sign * (ZIG_R + a)
            u1 = _uniform_open_numpy(_mix_numpy(seed + _U64(k + 1) * GAMMA))
            if ZIG_F[layer] + u1 * (ZIG_F[layer + 1] - ZIG_F[layer]) < math.exp(-0.5 * x * x):
                return sign * x
            k += 2
            u = _mix_numpy(seed + _U64(k) * GAMMA)
            layer = int(u & _LOW8)
            sign = 1.0 - 2.0 * float((u >> _S8) & _ONE)
            x = float(u >> _S11) * _TWO_M53 * ZIG_X[layer]
            if x < ZIG_X[layer + 1]:
                return sign * x


def normals_from_counters_numpy(key, idx) -> np.ndarray:
    """NumPy twin of the Gaussian draws: draws ``idx`` (int array) of stream ``key``."""
    idx = np.asarray(idx, dtype=np.uint64)
    flat = idx.ravel()
    with np.errstate(over="ignore"):
        s = _mix_numpy(_U64(key) + (flat >> _ONE) * GAMMA)
    high = (flat & _ONE).astype(bool)
    h = np.where(high, s >> _S32, s & _LOW32).astype(np.int64)
    layer = h & 255
    sign = 1.0 - 2.0 * ((h >> 8) & 1).astype(np.float64)
    x = (h >> 9).astype(np.float64) * _TWO_M23 * ZIG_X[layer]
    out = sign * x
    seed = np.where(high, s ^ _SALT, s)
    for i in np.flatnonzero(~(x < ZIG_X[layer + 1])):
        out[i] = _normal_rare_numpy(seed[i], int(layer[i]), x[i], sign[i])
    return out.reshape(idx.shape)


def normals_numpy(key, first_pair, out):
    """NumPy twin of :func:`normals_numba`."""
    out[...] = normals_from_counters_numpy(key, np.arange(2 * first_pair, 2 * first_pair + out.shape[0]))
    return out
