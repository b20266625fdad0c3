"""Configuration of on-chip (in-situ) training: a frozen, validated dataclass and its modes.

The defaults are the reference protocol of NeuroSim's MLP benchmark (design
notes, section 4): a 400-100-10 network on 20 x 20 binarised MNIST, sigmoid
units, SGD with batch 1, learning rates 0.4 (first layer) and 0.2 (second),
125 epochs of 8000 randomly drawn training images (with replacement, as
NeuroSim draws them), weights in [-1, 1] mapped to [G_min, G_max] against a
reference column, initial weights uniform in [-1, 1], hidden activations
thresholded at 0.5 in the hardware forward pass and an 8-bit ADC on the
partial sums. The arrays are crossbar tiles (:class:`~neurosim.crossbar.config.CrossbarConfig`,
field ``crossbar``: 128 x 128 by default): every tile's column partial sum is
digitised, and the codes are summed digitally. Every tile's partial-sum ADC
of the hidden layer spans the largest possible output of the whole column
(NeuroSim's convention: ``inputs x weight_max``, 400 weights, so one code is
400/127 weights wide as on an untiled array; spanning only one tile's largest
partial sum, 128 weights, gives finer codes, more weight writes early on, and
hzo_fefet 58.5 % instead of 75.5 % after 5 epochs), that of the output layer
the sigmoid's working range (+-16); a hidden unit is on when
``sigmoid(code) >= 0.5``, so the whole zero code (|z| below half a step)
counts as on, as in NeuroSim.

Two protocols (:class:`Protocol`, field ``protocol``). ``PROJECT`` (the
defaults above) is this project's read-out: partial sums of 128-row tiles
through a symmetric ADC, the full weighted sum into the sigmoid, the output
layer clipped at +-16, initial weights uniform in [-1, 1] mapped onto
[G_min, G_max], no access transistor. It is the cleaner circuit (an ADC per
tile that rounds, a sigmoid that sees the weighted sum it was trained for),
and what the rest of the project (``neurosim evaluate``) reads. ``NEUROSIM_V3``
reproduces NeuroSim V3.0's MLP simulator (``MLP_NeuroSim_V3.0``) one for one
where it differs; :data:`NEUROSIM_V3_PROTOCOL` is that preset (``neurosim
insitu --protocol neurosim_v3``, sweep setting ``protocol = "neurosim_v3"``):

- read-out (``Train.cpp`` 166-184 and 360-377, ``Mapping.cpp`` 101-107): a
  layer's column current and its reference current (the mean of a cell's
  largest and smallest read current, per active row, ``Array.cpp``
  ``GetMediumCellReadCurrent``) are each truncated to codes of the whole
  layer's current swing (``rows x (I_max - I_min) / (2**adc_bits - 1)``, no
  tiles), and the code difference is worth ``rows / (2**adc_bits - 1)``
  weight units, so the sigmoid sees half the weighted sum, quantised, never
  clipped;
- the access transistor (``Cell.cpp`` 277, 280; ``Array.cpp`` 49-53, 79,
  288-299): ``crossbar.cell_r_series_ohm = 15e3`` in series with every cell
  (``I = V / (1/G + R)``), in every read;
- read-back (``Train.cpp`` 617-618, ``Array.cpp`` ``ConductanceToWeight``):
  the digital weights of the backward pass are read from the devices, linear
  in current: ``w = 2 (I - I_min) / (I_max - I_min) - 1``;
- initial weights (``Mapping.cpp`` 56-67, ``Array.cpp`` 178-187): 7 levels
  ``k/3`` (``k = -3..3``) times ``init_weight_max``, drawn uniformly, and
  written exactly (``ProgramMethod.EXACT``) to ``(w + 1)/2 x (G_max - G_min)``,
  without adding ``G_min`` (then clipped to the window), which biases the
  start negative.

Everything else is shared (nearest pulse rounding, cycle-to-cycle noise per
write with ``sqrt(n)``, the clip to the window, the hidden threshold, the
backward pass, learning rates, sampling with replacement). The preset
requires the reference-column mapping, the digital backward pass, an ideal
DAC (binary inputs) and devices without read noise (not modelled in it).

Loss convention (NeuroSim's): ``sum_k (a_k - t_k)^2`` over the sigmoid outputs
``a`` and the one-hot target ``t``, so the output delta is
``-2 a (1 - a) (t - a)``; the learning rates refer to that loss.
"""

import numbers
from dataclasses import dataclass
from enum import Enum

from neurosim.crossbar.config import CrossbarConfig, DacMode, Mapping, PulsePolicy, WeightScale
from neurosim.device.array import ProgramMethod
from neurosim.serial import from_plain, to_plain
from neurosim.data.preprocess import Preprocessing
from neurosim.validation import real as _real
from neurosim.validation import reject as _fail
from neurosim.validation import whole as _whole


