"""Overhead of the energy estimate: the conductance sums the core accumulates, and the estimate itself.

Run: ``NEUROSIM_DATA=/path/to/data python benchmarks/bench_energy.py [--quick] [--rounds 5]``

Each workload runs in one process with the sums (as shipped) and without them
(baseline), interleaved, median over rounds; the ratio is the overhead
(target: at most 1.10, issue 14):

1. ``evaluate``: the shipped 784-100-10 MLP over the 10,000 MNIST test images on
   sige_epiram (8-bit DAC and ADC). Baseline: ``CrossbarLayer._read_v2g``
   replaced by a function that returns 0 (the read sum's only cost).
2. ``insitu``: the training kernel on 8,000 images of NeuroSim's protocol.
   Baseline: the same kernel without the sums, compiled from the source before
   they were added (``git show REV:neurosim/networks/insitu/kernels.py``,
   ``--baseline-rev``, default 82b5fde, the main revision this branch started from; skipped if git cannot show it).
3. ``snn``: the converted network, fused engine, 1,000 test images x 100 steps.
   Baseline: the row-counting kernel replaced by a no-op.

The estimate (``neurosim.energy.estimate``) is timed on its own: a few
microseconds of arithmetic over the counts.
"""

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _median_ratio(run_with, run_without, rounds):
    run_with(), run_without()  # compile / warm
    a, b = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        run_with()
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        run_without()
        b.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


def bench_evaluate(rounds, n_images):
    from neurosim.convert.network import HardwareNetwork, resolve_model
    from neurosim.crossbar import CrossbarConfig, CrossbarLayer
    from neurosim.data import load_mnist
    from neurosim.data.calibration import calibration_images
    from neurosim.energy import load_circuit
    from neurosim.energy.runs import crossbar_estimates

    model = resolve_model("mlp784")
    x = model.prepare(load_mnist("test")[0][:n_images])
    net = HardwareNetwork.from_model(model, "sige_epiram", CrossbarConfig(adc_bits=8, dac_bits=8),
                                     calibration_images=calibration_images()[0], rng=0)  # fmt: skip
    original = CrossbarLayer._read_v2g

    def without():
        CrossbarLayer._read_v2g = lambda self, inputs, squares, transposed: 0.0
        try:
            net.forward(x, rng=1)
        finally:
            CrossbarLayer._read_v2g = original

    with_s, without_s = _median_ratio(lambda: net.forward(x, rng=1), without, rounds)
    card = load_circuit("sar_32nm")
    t = time.perf_counter()
    for _ in range(100):
        crossbar_estimates(net.layers, card, net.device, n_images, [100, 10])
    est_s = (time.perf_counter() - t) / 100
    return with_s, without_s, est_s


def bench_insitu(rounds, rev):
    from neurosim.device import load_device
    from neurosim.networks.insitu import InsituConfig, load_mnist_data
    from neurosim.networks.insitu import kernels as K
    from neurosim.networks.insitu.network import DeviceNetwork

    shown = subprocess.run(["git", "show", f"{rev}:neurosim/networks/insitu/kernels.py"], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parent)  # fmt: skip
    if shown.returncode != 0:
        return None
    path = Path(tempfile.mkdtemp()) / "kernels_without_sums.py"
    path.write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location("kernels_without_sums", path)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    config = InsituConfig()
    data = load_mnist_data(config.preprocessing)
    order = np.random.default_rng(0).integers(0, data.n_train, 8000)

    def run(fn):
        net = DeviceNetwork(load_device("sige_epiram"), config, 0)
        stats, loss = np.zeros(K.ST_SIZE, np.int64), np.zeros(K.LS_SIZE)
        fn(*data.csr, data.train_labels, order, np.int64(0), *net._layers, net.vel1, net.vel2, net.ip, net.fp,
           net.offsets, net.layout, np.uint64(7), stats, loss)  # fmt: skip

    return _median_ratio(lambda: run(K.train_hw_numba), lambda: run(old.train_hw_numba), rounds)


def bench_snn(rounds, n_images, steps):
    from neurosim.convert import snn as S
    from neurosim.convert.network import resolve_model
    from neurosim.convert.snn import engine
    from neurosim.data import load_mnist
    from neurosim.data.calibration import calibration_images

    model = resolve_model("mlp784")
    x = model.prepare(load_mnist("test")[0][:n_images])
    calib = model.prepare(calibration_images()[0])
    net = S.CrossbarSNN(S.convert_mlp(model, calib), "sige_epiram", rng=0)
    counting = engine.count_rows_numba

    def without():
        engine.count_rows_numba = lambda idx, cnt, counts: None
        try:
            net.run(x, steps, rng=2)
        finally:
            engine.count_rows_numba = counting

    return _median_ratio(lambda: net.run(x, steps, rng=2), without, rounds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and rounds (a smoke test)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-rev", default="82b5fde",
                        help="git revision whose training kernel has no sums (default: the one before they were added)")
    args = parser.parse_args(argv)
    rounds = 2 if args.quick else args.rounds
    n_eval, n_snn = (1000, 100) if args.quick else (10_000, 1000)
    a, b, est = bench_evaluate(rounds, n_eval)
    print(f"evaluate, {n_eval} images: {a:.3f} s with the sums, {b:.3f} s without: ratio {a / b:.3f}; "
          f"the estimate itself {est * 1e6:.0f} us")
    got = bench_insitu(rounds, args.baseline_rev)
    if got is None:
        print(f"insitu: skipped (git cannot show revision {args.baseline_rev})", file=sys.stderr)
    else:
        print(f"insitu, 8000 training images: {got[0]:.3f} s with the sums, {got[1]:.3f} s without: ratio {got[0] / got[1]:.3f}")
    a, b = bench_snn(rounds, n_snn, 100)
    print(f"snn, {n_snn} images x 100 steps: {a:.3f} s with the sums, {b:.3f} s without: ratio {a / b:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
