"""The ``neurosim`` command.

User mistakes (bad card, unknown name, bad numbers) end in one line on stderr
and exit status 2; nothing here prints a traceback for them.
"""

import argparse
import logging
import os
import re
import sys

import numpy as np

from neurosim import __version__
from neurosim.cli_args import Parser, emit_json as _emit_json
from neurosim.cli_args import finite as _finite
from neurosim.cli_args import folder as _folder
from neurosim.cli_args import nonnegative as _nonnegative
from neurosim.cli_args import plot_file as _plot_file
from neurosim.cli_args import scheduler as _scheduler
from neurosim.cli_args import emit_result as _emit_result
from neurosim.cli_args import positive_int as _positive_int
from neurosim.cli_args import seed as _seed
from neurosim.errors import NeurosimError
from neurosim.progress import show_on_stderr
from neurosim.convert.snn.cli import add_snn_parser
from neurosim.networks.insitu.cli import add_insitu_parser
from neurosim.networks.stdp.cli import add_stdp_parser
from neurosim.networks.threshold.cli import add_logic_parser

log = logging.getLogger("neurosim")


# -- neurosim devices ...------------------------------------------------------
def _cmd_devices_list(args) -> None:
    from neurosim.device import list_cards, load_device

    rows = [(name, load_device(name)) for name in list_cards()]
    if args.json:
        _emit_json([{"name": n, "description": d.description, "citation": d.citation} for n, d in rows])
        return
    width = max(len(n) for n, _ in rows)
    for name, device in rows:
        print(f"{name:<{width}}  {device.description}")


def _device_summary(device) -> dict:
    from neurosim.device import device_to_mapping

    from neurosim.device.cycling import model_cycle_S

    cycle = model_cycle_S(device)  # the analytic curve, or a measured card's table-driven cycle
    ltp, ltd = cycle[: device.levels_ltp + 1], cycle[device.levels_ltp :]
    summary = device_to_mapping(device)
    summary.update(
        {
            "window_S": device.window_S,
            "on_off_ratio": device.g_max_S / device.g_min_S if device.g_min_S > 0 else float("inf"),
            "a_ltp_pulses": device.a_ltp,
            "a_ltd_pulses": device.a_ltd,
            "first_ltp_step_S": float(ltp[1] - ltp[0]),
            "last_ltp_step_S": float(ltp[-1] - ltp[-2]),
            "first_ltd_step_S": float(ltd[1] - ltd[0]),
            "last_ltd_step_S": float(ltd[-1] - ltd[-2]),
            "c2c_sigma_S": device.c2c_sigma_S,
        }
    )
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in summary.items()}


def _cmd_devices_show(args) -> None:
    from neurosim.device import load_device

    summary = _device_summary(load_device(args.device))
    if args.json:
        _emit_json(summary)
        return
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        shown = f"{value:.6g}" if isinstance(value, float) else value
        if key == "measured" and value is not None:
            shown = f"measured-curve table at {len(value['x'])} conductances (--json shows it)"
        print(f"{key:<{width}}  {shown}")


def _cmd_devices_curve(args) -> None:
    from neurosim.device import load_device
    from neurosim.device.cycling import pulse_response

    device = load_device(args.device)
    response = pulse_response(device, cycles=args.cycles, rng=args.seed, noiseless=args.noiseless)
    phase = ["start"] + ["potentiation"] * device.levels_ltp + ["depression"] * device.levels_ltd
    if args.output:
        from neurosim.plots import plot_pulse_response, save_figure

        ax = plot_pulse_response(response)
        save_figure(ax.figure, args.output)
        log.info("wrote %s", args.output)
    if args.json:
        out = {
            "device": device.name,
            "cycles": response.cycles,
            "seed": args.seed,
            "noiseless": args.noiseless,
            "pulse": response.pulse.tolist(),
            "phase": phase,
            "conductance_S": response.mean_S.tolist(),
            "model_S": response.model_S.tolist(),
        }
        if response.cycles > 1:
            out["conductance_std_S"] = response.std_S.tolist()
        if args.output:
            out["plot"] = str(args.output)
        _emit_json(out)
        return
    print("pulse,phase,conductance_S,conductance_std_S,model_S")
    for p, ph, g, s, m in zip(response.pulse, phase, response.mean_S, response.std_S, response.model_S):
        print(f"{p},{ph},{g:.6e},{s:.6e},{m:.6e}")


