"""Configuration of crossbar layers: array size, mapping, converters, wires.

Frozen, validated dataclasses with the SI unit in each field name; variants are
made with ``dataclasses.replace`` (which validates again). Modes are Enums.

Units used throughout :mod:`neurosim.crossbar`:

- *input units*: the units of the vectors given to ``forward``; an input of
  ``input_full_scale`` is applied to a row as ``read_voltage_V``.
- *output units* (weight units x input units): the units of ``x @ W.T``. ADC
  ranges and output noise are given in these units; one output unit is
  ``CrossbarLayer.current_per_output_A`` amperes of column current.
"""

from dataclasses import dataclass, replace
from enum import Enum

from neurosim.device.array import ProgramMethod
from neurosim.validation import bits, enum_member, real, reject, whole


class Mapping(Enum):
    """How a signed weight is held by devices.

    ``DIFFERENTIAL``: two devices per weight, ``w ~ G+ - G-``, in a pair of
    ``rows x cols`` arrays; a positive weight raises ``G+`` above ``G_min``
    and leaves ``G-`` at ``G_min`` (and the other way round). The two column
    currents are subtracted in analog before the ADC (one conversion per
    weight column).

    ``REFERENCE_COLUMN``: one device per weight, ``w ~ G - G_ref``, with
    ``G`` spanning ``[G_min, G_max]`` for ``w`` in ``[-w_max, w_max]`` and a
    reference column of devices at the window's midpoint in the last column
    of each array (NeuroSim style), so an array holds ``cols - 1`` weight
    columns. The reference column's current is subtracted in analog from every
    column's current before the ADC.
    """

    DIFFERENTIAL = "differential"
    REFERENCE_COLUMN = "reference_column"


class WeightScale(Enum):
    """Which weight magnitude ``w_max`` maps to the full conductance window.

    ``MAX``: the largest ``|w|``. ``PERCENTILE``: the ``scale_percentile``-th
    percentile of ``|w|`` (larger weights are clipped and counted).
    ``FIXED``: ``weight_max`` (for on-chip training, where the range is chosen
    before the weights exist).
    """

    MAX = "max"
    PERCENTILE = "percentile"
    FIXED = "fixed"


class PulsePolicy(Enum):
    """Which devices a weight update moves (the weight-change-to-pulses rule of :meth:`CrossbarLayer.apply_weight_pulses`).

    Reference column: always the weight's own device (the reference devices
    are never written), potentiated to raise the weight, depressed to lower it.
    Differential pair ``w ~ G+ - G-``:

    ``SIGN_DEVICE``: only the device that holds the weight's sign moves, so the
    other stays near G_min: raising a negative weight depresses ``G-``,
    raising a non-negative one potentiates ``G+`` (lowering: the mirror image,
    a zero weight is lowered on ``G-``). A change that would carry the weight
    across zero stops there (the depressed device saturates at its G_min). On-chip training's rule.

    ``BOTH``: push-pull, both devices move: raising potentiates ``G+`` and
    depresses ``G-`` by the same count. Threshold logic's perceptron rule.
    """

    SIGN_DEVICE = "sign_device"
    BOTH = "both"


class DacMode(Enum):
    """How inputs are applied to the rows.

    ``LEVELS``: one read with ``2**dac_bits - 1`` voltage levels per polarity.
    ``BIT_SERIAL``: one read per magnitude bit (inputs 0 or full scale), each
    digitised by the ADC, then shifted and added digitally.
    """

    LEVELS = "levels"
    BIT_SERIAL = "bit_serial"