class Protocol(Enum):
    """Which read-out, read-back and initial weights on-chip training uses (module docstring).

    ``PROJECT``: this project's (tiles, symmetric rounding ADC, full sum).
    ``NEUROSIM_V3``: NeuroSim V3.0's, one for one (start from :data:`NEUROSIM_V3_PROTOCOL`).
    """

    PROJECT = "project"
    NEUROSIM_V3 = "neurosim_v3"


class PulseRounding(Enum):
    """How a weight change becomes a whole number of pulses.

    The exact count is ``x = dw / dw_pulse`` with ``dw_pulse`` the weight
    change of one nominal (linear-equivalent) pulse of the direction used.
    ``NEAREST``: round half away from zero. ``TRUNCATE``: towards zero
    (NeuroSim's choice: small changes are dropped). ``STOCHASTIC``:
    ``floor(x + u)`` with ``u ~ U(0, 1)``, unbiased on average.
    """

    NEAREST = "nearest"
    TRUNCATE = "truncate"
    STOCHASTIC = "stochastic"


class Optimizer(Enum):
    """Weight-change rule. ``SGD``: ``dw = -lr g``. ``MOMENTUM``: ``v = momentum v - lr g; dw = v``.

    With momentum every weight has a digital velocity that keeps moving it
    after its input went quiet, so every device of a layer can be written on
    every image (slower than plain SGD, whose binary inputs touch only the
    rows of active pixels).
    """

    SGD = "sgd"
    MOMENTUM = "momentum"


class Backward(Enum):
    """How the output error reaches the hidden layer.

    ``DIGITAL``: ``e = W2^T s2`` computed digitally from the weights the
    devices hold (NeuroSim's choice). ``TRANSPOSED_READ``: a transposed read
    of the second layer's arrays (the error vector scaled to ``max |s2| = 1``
    drives the columns, the rows are sensed, with read noise and an ADC of
    ``crossbar.adc_bits`` over ``crossbar.adc_range_backward``), scaled back digitally.
    """

    DIGITAL = "digital"
    TRANSPOSED_READ = "transposed_read"


class HiddenUpdate(Enum):
    """The hidden value that multiplies the output error in the second layer's update.

    ``SIGMOID``: the sigmoid activation ``a1`` (NeuroSim's choice).
    ``THRESHOLDED``: the binary value that drove the second layer's rows.
    """

    SIGMOID = "sigmoid"
    THRESHOLDED = "thresholded"


#: Enum-valued fields and their types (used to parse settings given as strings).
ENUM_FIELDS = {
    "protocol": Protocol,
    "pulse_rounding": PulseRounding,
    "pulse_policy": PulsePolicy,
    "optimizer": Optimizer,
    "backward": Backward,
    "hidden_update": HiddenUpdate,
    "preprocessing": Preprocessing,
}

#: The arrays of the reference protocol: 128 x 128 tiles, weights in [-1, 1] against a reference
#: column, an 8-bit ADC, ideal DAC and wires. The forward ADC ranges are the in-situ config's
#: per-layer ``adc_range_hidden`` / ``adc_range_output`` (so ``adc_range`` stays None).
REFERENCE_CROSSBAR = CrossbarConfig(
    mapping=Mapping.REFERENCE_COLUMN, weight_scale=WeightScale.FIXED, weight_max=1.0, adc_bits=8
)


#: Most epochs one run trains (NeuroSim's protocol has 125) and most images an epoch draws
#: (its order is held in memory, 8 bytes per image).
MAX_EPOCHS = 100_000
MAX_IMAGES_PER_EPOCH = 10_000_000