def _cmd_devices_fit(args) -> None:
    from pathlib import Path

    from neurosim.device.cardwrite import write_card
    from neurosim.device.fit import fit_traces, fitted_card_comments, fitted_device, result_summary
    from neurosim.device.tracefile import read_traces

    traces = read_traces(args.data, read_voltage_V=args.read_voltage)
    result = fit_traces(traces)
    name = args.name or Path(args.out).stem
    device = fitted_device(result, name, measured=args.measured)
    write_card(device, args.out, fitted_card_comments(result, args.measured))
    if args.plot:
        from neurosim.plots import plot_device_fit, save_figure

        ax = plot_device_fit(traces, result, device)
        save_figure(ax[0].figure, args.plot)
    if args.json:
        out = {"card": str(args.out), "kind": "measured" if args.measured else "analytic", **result_summary(result)}
        if args.plot:
            out["plot"] = str(args.plot)
        _emit_result(out, config={"data": str(args.data), "read_voltage_V": args.read_voltage, "name": name})
        return
    for line in fitted_card_comments(result, args.measured)[2:]:
        print(line.strip())
    print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))


def _card_file(text: str) -> str:
    """An argparse ``type`` for the card to write: a .toml file in a folder that exists."""
    from pathlib import Path

    path = Path(text)
    if path.suffix != ".toml":
        raise argparse.ArgumentTypeError(f"the card must be a .toml file, got {text!r}")
    if path.is_dir() or not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write the card {text!r}: {'it is a folder' if path.is_dir() else 'its folder does not exist'}")
    return text


def _add_devices_fit(dsub) -> None:
    p = dsub.add_parser(
        "fit",
        help="fit a device card to measured conductance against pulse number (CSV)",
        description="Fit G_min, G_max, levels, signed NL of potentiation and depression, cycle-to-cycle and "
        "device-to-device spread to measured pulse trains, with uncertainties, and write a card citing the data. "
        "CSV layout: see the README section 'Your own device'.",
    )
    p.add_argument("data", help="CSV file: a 'pulse' column, an optional 'phase' column, one 'NAME (UNIT)' column per device")
    p.add_argument("--out", type=_card_file, required=True, metavar="CARD.toml", help="the card to write")
    p.add_argument("--name", help="the card's name (default: the file name of --out)")
    p.add_argument("--measured", action="store_true", help="write a measured-curve card (writes follow the measured steps)")
    p.add_argument("--read-voltage", type=_finite, metavar="V", help="read voltage of current columns (V)")
    p.add_argument("--plot", type=_plot_file, metavar="PLOT", help="draw the data and the fit to this file (.png, .pdf, .svg)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_devices_fit)


def _add_devices(sub) -> None:
    devices = sub.add_parser("devices", help="list, show and plot synapse device cards")
    dsub = devices.add_subparsers(dest="devices_command", required=True, metavar="{list,show,curve,fit}")
    p = dsub.add_parser("list", help="the shipped device cards")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_devices_list)
    p = dsub.add_parser("show", help="a device's parameters and derived curve numbers")
    p.add_argument("device", help="card name (see 'neurosim devices list') or path to a .toml card")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_devices_show)
    p = dsub.add_parser(
        "curve",
        help="pulse response: full potentiation then depression trains, K cycles from G_min",
        description="Apply the full potentiation then depression pulse train K times, starting from G_min, "
        "and print conductance (S) versus pulse number as CSV (mean over cycles and cycle-to-cycle spread).",
    )
    p.add_argument("device", help="card name or path to a .toml card")
    p.add_argument("--cycles", type=_positive_int, default=1, metavar="K", help="number of cycles (default 1)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--noiseless", action="store_true", help="switch off cycle-to-cycle noise (the model's curve)")
    p.add_argument("--json", action="store_true", help="JSON instead of CSV")
    p.add_argument("-o", "--output", type=_plot_file, metavar="PLOT", help="also draw the curve to this file (.png, .pdf, .svg)")
    p.set_defaults(func=_cmd_devices_curve)
    _add_devices_fit(dsub)


