"""The network: groups, inputs, connections and monitors, simulated with a fixed time step.

:meth:`Network.run` flattens the network (all neuron groups side by side, the
inputs after them, every weight-table connection merged into one CSR table by
source) and advances it with :mod:`neurosim.networks.spiking.kernels`. Without
``read`` callables the whole run is one kernel call per thread, the batch
split across threads (samples are independent); with them, the kernel
advances one step at a time and the callables' currents are added between
steps. Every run starts from the initial state (``v_init_V``, zero synaptic
currents, no refractoriness, initial input phases).
"""

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.spiking import kernels
from neurosim.networks.spiking.connections import CrossbarConnection, DenseConnection, SparseConnection
from neurosim.networks.spiking.dynamics import check_dt, propagator
from neurosim.networks.spiking.groups import NeuronGroup, PoissonInput, RegularInput, SpikeTrainInput, per_neuron
from neurosim.networks.spiking.monitors import SpikeMonitor, SpikeRecord, StateMonitor, StateRecord
from neurosim.networks.spiking.params import Reset
from neurosim.rng import as_generator

log = logging.getLogger(__name__)

_KERNELS = {"numba": kernels.advance_numba, "numpy": kernels.advance_numpy}
_REAL = (int, float, np.integer, np.floating)
_INPUT_KIND = {PoissonInput: kernels.POISSON, RegularInput: kernels.REGULAR, SpikeTrainInput: kernels.SPIKE_TRAIN}


@dataclass(frozen=True)
class SimResult:
    """What a run produced.

    ``counts[name]``: spikes per neuron ``(batch, n)`` of every group and input;
    ``v_final_V[name]``: membrane potentials ``(batch, n)`` after the last step;
    ``records[name]``: a :class:`SpikeRecord` or :class:`StateRecord` per monitor
    (also reachable as ``result[monitor]``).
    """

    dt_s: float
    n_steps: int
    counts: dict
    v_final_V: dict
    records: dict

    @property
    def duration_s(self) -> float:
        """Simulated time (s)."""
        return self.n_steps * self.dt_s

    def __getitem__(self, monitor):
        return self.records[monitor if isinstance(monitor, str) else monitor.name]

    def rate_Hz(self, source) -> np.ndarray:
        """Mean firing rate (Hz) per neuron ``(batch, n)`` of a group or input."""
        return self.counts[source.name] / self.duration_s


@dataclass(frozen=True)
class _Layout:
    """The network flattened for the kernels (independent of batch and duration)."""

    group_offset: dict
    input_offset: dict
    n_neurons: int
    n_inputs: int
    n_channels: int
    grp: tuple
    syn_ptr: np.ndarray
    syn_slot: np.ndarray
    syn_w: np.ndarray
    in_kind: np.ndarray
    rec_spk: np.ndarray
    rec_idx: np.ndarray
    callables: tuple
    #: Per group: whether some connection feeds its direct channel.
    direct_in: np.ndarray

    def offset(self, source) -> int:
        """Global source index of the first neuron of ``source``."""
        if source.name in self.group_offset:
            return self.group_offset[source.name]
        return self.n_neurons + self.input_offset[source.name]


