"""The one model file format: ``NAME.npz`` (weights) plus ``NAME.json`` (sidecar).

A model is an ordered list of layers (:mod:`neurosim.networks.layers`). The
npz holds each layer's arrays in order, ``W0, b0, W1, b1, ...`` (float32,
``W`` of shape ``(out, in)``, the library convention). The JSON sidecar
(format ``neurosim-model``, version 1) holds:

- ``layers``: per layer its ``kind`` (``"dense"``, ``"conv2d"``,
  ``"pool2d"``), ``activation`` (``"relu"``, ``"sigmoid"``, ``"step"`` for
  threshold units, ``"linear"`` for the logits), its ``inputs`` and
  ``outputs``, and for image layers their geometry (``in_shape``,
  ``kernel``, ``stride``, ``padding``, ``out_channels``; a pool's ``mode``):
  exactly the keys of the layer's ``describe()``. Layers without arrays
  (pooling) have no ``W``/``b`` entries: the arrays are named by the layer's
  index;
- ``output``: the loss the last layer was trained with (its arg-max is the
  predicted class), ``preprocessing``: how raw images become inputs;
- ``weights_sha256``: SHA-256 of the arrays' float32 little-endian bytes in
  file order, tying the two files together;
- free-form ``info`` keys (training settings, seed, accuracies, package
  versions, how to retrain).

Both the software MLPs (:class:`MLPModel`) and the threshold-unit network
(:class:`~neurosim.networks.threshold.mnist.ThresholdMLP`) are saved by
:func:`write_model_file` and read by :func:`read_model_file`; the sidecars of
the two earlier formats (``neurosim-mlp`` and ``neurosim-threshold-mlp``,
version 1, same npz) are read too. Nothing is pickled: arrays are read with
``allow_pickle=False``.
"""

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurosim.files import write_atomic
from neurosim.data.preprocess import Preprocessing, preprocess
from neurosim.errors import NeurosimError
from neurosim.networks.layers import (
    LAYER_ARRAYS,
    LAYER_KEYS,
    LAYER_KINDS,
    Activation,
    Dense,
    check_layers,
    forward_layers,
    layer_params,
    mlp_layers,
)
from neurosim.networks.mlp import Output, accuracy, check_params, forward, predict, trainable_activation
from neurosim.validation import parse_enum

FORMAT = "neurosim-model"
FORMAT_VERSION = 1
#: The sidecar keys the format defines (``info`` may not use them).
CORE_KEYS = ("format", "format_version", "name", "layers", "output", "preprocessing", "weights_sha256")
#: Earlier sidecar formats (version 1 each) that :func:`read_model_file` still reads.
LEGACY_FORMATS = ("neurosim-mlp", "neurosim-threshold-mlp")
_LEGACY_KEYS = {
    "neurosim-mlp": ("format", "format_version", "name", "sizes", "activation", "output", "preprocessing", "weights_sha256"),
    "neurosim-threshold-mlp": (
        "format", "format_version", "name", "sizes", "hidden_units", "readout", "preprocessing", "weights_sha256",
    ),
}


class ModelError(NeurosimError):
    """A model file that is missing, corrupt or inconsistent."""


def check_info(info: dict) -> None:
    """Reject ``info`` keys that the sidecar format itself uses."""
    clash = sorted(set(info) & set(CORE_KEYS))
    if clash:
        raise NeurosimError(f"model info must not use the reserved sidecar keys {clash}")


