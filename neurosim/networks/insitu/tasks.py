"""In-situ training as a sweep task: ``task = "insitu"``.

Settings are flat keys (see :mod:`neurosim.settings`):

- ``device``: a card name or path, or ``"software"`` for the float baseline
  (same network and protocol, no device, no threshold, ideal ADC);
- ``device.<field>``: overrides a :class:`~neurosim.device.DeviceModel` field;
- ``crossbar.<field>``: overrides a field of the arrays'
  :class:`~neurosim.crossbar.config.CrossbarConfig` (``crossbar.adc_bits``,
  ``crossbar.mapping = "differential"``, ``crossbar.rows``, ...), the same
  names as ``neurosim evaluate`` uses;
- any other :class:`~neurosim.networks.insitu.config.InsituConfig` field by its
  name (``epochs``, ``images_per_epoch``, ``pulse_rounding = "stochastic"``, ...);
- ``dataset``: ``"mnist"`` (default) or ``"digits"`` (scikit-learn's 8x8
  digits binarised: 64 inputs, for quick checks; ``sizes`` follows).
- ``protocol``: ``"project"`` (default) or ``"neurosim_v3"``: the point starts
  from that protocol's config (:func:`~neurosim.networks.insitu.config.protocol_base`:
  NeuroSim V3's preset brings its 15 kOhm access transistor and exact initial
  write), and every other setting overrides it.

Each point trains from the point's own generator (its seed is drawn from it)
and returns the final and best test accuracy, the mean of the last five
evaluated epochs (steadier than the last one: SGD with batch 1 moves the
accuracy by a few tenths of a point from epoch to epoch), the last epoch's
training accuracy and the pulse traffic, and the learning curve:
``evaluated_epochs`` and ``accuracy_per_epoch``, lists of the same length (the
epochs scored and their test accuracies; one list cell each in the sweep's
``results.csv``, drawn by a spec's ``[plot] kind = "epochs"``).
"""

from dataclasses import fields, replace
from functools import lru_cache

import numpy as np

from neurosim import events
from neurosim.energy.runs import PREFIX, circuit_from_settings, insitu_estimates
from neurosim.errors import NeurosimError
from neurosim.networks.insitu.config import InsituConfig, Protocol, protocol_base
from neurosim.settings import device_with_overrides, replace_fields, split_settings
from neurosim.tasks import Task

SOFTWARE = "software"
DATASETS = ("mnist", "digits")
_CONFIG_FIELDS = {f.name for f in fields(InsituConfig)}
_PLAIN = {"device", "dataset", "circuit"} | (_CONFIG_FIELDS - {"crossbar"})


def circuit(settings: dict):
    """The point's circuit card (``circuit``, ``circuit.<field>``; :mod:`neurosim.energy`), or None."""
    plain, groups = split_settings(settings, _PLAIN, ["device", "crossbar", "circuit"])
    device, config, _ = resolve(settings)
    card = circuit_from_settings(plain, groups["circuit"], config.crossbar.adc_bits)
    if card is not None and device is None:
        raise NeurosimError("an energy estimate (circuit, circuit.*) needs a device: the software baseline has no chip")
    return card


def energy_metrics(settings: dict, result) -> dict:
    """The run's ``energy_*`` metrics (per training image; ``energy_test_*`` per test image) if a circuit is set."""
    card = circuit(settings)
    return {} if card is None else insitu_estimates(result, card)


def resolve(settings: dict):
    """``(device or None for software, config, dataset name)`` for a point's settings."""
    plain, groups = split_settings(settings, _PLAIN, ["device", "crossbar", "circuit"])
    plain.pop("circuit", None)
    dataset = plain.pop("dataset", "mnist")
    if dataset not in DATASETS:
        raise NeurosimError(f"dataset = {dataset!r} must be one of {list(DATASETS)}")
    name = plain.pop("device", "sige_epiram")
    base = protocol_base(plain.get("protocol", Protocol.PROJECT.value))
    if dataset == "digits":
        base = replace(base, sizes=(64, 32, 10))
    if groups["crossbar"]:
        plain["crossbar"] = replace_fields(base.crossbar, groups["crossbar"], "crossbar")
    config = InsituConfig.from_dict(plain, base)
    if name == SOFTWARE:
        if groups["device"]:
            raise NeurosimError(f"device overrides {sorted(groups['device'])} make no sense with device = 'software'")
        return None, config, dataset
    return device_with_overrides(name, groups["device"]), config, dataset


@lru_cache(maxsize=2)
def _data(dataset: str, preprocessing: str, test_images):
    from neurosim.data.preprocess import Preprocessing
    from neurosim.networks.insitu.data import digits_data, load_mnist_data

    if dataset == "digits":
        return digits_data()
    return load_mnist_data(Preprocessing(preprocessing), test_images)


def run_settings(settings: dict, rng=0, **kwargs):
    """Train one point's settings and return the :class:`~neurosim.networks.insitu.train.InsituResult`."""
    from neurosim.networks.insitu.train import train_insitu, train_software

    device, config, dataset = resolve(settings)
    data = _data(dataset, config.preprocessing.value, config.test_images)
    if device is None:
        return train_software(config, rng=rng, data=data, **kwargs)
    return train_insitu(device, config, rng=rng, data=data, **kwargs)


def insitu_point(settings: dict, rng: np.random.Generator) -> dict:
    """Sweep task: train the point's device (or the software baseline) and report its accuracies."""
    seed = int(np.random.default_rng(rng).integers(2**63))
    result = run_settings(settings, seed, progress=False)
    history = result.history
    images = sum(1 for _ in history) * result.config.images_per_epoch
    evaluated = [a for _, a in result.accuracies]
    return {
        "accuracy": result.final_accuracy,
        "best_accuracy": result.best_accuracy,
        "accuracy_last5": float(np.mean(evaluated[-5:])),
        "train_accuracy": history[-1].train_accuracy,
        "pulses_per_image": sum(r.pulses_ltp + r.pulses_ltd for r in history) / images,
        "writes_per_image": sum(r.writes for r in history) / images,
        "epochs": len(history),
        "evaluated_epochs": [int(e) for e, _ in result.accuracies],
        "accuracy_per_epoch": [float(a) for a in evaluated],
        "train_time_s": result.time_s,
        **events.metrics(events.total(result.layer_events())),
        **energy_metrics(settings, result),
    }


def check_settings(settings: dict) -> None:
    """Raise :class:`NeurosimError` if ``settings`` cannot be trained (vets a spec before it runs)."""
    resolve(settings)
    circuit(settings)


#: The sweep task ``insitu``.
TASK = Task(name="insitu", run=insitu_point, plain_settings=_PLAIN, setting_groups=("device", "crossbar", "circuit"),
            check=check_settings, metric_prefixes=(PREFIX,),
            metrics=("accuracy", "best_accuracy", "accuracy_last5", "train_accuracy", "pulses_per_image",
                     "writes_per_image", "epochs", "evaluated_epochs", "accuracy_per_epoch", "train_time_s",
                     *events.METRICS),
            description="on-chip (in-situ) training of a device network, or its software baseline")

