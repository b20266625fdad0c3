"""On-chip learning speed: the full reference protocol against the 2-minute target and NeuroSim's hour.

Run: ``NEUROSIM_DATA=/path/to/data python benchmarks/bench_insitu.py [--quick] [--device sige_epiram]``

1. Full protocol: NeuroSim's reference (400-100-10, 20x20 binarised MNIST,
   125 epochs x 8000 images, SGD batch 1, every weight change a pulse train
   with the card's nonlinearity and cycle-to-cycle noise, 8-bit ADC, test
   accuracy on all 10,000 test images after every epoch) on one device.
   Targets: at most 120 s on one core of a 2-core machine; NeuroSim's C++ reference
   reports about an hour (3600 s) on a desktop i7 for the same protocol.
   ``--quick`` runs 10 epochs and extrapolates the time to 125.
2. Kernel against its NumPy twin (the specification): images per second of
   each on the same images, and their ratio.
3. The software float baseline of the same protocol, for the accuracy gap.

Compilation (or loading Numba's cache) is timed apart from the runs.
"""

import argparse
import os
import sys
import time
from dataclasses import replace

import numpy as np

from neurosim.device import load_device
from neurosim.networks.insitu import InsituConfig, load_mnist_data, train_insitu, train_software
from neurosim.networks.insitu import kernels as K
from neurosim.networks.insitu.network import DeviceNetwork

TARGET_S = 120.0
NEUROSIM_S = 3600.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 epochs, time extrapolated to 125")
    parser.add_argument("--device", default="sige_epiram")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not os.environ.get("NEUROSIM_DATA"):
        print("note: NEUROSIM_DATA is not set; MNIST is looked up in the user cache", file=sys.stderr)

    config = InsituConfig()
    t0 = time.perf_counter()
    data = load_mnist_data(config.preprocessing)
    print(f"data: {data.source}, {data.n_train} training images ({data.indices.size / data.n_train:.1f} active pixels "
          f"per image), {data.test_x.shape[0]} test images, loaded in {time.perf_counter() - t0:.1f} s")  # fmt: skip

    # compile (or load from Numba's cache) on a tiny run
    t0 = time.perf_counter()
    tiny = replace(config, epochs=1, images_per_epoch=2, test_images=10)
    train_insitu(args.device, tiny, data=data, rng=0)
    train_software(tiny, data=data, rng=0)
    print(f"compile / cache load: {time.perf_counter() - t0:.1f} s (not counted below)")

    # 1. the full protocol
    epochs = 10 if args.quick else config.epochs
    run_cfg = replace(config, epochs=epochs)
    t0 = time.perf_counter()
    result = train_insitu(args.device, run_cfg, data=data, rng=args.seed)
    elapsed = time.perf_counter() - t0
    full = elapsed * config.epochs / epochs
    images = epochs * config.images_per_epoch
    pulses = sum(r.pulses_ltp + r.pulses_ltd for r in result.history) / images
    writes = sum(r.writes for r in result.history) / images
    label = "extrapolated to 125 epochs" if args.quick else "measured"
    print(f"\n1. full protocol on {args.device}: {epochs} epochs x {config.images_per_epoch} images in {elapsed:.1f} s "
          f"({1e6 * elapsed / images:.1f} us per image incl. test evaluation; {pulses:.1f} pulses, {writes:.1f} writes "
          f"per image)")  # fmt: skip
    print(f"   125 epochs: {full:.1f} s ({label}); test accuracy after epoch {epochs}: {100 * result.final_accuracy:.2f} %")
    print(f"   ratio to the 2-minute target: {full / TARGET_S:.3f} (target <= 1)")
    print(f"   ratio to NeuroSim's reported hour: {full / NEUROSIM_S:.3f}  (speed-up {NEUROSIM_S / full:.1f}x)")

    # 2. kernel against its NumPy twin on the same images
    device = load_device(args.device)
    order = np.random.default_rng(1).integers(0, data.n_train, 200)
    rates = {}
    for backend in ("numpy", "numba"):
        net = DeviceNetwork(device, config, 0)
        stats, loss = np.zeros(K.ST_SIZE, dtype=np.int64), np.zeros(K.LS_SIZE)
        n = 50 if backend == "numpy" else 200
        t0 = time.perf_counter()
        net.train_chunk(data.csr, data.train_labels, order[:n], 0, stats, loss, 7, backend)
        rates[backend] = n / (time.perf_counter() - t0)
    print(f"\n2. training kernel: Numba {rates['numba']:.0f} images/s, NumPy twin {rates['numpy']:.0f} images/s, "
          f"ratio {rates['numba'] / rates['numpy']:.0f}x")  # fmt: skip

    # 3. software float baseline of the same protocol
    t0 = time.perf_counter()
    soft = train_software(run_cfg, data=data, rng=args.seed)
    print(f"\n3. software float baseline, {epochs} epochs: {100 * soft.final_accuracy:.2f} % in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