@dataclass(frozen=True, eq=False)
class MLPModel:
    """Trained MLP weights with the settings needed to run them.

    ``params``: list of float32 ``(W, b)`` layers, ``W (out, in)``.
    ``activation``: the hidden layers' (ReLU or sigmoid); the last layer is linear.
    ``info``: JSON-serialisable metadata written to the sidecar as is.
    """

    params: list
    activation: Activation = Activation.RELU
    output: Output = Output.SOFTMAX_CROSS_ENTROPY
    preprocessing: Preprocessing = Preprocessing.NONE
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        check_params(self.params)
        params = [(np.asarray(w, dtype=np.float32), np.asarray(b, dtype=np.float32)) for w, b in self.params]
        check_params(params)  # float64 weights beyond the float32 range would have become inf
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "activation", trainable_activation(self.activation))
        object.__setattr__(self, "output", parse_enum(Output, self.output, "output"))
        object.__setattr__(self, "preprocessing", Preprocessing.parse(self.preprocessing))
        check_info(self.info)

    @classmethod
    def from_layers(cls, layers, output=Output.SOFTMAX_CROSS_ENTROPY, preprocessing=Preprocessing.NONE, info=None):
        """The MLP of dense ``layers``: hidden layers of one trainable activation, a linear last layer."""
        layers = list(layers)
        check_layers(layers)
        kinds = [layer.activation for layer in layers]
        if any(not isinstance(layer, Dense) for layer in layers) or kinds[-1] is not Activation.LINEAR or len(set(kinds[:-1])) > 1:
            raise NeurosimError(
                f"an MLP is dense layers with one hidden activation and a linear last layer, got "
                f"{[(layer.kind, layer.activation.value) for layer in layers]}"
            )
        hidden = kinds[0] if len(layers) > 1 else Activation.RELU
        return cls(layer_params(layers), hidden, output, preprocessing, dict(info or {}))

    @property
    def layers(self) -> list[Dense]:
        """The network as :class:`~neurosim.networks.layers.Dense` layers (the last one linear)."""
        return mlp_layers(self.params, self.activation)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths ``(inputs, hidden..., outputs)``."""
        return check_params(self.params)

    def prepare(self, images) -> np.ndarray:
        """Turn uint8 images ``(n, 28, 28)`` into this model's float32 inputs ``(n, sizes[0])`` (see :func:`prepare_inputs`)."""
        return prepare_inputs(images, self.preprocessing, self.params[0][0].shape[1])

    def forward(self, x) -> np.ndarray:
        """Return the logits ``(n, outputs)`` for prepared inputs ``x (n, sizes[0])``."""
        return forward(self.params, x, self.activation)

    def predict(self, x) -> np.ndarray:
        """Return the predicted class ``(n,)`` for prepared inputs ``x``."""
        return predict(self.params, x, self.activation)

    def accuracy(self, x, y) -> float:
        """Return the fraction of prepared inputs ``x`` classified as their label ``y``."""
        return accuracy(self.params, x, y, self.activation)


def prepare_inputs(images, preprocessing: Preprocessing, n_in: int) -> np.ndarray:
    """Turn uint8 images ``(n, 28, 28)`` into float32 network inputs ``(n, n_in)`` by ``preprocessing``.

    Raises :class:`NeurosimError` when the preprocessing gives another
    number of inputs than the model's first layer takes.
    """
    x = preprocess(images, preprocessing)
    if x.shape[1] != n_in:
        raise NeurosimError(
            f"the model takes {n_in} inputs, but its preprocessing {preprocessing.value!r} turns "
            f"{images.shape[1]}x{images.shape[2]} images into {x.shape[1]}; a model for these images needs {x.shape[1]} inputs"
        )
    return x


@dataclass(frozen=True, eq=False)
class ModelFile:
    """What a model file holds: its layers and the settings to run them (see the module docstring).

    The software methods run the layers in order (for any layer list, such
    as a convolutional network); :class:`MLPModel` is the MLP special case.
    """

    name: str
    layers: list
    output: Output
    preprocessing: Preprocessing
    info: dict

    def prepare(self, images) -> np.ndarray:
        """Turn uint8 images ``(n, 28, 28)`` into this model's float32 inputs (see :func:`prepare_inputs`)."""
        return prepare_inputs(images, self.preprocessing, self.layers[0].n_in)

    def forward(self, x, batch_size: int = 1000) -> np.ndarray:
        """The logits ``(n, outputs)`` for prepared inputs ``x (n, inputs)``, ``batch_size`` rows at a time."""
        x = np.asarray(x, dtype=np.float32)
        out = [forward_layers(self.layers, x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.layers[-1].n_out), np.float32)

    def predict(self, x) -> np.ndarray:
        """The predicted class ``(n,)`` for prepared inputs ``x``."""
        return np.argmax(self.forward(x), axis=1)

    def accuracy(self, x, y) -> float:
        """The fraction of prepared inputs ``x`` classified as their label ``y``."""
        from neurosim.networks.mlp import check_labels

        predicted = self.predict(x)
        return float(np.mean(predicted == check_labels(y, len(predicted), self.layers[-1].n_out))) if len(y) else 0.0


def weights_sha256(arrays) -> str:
    """Return the SHA-256 of the float32 little-endian bytes of ``W0, b0, W1, ...`` in order.

    ``arrays``: a list of layers (their ``arrays``) or of ``(W, b)`` pairs.
    """
    digest = hashlib.sha256()
    for layer in arrays:
        for a in getattr(layer, "arrays", layer):
            digest.update(np.ascontiguousarray(a, dtype="<f4").tobytes())
    return digest.hexdigest()


