"""The training loop: epochs of randomly drawn images, test accuracy per epoch, checkpoints and resume.

:func:`train_insitu` trains on a device (every weight change is a pulse train
on the devices); :func:`train_software` trains the same network with float
weights (the software baseline). Both follow the same protocol
(:class:`~neurosim.networks.insitu.config.InsituConfig`) and return an
:class:`InsituResult` with the per-epoch history.

Randomness. A run is a pure function of its seed: ``SeedSequence(seed)``
gives three children: (0) device variation, initial weights and their
programming noise, (1) the image order (a ``Generator`` whose state is
checkpointed), (2) the key of the counter-based stream of every in-training
draw (read noise, cycle-to-cycle noise, stochastic rounding), indexed by
(image number in the run, device). Test-set reads after epoch ``e`` draw
from ``SeedSequence([key, e])``.

Resume. Given ``out_dir``, the run writes ``checkpoint.npz`` there every
``checkpoint_every_epochs`` epochs (atomically: device state, velocities,
the image-order generator's state, the epoch counter and the history). A
later call with the same folder, device, settings and seed continues from it
and ends in the same state as an uninterrupted run; ``epochs`` may be raised
to extend a finished run.
"""

import csv
import io
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from neurosim.files import read_npz, write_atomic
from neurosim.device import DeviceModel, device_to_mapping, load_device
from neurosim.errors import NeurosimError
from neurosim.energy.sums import AnalogSums
from neurosim.events import EventCounts, report
from neurosim.provenance import write_result
from neurosim.networks.insitu import kernels as K
from neurosim.networks.insitu.config import REFERENCE_PROTOCOL, InsituConfig, float_baseline_config
from neurosim.networks.insitu.data import InsituData, load_mnist_data
from neurosim.networks.insitu.network import DeviceNetwork, FloatNetwork

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.npz"
HISTORY_CSV = "history.csv"
RUN_JSON = "run.json"
CURVE_PNG = "learning_curve.png"
FORMAT = "neurosim.insitu/1"
#: Settings that may change between sessions of one run (they do not change what is trained).
_RESUMABLE = {"epochs", "checkpoint_every_epochs"}
_BACKENDS = ("numba", "numpy")


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch did."""

    epoch: int
    #: Training images seen since the start of the run.
    images: int
    #: Test accuracy after the epoch (hardware forward pass); None if not evaluated this epoch.
    test_accuracy: float | None
    #: Fraction of this epoch's training images classified correctly by the forward pass that trained on them.
    train_accuracy: float
    #: Mean over this epoch's images of ``sum_k (a_k - t_k)^2``.
    train_loss: float
    #: Potentiation and depression pulses applied, and device writes (a write is one pulse train on one device).
    pulses_ltp: int = 0
    pulses_ltd: int = 0
    writes: int = 0
    #: ADC conversions that clipped (hidden and output layer, transposed reads).
    adc_clipped: int = 0
    #: Wall time of the epoch (training and evaluation).
    time_s: float = 0.0
    #: The epoch's hardware events per layer (hidden, output; :mod:`neurosim.events`) as plain dicts:
    #: ``{"training": [...], "evaluation": [...]}`` (the training kernel's reads and pulses, the test reads),
    #: and their conductance sums (:mod:`neurosim.energy.sums`) as ``"sums": {"training": [...], "evaluation":
    #: [...]}``; empty for the software baseline. Not a column of the history CSV.
    events: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class InsituResult:
    """A finished (or resumed-and-finished) run."""

    config: InsituConfig
    #: The device trained on; None for the software baseline.
    device: DeviceModel | None
    history: tuple
    network: object
    #: The seed as given (an int), or None when a Generator or fresh entropy was used.
    seed: int | None
    #: Entropy of the run's root SeedSequence (reproduces the run with any seed form).
    entropy: int
    data_source: str = ""
    #: Training and evaluation time summed over all sessions of the run (s).
    time_s: float = 0.0
    #: Files written (checkpoint, CSV, JSON, plot) when trained into a folder.
    files: dict = field(default_factory=dict)

    @property
    def accuracies(self) -> list[tuple[int, float]]:
        """``(epoch, test accuracy)`` of every evaluated epoch."""
        return [(r.epoch, r.test_accuracy) for r in self.history if r.test_accuracy is not None]

    @property
    def final_accuracy(self) -> float:
        """Test accuracy after the last epoch."""
        return self.history[-1].test_accuracy

    @property
    def best_accuracy(self) -> float:
        return max(a for _, a in self.accuracies)

    def layer_events(self, phase: str | None = None) -> list[EventCounts]:
        """Per layer (hidden, output): the events of ``phase`` (``"training"``, ``"evaluation"``, or None for
        both) summed over the epochs (zero counts for the software baseline; definitions in :mod:`neurosim.events`)."""
        if phase not in (None, "training", "evaluation"):
            raise NeurosimError(f"phase must be 'training', 'evaluation' or None (both), got {phase!r}")
        out = [EventCounts(), EventCounts()]
        for record in self.history:
            for name in ("training", "evaluation") if phase is None else (phase,):
                for i, counts in enumerate(record.events.get(name, ())):
                    out[i] = out[i] + EventCounts(**counts)
        return out

    def layer_sums(self, phase: str) -> list[AnalogSums]:
        """Per layer (hidden, output): the conductance sums of ``phase`` (``"training"`` or ``"evaluation"``) summed
        over the epochs (zero for the software baseline and for epochs recorded before they were kept)."""
        if phase not in ("training", "evaluation"):
            raise NeurosimError(f"phase must be 'training' or 'evaluation', got {phase!r}")
        out = [AnalogSums(), AnalogSums()]
        for record in self.history:
            for i, sums in enumerate(record.events.get("sums", {}).get(phase, ())):
                out[i] = out[i] + AnalogSums(**sums)
        return out

    def events_report(self) -> dict:
        """The run's events as JSON: ``layers``/``total`` of the whole run, and ``training`` and ``evaluation``
        in the same shape."""
        phases = {name: report(self.layer_events(name)) for name in ("training", "evaluation")}
        return {**report(self.layer_events()), **phases}

    def summary(self) -> dict:
        """Plain JSON values: settings, device, seed, history and accuracies."""
        return {
            "kind": "software" if self.device is None else "device",
            "device": None if self.device is None else self.device.name,
            "seed": self.seed,
            "entropy": str(self.entropy),
            "config": self.config.to_dict(),
            "data": self.data_source,
            "final_accuracy": self.final_accuracy,
            "best_accuracy": self.best_accuracy,
            "epochs_trained": len(self.history),
            "time_s": round(self.time_s, 3),
            "history": [asdict(r) for r in self.history],
            "events": self.events_report(),
            "files": {k: str(v) for k, v in self.files.items()},
        }


# -- seeds -------------------------------------------------------------------------------------
def _root_seed(rng) -> tuple[np.random.SeedSequence | None, int | None]:
    """(root SeedSequence or None for "take it from the checkpoint", the int seed if one was given)."""
    if rng is None:
        return None, None
    if isinstance(rng, bool):
        raise NeurosimError(f"rng must be an int seed, a SeedSequence, a Generator or None, got {rng!r}")
    if isinstance(rng, (int, np.integer)):
        if rng < 0:
            raise NeurosimError(f"seed must be >= 0, got {rng}")
        return np.random.SeedSequence(int(rng)), int(rng)
    if isinstance(rng, np.random.SeedSequence):
        return rng, None
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63))), None
    raise NeurosimError(f"rng must be an int seed, a SeedSequence, a Generator or None, got {rng!r}")


def _child(root: np.random.SeedSequence, i: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (i,))


def _eval_key(key: int, epoch: int) -> int:
    return int(np.random.SeedSequence([int(key), int(epoch)]).generate_state(1, np.uint64)[0])


# -- provenance ----------------------------------------------------------------------------------
def _identity(kind, device, config, root) -> dict:
    """What must match for a checkpoint to be resumed."""
    settings = {k: v for k, v in config.to_dict().items() if k not in _RESUMABLE}
    return {
        "kind": kind,
        "device": None if device is None else device_to_mapping(device),
        "settings": settings,
        "entropy": str(root.entropy),
        "spawn_key": list(root.spawn_key),
    }


# -- outputs ---------------------------------------------------------------------------------
def history_csv(history) -> str:
    """The history as CSV text (one row per epoch; empty test accuracy where not evaluated)."""
    buf = io.StringIO()
    names = [f for f in EpochRecord.__dataclass_fields__ if f != "events"]
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for r in history:
        row = []
        for name in names:
            v = getattr(r, name)
            row.append("" if v is None else (f"{v:.6g}" if isinstance(v, float) else v))
        writer.writerow(row)
    return buf.getvalue()


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda fh: fh.write(text.encode()))


def _save_checkpoint(path: Path, network, meta: dict) -> None:
    arrays = dict(network.state_arrays())
    arrays["meta"] = np.array(json.dumps(meta))
    write_atomic(path, lambda fh: np.savez(fh, **arrays))


def load_checkpoint(path) -> tuple[dict, dict]:
    """``(meta, arrays)`` of a run's ``checkpoint.npz``."""
    arrays = read_npz(path, "an in-situ training checkpoint")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, json.JSONDecodeError) as exc:
        raise NeurosimError(f"{path}: not an in-situ training checkpoint ({exc})") from None
    if meta.get("format") != FORMAT:
        raise NeurosimError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta, arrays


