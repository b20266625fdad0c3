"""The converted spiking network written directly in brian2 (the reference simulator), many samples at once.

:func:`brian2_network` builds, for a batch of ``B`` samples, one brian2
network in which every sample has its own copy of each layer (block-diagonal
``Synapses``, so the samples are independent), the fastest way we found to
run many samples in brian2 (one network and one compiled binary instead of a
run per sample). Each layer is a group of IF neurons with threshold 1, reset
by subtraction and a constant bias:

    start of step:   v += bias + isyn + sqrt(nvar + rest_var) * randn();  isyn = 0;  nvar = 0
    threshold:       v > 1,  reset: v -= 1
    on_pre:          isyn_post += w;  nvar_post += w2

with ``w`` the crossbar's noise-free weights (the devices as programmed) and
``w2`` each device pair's read-noise variance, so the noise added at a step
has the variance ``sum_i s_i sigma_i**2`` of the spikes of the previous step:
the fused engine's read with an ideal ADC, in distribution. Spikes of step
``t`` reach the next layer's threshold test at step ``t + 1``, as in neurosim.
Inputs are ``PoissonGroup`` trains of ``intensity / dt_s`` Hz, or (for
cross-checks) a ``SpikeGeneratorGroup`` firing given spikes.

Only what an analog neuron sees is supported: an ideal ADC, no reference
columns (their noise is shared between outputs), Poisson coding.
"""

import numpy as np

from neurosim.convert.snn.engine import CrossbarSNN, InputCoding
from neurosim.errors import NeurosimError


def brian2_network(snn: CrossbarSNN, x, *, read_noise: bool = True, input_trains=None):
    """brian2 objects for inputs ``x (B, n_in)``: returns ``(network, groups, monitor)``.

    ``groups``: one ``NeuronGroup`` per layer (``layer{l}``, ``B * n_l`` neurons,
    sample ``b``'s neuron ``j`` at index ``b * n_l + j``); ``monitor``: a
    ``SpikeMonitor`` of the output group. ``read_noise=False`` leaves the
    per-step noise out (then ``nvar`` is not simulated at all).
    ``input_trains = (sample, step, index)``: fire exactly these input spikes
    (``SpikeGeneratorGroup``) instead of Poisson trains. Uses brian2's current
    device and code-generation target.
    """
    import brian2 as b2

    x = np.asarray(x, dtype=np.float64)
    if snn.config.input_coding is not InputCoding.POISSON:
        raise NeurosimError("brian2_network supports Poisson input coding only")
    arrays = snn.read_arrays()
    for l, ra in enumerate(arrays):
        if ra.n_passes > 1 or ra.has_common:
            raise NeurosimError(f"brian2_network: layer {l} has a per-tile ADC or reference columns; only analog integration (ideal ADC, differential mapping) is written for brian2")
    sizes = snn.sizes
    b = x.shape[0]
    if x.ndim != 2 or x.shape[1] != sizes[0]:
        raise NeurosimError(f"x must be (samples, {sizes[0]}), got {x.shape}")
    dt = snn.config.dt_s * b2.second
    if input_trains is None:
        source = b2.PoissonGroup(b * sizes[0], rates=(x.ravel() / snn.config.dt_s) * b2.Hz, dt=dt, name="input")
    else:
        sample, step, index = (np.asarray(a) for a in input_trains)
        source = b2.SpikeGeneratorGroup(b * sizes[0], sample * sizes[0] + index, step * dt, dt=dt, name="input")
    objects, groups, previous = [source], [], source
    for l, (ra, bias) in enumerate(zip(arrays, snn.biases)):
        n_in, n_out = ra.n_in, ra.n_out
        noisy = read_noise and ra.noisy
        eqs = "v : 1\nbias : 1\nisyn : 1" + ("\nnvar : 1" if noisy else "")
        group = b2.NeuronGroup(b * n_out, eqs, threshold="v > 1", reset="v -= 1", dt=dt, name=f"layer{l}")
        group.bias = np.tile(bias, b)
        rest_var = float(ra.consts[0])  # the output noise of every row tile, summed in analog
        code = (f"v += bias + isyn + sqrt(nvar + {rest_var!r})*randn()\nisyn = 0\nnvar = 0" if noisy
                else "v += bias + isyn\nisyn = 0")
        objects += [group, group.run_regularly(code, when="start", dt=dt, name=f"layer{l}_integrate")]
        w = ra.rw[:, :n_out].astype(np.float64)  # (n_in, n_out): the values the fused engine sums
        syn = b2.Synapses(previous, group, "w : 1" + ("\nw2 : 1" if noisy else ""),
                          on_pre="isyn_post += w" + ("\nnvar_post += w2" if noisy else ""), dt=dt, name=f"crossbar{l}")
        sample_of = np.repeat(np.arange(b), n_in * n_out)
        pre = np.tile(np.repeat(np.arange(n_in), n_out), b)
        post = np.tile(np.tile(np.arange(n_out), n_in), b)
        syn.connect(i=sample_of * n_in + pre, j=sample_of * n_out + post)
        syn.w = np.tile(w.ravel(), b)
        if noisy:
            syn.w2 = np.tile(ra.rw[:, n_out : 2 * n_out].astype(np.float64).ravel(), b)
        objects.append(syn)
        groups.append(group)
        previous = group
    monitor = b2.SpikeMonitor(groups[-1], name="out_spikes")
    objects.append(monitor)
    return b2.Network(*objects), groups, monitor


def output_scores(groups, monitor, batch: int, n_out: int) -> tuple:
    """``(counts, potential)`` of the output layer, each ``(batch, n_out)``, after a run."""
    counts = np.bincount(np.asarray(monitor.i[:]), minlength=batch * n_out).reshape(batch, n_out)
    potential = np.asarray(groups[-1].v[:]).reshape(batch, n_out)
    return counts, potential
