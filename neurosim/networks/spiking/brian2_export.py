"""Hand a :class:`~neurosim.networks.spiking.network.Network` over to brian2.

Each neuron group becomes a ``brian2.NeuronGroup`` with the equations

    dv/dt = (v_rest - v)/tau_m + (I_syn0 + ... + I_direct + i_ext)/c_m : volt (unless refractory)
    dI_synk/dt = -I_synk/tau_synk : amp

(without the flag when there is no refractory period), threshold ``v > v_th``, reset
``v = v_reset`` or ``v -= v_th - v_reset``, the refractory period and
``method='exact'``. A non-leaky IF neuron has no fixed point, which brian2's
exact solver needs, so IF groups are written so that brian2's Euler step *is*
the exact step at this ``dt``: ``dI_synk/dt = -I_synk (1 - e^(-dt/tau_synk))/dt``
and ``dv/dt = (sum_k I_synk tau_synk (1 - e^(-dt/tau_synk))/dt + I_direct + i_ext)/c_m``.
The direct channel ``I_direct`` is cleared after every state
update. Poisson inputs become ``PoissonGroup``, regular inputs a phase
neuron group (``dphase/dt = rate``, threshold ``phase >= 1``, reset ``phase -= 1``),
spike trains ``SpikeGeneratorGroup``; connections become ``Synapses`` with
``on_pre='I_synk_post += w'``; monitors become brian2 monitors recording ``v``
and the ``I_synk``. Every object has the neurosim name and the network's ``dt``.
A :class:`~neurosim.networks.spiking.CrossbarConnection` becomes the synapses of
its noise-free effective weights (a warning says so): brian2 does not model its
per-read noise, DACs and ADCs.
"""

import logging

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.spiking.connections import CrossbarConnection, DenseConnection
from neurosim.networks.spiking.groups import PoissonInput, RegularInput, SpikeTrainInput
from neurosim.networks.spiking.monitors import SpikeMonitor
from neurosim.networks.spiking.params import NeuronModel, Reset

log = logging.getLogger(__name__)


def _row(arr, sample):
    return arr[sample] if arr.ndim == 2 else arr


def _channel_var(channel):
    return "I_direct" if channel is None else f"I_syn{channel}"


def _group(b2, g, sample, drive, dt, has_direct):
    p = g.params
    ns = {"c_m": p.c_m_F * b2.farad, "v_th": p.v_th_V * b2.volt, "v_reset": p.v_reset_V * b2.volt}
    flag = " (unless refractory)" if p.t_ref_s > 0 else ""
    lines = []
    for k, tau in enumerate(p.tau_syn_s):
        ns[f"tau_syn{k}"] = tau * b2.second
    if p.model is NeuronModel.LIF:
        ns.update(tau_m=p.tau_m_s * b2.second, v_rest=p.v_rest_V * b2.volt)
        total = " + ".join([f"I_syn{k}" for k in range(p.n_channels)] + ["I_direct", "i_ext"])
        lines.append(f"dv/dt = (v_rest - v)/tau_m + ({total})/c_m : volt{flag}")
        # A channel whose tau_syn equals tau_m decays with the symbol tau_m itself: brian2's exact solver
        # solves the equations symbolically, and with two symbols it divides by tau_m - tau_syn (NaN when equal).
        taus = ["tau_m" if tau == p.tau_m_s else f"tau_syn{k}" for k, tau in enumerate(p.tau_syn_s)]
        lines += [f"dI_syn{k}/dt = -I_syn{k}/{taus[k]} : amp" for k in range(p.n_channels)]
        method = "exact"
    else:
        # Written so that brian2's Euler step is the exact step (its exact solver needs a fixed point).
        gain = [f"I_syn{k}*tau_syn{k}*(1 - exp(-dt/tau_syn{k}))/dt" for k in range(p.n_channels)]
        total = " + ".join(gain + ["I_direct", "i_ext"])
        lines.append(f"dv/dt = ({total})/c_m : volt{flag}")
        lines += [f"dI_syn{k}/dt = -I_syn{k}*(1 - exp(-dt/tau_syn{k}))/dt : amp" for k in range(p.n_channels)]
        method = "euler"
    lines += ["I_direct : amp", "i_ext : amp"]
    reset = "v = v_reset" if p.reset is Reset.TO_VALUE else "v -= v_th - v_reset"
    refractory = p.t_ref_s * b2.second if p.t_ref_s > 0 else False
    group = b2.NeuronGroup(g.n, "\n".join(lines), threshold="v > v_th", reset=reset, refractory=refractory,
                           method=method, namespace=ns, dt=dt, name=g.name)
    group.v = _row(drive["v_init_V"][g.name], sample) * b2.volt
    group.i_ext = _row(drive["i_ext_A"][g.name], sample) * b2.amp
    objects = [group]
    if has_direct:
        objects.append(group.run_regularly("I_direct = 0*amp", when="after_groups", dt=dt, name=f"{g.name}_clear_direct"))
    return objects


