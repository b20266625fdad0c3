"""Circuit cards: the periphery of a crossbar chip (converters, digital logic, cell layout), one TOML file each.

A card's keys are the fields of :class:`CircuitCard` (SI units in the
names, enums as strings) plus ``name``, ``description`` and a ``[sources]``
table that cites every numeric field. Shipped cards live in ``circuits/``;
users pass a card name or a path to their own file. The field reference is
``circuits/README.md``.
"""

import math
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path

from neurosim.files import read_toml
from neurosim.errors import CardError, NeurosimError
from neurosim.resources import shipped_dir
from neurosim.serial import from_plain
from neurosim.validation import enum_member, real, reject, whole


class AdcType(Enum):
    """How an ADC's conversion time grows with its bits ``b`` (its energy is ``fom * 2^b`` for every type)."""

    #: Successive approximation: ``b`` clock cycles per conversion.
    SAR = "sar"
    #: Flash: ``2^b - 1`` comparators decide in one clock cycle.
    FLASH = "flash"
    #: Ramp (single slope): counts up to ``2^b`` clock cycles.
    RAMP = "ramp"


class DacType(Enum):
    """How an input DAC's energy per conversion grows with its bits ``n`` (``dac_energy_J`` per unit)."""

    #: Binary-weighted branches: ``n`` units per conversion (a 1-bit driver is one unit).
    BINARY_WEIGHTED = "binary_weighted"
    #: Thermometer (unary) coded: ``2^n - 1`` units per conversion.
    THERMOMETER = "thermometer"


class CellType(Enum):
    """The array's cell: ``1t1r`` (an access transistor per device) or ``crosspoint`` (a bare device)."""

    ONE_T_ONE_R = "1t1r"
    CROSSPOINT = "crosspoint"


@dataclass(frozen=True)
class CircuitCard:
    """Parameters of a crossbar chip's periphery (all SI units, as in the names)."""

    name: str
    #: Technology node F (m): cell areas are ``cell_area_F2 * F^2``.
    technology_node_m: float
    #: Voltage of a full-scale input on a row (V); inputs below full scale are applied proportionally.
    read_voltage_V: float
    #: Duration of one array read (s): the time a read voltage drives the cells.
    read_pulse_width_s: float
    dac_type: DacType
    #: Energy of one DAC unit per conversion (J): a 1-bit row driver.
    dac_energy_J: float
    #: Area of one 1-bit DAC (row driver) (m^2).
    dac_area_m2: float
    adc_type: AdcType
    #: Walden figure of merit (J per conversion step): one conversion of ``b`` bits costs ``fom * 2^b``.
    adc_fom_J_per_step: float
    #: ADC clock (Hz): SAR ``b`` cycles, flash 1, ramp ``2^b`` per conversion.
    adc_clock_Hz: float
    #: ADC area per level (m^2): a ``b``-bit ADC takes ``2^b`` times this (capacitor array or comparators).
    adc_area_per_level_m2: float
    #: Output lines (columns) that share one ADC through a multiplexer (read one after another).
    cols_per_adc: int
    cell_type: CellType
    #: Area of one cell in F^2 (1T1R 16 = 4F x 4F, crosspoint 4 = 2F x 2F in NeuroSim V3).
    cell_area_F2: float
    #: Energy of one digital addition of a converted partial sum (J).
    add_energy_J: float
    #: Energy of one digital activation (threshold, ReLU or sigmoid look-up) (J).
    activation_energy_J: float
    #: Whether the tiles of a layer are read at the same time (each with its own ADCs); else one after another.
    tiles_in_parallel: bool = True
    description: str = ""
    #: Where each numeric field's value comes from (field name -> citation).
    sources: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            reject("name", self.name, "a non-empty string")
        for name in ("technology_node_m", "read_voltage_V", "read_pulse_width_s", "adc_fom_J_per_step",
                     "adc_clock_Hz", "cell_area_F2"):  # fmt: skip
            real(name, getattr(self, name), "a finite number > 0", lambda v: v > 0)
        for name in ("dac_energy_J", "dac_area_m2", "adc_area_per_level_m2", "add_energy_J", "activation_energy_J"):
            real(name, getattr(self, name), "a finite number >= 0", lambda v: v >= 0)
        enum_member("dac_type", self.dac_type, DacType)
        enum_member("adc_type", self.adc_type, AdcType)
        enum_member("cell_type", self.cell_type, CellType)
        whole("cols_per_adc", self.cols_per_adc, 1, "a whole number of columns >= 1")
        if not isinstance(self.tiles_in_parallel, bool):
            reject("tiles_in_parallel", self.tiles_in_parallel, "true or false")
        if not isinstance(self.sources, dict) or not all(isinstance(v, str) for v in self.sources.values()):
            reject("sources", self.sources, "a table of field name = citation text")
        unknown = sorted(set(self.sources) - {f.name for f in fields(self)})
        if unknown:
            reject("sources", unknown, "citations of the card's own fields")

    def adc_energy_J(self, bits: int) -> float:
        """Energy of one ``bits``-bit conversion (J): ``fom * 2^bits`` (Walden)."""
        return self.adc_fom_J_per_step * 2.0**bits

    def adc_time_s(self, bits: int) -> float:
        """Duration of one ``bits``-bit conversion (s): SAR ``bits``, flash 1, ramp ``2^bits`` clock cycles."""
        cycles = {AdcType.SAR: bits, AdcType.FLASH: 1, AdcType.RAMP: 2**bits}[self.adc_type]
        return cycles / self.adc_clock_Hz

    def adc_area_m2(self, bits: int) -> float:
        """Area of one ``bits``-bit ADC (m^2): ``2^bits`` levels."""
        return self.adc_area_per_level_m2 * 2.0**bits

    def dac_units(self, bits: int | None) -> int:
        """DAC units one conversion of ``bits`` (None: a binary or ideal input, one unit) costs."""
        n = 1 if bits is None else int(bits)
        return n if self.dac_type is DacType.BINARY_WEIGHTED else 2**n - 1

    @property
    def cell_area_m2(self) -> float:
        """Area of one cell (m^2)."""
        return self.cell_area_F2 * self.technology_node_m**2