def load_trained(path):
    """The trained network and its settings from a run folder or its ``checkpoint.npz``.

    Returns ``(network, config, device)``: a :class:`DeviceNetwork` with the
    trained conductances (``device`` its model) or a :class:`FloatNetwork`
    (``device`` None).
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    meta, arrays = load_checkpoint(path)
    config = InsituConfig.from_dict(meta["config"])
    if meta["identity"]["kind"] == "software":
        net = FloatNetwork(config, 0)
        net.load_state_arrays(arrays)
        return net, config, None
    from neurosim.device import device_from_mapping

    device = device_from_mapping(meta["identity"]["device"], str(path))
    return DeviceNetwork.from_state_arrays(device, config, arrays), config, device


# -- the loop --------------------------------------------------------------------------------------
def _progress_bar(total, initial, desc, progress):
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(total=total, initial=initial, desc=desc, unit="img", unit_scale=True, disable=not show, file=sys.stderr)


def _run(kind, device, config, data, rng, out_dir, progress, backend, chunk_images, callback) -> InsituResult:
    if not isinstance(config, InsituConfig):
        raise NeurosimError(f"config must be an InsituConfig, got {type(config).__name__}")
    if backend not in _BACKENDS:
        raise NeurosimError(f"backend must be one of {list(_BACKENDS)}, got {backend!r}")
    if isinstance(chunk_images, bool) or not isinstance(chunk_images, int) or chunk_images < 1:
        raise NeurosimError(f"chunk_images = {chunk_images!r} must be a whole number >= 1")
    root, seed = _root_seed(rng)
    out = None if out_dir is None else Path(out_dir)
    ckpt = None if out is None else out / CHECKPOINT
    meta = None
    if ckpt is not None and ckpt.exists():
        meta, arrays = load_checkpoint(ckpt)
        saved = meta["identity"]
        if root is None:
            root = np.random.SeedSequence(int(saved["entropy"]), spawn_key=tuple(saved["spawn_key"]))
            seed = meta.get("seed")
        ident = _identity(kind, device, config, root)
        if ident != saved:
            differ = sorted(k for k in ident if ident[k] != saved.get(k))
            detail = ""
            if "settings" in differ:
                keys = sorted(k for k in ident["settings"] if ident["settings"][k] != saved["settings"].get(k))
                detail = f" (settings {keys})"
            raise NeurosimError(
                f"{out} holds a run with different {', '.join(differ)}{detail}; "
                "use another output folder or delete its checkpoint.npz to start over"
            )
        if meta["epochs_done"] > config.epochs:
            raise NeurosimError(
                f"{out} already holds {meta['epochs_done']} trained epochs, more than epochs = {config.epochs}"
            )
    if root is None:
        root = np.random.SeedSequence()
    if data is None:
        data = load_mnist_data(config.preprocessing, config.test_images)
    if not isinstance(data, InsituData):
        raise NeurosimError(f"data must be an InsituData, got {type(data).__name__}")
    data.check(config.sizes)
    if meta is not None and meta.get("data") != data.source:
        raise NeurosimError(f"{out} holds a run trained on {meta.get('data')!r}, not on {data.source!r}")
    identity = _identity(kind, device, config, root)

    # -- state: fresh or from the checkpoint
    if meta is None:
        init_rng = np.random.default_rng(_child(root, 0))
        network = FloatNetwork(config, init_rng) if kind == "software" else DeviceNetwork(device, config, init_rng)
        order_rng = np.random.default_rng(_child(root, 1))
        history, epochs_done, spent_s = [], 0, 0.0
    else:
        network = FloatNetwork(config, 0) if kind == "software" else DeviceNetwork.from_state_arrays(device, config, arrays)
        if kind == "software":
            network.load_state_arrays(arrays)
        order_rng = np.random.default_rng(_child(root, 1))
        order_rng.bit_generator.state = meta["order_rng_state"]
        history = [EpochRecord(**r) for r in meta["history"]]
        epochs_done, spent_s = int(meta["epochs_done"]), float(meta.get("time_s", 0.0))
        logger.info("resuming %s from epoch %d of %d", out, epochs_done, config.epochs)
    key = int(_child(root, 2).generate_state(1, np.uint64)[0])
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    n_test = data.test_x.shape[0] if config.test_images is None else min(config.test_images, data.test_x.shape[0])
    x_test, y_test = data.test_x[:n_test], data.test_labels[:n_test]
    ipe = config.images_per_epoch
    name = "software" if kind == "software" else device.name
    files = {}

    def save(last: bool):
        meta_out = {
            "format": FORMAT,
            "identity": identity,
            "seed": seed,
            "config": config.to_dict(),
            "epochs_done": len(history),
            "order_rng_state": order_rng.bit_generator.state,
            "history": [asdict(r) for r in history],
            "time_s": spent_s,
            "data": data.source,
        }
        _save_checkpoint(ckpt, network, meta_out)
        files["checkpoint"] = ckpt
        _write_text(out / HISTORY_CSV, history_csv(history))
        files["history"] = out / HISTORY_CSV
        result = _result()
        write_result(out / RUN_JSON, {**result.summary(), "complete": last}, config=config, seed=result.seed)
        files["json"] = out / RUN_JSON

    def _result():
        return InsituResult(
            config=config,
            device=None if kind == "software" else device,
            history=tuple(history),
            network=network,
            seed=seed,
            entropy=int(root.entropy),
            data_source=data.source,
            time_s=spent_s,
            files=dict(files),
        )

    if callback is not None:
        for record in history:  # epochs restored from the checkpoint
            callback(record)
    bar = _progress_bar(config.epochs * ipe, epochs_done * ipe, f"in-situ {name}", progress)
    try:
        for epoch in range(epochs_done, config.epochs):
            start = time.perf_counter()
            order = order_rng.integers(0, data.n_train, ipe)
            stats = np.zeros(K.ST_SIZE, dtype=np.int64)
            loss = np.zeros(K.LS_SIZE)  # the squared error, then the conductance sums (K.LS_*)
            for c0 in range(0, ipe, chunk_images):
                chunk = order[c0 : c0 + chunk_images]
                if kind == "software":
                    network.train_chunk(data.csr, data.train_labels, chunk, 0, stats, loss, backend)
                else:
                    network.train_chunk(data.csr, data.train_labels, chunk, epoch * ipe + c0, stats, loss, key, backend)
                bar.update(len(chunk))
            last = epoch + 1 == config.epochs
            accuracy = None
            if kind != "software":
                network.reset_read_events()
            if last or (epoch + 1) % config.eval_every_epochs == 0:
                z = network.forward(x_test, _eval_key(key, epoch))
                accuracy = float(np.mean(np.argmax(z, axis=1) == y_test))
            events = {}
            if kind != "software":
                events = {"training": [c.to_dict() for c in K.layer_events(stats)],
                          "evaluation": [c.to_dict() for c in network.read_events],
                          "sums": {"training": [c.to_dict() for c in K.layer_sums(loss)],
                                   "evaluation": [c.to_dict() for c in network.read_sums]}}  # fmt: skip
            elapsed = time.perf_counter() - start
            spent_s += elapsed
            record = EpochRecord(
                epoch=epoch + 1,
                images=(epoch + 1) * ipe,
                test_accuracy=accuracy,
                train_accuracy=float(stats[K.ST_CORRECT] / ipe),
                train_loss=float(loss[0] / ipe),
                pulses_ltp=int(stats[K.ST_PULSES_LTP]),
                pulses_ltd=int(stats[K.ST_PULSES_LTD]),
                writes=int(stats[K.ST_WRITES]),
                adc_clipped=int(stats[K.ST_CLIP_HIDDEN] + stats[K.ST_CLIP_OUTPUT] + stats[K.ST_CLIP_BACKWARD]),
                time_s=elapsed,
                events=events,
            )
            history.append(record)
            if not math.isfinite(record.train_loss):
                raise NeurosimError(f"training diverged at epoch {epoch + 1} (loss {record.train_loss})")
            shown = "-" if accuracy is None else f"{100 * accuracy:.2f} %"
            logger.info(
                "%s epoch %d/%d: test %s, train %.2f %%, %.1f pulses/image, %.2f s",
                name, epoch + 1, config.epochs, shown, 100 * record.train_accuracy,
                (record.pulses_ltp + record.pulses_ltd) / ipe, elapsed,
            )  # fmt: skip
            if out is not None and (last or (epoch + 1) % config.checkpoint_every_epochs == 0):
                save(last)
            if callback is not None:
                callback(record)
    finally:
        bar.close()
    if out is not None:
        if epochs_done == config.epochs:  # nothing left to train: rewrite the outputs
            save(True)
        from neurosim.networks.insitu.plotting import plot_learning_curve
        from neurosim.plots import save_figure

        ax = plot_learning_curve(history, label=name)
        ax.set_title(f"in-situ training on {name}: {config.sizes[0]}-{config.sizes[1]}-{config.sizes[2]}, "
                     f"{config.epochs} x {ipe} images", fontsize=10)  # fmt: skip
        save_figure(ax.figure, out / CURVE_PNG)
        files["plot"] = out / CURVE_PNG
    return _result()


def train_insitu(
    device,
    config: InsituConfig = REFERENCE_PROTOCOL,
    *,
    rng=0,
    data: InsituData | None = None,
    out_dir=None,
    progress: bool | None = None,
    backend: str = "numba",
    chunk_images: int = 1000,
    callback=None,
) -> InsituResult:
    """Train the network of ``config`` on ``device`` (a :class:`~neurosim.device.DeviceModel` or card name).

    ``rng``: int seed (default 0), SeedSequence, Generator, or None (fresh
    entropy; with ``out_dir`` holding a checkpoint: that run's seed).
    ``data``: an :class:`~neurosim.networks.insitu.data.InsituData`; None
    loads MNIST through ``config.preprocessing`` (the training split needs
    ``NEUROSIM_DATA`` or the user cache). ``out_dir``: folder for the
    checkpoint, ``history.csv``, ``run.json`` and ``learning_curve.png``;
    an existing checkpoint there is resumed. ``progress``: tqdm bar (None:
    only when stderr is a terminal). ``backend``: "numba" or "numpy" (the
    twin: slow, for checks). ``chunk_images``: images per kernel call (does
    not change the result). ``callback(record)`` is called after every epoch
    (first for the epochs restored from a checkpoint).
    """
    if not isinstance(device, DeviceModel):
        device = load_device(device)
    return _run("device", device, config, data, rng, out_dir, progress, backend, chunk_images, callback)


def train_software(
    config: InsituConfig = REFERENCE_PROTOCOL,
    *,
    rng=0,
    data: InsituData | None = None,
    out_dir=None,
    progress: bool | None = None,
    backend: str = "numba",
    chunk_images: int = 1000,
    callback=None,
    float_baseline: bool = True,
) -> InsituResult:
    """Train the same network and protocol in software (float weights clipped to ``±weight_max``).

    With ``float_baseline`` (default) the hidden threshold and the ADC are
    switched off (:func:`~neurosim.networks.insitu.config.float_baseline_config`);
    with ``float_baseline=False`` the config is used as given, which isolates
    the effect of the threshold and the ADC from that of the devices.
    Arguments as in :func:`train_insitu`.
    """
    if float_baseline:
        config = float_baseline_config(config)
    return _run("software", None, config, data, rng, out_dir, progress, backend, chunk_images, callback)

