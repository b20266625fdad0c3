"""The ``neurosim snn`` command: a trained MLP or CNN as a spiking network on crossbars, accuracy against time steps.

Register it with :func:`add_snn_parser` on the ``neurosim`` subparsers. It
converts the model, programs it onto each ``--device``, simulates the MNIST
test images for ``--steps`` steps and reports the accuracy at several step
counts (one run per device, recorded along the way), writing a tidy CSV, a
JSON sidecar and a plot with one curve per device. ``--from-sweep`` draws the
same figure from a finished ``experiments/snn_accuracy_vs_steps.toml`` sweep.
"""

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from neurosim.cli_args import positive_int as _positive_int
from neurosim.cli_args import seed as _seed
from neurosim.cli_args import folder
from neurosim.errors import NeurosimError
from neurosim.provenance import write_result

log = logging.getLogger(__name__)

DESCRIPTION = (
    "Convert a trained ReLU MLP or CNN (lenet5) into integrate-and-fire neurons (reset by subtraction, per-layer weight "
    "normalisation by the 99.9th percentile of its activations on training data, biases as constant currents), "
    "program its weights onto crossbar arrays of each device, read the arrays every time step with fresh read noise, "
    "and report MNIST test accuracy against the number of time steps (one curve per device), with the ANN's accuracy."
)

EPILOG = """examples:
  neurosim snn --model mlp784 --device sige_epiram --steps 100
  neurosim snn --model models/mlp784 --device ideal --device sige_epiram:0.02 --steps 200 --json
  neurosim snn --from-sweep results/snn_accuracy_vs_steps
"""




def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _percentile(text: str) -> float:
    value = _fraction(text)
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"expected a percentile in (0, 100], got {text!r}")
    return value


