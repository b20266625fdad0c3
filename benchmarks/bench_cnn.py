"""Convolutional network speed benchmark, printed as a ratio measured in this process.

Run: ``python benchmarks/bench_cnn.py [--quick] [--model lenet5]``

The shipped LeNet-5 ``lenet5`` over the 10,000 MNIST test images on
``sige_epiram`` arrays (128 x 128 tiles, differential pairs, open-loop
programming with cycle-to-cycle programming noise, read noise 2 % drawn
fresh on every read, 8-bit DAC and ADC calibrated on the shipped training
sample), through ``HardwareNetwork.forward`` (each convolution one crossbar
read per output position, patches unrolled per chunk of images), against
the same network in float32 NumPy (the layers' own forward: the same
unrolling, one BLAS product per layer and chunk, the same pooling). Target:
at most 3x, both sides on one thread (BLAS limited with threadpoolctl,
``numba.set_num_threads(1)``).

It also prints the peak resident memory of the process (``ru_maxrss``),
which bounds the memory of the 10,000-image evaluation (target: under 2 GB),
and where the crossbar time goes, layer by layer.
"""

import argparse
import os
import resource
import statistics
import sys
import time
from dataclasses import replace

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from neurosim.convert.network import HardwareNetwork, resolve_model
from neurosim.crossbar import CrossbarConfig, Mapping
from neurosim.data import load_mnist
from neurosim.data.calibration import calibration_images
from neurosim.device import ProgramMethod, load_device
from neurosim.networks.layers import Conv2d, forward_layers


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 images, 2 rounds (a smoke test)")
    parser.add_argument("--model", default="lenet5", help="shipped model name or path (default lenet5)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args(argv)
    n_images, repeats = (1000, 2) if args.quick else (10000, args.repeats)

    model = resolve_model(args.model)
    images, labels = load_mnist("test")
    x, y = model.prepare(images[:n_images]), labels[:n_images]
    device = replace(load_device("sige_epiram"), read_noise_frac=0.02)
    config = CrossbarConfig(rows=128, cols=128, mapping=Mapping.DIFFERENTIAL, dac_bits=8, adc_bits=8,
                            program_method=ProgramMethod.OPEN_LOOP)
    layers = [replace(layer, weight=layer.weight.astype(np.float32), bias=layer.bias.astype(np.float32))
              if layer.arrays else layer for layer in model.layers]
    print(f"== {args.model} over {n_images} MNIST test images on sige_epiram arrays ==")
    with threadpool_limits(1, user_api="blas"):
        numba.set_num_threads(1)
        t0 = time.perf_counter()
        net = HardwareNetwork.from_layers(layers, device, config, calibration_x=model.prepare(calibration_images()[0]), rng=1)
        t_program = time.perf_counter() - t0
        rng = np.random.default_rng(3)
        t0 = time.perf_counter()
        net.forward(x[:4], rng)
        t_compile = time.perf_counter() - t0
        chunk = net.images_per_chunk

        def numpy_cnn():
            return np.concatenate([forward_layers(layers, x[i : i + chunk]) for i in range(0, len(x), chunk)])

        runs = {"numpy": numpy_cnn, "crossbar": lambda: net.forward(x, rng)}
        times = {k: [] for k in runs}
        for _ in range(repeats):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        logits_float, logits_xbar = numpy_cnn(), net.forward(x, rng)
        per_layer = layer_times(net, x[:chunk], rng)
    t_np, t_xb = statistics.median(times["numpy"]), statistics.median(times["crossbar"])
    paired = sorted(a / b for a, b in zip(times["crossbar"], times["numpy"]))
    print(f"programming and calibrating (one-off)   {t_program:8.2f} s")
    print(f"compile / cache load (one-off)          {t_compile:8.2f} s")
    print(f"float32 NumPy                           {t_np:8.3f} s (min {min(times['numpy']):.3f})")
    print(f"crossbar (HardwareNetwork.forward)      {t_xb:8.3f} s (min {min(times['crossbar']):.3f})")
    print(f"RATIO crossbar / NumPy (medians)        {t_xb / t_np:8.2f}x   (target <= 3x)")
    print(f"  ratio within each round: {', '.join(f'{r:.2f}' for r in paired)}")
    print(f"accuracy: float32 {np.mean(np.argmax(logits_float, 1) == y):.4f}, crossbar {np.mean(np.argmax(logits_xbar, 1) == y):.4f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process    {peak_mb:8.0f} MB   (target < 2048 MB)")
    print(f"-- one chunk of {chunk} images, per layer (crossbar s / float32 s):")
    for name, (t_cross, t_float) in per_layer.items():
        print(f"  {name:34s} {t_cross:7.3f} / {t_float:7.3f}")
    sys.stdout.flush()


def layer_times(net, x, rng) -> dict:
    """Crossbar and float32 time of each layer on one chunk of inputs ``x``."""
    out, h = {}, x
    crossbars = iter(net.layers)
    for i, spec in enumerate(net.network):
        if spec.arrays:
            layer = next(crossbars)
            t0 = time.perf_counter()
            rows = spec.patches(h) if isinstance(spec, Conv2d) else h
            layer.forward(rows, rng)
            t_cross = time.perf_counter() - t0
        else:
            t_cross = None
        t0 = time.perf_counter()
        h_next = spec.forward(h)
        t_float = time.perf_counter() - t0
        out[f"{i}: {spec.kind} {spec.n_in}->{spec.n_out}"] = (t_cross if t_cross is not None else t_float, t_float)
        h = h_next
    return out


if __name__ == "__main__":
    main()
