"""Fit a device card to measured pulse trains (:class:`~neurosim.device.tracefile.Traces`).

What is fitted, per device (trace) and then over devices:

- ``levels_ltp``, ``levels_ltd``: the pulses of one potentiation / depression
  phase, read off the protocol (NeuroSim's convention: a card's levels are
  the pulses of the measured train). The median length of the phases that
  have a phase of the other direction on both sides; a file with no such
  phase takes its longest one. Exact, no uncertainty.
- ``g_min_S``, ``g_max_S``: each trace's lowest and highest reading (the
  window a write clips to). The card takes their geometric mean over
  devices (a device's window is log-normal about the card's,
  :class:`~neurosim.device.DeviceArray`); uncertainty: their spread over
  devices / sqrt(devices), or for one device the spread of the phases'
  extremes / sqrt(phases).
- ``nl_ltp``, ``nl_ltd`` (signed): the curve's one-step prediction is the
  device core's own write (:func:`~neurosim.device.kernels.pulse_write_numpy`
  with the parameters :class:`~neurosim.device.DeviceArray` makes for a curve
  constant), so reading ``k`` is predicted from reading ``k - 1``. The fitted
  parameter is the curvature ``u = levels / A`` (0 = linear; the label
  follows in closed form, :func:`label_of_curvature`), bounded to
  ``|NL| < 10``; it minimises the squared one-step residuals
  (``scipy.optimize.least_squares``; uncertainty from the fit's Jacobian,
  ``sigma^2 (J^T J)^-1``, carried to NL by the derivative). One-step
  residuals are the right ones because cycle-to-cycle noise moves the state
  (it accumulates over a train; it is not independent read noise). Readings
  at a hard clip (a trace's extreme value that repeats: the write's noise is
  cut off there, at either edge, after a pulse of either direction) bias
  least squares, so where there are any the fit goes on to the censored
  Gaussian likelihood (Tobit: a clipped reading counts as "the write landed
  at or beyond the edge"), uncertainty from the inverse Hessian of its
  negative log-likelihood. The card's label is the mean over devices
  (uncertainty: their spread / sqrt(devices), or the single fit's for one
  device).
- ``c2c_sigma_frac``: the fitted one-step noise as a fraction of the
  device's window (the rms residual; the censored likelihood's sigma where
  a trace clips), pooled over devices and directions; uncertainty
  ``c2c / sqrt(2 n)``.
- ``d2d_nl_sigma_frac``, ``d2d_g_sigma_frac``: the spread over devices of the
  labels (relative, less the part the labels' own fit errors explain, and
  only where that spread is resolved: :func:`_d2d_nl`) and of the logs of
  the window ends; 0 for one device.
- the measured curve (:class:`~neurosim.device.measured.MeasuredCurve`): the
  one-pulse steps of every device, each scaled to its own window, binned by
  the conductance they started from (:func:`curve_points` bins: fewer for
  noisier data); per bin the mean step and its standard deviation,
  interpolated onto a uniform grid. Steps that end on a hard clip are
  included as measured (the clip is part of the device), so near the edges
  the table's mean step is slightly smaller than the unclipped one and the
  write's own clip then counts the edge once more.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, minimize
from scipy.special import log_ndtr

from neurosim.device import curve
from neurosim.device.array import DeviceArray
from neurosim.device.cycling import noiseless
from neurosim.device.kernels import pulse_write_numpy
from neurosim.device.measured import MeasuredCurve
from neurosim.device.model import DeviceModel
from neurosim.device.tracefile import Traces
from neurosim.errors import NeurosimError

#: Most and fewest points of the measured curve's grid (bins of the steps' starting conductance).
CURVE_POINTS = 33
MIN_CURVE_POINTS = 5
#: The measured curve gets as many bins as keep each bin's mean step within this fraction of a mean step (one sigma).
CURVE_PRECISION = 0.1
#: Fewest steps a bin needs for its mean and spread to enter the measured curve.
MIN_BIN_STEPS = 3
_NL_BOUND = 0.999 * curve.NL_LIMIT


@dataclass(frozen=True)
class Estimate:
    """A fitted number and its one-sigma uncertainty (None where the data cannot give one)."""

    value: float
    sigma: float | None


@dataclass(frozen=True)
class DeviceFit:
    """The fit of one trace (one device)."""

    name: str
    g_min_S: float
    g_max_S: float
    nl_ltp: Estimate
    nl_ltd: Estimate
    #: Rms one-step residual (S) and the number of residuals.
    residual_rms_S: float
    residuals: int


@dataclass(frozen=True)
class FitResult:
    """The card's parameters fitted to a file of traces, with uncertainties, and the per-device fits."""

    source: str
    levels_ltp: int
    levels_ltd: int
    g_min_S: Estimate
    g_max_S: Estimate
    nl_ltp: Estimate
    nl_ltd: Estimate
    c2c_sigma_frac: Estimate
    d2d_nl_sigma_frac: float
    d2d_g_sigma_frac: float
    #: Rms one-step residual over every device, as a fraction of each device's window.
    residual_rms_frac: float
    devices: tuple[DeviceFit, ...]
    measured: MeasuredCurve
    #: Whether the pulse directions were read off the traces (no phase column).
    inferred_directions: bool

    def device_model(self, name: str, measured: bool = False, **fields) -> DeviceModel:
        """The fitted card as a :class:`DeviceModel` (with the measured curve when ``measured``)."""
        c2c = self.measured.spread_rms_frac if measured else self.c2c_sigma_frac.value
        return DeviceModel(
            name=name,
            g_min_S=self.g_min_S.value,
            g_max_S=self.g_max_S.value,
            levels_ltp=self.levels_ltp,
            levels_ltd=self.levels_ltd,
            nl_ltp=self.nl_ltp.value,
            nl_ltd=self.nl_ltd.value,
            c2c_sigma_frac=c2c,
            d2d_nl_sigma_frac=self.d2d_nl_sigma_frac,
            d2d_g_sigma_frac=self.d2d_g_sigma_frac,
            measured=self.measured if measured else None,
            snap_to_levels=True,
            **fields,
        )


