"""Many devices of one model: their state, variation, faults, writes and reads.

:class:`DeviceArray` is a thin shell around a conductance array. Device-to-device
variation (each device's window and curve shape) and stuck-at faults are drawn
once, when the array is made; every write and read after that draws fresh
cycle-to-cycle or read noise from the ``rng`` it is given.
"""

from dataclasses import dataclass
from enum import Enum

import numpy as np

from neurosim.device import curve, noise
from neurosim.device.kernels import (
    ANALYTIC_TABLE,
    pulse_update_numba,
    pulse_update_numpy,
    write_tally_numba,
    write_tally_numpy,
)
from neurosim.device.model import DeviceModel
from neurosim.errors import NeurosimError
from neurosim.events import EventCounts
from neurosim.rng import as_generator

_KERNELS = {"numba": pulse_update_numba, "numpy": pulse_update_numpy}
#: Each write kernel's tally of what it wrote (pulses by direction, writes, conductance sums).
_TALLIES = {"numba": write_tally_numba, "numpy": write_tally_numpy}
#: The write kernels' key when there is no cycle-to-cycle noise (no draws are made).
_NO_KEY = np.uint64(0)
#: Entries of a device array's write counters: potentiation pulses, depression pulses, writes, programming passes.
_LTP, _LTD, _WRITES, _PASSES = range(4)


class ProgramMethod(Enum):
    """How a target conductance is written."""

    #: Set the target (snapped to the device's levels if it has them) plus the model's programming noise.
    DIRECT = "direct"
    #: Reset to G_min, then the number of potentiation pulses the curve says, with cycle-to-cycle noise.
    OPEN_LOOP = "open_loop"
    #: Read, pulse towards the target along the curve, repeat until within tolerance or out of budget.
    WRITE_VERIFY = "write_verify"
    #: Set the target exactly, clipped to each device's window: no level snapping, no programming noise
    #: (NeuroSim V3's "ideal" initial write, ``Array.cpp`` ``WriteCell`` with ``regular = false``).
    EXACT = "exact"


@dataclass(frozen=True)
class ProgramResult:
    """What programming did, per device (arrays of the array's shape)."""

    #: Total pulses applied to each device (potentiation plus depression).
    pulses: np.ndarray
    #: Whether the device ended within tolerance of its target (by the final verify read for write-verify).
    converged: np.ndarray
    #: Final true conductance minus target (S): known to the simulator, not to a chip.
    error_S: np.ndarray
    #: Read-pulse iterations used (write-verify), 0 for the other methods.
    iterations: int

    @property
    def fraction_converged(self) -> float:
        """Fraction of devices that ended within tolerance."""
        return float(np.mean(self.converged)) if self.converged.size else 1.0


def _shape(shape) -> tuple:
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    if any(s < 0 for s in shape):
        raise NeurosimError(f"array shape must have non-negative sizes, got {shape}")
    return shape


