"""Hand a :class:`~neurosim.networks.stdp.PlasticNetwork` (its current state) over to brian2, STDP included.

The excitatory group ``exc`` has the equations

    dv/dt = ((v_rest - v) + ge (E_exc - v) + gi (E_inh - v)) / tau_e : volt (unless refractory)
    dge/dt = -ge/tau_ge,  dgi/dt = -gi/tau_gi,  dtheta/dt = -theta/tau_theta,
    dtrace1/dt = -trace1/tau_post,  dtrace2/dt = -trace2/tau_post2

with ``method='exponential_euler'`` (the kernel's integrator), threshold
``v > v_th + theta and timer > t_block`` (``theta`` constant when the
network's thresholds are not adaptive; ``timer``, the time since the last
spike, advanced by ``dt`` at the start of each step, is the kernel's block
counter) and reset ``v = v_reset; theta += theta_plus; trace1 = 1;
trace2 = 1`` (the post traces jump in the reset, after the synapses have used
them, as in the kernel); the inhibitory group ``inh`` likewise. The inputs
are a ``SpikeGeneratorGroup`` ``inputs`` replaying given input spikes (brian2's
own Poisson draws differ from neurosim's counter-based stream), or brian2's
own ``PoissonGroup`` (for speed comparisons). The plastic
synapses ``input_exc`` carry ``w`` and the event-driven pre trace (not named ``pre``: that is the
name of brian2's presynaptic pathway), with
``on_pre = 'ge_post += w; trace_in = 1; w = clip(w - nu_pre trace1_post, 0, w_max)'``
and ``on_post = 'w = clip(w + nu_post trace_in trace2_post, 0, w_max)'`` (the
multiplicative form and additive traces are written accordingly);
``exc_inh`` (one to one, ``w_ei``) and ``inh_exc`` (all but self, ``w_ie``)
are fixed. Monitors: ``exc_spikes``, ``input_spikes``. Weight
normalisation and the repeat-at-higher-intensity rule act between
presentations and are not part of the exported run.
"""

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.stdp import kernels as K
from neurosim.networks.stdp.params import STDPForm