def _input(b2, inp, sample, drive, dt):
    if isinstance(inp, PoissonInput):
        return b2.PoissonGroup(inp.n, rates=_row(drive["rate_Hz"][inp.name], sample) * b2.Hz, dt=dt, name=inp.name)
    if isinstance(inp, RegularInput):
        group = b2.NeuronGroup(inp.n, "dphase/dt = rate : 1\nrate : Hz", threshold="phase >= 1", reset="phase -= 1",
                               method="euler", dt=dt, name=inp.name)
        group.rate = _row(drive["rate_Hz"][inp.name], sample) * b2.Hz
        group.phase = _row(inp.phase, sample)
        return group
    assert isinstance(inp, SpikeTrainInput)
    keep = np.ones(inp.indices.size, bool) if inp.samples is None else inp.samples == sample
    return b2.SpikeGeneratorGroup(inp.n, inp.indices[keep], inp.times_s[keep] * b2.second, dt=dt, name=inp.name)


def export(net, sample: int, drive: dict):
    """brian2 objects for batch sample ``sample`` of ``net`` with per-run values ``drive`` (see ``Network.drive``)."""
    import brian2 as b2

    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not 0 <= sample < drive["batch"]:
        raise NeurosimError(f"sample = {sample!r} is not allowed: an index below the batch size {drive['batch']}")
    for c in net.connections:
        if isinstance(c, DenseConnection) and c.weights_A is None:
            raise NeurosimError(f"{c.name}: a connection with only a read callable cannot be exported; give it nominal weights_A")
        if isinstance(c, CrossbarConnection):
            log.warning("%s: exported with the crossbar's noise-free effective weights; brian2 does not simulate its "
                        "read noise, DACs or ADCs", c.name)
    dt = net.dt_s * b2.second
    direct_targets = {c.target.name for c in net.connections if c.channel is None}
    objects, by_name = [], {}
    for g in net.groups:
        made = _group(b2, g, sample, drive, dt, g.name in direct_targets)
        by_name[g.name] = made[0]
        objects += made
    for inp in net.inputs:
        by_name[inp.name] = _input(b2, inp, sample, drive, dt)
        objects.append(by_name[inp.name])
    for c in net.connections:
        pre, post, w = c.synapses()
        syn = b2.Synapses(by_name[c.source.name], by_name[c.target.name], "w : amp",
                          on_pre=f"{_channel_var(c.channel)}_post += w", dt=dt, name=c.name)
        syn.connect(i=pre, j=post)
        syn.w = w * b2.amp
        objects.append(syn)
    for mon in net.monitors:
        if isinstance(mon, SpikeMonitor):
            objects.append(b2.SpikeMonitor(by_name[mon.source.name], name=mon.name))
        else:
            variables = ["v"] + [f"I_syn{k}" for k in range(mon.group.params.n_channels)]
            objects.append(b2.StateMonitor(by_name[mon.group.name], variables, record=mon.neurons, dt=dt, name=mon.name))
    return b2.Network(*objects)