class DeviceArray:
    """The state of ``shape`` devices of one :class:`DeviceModel`.

    All devices start at their own ``G_min`` (stuck devices at their rail).
    ``conductance_S`` is the true state; :meth:`read` adds read noise.
    :attr:`events` counts the pulses, writes and programming passes applied
    through :meth:`apply_pulses` and :meth:`program` (definitions in
    :mod:`neurosim.events`).
    """

    def __init__(self, device: DeviceModel, shape, rng=None):
        if not isinstance(device, DeviceModel):
            raise NeurosimError(f"device must be a DeviceModel, got {type(device).__name__}")
        rng = as_generator(rng)
        self.device = device
        shape = _shape(shape)
        window_scale = device.d2d_g_sigma_frac
        g_hi = device.g_max_S * np.exp(window_scale * rng.standard_normal(shape))
        g_lo = device.g_min_S * np.exp(window_scale * rng.standard_normal(shape))
        self.g_lo_S = np.minimum(g_lo, 0.99 * g_hi)
        self.g_hi_S = g_hi
        nl_scale = device.d2d_nl_sigma_frac

        def curve_constant(constant, nl, levels):
            """Each device's signed curve constant; its label varies with the sign it has (the physics)."""
            if nl_scale == 0:
                return np.full(shape, constant(nl, levels))
            nl_dev = nl * (1 + nl_scale * rng.standard_normal(shape))
            nl_dev = np.clip(nl_dev, -0.999 * curve.NL_LIMIT, 0.999 * curve.NL_LIMIT)
            return constant(nl_dev, levels)

        #: Signed curve constants (pulses) of each device, counted from where each direction starts
        #: (:func:`~neurosim.device.curve.potentiation_constant`, :func:`~neurosim.device.curve.depression_constant`).
        self.a_ltp = curve_constant(curve.potentiation_constant, device.nl_ltp, device.levels_ltp)
        self.a_ltd = curve_constant(curve.depression_constant, device.nl_ltd, device.levels_ltd)
        u = rng.random(shape)
        self.stuck_off = u < device.stuck_off_frac
        self.stuck_on = (u >= device.stuck_off_frac) & (u < device.stuck_off_frac + device.stuck_on_frac)
        self.nu = np.zeros(shape)
        self._g = self.g_lo_S.copy()
        self._pin_stuck()
        self._kernel_params = self._make_kernel_params()
        self._counts = np.zeros(4, dtype=np.int64)
        self._write_g = np.zeros(2)

    # -- state -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._g.shape

    @property
    def conductance_S(self) -> np.ndarray:
        """True conductances (S), read-only view."""
        view = self._g.view()
        view.flags.writeable = False
        return view

    @property
    def state_buffer_S(self) -> np.ndarray:
        """The true conductances (S) as a flat, writable view of the array's own state (row-major order).

        For fused kernels that write devices in place (on-chip training). The
        buffer lives as long as the array: :meth:`program` and every write
        update it in place, never rebind it. Write it only through the
        device write (:func:`neurosim.device.kernels.pulse_write` with
        :attr:`write_params`), or the curve, window and fault model no longer hold.
        """
        return self._g.reshape(-1)

    @property
    def write_params(self) -> tuple:
        """Per-device arguments of the write kernels, flat (row-major), as :func:`~neurosim.device.kernels.pulse_update_numpy` takes them.

        ``(g_lo, g_hi, decay_p, move_p, decay_d, move_d, c2c_frac, table)``: each
        device's window (S; a stuck device's window is its rail), the curve's
        decay per pulse and where a pulse moves the device (the asymptote, S,
        of a curved device, the signed step, S, of a linear one) for
        potentiation and depression, the model's cycle-to-cycle noise
        per pulse as a fraction of the window, and the step table shared by
        all devices (shape ``(4, K)``, a measured-curve device's
        :meth:`~neurosim.device.measured.MeasuredCurve.kernel_table`; shape
        ``(4, 0)`` for the analytic curve). Read-only arrays.
        """
        return self._kernel_params

    @property
    def events(self) -> EventCounts:
        """Pulses by direction, device writes and programming passes since the array was made or :meth:`reset_events`.

        Writes made by fused kernels through :attr:`state_buffer_S` are counted by those kernels, not here.
        """
        c = self._counts
        return EventCounts.from_counts(pulses_ltp=c[_LTP], pulses_ltd=c[_LTD], writes=c[_WRITES],
                                       program_iterations=c[_PASSES])  # fmt: skip

    @property
    def write_conductance_S(self) -> tuple[float, float]:
        """``(LTP, LTD)``: the sum over the pulses applied (as :attr:`events` counts them) of the device's mean
        conductance during its train, ``(G_before + G_after) / 2`` (S x pulses; write energy is
        ``V^2 t`` times this, :mod:`neurosim.energy`). Stuck devices count at their rail."""
        return float(self._write_g[0]), float(self._write_g[1])

    def reset_events(self) -> None:
        """Set the write counters of :attr:`events` (and :attr:`write_conductance_S`) to zero."""
        self._counts[:] = 0
        self._write_g[:] = 0.0

    @property
    def stuck(self) -> np.ndarray:
        """Devices stuck at either rail (bool)."""
        return self.stuck_off | self.stuck_on

    def _pin_stuck(self):
        self._g[self.stuck_off] = self.g_lo_S[self.stuck_off]
        self._g[self.stuck_on] = self.g_hi_S[self.stuck_on]

    def _make_kernel_params(self):
        """Flattened per-device arguments of the write kernels (see :func:`pulse_update_numpy`).

        A stuck device's window is its rail (``g_lo = g_hi``): writes leave it
        there, and its noise, a fraction of the window, is zero.
        """
        d = self.device
        rail = np.where(self.stuck_on, self.g_hi_S, self.g_lo_S)
        g_lo = np.where(self.stuck, rail, self.g_lo_S)
        g_hi = np.where(self.stuck, rail, self.g_hi_S)

        def direction(a, p_max, start, sign):
            # a < 0 (the direction accelerates): decay > 1, asymptote beyond the window's far end
            decay = np.exp(-1.0 / a)  # exactly 1 for a linear device (a = inf)
            asymptote = start + sign * curve.amplitude(self.g_lo_S, self.g_hi_S, a, p_max)
            step = sign * (self.g_hi_S - self.g_lo_S) / p_max
            return decay.ravel(), np.where(decay == 1.0, step, asymptote).ravel()

        arrays = (g_lo.ravel(), g_hi.ravel(), *direction(self.a_ltp, d.levels_ltp, self.g_lo_S, +1),
                  *direction(self.a_ltd, d.levels_ltd, self.g_hi_S, -1))  # fmt: skip
        table = ANALYTIC_TABLE.copy() if d.measured is None else d.measured.kernel_table()
        for a in (*arrays, table):
            a.flags.writeable = False
        return (*arrays, float(d.c2c_sigma_frac), table)

    # -- writes ------------------------------------------------------------
    def apply_pulses(self, pulses, rng=None, backend: str = "numba") -> None:
        """Apply signed pulse counts (``>0`` potentiation, ``<0`` depression) to every device.

        ``pulses`` is an integer array of the array's shape; stuck devices ignore it.
        Cycle-to-cycle noise is drawn for each written device, from a stream
        keyed by one draw from ``rng`` (none when the model has no such noise).
        Counts the pulses by direction and the devices written (non-zero counts) in :attr:`events`.
        """
        pulses = np.asarray(pulses)
        if pulses.shape != self.shape:
            raise NeurosimError(f"pulses must have the array's shape {self.shape}, got {pulses.shape}")
        if pulses.dtype.kind not in "iu":
            raise NeurosimError(f"pulses must be integers, got dtype {pulses.dtype}")
        if backend not in _KERNELS:
            raise NeurosimError(f"backend must be one of {sorted(_KERNELS)}, got {backend!r}")
        key = as_generator(rng).integers(2**63, dtype=np.uint64) if self.device.c2c_sigma_frac > 0 else _NO_KEY
        g_before = self._g.copy()
        _KERNELS[backend](self._g.reshape(-1), pulses.reshape(-1), *self._kernel_params, key)
        ltp, ltd, writes, g_ltp, g_ltd = _TALLIES[backend](pulses.reshape(-1), g_before.reshape(-1), self._g.reshape(-1))
        self._write_g += (g_ltp, g_ltd)
        self._counts[_LTP] += ltp
        self._counts[_LTD] += ltd
        self._counts[_WRITES] += writes

    def levels_S(self, target_S) -> np.ndarray:
        """Nearest conductance reachable by whole potentiation pulses from each device's G_min."""
        target = np.clip(target_S, self.g_lo_S, self.g_hi_S)
        p_max = self.device.levels_ltp
        args = (self.g_lo_S, self.g_hi_S, self.a_ltp, p_max)
        p = curve.potentiation_pulses(target, *args)
        below = np.clip(np.floor(p), 0, p_max)
        g_below = curve.potentiation_conductance(below, *args)
        g_above = curve.potentiation_conductance(np.minimum(below + 1, p_max), *args)
        return np.where(target - g_below <= g_above - target, g_below, g_above)

    def program(
        self,
        target_S,
        method: ProgramMethod = ProgramMethod.DIRECT,
        rng=None,
        *,
        tol_frac: float = 0.02,
        max_pulses: int | None = None,
        max_iterations: int = 30,
    ) -> ProgramResult:
        """Write target conductances (S, the array's shape) with ``method``.

        ``tol_frac`` is the tolerance as a fraction of the nominal window; for
        write-verify ``max_pulses`` (default 10 x levels_ltp) and
        ``max_iterations`` bound the work per device. Devices that cannot
        reach their target within the budget are reported, not hidden, in
        ``ProgramResult.converged``.

        Counted in :attr:`events`: the pulses and writes applied; programming
        passes: write-verify's read-and-pulse iterations, one for open loop
        (its reset to ``G_min`` is not a counted pulse), none for direct
        (which counts one write per device).
        """
        rng = as_generator(rng)
        target = np.asarray(target_S, dtype=float)
        if target.shape != self.shape:
            raise NeurosimError(f"target must have the array's shape {self.shape}, got {target.shape}")
        if not np.all(np.isfinite(target)):
            raise NeurosimError("target conductances must be finite (found NaN or inf)")
        if np.any(target < 0):
            raise NeurosimError("target conductances must be >= 0 S")
        method = ProgramMethod(method)
        tol_S = tol_frac * self.device.window_S
        pulses = np.zeros(self.shape, dtype=np.int64)
        iterations = 0
        if method is ProgramMethod.EXACT:
            self._g[...] = np.clip(target, self.g_lo_S, self.g_hi_S)
        elif method is ProgramMethod.DIRECT:
            g = self.levels_S(target) if self.device.snap_to_levels else np.clip(target, self.g_lo_S, self.g_hi_S)
            sigma = noise.prog_sigma_S(self.device, g, self.g_hi_S)
            self._g[...] = np.clip(g + sigma * rng.standard_normal(self.shape), self.g_lo_S, self.g_hi_S)
            self._counts[_WRITES] += self._g.size
        elif method is ProgramMethod.OPEN_LOOP:
            self._g[...] = self.g_lo_S
            p = curve.potentiation_pulses(
                np.clip(target, self.g_lo_S, self.g_hi_S), self.g_lo_S, self.g_hi_S, self.a_ltp, self.device.levels_ltp
            )
            pulses = np.where(self.stuck, 0, np.rint(p).astype(np.int64))
            self.apply_pulses(pulses, rng)
            self._counts[_PASSES] += 1
        else:
            pulses, iterations = self._write_verify(target, tol_S, max_pulses, max_iterations, rng)
            self._counts[_PASSES] += iterations
        self._pin_stuck()
        self.nu = noise.draw_drift_nu(self.device, self._g, self.g_hi_S, rng)
        if method is ProgramMethod.WRITE_VERIFY:
            converged = np.abs(self.read(rng) - target) <= tol_S
        else:
            converged = np.abs(self._g - target) <= tol_S
        return ProgramResult(pulses, converged, self._g - target, iterations)

    def _write_verify(self, target, tol_S, max_pulses, max_iterations, rng):
        """Read-and-pulse loop; returns (pulses used per device, iterations)."""
        d = self.device
        budget = 10 * d.levels_ltp if max_pulses is None else int(max_pulses)
        used = np.zeros(self.shape, dtype=np.int64)
        up_args = (self.g_lo_S, self.g_hi_S, self.a_ltp, d.levels_ltp)
        down_args = (self.g_lo_S, self.g_hi_S, self.a_ltd, d.levels_ltd)
        inside = lambda g: np.clip(g, self.g_lo_S, self.g_hi_S)  # noqa: E731
        iterations = 0
        for iterations in range(1, max_iterations + 1):
            g_read = self.read(rng)
            err = target - g_read
            active = (np.abs(err) > tol_S) & (used < budget) & ~self.stuck
            if not active.any():
                return used, iterations - 1
            up = curve.potentiation_pulses(inside(target), *up_args) - curve.potentiation_pulses(inside(g_read), *up_args)
            down = curve.depression_pulses(inside(target), *down_args) - curve.depression_pulses(
                inside(g_read), *down_args
            )
            n = np.where(err > 0, np.maximum(np.rint(up), 1), -np.maximum(np.rint(down), 1)).astype(np.int64)
            n = np.clip(n, -(budget - used), budget - used)
            n = np.where(active, n, 0)
            self.apply_pulses(n, rng)
            used += np.abs(n)
        return used, iterations

    # -- reads -------------------------------------------------------------
    def read(self, rng=None, t_s: float = 0.0) -> np.ndarray:
        """One read of every device (S): the state (drifted to ``t_s`` seconds) plus fresh read noise."""
        rng = as_generator(rng)
        g = self.conductance_at(t_s)
        sigma = noise.read_sigma_S(self.device, g)
        if not np.any(sigma):
            return g.copy()
        return g + sigma * rng.standard_normal(self.shape)

    def conductance_at(self, t_s: float) -> np.ndarray:
        """Noise-free conductances (S) ``t_s`` seconds after programming (drift applied)."""
        if t_s == 0 or not np.any(self.nu):
            return self._g
        return self._g * noise.drift_factor(t_s, self.nu, self.device.drift_t0_s)

    # -- persistence -------------------------------------------------------
    _STATE_KEYS = ("g_S", "g_lo_S", "g_hi_S", "a_ltp", "a_ltd", "stuck_off", "stuck_on", "nu")

    def state_arrays(self) -> dict:
        """The full state as named arrays (for ``np.savez``)."""
        values = (self._g, self.g_lo_S, self.g_hi_S, self.a_ltp, self.a_ltd, self.stuck_off, self.stuck_on, self.nu)
        return {k: np.array(v) for k, v in zip(self._STATE_KEYS, values)}

    @classmethod
    def from_state_arrays(cls, device: DeviceModel, arrays) -> "DeviceArray":
        """Rebuild an array saved with :meth:`state_arrays`."""
        missing = [k for k in cls._STATE_KEYS if k not in arrays]
        if missing:
            raise NeurosimError(f"device-array state is missing {missing}")
        shapes = {np.shape(arrays[k]) for k in cls._STATE_KEYS}
        if len(shapes) != 1:
            raise NeurosimError(f"device-array state arrays have different shapes: {sorted(shapes)}")
        self = cls.__new__(cls)
        self.device = device
        self._g = np.array(arrays["g_S"], dtype=float, order="C")
        self.g_lo_S = np.array(arrays["g_lo_S"], dtype=float, order="C")
        self.g_hi_S = np.array(arrays["g_hi_S"], dtype=float, order="C")
        self.a_ltp = np.array(arrays["a_ltp"], dtype=float, order="C")
        self.a_ltd = np.array(arrays["a_ltd"], dtype=float, order="C")
        self.stuck_off = np.array(arrays["stuck_off"], dtype=bool, order="C")
        self.stuck_on = np.array(arrays["stuck_on"], dtype=bool, order="C")
        self.nu = np.array(arrays["nu"], dtype=float, order="C")
        self._kernel_params = self._make_kernel_params()
        self._counts = np.zeros(4, dtype=np.int64)
        self._write_g = np.zeros(2)
        return self