def _runs(direction: np.ndarray):
    """``(start, stop, sign)`` of each run of equal non-zero directions (rows ``start .. stop - 1``)."""
    edges = np.flatnonzero(np.diff(direction) != 0) + 1
    bounds = np.concatenate([[0], edges, [direction.size]])
    return [(int(a), int(b), int(direction[a])) for a, b in zip(bounds[:-1], bounds[1:]) if direction[a] != 0]


def phase_levels(direction: np.ndarray) -> tuple[int, int]:
    """Pulses per potentiation and per depression phase (see the module notes)."""
    runs = _runs(direction)
    levels = []
    for sign in (1, -1):
        mine = [(i, b - a) for i, (a, b, s) in enumerate(runs) if s == sign]
        interior = [n for i, n in mine if 0 < i < len(runs) - 1 and runs[i - 1][2] == runs[i + 1][2] == -sign]
        levels.append(int(np.median(interior)) if interior else max(n for _, n in mine))
    return levels[0], levels[1]


def _curvature_bound() -> float:
    """Largest ``|u|`` of a label inside the allowed range (``|NL| < 10``): ``u = 1 / a(0.999 * 10)``."""
    return 1.0 / curve.nl_to_a(_NL_BOUND)


def label_of_curvature(u, sign):
    """The signed NL label of a direction whose curve constant is ``A = levels / u`` (``sign`` +1 up, -1 down).

    ``u = sign(A) / a`` (0 = linear): the label's size comes from ``a`` in
    closed form (:func:`~neurosim.device.curve.max_distance_above_diagonal`,
    no root finding), its sign is ``sign(u)`` for potentiation and
    ``-sign(u)`` for depression (:func:`~neurosim.device.curve.depression_constant`).
    """
    if u == 0:
        return 0.0
    size = float(curve.max_distance_above_diagonal(1.0 / abs(u))) / curve.DISTANCE_PER_NL
    return float(np.sign(u) * sign * size)


