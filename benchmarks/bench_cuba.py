"""CUBA benchmark: neurosim against brian2's C++ standalone mode on the same network.

The network is brian2's documented CUBA example (Brette et al. 2007): 4000 LIF
neurons (3200 excitatory, 800 inhibitory), 2 % random connectivity, exponential
synaptic currents (taue 5 ms, taui 10 ms), taum 20 ms, Vt -50 mV, Vr -60 mV,
El -49 mV, refractory 5 ms, we = 60*0.27/10 mV, wi = -20*4.5/10 mV, random
initial V in [Vr, Vt], 1 s at dt 0.1 ms, with a spike monitor. Both simulators
get the same connectivity and initial V (drawn here with NumPy).

Measured in one process:

* loop: neurosim's ``Network.run`` on a warm Numba cache against the time
  brian2's standalone binary reports for its network run (best of ``--repeats``;
  the binary is re-executed for brian2's repeats);
* whole run: from importing the simulator to having the spikes, on a cold
  start (a fresh Numba cache here; a fresh standalone project directory, so
  code generation and C++ compilation, for brian2).

Run: ``python benchmarks/bench_cuba.py`` (about a minute: brian2 compiles for
about 30 s). ``--no-brian2`` times neurosim alone.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

N, N_EXC, P_CONNECT = 4000, 3200, 0.02
DT_S, DURATION_S = 1e-4, 1.0
TAU_M, TAU_E, TAU_I = 20e-3, 5e-3, 10e-3
V_T, V_R, E_L, T_REF = -50e-3, -60e-3, -49e-3, 5e-3
W_E, W_I = 60 * 0.27 / 10 * 1e-3, -20 * 4.5 / 10 * 1e-3


def cuba_inputs(seed=0):
    """Initial V (V) and the synapse table (pre, post) of the CUBA network."""
    rng = np.random.default_rng(seed)
    v0 = V_R + rng.random(N) * (V_T - V_R)
    pre, post = np.nonzero(rng.random((N, N)) < P_CONNECT)
    return v0, pre.astype(np.int32), post.astype(np.int32)


def bench_neurosim(v0, pre, post, repeats):
    """Cold whole run (import, build, compile, run) and the best warm loop time, in seconds."""
    start = time.perf_counter()
    from neurosim.networks.spiking import Network, NeuronGroup, NeuronParams, SparseConnection, SpikeMonitor

    # brian2's ge and gi are voltages: with C = tau_m (R = 1 ohm) the synaptic currents are the same numbers.
    params = NeuronParams(tau_m_s=TAU_M, c_m_F=TAU_M, v_rest_V=E_L, v_th_V=V_T, v_reset_V=V_R, t_ref_s=T_REF,
                          tau_syn_s=(TAU_E, TAU_I))
    group = NeuronGroup(N, params, name="P", v_init_V=v0)
    exc = pre < N_EXC
    net = Network([
        SparseConnection(group, group, pre[exc], post[exc], W_E, channel=0, name="Ce"),
        SparseConnection(group, group, pre[~exc], post[~exc], W_I, channel=1, name="Ci"),
        SpikeMonitor(group, name="spikes"),
    ], dt_s=DT_S)
    result = net.run(DURATION_S)
    cold = time.perf_counter() - start
    loops = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = net.run(DURATION_S)
        loops.append(time.perf_counter() - t0)
    rec = result["spikes"]
    return {"whole_s": cold, "loop_s": min(loops), "neuron": rec.neuron, "step": rec.step}


def bench_brian2(v0, pre, post, repeats):
    """Cold whole run (import, code generation, C++ compilation, run) and the best loop time, in seconds."""
    start = time.perf_counter()
    import brian2 as b2

    directory = tempfile.mkdtemp(prefix="bench_cuba_brian2_")
    b2.set_device("cpp_standalone", directory=directory)
    b2.defaultclock.dt = DT_S * b2.second
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    ns = dict(taum=TAU_M * b2.second, taue=TAU_E * b2.second, taui=TAU_I * b2.second, Vt=V_T * b2.volt,
              Vr=V_R * b2.volt, El=E_L * b2.volt, we=W_E * b2.volt, wi=W_I * b2.volt)
    group = b2.NeuronGroup(N, eqs, threshold="v>Vt", reset="v = Vr", refractory=T_REF * b2.second,
                           method="exact", namespace=ns)
    group.v = v0 * b2.volt
    exc = pre < N_EXC
    ce = b2.Synapses(group, group, on_pre="ge += we", namespace=ns)
    ci = b2.Synapses(group, group, on_pre="gi += wi", namespace=ns)
    ce.connect(i=pre[exc], j=post[exc])
    ci.connect(i=pre[~exc], j=post[~exc])
    monitor = b2.SpikeMonitor(group)
    b2.run(DURATION_S * b2.second)
    neuron, t = np.asarray(monitor.i), np.asarray(monitor.t)
    cold = time.perf_counter() - start
    device = b2.get_device()
    loops = [device._last_run_time]
    for _ in range(repeats - 1):
        device.run(with_output=False)
        loops.append(device._last_run_time)
    return {"whole_s": cold, "loop_s": min(loops), "neuron": neuron, "step": np.round(t / DT_S).astype(np.int64),
            "directory": directory}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed loop repetitions (best is reported)")
    parser.add_argument("--no-brian2", action="store_true", help="time neurosim only")
    args = parser.parse_args(argv)
    if "numba" in sys.modules:
        raise SystemExit("numba is already imported: run this as a script so that the cold run starts from an empty Numba cache")
    # A fresh Numba cache, so that the cold run pays for compilation (numba reads it when first imported).
    cache = os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_cuba_numba_")
    try:
        return _compare(args)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _compare(args):
    v0, pre, post = cuba_inputs()
    print(f"CUBA: {N} LIF neurons, {pre.size} synapses, {DURATION_S} s at dt {DT_S * 1e3} ms; {os.cpu_count()} CPUs")
    ours = bench_neurosim(v0, pre, post, args.repeats)
    print(f"neurosim        loop {ours['loop_s']:8.3f} s   whole cold run {ours['whole_s']:7.2f} s   "
          f"{ours['neuron'].size} spikes ({ours['neuron'].size / N / DURATION_S:.2f} Hz)")
    if args.no_brian2:
        return 0
    theirs = bench_brian2(v0, pre, post, args.repeats)
    print(f"brian2 cpp_std  loop {theirs['loop_s']:8.3f} s   whole cold run {theirs['whole_s']:7.2f} s   "
          f"{theirs['neuron'].size} spikes ({theirs['neuron'].size / N / DURATION_S:.2f} Hz)")
    same = np.array_equal(np.sort(ours["step"] * N + ours["neuron"]), np.sort(theirs["step"] * N + theirs["neuron"]))
    print(f"identical spike trains: {same}")
    loop_ratio = ours["loop_s"] / theirs["loop_s"]
    whole_ratio = ours["whole_s"] / theirs["whole_s"]
    print(f"ratio loop  (neurosim / brian2 C++ standalone): {loop_ratio:.3f}   (target <= 0.7)")
    print(f"ratio whole (neurosim / brian2 C++ standalone): {whole_ratio:.3f}   (target <= 0.25)")
    shutil.rmtree(theirs["directory"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