def model_paths(path) -> tuple[Path, Path]:
    """Return ``(NAME.npz, NAME.json)`` for ``path`` given as ``NAME``, ``NAME.npz`` or ``NAME.json``."""
    given, path = path, Path(path)
    if path.suffix in (".npz", ".json"):
        path = path.with_suffix("")
    if not path.name or path.name in (".", ".."):
        raise ModelError(f"model = {str(given)!r} is not allowed: a model name or a path NAME(.npz/.json)")
    return path.with_name(path.name + ".npz"), path.with_name(path.name + ".json")


def write_model_file(path, layers, *, output, preprocessing, info=None) -> Path:
    """Write ``layers`` (float32 arrays) to ``NAME.npz`` and the sidecar ``NAME.json``, each atomically.

    Returns the JSON path.
    """
    npz_path, json_path = model_paths(path)
    layers = list(layers)
    check_layers(layers)
    info = dict(info or {})
    check_info(info)
    arrays = [tuple(np.asarray(a, dtype=np.float32) for a in layer.arrays) for layer in layers]
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": npz_path.stem,
        "layers": [layer.describe() for layer in layers],
        "output": parse_enum(Output, output, "output").value,
        "preprocessing": Preprocessing.parse(preprocessing).value,
        "weights_sha256": weights_sha256(arrays),
        **info,
    }
    try:
        text = json.dumps(sidecar, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise NeurosimError(
            f"model info must be JSON-serialisable (finite numbers, str, list, dict): {exc}"
        ) from exc
    named = {f"{kind}{i}": a for i, layer in enumerate(arrays) for kind, a in zip("Wb", layer)}
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(npz_path, lambda handle: np.savez(handle, **named))
    write_atomic(json_path, lambda handle: handle.write(text.encode()))
    return json_path


def save_model(model: MLPModel, path) -> Path:
    """Write the MLP ``model`` to ``NAME.npz`` and ``NAME.json`` (each atomically); return the JSON path."""
    return write_model_file(path, model.layers, output=model.output, preprocessing=model.preprocessing, info=model.info)


def upgrade_sidecar(sidecar: dict, where: str = "sidecar") -> dict:
    """A sidecar of an earlier format (:data:`LEGACY_FORMATS`) in the current format (same weights).

    ``neurosim-mlp``: hidden layers of its ``activation``, a linear last layer.
    ``neurosim-threshold-mlp``: step hidden units, a linear winner-take-all
    read-out trained with softmax cross-entropy. A current sidecar is
    returned unchanged.
    """
    kind = sidecar.get("format")
    if kind == FORMAT:
        return sidecar
    if sidecar.get("format_version") != 1:
        raise ModelError(f"{where} has format {kind!r} version {sidecar.get('format_version')!r}; this neurosim reads "
                         f"{FORMAT!r} version {FORMAT_VERSION} and {list(LEGACY_FORMATS)} version 1")
    missing = [key for key in _LEGACY_KEYS[kind] if key not in sidecar]
    if missing:
        raise ModelError(f"model sidecar {where} lacks the keys {missing}")
    sizes = sidecar["sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2:
        raise ModelError(f"model sidecar {where}: sizes must be a list of at least two widths, got {sizes!r}")
    if kind == "neurosim-mlp":
        hidden, output = sidecar["activation"], sidecar["output"]
    else:
        hidden, output = Activation.STEP.value, Output.SOFTMAX_CROSS_ENTROPY.value
    layers = [
        {"kind": Dense.kind, "activation": hidden if i < len(sizes) - 2 else Activation.LINEAR.value,
         "inputs": n_in, "outputs": n_out}
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
    ]
    info = {key: value for key, value in sidecar.items() if key not in _LEGACY_KEYS[kind]}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "name": sidecar["name"], "layers": layers,
            "output": output, "preprocessing": sidecar["preprocessing"], "weights_sha256": sidecar["weights_sha256"],
            **info}


def _read_sidecar(json_path: Path) -> dict:
    try:
        sidecar = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise ModelError(
            f"model sidecar {json_path} does not exist; a model is NAME.npz plus NAME.json"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model sidecar {json_path} is not readable JSON: {exc}") from exc
    if not isinstance(sidecar, dict) or sidecar.get("format") not in (FORMAT, *LEGACY_FORMATS):
        raise ModelError(f'{json_path} is not a neurosim model sidecar (its "format" must be {FORMAT!r})')
    if sidecar["format"] == FORMAT and sidecar.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{json_path} has format_version {sidecar.get('format_version')!r}; "
            f"this neurosim reads version {FORMAT_VERSION}"
        )
    sidecar = upgrade_sidecar(sidecar, str(json_path))
    missing = [key for key in CORE_KEYS if key not in sidecar]
    if missing:
        raise ModelError(f"model sidecar {json_path} lacks the keys {missing}")
    layers = sidecar["layers"]
    if not isinstance(layers, list) or not layers or not all(isinstance(s, dict) for s in layers):
        raise ModelError(f"model sidecar {json_path}: layers must be a non-empty list of tables, got {layers!r}")
    for i, spec in enumerate(layers):
        if spec.get("kind") not in LAYER_KINDS:
            raise ModelError(f"model sidecar {json_path}: layer {i} has kind {spec.get('kind')!r}; allowed: {sorted(LAYER_KINDS)}")
        keys = LAYER_KEYS[spec["kind"]]
        if sorted(spec) != sorted(keys):
            raise ModelError(f"model sidecar {json_path}: layer {i} ({spec['kind']}) must have exactly the keys {list(keys)}, got {sorted(spec)}")
    return sidecar


def _read_weights(npz_path: Path, specs) -> list:
    """Each layer's arrays (``(W, b)``, or ``()`` for a layer without arrays)."""
    with_arrays = [i for i, spec in enumerate(specs) if LAYER_ARRAYS[spec["kind"]]]
    expected = {f"{kind}{i}" for i in with_arrays for kind in "Wb"}
    if npz_path.is_file() and not zipfile.is_zipfile(npz_path):
        raise ModelError(f"model weights {npz_path} are not an npz file (a zip archive of arrays, as numpy.savez writes)")
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            keys = set(data.files)
            if keys != expected:
                raise ModelError(
                    f"model weights {npz_path} hold arrays {sorted(keys)}; "
                    f"the sidecar's layers need exactly {sorted(expected)}"
                )
            return [(data[f"W{i}"], data[f"b{i}"]) if i in with_arrays else () for i in range(len(specs))]
    except FileNotFoundError:
        raise ModelError(
            f"model weights {npz_path} do not exist; a model is NAME.npz plus NAME.json"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"model weights {npz_path} are not a readable npz file: {exc}") from exc
    except ValueError as exc:
        if isinstance(exc, ModelError):
            raise
        raise ModelError(
            f"model weights {npz_path} hold arrays that are not numeric (objects or damaged data); "
            "a model holds float arrays only"
        ) from None


def read_model_file(path) -> ModelFile:
    """Load and validate the model ``NAME.npz`` + ``NAME.json`` of any kind (``path`` as in :func:`model_paths`).

    Raises :class:`ModelError` for a missing or unreadable file, unknown
    settings, weights that are not finite floats, shapes that do not chain or
    do not match the sidecar's layers, and weights whose SHA-256 differs from
    the sidecar's.
    """
    npz_path, json_path = model_paths(path)
    sidecar = _read_sidecar(json_path)
    specs = sidecar["layers"]
    arrays = _read_weights(npz_path, specs)
    where = f"model {npz_path} / {json_path}"
    try:
        layers = [LAYER_KINDS[spec["kind"]].from_spec(spec, a) for a, spec in zip(arrays, specs)]
        check_layers(layers)
        output = parse_enum(Output, sidecar["output"], "output")
        preprocessing = Preprocessing.parse(sidecar["preprocessing"])
    except NeurosimError as exc:
        raise ModelError(f"{where}: {exc}") from exc
    described = [layer.describe() for layer in layers]
    if described != specs:
        raise ModelError(f"model weights {npz_path} have layers {described} but {json_path} says {specs}")
    if weights_sha256(layers) != sidecar["weights_sha256"]:
        raise ModelError(
            f"model weights {npz_path} do not match the SHA-256 recorded in {json_path}; "
            f"the two files come from different trainings (save both with one call)"
        )
    info = {key: value for key, value in sidecar.items() if key not in CORE_KEYS}
    return ModelFile(sidecar["name"], layers, output, preprocessing, info)


def load_model(path) -> MLPModel:
    """Load the MLP ``NAME.npz`` + ``NAME.json`` (see :func:`read_model_file`; the layers must form an MLP)."""
    file = read_model_file(path)
    try:
        return MLPModel.from_layers(file.layers, file.output, file.preprocessing, file.info)
    except NeurosimError as exc:
        npz_path, json_path = model_paths(path)
        raise ModelError(f"model {npz_path} / {json_path}: {exc}") from exc
