"""Diehl & Cook (2015) on MNIST: unsupervised training, label assignment, test; checkpointed and resumable.

A run has three phases, each a pass over images shown with
:meth:`PlasticNetwork.present`:

1. ``train``: ``epochs`` passes over the first ``train_images`` training
   images in their order, with STDP, adaptive thresholds and weight normalisation;
2. ``assign``: learning and threshold adaptation off, the responses (excitatory
   spike counts) to the first ``assign_images`` training images; each neuron
   gets the label whose images made it fire most on average (Diehl & Cook's rule);
3. ``test``: the responses to the first ``test_images`` test images; an image
   is classified as the label whose assigned neurons fired most on average.

Resume. Given ``out_dir``, the whole state (network, device conductances,
counters, the phase, the position in it and the responses so far) is
written to ``checkpoint.npz`` every ``checkpoint_every`` images and at the
end of each phase (atomically). A later call with the same folder and
settings continues from it and ends in the same state as an uninterrupted
run (every random draw is a pure function of the seed and a counter).
"""

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from neurosim.device import DeviceModel, device_to_mapping
from neurosim.errors import NeurosimError
from neurosim.files import read_npz, write_atomic
from neurosim.networks.stdp.network import PlasticNetwork
from neurosim.networks.stdp.params import DiehlCookParams, STDPRule
from neurosim.provenance import write_result
from neurosim.validation import whole

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.npz"
RUN_JSON = "run.json"
FIELDS_PNG = "receptive_fields.png"
FORMAT = "neurosim.stdp/1"
PHASES = ("train", "assign", "test", "done")
#: Settings that may change between sessions of one run (they do not change what is computed).
_RESUMABLE = {"checkpoint_every"}


@dataclass(frozen=True)
class StdpConfig:
    """What one run does (image counts are per phase; ``train_images`` per epoch)."""

    n_neurons: int = 100
    epochs: int = 1
    train_images: int = 60000
    assign_images: int = 10000
    test_images: int = 10000
    checkpoint_every: int = 1000

    def __post_init__(self):
        whole("n_neurons", self.n_neurons, 1)
        whole("epochs", self.epochs, 0)
        whole("train_images", self.train_images, 0, high=60000)
        whole("assign_images", self.assign_images, 1, high=60000)
        whole("test_images", self.test_images, 1, high=10000)
        whole("checkpoint_every", self.checkpoint_every, 1)


def assign_labels(responses: np.ndarray, labels: np.ndarray, n_labels: int = 10) -> np.ndarray:
    """Each neuron's label: the one whose images gave it the highest mean spike count (``responses (images, N)``)."""
    means = np.stack([responses[labels == c].mean(axis=0) if np.any(labels == c) else np.zeros(responses.shape[1])
                      for c in range(n_labels)])
    return np.argmax(means, axis=0)


def classify(responses: np.ndarray, assignments: np.ndarray, n_labels: int = 10) -> np.ndarray:
    """Predicted label of each image: the label whose assigned neurons fired most on average (none assigned: never)."""
    scores = np.full((responses.shape[0], n_labels), -np.inf)
    for c in range(n_labels):
        mine = assignments == c
        if mine.any():
            scores[:, c] = responses[:, mine].mean(axis=1)
    return np.argmax(scores, axis=1)


@dataclass(frozen=True, eq=False)
class StdpResult:
    config: StdpConfig
    device: DeviceModel | None
    seed: int
    accuracy: float
    assignments: np.ndarray
    network: PlasticNetwork
    #: Wall time per phase (s), summed over sessions, and images shown per phase.
    time_s: dict
    images: dict
    files: dict = field(default_factory=dict)

    @property
    def train_images_per_s(self) -> float:
        t = self.time_s.get("train", 0.0)
        return self.images.get("train", 0) / t if t > 0 else float("nan")

    def summary(self) -> dict:
        net = self.network
        return {
            "device": "ideal (exact weights)" if self.device is None else self.device.name,
            "seed": self.seed,
            "config": asdict(self.config),
            "accuracy": self.accuracy,
            "time_s": {k: round(v, 3) for k, v in self.time_s.items()},
            "images": self.images,
            "train_images_per_s": round(self.train_images_per_s, 3),
            "steps": net.step,
            "events": {k: int(v) for k, v in asdict(net.events).items() if v},
            "label_counts": np.bincount(self.assignments, minlength=10).tolist(),
            "files": {k: str(v) for k, v in self.files.items()},
        }


