"""Accuracy of a trained model on simulated hardware: the ``evaluate`` task.

Settings are flat keys (see :mod:`neurosim.settings`):

- ``model``: shipped model name or path (default ``mlp784``);
- ``device``: card name or path (default ``sige_epiram``); ``device.<field>``
  overrides any :class:`~neurosim.device.DeviceModel` field;
- ``on_off_ratio``: sets ``G_min = G_max / on_off_ratio`` of the device;
- ``crossbar.<field>``: any :class:`~neurosim.crossbar.CrossbarConfig` field
  (enums by their string value, e.g. ``crossbar.program_method = "write_verify"``);
- ``wire.<field>``: :class:`~neurosim.crossbar.WireConfig` fields
  (``wire.r_wire_ohm = 0`` means ideal wires);
- ``t_s``: read the devices this many seconds after programming (drift);
- ``test_images``: evaluate on the first N test images (default all 10,000);
- ``input_percentile``, ``adc_percentile``: converter calibration (see
  :class:`~neurosim.convert.network.HardwareNetwork`);
- ``circuit``, ``circuit.<field>``: a circuit card (:mod:`neurosim.energy`); with either, the
  result adds the energy, latency and area per test image (``energy_*``, reads only) and
  ``energy_program_J``, the programming's write energy.
"""

import dataclasses
from functools import lru_cache

import numpy as np

from neurosim import events
from neurosim.convert.network import HardwareNetwork, resolve_model
from neurosim.crossbar import CrossbarConfig, WireConfig
from neurosim.data import first_images, load_mnist
from neurosim.data.calibration import calibration_images
from neurosim.energy.runs import PREFIX, circuit_from_settings, crossbar_estimates
from neurosim.rng import as_generator
from neurosim.settings import device_with_overrides, replace_fields, split_settings
from neurosim.tasks import Task
from neurosim.validation import real, whole

_PLAIN = {"model", "device", "on_off_ratio", "t_s", "test_images", "input_percentile", "adc_percentile", "circuit"}
_GROUPS = ("device", "crossbar", "wire", "circuit")


def resolve(settings: dict):
    """(model, device, crossbar config, plain settings) for a run's settings."""
    plain, groups = split_settings(settings, _PLAIN, _GROUPS)
    device_overrides = dict(groups["device"])
    device = device_with_overrides(plain.get("device", "sige_epiram"), device_overrides)
    if "on_off_ratio" in plain:
        ratio = plain["on_off_ratio"]
        real("on_off_ratio", ratio, "a number > 1", lambda v: v > 1)
        device = dataclasses.replace(device, g_min_S=device.g_max_S / ratio)
    config = replace_fields(CrossbarConfig(), groups["crossbar"], "crossbar")
    wire = groups["wire"]
    if wire and wire.get("r_wire_ohm", 1.0) != 0:
        config = dataclasses.replace(config, wire=replace_fields(WireConfig(), wire, "wire"))
    elif wire:
        replace_fields(WireConfig(), {k: v for k, v in wire.items() if k != "r_wire_ohm"}, "wire")
    n_test = plain.get("test_images")
    if n_test is not None:
        whole("test_images", n_test, 1)
    real("t_s", plain.get("t_s", 0.0), "a time >= 0 s", lambda v: v >= 0)
    circuit_from_settings(plain, groups["circuit"], config.adc_bits)
    return resolve_model(plain.get("model", "mlp784")), device, config, plain


@lru_cache(maxsize=4)
def _test_set(model_key: str):
    """The MNIST test set prepared for a model (cached per process: sweeps evaluate many points)."""
    model = resolve_model(model_key)
    images, labels = load_mnist("test")
    return model.prepare(images), labels


def evaluate(settings: dict, rng=None) -> dict:
    """Convert the model onto the device, calibrate on training images, score on the MNIST test set.

    Returns the hardware accuracy, the software (float) accuracy of the same
    model on the same images, the converters' clip fractions and the run's
    event totals (``events_<name>``, :mod:`neurosim.events`: the test reads
    and the programming).
    """
    result, net = evaluate_network(settings, rng)
    return {**result, **events.metrics(net.events)}


def evaluate_network(settings: dict, rng=None) -> tuple[dict, HardwareNetwork]:
    """:func:`evaluate` without the event metrics, and the network it read (its per-layer events)."""
    rng = as_generator(rng)  # one stream for programming and reads (an int seed must not restart)
    model, device, config, plain = resolve(settings)
    key = str(plain.get("model", "mlp784"))
    x, y = _test_set(key)
    x, y = first_images(x, y, plain.get("test_images"))
    n = len(y)
    calib, _ = calibration_images()
    net = HardwareNetwork.from_model(
        model,
        device,
        config,
        calibration_images=calib,
        rng=rng,
        input_percentile=plain.get("input_percentile", 99.9),
        adc_percentile=plain.get("adc_percentile", 100.0),
    )
    if plain.get("t_s", 0.0):
        net.drift_to(float(plain["t_s"]))
    acc = net.accuracy(x, y, rng)
    result = {"accuracy": acc, "software_accuracy": model.accuracy(x, y), "test_images": int(n), **net.clip_fractions()}
    card = circuit_from_settings(plain, split_settings(settings, _PLAIN, _GROUPS)[1]["circuit"])
    if card is not None:
        per_image, program_J = crossbar_estimates(net.layers, card, device, n, [l.out_features for l in net.layers])
        result.update(per_image.metrics(PREFIX), energy_program_J=program_J)
    return result, net


def evaluate_point(settings: dict, rng: np.random.Generator) -> dict:
    """Sweep task: :func:`evaluate` with the point's generator."""
    return evaluate(settings, rng)


def check_settings(settings: dict) -> None:
    """Raise :class:`NeurosimError` if ``settings`` cannot be evaluated."""
    resolve(settings)


#: The sweep task ``evaluate``.
TASK = Task(
    name="evaluate",
    run=evaluate_point,
    plain_settings=_PLAIN,
    setting_groups=_GROUPS,
    check=check_settings,
    metrics=("accuracy", "software_accuracy", "test_images", "adc_clip_fraction", "dac_clip_fraction", *events.METRICS),
    metric_prefixes=(PREFIX,),
    description="accuracy of a trained model converted onto crossbars of a device",
)
