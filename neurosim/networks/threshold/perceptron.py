"""The perceptron learning rule run on the devices themselves (pulse updates).

One threshold unit with ``n`` inputs and a bias row (``ThresholdMode.BIAS_ROW``)
is programmed to all-zero weights on a crossbar of the chosen device. Each
epoch presents every training vector once (shuffled by ``rng``); the unit's
output is read through the array and comparator (with all their noise). On a
mistake, ``y != t``, Rosenblatt's rule ``w_i += eta (t - y) x_i`` is applied as
device pulses: ``(t - y) * pulses_per_update`` pulses on the devices of every
active input (the bias device included; its input is always 1), through the
device's nonlinear pulse-update curve with its cycle-to-cycle noise. With the
reference-column mapping a weight's device is potentiated or depressed; with
the differential mapping the pair is driven push-pull.

Training stops after the first epoch without a mistake (*converged*) or after
``max_epochs``. A function that no single threshold unit can realise (XOR,
XNOR; see :func:`~neurosim.networks.threshold.counting.threshold_fit`) never
converges: the result says so, with the reason.

``margin`` (weight units) optionally also updates a correct output whose
decision variable lies within the margin of the threshold (towards the
target), which leaves room for read noise after training.
"""

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from neurosim.crossbar import CrossbarConfig, Mapping
from neurosim.device import DeviceModel, load_device
from neurosim.errors import NeurosimError
from neurosim.events import report
from neurosim.networks.threshold.counting import fit_samples
from neurosim.networks.threshold.hardware import CrossbarThresholdLayer, ThresholdConfig, ThresholdMode
from neurosim.networks.threshold.units import ThresholdLayer, all_inputs, check_binary, parse_truth_table, truth_table_string
from neurosim.rng import as_generator
from neurosim.validation import real, reject, whole

logger = logging.getLogger(__name__)


def _default_threshold_config() -> ThresholdConfig:
    return ThresholdConfig(crossbar=CrossbarConfig(mapping=Mapping.REFERENCE_COLUMN))


@dataclass(frozen=True)
class PerceptronConfig:
    """Perceptron training on devices.

    ``weight_max``: weight (weight units) at the full conductance window; the
    pulse step in weight units follows from the device (about
    ``2 * weight_max / levels`` with the reference column). ``pulses_per_update``:
    pulses per unit of ``(t - y) x_i``. ``max_epochs``: passes over the
    training set. ``margin``: see the module docstring (weight units, >= 0).
    ``threshold``: array, mapping, comparator (the threshold mode is always a
    bias row); default the reference-column mapping.
    """

    weight_max: float = 1.0
    pulses_per_update: int = 2
    max_epochs: int = 100
    margin: float = 0.0
    shuffle: bool = True
    threshold: ThresholdConfig = field(default_factory=_default_threshold_config)

    def __post_init__(self):
        def bad(name, allowed):
            reject(name, getattr(self, name), allowed)

        real("weight_max", self.weight_max, "a weight magnitude > 0", lambda v: v > 0)
        for name in ("pulses_per_update", "max_epochs"):
            whole(name, getattr(self, name), 1)
        real("margin", self.margin, "a number >= 0 (weight units)", lambda v: v >= 0)
        if not isinstance(self.shuffle, bool):
            bad("shuffle", "true or false")
        if not isinstance(self.threshold, ThresholdConfig):
            bad("threshold", "a ThresholdConfig")


@dataclass(frozen=True)
class PerceptronResult:
    """What perceptron training on the devices did."""

    #: Whether an epoch passed without a mistake.
    converged: bool
    #: Epochs run (the converged epoch included).
    epochs: int
    #: Mistakes in each epoch.
    mistakes: list
    #: Pulse updates applied (one per mistake or margin violation).
    updates: int
    #: Weights (n,) and threshold the devices hold at the end (noise-free read of the conductances).
    weights: np.ndarray
    threshold: float
    #: Training inputs (P, n), targets (P,) and the outputs of one final read (P,).
    inputs: np.ndarray
    targets: np.ndarray
    outputs: np.ndarray
    #: Whether one threshold unit can realise the targets at all (linear programming).
    linearly_separable: bool
    message: str
    #: The unit's events (:class:`~neurosim.events.EventCounts`: its programming, every training and final read,
    #: the update pulses), one entry (one layer).
    layer_events: tuple = ()

    def to_dict(self) -> dict:
        return {
            "converged": self.converged,
            "epochs": self.epochs,
            "mistakes_per_epoch": list(self.mistakes),
            "updates": self.updates,
            "weights": self.weights.tolist(),
            "threshold": self.threshold,
            "targets": truth_table_string(self.targets) if self._full_table else self.targets.tolist(),
            "outputs": truth_table_string(self.outputs) if self._full_table else self.outputs.tolist(),
            "linearly_separable": self.linearly_separable,
            "message": self.message,
            "events": report(self.layer_events),
        }

    @property
    def _full_table(self) -> bool:
        n = self.inputs.shape[1]
        return n <= 16 and np.array_equal(self.inputs, all_inputs(n))


