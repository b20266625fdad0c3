"""Crossbar speed benchmarks, printed as ratios measured in this process.

Run: ``python benchmarks/bench_crossbar.py [--quick]``

1. MLP inference: the shipped 784-100-10 model ``mlp784`` over the 10,000
   MNIST test images on ``sige_epiram`` arrays (128 x 128 tiles, differential
   pairs, open-loop programming with cycle-to-cycle programming noise, read
   noise 2 % drawn fresh on every read, 8-bit DAC and ADC calibrated on the
   shipped training sample), through ``HardwareNetwork.forward``, against
   the same network in plain float32 NumPy. Target: at most 3x. Read noise
   is timed twice: proportional to G (the default model; each tile needs a
   second, variance, matrix product) and state-independent (2 % of G_max).
2. Wire resistance: a 256 x 256 tile read through its transfer matrix,
   per input vector over a batch of 1,000 (target: at most 1 ms), the one-off
   solve reported apart; and the fast path's error against the exact nodal
   solve on small arrays.
3. Pulse updates: device updates per second on one core through the tile's
   pulse primitive (target: at least 1e8).

Compilation (or loading Numba's cache) is timed apart from the runs. Each
timing is the median of repeated runs, baseline and crossbar interleaved.
The MLP's ratio is also given round by round (each crossbar run over the
baseline run just before it): on a shared machine the load from other
tenants changes over minutes, and it slows the crossbar's memory-bound
kernels more than the baseline's compute-bound BLAS call, so the ratio
itself moves with it (benchmarks/README.md has figures from both states).

Threads: the MLP is timed on 1 thread and, with ``--threads N`` (default:
2 where there are 2 cores), on N threads, both sides alike: BLAS limited to
N threads (threadpoolctl) for the NumPy baseline, ``numba.set_num_threads(N)``
for the crossbar (which splits each batch chunk's rows over threads and holds
BLAS to one thread per caller). It prints both ratios and their quotient
(target: the N-thread ratio at most 1.3 times the 1-thread ratio), and checks
that both thread counts give the same logits. Outside those timings BLAS
runs on one thread: on small shared machines multithreaded BLAS calls of
this size stall when another process holds a core, which makes ratios meaningless.
"""

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace

# OpenBLAS's worker threads spin for a while after each call: after the multithreaded baseline they
# would hold a core the crossbar's own threads need (before numpy is imported; 2^4 cycles).
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from neurosim.convert.network import HardwareNetwork, resolve_model
from neurosim.crossbar import CrossbarConfig, CrossbarLayer, Mapping, WeightScale, WireConfig, kernels
from neurosim.data import load_mnist
from neurosim.data.calibration import calibration_images
from neurosim.device import DeviceArray, ProgramMethod, ReadNoise, load_device
from neurosim import streams
from neurosim.device.kernels import pulse_update_numba


def timed(fn, repeats: int):
    """Median and minimum wall time (s) of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def interleaved_times(fns: dict, repeats: int) -> dict:
    """Wall times (s) of ``repeats`` rounds in which every function runs once, in turn.

    Machine load that comes and goes then hits all functions of a round alike.
    """
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def on_threads(n: int, fn):
    """``fn`` run with ``n`` threads on both sides: BLAS (threadpoolctl) and Numba's thread count."""

    def run():
        with threadpool_limits(n, user_api="blas"):
            numba.set_num_threads(n)
            try:
                fn()
            finally:
                numba.set_num_threads(1)

    return run


def interleaved(fns: dict, repeats: int) -> dict:
    """Median and minimum time of each function, run in turn (:func:`interleaved_times`)."""
    return {k: (statistics.median(v), min(v)) for k, v in interleaved_times(fns, repeats).items()}