# -- neurosim evaluate / train-reference ----------------------------------------
def _cmd_evaluate(args) -> None:
    import time

    from neurosim import events, parallel
    from neurosim.convert.evaluate import evaluate_network
    from neurosim.networks.insitu.cli import parse_assignment

    if args.threads:
        parallel.set_threads(args.threads)
    settings = {"model": args.model, "device": args.device, "crossbar.program_method": args.method}
    for key, value in (
        ("crossbar.adc_bits", args.adc_bits),
        ("crossbar.dac_bits", args.dac_bits),
        ("crossbar.rows", args.array_size),
        ("crossbar.cols", args.array_size),
        ("crossbar.mapping", args.mapping),
        ("test_images", args.test_images),
        ("t_s", args.time),
    ):
        if value is not None:
            settings[key] = value
    for text in args.set:
        key, value = parse_assignment(text)
        settings[key] = value
    if args.energy:
        settings.setdefault("circuit", args.circuit)
    start = time.perf_counter()
    result, net = evaluate_network(settings, args.seed)
    result = {"model": args.model, "device": args.device, "seed": args.seed, **settings, **result}
    result["events"] = events.report(net.layer_events)
    result["time_s"] = round(time.perf_counter() - start, 3)
    if args.json:
        from neurosim.convert.evaluate import resolve

        _, device, config, _ = resolve(settings)
        _emit_result(result, config={"settings": settings, "device": device, "crossbar": config}, seed=args.seed)
        return
    print(f"model {args.model} on {args.device} (seed {args.seed}, {result['test_images']} MNIST test images)")
    print(f"  software accuracy  {100 * result['software_accuracy']:.2f} %")
    print(f"  hardware accuracy  {100 * result['accuracy']:.2f} %")
    print(f"  ADC clipped {100 * result['adc_clip_fraction']:.3f} % of conversions, DAC {100 * result['dac_clip_fraction']:.3f} % of inputs")
    print(f"  {events.summary(net.events)}")
    if args.energy:
        from neurosim.energy.cli import print_estimate

        print_estimate(result, "test image")
    print(f"  {result['time_s']:.1f} s")


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="accuracy of a trained model on simulated crossbars, next to its software accuracy",
        description="Convert a trained network (an MLP or a CNN such as lenet5) onto crossbar arrays of a device, calibrate the converters on "
        "training images, and report MNIST test accuracy next to the software accuracy.",
    )
    p.add_argument("--model", default="mlp784", help="shipped model name or path to NAME(.npz/.json) (default mlp784)")
    p.add_argument("--device", default="sige_epiram", help="device card name or path (default sige_epiram)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed for variation and noise (default 0)")
    p.add_argument("--adc-bits", type=_positive_int, help="ADC resolution in bits (default: ideal ADC)")
    p.add_argument("--dac-bits", type=_positive_int, help="DAC resolution in bits (default: ideal DAC)")
    p.add_argument("--array-size", type=_positive_int, help="rows and columns of one array (default 128)")
    p.add_argument("--mapping", choices=["differential", "reference_column"], help="weight mapping (default differential)")
    p.add_argument(
        "--method",
        choices=["direct", "open_loop", "write_verify"],
        default="direct",
        help="how conductances are programmed (default direct: target plus the card's programming noise)",
    )
    p.add_argument("--time", type=_nonnegative, metavar="SECONDS", help="read this long after programming (drift)")
    p.add_argument("--test-images", type=_positive_int, help="use only the first N test images")
    p.add_argument("--threads", type=_positive_int, help="threads over the rows of each read (default: Numba's thread count)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other setting, e.g. --set crossbar.cell_r_series_ohm=15e3 --set device.read_noise_frac=0.02 (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    from neurosim.energy.cli import add_energy_options

    add_energy_options(p)
    p.set_defaults(func=_cmd_evaluate)


def _cmd_train_reference(args) -> None:
    from neurosim.networks.reference_models import retrain_reference_models

    for path in retrain_reference_models(args.out, seed=args.seed, only=args.only):
        print(f"wrote {path}")


def _add_train_reference(sub) -> None:
    p = sub.add_parser("train-reference", help="retrain the shipped reference models (needs the MNIST training set)")
    p.add_argument("--out", type=_folder, default="models", help="output folder (default models)")
    p.add_argument("--seed", type=_seed, default=0, help="training seed (default 0)")
    p.add_argument("--only", action="append", metavar="NAME", help="retrain only this model (repeatable), e.g. lenet5")
    p.set_defaults(func=_cmd_train_reference)


# -- neurosim sweep ------------------------------------------------------------
def _cmd_sweep(args) -> None:
    from neurosim.sweep import load_points, load_spec, run_sweep

    spec = load_spec(args.spec)
    out = args.out or f"results/{spec.name}"
    if args.scheduler and not args.verbose:  # a lost cluster is one error line, not distributed's tracebacks
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
    try:
        csv_path = run_sweep(spec, out, workers=args.workers, scheduler=args.scheduler)
    except KeyboardInterrupt:
        done = len(load_points(out))
        print(f"neurosim: interrupted: {done} of {len(spec.points())} points are saved in {out}; rerun to finish", file=sys.stderr)
        raise SystemExit(130) from None
    print(f"wrote {csv_path} ({len(spec.points())} points)")
    plot = csv_path.parent / f"{spec.name}.png"
    if plot.exists():
        print(f"wrote {plot}")


def _add_sweep(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="run an experiment grid (TOML spec) into a results folder",
        description="Run every point of an experiment spec (grid x seeds), writing each point as it finishes; "
        "a rerun skips finished points. Writes results.csv, sweep.json and the plot.",
    )
    p.add_argument("spec", help="experiment spec, e.g. experiments/accuracy_vs_prog_noise.toml (or its name, accuracy_vs_prog_noise)")
    p.add_argument("--out", type=_folder, help="results folder (default results/<spec name>)")
    p.add_argument("--workers", type=_positive_int, help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", type=_scheduler, metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    p.set_defaults(func=_cmd_sweep)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="neurosim", description="Simulate neuromorphic hardware: devices, crossbars, networks.")
    parser.add_argument("--version", action="version", version=f"neurosim {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_devices(sub)
    _add_evaluate(sub)
    _add_sweep(sub)
    _add_train_reference(sub)
    add_logic_parser(sub)
    add_snn_parser(sub)
    add_insitu_parser(sub)
    add_stdp_parser(sub)
    return parser


def as_typed(message: str, argv) -> str:
    """``message`` with each field named by an option the user typed written as that option.

    The library names a value by its field (``test_images = 20000 is not
    allowed: ...``); on the command line the user typed ``--test-images 20000``.
    """
    for token in argv:
        if token.startswith("--"):
            option = token.split("=", 1)[0]
            field = option[2:].replace("-", "_")
            message = re.sub(rf"(?<![\w.]){re.escape(field)} = ", f"{option} ", message, count=1)
    return message


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    show_on_stderr()
    try:
        args.func(args)
    except NeurosimError as exc:
        print(f"neurosim: error: {as_typed(str(exc), argv)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"neurosim: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except MemoryError:  # a backstop: sizes are bounded where they enter, but memory is the machine's
        print("neurosim: error: not enough memory for this run; use fewer images, steps or points", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neurosim: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