class Network:
    """A spiking network with a fixed time step ``dt_s`` (s).

    ``objects``: neuron groups, inputs, connections and monitors (the groups and
    inputs that connections and monitors refer to are added with them).
    """

    def __init__(self, objects=(), *, dt_s: float = 1e-4):
        self.dt_s = check_dt(dt_s)
        self.groups, self.inputs, self.connections, self.monitors = [], [], [], []
        self._names = {}
        self._layout = None
        self.add(*objects)

    def add(self, *objects):
        """Add groups, inputs, connections and monitors; returns the network."""
        for obj in objects:
            if isinstance(obj, NeuronGroup):
                self._register(obj, self.groups)
            elif isinstance(obj, (PoissonInput, RegularInput, SpikeTrainInput)):
                self._register(obj, self.inputs)
            elif isinstance(obj, (DenseConnection, SparseConnection, CrossbarConnection)):
                self.add(obj.source, obj.target)
                self._register(obj, self.connections)
            elif isinstance(obj, SpikeMonitor):
                self.add(obj.source)
                self._register(obj, self.monitors)
            elif isinstance(obj, StateMonitor):
                self.add(obj.group)
                self._register(obj, self.monitors)
            else:
                raise NeurosimError(
                    f"cannot add {type(obj).__name__} to a Network; allowed: NeuronGroup, PoissonInput, "
                    "RegularInput, SpikeTrainInput, DenseConnection, SparseConnection, CrossbarConnection, SpikeMonitor, StateMonitor"
                )
        return self

    def _register(self, obj, bucket):
        known = self._names.get(obj.name)
        if known is obj:
            return
        if known is not None:
            raise NeurosimError(f"two different objects are named {obj.name!r}; names in a network must be unique")
        self._names[obj.name] = obj
        bucket.append(obj)
        self._layout = None

    # ------------------------------------------------------------------ layout
    def _build_layout(self) -> _Layout:
        if not self.groups:
            raise NeurosimError("the network has no neuron group")
        group_offset, start = {}, [0]
        for g in self.groups:
            group_offset[g.name] = start[-1]
            start.append(start[-1] + g.n)
        n = start[-1]
        input_offset, m = {}, 0
        for inp in self.inputs:
            input_offset[inp.name] = m
            m += inp.n
        k = max(g.params.n_channels for g in self.groups)
        props = [propagator(g.params, self.dt_s) for g in self.groups]
        n_g = len(self.groups)
        p, d = np.zeros((n_g, k + 1)), np.zeros((n_g, k + 1))
        for i, (g, pr) in enumerate(zip(self.groups, props)):
            kg = g.params.n_channels
            p[i, :kg], d[i, :kg] = pr.p_V_per_A[:kg], pr.decay[:kg]
            p[i, k], d[i, k] = pr.q_V_per_A, 0.0
        # In the kernels' argument order: grp_start, grp_a, grp_e, grp_vth, grp_vreset, grp_sub, grp_ref, grp_q, grp_p, grp_d.
        grp = (
            np.array(start, np.int64),
            np.array([pr.a for pr in props]),
            np.array([g.params.v_rest_V for g in self.groups]),
            np.array([g.params.v_th_V for g in self.groups]),
            np.array([g.params.v_reset_V for g in self.groups]),
            np.array([g.params.reset is Reset.SUBTRACT for g in self.groups], np.uint8),
            np.array([pr.ref_steps for pr in props], np.int64),
            np.array([pr.q_V_per_A for pr in props]),
            p,
            d,
        )

        def offset(source):
            return group_offset[source.name] if source.name in group_offset else n + input_offset[source.name]

        pres, slots, ws, callables = [], [], [], []
        for c in self.connections:
            k_c = k if c.channel is None else c.channel
            src0, slot0 = offset(c.source), k_c * n + group_offset[c.target.name]
            if c.read is not None:
                callables.append((c, src0, slot0))
                continue
            pre, post, w = c.synapses()
            pres.append(pre + src0)
            slots.append(post + slot0)
            ws.append(w)
        pre = np.concatenate(pres) if pres else np.zeros(0, np.int64)
        order = np.argsort(pre, kind="stable")
        syn_ptr = np.zeros(n + m + 1, np.int64)
        np.cumsum(np.bincount(pre, minlength=n + m), out=syn_ptr[1:])
        rec_spk = np.zeros(n + m, np.uint8)
        rec_idx = [np.zeros(0, np.int64)]
        for mon in self.monitors:
            if isinstance(mon, SpikeMonitor):
                rec_spk[offset(mon.source) : offset(mon.source) + mon.source.n] = 1
            else:
                rec_idx.append(mon.neurons + group_offset[mon.group.name])
        kinds = [np.zeros(0, np.int8)] + [np.full(i.n, _INPUT_KIND[type(i)], np.int8) for i in self.inputs]
        return _Layout(
            group_offset=group_offset,
            input_offset=input_offset,
            n_neurons=n,
            n_inputs=m,
            n_channels=k,
            grp=grp,
            syn_ptr=syn_ptr,
            syn_slot=np.concatenate(slots + [np.zeros(0, np.int64)])[order].astype(np.int64),
            syn_w=np.concatenate(ws + [np.zeros(0)])[order].astype(np.float64),
            in_kind=np.concatenate(kinds),
            rec_spk=rec_spk,
            rec_idx=np.concatenate(rec_idx).astype(np.int64),
            callables=tuple(callables),
            direct_in=np.array([any(c.target is g and c.channel is None for c in self.connections) for g in self.groups]),
        )

    @property
    def layout(self) -> _Layout:
        """The flattened network (rebuilt after :meth:`add`)."""
        if self._layout is None:
            self._layout = self._build_layout()
        return self._layout

    # ------------------------------------------------------------------ drive
    def drive(self, *, batch=None, rate_Hz=None, i_ext_A=None, v_init_V=None) -> dict:
        """Per-run values, with overrides: ``{object: array}`` for ``rate_Hz`` (inputs), ``i_ext_A`` and ``v_init_V`` (groups).

        Returns ``{"batch": B, "rate_Hz": {name: (1 or B, n)}, "i_ext_A": ..., "v_init_V": ...}``;
        the batch size is ``batch`` or the leading size of any ``(batch, n)`` array or spike-train sample index.
        """
        sizes = {} if batch is None else {"batch": batch}
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1):
            raise NeurosimError(f"batch = {batch!r} is not allowed: a number of samples >= 1")
        out = {}
        for key, owners, attr, lower in (
            ("rate_Hz", [i for i in self.inputs if not isinstance(i, SpikeTrainInput)], "rate_Hz", 0.0),
            ("i_ext_A", self.groups, "i_ext_A", -math.inf),
            ("v_init_V", self.groups, "v_init_V", -math.inf),
        ):
            given = {"rate_Hz": rate_Hz, "i_ext_A": i_ext_A, "v_init_V": v_init_V}[key] or {}
            for obj in given:
                if obj not in owners:
                    raise NeurosimError(f"{key} override for {getattr(obj, 'name', obj)!r}, which is not a {'rate input' if key == 'rate_Hz' else 'neuron group'} of this network")
            values = {}
            for obj in owners:
                arr = per_neuron(given[obj], obj.n, f"{key}[{obj.name}]", lower) if obj in given else getattr(obj, attr)
                values[obj.name] = arr
                if arr.ndim == 2:
                    sizes[f"{key}[{obj.name}]"] = arr.shape[0]
            out[key] = values
        for inp in self.inputs:
            if isinstance(inp, SpikeTrainInput) and inp.samples is not None and inp.samples.size:
                sizes[f"{inp.name}.samples"] = int(inp.samples.max()) + 1
        b = sizes.get("batch", max(sizes.values(), default=1))
        bad = {k: v for k, v in sizes.items() if v != b and not k.endswith(".samples")}
        bad.update({k: v for k, v in sizes.items() if k.endswith(".samples") and v > b})
        if bad:
            raise NeurosimError(f"batch sizes disagree: {sizes}; every (batch, n) array must have the same batch size")
        out["batch"] = int(b)
        return out

    def _events(self, n_steps: int, batch: int):
        trains = [(i, self.layout.offset(i)) for i in self.inputs if isinstance(i, SpikeTrainInput)]
        per_sample = any(i.samples is not None for i, _ in trains)
        rows = batch if per_sample else 1
        sample_l, step_l, src_l = [], [], []
        for inp, off in trains:
            steps = np.floor((inp.times_s + 1e-3 * self.dt_s) / self.dt_s).astype(np.int64)
            keep = steps < n_steps
            src = inp.indices[keep] + off
            steps = steps[keep]
            if inp.samples is None:
                smp = np.zeros(src.size, np.int64)
                if per_sample:
                    smp = np.repeat(np.arange(batch), src.size)
                    src, steps = np.tile(src, batch), np.tile(steps, batch)
            else:
                smp = inp.samples[keep]
            key = (smp * (n_steps + 1) + steps) * (self.layout.n_neurons + self.layout.n_inputs) + src
            if np.unique(key).size != key.size:
                raise NeurosimError(f"{inp.name}: a neuron fires twice in one time step (dt_s = {self.dt_s})")
            sample_l.append(smp)
            step_l.append(steps)
            src_l.append(src)
        smp = np.concatenate(sample_l) if sample_l else np.zeros(0, np.int64)
        steps = np.concatenate(step_l) if step_l else np.zeros(0, np.int64)
        src = np.concatenate(src_l) if src_l else np.zeros(0, np.int64)
        order = np.lexsort((src, steps, smp))
        smp, steps, src = smp[order], steps[order], src[order]
        ev_ptr = np.zeros((rows, n_steps + 1), np.int64)
        flat = np.bincount(smp * n_steps + steps, minlength=rows * n_steps).reshape(rows, n_steps)
        np.cumsum(flat, axis=1, out=ev_ptr[:, 1:])
        ev_ptr[:, :] += np.concatenate([[0], np.cumsum(flat.sum(axis=1))[:-1]])[:, None]
        return ev_ptr, src.astype(np.int64)

    # ------------------------------------------------------------------ run
    def run(self, duration_s: float, *, rng=None, batch=None, rate_Hz=None, i_ext_A=None, v_init_V=None,
            threads: int | None = None, backend: str = "numba") -> SimResult:
        """Simulate ``duration_s`` (s, rounded to whole steps) from the initial state.

        ``rng``: generator or seed for the Poisson inputs and the ``read`` callables.
        ``batch``, ``rate_Hz``, ``i_ext_A``, ``v_init_V``: see :meth:`drive`.
        ``threads``: threads over batch samples (default: numba's thread count); a network
        with ``read`` callables advances step by step in one thread (the callables see the whole batch).
        ``backend``: ``"numba"`` or ``"numpy"`` (the reference twin).
        """
        if backend not in _KERNELS:
            raise NeurosimError(f"backend = {backend!r} is not allowed: one of {sorted(_KERNELS)}")
        if isinstance(duration_s, bool) or not isinstance(duration_s, _REAL) or not math.isfinite(duration_s) or duration_s <= 0:
            raise NeurosimError(f"duration_s = {duration_s!r} is not allowed: a finite time > 0 s")
        n_threads = numba.get_num_threads() if threads is None else threads
        if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) or n_threads < 1:
            raise NeurosimError(f"threads = {threads!r} is not allowed: a number >= 1")
        n_steps = int(round(duration_s / self.dt_s))
        if n_steps < 1:
            raise NeurosimError(f"duration_s = {duration_s} is shorter than one time step (dt_s = {self.dt_s})")
        lay = self.layout
        drv = self.drive(batch=batch, rate_Hz=rate_Hz, i_ext_A=i_ext_A, v_init_V=v_init_V)
        b = drv["batch"]
        rng = as_generator(rng)
        n, m, k = lay.n_neurons, lay.n_inputs, lay.n_channels

        def stack(arrays, width, fill):
            rows = b if any(a.ndim == 2 for a in arrays) else 1
            if not arrays:
                return np.full((rows, width), fill)
            return np.ascontiguousarray(np.concatenate([np.broadcast_to(a, (rows, a.shape[-1])) for a in arrays], axis=1))

        v = np.array(np.broadcast_to(stack([drv["v_init_V"][g.name] for g in self.groups], n, 0.0), (b, n)), order="C")
        i_ext = stack([drv["i_ext_A"][g.name] for g in self.groups], n, 0.0)
        rates, phase0 = [], []
        for inp in self.inputs:
            if isinstance(inp, SpikeTrainInput):
                rates.append(np.zeros(inp.n))
                phase0.append(np.zeros(inp.n))
            else:
                r = drv["rate_Hz"][inp.name]
                if np.any(r * self.dt_s > 1.0):
                    raise NeurosimError(f"{inp.name}: rate_Hz up to {r.max()} Hz exceeds 1/dt_s = {1 / self.dt_s} Hz (at most one spike per step)")
                rates.append(r)
                phase0.append(inp.phase if isinstance(inp, RegularInput) else np.zeros(inp.n))
        in_p = stack(rates, m, 0.0) * self.dt_s
        phase = np.array(np.broadcast_to(stack(phase0, m, 0.0), (b, m)), order="C")
        ev_ptr, ev_src = self._events(n_steps, b)
        seeds = rng.integers(0, 2**64, size=b, dtype=np.uint64)
        cur = np.zeros((b, (k + 1) * n))
        ref = np.zeros((b, n), np.int32)
        counts = np.zeros((b, n + m), np.int64)
        n_rec = lay.rec_idx.size
        rec_v = np.zeros((b, n_steps, n_rec))
        rec_i = np.zeros((b, n_steps, k, n_rec))
        kernel = _KERNELS[backend]
        starts = lay.grp[0]
        held = np.array([lay.direct_in[i] or np.any(i_ext[:, starts[i] : starts[i + 1]] != 0) for i in range(len(self.groups))], np.uint8)
        fixed = (i_ext, seeds, *lay.grp, held, lay.syn_ptr, lay.syn_slot, lay.syn_w, lay.in_kind, in_p, ev_ptr, ev_src,
                 lay.rec_spk, counts, lay.rec_idx, rec_v, rec_i)
        log.debug("running %d steps of %d neurons, %d inputs, batch %d (%s)", n_steps, n, m, b, backend)
        if lay.callables:
            events = self._run_stepped(kernel, v, cur, ref, phase, fixed, n_steps, b, rng)
        else:
            events = self._run_fused(kernel, v, cur, ref, phase, fixed, n_steps, b, int(n_threads))
        return self._result(events, counts, v, rec_v, rec_i, n_steps)

    def _run_fused(self, kernel, v, cur, ref, phase, fixed, n_steps, b, n_threads):
        dense = np.zeros((0, 0), np.uint8)
        bounds = np.linspace(0, b, min(n_threads, b) + 1).astype(int)

        def chunk(i):
            buf = np.empty((1024, 3), np.int64)
            scratch = kernels.make_scratch(self.layout.n_neurons, self.layout.n_inputs)
            buf, used = kernel(v, cur, ref, phase, *fixed, dense, False, scratch, buf, 0, 0, n_steps, int(bounds[i]), int(bounds[i + 1]))
            return buf[:used]

        if len(bounds) == 2:
            return chunk(0)
        with ThreadPoolExecutor(len(bounds) - 1) as pool:
            return np.concatenate(list(pool.map(chunk, range(len(bounds) - 1))))

    def _run_stepped(self, kernel, v, cur, ref, phase, fixed, n_steps, b, rng):
        dense = np.zeros((b, self.layout.n_neurons + self.layout.n_inputs), np.uint8)
        buf, used = np.empty((1024, 3), np.int64), 0
        scratch = kernels.make_scratch(self.layout.n_neurons, self.layout.n_inputs)
        for s in range(n_steps):
            buf, used = kernel(v, cur, ref, phase, *fixed, dense, True, scratch, buf, used, s, 1, 0, b)
            for conn, src0, slot0 in self.layout.callables:
                spikes = dense[:, src0 : src0 + conn.source.n].astype(np.float64)
                current = np.asarray(conn.read(spikes, rng), dtype=np.float64)
                if current.shape != (b, conn.target.n):
                    raise NeurosimError(f"{conn.name}: read returned shape {current.shape}; expected (batch, target.n) = {(b, conn.target.n)}")
                if not np.all(np.isfinite(current)):
                    raise NeurosimError(f"{conn.name}: read returned NaN or infinite currents at step {s}")
                cur[:, slot0 : slot0 + conn.target.n] += current
        return buf[:used]

    def _result(self, events, counts, v, rec_v, rec_i, n_steps) -> SimResult:
        lay = self.layout
        events = events[np.lexsort((events[:, 2], events[:, 1], events[:, 0]))] if events.size else events.reshape(0, 3)
        records = {}
        r0 = 0
        for mon in self.monitors:
            if isinstance(mon, SpikeMonitor):
                o = lay.offset(mon.source)
                sel = events[(events[:, 2] >= o) & (events[:, 2] < o + mon.source.n)]
                records[mon.name] = SpikeRecord(sel[:, 0].copy(), sel[:, 1].copy(), sel[:, 2] - o, mon.source.n, self.dt_s)
            else:
                r1 = r0 + mon.neurons.size
                records[mon.name] = StateRecord(mon.neurons, rec_v[:, :, r0:r1], rec_i[:, :, : mon.group.params.n_channels, r0:r1], self.dt_s)
                r0 = r1
        sources = self.groups + self.inputs
        counts_by = {s.name: counts[:, lay.offset(s) : lay.offset(s) + s.n] for s in sources}
        v_final = {g.name: v[:, lay.group_offset[g.name] : lay.group_offset[g.name] + g.n] for g in self.groups}
        return SimResult(self.dt_s, n_steps, counts_by, v_final, records)

    # ------------------------------------------------------------------ brian2
    def to_brian2(self, sample: int = 0, **overrides):
        """The same network as brian2 objects (a ``brian2.Network``, not yet run).

        One batch sample (``sample``) is exported; ``overrides`` as for :meth:`drive`.
        Objects keep their names (``net[name]``); see :mod:`neurosim.networks.spiking.brian2_export`.
        """
        from neurosim.networks.spiking.brian2_export import export

        return export(self, sample, self.drive(**overrides))