def _one_step(x, sign, model, g_lo, g_hi, u):
    """The device core's noiseless one-pulse write from ``x`` (S) with curvature ``u`` (``sign`` +1 up, -1 down),
    before the clip to the window (the write's window is opened; the curve keeps the device's own).

    ``model`` gives the levels; the curve constant ``A = levels / u`` goes in
    through :meth:`DeviceArray.from_state_arrays`, so the parameters are the
    core's own (:attr:`DeviceArray.write_params`).
    """
    levels = model.levels_ltp if sign > 0 else model.levels_ltd
    a = np.array([levels / u if u != 0 else np.inf])
    one = np.ones(1)
    state = {"g_S": g_lo * one, "g_lo_S": g_lo * one, "g_hi_S": g_hi * one, "a_ltp": a, "a_ltd": a,
             "stuck_off": one < 0, "stuck_on": one < 0, "nu": 0 * one}  # fmt: skip
    _, _, *curve_params, _, table = DeviceArray.from_state_arrays(model, state).write_params
    edges = np.full(x.shape, np.inf)
    return pulse_write_numpy(x, np.full(x.shape, sign), -edges, edges, *curve_params, 0.0, table, np.zeros(x.shape))


def _transitions(g, direction, sign):
    """Readings before and after each pulse of direction ``sign``, and where each after-reading is clipped.

    Clipped (``+1`` at the top, ``-1`` at the bottom, else 0): at one of the
    trace's extremes when that value repeats (a hard clip of the write, where
    its noise is cut off; a noisy pulse of either direction can land there).
    """
    rows = np.flatnonzero(direction == sign)
    rows = rows[rows > 0]
    x, y = g[rows - 1], g[rows]
    clipped = np.zeros(y.shape, dtype=np.int64)
    for edge, side in ((g.max(), 1), (g.min(), -1)):
        if np.count_nonzero(g == edge) > 1:
            clipped[y == edge] = side
    return x, y, clipped


def _negative_log_likelihood(theta, x, y, clipped, sign, model, g_lo, g_hi):
    """Censored Gaussian one-step likelihood (Tobit) of ``theta = (u, log sigma)``, sigma a fraction of the window."""
    u, log_s = theta
    s = np.exp(log_s)
    width = g_hi - g_lo
    f = (_one_step(x, sign, model, g_lo, g_hi, float(u)) - g_lo) / width
    z = (y - g_lo) / width
    free = clipped == 0
    r = (z[free] - f[free]) / s
    top, bottom = clipped > 0, clipped < 0
    # a clipped reading: P(the unclipped write lands at or beyond its edge)
    tail = np.sum(log_ndtr((f[top] - 1.0) / s)) + np.sum(log_ndtr((0.0 - f[bottom]) / s))
    return 0.5 * np.sum(r * r) + r.size * log_s - tail


def _hessian(fun, theta, steps):
    """Central-difference Hessian of ``fun`` at ``theta``."""
    n = len(theta)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * steps[i], np.eye(n)[j] * steps[j]
            h[i, j] = h[j, i] = (fun(theta + ei + ej) - fun(theta + ei - ej) - fun(theta - ei + ej) + fun(theta - ei - ej)) / (
                4 * steps[i] * steps[j]
            )
    return h


