"""Save and load trained MLPs as ``NAME.npz`` (weights) plus ``NAME.json`` (sidecar).

The npz holds float32 arrays ``W0, b0, W1, b1, ...`` in the library convention
(``W`` of shape ``(out, in)``). The JSON sidecar holds what is needed to use
the weights (``sizes``, ``activation``, ``output``, ``preprocessing``), a
SHA-256 of the weights tying the two files together, and free-form ``info``
(training hyper-parameters, seed, accuracies, package versions, how to
retrain). Nothing is pickled: arrays are read with ``allow_pickle=False``.
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
from neurosim.networks.mlp import Activation, Output, accuracy, check_params, forward, predict
from neurosim.validation import parse_enum

FORMAT = "neurosim-mlp"
FORMAT_VERSION = 1
_CORE_KEYS = (
    "format",
    "format_version",
    "name",
    "sizes",
    "activation",
    "output",
    "preprocessing",
    "weights_sha256",
)


class ModelError(NeurosimError):
    """A model file that is missing, corrupt or inconsistent."""


@dataclass(frozen=True, eq=False)
class MLPModel:
    """Trained MLP weights with the settings needed to run them.

    ``params``: list of float32 ``(W, b)`` layers, ``W (out, in)``.
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
        object.__setattr__(self, "activation", parse_enum(Activation, self.activation, "activation"))
        object.__setattr__(self, "output", parse_enum(Output, self.output, "output"))
        object.__setattr__(self, "preprocessing", Preprocessing.parse(self.preprocessing))
        clash = sorted(set(self.info) & set(_CORE_KEYS))
        if clash:
            raise NeurosimError(f"model info must not use the reserved sidecar keys {clash}")

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths ``(inputs, hidden..., outputs)``."""
        return check_params(self.params)

    def prepare(self, images) -> np.ndarray:
        """Turn uint8 images ``(n, 28, 28)`` into this model's float32 inputs ``(n, sizes[0])``."""
        return preprocess(images, self.preprocessing)

    def forward(self, x) -> np.ndarray:
        """Return the logits ``(n, outputs)`` for prepared inputs ``x (n, sizes[0])``."""
        return forward(self.params, x, self.activation)

    def predict(self, x) -> np.ndarray:
        """Return the predicted class ``(n,)`` for prepared inputs ``x``."""
        return predict(self.params, x, self.activation)

    def accuracy(self, x, y) -> float:
        """Return the fraction of prepared inputs ``x`` classified as their label ``y``."""
        return accuracy(self.params, x, y, self.activation)


def weights_sha256(params) -> str:
    """Return the SHA-256 of the float32 little-endian bytes of ``W0, b0, W1, ...`` in order."""
    digest = hashlib.sha256()
    for layer in params:
        for a in layer:
            digest.update(np.ascontiguousarray(a, dtype="<f4").tobytes())
    return digest.hexdigest()


def model_paths(path) -> tuple[Path, Path]:
    """Return ``(NAME.npz, NAME.json)`` for ``path`` given as ``NAME``, ``NAME.npz`` or ``NAME.json``."""
    path = Path(path)
    if path.suffix in (".npz", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".npz"), path.with_name(path.name + ".json")


def save_model(model: MLPModel, path) -> Path:
    """Write ``model`` to ``NAME.npz`` and ``NAME.json`` (each atomically); return the JSON path."""
    npz_path, json_path = model_paths(path)
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": npz_path.stem,
        "sizes": list(model.sizes),
        "activation": model.activation.value,
        "output": model.output.value,
        "preprocessing": model.preprocessing.value,
        "weights_sha256": weights_sha256(model.params),
        **model.info,
    }
    try:
        text = json.dumps(sidecar, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise NeurosimError(
            f"model info must be JSON-serialisable (finite numbers, str, list, dict): {exc}"
        ) from exc
    arrays = {f"{kind}{i}": a for i, layer in enumerate(model.params) for kind, a in zip("Wb", layer)}
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(npz_path, lambda handle: np.savez(handle, **arrays))
    write_atomic(json_path, lambda handle: handle.write(text.encode()))
    return json_path


def _read_sidecar(json_path: Path) -> dict:
    try:
        sidecar = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise ModelError(
            f"model sidecar {json_path} does not exist; a model is NAME.npz plus NAME.json"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model sidecar {json_path} is not readable JSON: {exc}") from exc
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
        raise ModelError(f'{json_path} is not a neurosim model sidecar (its "format" must be {FORMAT!r})')
    if sidecar.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{json_path} has format_version {sidecar.get('format_version')!r}; "
            f"this neurosim reads version {FORMAT_VERSION}"
        )
    missing = [key for key in _CORE_KEYS if key not in sidecar]
    if missing:
        raise ModelError(f"model sidecar {json_path} lacks the keys {missing}")
    return sidecar


def _read_weights(npz_path: Path, n_layers: int) -> list:
    expected = {f"{kind}{i}" for i in range(n_layers) for kind in "Wb"}
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            keys = set(data.files)
            if keys != expected:
                raise ModelError(
                    f"model weights {npz_path} hold arrays {sorted(keys)}; "
                    f"the sidecar's sizes need exactly {sorted(expected)}"
                )
            return [(data[f"W{i}"], data[f"b{i}"]) for i in range(n_layers)]
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
            f"model weights {npz_path} cannot be read without pickle (numeric arrays only): {exc}"
        ) from exc


def load_model(path) -> MLPModel:
    """Load and validate the model ``NAME.npz`` + ``NAME.json`` (``path`` as in :func:`model_paths`).

    Raises :class:`ModelError` for a missing or unreadable file, unknown
    settings, weights that are not finite, shapes that do not chain or do not
    match the sidecar's ``sizes``, and weights whose SHA-256 differs from the
    sidecar's.
    """
    npz_path, json_path = model_paths(path)
    sidecar = _read_sidecar(json_path)
    sizes = sidecar["sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2:
        raise ModelError(
            f"model sidecar {json_path}: sizes must be a list of at least two widths, got {sizes!r}"
        )
    params = _read_weights(npz_path, len(sizes) - 1)
    info = {key: value for key, value in sidecar.items() if key not in _CORE_KEYS}
    try:
        model = MLPModel(params, sidecar["activation"], sidecar["output"], sidecar["preprocessing"], info)
    except NeurosimError as exc:
        raise ModelError(f"model {npz_path} / {json_path}: {exc}") from exc
    if list(model.sizes) != sizes:
        raise ModelError(
            f"model weights {npz_path} have layer sizes {list(model.sizes)} but {json_path} says {sizes}"
        )
    if weights_sha256(model.params) != sidecar["weights_sha256"]:
        raise ModelError(
            f"model weights {npz_path} do not match the SHA-256 recorded in {json_path}; "
            f"the two files come from different trainings (save both with save_model)"
        )
    return model
