"""Connections: dense layers (weights, or any per-step read such as a crossbar) and sparse synapse tables.

A presynaptic spike adds the synaptic weight (amperes) to one current channel
of its target neuron: channel ``k`` (an index into the target's
``params.tau_syn_s``) decays exponentially afterwards; ``channel=None`` is the
direct channel, whose current lasts exactly the next time step. Spikes of
step ``t`` change the currents that drive the update of step ``t + 1``.
"""

import numpy as np

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
