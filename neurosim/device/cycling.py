"""Pulse-response cycling: the measurement a device researcher plots first.

Starting from G_min, a device receives its full potentiation train
(``levels_ltp`` pulses, one at a time) and then its full depression train
(``levels_ltd`` pulses), ``cycles`` times in a row.
"""

from dataclasses import dataclass, replace

import numpy as np

from neurosim.device.array import DeviceArray
from neurosim.device.model import DeviceModel
from neurosim.errors import NeurosimError
from neurosim.rng import as_generator


#: Most cycles one pulse response records (it holds every conductance of every cycle).
MAX_CYCLES = 10_000

@dataclass(frozen=True)
class PulseResponse:
    """Conductance after each pulse of each cycle, and the noiseless model curve."""

    device: DeviceModel
    #: Shape (cycles, levels_ltp + levels_ltd + 1): column 0 is the state before the cycle (S).
    conductance_S: np.ndarray
    #: The model's deterministic curve for one cycle (S), same length as a row above.
    model_S: np.ndarray

    @property
    def pulse(self) -> np.ndarray:
        """Pulse number within a cycle, 0 .. levels_ltp + levels_ltd."""
        return np.arange(self.model_S.size)

    @property
    def cycles(self) -> int:
        return self.conductance_S.shape[0]

    @property
    def mean_S(self) -> np.ndarray:
        return self.conductance_S.mean(axis=0)

    @property
    def std_S(self) -> np.ndarray:
        """Cycle-to-cycle spread (sample std over cycles, 0 for one cycle)."""
        if self.cycles < 2:
            return np.zeros_like(self.model_S)
        return self.conductance_S.std(axis=0, ddof=1)


def noiseless(device: DeviceModel) -> DeviceModel:
    """``device`` without cycle-to-cycle noise, device-to-device variation or stuck devices: its mean behaviour."""
    return replace(device, c2c_sigma_frac=0.0, d2d_nl_sigma_frac=0.0, d2d_g_sigma_frac=0.0, stuck_off_frac=0.0,
                   stuck_on_frac=0.0)  # fmt: skip


def model_cycle_S(device: DeviceModel) -> np.ndarray:
    """Noiseless conductance (S) over one potentiation-then-depression cycle from G_min.

    The analytic curve; for a measured-curve device, one noiseless cycle of its table-driven write.
    """
    if device.measured is not None:
        return cycle_traces(noiseless(device), 1, 1, rng=0)[:, 0]
    return np.concatenate([device.potentiation_curve(), device.depression_curve()[1:]])


def cycle_directions(device: DeviceModel, cycles: int) -> np.ndarray:
    """Direction of the pulse before each row of :func:`cycle_traces`: +1 potentiation, -1 depression, 0 for row 0."""
    cycle = np.concatenate([np.ones(device.levels_ltp, int), -np.ones(device.levels_ltd, int)])
    return np.concatenate([[0], np.tile(cycle, cycles)])


def cycle_traces(device: DeviceModel, devices: int = 1, cycles: int = 1, rng=None) -> np.ndarray:
    """Conductance (S) of ``devices`` devices cycled together through full pulse trains, one pulse at a time.

    The devices form one :class:`DeviceArray` (so each gets its own
    device-to-device variation); every pulse is one write with the card's
    cycle-to-cycle noise. Returns shape ``(cycles * (levels_ltp + levels_ltd) + 1, devices)``:
    row 0 is the state before any pulse, row ``k`` the state after pulse ``k``
    (each cycle: ``levels_ltp`` potentiation pulses, then ``levels_ltd``
    depression pulses).
    """
    if isinstance(cycles, bool) or not isinstance(cycles, (int, np.integer)) or not 1 <= cycles <= MAX_CYCLES:
        raise NeurosimError(f"cycles = {cycles!r} is not allowed: a whole number from 1 to {MAX_CYCLES}")
    rng = as_generator(rng)
    cell = DeviceArray(device, (devices,), rng)
    train = cycle_directions(device, cycles)
    g = np.empty((train.size, devices))
    g[0] = cell.conductance_S
    for i, step in enumerate(train[1:], start=1):
        cell.apply_pulses(np.full(devices, step), rng)
        g[i] = cell.conductance_S
    return g


def pulse_response(device: DeviceModel, cycles: int = 1, rng=None, noiseless: bool = False) -> PulseResponse:
    """Cycle one device ``cycles`` times through its full pulse trains, one pulse at a time.

    With ``noiseless`` the cycle-to-cycle noise is switched off (the result is
    then the model curve in every cycle).
    """
    if noiseless:
        device = replace(device, c2c_sigma_frac=0.0)
    trace = cycle_traces(device, 1, cycles, rng)[:, 0]
    per_cycle = device.levels_ltp + device.levels_ltd
    g = np.lib.stride_tricks.sliding_window_view(trace, per_cycle + 1)[::per_cycle].copy()
    return PulseResponse(device, g, model_cycle_S(device))
