"""The nonlinear pulse-update curve (NeuroSim's model), as pure functions.

Potentiation from the bottom of the window, after ``P`` identical pulses::

    G(P) = G_min + B * (1 - exp(-P / A)),    B = (G_max - G_min) / (1 - exp(-P_max / A))

``P_max`` pulses cross the whole window and ``A`` (in pulses) sets the
curvature. Depression is the mirror image, counted from the top of the window::

    G(Q) = G_max - B_d * (1 - exp(-Q / A_d))

so both directions take large steps first and small steps as they saturate.
``A = a(NL) * P_max``, where the published nonlinearity label ``NL`` is defined
by the shape of the normalised curve ``g(x) = (1 - e^(-x/a)) / (1 - e^(-1/a))``:
its largest distance above the diagonal is ``0.0989949 * |NL|``. ``NL = 0`` is
a linear device (``A`` infinite).

Because the curve is an exponential approach to an asymptote, a step of ``n``
pulses from any conductance has a closed form that needs no logarithm::

    G' = G_inf - (G_inf - G) * exp(-n / A),    G_inf = G_min + B

which is what the write kernels use.
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
    device: ``a = inf``. The sign of ``nl`` is a labelling convention of the
    publications and does not change the shape.
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
    """Conductance (S) after ``q`` depression pulses from ``G_max`` (mirror of potentiation)."""
    top = np.asarray(g_max_S, dtype=float)
    return top + g_min_S - potentiation_conductance(q, g_min_S, g_max_S, a_pulses, q_max)


def depression_pulses(g_S, g_min_S, g_max_S, a_pulses, q_max):
    """Inverse of :func:`depression_conductance`: depression pulses from ``G_max`` to ``g_S``."""
    mirrored = np.asarray(g_max_S, dtype=float) + g_min_S - np.asarray(g_S, dtype=float)
    return potentiation_pulses(mirrored, g_min_S, g_max_S, a_pulses, q_max)
