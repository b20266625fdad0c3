"""The trained MLPs shipped in ``models/``, and the function that retrains them.

``mlp784``: 784-100-10, ReLU hidden units, softmax + cross-entropy, on MNIST
scaled to [0, 1]. ``mlp784_noisy``: the same, trained hardware-aware (weight
noise in every training forward pass) so that it tolerates programming noise. ``mlp400_binary``: NeuroSim's 400-100-10 benchmark network
(design.md section 4): sigmoid units, sigmoid + squared-error output, inputs
the central 20x20 pixels binarised at 0.5, weights and biases clipped to
[-1, 1] so that they map onto a conductance window. ``lenet5``: a
LeNet-5-style convolutional network (:func:`~neurosim.networks.cnn.lenet5`)
trained by the NumPy CNN trainer. All train on the 60000 MNIST training
images and report accuracy on the 10000 test images.
"""

import hashlib
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from neurosim.data.idx import encode_idx
from neurosim.data.mnist import load_mnist
from neurosim.data.preprocess import Preprocessing, preprocess
from neurosim.errors import NeurosimError
from neurosim.networks import cnn
from neurosim.networks.mlp import Activation, Output, train_mlp
from neurosim.networks.modelio import MLPModel, save_model, write_model_file
from neurosim.provenance import git_state, versions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceSpec:
    """How one shipped model is built: its architecture and :func:`train_mlp` keywords."""

    name: str
    description: str
    sizes: tuple
    activation: Activation
    output: Output
    preprocessing: Preprocessing
    training: dict


REFERENCE_SPECS = (
    ReferenceSpec(
        name="mlp784",
        description="784-100-10 ReLU MLP on MNIST pixels scaled to [0, 1]",
        sizes=(784, 100, 10),
        activation=Activation.RELU,
        output=Output.SOFTMAX_CROSS_ENTROPY,
        preprocessing=Preprocessing.NONE,
        training={
            "optimizer": "sgd",
            "lr": 0.1,
            "momentum": 0.9,
            "lr_decay": 0.9,
            "epochs": 20,
            "batch_size": 64,
        },
    ),
    ReferenceSpec(
        name="mlp400_binary",
        description=(
            "NeuroSim's 400-100-10 sigmoid MLP on the central 20x20 MNIST pixels binarised at 0.5, "
            "sigmoid + squared-error output, weights and biases clipped to [-1, 1]"
        ),
        sizes=(400, 100, 10),
        activation=Activation.SIGMOID,
        output=Output.SIGMOID_SQUARED_ERROR,
        preprocessing=Preprocessing.CROP20_BINARIZE,
        training={
            "optimizer": "sgd",
            "lr": 0.5,
            "momentum": 0.5,
            "lr_decay": 0.93,
            "epochs": 30,
            "batch_size": 16,
            "weight_clip": 1.0,
        },
    ),
)


_MLP784 = REFERENCE_SPECS[0]
REFERENCE_SPECS += (
    replace(
        _MLP784,
        name="mlp784_noisy",
        description=(
            "784-100-10 ReLU MLP trained like mlp784 but hardware-aware: Gaussian noise of 10 % of each "
            "layer's largest |w| added to the weights in every forward pass of training"
        ),
        training={**_MLP784.training, "weight_noise": 0.1},
    ),
)


@dataclass(frozen=True)
class CnnReferenceSpec:
    """How one shipped convolutional model is built: :func:`~neurosim.networks.cnn.lenet5` widths and :func:`~neurosim.networks.cnn.train_cnn` keywords."""

    name: str
    description: str
    channels: tuple
    hidden: tuple
    training: dict
    output: Output = Output.SOFTMAX_CROSS_ENTROPY
    preprocessing: Preprocessing = Preprocessing.NONE


REFERENCE_SPECS += (
    CnnReferenceSpec(
        name="lenet5",
        description=(
            "LeNet-5-style CNN on MNIST pixels scaled to [0, 1]: conv 5x5 (6 channels, padding 2) + ReLU + max pool 2, "
            "conv 5x5 (16 channels) + ReLU + max pool 2, dense 400-120-84-10 (ReLU)"
        ),
        channels=(6, 16),
        hidden=(120, 84),
        training={"optimizer": "adam", "lr": 1e-3, "lr_decay": 0.85, "epochs": 15, "batch_size": 64},
    ),
)
_LENET5 = REFERENCE_SPECS[-1]
REFERENCE_SPECS += (
    replace(
        _LENET5,
        name="lenet5_noisy",
        description=_LENET5.description + "; trained hardware-aware: Gaussian noise of 10 % of each layer's largest |w| "
        "added to the weights in every forward pass of training",
        training={**_LENET5.training, "weight_noise": 0.1},
    ),
)


