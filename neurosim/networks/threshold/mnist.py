"""A threshold network that reads handwriting: a binarised MLP for MNIST on crossbars.

The network (:class:`ThresholdMLP`) takes binary inputs (the central 20x20
MNIST pixels thresholded at 0.5, ``Preprocessing.CROP20_BINARIZE``), has one
hidden layer of threshold units ``h = [W1 x + b1 >= 0]`` (binary outputs, so
they drive the next array's rows as read voltages, exactly like the inputs),
and a winner-take-all read-out ``class = argmax(W2 h + b2)``. As a
:class:`~neurosim.networks.threshold.units.ThresholdNetwork` the hidden units
have thresholds ``-b1`` and the read-out layer thresholds ``-b2``.

Training (:func:`train_threshold_mlp`) is in software: softmax cross-entropy
on the read-out, the step's gradient replaced by the derivative of a sigmoid
``s(z / width)`` (a straight-through estimator with a smooth surrogate), Adam,
and weights and biases clipped to ``[-1, 1]`` after every step (a bounded
conductance window). Float32 throughout.

Model files: the one model format of :mod:`neurosim.networks.modelio`
(``NAME.npz`` with float32 ``W0, b0, W1, b1``, weights (out, in), plus the
``NAME.json`` sidecar): a dense layer of ``step`` units, then a ``linear``
dense read-out, with the preprocessing, the SHA-256 of the weights and how the
model was trained and is retrained. The shipped model is ``threshold_mnist``.

The sweep task :func:`accuracy_point` maps the model onto crossbars of a device
and scores it on the MNIST test set (see its docstring for the settings).
"""

import hashlib
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.special import expit, logsumexp

from neurosim.crossbar import CrossbarConfig
from neurosim.data.preprocess import Preprocessing, preprocess
from neurosim.errors import NeurosimError
from neurosim.events import METRICS as EVENT_METRICS
from neurosim.events import metrics as event_metrics
from neurosim.networks.layers import Activation, Dense, layer_params
from neurosim.networks.mlp import Output, check_labels, check_params
from neurosim.networks.modelio import ModelError, check_info, model_paths, read_model_file, write_model_file
from neurosim.networks.threshold.hardware import CrossbarThresholdNetwork, ThresholdConfig
from neurosim.networks.threshold.units import Readout, ThresholdLayer, ThresholdNetwork
from neurosim.provenance import git_state, versions
from neurosim.resources import shipped_dir
from neurosim.rng import as_generator
from neurosim.tasks import Task
from neurosim.validation import real, whole

logger = logging.getLogger(__name__)

SHIPPED_MODEL = "threshold_mnist"
#: The layers of a threshold MLP, as (kind, activation): step hidden units, a linear winner-take-all read-out.
LAYER_PATTERN = (("dense", Activation.STEP), ("dense", Activation.LINEAR))

#: Training settings of the shipped model (also the defaults of :func:`train_threshold_mlp`).
TRAINING = {
    "hidden": 256,
    "epochs": 10,
    "lr": 1e-3,
    "lr_decay": 0.85,
    "batch_size": 100,
    "surrogate_width": 0.5,
    "weight_clip": 1.0,
    "optimizer": "adam",
}


@dataclass(frozen=True, eq=False)
class ThresholdMLP:
    """Binarised MLP weights: ``params = [(W1, b1), (W2, b2)]`` (float32, W (out, in)), hidden step units.

    ``info``: JSON-serialisable metadata written to the sidecar.
    """

    params: list
    preprocessing: Preprocessing = Preprocessing.CROP20_BINARIZE
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        sizes = check_params(self.params)
        if len(sizes) != 3:
            raise NeurosimError(f"a threshold MLP has one hidden layer: params must be two (W, b) layers, got {len(sizes) - 1}")
        params = [(np.asarray(w, dtype=np.float32), np.asarray(b, dtype=np.float32)) for w, b in self.params]
        check_params(params)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "preprocessing", Preprocessing.parse(self.preprocessing))
        check_info(self.info)

    @property
    def sizes(self) -> tuple[int, ...]:
        return check_params(self.params)

    @property
    def layers(self) -> list[Dense]:
        """The network as layers: dense ``step`` hidden units, then a dense ``linear`` read-out."""
        (w1, b1), (w2, b2) = self.params
        return [Dense(w1, b1, Activation.STEP), Dense(w2, b2, Activation.LINEAR)]

    def prepare(self, images) -> np.ndarray:
        """uint8 images (n, 28, 28) -> binary float32 inputs (n, inputs)."""
        return preprocess(images, self.preprocessing)

    def hidden(self, x) -> np.ndarray:
        """Hidden outputs ``[W1 x + b1 >= 0]`` (float32 0/1) for inputs ``x`` (n, inputs)."""
        (w1, b1), _ = self.params
        return (np.asarray(x, dtype=np.float32) @ w1.T + b1 >= 0).astype(np.float32)

    def logits(self, x) -> np.ndarray:
        """Read-out sums ``W2 h + b2`` (n, classes)."""
        _, (w2, b2) = self.params
        return self.hidden(x) @ w2.T + b2

    def predict(self, x) -> np.ndarray:
        return np.argmax(self.logits(x), axis=1)

    def accuracy(self, x, y) -> float:
        predicted = self.predict(x)
        return float(np.mean(predicted == check_labels(y, len(predicted), self.params[-1][0].shape[0]))) if len(y) else 0.0

    def to_network(self) -> ThresholdNetwork:
        """The model as a :class:`ThresholdNetwork`: comparator hidden layer, winner-take-all read-out."""
        (w1, b1), (w2, b2) = self.params
        hidden = ThresholdLayer(w1, -b1.astype(np.float64))
        readout = ThresholdLayer(w2, -b2.astype(np.float64), Readout.WINNER_TAKE_ALL)
        return ThresholdNetwork([hidden, readout], name="threshold_mlp")


