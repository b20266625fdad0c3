"""Spike sources: neuron groups and inputs (Poisson, regular-rate, explicit spike trains).

These objects describe a network; they hold no simulation state. Per-neuron
values may be a scalar, one value per neuron ``(n,)`` or one row per batch
sample ``(batch, n)``.
"""

import itertools
import math

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.spiking.params import NeuronModel, NeuronParams

_counter = itertools.count()


def _name(name, kind: str) -> str:
    if name is None:
        return f"{kind}_{next(_counter)}"
    if not isinstance(name, str) or not name.isidentifier():
        raise NeurosimError(f"name = {name!r} is not allowed: a Python identifier (letters, digits, _)")
    return name


def _size(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise NeurosimError(f"n = {n!r} is not allowed: a number of neurons >= 1")
    return int(n)


def per_neuron(value, n: int, what: str, lower=-math.inf) -> np.ndarray:
    """``value`` as a float array of shape ``(n,)`` or ``(batch, n)``, finite and >= ``lower``."""
    arr = np.array(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.ndim not in (1, 2) or arr.shape[-1] != n:
        raise NeurosimError(f"{what} has shape {arr.shape}; allowed: a scalar, ({n},) or (batch, {n})")
    if not np.all(np.isfinite(arr)):
        raise NeurosimError(f"{what} contains NaN or infinite values")
    if np.any(arr < lower):
        raise NeurosimError(f"{what} has values below {lower} (minimum {arr.min()})")
    arr.setflags(write=False)
    return arr


class SpikeSource:
    """Anything whose spikes can drive a connection: ``n`` neurons with a ``name``."""

    n: int
    name: str

    def __repr__(self):
        return f"{type(self).__name__}(n={self.n}, name={self.name!r})"


class NeuronGroup(SpikeSource):
    """``n`` neurons of one type.

    ``params``: a :class:`NeuronParams` (default ``NeuronParams()``); keyword
    arguments replace its fields (``NeuronGroup(10, tau_m_s=10e-3)``) and an
    unknown name raises NeurosimError. ``v_init_V``: membrane potential at the
    start of every run (V; default v_rest_V for LIF, v_reset_V for IF).
    ``i_ext_A``: constant external current (A), e.g. a bias.
    """

    def __init__(self, n, params: NeuronParams | None = None, *, name=None, v_init_V=None, i_ext_A=0.0, **param_changes):
        self.n = _size(n)
        if params is None:
            params = NeuronParams()
        if not isinstance(params, NeuronParams):
            raise NeurosimError(f"params must be a NeuronParams, got {type(params).__name__}")
        self.params = params.with_changes(**param_changes) if param_changes else params
        self.name = _name(name, "neurons")
        if v_init_V is None:
            v_init_V = self.params.v_rest_V if self.params.model is NeuronModel.LIF else self.params.v_reset_V
        self.v_init_V = per_neuron(v_init_V, self.n, f"{self.name}.v_init_V")
        self.i_ext_A = per_neuron(i_ext_A, self.n, f"{self.name}.i_ext_A")


class PoissonInput(SpikeSource):
    """``n`` independent Poisson spike trains: each step each neuron fires with probability ``rate_Hz * dt``."""

    def __init__(self, n, rate_Hz, *, name=None):
        self.n = _size(n)
        self.name = _name(name, "poisson")
        self.rate_Hz = per_neuron(rate_Hz, self.n, f"{self.name}.rate_Hz", lower=0.0)


class RegularInput(SpikeSource):
    """``n`` regular spike trains: a phase grows by ``rate_Hz * dt`` per step and fires on reaching 1.

    ``phase`` (dimensionless, in [0, 1)) is the phase at the start of every run.
    """

    def __init__(self, n, rate_Hz, *, phase=0.0, name=None):
        self.n = _size(n)
        self.name = _name(name, "regular")
        self.rate_Hz = per_neuron(rate_Hz, self.n, f"{self.name}.rate_Hz", lower=0.0)
        self.phase = per_neuron(phase, self.n, f"{self.name}.phase", lower=0.0)
        if np.any(self.phase >= 1.0):
            raise NeurosimError(f"{self.name}.phase must be in [0, 1), got a maximum of {self.phase.max()}")


class SpikeTrainInput(SpikeSource):
    """``n`` neurons that fire at listed times (like brian2's SpikeGeneratorGroup).

    ``indices``: neuron of each spike; ``times_s``: its time (s, >= 0), placed in
    step ``floor(t/dt + 1e-3)`` (spikes at or after the end of a run are ignored);
    ``samples``: the batch sample of each spike, or None for spikes shared by all samples.
    """

    def __init__(self, n, indices, times_s, *, samples=None, name=None):
        self.n = _size(n)
        self.name = _name(name, "spike_train")
        indices = np.asarray(indices)
        times = np.asarray(times_s, dtype=float)
        if indices.ndim != 1 or times.shape != indices.shape:
            raise NeurosimError(f"{self.name}: indices {indices.shape} and times_s {times.shape} must be 1-D of equal length")
        if indices.size and (not np.issubdtype(indices.dtype, np.integer) or indices.min() < 0 or indices.max() >= self.n):
            raise NeurosimError(f"{self.name}: indices must be integers in [0, {self.n})")
        if not np.all(np.isfinite(times)) or np.any(times < 0):
            raise NeurosimError(f"{self.name}: times_s must be finite and >= 0 s")
        if samples is not None:
            samples = np.asarray(samples)
            if samples.shape != indices.shape or (samples.size and (not np.issubdtype(samples.dtype, np.integer) or samples.min() < 0)):
                raise NeurosimError(f"{self.name}: samples must be non-negative integers, one per spike")
            samples = samples.astype(np.int64)
        self.indices = indices.astype(np.int64)
        self.times_s = times
        self.samples = samples
