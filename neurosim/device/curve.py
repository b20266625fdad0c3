"""The nonlinear pulse-update curve (NeuroSim's model), as pure functions.

Potentiation from the bottom of the window, after ``P`` identical pulses::

    G(P) = G_min + B * (1 - exp(-P / A)),    B = (G_max - G_min) / (1 - exp(-P_max / A))

``P_max`` pulses cross the whole window and ``A`` (in pulses) sets the
curvature. ``|A| = a(|NL|) * P_max``, where the published nonlinearity label
``NL`` is defined by the shape of the normalised curve
``g(x) = (1 - e^(-x/a)) / (1 - e^(-1/a))``: its largest distance above the
diagonal is ``0.0989949 * |NL|``. ``NL = 0`` is a linear device (``A`` infinite).

The sign of each label is physics (NeuroSim V3, ``formula.cpp`` and
``Cell.cpp``): ``A = sign(NL) a(|NL|) P_max`` on one pulse axis ``P`` shared
by both directions (``P = 0`` at ``G_min``, ``P = P_max`` at ``G_max``);
potentiation moves ``P`` up, depression moves it down, each along the curve
of its own label. Counted from where each direction starts (``G_min`` for
potentiation, ``G_max`` for depression, ``Q = P_max - P``), depression is::

    G(Q) = G_max - B_d * (1 - exp(-Q / A_d)),    B_d = (G_max - G_min) / (1 - exp(-Q_max / A_d))

with ``A_d = -A`` of the depression label (an identity of the exponentials).
So a direction's constant (:func:`potentiation_constant`,
:func:`depression_constant`) is positive when that direction saturates (large
steps first, small ones near its end of the window) and negative when it
accelerates (small steps first). A negative LTD label (most devices) gives
``A_d > 0``: depression is the mirror image of potentiation. A positive LTD
label (gst_pcm 2.4, hzo_fefet 1.46) gives ``A_d < 0``: depression walks back
down the saturating potentiation-like curve, and the device is nearly symmetric.
Every formula below takes a signed constant (``B`` then has its sign).

Because the curve is an exponential approach to an asymptote, a step of ``n``
pulses from any conductance has a closed form that needs no logarithm::

    G' = G_inf - (G_inf - G) * exp(-n / A),    G_inf = G_min + B

which is what the write kernels use. With a negative constant the decay per
pulse ``exp(-1/A)`` is above 1 and the asymptote lies beyond the direction's
end of the window (``G_inf = G_max + |B|`` for depression): the clip to the
window ends the curve there.
"""

from functools import lru_cache

import numpy as np
from neurosim.errors import NeurosimError

#: Largest distance above the diagonal of the normalised curve per unit of NL.
DISTANCE_PER_NL = 0.0989949

#: Largest |NL| the definition allows (the distance above the diagonal must stay below 1).
NL_LIMIT = 10.0


def max_distance_above_diagonal(a):
    """Largest ``g(x) - x`` of the normalised curve with constant ``a`` (> 0).

    The maximum is where ``g'(x) = 1``, at ``x* = -a ln(a (1 - e^(-1/a)))``.
    Accepts scalars or arrays; returns the same shape.
    """
    a = np.asarray(a, dtype=float)
    rise = -np.expm1(-1.0 / a)  # 1 - e^(-1/a)
    x_star = -a * np.log(a * rise)
    return -np.expm1(-x_star / a) / rise - x_star


def nl_to_a(nl):
    """Normalised curve constant ``a`` for the nonlinearity label(s) ``nl``.

    Solves ``max_distance_above_diagonal(a) = 0.0989949 * |nl|`` by bisection
    on ``log a`` (the distance falls monotonically as ``a`` grows), for a
    scalar or elementwise for an array. ``|nl|`` below 1e-8 is a linear
    device: ``a = inf``. The result is the magnitude ``a(|nl|)``; the sign of
    ``nl`` sets which way the curve bends (:func:`potentiation_constant`,
    :func:`depression_constant`).
    """
    if np.ndim(nl) == 0:
        return _nl_to_a_scalar(abs(float(nl)))
    return _solve_a(np.abs(np.asarray(nl, dtype=float)))


@lru_cache(maxsize=256)
def _nl_to_a_scalar(nl: float) -> float:
    return float(_solve_a(np.asarray(nl)))