def circuits_dir() -> Path:
    """The folder of shipped circuit cards."""
    return shipped_dir("circuits")


def list_circuits() -> list[str]:
    """Names of the shipped circuit cards, sorted."""
    return sorted(p.stem for p in circuits_dir().glob("*.toml"))


def circuit_from_mapping(data: dict, source: str = "<circuit card>") -> CircuitCard:
    """A validated :class:`CircuitCard` from a card's key-value mapping (raises :class:`CardError` naming ``source``)."""
    try:
        data = dict(data)
        for key in ("tiles_in_parallel",):
            if key in data and not isinstance(data[key], bool):
                reject(key, data[key], "true or false")
        for f in fields(CircuitCard):
            if f.type is float and f.name in data:
                value = data[f.name]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    reject(f.name, value, "a finite number")
                data[f.name] = float(value)
        return from_plain(CircuitCard, data, "circuit card")
    except NeurosimError as exc:
        raise CardError(f"{source}: {exc}") from None


def load_circuit(name_or_path) -> CircuitCard:
    """A circuit card by shipped name (``"sar_32nm"``) or by path to a TOML file."""
    if isinstance(name_or_path, CircuitCard):
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    if not (path.suffix == ".toml" or path.is_file() or "/" in text):
        path = circuits_dir() / f"{text}.toml"
        if not path.is_file():
            raise CardError(f"unknown circuit '{text}'; shipped circuit cards: {', '.join(list_circuits())} "
                            "(or give a path to a .toml card)")  # fmt: skip
    return circuit_from_mapping(read_toml(path, "circuit card file", CardError), str(path))


def circuit_with_overrides(name_or_path, overrides: dict) -> CircuitCard:
    """The circuit card with some fields replaced (``{"cols_per_adc": 8}``; enums by their string), validated."""
    card = load_circuit(name_or_path)
    if not overrides:
        return card
    known = {f.name for f in fields(CircuitCard)} - {"sources", "name", "description"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise NeurosimError(f"unknown setting 'circuit.{unknown[0]}'; allowed: {sorted(known)}")
    plain = {f.name: getattr(card, f.name) for f in fields(CircuitCard)}
    plain = {k: (v.value if isinstance(v, Enum) else v) for k, v in plain.items()}
    return circuit_from_mapping({**plain, **overrides}, f"{card.name} with {overrides}")