# -- training --------------------------------------------------------------------------------------
def _check_training(hidden, epochs, lr, lr_decay, batch_size, surrogate_width, weight_clip):
    for name, value in (("hidden", hidden), ("epochs", epochs), ("batch_size", batch_size)):
        whole(name, value, 1)
    for name, value, ok, allowed in (
        ("lr", lr, lambda v: v > 0, "a learning rate > 0"),
        ("lr_decay", lr_decay, lambda v: 0 < v <= 1, "a factor per epoch in (0, 1]"),
        ("surrogate_width", surrogate_width, lambda v: v > 0, "a width > 0 (input units of the step)"),
        ("weight_clip", weight_clip, lambda v: v > 0, "a weight magnitude > 0"),
    ):
        real(name, value, allowed, ok)


def train_threshold_mlp(
    x,
    y,
    *,
    hidden: int = TRAINING["hidden"],
    epochs: int = TRAINING["epochs"],
    lr: float = TRAINING["lr"],
    lr_decay: float = TRAINING["lr_decay"],
    batch_size: int = TRAINING["batch_size"],
    surrogate_width: float = TRAINING["surrogate_width"],
    weight_clip: float = TRAINING["weight_clip"],
    n_classes: int = 10,
    rng=None,
    progress=None,
) -> list:
    """Train the binarised MLP (see the module docstring); returns float32 ``[(W1, b1), (W2, b2)]``.

    ``x``: binary inputs (n, inputs); ``y``: labels (n,) in ``0 .. n_classes-1``.
    ``surrogate_width``: the step's gradient is ``s'(z / width) / width``.
    ``rng`` draws the initial weights (Glorot uniform) and the batch order.
    """
    _check_training(hidden, epochs, lr, lr_decay, batch_size, surrogate_width, weight_clip)
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.ndim != 2 or x.shape[0] == 0 or y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise NeurosimError(f"training needs inputs (n >= 1, features) and integer labels (n,), got {x.shape} and {y.shape}")
    if y.min() < 0 or y.max() >= n_classes:
        raise NeurosimError(f"labels must lie in 0..{n_classes - 1}, got {y.min()}..{y.max()}")
    if not np.all(np.isfinite(x)):
        raise NeurosimError("training inputs hold NaN or infinite values")
    rng = as_generator(rng)
    n, n_in = x.shape
    lim1, lim2 = math.sqrt(6 / (n_in + hidden)), math.sqrt(6 / (hidden + n_classes))
    params = [
        rng.uniform(-lim1, lim1, (hidden, n_in)).astype(np.float32),
        np.zeros(hidden, np.float32),
        rng.uniform(-lim2, lim2, (n_classes, hidden)).astype(np.float32),
        np.zeros(n_classes, np.float32),
    ]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    step = 0
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not show, file=sys.stderr)
    for epoch in bar:
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            xb, yb = x[idx], y[idx]
            w1, b1, w2, b2 = params
            z1 = xb @ w1.T + b1
            h = (z1 >= 0).astype(np.float32)
            z2 = h @ w2.T + b2
            norm = logsumexp(z2, axis=1)
            rows = np.arange(len(yb))
            total += float(np.sum(norm - z2[rows, yb]))
            d2 = np.exp(z2 - norm[:, None]).astype(np.float32)
            d2[rows, yb] -= 1
            d2 /= len(yb)
            s = expit(z1 / surrogate_width)
            d1 = (d2 @ w2) * (s * (1 - s) / surrogate_width).astype(np.float32)
            grads = [d1.T @ xb, d1.sum(axis=0), d2.T @ h, d2.sum(axis=0)]
            step += 1
            for p, g, a, b in zip(params, grads, m1, m2):
                a += (1 - beta1) * (g - a)
                b += (1 - beta2) * (g * g - b)
                p -= lr * (a / (1 - beta1**step)) / (np.sqrt(b / (1 - beta2**step)) + eps)
                np.clip(p, -weight_clip, weight_clip, out=p)
        loss = total / n
        if not math.isfinite(loss):
            raise NeurosimError(f"training diverged at epoch {epoch + 1}; lower lr (now {lr})")
        bar.set_postfix(loss=f"{loss:.4f}")
        logger.info("epoch %d/%d: training loss %.5f (lr %.3g)", epoch + 1, epochs, loss, lr)
        lr *= lr_decay
    w1, b1, w2, b2 = params
    return [(w1, b1), (w2, b2)]