def export(net, spikes_in):
    """A ``brian2.Network`` that continues ``net`` from its current state, with input spikes ``spikes_in``.

    ``spikes_in``: ``(step, input)`` rows in the network's absolute steps (as
    :meth:`PlasticNetwork.run` records them), at or after ``net.step``; None
    makes ``inputs`` a ``PoissonGroup`` (rates 0 Hz: set ``network["inputs"].rates``).
    """
    import brian2 as b2

    if net.device is not None:
        raise NeurosimError("to_brian2 exports exact synapses only: brian2 has no device pulse model (use device=None)")
    if not net.plastic:
        raise NeurosimError("to_brian2 exports the learning network; set plastic = True")
    replay = spikes_in is not None
    spikes_in = np.zeros((0, 2), np.int64) if spikes_in is None else np.asarray(spikes_in, dtype=np.int64).reshape(-1, 2)
    if spikes_in.size and spikes_in[:, 0].min() < net.step:
        raise NeurosimError(f"spikes_in has steps before the network's current step {net.step}")
    p, r = net.params, net.rule
    dt = p.dt_s * b2.second
    ns = {
        "tau_e": p.tau_e_s * b2.second, "v_rest_e": p.v_rest_e_V * b2.volt, "E_exc": p.e_exc_V * b2.volt,
        "E_inh_e": p.e_inh_e_V * b2.volt, "v_th_e": p.v_th_e_V * b2.volt, "v_reset_e": p.v_reset_e_V * b2.volt,
        "tau_ge": p.tau_ge_s * b2.second, "tau_gi": p.tau_gi_s * b2.second, "tau_theta": p.tau_theta_s * b2.second,
        "theta_plus": p.theta_plus_V * b2.volt,
        "tau_i": p.tau_i_s * b2.second, "v_rest_i": p.v_rest_i_V * b2.volt, "v_th_i": p.v_th_i_V * b2.volt,
        "v_reset_i": p.v_reset_i_V * b2.volt, "tau_ge_i": p.tau_ge_i_s * b2.second,
        "tau_pre": r.tau_pre_s * b2.second, "tau_post": r.tau_post_s * b2.second,
        "tau_post2": (r.tau_post2_s or 1.0) * b2.second, "nu_pre": r.nu_pre, "nu_post": r.nu_post, "w_max": r.w_max,
        "w_ei": p.w_ei, "w_ie": p.w_ie,
    }  # fmt: skip
    jump = "= 1" if r.reset_traces else "+= 1"
    block = int(round(p.t_block_e_s / p.dt_s))
    ns["t_block"] = (block + 0.5) * p.dt_s * b2.second
    theta = "dtheta/dt = -theta/tau_theta : volt" if net.adaptive else "theta : volt (constant)"
    exc = b2.NeuronGroup(
        net.n,
        f"""dv/dt = ((v_rest_e - v) + ge*(E_exc - v) + gi*(E_inh_e - v)) / tau_e : volt (unless refractory)
        dge/dt = -ge/tau_ge : 1
        dgi/dt = -gi/tau_gi : 1
        {theta}
        dtrace1/dt = -trace1/tau_post : 1
        dtrace2/dt = -trace2/tau_post2 : 1
        timer : second""",
        threshold="v > v_th_e + theta and timer > t_block", reset=f"v = v_reset_e; timer = 0*second; {'theta += theta_plus; ' if net.adaptive else ''}trace1 {jump}; trace2 {jump}",
        refractory=p.t_ref_e_s * b2.second, method="exponential_euler", namespace=ns, dt=dt, name="exc")
    inh = b2.NeuronGroup(
        net.n,
        """dv/dt = ((v_rest_i - v) + ge*(E_exc - v)) / tau_i : volt (unless refractory)
        dge/dt = -ge/tau_ge_i : 1""",
        threshold="v > v_th_i", reset="v = v_reset_i", refractory=p.t_ref_i_s * b2.second,
        method="exponential_euler", namespace=ns, dt=dt, name="inh")
    sf = net.sf
    exc.v = sf[K.S_VE] * b2.volt
    exc.ge, exc.gi, exc.theta = sf[K.S_GE], sf[K.S_GI], sf[K.S_THETA] * b2.volt
    exc.trace1, exc.trace2 = sf[K.S_POST1], sf[K.S_POST2]
    inh.v, inh.ge = sf[K.S_VI] * b2.volt, sf[K.S_GEI]
    if np.any(net.si[K.R_E]) or np.any(net.si[K.R_I]):
        raise NeurosimError("to_brian2: export a network that has no neuron in its refractory period")
    # The firing block as a timer (s since the last spike, advanced at the start of each step): blocked
    # while timer <= (B + 0.5) dt, i.e. for the B steps after a spike, as the kernel's counter.
    exc.timer = (block - net.si[K.R_BLOCK]) * p.dt_s * b2.second
    timer_clock = exc.run_regularly("timer += dt", when="start", dt=dt, name="exc_timer")
    if replay:
        times = (spikes_in[:, 0] - net.step) * p.dt_s
        inputs = b2.SpikeGeneratorGroup(net.m, spikes_in[:, 1], times * b2.second, dt=dt, name="inputs")
    else:
        inputs = b2.PoissonGroup(net.m, rates=np.zeros(net.m) * b2.Hz, dt=dt, name="inputs")
    dep = "nu_pre*trace1_post" + ("*w/w_max" if r.form is STDPForm.MULTIPLICATIVE else "")
    pot = "nu_post*trace_in" + ("*trace2_post" if r.tau_post2_s is not None else "")
    pot += "*(w_max - w)/w_max" if r.form is STDPForm.MULTIPLICATIVE else ""
    syn = b2.Synapses(inputs, exc, "w : 1\ndtrace_in/dt = -trace_in/tau_pre : 1 (event-driven)",
                      on_pre=f"ge_post += w\ntrace_in {jump}\nw = clip(w - {dep}, 0, w_max)",
                      on_post=f"w = clip(w + {pot}, 0, w_max)", namespace=ns, dt=dt, name="input_exc")
    syn.connect()  # synapse index i * N + j: the kernel's layout
    syn.w = net.weights.reshape(-1)
    # The pre traces as the kernel holds them at the current step (brian2 decays them from t = 0).
    k = net.step - net.s_pre
    syn.trace_in = np.repeat(net.x_pre * np.exp(k * net.log_decay_pre), net.n)
    ei = b2.Synapses(exc, inh, on_pre="ge_post += w_ei", namespace=ns, dt=dt, name="exc_inh")
    ei.connect(j="i")
    ie = b2.Synapses(inh, exc, on_pre="gi_post += w_ie", namespace=ns, dt=dt, name="inh_exc")
    ie.connect(condition="i != j")
    mons = [b2.SpikeMonitor(exc, name="exc_spikes"), b2.SpikeMonitor(inputs, name="input_spikes")]
    return b2.Network(exc, timer_clock, inh, inputs, syn, ei, ie, *mons)