def _samples(targets, inputs):
    if inputs is None:
        t = parse_truth_table(targets)
        n = t.size.bit_length() - 1
        return all_inputs(n), t
    x = check_binary(inputs, None)
    if x.ndim != 2:
        raise NeurosimError(f"training inputs must be 2-D (samples, inputs), got shape {x.shape}")
    t = check_binary(targets, None, "targets").reshape(-1)
    if t.size != x.shape[0]:
        raise NeurosimError(f"targets must have one value per training input ({x.shape[0]}), got {t.size}")
    return x, t


def _separable(x: np.ndarray, t: np.ndarray) -> bool:
    return fit_samples(x, t).realisable


def train_perceptron(targets, device, config: PerceptronConfig | None = None, rng=None, *, inputs=None) -> PerceptronResult:
    """Learn ``targets`` with one threshold unit on ``device`` by pulse updates.

    ``targets``: a truth table (string like ``"0001"`` or 0/1 values in
    truth-table order) over all ``2**n`` inputs, or, with ``inputs``
    (samples, n) given, one 0/1 target per sample. ``rng`` draws the device
    variation, programming, read and pulse noise and the sample order.
    """
    config = PerceptronConfig() if config is None else config
    if not isinstance(config, PerceptronConfig):
        raise NeurosimError(f"config must be a PerceptronConfig, got {type(config).__name__}")
    device = device if isinstance(device, DeviceModel) else load_device(device)
    rng = as_generator(rng)
    x, t = _samples(targets, inputs)
    n = x.shape[1]
    if n == 0:
        raise NeurosimError("the perceptron needs at least one input")
    separable = _separable(x, t)
    tcfg = replace(config.threshold, threshold_mode=ThresholdMode.BIAS_ROW, centre_integer_thresholds=False)
    start = ThresholdLayer(np.zeros((1, n)), np.zeros(1))
    unit = CrossbarThresholdLayer(start, device, tcfg, rng, weight_max=config.weight_max)
    xh = np.hstack([x, np.ones((x.shape[0], 1), dtype=x.dtype)]).astype(np.int64)
    mistakes, updates, converged = [], 0, False
    for _ in range(config.max_epochs):
        order = rng.permutation(len(x)) if config.shuffle else np.arange(len(x))
        wrong = 0
        for p in order:
            d = unit.sums(x[p : p + 1], rng)[0, 0, 0] - unit.comparator_offset
            if unit.config.comparator_noise_A > 0:
                d -= unit.comparator_noise * rng.standard_normal()
            y = int(d >= 0)
            direction = int(t[p]) - y
            if direction == 0 and config.margin > 0 and abs(d) < config.margin:
                direction = 1 if t[p] else -1
            if y != t[p]:
                wrong += 1
            if direction:
                unit.apply_pulses((direction * config.pulses_per_update * xh[p])[None, :], rng)
                updates += 1
        mistakes.append(wrong)
        if wrong == 0:
            converged = True
            break
    w = unit.effective_weights()[0, 0]
    outputs = unit.forward(x, rng)[:, 0]
    if converged:
        message = f"converged after {len(mistakes)} epochs ({updates} pulse updates)"
    elif separable:
        message = (
            f"not converged in {config.max_epochs} epochs although the function is linearly separable: "
            "try more epochs, fewer pulses per update, a larger weight_max or less noise"
        )
    else:
        message = (
            f"not converged in {config.max_epochs} epochs: the function is not linearly separable "
            "(no single threshold unit realises it; linear program infeasible), so the perceptron rule cannot converge; "
            "it needs two layers (see the XOR gate)"
        )
    logger.info("perceptron on %s: %s", device.name, message)
    return PerceptronResult(
        converged=converged,
        epochs=len(mistakes),
        mistakes=mistakes,
        updates=updates,
        weights=w[:n].copy(),
        threshold=float(-w[n]),
        inputs=x,
        targets=t,
        outputs=outputs,
        linearly_separable=separable,
        message=message,
        layer_events=(unit.events,),
    )