@dataclass(frozen=True)
class InsituConfig:
    """One in-situ training protocol. Variants: ``dataclasses.replace(config, ...)`` (validated again).

    Output units of a read are weight units x input units (inputs are 0/1
    pixels, so a column output is a sum of weights); ADC ranges are in those
    units.
    """

    #: Read-out, read-back and initial weights: the project's or NeuroSim V3's (module docstring).
    protocol: Protocol = Protocol.PROJECT
    #: Layer widths (inputs, hidden, outputs); one hidden layer.
    sizes: tuple = (400, 100, 10)
    epochs: int = 125
    images_per_epoch: int = 8000
    #: Learning rate of the first (input -> hidden) and second (hidden -> output) layer.
    lr_hidden: float = 0.4
    lr_output: float = 0.2
    optimizer: Optimizer = Optimizer.SGD
    #: Velocity decay of ``Optimizer.MOMENTUM``.
    momentum: float = 0.9
    #: The arrays: tile size, mapping, weight range (``weight_max`` with ``WeightScale.FIXED``: weights
    #: live in [-weight_max, weight_max], which spans the conductance window), DAC, ADC bits,
    #: transposed-read ADC range, output noise, how the initial weights are programmed.
    #: Wires with resistance are not modelled by the fused training loop (rejected).
    crossbar: CrossbarConfig = REFERENCE_CROSSBAR
    #: Initial weights: uniform in [-init_weight_max, init_weight_max], programmed into the devices.
    init_weight_max: float = 1.0
    pulse_rounding: PulseRounding = PulseRounding.NEAREST
    #: Which devices of a differential pair a weight change moves (the crossbar layer's rule;
    #: the reference column always moves the weight's device).
    pulse_policy: PulsePolicy = PulsePolicy.SIGN_DEVICE
    #: Hidden units drive the second layer with ``1`` where ``sigmoid(z) >= hidden_threshold``, else ``0``.
    threshold_hidden: bool = True
    hidden_threshold: float = 0.5
    hidden_update: HiddenUpdate = HiddenUpdate.SIGMOID
    backward: Backward = Backward.DIGITAL
    #: Forward ADC full scales (output units) of one tile's partial sums in the hidden and output
    #: layers (the resolution is ``crossbar.adc_bits``; transposed reads use ``crossbar.adc_range_backward``);
    #: None = the largest possible output of a whole column, ``layer inputs x weight_max x input_full_scale``
    #: (for every tile's partial sum). Hidden layer: None, NeuroSim's convention (never clips; one code is
    #: 400/127 weights wide, which also sets the sigmoid derivative used in backpropagation). Output layer: 16,
    #: the output sigmoid's working range (sigmoid(16) = 1 - 1e-7): with NeuroSim's 100 one code is
    #: 0.79 wide and classes often tie on the top code.
    adc_range_hidden: float | None = None
    adc_range_output: float | None = 16.0
    preprocessing: Preprocessing = Preprocessing.CROP20_BINARIZE
    #: Test images scored after each evaluated epoch (None = all 10,000).
    test_images: int | None = None
    #: Score the test set every this many epochs (and always after the last).
    eval_every_epochs: int = 1
    #: Write a checkpoint every this many epochs (when training into a folder).
    checkpoint_every_epochs: int = 1

    def __post_init__(self):
        sizes = self.sizes
        if (
            not isinstance(sizes, (tuple, list))
            or len(sizes) != 3
            or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes)
        ):
            _fail("sizes", sizes, "three positive whole numbers (inputs, hidden, outputs)")
        if sizes[2] < 2:
            _fail("sizes", sizes, "at least 2 output classes")
        object.__setattr__(self, "sizes", tuple(int(s) for s in sizes))
        _whole("epochs", self.epochs, 1, high=MAX_EPOCHS)
        _whole("images_per_epoch", self.images_per_epoch, 1, high=MAX_IMAGES_PER_EPOCH)
        for name in ("lr_hidden", "lr_output"):
            _real(name, getattr(self, name), "a learning rate > 0", lambda v: v > 0)
        _real("momentum", self.momentum, "a velocity decay in [0, 1)", lambda v: 0 <= v < 1)
        self._check_crossbar()
        _real(
            "init_weight_max",
            self.init_weight_max,
            f"a weight magnitude in [0, weight_max = {self.weight_max}]",
            lambda v: 0 <= v <= self.weight_max,
        )
        for name, enum in ENUM_FIELDS.items():
            value = getattr(self, name)
            if not isinstance(value, enum):
                allowed = ", ".join(f"{enum.__name__}.{m.name}" for m in enum)
                _fail(name, value, f"one of {allowed}")
        if not isinstance(self.threshold_hidden, bool):
            _fail("threshold_hidden", self.threshold_hidden, "true or false")
        _real("hidden_threshold", self.hidden_threshold, "a sigmoid level in (0, 1)", lambda v: 0 < v < 1)
        for name in ("adc_range_hidden", "adc_range_output"):
            value = getattr(self, name)
            if value is not None:
                _real(name, value, "None (the largest possible column output) or a range > 0 in output units", lambda v: v > 0)
        if self.test_images is not None:
            _whole("test_images", self.test_images, 1)
        _whole("eval_every_epochs", self.eval_every_epochs, 1)
        _whole("checkpoint_every_epochs", self.checkpoint_every_epochs, 1)
        if self.protocol is Protocol.NEUROSIM_V3:
            self._check_neurosim_v3()

    def _check_neurosim_v3(self):
        """What NeuroSim V3's read-out models: a reference column, binary inputs, a digital backward pass."""
        xb = self.crossbar
        why = "with protocol = neurosim_v3 (NeuroSim V3's read-out)"
        if xb.mapping is not Mapping.REFERENCE_COLUMN:
            _fail("crossbar.mapping", xb.mapping, f"Mapping.REFERENCE_COLUMN {why}")
        if self.backward is not Backward.DIGITAL:
            _fail("backward", self.backward, f"Backward.DIGITAL {why} (its weights are read back digitally)")
        if xb.dac_bits is not None:
            _fail("crossbar.dac_bits", xb.dac_bits, f"None {why} (binary inputs drive the rows)")
        if xb.output_noise_frac != 0:
            _fail("crossbar.output_noise_frac", xb.output_noise_frac, f"0 {why}")

    def _check_crossbar(self):
        """The arrays must be ones the fused training loop models (it reads one vector at a time)."""
        xb = self.crossbar
        if not isinstance(xb, CrossbarConfig):
            _fail("crossbar", xb, "a CrossbarConfig")
        if xb.weight_scale is not WeightScale.FIXED:
            _fail("crossbar.weight_scale", xb.weight_scale, "WeightScale.FIXED (the weight range is set before training)")
        if xb.adc_range is not None:
            _fail("crossbar.adc_range", xb.adc_range, "None: the forward ranges are adc_range_hidden and adc_range_output")
        if xb.dac_mode is not DacMode.LEVELS:
            _fail("crossbar.dac_mode", xb.dac_mode, "DacMode.LEVELS (bit-serial reads are not modelled in training)")
        if xb.wire is not None:
            _fail("crossbar.wire", xb.wire, "None: the fused training loop does not model wire resistance "
                  "(evaluate the trained weights with CrossbarLayer for IR drop)")  # fmt: skip
        n_in, n_h, n_out = self.sizes
        if max(n_h, n_out) > xb.weight_cols:
            _fail("crossbar.cols", xb.cols, f"room for every layer's outputs in one tile column "
                  f"(>= {max(n_h, n_out) + (xb.cols - xb.weight_cols)} for sizes {self.sizes})")  # fmt: skip

    # -- derived ----------------------------------------------------------------------------
    @property
    def weight_max(self) -> float:
        """Weight magnitude at the full conductance window (``crossbar.weight_max``)."""
        return self.crossbar.weight_max

    def adc_ranges(self) -> tuple[float, float, float]:
        """ADC full scales (hidden, output, backward) with None resolved to the largest column output."""
        n_in, n_h, n_out = self.sizes
        xb = self.crossbar
        full = self.weight_max * xb.input_full_scale
        return (
            self.adc_range_hidden if self.adc_range_hidden is not None else n_in * full,
            self.adc_range_output if self.adc_range_output is not None else n_h * full,
            xb.adc_range_backward if xb.adc_range_backward is not None else n_out * self.weight_max,
        )

    def to_dict(self) -> dict:
        """Plain JSON values (enums as their strings, sizes as a list, ``crossbar`` as a dict)."""
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: dict, base: "InsituConfig | None" = None) -> "InsituConfig":
        """A config from plain values (enum fields by their string value), over ``base`` (default: the defaults).

        Unknown keys and bad values raise :class:`NeurosimError` naming the key.
        """
        base = cls() if base is None else base
        return from_plain(cls, {**to_plain(base), **to_plain(dict(data))}, "in-situ setting")