@dataclass(frozen=True)
class WireConfig:
    """Resistances of the array's wiring (ohm); all cells are ohmic, so the array is a linear network.

    Cell ``(i, j)`` (row ``i``, column ``j``) sits ``j + 1`` row-wire segments
    from its row driver and ``rows - i`` column-wire segments from its
    column's sense amplifier (a virtual ground). In a transposed read the
    column periphery drives (from the same end) and the row periphery senses.
    """

    #: Resistance of one wire segment between neighbouring cells (also driver-to-first-cell
    #: and last-cell-to-sense-amplifier), the same for rows and columns. Must be > 0:
    #: for ideal wiring use ``CrossbarConfig(wire=None)``.
    r_wire_ohm: float = 1.0
    #: Output resistance of each driver.
    r_driver_ohm: float = 0.0
    #: Input resistance of each sense amplifier.
    r_sense_ohm: float = 0.0
    #: On-resistance of each cell's access transistor (1T1R), in series with the device; 0 = 1R cell.
    #: The same resistor as ``CrossbarConfig.cell_r_series_ohm`` (a cell property, seen by every read
    #: with or without wires): set one of the two. With wires, the nodal model uses whichever is set.
    r_access_ohm: float = 0.0

    def __post_init__(self):
        real("r_wire_ohm", self.r_wire_ohm, "a resistance > 0 ohm (use wire=None for ideal wires)", lambda v: v > 0)
        for name in ("r_driver_ohm", "r_sense_ohm", "r_access_ohm"):
            real(name, getattr(self, name), "a finite resistance >= 0 ohm", lambda v: v >= 0)


