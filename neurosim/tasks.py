"""Experiment tasks: what a sweep point runs, which settings it takes and which metrics it returns.

A :class:`Task` is one frozen object per kind of experiment; the module that
implements the experiment defines it (``TASK``), and :data:`TASKS` names the
shipped ones. A sweep spec gives a short name (``task = "evaluate"``) or a
``"module:attribute"`` path to a :class:`Task` or to a plain function
``f(settings, rng) -> dict`` (a user task; it declares no settings, so only
its own checks at run time apply). Every configuration of a spec is checked
with :meth:`Task.validate` before any point runs.
"""

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.settings import split_settings

#: The shipped tasks by short name: ``"module:attribute"`` of their :class:`Task`.
TASKS = {
    "evaluate": "neurosim.convert.evaluate:TASK",
    "program_error": "neurosim.device.experiments:TASK",
    "threshold_mnist": "neurosim.networks.threshold.mnist:TASK",
    "snn": "neurosim.convert.snn.engine:TASK",
    "insitu": "neurosim.networks.insitu.tasks:TASK",
    "stdp": "neurosim.networks.stdp.tasks:TASK",
}


@dataclass(frozen=True)
class Task:
    """One kind of experiment point.

    ``run(settings, rng) -> {metric: value}`` runs one point with the point's
    own generator. ``plain_settings`` are the plain setting keys it accepts and
    ``setting_groups`` the prefixes of its dotted keys (``"device"`` for
    ``device.<field>``); ``None`` accepts any key (user tasks). ``check``
    raises :class:`NeurosimError` for settings it cannot run (bad values),
    without running anything. ``metrics`` are the metrics every point
    returns and ``metric_prefixes`` the prefixes of those whose names depend
    on the settings (``"accuracy_spikes_"`` followed by a step count);
    ``plot_metric`` is the metric a spec's plot shows unless it names one.
    """

    name: str
    run: Callable[[dict, np.random.Generator], dict]
    plain_settings: frozenset[str] | None = None
    setting_groups: tuple[str, ...] = ()
    check: Callable[[dict], None] | None = None
    metrics: tuple[str, ...] = ()
    metric_prefixes: tuple[str, ...] = ()
    plot_metric: str = "accuracy"
    description: str = ""

    def __post_init__(self):
        if not callable(self.run):
            raise NeurosimError(f"task {self.name!r}: run must be a function (settings, rng) -> dict")
        if self.plain_settings is not None:
            object.__setattr__(self, "plain_settings", frozenset(self.plain_settings))
        object.__setattr__(self, "setting_groups", tuple(self.setting_groups))

    @property
    def declares_metrics(self) -> bool:
        """Whether the task says which metrics it returns (user function tasks do not)."""
        return bool(self.metrics or self.metric_prefixes)

    def returns(self, metric: str) -> bool:
        """Whether ``metric`` is among the metrics this task returns (True when it does not declare them)."""
        if not self.declares_metrics:
            return True
        return metric in self.metrics or any(metric.startswith(p) for p in self.metric_prefixes)

    def validate(self, settings: dict) -> None:
        """Raise :class:`NeurosimError` for an unknown setting or a value the task cannot run."""
        if self.plain_settings is not None:
            split_settings(settings, self.plain_settings, self.setting_groups)
        if self.check is not None:
            self.check(settings)


def resolve_task(name: str) -> Task:
    """The :class:`Task` for a short name from :data:`TASKS` or a ``"module:attribute"`` path.

    A path to a plain function gives the :class:`Task` of its module that runs
    it, if there is one (so ``"neurosim.convert.snn:snn_point"`` is checked
    like ``"snn"``), else a user task that accepts any settings.
    """
    target = TASKS.get(name, name)
    if not isinstance(target, str) or ":" not in target:
        raise NeurosimError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))} (or 'module:function')")
    module_name, attribute = target.split(":", 1)
    try:
        module = importlib.import_module(module_name)
        obj = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise NeurosimError(f"task {name!r} cannot be loaded: {exc}") from None
    if isinstance(obj, Task):
        return obj
    if not callable(obj):
        raise NeurosimError(f"task {name!r} is neither a Task nor a function (settings, rng) -> dict")
    for value in vars(module).values():
        if isinstance(value, Task) and value.run is obj:
            return value
    try:
        inspect.signature(obj).bind({}, None)
    except (TypeError, ValueError):
        raise NeurosimError(
            f"task {name!r} is not allowed: {target} cannot be called as f(settings, rng); "
            "a task is a function (settings: dict, rng: numpy Generator) -> dict of metrics"
        ) from None
    return Task(name=name, run=obj, description=f"user task {target}")