def _solve_a(nl: np.ndarray):
    """Bisection on ``log a`` for an array of |NL| labels (see :func:`nl_to_a`)."""
    if np.any(~(nl < NL_LIMIT)):
        raise NeurosimError(f"|NL| must be below {NL_LIMIT}, got {nl.max()}")
    target = DISTANCE_PER_NL * nl
    lo = np.full(nl.shape, np.log(1e-4))
    hi = np.full(nl.shape, np.log(1e10))
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        too_curved = max_distance_above_diagonal(np.exp(mid)) > target
        lo = np.where(too_curved, mid, lo)
        hi = np.where(too_curved, hi, mid)
    return np.where(nl < 1e-8, np.inf, np.exp(0.5 * (lo + hi)))


def potentiation_constant(nl, p_max):
    """Signed potentiation curve constant (pulses) of the label(s) ``nl``: ``sign(nl) a(|nl|) p_max``.

    Positive (every shipped card): potentiation saturates towards ``G_max``;
    negative: it accelerates. ``nl = 0``: ``+inf`` (linear).
    """
    return np.where(np.asarray(nl) < 0, -1.0, 1.0) * nl_to_a(nl) * p_max


def depression_constant(nl, q_max):
    """Signed depression curve constant (pulses, counted from ``G_max``) of the label(s) ``nl``: ``-sign(nl) a(|nl|) q_max``.

    A negative label gives a positive constant (depression saturates towards
    ``G_min``: the mirror image of potentiation); a positive label a negative
    one (depression walks back down a saturating curve, small steps first).
    ``nl = 0``: ``+inf`` (linear).
    """
    return np.where(np.asarray(nl) > 0, -1.0, 1.0) * nl_to_a(nl) * q_max


def amplitude(g_min_S, g_max_S, a_pulses, p_max):
    """``B`` of the curve in siemens: the asymptote's distance from the start of the curve."""
    window = np.asarray(g_max_S) - np.asarray(g_min_S)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = window / -np.expm1(-np.asarray(p_max) / np.asarray(a_pulses, dtype=float))
    return np.where(np.isinf(a_pulses), np.inf, b)


def potentiation_conductance(p, g_min_S, g_max_S, a_pulses, p_max):
    """Conductance (S) after ``p`` potentiation pulses from ``G_min`` (``p`` may be fractional)."""
    p = np.asarray(p, dtype=float)
    window = np.asarray(g_max_S) - np.asarray(g_min_S)
    linear = g_min_S + window * p / p_max
    if np.all(np.isinf(a_pulses)):
        return linear
    b = amplitude(g_min_S, g_max_S, a_pulses, p_max)
    with np.errstate(invalid="ignore"):
        curved = g_min_S - b * np.expm1(-p / a_pulses)
    return np.where(np.isinf(a_pulses), linear, curved)


def potentiation_pulses(g_S, g_min_S, g_max_S, a_pulses, p_max):
    """Inverse of :func:`potentiation_conductance`: the (fractional) pulse count of ``g_S``."""
    g_S = np.asarray(g_S, dtype=float)
    window = np.asarray(g_max_S) - np.asarray(g_min_S)
    linear = (g_S - g_min_S) / window * p_max
    if np.all(np.isinf(a_pulses)):
        return linear
    b = amplitude(g_min_S, g_max_S, a_pulses, p_max)
    with np.errstate(invalid="ignore", divide="ignore"):
        curved = -a_pulses * np.log1p(-(g_S - g_min_S) / b)
    return np.where(np.isinf(a_pulses), linear, curved)


def depression_conductance(q, g_min_S, g_max_S, a_pulses, q_max):
    """Conductance (S) after ``q`` depression pulses from ``G_max``; ``a_pulses`` is the signed :func:`depression_constant`."""
    top = np.asarray(g_max_S, dtype=float)
    return top + g_min_S - potentiation_conductance(q, g_min_S, g_max_S, a_pulses, q_max)


def depression_pulses(g_S, g_min_S, g_max_S, a_pulses, q_max):
    """Inverse of :func:`depression_conductance`: depression pulses from ``G_max`` to ``g_S``."""
    mirrored = np.asarray(g_max_S, dtype=float) + g_min_S - np.asarray(g_S, dtype=float)
    return potentiation_pulses(mirrored, g_min_S, g_max_S, a_pulses, q_max)
