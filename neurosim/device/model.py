"""The synapse device model: a frozen, validated description of one device type.

A :class:`DeviceModel` holds the parameters; :class:`neurosim.device.array.DeviceArray`
holds the state of many such devices (their conductances, the device-to-device
variation drawn for each, and which are stuck). Variants are made with
``dataclasses.replace`` and are validated again.
"""

import math
from dataclasses import dataclass, fields
from enum import Enum

import numpy as np

from neurosim.device import curve
from neurosim.device.measured import MeasuredCurve
from neurosim.validation import reject

#: Most pulses across the window a card may give (``levels_ltp``, ``levels_ltd``): measured
#: devices have tens to a few thousand levels; curves and pulse trains allocate one value per level.
MAX_LEVELS = 100_000

class ProgNoise(Enum):
    """How programming a target conductance directly (``ProgramMethod.DIRECT``) misses it."""

    NONE = "none"
    #: ``sigma = prog_noise_frac * G_max``, independent of the state.
    CONSTANT = "constant"
    #: ``G * (1 + N(0, prog_noise_frac))``.
    PROPORTIONAL = "proportional"
    #: PCM (Nandakumar et al. 2019): ``sigma(uS) = (0.26348 + 1.9650 x - 1.1731 x^2) * G_max/25 uS``.
    PCM_NANDAKUMAR = "pcm_nandakumar"
    #: RRAM (Milo et al. 2021): ``sigma(uS) = max(-0.009107 G(uS) + 4.782321, 0)``.
    RRAM_MILO = "rram_milo"


class ReadNoise(Enum):
    """How a read's conductance noise depends on the state (its strength: ``read_noise_frac``)."""

    #: ``sigma = read_noise_frac * G``: relative to the device's conductance.
    PROPORTIONAL = "proportional"
    #: ``sigma = read_noise_frac * G_max`` (the model's nominal G_max), the same for every state.
    CONSTANT = "constant"


class Drift(Enum):
    """Conductance decay after programming: ``G(t) = G_prog ((t + t0) / t0)^(-nu)``."""

    NONE = "none"
    #: ``nu ~ N(drift_nu, drift_nu_sigma)`` per device.
    POWER_LAW = "power_law"
    #: PCM (Nandakumar et al. 2019): ``nu`` mean and spread depend on ``x = G/G_max``.
    PCM_NANDAKUMAR = "pcm_nandakumar"