def _fit_label(x, y, clipped, sign, g_lo, g_hi, levels):
    """Signed NL label and noise of one direction of one device: (NL Estimate, sigma, residuals), both as fractions of the window.

    The fitted parameter is the curvature ``u = levels / A`` (smooth through
    0, the linear device; :func:`label_of_curvature` turns it into the label,
    and its uncertainty by the derivative). Least squares of the one-step
    writes (uncertainty from the Jacobian); where some readings are clipped,
    then the censored likelihood from there (uncertainty from the inverse
    Hessian of the negative log-likelihood).
    """
    if np.count_nonzero(clipped == 0) < 2:
        raise NeurosimError(f"too few {'potentiation' if sign > 0 else 'depression'} steps away from the window's edge to fit NL")
    width = g_hi - g_lo
    free = clipped == 0
    model = DeviceModel(name="fit", g_min_S=g_lo, g_max_S=g_hi, levels_ltp=levels, levels_ltd=levels)
    bound = _curvature_bound()

    def residual(p):  # in fractions of the window: the solver's tolerances are not scaled to siemens
        return (y[free] - _one_step(x[free], sign, model, g_lo, g_hi, float(p[0]))) / width

    def jacobian(p, h=1e-6):  # central differences with an absolute step: u = 0 (linear) is an ordinary point
        return ((residual(p + h) - residual(p - h)) / (2 * h))[:, None]

    best = least_squares(residual, [0.5], jac=jacobian, bounds=([-bound], [bound]))  # from a mildly curved device
    u, r = float(best.x[0]), best.fun
    noise = float(np.sqrt(np.mean(r**2)))
    jtj = float(best.jac[:, 0] @ best.jac[:, 0])
    sigma_u = float(np.sqrt(2 * best.cost / max(r.size - 1, 1) / jtj)) if jtj > 0 else None
    if np.any(clipped) and noise > 0:
        fun = lambda t: _negative_log_likelihood(t, x, y, clipped, sign, model, g_lo, g_hi)  # noqa: E731
        result = minimize(fun, [u, np.log(noise)], method="L-BFGS-B", bounds=[(-bound, bound), (np.log(1e-9), 0.0)])
        u, noise = float(result.x[0]), float(np.exp(result.x[1]))
        r = residual([u])
        cov = np.linalg.pinv(_hessian(fun, result.x, [1e-3 * bound, 1e-3]))
        sigma_u = float(np.sqrt(cov[0, 0])) if cov[0, 0] > 0 else None
    nl = label_of_curvature(u, sign)
    sigma = None
    if sigma_u is not None and abs(u) < 0.99 * bound:  # at the bound: no curvature of the fit to read it from
        h = 1e-4 * bound
        slope = (label_of_curvature(u + h, sign) - label_of_curvature(u - h, sign)) / (2 * h)
        sigma = abs(slope) * sigma_u
    return Estimate(nl, sigma), noise, r


def fit_traces(traces: Traces) -> FitResult:
    """Fit a card's parameters, with uncertainties, to measured pulse trains (see the module notes)."""
    levels_ltp, levels_ltd = phase_levels(traces.direction)
    fits, residuals, steps, noises = [], [], [], []
    for c, name in enumerate(traces.names):
        g = traces.g_S[:, c]
        g_lo, g_hi = float(g.min()), float(g.max())
        labels, rs = [], []
        for sign, levels in ((1, levels_ltp), (-1, levels_ltd)):
            x, y, clipped = _transitions(g, traces.direction, sign)
            estimate, noise, r = _fit_label(x, y, clipped, sign, g_lo, g_hi, levels)
            labels.append(estimate)
            rs.append(r)
            noises.append((noise, x.size))
            rows = np.flatnonzero(traces.direction == sign)
            rows = rows[rows > 0]
            steps.append((sign, (g[rows - 1] - g_lo) / (g_hi - g_lo), (g[rows] - g[rows - 1]) / (g_hi - g_lo)))
        r = np.concatenate(rs)
        residuals.append(r)
        fits.append(DeviceFit(name, g_lo, g_hi, labels[0], labels[1], float(np.sqrt(np.mean(r**2)) * (g_hi - g_lo)), r.size))
    r_all = np.concatenate(residuals)
    counts = np.array([n for _, n in noises])
    c2c = float(np.sqrt(np.sum(counts * np.array([s for s, _ in noises]) ** 2) / counts.sum()))
    g_min, g_max = _window(fits, traces)
    nl_ltp, nl_ltd = (_mean_label([getattr(f, k) for f in fits]) for k in ("nl_ltp", "nl_ltd"))
    return FitResult(
        source=traces.source,
        levels_ltp=levels_ltp,
        levels_ltd=levels_ltd,
        g_min_S=g_min,
        g_max_S=g_max,
        nl_ltp=nl_ltp,
        nl_ltd=nl_ltd,
        c2c_sigma_frac=Estimate(c2c, c2c / np.sqrt(2 * counts.sum())),
        d2d_nl_sigma_frac=_d2d_nl(fits),
        d2d_g_sigma_frac=_d2d_g(fits),
        residual_rms_frac=float(np.sqrt(np.mean(r_all**2))),
        devices=tuple(fits),
        measured=measured_curve(steps, curve_points(steps, (levels_ltp, levels_ltd), c2c)),
        inferred_directions=traces.inferred,
    )