def bench_mlp(n_images: int, repeats: int, threads: int) -> None:
    print(f"\n== 1. MLP 784-100-10 over {n_images} MNIST test images on sige_epiram arrays ==")
    model = resolve_model("mlp784")
    images, labels = load_mnist("test")
    x, y = model.prepare(images[:n_images]), labels[:n_images]
    device = replace(load_device("sige_epiram"), read_noise_frac=0.02)
    config = CrossbarConfig(
        rows=128,
        cols=128,
        mapping=Mapping.DIFFERENTIAL,
        dac_bits=8,
        adc_bits=8,
        program_method=ProgramMethod.OPEN_LOOP,
    )
    (w1, b1), (w2, b2) = ((np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in model.params)

    t0 = time.perf_counter()
    nets = {  # read noise 2 %: proportional to G (the card model's default), or of G_max in every state
        "proportional": HardwareNetwork.from_model(model, device, config, calibration_images=calibration_images()[0], rng=1),
        "constant": HardwareNetwork.from_model(
            model, replace(device, read_noise=ReadNoise.CONSTANT), config, calibration_images=calibration_images()[0], rng=1
        ),
    }
    t_program = (time.perf_counter() - t0) / len(nets)
    rng = np.random.default_rng(3)
    t0 = time.perf_counter()
    for net in nets.values():
        net.forward(x[:8], rng)
        for layer in net.layers:
            layer.reset_clip_counts()
    t_compile = time.perf_counter() - t0

    def numpy_mlp():
        h = np.maximum(x @ w1.T + b1, 0)
        return h @ w2.T + b2

    runs = {"numpy": numpy_mlp} | {name: (lambda net=net: net.forward(x, rng)) for name, net in nets.items()}
    with threadpool_limits(1, user_api="blas"):
        numba.set_num_threads(1)
        times = interleaved_times(runs, repeats)
        one = nets["proportional"].forward(x, np.random.default_rng(11))
    result = {k: (statistics.median(v), min(v)) for k, v in times.items()}
    t_np, t_np_min = result["numpy"]
    print(f"programming and calibrating (one-off)   {t_program:8.3f} s per network")
    print(f"compile / cache load (one-off)          {t_compile:8.3f} s")
    print(f"float32 NumPy                           {t_np * 1e3:8.1f} ms (min {t_np_min * 1e3:.1f})")
    print(f"accuracy: float32 {np.mean(np.argmax(numpy_mlp(), 1) == y):.4f}")
    for name, net in nets.items():
        t_xb, t_xb_min = result[name]
        print(f"-- read noise {name}:")
        print(f"crossbar (HardwareNetwork.forward)      {t_xb * 1e3:8.1f} ms (min {t_xb_min * 1e3:.1f})")
        paired = sorted(a / b for a, b in zip(times[name], times["numpy"]))  # each round's ratio
        print(
            f"RATIO crossbar / NumPy (medians)        {t_xb / t_np:8.2f}x   (target <= 3x; mins {t_xb_min / t_np_min:.2f}x)"
        )
        print(
            f"  ratio within each round: median {statistics.median(paired):.2f}x, "
            f"quartiles {paired[len(paired) // 4]:.2f}-{paired[3 * len(paired) // 4]:.2f}x"
        )
        print(f"accuracy: crossbar {np.mean(np.argmax(net.forward(x, rng), 1) == y):.4f}")
        for i, layer in enumerate(net.layers, 1):
            print(f"layer {i} clips: {layer.clip_counts}")
    if threads > 1:
        with threadpool_limits(threads, user_api="blas"):
            numba.set_num_threads(threads)
            many = nets["proportional"].forward(x, np.random.default_rng(11))
        numba.set_num_threads(1)
        # rounds of (NumPy, crossbar) on 1 thread then on `threads`: load that comes and goes hits a round's
        # four timings alike, so each round's quotient of ratios is the measure, not medians from apart
        both = {f"{k}@{n}": on_threads(n, runs[k]) for n in (1, threads) for k in ("numpy", "proportional")}
        times_n = interleaved_times(both, repeats)
        med = {k: statistics.median(v) for k, v in times_n.items()}
        quotients = sorted(
            (xn / nn) / (x1 / n1)
            for n1, x1, nn, xn in zip(*(times_n[f"{k}@{n}"] for n in (1, threads) for k in ("numpy", "proportional")))
        )
        r1 = med["proportional@1"] / med["numpy@1"]
        rn = med[f"proportional@{threads}"] / med[f"numpy@{threads}"]
        print(f"-- {threads} threads on both sides (read noise proportional), interleaved with 1-thread rounds:")
        print(f"float32 NumPy                           {med[f'numpy@{threads}'] * 1e3:8.1f} ms (1 thread: {med['numpy@1'] * 1e3:.1f})")
        print(f"crossbar (HardwareNetwork.forward)      {med[f'proportional@{threads}'] * 1e3:8.1f} ms (1 thread: {med['proportional@1'] * 1e3:.1f})")
        print(f"RATIO crossbar / NumPy                  {rn:8.2f}x   (1 thread: {r1:.2f}x)")
        print(
            f"RATIO {threads}-thread ratio / 1-thread ratio  {statistics.median(quotients):8.2f}    (target <= 1.3; "
            f"median of {len(quotients)} rounds, quartiles {quotients[len(quotients) // 4]:.2f}-"
            f"{quotients[3 * len(quotients) // 4]:.2f})"
        )
        print(f"same logits on 1 and {threads} threads: {np.array_equal(one, many)}")
    net = nets["proportional"]
    with threadpool_limits(1, user_api="blas"):
        breakdown(net.layers[0], x, rng, repeats)


def breakdown(layer, x, rng, repeats: int) -> None:
    """Where layer 1's time goes: DAC, the products of every tile, the read-out kernel."""
    buffers = layer._buffers(x, False)
    chunk = buffers[0].shape[0]
    blocks = [x[s : s + chunk] for s in range(0, x.shape[0], chunk)]
    dac = next(layer._inputs(blocks[0], layer.config.input_full_scale, buffers, "x"))
    out = np.zeros((chunk, layer.out_features), x.dtype)
    step, max_code = layer._adc(False)
    sparse = layer._sparse_test(dac[2], dac[0].shape[0])
    tile_reads = lambda: layer._tile_reads(dac[0], dac[1], sparse, False, False, buffers[2], buffers[3])  # noqa: E731
    tiles = list(tile_reads())  # warm-up

    def products():
        for _ in tile_reads():
            pass

    def readout():
        for mean, var, common, col0 in tile_reads():
            kernels.readout_numba(mean, var, common, 0.0, step, max_code, 1.0, np.uint64(7), out, col0)

    w1 = layer.effective_weights().astype(np.float32)
    parts = {
        "DAC kernel": lambda: next(layer._inputs(blocks[0], layer.config.input_full_scale, buffers, "x")),
        "tile products (signal and variance)": products,
        "tile products + read-out": readout,
        "whole forward read": lambda: layer.forward(blocks[0], rng),
        "float32 NumPy x @ W1.T (reference)": lambda: blocks[0] @ w1.T,
    }
    result = interleaved(parts, max(5, repeats))
    density = [dac[2][r0:r1].sum() / (dac[0].shape[0] * (r1 - r0)) for r0, r1 in layer.row_edges]
    print(f"layer 1 on the first {blocks[0].shape[0]} inputs (one chunk, {len(tiles)} tiles), medians:")
    for name, (t, _) in result.items():
        print(f"  {name:36s} {t * 1e3:7.2f} ms")
    print("  non-zero fraction of each row tile's inputs: " + " ".join(f"{d:.3f}" for d in density))


def bench_wires(batch: int, size: int) -> None:
    print(f"\n== 2. Wire resistance: {size} x {size} tile, batch {batch} ==")
    rng = np.random.default_rng(4)
    device = replace(load_device("sige_epiram"), read_noise_frac=0.02)
    wire = WireConfig(r_wire_ohm=1.0, r_driver_ohm=100.0, r_sense_ohm=100.0, r_access_ohm=1e3)
    config = CrossbarConfig(rows=size, cols=size, dac_bits=8, adc_bits=8, wire=wire)
    w = rng.standard_normal((size, size)).astype(np.float32)
    x = rng.random((batch, size), dtype=np.float32)
    layer = CrossbarLayer(w, device, config, rng=5)
    t0 = time.perf_counter()
    layer.effective_weights(include_wires=True)  # solves both arrays' networks once
    t_solve = time.perf_counter() - t0
    layer.calibrate_adc(x[:100])
    layer.forward(x[:4], rng)
    t_read, t_read_min = timed(lambda: layer.forward(x, rng), 5)
    print(f"one-off transfer-matrix solve (2 arrays) {t_solve:8.3f} s")
    print(f"read of {batch} vectors                    {t_read * 1e3:8.2f} ms (min {t_read_min * 1e3:.2f})")
    print(f"PER VECTOR, amortised                   {t_read / batch * 1e3:8.4f} ms   (target <= 1 ms)")
    print(f"per vector including the solve          {(t_read + t_solve) / batch * 1e3:8.4f} ms")

    print("fast path vs exact nodal solve (noise-free, ideal converters), max |error| / max |output|:")
    quiet = replace(device, read_noise_frac=0.0)
    for n in (8, 32, 64):
        small = CrossbarLayer(rng.standard_normal((n, n)), quiet, CrossbarConfig(rows=n, cols=n, wire=wire), rng=6)
        v = rng.random((16, n))
        fast, exact = small.forward(v), small.forward(v, nodal=True)
        d = rng.standard_normal((16, n))
        fast_b, exact_b = small.backward(d), small.backward(d, nodal=True)
        ideal = v @ small.effective_weights().T
        print(
            f"  {n:3d} x {n:<3d} forward {np.abs(fast - exact).max() / np.abs(exact).max():.1e}"
            f"  transposed {np.abs(fast_b - exact_b).max() / np.abs(exact_b).max():.1e}"
            f"  (IR drop itself: {np.abs(exact - ideal).max() / np.abs(ideal).max():.1e})"
        )


def bench_pulses(repeats: int) -> None:
    print("\n== 3. Pulse updates on one core (sige_epiram, 128 x 128 tile, c2c noise) ==")
    rng = np.random.default_rng(7)
    device = load_device("sige_epiram")
    config = CrossbarConfig(weight_scale=WeightScale.FIXED)
    layer = CrossbarLayer(np.zeros((128, 128)), device, config, rng=8)
    tile = layer.tiles[0][0]
    dense = rng.integers(1, 4, size=(128, 128)) * rng.choice([-1, 1], size=(128, 128))
    sparse = dense * (rng.random((128, 128)) < 0.1)
    tile.apply_pulses(dense, dense, rng)
    for label, pulses in (("every device pulsed", dense), ("10% of devices pulsed", sparse)):
        t, _ = timed(lambda p=pulses: tile.apply_pulses(p, p, rng), repeats)
        rate = 2 * pulses.size / t
        print(f"tile.apply_pulses, {label:22s} {rate:10.3e} device updates/s   (target >= 1e8)")
    arr = DeviceArray(device, (128, 128), rng=9)
    n = dense.ravel()
    g = arr.conductance_S.copy().ravel()
    params = arr._kernel_params  # the device layer's flattened per-device arguments
    key = np.uint64(1)
    pulse_update_numba(g, n, *params, key)
    t, _ = timed(lambda: pulse_update_numba(g, n, *params, key), repeats)
    print(f"device kernel alone (draws its noise)    {n.size / t:10.3e} device updates/s")
    t, _ = timed(lambda: rng.standard_normal(n.size), repeats)
    print(f"numpy standard_normal alone              {n.size / t:10.3e} draws/s (for comparison)")
    draws = np.empty(n.size)
    streams.normals_numba(np.uint64(1), 0, draws)
    t, _ = timed(lambda: streams.normals_numba(np.uint64(1), 0, draws), repeats)
    print(f"crossbar counter-based draws alone       {n.size / t:10.3e} draws/s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller problems and fewer repeats (smoke test)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="threads of the second MLP timing")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    bench_mlp(1000 if args.quick else 10_000, 3 if args.quick else 15, args.threads)
    with threadpool_limits(1, user_api="blas"):
        numba.set_num_threads(1)
        bench_wires(100 if args.quick else 1000, 64 if args.quick else 256)
        bench_pulses(20 if args.quick else 200)


if __name__ == "__main__":
    main()