def train_reference_cnn(spec: CnnReferenceSpec, train, test, rng, *, provenance: dict, progress=None):
    """Train the CNN ``spec`` like :func:`train_reference_model`; return ``(layers, info)`` for :func:`write_model_file`."""
    (train_images, train_labels), (test_images, test_labels) = train, test
    x_train = preprocess(train_images, spec.preprocessing)
    x_test = preprocess(test_images, spec.preprocessing)
    start = time.perf_counter()
    initial = cnn.lenet5(rng, spec.channels, spec.hidden, (1, *train_images.shape[1:]))
    layers = cnn.train_cnn(x_train, train_labels, initial, rng=rng, progress=progress, **spec.training)
    train_time_s = time.perf_counter() - start
    scores = {"train": cnn.accuracy(layers, x_train, train_labels), "test": cnn.accuracy(layers, x_test, test_labels)}
    logger.info("%s: train accuracy %.4f, test accuracy %.4f, %.1f s", spec.name, scores["train"], scores["test"], train_time_s)
    return layers, _info(spec, train_images, train_labels, test_labels, provenance, scores, train_time_s)


def _info(spec, train_images, train_labels, test_labels, provenance, scores, train_time_s) -> dict:
    return {
        "description": spec.description,
        "dataset": {
            "name": "MNIST",
            "train_images": len(train_labels),
            "test_images": len(test_labels),
            "train_images_md5": hashlib.md5(encode_idx(train_images), usedforsecurity=False).hexdigest(),
        },
        "training": dict(spec.training),
        **provenance,
        "accuracy": scores,
        "train_time_s": round(train_time_s, 1),
        "versions": versions(),
        **git_state(),
    }


def train_reference_model(
    spec: ReferenceSpec, train, test, rng, *, provenance: dict, progress=None
) -> MLPModel:
    """Train ``spec`` on ``train = (images, labels)``, score it on ``test``, return the model.

    Images are uint8 ``(n, 28, 28)``; ``rng`` seeds initialisation and
    shuffling; ``provenance`` (seed, retrain command, ...) is stored in the
    model's ``info`` next to the hyper-parameters, accuracies, versions and git state.
    """
    (train_images, train_labels), (test_images, test_labels) = train, test
    x_train = preprocess(train_images, spec.preprocessing)
    x_test = preprocess(test_images, spec.preprocessing)
    start = time.perf_counter()
    params = train_mlp(
        x_train,
        train_labels,
        spec.sizes,
        activation=spec.activation,
        output=spec.output,
        rng=rng,
        progress=progress,
        **spec.training,
    )
    train_time_s = time.perf_counter() - start
    model = MLPModel(params, spec.activation, spec.output, spec.preprocessing)
    scores = {"train": model.accuracy(x_train, train_labels), "test": model.accuracy(x_test, test_labels)}
    logger.info(
        "%s: train accuracy %.4f, test accuracy %.4f, %.1f s",
        spec.name,
        scores["train"],
        scores["test"],
        train_time_s,
    )
    info = _info(spec, train_images, train_labels, test_labels, provenance, scores, train_time_s)
    return MLPModel(params, spec.activation, spec.output, spec.preprocessing, info)


def retrain_reference_models(out_dir, seed=0, *, data_path=None, progress=None, only=None) -> list[Path]:
    """Train every model of :data:`REFERENCE_SPECS` (or those named in ``only``) on MNIST and save it in ``out_dir``.

    Model ``i`` draws its random numbers from ``SeedSequence(seed).spawn(n)[i]``.
    MNIST is found as by :func:`~neurosim.data.load_mnist` (``data_path`` is its
    ``path``; the training split may be downloaded). Returns the sidecar paths.
    The equivalent command is ``neurosim train-reference --out OUT_DIR --seed SEED``.
    """
    out_dir = Path(out_dir)
    names = [spec.name for spec in REFERENCE_SPECS]
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise NeurosimError(f"unknown reference models {unknown}; shipped: {names}")
    train = load_mnist("train", path=data_path)
    test = load_mnist("test", path=data_path)
    streams = np.random.SeedSequence(seed).spawn(len(REFERENCE_SPECS))
    written = []
    for index, (spec, stream) in enumerate(zip(REFERENCE_SPECS, streams)):
        if only and spec.name not in only:
            continue
        provenance = {
            "seed": seed,
            "rng_stream": f"numpy SeedSequence({seed}).spawn({len(REFERENCE_SPECS)})[{index}]",
            "retrain": {
                "command": f"neurosim train-reference --out {out_dir} --seed {seed}",
                "python": (
                    "from neurosim.networks.reference_models import retrain_reference_models; "
                    f"retrain_reference_models({str(out_dir)!r}, seed={seed})"
                ),
            },
        }
        rng = np.random.default_rng(stream)
        if isinstance(spec, CnnReferenceSpec):
            provenance["retrain"]["command"] += f" --only {spec.name}"
            provenance["retrain"]["python"] = provenance["retrain"]["python"][:-1] + f", only=[{spec.name!r}])"
            layers, info = train_reference_cnn(spec, train, test, rng, provenance=provenance, progress=progress)
            written.append(write_model_file(out_dir / spec.name, layers, output=spec.output,
                                            preprocessing=spec.preprocessing, info=info))
            continue
        model = train_reference_model(spec, train, test, rng, provenance=provenance, progress=progress)
        written.append(save_model(model, out_dir / spec.name))
    return written