def _identity(config, device, seed, params, rule) -> dict:
    return {
        "config": {k: v for k, v in asdict(config).items() if k not in _RESUMABLE},
        "device": None if device is None else device_to_mapping(device),
        "seed": seed,
        "params": json.loads(json.dumps(asdict(params), default=str)),
        "rule": json.loads(json.dumps(asdict(rule), default=str)),
    }


def _save(path: Path, net: PlasticNetwork, meta: dict, responses: dict) -> None:
    arrays = net.state_arrays()
    arrays.update({f"responses_{k}": v for k, v in responses.items()})
    arrays["meta"] = np.array(json.dumps(meta))
    write_atomic(path, lambda fh: np.savez(fh, **arrays))


def train_stdp(config: StdpConfig, device: DeviceModel | None, seed: int, data, *, out_dir=None,
               params: DiehlCookParams | None = None, rule: STDPRule | None = None, callback=None) -> StdpResult:
    """Run (or resume) the three phases; ``data``: ``(x_train, y_train, x_test, y_test)``, pixels in [0, 1].

    ``callback(phase, done, total)`` is called after every image.
    """
    params, rule = params or DiehlCookParams(), rule or STDPRule()
    x_train, y_train, x_test, y_test = data
    if config.train_images > len(x_train) or config.assign_images > len(x_train) or config.test_images > len(x_test):
        raise NeurosimError(f"the data has {len(x_train)} training and {len(x_test)} test images; fewer than the run asks for")
    n_in = x_train.shape[1]
    net = PlasticNetwork(n_in, config.n_neurons, params=params, rule=rule, device=device, seed=seed)
    identity = _identity(config, device, seed, params, rule)
    totals = {"train": config.epochs * config.train_images, "assign": config.assign_images, "test": config.test_images}
    responses = {"assign": np.zeros((config.assign_images, config.n_neurons), np.int32),
                 "test": np.zeros((config.test_images, config.n_neurons), np.int32)}
    phase, done = "train", 0
    time_s = {"train": 0.0, "assign": 0.0, "test": 0.0}
    path = None if out_dir is None else Path(out_dir) / CHECKPOINT
    if path is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        if path.exists():
            arrays = read_npz(path, "an stdp checkpoint")
            meta = json.loads(str(arrays.pop("meta", np.array("{}"))))
            if meta.get("format") != FORMAT:
                raise NeurosimError(f"{path}: not an stdp checkpoint (format {meta.get('format')!r})")
            if meta["identity"] != identity:
                raise NeurosimError(f"{path}: the checkpoint was made with other settings, device or seed; "
                                    "use another --out folder or the same settings")
            net.load_state(arrays)
            phase, done, time_s = meta["phase"], meta["done"], meta["time_s"]
            for k in responses:
                responses[k][...] = arrays[f"responses_{k}"]
            log.info("resuming %s at %s image %d", path, phase, done)

    def checkpoint():
        if path is not None:
            _save(path, net, {"format": FORMAT, "identity": identity, "phase": phase, "done": done, "time_s": time_s}, responses)

    sources = {"train": x_train, "assign": x_train, "test": x_test}
    while phase != "done":
        net.plastic = net.adaptive = phase == "train"
        images = sources[phase]
        t0 = time.perf_counter()
        last = done
        while done < totals[phase]:
            k = done % config.train_images if phase == "train" else done
            counts = net.present(images[k])
            if phase != "train":
                responses[phase][done] = counts
            done += 1
            if callback is not None:
                callback(phase, done, totals[phase])
            if done - last >= config.checkpoint_every and done < totals[phase]:
                time_s[phase] += time.perf_counter() - t0
                t0 = time.perf_counter()
                last = done
                checkpoint()
        time_s[phase] += time.perf_counter() - t0
        phase, done = PHASES[PHASES.index(phase) + 1], 0
        checkpoint()
    assignments = assign_labels(responses["assign"], y_train[: config.assign_images])
    predicted = classify(responses["test"], assignments)
    accuracy = float(np.mean(predicted == y_test[: config.test_images]))
    result = StdpResult(config, device, seed, accuracy, assignments, net, time_s, totals)
    if out_dir is not None:
        files = {"checkpoint": path, "run": Path(out_dir) / RUN_JSON, "receptive_fields": Path(out_dir) / FIELDS_PNG}
        result = StdpResult(config, device, seed, accuracy, assignments, net, time_s, totals, files)
        write_result(files["run"], result.summary(), config=asdict(config), seed=seed)
        _save_fields(files["receptive_fields"], net, assignments)
    return result


def _save_fields(path: Path, net: PlasticNetwork, assignments) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosim.networks.stdp.plots import plot_receptive_fields

    fig, ax = plt.subplots(figsize=(8, 8))
    plot_receptive_fields(net.weights, assignments, ax=ax)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
