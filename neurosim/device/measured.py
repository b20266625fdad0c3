"""A measured-curve device: the mean conductance step of one pulse, and its spread, read off measured data.

Instead of the analytic curve (:mod:`neurosim.device.curve`), a card may hold
a table (``[measured]`` in TOML): at conductances ``x`` (fractions of the
window, ``x = (G - G_min) / (G_max - G_min)`` from 0 to 1), the mean change of
the conductance by one potentiation pulse (``up_step_frac``, a fraction of the
window, normally positive) and by one depression pulse (``down_step_frac``,
normally negative), and the cycle-to-cycle spread of each step
(``up_sigma_frac``, ``down_sigma_frac``, standard deviations as fractions of
the window). ``neurosim devices fit`` writes such tables from pulse trains.

Writes follow the table (:func:`neurosim.device.kernels.pulse_write`, one
table step per pulse). The spread columns give the *shape* of the
cycle-to-cycle noise over the window; its level is the card's
``c2c_sigma_frac`` (the spread is rescaled to an rms of ``c2c_sigma_frac``
over the grid, so ``c2c_sigma_frac = 0`` switches the noise off and a sweep
can scale it). The fitter writes ``c2c_sigma_frac`` equal to the table's own
rms, so the table is reproduced as measured. The card's analytic fields
(``levels_*``, ``nl_*``) stay the device's nominal curve: programming plans
its pulse counts with them (open loop, write-verify's next train, level
snapping) while the device itself moves by the table.
"""

import math
from dataclasses import dataclass, fields

import numpy as np

from neurosim.validation import reject

#: Points of the uniform grid the write kernels interpolate on (the card's table is resampled onto it).
KERNEL_GRID = 65
#: Most points a card's table may have.
MAX_POINTS = 10_000


@dataclass(frozen=True)
class MeasuredCurve:
    """Mean step and spread of one pulse against conductance (all fractions of the window; see the module notes)."""

    x: tuple[float, ...]
    up_step_frac: tuple[float, ...]
    up_sigma_frac: tuple[float, ...]
    down_step_frac: tuple[float, ...]
    down_sigma_frac: tuple[float, ...]

    def __post_init__(self):
        n = None
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, tuple) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
            ):
                reject(f"measured.{f.name}", value, "a list of finite numbers")
            if n is None:
                n = len(value)
            elif len(value) != n:
                reject(f"measured.{f.name}", f"{len(value)} values", f"as many values as measured.x ({n})")
        if not 2 <= n <= MAX_POINTS:
            reject("measured.x", f"{n} values", f"2 to {MAX_POINTS} conductances")
        x = np.array(self.x, dtype=float)
        if x[0] != 0 or x[-1] != 1 or np.any(np.diff(x) <= 0):
            reject("measured.x", self.x, "increasing fractions of the window from 0 to 1")
        for name in ("up_step_frac", "down_step_frac"):
            if any(abs(v) >= 1 for v in getattr(self, name)):
                reject(f"measured.{name}", getattr(self, name), "steps smaller than the window (|step| < 1)")
        if not max(self.up_step_frac) > 0:
            reject("measured.up_step_frac", self.up_step_frac, "some positive step (potentiation raises G)")
        if not min(self.down_step_frac) < 0:
            reject("measured.down_step_frac", self.down_step_frac, "some negative step (depression lowers G)")
        for name in ("up_sigma_frac", "down_sigma_frac"):
            if min(getattr(self, name)) < 0:
                reject(f"measured.{name}", getattr(self, name), "standard deviations >= 0")

    @property
    def spread_rms_frac(self) -> float:
        """Rms of both spread columns over the kernel's uniform grid (fraction of the window)."""
        table = self._resampled()
        return float(np.sqrt(np.mean(table[[1, 3]] ** 2)))

    def _resampled(self) -> np.ndarray:
        grid = np.linspace(0.0, 1.0, KERNEL_GRID)
        columns = (self.up_step_frac, self.up_sigma_frac, self.down_step_frac, self.down_sigma_frac)
        return np.array([np.interp(grid, self.x, c) for c in columns])

    def kernel_table(self) -> np.ndarray:
        """The write kernels' ``table`` (:mod:`neurosim.device.kernels`): shape ``(4, KERNEL_GRID)``, C order.

        Rows: up step, up spread, down step, down spread on a uniform grid of
        ``x``; the spreads are divided by :attr:`spread_rms_frac` (rms 1; all
        ones when the table has no spread), so the kernel's ``c2c_frac``
        sets their level.
        """
        table = self._resampled()
        rms = self.spread_rms_frac
        table[[1, 3]] = table[[1, 3]] / rms if rms > 0 else 1.0
        return np.ascontiguousarray(table)