#: The reference protocol (the defaults), for readability at call sites.
REFERENCE_PROTOCOL = InsituConfig()

#: NeuroSim V3.0's protocol (module docstring): its read-out and read-back, a 15 kOhm access
#: transistor in every cell, 7-level initial weights written without G_min.
NEUROSIM_V3_PROTOCOL = InsituConfig(
    protocol=Protocol.NEUROSIM_V3,
    crossbar=CrossbarConfig(
        mapping=Mapping.REFERENCE_COLUMN, weight_scale=WeightScale.FIXED, weight_max=1.0, adc_bits=8,
        cell_r_series_ohm=15e3, program_method=ProgramMethod.EXACT,
    ),
)  # fmt: skip


def protocol_base(protocol) -> InsituConfig:
    """The config a protocol starts from: the defaults, or :data:`NEUROSIM_V3_PROTOCOL`."""
    try:
        protocol = Protocol(protocol)
    except ValueError:
        _fail("protocol", protocol, "one of " + ", ".join(repr(p.value) for p in Protocol))
    return NEUROSIM_V3_PROTOCOL if protocol is Protocol.NEUROSIM_V3 else REFERENCE_PROTOCOL


def float_baseline_config(config: InsituConfig) -> InsituConfig:
    """The software float baseline of ``config``: same network and protocol, no threshold, ideal ADC."""
    from dataclasses import replace

    crossbar = replace(config.crossbar, adc_bits=None, output_noise_frac=0.0)
    return replace(config, threshold_hidden=False, crossbar=crossbar, backward=Backward.DIGITAL)
