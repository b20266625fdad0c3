"""Sweep task: on-chip training with a card fitted to simulated pulse trains, against the original card.

``task = "neurosim.device.fit_task:TASK"``. The point's ``device`` (with any
``device.*`` overrides) is the original card. With ``card = "fitted"`` or
``"measured"``, ``fit_devices`` devices of the original card are cycled
``fit_cycles`` times through their full pulse trains
(:func:`~neurosim.device.cycling.cycle_traces`, the card's cycle-to-cycle and
device-to-device noise), the traces are fitted
(:func:`~neurosim.device.fit.fit_traces`) and the network is trained on the
fitted card (analytic curve, or the measured-curve kind); ``card =
"original"`` trains on the original. Every other setting is an ``insitu``
setting (:mod:`neurosim.networks.insitu.tasks`). The traces come from the
first of two generators spawned from the point's, the training from the
second, so the three cards of one seed train from the same stream.
"""

import numpy as np

from neurosim.device.cycling import cycle_directions, cycle_traces
from neurosim.device.fit import fit_traces, fitted_device
from neurosim.device.tracefile import Traces
from neurosim.errors import NeurosimError
from neurosim.networks.insitu import tasks as insitu
from neurosim.tasks import Task
from neurosim.validation import whole

CARDS = ("original", "fitted", "measured")
_OWN = {"card", "fit_devices", "fit_cycles"}


def _split(settings: dict):
    rest = {k: v for k, v in settings.items() if k not in _OWN}
    card = settings.get("card", "original")
    if card not in CARDS:
        raise NeurosimError(f"card = {card!r} must be one of {list(CARDS)}")
    devices, cycles = settings.get("fit_devices", 8), settings.get("fit_cycles", 3)
    whole("fit_devices", devices, 1, high=10_000)
    whole("fit_cycles", cycles, 1, high=1_000)
    if rest.get("device") == insitu.SOFTWARE:
        raise NeurosimError("device = 'software' has no card to fit")
    return card, devices, cycles, rest


def point(settings: dict, rng: np.random.Generator) -> dict:
    """Fit a card to the original's simulated traces (unless ``card = "original"``) and train on it."""
    card, devices, cycles, rest = _split(settings)
    fit_rng, train_rng = np.random.default_rng(rng).spawn(2)
    original, _, _ = insitu.resolve(rest)
    device = original
    if card != "original":
        g = cycle_traces(original, devices, cycles, fit_rng)
        traces = Traces(f"{devices} simulated {original.name} devices x {cycles} cycles", tuple(map(str, range(devices))),
                        np.arange(g.shape[0]), cycle_directions(original, cycles), g)  # fmt: skip
        device = fitted_device(fit_traces(traces), f"{original.name}_{card}", measured=card == "measured")
    plain = {k: v for k, v in rest.items() if not k.startswith("device.")}
    result = insitu.insitu_point({**plain, "device": device}, train_rng)
    return {**result, "card_nl_ltp": device.nl_ltp, "card_nl_ltd": device.nl_ltd,
            "card_c2c_sigma_frac": device.c2c_sigma_frac}  # fmt: skip


def check(settings: dict) -> None:
    """Raise :class:`NeurosimError` for settings the point cannot run."""
    _, _, _, rest = _split(settings)
    insitu.check_settings(rest)


TASK = Task(
    name="insitu_fitted",
    run=point,
    plain_settings=insitu.TASK.plain_settings | _OWN,
    setting_groups=insitu.TASK.setting_groups,
    check=check,
    metrics=(*insitu.TASK.metrics, "card_nl_ltp", "card_nl_ltd", "card_c2c_sigma_frac"),
    description="on-chip training on a card fitted to simulated pulse trains of the original card, or on the original",
)