# -- files -----------------------------------------------------------------------------------------
def save_threshold_model(model: ThresholdMLP, path) -> Path:
    """Write ``NAME.npz`` and ``NAME.json`` (each atomically) in the one model format; return the JSON path."""
    return write_model_file(
        path, model.layers, output=Output.SOFTMAX_CROSS_ENTROPY, preprocessing=model.preprocessing, info=model.info
    )


def load_threshold_model(path) -> ThresholdMLP:
    """Load and check a model file (format, shapes, SHA-256) whose layers are a threshold MLP (:data:`LAYER_PATTERN`)."""
    file = read_model_file(path)
    pattern = tuple((layer.kind, layer.activation) for layer in file.layers)
    if pattern != LAYER_PATTERN:
        npz_path, json_path = model_paths(path)
        raise ModelError(
            f"model {npz_path} / {json_path} has layers {[(k, a.value) for k, a in pattern]}; a threshold MLP has "
            f"{[(k, a.value) for k, a in LAYER_PATTERN]}"
        )
    return ThresholdMLP(layer_params(file.layers), file.preprocessing, file.info)


def resolve_threshold_model(name_or_path) -> ThresholdMLP:
    """A threshold model by path (with or without suffix) or shipped name (``threshold_mnist``)."""
    if isinstance(name_or_path, ThresholdMLP):
        return name_or_path
    npz, _ = model_paths(name_or_path)
    if npz.exists() or "/" in str(name_or_path):
        return load_threshold_model(name_or_path)
    shipped = shipped_dir("models") / Path(str(name_or_path)).name
    if model_paths(shipped)[0].exists():
        return load_threshold_model(shipped)
    raise NeurosimError(f"unknown threshold model '{name_or_path}'; shipped: {SHIPPED_MODEL} (or give a path)")


def retrain_threshold_model(out="models", seed: int = 0, *, progress=None) -> Path:
    """Retrain the shipped model on the 60,000 MNIST training images and save it as ``out/threshold_mnist``.

    Needs the MNIST training split (``NEUROSIM_DATA`` or the user cache).
    Returns the JSON path.
    """
    from neurosim.data.idx import encode_idx
    from neurosim.data.mnist import load_mnist

    images, labels = load_mnist("train")
    test_images, test_labels = load_mnist("test")
    x = preprocess(images, Preprocessing.CROP20_BINARIZE)
    xt = preprocess(test_images, Preprocessing.CROP20_BINARIZE)
    start = time.perf_counter()
    settings = {k: v for k, v in TRAINING.items() if k != "optimizer"}
    params = train_threshold_mlp(x, labels, rng=np.random.default_rng(seed), progress=progress, **settings)
    elapsed = time.perf_counter() - start
    model = ThresholdMLP(params, Preprocessing.CROP20_BINARIZE)
    info = {
        "description": "binarised 400-256-10 MLP: binary inputs (central 20x20 MNIST pixels > 0.5), "
        "hidden threshold units h = [W0 x + b0 >= 0], winner-take-all read-out argmax(W1 h + b1); "
        "weights and biases in [-1, 1]",
        "dataset": {
            "name": "MNIST",
            "train_images": int(len(labels)),
            "test_images": int(len(test_labels)),
            "train_images_md5": hashlib.md5(encode_idx(images), usedforsecurity=False).hexdigest(),
        },
        "training": {
            **TRAINING,
            "loss": "softmax cross-entropy on the read-out sums",
            "step_gradient": "straight-through estimator: d step(z)/dz replaced by s'(z/w)/w, s the logistic sigmoid, w = surrogate_width",
            "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
            "init": "Glorot uniform weights, zero biases",
            "clip": "weights and biases clipped to [-weight_clip, weight_clip] after every step",
            "lr_schedule": "lr multiplied by lr_decay after every epoch",
        },
        "seed": int(seed),
        "rng_stream": f"numpy default_rng({seed}): initial weights, then one permutation per epoch",
        "retrain": {
            "command": f"neurosim logic train-mnist --out {out} --seed {seed}",
            "python": f"from neurosim.networks.threshold.mnist import retrain_threshold_model; retrain_threshold_model({str(out)!r}, seed={seed})",
            "data": "MNIST training split via NEUROSIM_DATA or the user cache",
        },
        "accuracy": {"train": model.accuracy(x, labels), "test": model.accuracy(xt, test_labels)},
        "train_time_s": round(elapsed, 1),
        "versions": versions(),
        **git_state(),
    }
    model = ThresholdMLP(params, Preprocessing.CROP20_BINARIZE, info)
    path = save_threshold_model(model, Path(out) / SHIPPED_MODEL)
    logger.info("wrote %s: test accuracy %.4f", path, info["accuracy"]["test"])
    return path