def _step_list(text: str) -> list:
    try:
        values = [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected step counts >= 1, got {text!r}")
    return values


def parse_device(text: str, default_noise=None) -> tuple:
    """``NAME`` or ``NAME:READ_NOISE_FRAC`` -> ``(name, read_noise_frac or default_noise)``."""
    name, sep, noise = text.rpartition(":")
    if sep and name:
        try:
            frac = float(noise)
        except ValueError:
            raise NeurosimError(f"device '{text}': the part after ':' must be a read-noise fraction, e.g. sige_epiram:0.02") from None
        if not 0 <= frac < float("inf"):
            raise NeurosimError(f"device '{text}': read-noise fraction must be a finite number >= 0")
        return name, frac
    return text, default_noise


def _label(name: str, noise) -> str:
    return name if noise is None else f"{name} (read noise {100 * noise:g} %)"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _settings(args, name: str, noise) -> dict:
    settings = {"model": args.model, "device": name, "steps": args.steps, "input": args.input, "readout": args.readout,
                "percentile": args.percentile, "batch_size": args.batch_size, "engine": args.engine}
    if args.checkpoints:
        settings["checkpoints"] = sorted(set(c for c in args.checkpoints if c <= args.steps) | {args.steps})
    if args.energy:
        settings["circuit"] = args.circuit
    for key, value in (("test_images", args.test_images), ("device.read_noise_frac", noise),
                       ("crossbar.adc_bits", args.adc_bits), ("crossbar.dac_bits", args.dac_bits),
                       ("crossbar.rows", args.array_size), ("crossbar.cols", args.array_size),
                       ("crossbar.mapping", args.mapping), ("crossbar.program_method", args.method)):
        if value is not None:
            settings[key] = value
    return settings


def _curve(metrics: dict, readout: str) -> tuple:
    prefix = f"accuracy_{readout}_"
    steps = sorted(int(k[len(prefix):]) for k in metrics if k.startswith(prefix))
    return steps, [metrics[f"{prefix}{t}"] for t in steps]


def _cmd_snn(args) -> None:
    if args.from_sweep:
        _cmd_from_sweep(args)
        return
    import numba

    from neurosim import events
    from neurosim.convert.snn.engine import check_settings, simulate

    if args.threads:
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    devices = [parse_device(d, args.read_noise) for d in (args.device or ["sige_epiram"])]
    runs = []
    for name, noise in devices:  # validate everything before the first long run
        check_settings(_settings(args, name, noise))
    for name, noise in devices:
        settings = _settings(args, name, noise)
        start = time.perf_counter()
        log.info("simulating %s", _label(name, noise))
        metrics, run = simulate(settings, args.seed)
        runs.append({"device": name, "read_noise_frac": noise, "settings": settings, "metrics": metrics,
                     "events": events.report(run.layer_events), "time_s": round(time.perf_counter() - start, 3)})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / "snn_accuracy_vs_steps"
    rows = []
    for r in runs:
        steps, spikes = _curve(r["metrics"], "spikes")
        _, membrane = _curve(r["metrics"], "membrane")
        for t, a_s, a_m in zip(steps, spikes, membrane):
            rows.append([r["device"], "" if r["read_noise_frac"] is None else r["read_noise_frac"], args.seed, t,
                         a_m if args.readout == "membrane" else a_s, a_m, a_s, r["metrics"]["software_accuracy"]])
    buf = [",".join(["device", "read_noise_frac", "seed", "steps", "accuracy", "accuracy_membrane", "accuracy_spikes", "software_accuracy"])]
    buf += [",".join(str(v) for v in row) for row in rows]
    _write_atomic(stem.with_suffix(".csv"), "\n".join(buf) + "\n")
    software = runs[0]["metrics"]["software_accuracy"]
    n_test = runs[0]["metrics"]["test_images"]
    summary = {"model": args.model, "steps": args.steps, "seed": args.seed, "input": args.input, "readout": args.readout,
               "percentile": args.percentile, "test_images": n_test, "software_accuracy": software,
               "devices": [{"device": r["device"], "read_noise_frac": r["read_noise_frac"],
                            "accuracy": r["metrics"]["accuracy"],
                            "curve": [{"steps": t, "accuracy": a} for t, a in zip(*_curve(r["metrics"], args.readout))],
                            "metrics": r["metrics"], "events": r["events"], "settings": r["settings"],
                            "time_s": r["time_s"]} for r in runs],
               "csv": str(stem.with_suffix(".csv"))}
    if not args.no_plot:
        from neurosim.convert.snn.plots import plot_accuracy_vs_steps
        from neurosim.plots import save_figure

        curves = {_label(r["device"], r["read_noise_frac"]): _curve(r["metrics"], args.readout) for r in runs}
        title = (f"{Path(str(args.model)).name} as a spiking network: {args.input} input, {args.readout} readout, "
                 f"{n_test} MNIST test images, seed {args.seed}")
        ax = plot_accuracy_vs_steps(curves, reference=software, title=title)
        save_figure(ax.figure, stem.with_suffix(".png"))
        summary["plot"] = str(stem.with_suffix(".png"))
    write_result(stem.with_suffix(".json"), summary, config=[r["settings"] for r in runs], seed=args.seed)
    if args.json:
        json.dump(summary, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    print(f"{args.model} as a spiking network: {args.input} input, {args.readout} readout, "
          f"{n_test} MNIST test images, seed {args.seed}")
    print(f"  ANN accuracy {100 * software:.2f} %")
    labels = [_label(r["device"], r["read_noise_frac"]) for r in runs]
    width = max(12, *(len(s) for s in labels))
    print("  " + f"{'steps':>7}" + "".join(f"  {s:>{width}}" for s in labels))
    steps = _curve(runs[0]["metrics"], args.readout)[0]
    for i, t in enumerate(steps):
        print("  " + f"{t:>7}" + "".join(f"  {100 * _curve(r['metrics'], args.readout)[1][i]:>{width - 2}.2f} %" for r in runs))
    for r, label in zip(runs, labels):
        print(f"  {label}: {r['time_s']:.1f} s, {events.summary(events.EventCounts(**r['events']['total']))}")
        if args.energy:
            from neurosim.energy.cli import print_estimate

            print_estimate(r["metrics"], f"test image ({args.steps} steps)", indent="    ")
    print(f"wrote {stem.with_suffix('.csv')}" + ("" if args.no_plot else f" and {stem.with_suffix('.png')}"))


def _cmd_from_sweep(args) -> None:
    from neurosim.convert.snn.plots import plot_accuracy_vs_steps, sweep_curves
    from neurosim.plots import save_figure
    from neurosim.sweep import load_points

    folder = Path(args.from_sweep)
    records = load_points(folder)
    if not records:
        raise NeurosimError(f"{folder}: no finished sweep points (expected {folder}/points/*.json)")
    curves, software = sweep_curves(records, args.readout)
    stem = folder / f"accuracy_vs_steps_{args.readout}"
    lines = ["curve,steps,accuracy_mean,accuracy_std,seeds"]
    seeds = len(records) // max(1, len(curves))
    for label, (steps, mean, std) in curves.items():
        for i, t in enumerate(steps):
            lines.append(f"\"{label}\",{t},{mean[i]},{'' if std is None else std[i]},{seeds}")
    _write_atomic(stem.with_suffix(".csv"), "\n".join(lines) + "\n")
    title = f"Accuracy vs time steps ({args.readout} readout), mean ± 1 s.d. over {seeds} seed{'s' if seeds > 1 else ''}"
    ax = plot_accuracy_vs_steps(curves, reference=software, title=title)
    save_figure(ax.figure, stem.with_suffix(".png"))
    if args.json:
        json.dump({"curves": {k: {"steps": v[0].tolist(), "mean": v[1].tolist(), "std": None if v[2] is None else v[2].tolist()}
                              for k, v in curves.items()}, "software_accuracy": software, "csv": str(stem.with_suffix(".csv")),
                   "plot": str(stem.with_suffix(".png"))}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for label, (steps, mean, std) in curves.items():
        shown = ", ".join(f"{t}: {100 * m:.2f}" + ("" if std is None else f" ± {100 * s:.2f}") for t, m, s in
                          zip(steps, mean, std if std is not None else [None] * len(steps)))
        print(f"{label}: {shown} %")
    print(f"wrote {stem.with_suffix('.csv')} and {stem.with_suffix('.png')}")


def add_snn_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``snn`` subcommand to ``subparsers`` (from ``ArgumentParser.add_subparsers``); returns its parser."""
    p = subparsers.add_parser("snn", help="a trained MLP or CNN as a spiking network on crossbars: accuracy against time steps",
                              description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mlp784", help="shipped model name or path to NAME(.npz/.json) (default mlp784)")
    p.add_argument("--device", action="append", metavar="NAME[:READ_NOISE]",
                   help="device card name or path, optionally with its per-read noise as a fraction of G "
                        "(sige_epiram:0.02); repeat for one curve per device (default sige_epiram)")
    p.add_argument("--read-noise", type=_fraction, metavar="FRAC",
                   help="per-read noise (fraction of G, fresh every step) for devices given without ':FRAC' (default: the card's)")
    p.add_argument("--steps", type=_positive_int, default=100, help="time steps to simulate (default 100)")
    p.add_argument("--checkpoints", type=_step_list, metavar="T1,T2,...",
                   help="step counts at which accuracy is recorded in the same run (default 10, 20, 50, 100, ... up to --steps; "
                        "counts above --steps are dropped, --steps is always included)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed for devices, input spikes and read noise (default 0)")
    p.add_argument("--input", choices=["poisson", "rate"], default="poisson",
                   help="poisson: spikes with probability = intensity per step; rate: intensities as a constant current (default poisson)")
    p.add_argument("--readout", choices=["membrane", "spikes"], default="membrane",
                   help="class = largest accumulated output membrane potential, or most output spikes (default membrane)")
    p.add_argument("--percentile", type=_percentile, default=99.9,
                   help="percentile of each layer's training activations that fires at one spike per step (default 99.9)")
    p.add_argument("--adc-bits", type=_positive_int, help="per-tile ADC resolution in bits (default: ideal, analog integration)")
    p.add_argument("--dac-bits", type=_positive_int, help="input DAC resolution in bits (matters for --input rate; default ideal)")
    p.add_argument("--array-size", type=_positive_int, help="rows and columns of one array (default 128)")
    p.add_argument("--mapping", choices=["differential", "reference_column"], help="weight mapping (default differential)")
    p.add_argument("--method", choices=["direct", "open_loop", "write_verify"], help="how conductances are programmed (default direct)")
    p.add_argument("--test-images", type=_positive_int, help="use only the first N MNIST test images (default all 10,000)")
    p.add_argument("--batch-size", type=_positive_int, default=1000, help="samples simulated together per chunk (default 1000)")
    p.add_argument("--engine", choices=["fused", "network"], default="fused",
                   help="fused: Numba kernels (fast); network: neurosim's spiking Network with crossbar read hooks (reference, slow)")
    p.add_argument("--threads", type=_positive_int, help="threads over chunks of samples (default: Numba's thread count)")
    p.add_argument("--out", type=folder, default="results/snn", help="folder for the CSV, JSON and plot (default results/snn)")
    p.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    p.add_argument("--from-sweep", metavar="DIR",
                   help="instead of simulating, draw accuracy vs steps (mean ± s.d. over seeds) from a finished snn sweep folder")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    from neurosim.energy.cli import add_energy_options

    add_energy_options(p)
    p.set_defaults(func=_cmd_snn)
    return p
