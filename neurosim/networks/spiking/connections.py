"""Connections: dense layers (weights, or any per-step read), crossbar arrays and sparse synapse tables.

A presynaptic spike adds the synaptic weight (amperes) to one current channel
of its target neuron: channel ``k`` (an index into the target's
``params.tau_syn_s``) decays exponentially afterwards; ``channel=None`` is the
direct channel, whose current lasts exactly the next time step. Spikes of
step ``t`` change the currents that drive the update of step ``t + 1``.
"""

import math
import numbers

import numpy as np

from neurosim.crossbar import CrossbarLayer
from neurosim.errors import NeurosimError
from neurosim.networks.spiking.groups import NeuronGroup, SpikeSource, _name


def _check_ends(source, target, channel, what):
    if not isinstance(source, SpikeSource):
        raise NeurosimError(f"{what}: source must be a neuron group or an input, got {type(source).__name__}")
    if not isinstance(target, NeuronGroup):
        raise NeurosimError(f"{what}: target must be a NeuronGroup, got {type(target).__name__}")
    k = target.params.n_channels
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < k):
        raise NeurosimError(
            f"{what}: channel = {channel!r} is not allowed: None (direct) or an index below {k} "
            f"(target {target.name} has tau_syn_s = {target.params.tau_syn_s})"
        )
    return None if channel is None else int(channel)


def _weights(w, shape, what):
    arr = np.array(w, dtype=float)
    if arr.ndim == 0:
        arr = np.full(shape, float(arr))
    if arr.shape != shape:
        raise NeurosimError(f"{what} has shape {arr.shape}; allowed: {shape}")
    if not np.all(np.isfinite(arr)):
        raise NeurosimError(f"{what} contains NaN or infinite values")
    arr.setflags(write=False)
    return arr


class DenseConnection:
    """All-to-all layer from ``source`` to ``target``.

    ``weights_A``: weight matrix (A) of shape ``(target.n, source.n)`` (out, in).
    ``read``: optional callable ``read(spikes, rng) -> currents``: ``spikes`` is a
    float array ``(batch, source.n)`` of this step's spikes (0 or 1), ``rng`` the
    run's ``np.random.Generator``, and the result ``(batch, target.n)`` (A) is
    added to the target channel. It is called once per time step, so a crossbar
    read draws fresh noise every step; when given, ``weights_A`` is optional and
    serves only :meth:`Network.to_brian2` (nominal weights).
    """

    def __init__(self, source, target, weights_A=None, *, read=None, channel=0, name=None):
        self.name = _name(name, "dense")
        self.channel = _check_ends(source, target, channel, self.name)
        self.source, self.target = source, target
        if read is not None and not callable(read):
            raise NeurosimError(f"{self.name}: read must be callable as read(spikes, rng), got {type(read).__name__}")
        if read is None and weights_A is None:
            raise NeurosimError(f"{self.name}: give weights_A, a read callable, or both")
        shape = (target.n, source.n)
        self.weights_A = None if weights_A is None else _weights(weights_A, shape, f"{self.name}.weights_A")
        self.read = read

    def synapses(self):
        """(pre, post, weight_A) of the non-zero weights."""
        post, pre = np.nonzero(self.weights_A)
        return pre, post, self.weights_A[post, pre]


class SparseConnection:
    """Synapse table: synapse ``s`` connects ``pre[s]`` of ``source`` to ``post[s]`` of ``target``.

    ``weights_A``: one weight (A) per synapse, or a scalar for all. Repeated
    pairs are separate synapses. Spikes are delivered event by event.
    """

    def __init__(self, source, target, pre, post, weights_A, *, channel=0, name=None):
        self.name = _name(name, "sparse")
        self.channel = _check_ends(source, target, channel, self.name)
        self.source, self.target = source, target
        pre, post = np.asarray(pre), np.asarray(post)
        if pre.ndim != 1 or post.shape != pre.shape:
            raise NeurosimError(f"{self.name}: pre {pre.shape} and post {post.shape} must be 1-D of equal length")
        for arr, ends, label in ((pre, source, "pre"), (post, target, "post")):
            if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= ends.n):
                raise NeurosimError(f"{self.name}: {label} indices must be integers in [0, {ends.n}) ({ends.name} has {ends.n} neurons)")
        self.pre, self.post = pre.astype(np.int64), post.astype(np.int64)
        self.weights_A = _weights(weights_A, pre.shape, f"{self.name}.weights_A")
        self.read = None

    def synapses(self):
        """(pre, post, weight_A) of every synapse."""
        return self.pre, self.post, self.weights_A


class CrossbarConnection:
    """All-to-all layer whose weights live on a :class:`~neurosim.crossbar.CrossbarLayer`.

    ``layer`` holds ``W`` of shape ``(target.n, source.n)`` (out, in). Every
    time step the source's spike vector (0 or 1 per neuron, in input units:
    with ``layer.config.input_full_scale = 1`` a spike is the full read
    voltage) is read through the crossbar, :meth:`CrossbarLayer.forward`:
    input DAC, every tile, read and output noise drawn fresh from the run's
    generator at every read, ADC per tile, digital sum. The outputs (weight
    units) times ``scale_A`` (amperes per output unit; default the column
    current of one output unit, :attr:`CrossbarLayer.current_per_output_A`)
    are added to the target channel (``channel``, see the module docstring).
    Without noise and with an ideal ADC this is the :class:`DenseConnection`
    with ``weights_A = layer.effective_weights() * scale_A``.

    :meth:`Network.to_brian2` exports :attr:`weights_A`, the noise-free
    effective weights of the devices now (IR drop included when the layer has
    wires): brian2 gets the nominal synapses, without the read noise, the
    DACs and the ADCs (a warning is logged).
    """

    def __init__(self, source, target, layer, *, scale_A=None, channel=0, name=None):
        self.name = _name(name, "crossbar")
        self.channel = _check_ends(source, target, channel, self.name)
        self.source, self.target = source, target
        if not isinstance(layer, CrossbarLayer):
            raise NeurosimError(f"{self.name}: layer must be a CrossbarLayer, got {type(layer).__name__}")
        if (layer.out_features, layer.in_features) != (target.n, source.n):
            raise NeurosimError(
                f"{self.name}: the layer holds W of shape {(layer.out_features, layer.in_features)}; "
                f"allowed: (target.n, source.n) = {(target.n, source.n)}"
            )
        self.layer = layer
        if scale_A is None:
            scale_A = layer.current_per_output_A
        if isinstance(scale_A, bool) or not isinstance(scale_A, numbers.Real) or not math.isfinite(scale_A) or scale_A <= 0:
            raise NeurosimError(f"{self.name}: scale_A = {scale_A!r} is not allowed: a finite current > 0 A per output unit")
        self.scale_A = float(scale_A)

    def read(self, spikes, rng):
        """Synaptic currents (A) ``(batch, target.n)`` of this step's ``spikes (batch, source.n)``: one crossbar read."""
        return self.layer.forward(spikes, rng) * self.scale_A

    @property
    def weights_A(self) -> np.ndarray:
        """Noise-free weights (A) ``(target.n, source.n)`` of the devices now (what :meth:`Network.to_brian2` exports)."""
        layer = self.layer
        return layer.effective_weights(include_wires=layer.config.wire is not None) * self.scale_A

    def synapses(self):
        """(pre, post, weight_A) of the non-zero noise-free weights."""
        w = self.weights_A
        post, pre = np.nonzero(w)
        return pre, post, w[post, pre]