def _window(fits, traces):
    """Card window: geometric means of the devices' ends, with uncertainties (module notes)."""
    out = []
    for key, sign in (("g_min_S", -1), ("g_max_S", 1)):
        ends = np.array([getattr(f, key) for f in fits])
        value = float(np.exp(np.mean(np.log(ends)))) if np.all(ends > 0) else float(ends.mean())
        if ends.size > 1:
            sigma = float(np.std(ends, ddof=1) / np.sqrt(ends.size))
        else:
            extremes = [(traces.g_S[a:b, 0].max() if sign > 0 else traces.g_S[a:b, 0].min())
                        for a, b, s in _runs(traces.direction) if s == sign]  # fmt: skip
            sigma = float(np.std(extremes, ddof=1) / np.sqrt(len(extremes))) if len(extremes) > 1 else None
        out.append(Estimate(value, sigma))
    return out


def _mean_label(estimates):
    values = np.array([e.value for e in estimates])
    if values.size > 1:
        return Estimate(float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size)))
    return estimates[0]


def _d2d_nl(fits) -> float:
    """Relative spread of the labels over devices, less what their fit errors explain; pooled over the directions.

    A direction counts only where the spread is resolved: the labels' variance
    exceeds their mean squared fit error by more than twice its sampling
    error (``2 sqrt(2 / (n - 1))`` relatively) and their mean is more than
    twice its own error from 0 (a relative spread of a label near 0 means
    nothing). 0 when no direction is resolved.
    """
    n = len(fits)
    if n < 2:
        return 0.0
    parts = []
    for key in ("nl_ltp", "nl_ltd"):
        values = np.array([getattr(f, key).value for f in fits])
        errors = np.array([getattr(f, key).sigma or 0.0 for f in fits])
        mean, var, noise = values.mean(), values.var(ddof=1), np.mean(errors**2)
        if var > noise * (1 + 2 * np.sqrt(2 / (n - 1))) and abs(mean) > 2 * np.sqrt(var / n):
            parts.append((var - noise) / mean**2)
    return float(np.sqrt(np.mean(parts))) if parts else 0.0


def _d2d_g(fits) -> float:
    """Spread over devices of the logs of the window ends (G_min = 0 ends left out), pooled; at most 0.5."""
    if len(fits) < 2:
        return 0.0
    parts = []
    for key in ("g_min_S", "g_max_S"):
        ends = np.array([getattr(f, key) for f in fits])
        if np.all(ends > 0):
            parts.append(np.var(np.log(ends), ddof=1))
    return float(min(np.sqrt(np.mean(parts)), 0.5)) if parts else 0.0


def curve_points(steps, levels, c2c_frac) -> int:
    """Grid points of the measured curve: as many as keep a bin's mean step precise (:data:`CURVE_PRECISION`).

    A bin of ``n / K`` steps has a mean with error ``c2c / sqrt(n / K)``; the
    mean step is about ``1 / levels`` of the window. So ``K = n (precision /
    (levels c2c))^2`` for the direction that needs fewer, within
    :data:`MIN_CURVE_POINTS` .. :data:`CURVE_POINTS`.
    """
    if c2c_frac == 0:
        return CURVE_POINTS
    counts = [sum(s[1].size for s in steps if s[0] == sign) for sign in (1, -1)]
    k = min(n * (CURVE_PRECISION / (lv * c2c_frac)) ** 2 for n, lv in zip(counts, levels))
    return int(np.clip(k, MIN_CURVE_POINTS, CURVE_POINTS))


