"""The ``stdp`` sweep task: one Diehl & Cook training run per point (device, size, image counts)."""

import numpy as np

from neurosim.device import load_device
from neurosim.errors import NeurosimError
from neurosim.tasks import Task

#: ``device`` value that means exact (ideal) weight changes rather than a card's pulses.
IDEAL = "ideal"
_SETTINGS = ("device", "n_neurons", "epochs", "train_images", "assign_images", "test_images")


def resolve_device(name):
    """None for ``"ideal"`` (exact weight changes), else the card ``name`` (a name or a path)."""
    if not isinstance(name, str):
        raise NeurosimError(f"device = {name!r} is not allowed: a card name or path, or 'ideal'")
    return None if name == IDEAL else load_device(name)


def load_data():
    """MNIST ``(x_train, y_train, x_test, y_test)`` with pixels scaled to [0, 1] and images flattened to 784."""
    from neurosim.data import load_mnist

    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    flat = lambda x: np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float64) / 255.0  # noqa: E731
    return flat(x_train), y_train, flat(x_test), y_test


def _config(settings):
    from neurosim.networks.stdp.train import StdpConfig

    return StdpConfig(**{k: settings[k] for k in _SETTINGS[1:] if k in settings})


def _check(settings):
    resolve_device(settings.get("device", IDEAL))
    _config(settings)


def run_point(settings: dict, rng) -> dict:
    """Train, assign and test one network; the seed is drawn from ``rng``."""
    from neurosim.networks.stdp.train import train_stdp

    seed = int(rng.integers(2**31))
    result = train_stdp(_config(settings), resolve_device(settings.get("device", IDEAL)), seed, load_data())
    s = result.summary()
    return {"accuracy": result.accuracy, "train_images_per_s": s["train_images_per_s"],
            "pulses": s["events"].get("pulses_ltp", 0) + s["events"].get("pulses_ltd", 0)}


TASK = Task(
    name="stdp",
    run=run_point,
    plain_settings=frozenset(_SETTINGS),
    check=_check,
    metrics=("accuracy", "train_images_per_s", "pulses"),
    description="Diehl & Cook (2015) unsupervised STDP on MNIST, weights on a device card",
)