# -- hardware evaluation (sweep task) -------------------------------------------------------------
_PLAIN = {"model", "device", "test_images"}
_GROUPS = ["device", "crossbar", "threshold"]

#: Crossbar settings of the task unless the settings override them: one 512-row array per column
#: (every hidden unit is a single analog column sum into its comparator).
TASK_CROSSBAR = {"rows": 512, "cols": 128}


def resolve_settings(settings: dict):
    """(model, device, threshold config, test image count) for a task's settings."""
    from neurosim.settings import device_with_overrides, replace_fields, split_settings

    plain, groups = split_settings(settings, _PLAIN, _GROUPS)
    device = device_with_overrides(plain.get("device", "sige_epiram"), groups["device"])
    crossbar = replace_fields(CrossbarConfig(), {**TASK_CROSSBAR, **groups["crossbar"]}, "crossbar")
    base = ThresholdConfig(crossbar=crossbar, centre_integer_thresholds=False)
    config = replace_fields(base, groups["threshold"], "threshold", exclude=("crossbar",))
    n = plain.get("test_images")
    if n is not None:
        whole("test_images", n, 1)
    return resolve_threshold_model(plain.get("model", SHIPPED_MODEL)), device, config, n


@lru_cache(maxsize=2)
def _test_set(preprocessing: str):
    from neurosim.data.mnist import load_mnist

    images, labels = load_mnist("test")
    return preprocess(images, preprocessing), labels


def hardware_accuracy(settings: dict, rng=None) -> dict:
    """Accuracy of the threshold model on crossbars of a device, on the MNIST test set.

    Settings (flat keys, see :mod:`neurosim.settings`): ``model`` (default
    ``threshold_mnist``), ``device`` (default ``sige_epiram``), ``device.<field>``
    (any DeviceModel field), ``crossbar.<field>`` (CrossbarConfig; default
    512-row arrays), ``threshold.<field>`` (ThresholdConfig: ``threshold_mode``,
    ``headroom``, ``comparator_offset_A``, ``comparator_noise_A``),
    ``test_images`` (first N, default all 10,000). Returns ``accuracy``,
    ``software_accuracy`` (the same images in float64 software), ``test_images``
    and the run's event totals ``events_<name>`` (:mod:`neurosim.events`: programming and the test reads).
    """
    result, hw = hardware_run(settings, rng)
    return {**result, **event_metrics(hw.events)}


def hardware_run(settings: dict, rng=None) -> tuple[dict, CrossbarThresholdNetwork]:
    """:func:`hardware_accuracy` without the event metrics, and the network it read (its per-layer events)."""
    rng = as_generator(rng)
    model, device, config, n = resolve_settings(settings)
    x, y = _test_set(model.preprocessing.value)
    from neurosim.data.mnist import first_images

    x, y = first_images(x, y, n)
    n = len(y)
    x = x.astype(np.uint8)
    network = model.to_network()
    software = float(np.mean(np.argmax(network.evaluate(x), axis=1) == y))
    hw = CrossbarThresholdNetwork(network, device, config, rng)
    acc = float(np.mean(hw.classify(x, rng) == y))
    return {"accuracy": acc, "software_accuracy": software, "test_images": int(n)}, hw


def accuracy_point(settings: dict, rng: np.random.Generator) -> dict:
    """Sweep task (``task = "neurosim.networks.threshold.mnist:accuracy_point"``): :func:`hardware_accuracy`."""
    return hardware_accuracy(settings, rng)


def check_settings(settings: dict) -> None:
    """Raise :class:`NeurosimError` if ``settings`` cannot be run."""
    resolve_settings(settings)


#: The sweep task ``threshold_mnist``.
TASK = Task(
    name="threshold_mnist",
    run=accuracy_point,
    plain_settings=_PLAIN,
    setting_groups=_GROUPS,
    check=check_settings,
    metrics=("accuracy", "software_accuracy", "test_images", *EVENT_METRICS),
    description="accuracy of the threshold-unit MNIST model on crossbars of a device",
)