def measured_curve(steps, points: int = CURVE_POINTS) -> MeasuredCurve:
    """The measured curve from one-pulse steps: ``steps`` is a list of ``(sign, x, dx)``, ``x`` the starting
    conductance and ``dx`` the step, both fractions of the device's window (module notes)."""
    grid = np.linspace(0.0, 1.0, points)
    columns = []
    for sign in (1, -1):
        x = np.concatenate([s[1] for s in steps if s[0] == sign])
        dx = np.concatenate([s[2] for s in steps if s[0] == sign])
        bins = np.clip(np.rint(x * (points - 1)).astype(np.int64), 0, points - 1)
        centre, mean, spread = [], [], []
        for b in range(points):
            inside = bins == b
            if np.count_nonzero(inside) >= MIN_BIN_STEPS:
                centre.append(x[inside].mean())
                mean.append(dx[inside].mean())
                spread.append(dx[inside].std(ddof=1))
        if len(centre) < 2:
            raise NeurosimError(f"too few {'potentiation' if sign > 0 else 'depression'} steps to tabulate the measured curve "
                                f"(fewer than two conductance bins with {MIN_BIN_STEPS} steps)")  # fmt: skip
        columns += [np.interp(grid, centre, mean), np.interp(grid, centre, spread)]
    up, up_sd, down, down_sd = (tuple(float(v) for v in c) for c in columns)
    return MeasuredCurve(tuple(float(v) for v in grid), up, up_sd, down, down_sd)


def fitted_card_comments(result: FitResult, measured: bool) -> list[str]:
    """Comment lines for a fitted card: where it came from and the uncertainties of its numbers."""

    def pm(e, fmt="{:.4g}"):
        return fmt.format(e.value) + ("" if e.sigma is None else " +- " + fmt.format(e.sigma))

    lines = [
        f"Device card fitted by 'neurosim devices fit' to {result.source}",
        f"({len(result.devices)} device trace(s); pulse directions {'read off the turning points' if result.inferred_directions else 'from the phase column'}).",
        "Fitted values, one-sigma uncertainties (window: spread over devices or phases; NL: fit Jacobian or Hessian):",
        f"  g_min_S {pm(result.g_min_S)}, g_max_S {pm(result.g_max_S)}",
        f"  levels_ltp {result.levels_ltp}, levels_ltd {result.levels_ltd} (pulses per phase of the protocol)",
        f"  nl_ltp {pm(result.nl_ltp)}, nl_ltd {pm(result.nl_ltd)}",
        f"  c2c_sigma_frac {pm(result.c2c_sigma_frac)} (the fit's one-step noise, fraction of the window)",
        f"  d2d_nl_sigma_frac {result.d2d_nl_sigma_frac:.4g}, d2d_g_sigma_frac {result.d2d_g_sigma_frac:.4g}",
    ]
    if measured:
        lines.append("Measured-curve kind: writes follow [measured]; c2c_sigma_frac is the rms of its spread columns.")
    return lines


def fitted_device(result: FitResult, name: str, measured: bool = False) -> DeviceModel:
    """The card to write: :meth:`FitResult.device_model` with a description and a citation of the data file."""
    kind = "measured-curve" if measured else "analytic-curve"
    return result.device_model(
        name,
        measured,
        description=f"{kind} device fitted to pulse trains in {result.source}",
        citation=f"measured pulse trains: {result.source} (fitted with neurosim devices fit)",
    )


def result_summary(result: FitResult) -> dict:
    """The fit as plain values (JSON)."""
    from neurosim.serial import to_plain

    out = to_plain(result)
    out.pop("measured")
    return out



def model_trace(device: DeviceModel, direction: np.ndarray, g0_S: float) -> np.ndarray:
    """Noiseless conductance (S) of ``device`` given the pulses ``direction`` (+1, -1, 0 per row) from ``g0_S``.

    The write is the device core's (:meth:`DeviceArray.apply_pulses`), so a
    measured-curve card follows its table here too.
    """
    from neurosim.device.array import ProgramMethod

    cell = DeviceArray(noiseless(device), (1,), rng=0)
    cell.program(np.array([g0_S]), ProgramMethod.EXACT)
    out = np.empty(direction.size)
    out[0] = cell.conductance_S[0]
    for k in range(1, direction.size):
        cell.apply_pulses(np.array([int(direction[k])]))
        out[k] = cell.conductance_S[0]
    return out
