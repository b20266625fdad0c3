"""Device-level simulation runs that sweeps can call (see :mod:`neurosim.sweep`)."""

import numpy as np

from neurosim.device.array import DeviceArray, ProgramMethod
from neurosim.errors import NeurosimError
from neurosim.tasks import Task
from neurosim.validation import parse_enum, real, whole

_PLAIN = {"device", "method", "n_devices", "tol_frac", "max_iterations"}
#: Most devices one point programs (each holds a few float arrays of this length).
MAX_DEVICES = 10_000_000
#: Most write-verify iterations a point allows per device.
MAX_ITERATIONS = 10_000


def _parse(settings: dict):
    from neurosim.settings import device_with_overrides, split_settings

    plain, groups = split_settings(settings, _PLAIN, ["device"])
    if "device" not in plain:
        raise NeurosimError("setting 'device' (a card name or path) is required")
    method = parse_enum(ProgramMethod, plain.get("method", "write_verify"), "method")
    n = plain.get("n_devices", 10_000)
    whole("n_devices", n, 1, high=MAX_DEVICES)
    real("tol_frac", plain.get("tol_frac", 0.02), "a fraction of the window in (0, 1]", lambda v: 0 < v <= 1)
    whole("max_iterations", plain.get("max_iterations", 30), 1, high=MAX_ITERATIONS)
    return device_with_overrides(plain["device"], groups["device"]), method, n, plain


def program_error_point(settings: dict, rng: np.random.Generator) -> dict:
    """Program ``n_devices`` devices to targets spread uniformly over the window.

    Settings: ``device`` (card), ``device.*`` overrides, ``method`` (direct,
    open_loop, write_verify), ``n_devices``, ``tol_frac``, ``max_iterations``.
    Returns the rms programming error as a fraction of the window, the
    fraction of devices within tolerance and the mean pulses per device.
    """
    device, method, n, plain = _parse(settings)
    arr = DeviceArray(device, (n,), rng)
    target = rng.uniform(device.g_min_S, device.g_max_S, n)
    result = arr.program(
        target, method, rng, tol_frac=plain.get("tol_frac", 0.02), max_iterations=plain.get("max_iterations", 30)
    )
    return {
        "rms_error_frac": float(np.sqrt(np.mean(result.error_S**2)) / device.window_S),
        "fraction_converged": result.fraction_converged,
        "mean_pulses": float(result.pulses.mean()),
    }


def check_settings(settings: dict) -> None:
    """Raise :class:`NeurosimError` if ``settings`` cannot be run (used to vet a spec before it starts)."""
    _parse(settings)


#: The sweep task ``program_error``.
TASK = Task(
    name="program_error",
    run=program_error_point,
    plain_settings=_PLAIN,
    setting_groups=("device",),
    check=check_settings,
    metrics=("rms_error_frac", "fraction_converged", "mean_pulses"),
    plot_metric="rms_error_frac",
    description="programming error of many devices programmed to targets across the window",
)
