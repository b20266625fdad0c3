"""Diehl & Cook (2015) STDP training on MNIST: neurosim against brian2 running the same network.

The network: 784 Poisson inputs, ``--neurons`` excitatory and inhibitory
neurons (default 100), STDP on the input synapses, adaptive thresholds,
weight normalisation before each image, 350 ms presentations and 150 ms rest
at dt 0.5 ms, an image shown again at higher intensity after fewer than 5
spikes (:class:`neurosim.networks.stdp.PlasticNetwork`). Exact (ideal) synapses,
and also ``sige_epiram`` synapses written by pulses (neurosim only: brian2 has
no device model).

neurosim: ``--images`` MNIST training images (default 300) after one image
that compiles the kernel; one core (the kernel is serial). Reported as images
per second and the time one epoch of 60,000 images would take (target <= 20 min).

brian2 2.9: the same equations (:meth:`PlasticNetwork.to_brian2` with brian2's
own ``PoissonGroup``), Cython runtime target, one image at a time the usual way
(normalise ``w`` in NumPy, set the rates, run 350 ms, rates to 0, run 150 ms,
repeat at higher intensity after fewer than 5 spikes), on ``--brian2-images``
images (default 10) after a first image that compiles (not timed).

    python benchmarks/bench_stdp.py [--images 300] [--brian2-images 10] [--brian2-target cython]
"""

import argparse
import time

import numpy as np


def neurosim_rate(x, neurons, images, device=None):
    from neurosim.networks.stdp import PlasticNetwork

    net = PlasticNetwork(784, neurons, device=device, seed=0)
    net.present(x[0])  # compiles
    t0 = time.perf_counter()
    for k in range(1, images + 1):
        net.present(x[k])
    return images / (time.perf_counter() - t0), net


def brian2_rate(x, neurons, images, target):
    import brian2 as b2

    from neurosim.networks.stdp import PlasticNetwork

    b2.prefs.codegen.target = target
    b2.prefs.logging.std_redirection = False
    net = PlasticNetwork(784, neurons, seed=0)
    p = net.params
    b2net = net.to_brian2(None)
    syn, inputs, spikes = b2net["input_exc"], b2net["inputs"], b2net["exc_spikes"]

    def present(image):
        intensity = p.intensity
        for _ in range(p.max_repeats + 1):
            weights = np.asarray(syn.w).reshape(784, neurons)
            syn.w = (weights * (p.w_total / weights.sum(axis=0))).reshape(-1)
            before = spikes.num_spikes
            inputs.rates = image * p.rate_per_intensity_Hz * intensity * b2.Hz
            b2net.run(p.t_present_s * b2.second)
            inputs.rates = 0 * b2.Hz
            b2net.run(p.t_rest_s * b2.second)
            if spikes.num_spikes - before >= p.min_spikes:
                return
            intensity += 1

    t0 = time.perf_counter()
    present(x[0])
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(1, images + 1):
        present(x[k])
    return images / (time.perf_counter() - t0), compile_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--brian2-images", type=int, default=10)
    ap.add_argument("--brian2-target", default="cython", choices=["cython", "numpy"])
    args = ap.parse_args()
    import numba

    numba.set_num_threads(1)
    from neurosim.device import load_device
    from neurosim.networks.stdp.tasks import load_data

    x = load_data()[0]
    ours, _ = neurosim_rate(x, args.neurons, args.images)
    print(f"neurosim, exact synapses: {ours:.1f} images/s -> one epoch of 60,000 images in {60000 / ours / 60:.1f} min (target <= 20)")
    dev, net = neurosim_rate(x, args.neurons, min(args.images, 100), load_device("sige_epiram"))
    print(f"neurosim, sige_epiram synapses (pulses): {dev:.1f} images/s ({net.events.writes} device writes)")
    theirs, compile_s = brian2_rate(x, args.neurons, args.brian2_images, args.brian2_target)
    print(f"brian2 ({args.brian2_target} runtime): {theirs:.3f} images/s on {args.brian2_images} images "
          f"(first image with compilation {compile_s:.1f} s) -> one epoch in {60000 / theirs / 3600:.1f} h")
    print(f"ratio neurosim / brian2 (images per second, exact synapses): {ours / theirs:.0f}x")


if __name__ == "__main__":
    main()