@dataclass(frozen=True)
class DeviceModel:
    """Parameters of one kind of analog synapse device.

    Conductances are in siemens; ``*_frac`` fields are dimensionless fractions
    (of the conductance window ``G_max - G_min`` unless the docstring says
    otherwise). ``levels_ltp`` potentiation pulses take a device from
    ``G_min`` to ``G_max``; ``levels_ltd`` depression pulses take it back.
    """

    name: str
    g_min_S: float
    g_max_S: float
    levels_ltp: int
    levels_ltd: int
    #: Published nonlinearity labels (sign as published; the shape uses |NL|). 0 = linear.
    nl_ltp: float = 0.0
    nl_ltd: float = 0.0
    #: Cycle-to-cycle noise per write: sigma = c2c_sigma_frac * window * sqrt(|pulses|).
    c2c_sigma_frac: float = 0.0
    #: Device-to-device spread of NL (relative std of each device's NL label).
    d2d_nl_sigma_frac: float = 0.0
    #: Device-to-device spread of G_min and G_max (std of the log of each, i.e. relative).
    d2d_g_sigma_frac: float = 0.0
    #: Read noise, fresh at each read: sigma = read_noise_frac * G (PROPORTIONAL) or * G_max (CONSTANT).
    read_noise_frac: float = 0.0
    read_noise: ReadNoise = ReadNoise.PROPORTIONAL
    prog_noise: ProgNoise = ProgNoise.NONE
    #: Strength of CONSTANT (fraction of G_max) and PROPORTIONAL (fraction of G) programming noise.
    prog_noise_frac: float = 0.0
    drift: Drift = Drift.NONE
    drift_nu: float = 0.0
    drift_nu_sigma: float = 0.0
    drift_t0_s: float = 20.0
    #: Fractions of devices stuck at G_min (off) and at G_max (on), drawn once per array.
    stuck_off_frac: float = 0.0
    stuck_on_frac: float = 0.0
    #: Programmed values snap to the conductances reachable by whole potentiation pulses.
    snap_to_levels: bool = True
    #: Write pulses (optional; energy estimates only, :mod:`neurosim.energy`): amplitude (V, signed as
    #: applied) and width (s) of one potentiation and one depression pulse. None = not given on the card.
    write_voltage_ltp_V: float | None = None
    write_pulse_width_ltp_s: float | None = None
    write_voltage_ltd_V: float | None = None
    write_pulse_width_ltd_s: float | None = None
    #: A measured-curve device: writes follow this table of steps against conductance (:mod:`neurosim.device.measured`).
    measured: MeasuredCurve | None = None
    citation: str = ""
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            reject("name", self.name, "a non-empty string")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in (float, "float"):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    reject(f.name, value, "a number")
                if not math.isfinite(value):
                    reject(f.name, value, "a finite number")
        for name in ("levels_ltp", "levels_ltd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LEVELS:
                reject(name, value, f"a whole number of pulses from 1 to {MAX_LEVELS}")
        if not self.g_min_S >= 0:
            reject("g_min_S", self.g_min_S, "a conductance >= 0 S")
        if not self.g_max_S > self.g_min_S:
            reject("g_max_S", self.g_max_S, f"a conductance above g_min_S = {self.g_min_S} S")
        for name in ("nl_ltp", "nl_ltd"):
            value = getattr(self, name)
            if not abs(value) < curve.NL_LIMIT:
                reject(name, value, f"|NL| below {curve.NL_LIMIT}")
        nonnegative = (
            "c2c_sigma_frac",
            "d2d_nl_sigma_frac",
            "read_noise_frac",
            "prog_noise_frac",
            "drift_nu_sigma",
        )
        if self.drift_nu < 0:
            reject("drift_nu", self.drift_nu, "a drift exponent >= 0 (conductance decays after programming)")
        for name in nonnegative:
            if getattr(self, name) < 0:
                reject(name, getattr(self, name), "a standard deviation >= 0")
        if not 0 <= self.d2d_g_sigma_frac <= 0.5:
            reject("d2d_g_sigma_frac", self.d2d_g_sigma_frac, "a relative spread in [0, 0.5]")
        if not self.drift_t0_s > 0:
            reject("drift_t0_s", self.drift_t0_s, "a time > 0 s")
        for name in ("stuck_off_frac", "stuck_on_frac"):
            if not 0 <= getattr(self, name) <= 1:
                reject(name, getattr(self, name), "a fraction in [0, 1]")
        if self.stuck_off_frac + self.stuck_on_frac > 1:
            reject(
                "stuck_on_frac",
                self.stuck_on_frac,
                f"stuck_off_frac + stuck_on_frac <= 1 (stuck_off_frac = {self.stuck_off_frac})",
            )
        for name, enum in (("prog_noise", ProgNoise), ("read_noise", ReadNoise), ("drift", Drift)):
            if not isinstance(getattr(self, name), enum):
                allowed = ", ".join(m.value for m in enum)
                reject(name, getattr(self, name), f"a {enum.__name__} ({allowed})")
        if not isinstance(self.snap_to_levels, bool):
            reject("snap_to_levels", self.snap_to_levels, "true or false")
        for name in ("write_voltage_ltp_V", "write_voltage_ltd_V", "write_pulse_width_ltp_s", "write_pulse_width_ltd_s"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                reject(name, value, "None or a finite number")
            if name.endswith("_s") and not value > 0:
                reject(name, value, "a pulse width > 0 s")
            if name.endswith("_V") and value == 0:
                reject(name, value, "a non-zero pulse voltage (V)")
        for d in ("ltp", "ltd"):
            if (getattr(self, f"write_voltage_{d}_V") is None) != (getattr(self, f"write_pulse_width_{d}_s") is None):
                reject(f"write_pulse_width_{d}_s", getattr(self, f"write_pulse_width_{d}_s"),
                       f"given together with write_voltage_{d}_V (both or neither)")
        if self.measured is not None and not isinstance(self.measured, MeasuredCurve):
            reject("measured", self.measured, "a MeasuredCurve table or None")

    @property
    def window_S(self) -> float:
        """Width of the conductance window ``G_max - G_min`` (S)."""
        return self.g_max_S - self.g_min_S

    @property
    def a_ltp(self) -> float:
        """Signed potentiation curve constant ``A`` in pulses (:func:`~neurosim.device.curve.potentiation_constant`; inf for a linear device)."""
        return float(curve.potentiation_constant(self.nl_ltp, self.levels_ltp))

    @property
    def a_ltd(self) -> float:
        """Signed depression curve constant in pulses from G_max (:func:`~neurosim.device.curve.depression_constant`:
        negative for a positive LTD label, whose depression walks back down a saturating curve; inf for a linear device)."""
        return float(curve.depression_constant(self.nl_ltd, self.levels_ltd))

    @property
    def c2c_sigma_S(self) -> float:
        """Cycle-to-cycle noise of a one-pulse write (S)."""
        return self.c2c_sigma_frac * self.window_S

    def potentiation_curve(self):
        """Noiseless conductance (S) after 0..levels_ltp potentiation pulses from G_min."""
        p = np.arange(self.levels_ltp + 1)
        return curve.potentiation_conductance(p, self.g_min_S, self.g_max_S, self.a_ltp, self.levels_ltp)

    def depression_curve(self):
        """Noiseless conductance (S) after 0..levels_ltd depression pulses from G_max."""
        q = np.arange(self.levels_ltd + 1)
        return curve.depression_conductance(q, self.g_min_S, self.g_max_S, self.a_ltd, self.levels_ltd)