@dataclass(frozen=True)
class CrossbarConfig:
    """How a weight matrix is laid out on arrays and read.

    Inputs: an input ``x`` in ``[-input_full_scale, input_full_scale]`` is
    applied as ``x / input_full_scale * read_voltage_V`` (a negative input as
    a negative read voltage). With ``dac_bits = n`` the magnitude is quantised
    to ``2**n - 1`` steps over ``[0, input_full_scale]`` (sign on top) and
    larger magnitudes are clipped and counted; ``dac_bits=None`` is an ideal
    DAC (no quantisation, no clipping).

    Outputs: each tile's column outputs (after the analog subtraction of the
    mapping) are digitised separately by a symmetric ADC with ``2**n - 1``
    levels over ``[-adc_range, adc_range]`` (output units), then summed
    digitally across tiles. ``adc_range=None`` means it must be calibrated
    (:meth:`~neurosim.crossbar.layer.CrossbarLayer.calibrate_adc`).
    """

    #: Array size (rows = inputs, cols = outputs of one tile).
    rows: int = 128
    cols: int = 128
    mapping: Mapping = Mapping.DIFFERENTIAL
    weight_scale: WeightScale = WeightScale.MAX
    #: Percentile of |w| used by ``WeightScale.PERCENTILE``.
    scale_percentile: float = 99.9
    #: Weight magnitude at full window for ``WeightScale.FIXED``.
    weight_max: float = 1.0
    #: Input DAC resolution (magnitude bits); None = ideal.
    dac_bits: int | None = None
    dac_mode: DacMode = DacMode.LEVELS
    #: Input magnitude (input units) applied as the full read voltage.
    input_full_scale: float = 1.0
    #: Read voltage of a full-scale input (V).
    read_voltage_V: float = 0.2
    #: Output ADC resolution (bits, at least 2); None = ideal.
    adc_bits: int | None = None
    #: ADC full scale for forward reads (output units); None = calibrate on sample data.
    #: With ``DacMode.BIT_SERIAL`` it is the full scale of one bit-plane read (inputs 0 or full scale).
    adc_range: float | None = None
    #: ADC full scale for transposed reads, whose inputs are scaled to max |d| = 1 per vector
    #: (output units of such a normalised read); None = calibrate on sample data.
    adc_range_backward: float | None = None
    #: Gaussian noise added to every conversion, as a fraction of ``w_max * input_full_scale``
    #: (the output of one full-scale weight at full-scale input).
    output_noise_frac: float = 0.0
    program_method: ProgramMethod = ProgramMethod.DIRECT
    #: Write-verify tolerance as a fraction of the device's conductance window.
    write_verify_tol_frac: float = 0.02
    #: Wire, driver, sense and access resistances; None = ideal wiring.
    wire: WireConfig | None = None
    #: Series resistance of every cell (ohm): a 1T1R cell's access transistor in its on state
    #: (NeuroSim V3 uses 15 kOhm). None or 0 = off (a 1R cell). Every read (forward, transposed,
    #: ADC calibration, on-chip training's fused read) sees each device as ``G / (1 + G R)``, and its
    #: read noise as ``sigma (1 + G R)^-2`` (the derivative of that, to first order). With ``wire``
    #: the nodal model puts it in series (as ``WireConfig.r_access_ohm``).
    cell_r_series_ohm: float | None = None

    def __post_init__(self):
        for name in ("rows", "cols"):
            whole(name, getattr(self, name), 1, "an integer array size >= 1")
        enum_member("mapping", self.mapping, Mapping)
        if self.mapping is Mapping.REFERENCE_COLUMN and self.cols < 2:
            reject("cols", self.cols, "at least 2 with Mapping.REFERENCE_COLUMN (one column is the reference)")
        enum_member("weight_scale", self.weight_scale, WeightScale)
        real("scale_percentile", self.scale_percentile, "a percentile in (0, 100]", lambda v: 0 < v <= 100)
        real("weight_max", self.weight_max, "a weight magnitude > 0", lambda v: v > 0)
        bits("dac_bits", self.dac_bits, 1, 24)
        enum_member("dac_mode", self.dac_mode, DacMode)
        if self.dac_mode is DacMode.BIT_SERIAL and self.dac_bits is None:
            reject("dac_bits", self.dac_bits, "an integer number of bits with DacMode.BIT_SERIAL")
        real("input_full_scale", self.input_full_scale, "an input magnitude > 0", lambda v: v > 0)
        real("read_voltage_V", self.read_voltage_V, "a voltage > 0 V", lambda v: v > 0)
        bits("adc_bits", self.adc_bits, 2, 32)
        for name in ("adc_range", "adc_range_backward"):
            value = getattr(self, name)
            if value is not None:
                real(name, value, "None (calibrate) or a range > 0 in output units", lambda v: v > 0)
        real("output_noise_frac", self.output_noise_frac, "a standard deviation >= 0", lambda v: v >= 0)
        enum_member("program_method", self.program_method, ProgramMethod)
        real("write_verify_tol_frac", self.write_verify_tol_frac, "a fraction of the window > 0", lambda v: v > 0)
        if self.wire is not None and not isinstance(self.wire, WireConfig):
            reject("wire", self.wire, "None (ideal wires) or a WireConfig")
        if self.cell_r_series_ohm is not None:
            real("cell_r_series_ohm", self.cell_r_series_ohm, "None (off) or a finite resistance >= 0 ohm", lambda v: v >= 0)
            if self.cell_r_series_ohm > 0 and self.wire is not None and self.wire.r_access_ohm > 0:
                reject("cell_r_series_ohm", self.cell_r_series_ohm,
                       f"None or 0 while wire.r_access_ohm = {self.wire.r_access_ohm} is set: both are the "
                       "cell's access transistor, set it once")  # fmt: skip

    @property
    def r_series_ohm(self) -> float:
        """The cells' series resistance (ohm) however it is given (``cell_r_series_ohm`` or ``wire.r_access_ohm``); 0 = none."""
        if self.cell_r_series_ohm:
            return float(self.cell_r_series_ohm)
        return float(self.wire.r_access_ohm) if self.wire is not None else 0.0

    @property
    def wire_model(self) -> WireConfig | None:
        """The wiring the nodal model solves: ``wire`` with the cells' series resistance as its access resistance."""
        if self.wire is None or self.wire.r_access_ohm == self.r_series_ohm:
            return self.wire
        return replace(self.wire, r_access_ohm=self.r_series_ohm)

    @property
    def weight_cols(self) -> int:
        """Weight columns one tile holds (``cols``, less the reference column if there is one)."""
        return self.cols - 1 if self.mapping is Mapping.REFERENCE_COLUMN else self.cols
