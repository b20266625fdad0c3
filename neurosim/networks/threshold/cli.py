"""The ``neurosim logic`` command: threshold gates, function counts, perceptron training, noise margins, MNIST.

Register it in the main parser with::

    from neurosim.networks.threshold.cli import add_logic_parser
    add_logic_parser(sub)        # sub = parser.add_subparsers(...)

Every subcommand sets ``func`` (called with the parsed arguments) and raises
:class:`~neurosim.errors.NeurosimError` for user mistakes, which the main
command turns into one line on stderr.
"""

import argparse
import logging
import numpy as np

from neurosim.cli_args import emit_result as _emit_result
from neurosim.cli_args import positive_int as _positive_int
from neurosim.cli_args import finite, folder, plot_file
from neurosim.cli_args import seed as _nonnegative_int
from neurosim.cli_args import whole_number as _int_at_least
from neurosim.errors import NeurosimError
from neurosim.events import EventCounts, report, summary, total

log = logging.getLogger("neurosim")

_NOISE_HELP = (
    "add noise KIND=LEVEL (repeatable): read=FRAC (sigma = FRAC x G, every read), prog=FRAC (sigma = FRAC x G_max, "
    "at programming), prog_proportional=FRAC (sigma = FRAC x G), c2c=FRAC (per-pulse sigma as a fraction of the "
    "window; switches to open-loop programming), output=FRAC (per conversion, fraction of w_max), comparator=AMPS"
)








def _noise_item(text: str):
    from neurosim.networks.threshold.margins import NoiseKind

    kind, sep, level = text.partition("=")
    allowed = ", ".join(m.value for m in NoiseKind)
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KIND=LEVEL (KIND one of {allowed}), got {text!r}")
    try:
        kind = NoiseKind(kind.strip().lower())
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown noise kind {kind!r}; allowed: {allowed}") from None
    try:
        value = float(level)
    except ValueError:
        raise argparse.ArgumentTypeError(f"noise level must be a number, got {level!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"noise level must be a finite number >= 0, got {level!r}")
    return kind, value


def _levels(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not np.isfinite(v) or v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers >= 0, got {text!r}")
    return values




def _threshold_setup(args):
    """(device, ThresholdConfig) from the common hardware options."""
    from neurosim.crossbar import CrossbarConfig, Mapping
    from neurosim.device import ProgramMethod, load_device
    from neurosim.networks.threshold.hardware import ThresholdConfig, ThresholdMode
    from neurosim.networks.threshold.margins import with_noise

    device = load_device(args.device)
    crossbar = CrossbarConfig(mapping=Mapping(args.mapping), program_method=ProgramMethod(args.method))
    config = ThresholdConfig(
        crossbar=crossbar,
        threshold_mode=ThresholdMode(getattr(args, "threshold_mode", "bias_row")),
        headroom=getattr(args, "headroom", 1.0),
        comparator_offset_A=args.comparator_offset_A,
    )
    for kind, level in args.noise or []:
        device, config = with_noise(device, config, kind, level)
    return device, config


def _add_hardware_options(p, *, mapping="differential", thresholds=True) -> None:
    p.add_argument("--device", default="sige_epiram", help="device card name or path (default sige_epiram)")
    p.add_argument(
        "--mapping",
        choices=["differential", "reference_column"],
        default=mapping,
        help=f"weight mapping: G+ - G- pairs or a reference column (default {mapping})",
    )
    p.add_argument(
        "--method",
        choices=["direct", "open_loop", "write_verify"],
        default="direct",
        help="programming: direct (target + the card's programming noise), open_loop (pulses with C2C noise), write_verify",
    )
    if thresholds:
        p.add_argument(
            "--threshold-mode",
            choices=["bias_row", "comparator"],
            default="bias_row",
            help="threshold on a bias row of devices (default) or as the comparator's reference current",
        )
        p.add_argument("--headroom", type=finite, default=1.0, help="full-window weight / largest weight, >= 1 (default 1)")
    p.add_argument("--noise", type=_noise_item, action="append", metavar="KIND=LEVEL", help=_NOISE_HELP)
    p.add_argument("--comparator-offset-A", type=finite, default=0.0, metavar="AMPS", help="comparator offset in A (default 0)")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _settings_summary(device, config) -> dict:
    cb = config.crossbar
    return {
        "device": device.name,
        "mapping": cb.mapping.value,
        "program_method": cb.program_method.value,
        "threshold_mode": config.threshold_mode.value,
        "headroom": config.headroom,
        "read_noise_frac": device.read_noise_frac,
        "prog_noise": device.prog_noise.value,
        "prog_noise_frac": device.prog_noise_frac,
        "c2c_sigma_frac": device.c2c_sigma_frac,
        "output_noise_frac": cb.output_noise_frac,
        "comparator_offset_A": config.comparator_offset_A,
        "comparator_noise_A": config.comparator_noise_A,
    }


# -- logic gates -----------------------------------------------------------------------------------
def _cmd_gates(args) -> None:
    from neurosim.networks.threshold.gates import GATE_NAMES, gate, gate_name, gate_targets
    from neurosim.networks.threshold.hardware import CrossbarThresholdNetwork
    from neurosim.networks.threshold.margins import analytic_errors, simulated_errors
    from neurosim.networks.threshold.units import all_inputs

    device, config = _threshold_setup(args)
    names = [gate_name(g) for g in args.gate] if args.gate else list(GATE_NAMES)
    streams = np.random.default_rng(args.seed).spawn(2 * len(names))
    results = []
    for i, name in enumerate(names):
        net, targets = gate(name), gate_targets(name)
        x = all_inputs(net.n_inputs)
        one = CrossbarThresholdNetwork(net, device, config, streams[2 * i])
        got = one.forward(x, streams[2 * i])
        sim = simulated_errors(net, device, config, args.trials, streams[2 * i + 1], targets=targets)
        try:
            ana, note = analytic_errors(net, device, config, targets=targets), None
        except NeurosimError as exc:
            ana, note = None, str(exc)
        run_events = report([a + b for a, b in zip(one.layer_events, sim.layer_events)])
        results.append((name, x, targets, got, sim, ana, note, run_events))
    if args.json:
        _emit_result(
            {
                "settings": _settings_summary(device, config),
                "trials": args.trials,
                "seed": args.seed,
                "gates": [
                    {
                        "name": name,
                        "inputs": x.tolist(),
                        "targets": t[:, 0].tolist(),
                        "hardware_outputs": g[:, 0].tolist(),
                        "error_rate_simulated": sim.rate,
                        "error_rate_std_error": sim.rate_std_error,
                        "error_rate_analytic": None if ana is None else ana.rate,
                        "rows_simulated": sim.error.tolist(),
                        "rows_std_error": sim.std_error.tolist(),
                        "rows_analytic": None if ana is None else ana.error.tolist(),
                        "analytic_note": note,
                        "events": ev,
                    }
                    for name, x, t, g, sim, ana, note, ev in results
                ],
            },
            config={"device": device, "threshold": config},
            seed=args.seed,
        )
        return
    s = _settings_summary(device, config)
    print(
        f"threshold gates on {s['device']} ({s['program_method']} programming, {s['mapping']} mapping, "
        f"threshold on {s['threshold_mode'].replace('_', ' ')}); error rates from {args.trials} programmed copies, seed {args.seed}"
    )
    for name, x, t, g, sim, ana, note, ev in results:
        n = x.shape[1]
        head = " ".join(f"x{j + 1}" for j in range(n))
        print(f"\n{name}")
        print(f"  {head} | want got | P(error) simulated    analytic")
        for r in range(len(x)):
            bits = " ".join(f"{v:>2d}" for v in x[r])
            a = "      -" if ana is None else f"{ana.error[r]:.4f}"
            print(f"  {bits} |  {t[r, 0]:>2d}  {g[r, 0]:>2d}  | {sim.error[r]:.4f} ± {sim.std_error[r]:.4f}   {a}")
        a = "n/a" if ana is None else f"{ana.rate:.4f}"
        print(f"  error rate: simulated {sim.rate:.4f} ± {sim.rate_std_error:.4f}, analytic {a}")
        if note:
            print(f"  ({note})")
        print(f"  {summary(EventCounts(**ev['total']))}")


# -- logic count ---------------------------------------------------------------------------------
def _cmd_count(args) -> None:
    from neurosim.networks.threshold.counting import count_functions

    result = count_functions(args.inputs, args.weight_levels)
    if args.json:
        _emit_result(result.to_dict(), config={"inputs": args.inputs, "weight_levels": args.weight_levels})
        return
    d = result.to_dict()
    print(f"{d['functions']} Boolean functions of {d['inputs']} inputs")
    if d["weight_levels"] is not None:
        print(f"  one unit with {d['weight_levels']} weight levels {d['levels']} (any threshold): {d['realisable']}")
    print(f"  one unit with real weights (threshold functions): {d['unrestricted']}")
    if d["not_realisable"]:
        which = "those weight levels" if d["weight_levels"] is not None else "one unit"
        print(f"  not realisable with {which}: {', '.join(d['not_realisable'])} (truth tables, rows x1 x2 = 00, 01, 10, 11)")


# -- logic train -----------------------------------------------------------------------------------
def _cmd_train(args) -> None:
    from neurosim.networks.threshold.gates import gate_name, gate_targets
    from neurosim.networks.threshold.perceptron import PerceptronConfig, train_perceptron
    from neurosim.networks.threshold.units import truth_table_string

    if args.function is not None:
        name = gate_name(args.function)
        table = truth_table_string(gate_targets(name)[:, 0])
    else:
        name, table = None, args.truth_table
    args.threshold_mode, args.headroom = "bias_row", 1.0
    device, tcfg = _threshold_setup(args)
    config = PerceptronConfig(
        weight_max=args.weight_max,
        pulses_per_update=args.pulses,
        max_epochs=args.epochs,
        margin=args.margin,
        threshold=tcfg,
    )
    result = train_perceptron(table, device, config, args.seed)
    if args.plot:
        from neurosim.networks.threshold.plots import plot_perceptron
        from neurosim.plots import save_figure

        ax = plot_perceptron(result)
        save_figure(ax.figure, args.plot)
    if args.json:
        _emit_result({"function": name, "truth_table": table, "settings": _settings_summary(device, tcfg), **result.to_dict()},
                     config={"device": device, "perceptron": config}, seed=args.seed)
        return
    label = f"{name} ({table})" if name else table
    print(f"perceptron learning {label} on {device.name} ({tcfg.crossbar.mapping.value} mapping), seed {args.seed}")
    print(f"  {result.message}")
    print(f"  mistakes per epoch: {' '.join(str(m) for m in result.mistakes)}")
    w = ", ".join(f"{v:+.4f}" for v in result.weights)
    print(f"  learned weights ({w}), threshold {result.threshold:+.4f} (weight units; full window = {args.weight_max})")
    print(f"  outputs {truth_table_string(result.outputs)} for targets {table}")
    print(f"  {summary(total(result.layer_events))}")
    if args.plot:
        print(f"  wrote {args.plot}")


# -- logic margins ---------------------------------------------------------------------------------
def _cmd_margins(args) -> None:
    from neurosim.networks.threshold.gates import GATE_NAMES, gate, gate_name, gate_targets
    from neurosim.networks.threshold.margins import NoiseKind, analytic_sweep, error_sweep

    device, config = _threshold_setup(args)
    names = [gate_name(g) for g in args.gate] if args.gate else list(GATE_NAMES)
    networks = {n: gate(n) for n in names}
    targets = {n: gate_targets(n) for n in names}
    rows = error_sweep(networks, device, config, NoiseKind(args.kind), args.levels, args.trials, args.seed, targets=targets)
    if args.output:
        from neurosim.networks.threshold.plots import plot_gate_errors
        from neurosim.plots import save_figure

        fine = np.linspace(min(args.levels), max(args.levels), 61)
        try:
            curves = analytic_sweep(networks, device, config, NoiseKind(args.kind), fine, targets=targets)
        except NeurosimError:
            curves = None
        title = f"Threshold gates on {device.name} ({config.crossbar.mapping.value}, {config.crossbar.program_method.value})"
        ax = plot_gate_errors(rows, curves=curves, title=title)
        save_figure(ax.figure, args.output)
        log.info("wrote %s", args.output)
    if args.json:
        _emit_result({"settings": _settings_summary(device, config), "rows": rows, "plot": args.output},
                     config={"device": device, "threshold": config, "noise": args.kind, "levels": args.levels, "trials": args.trials},
                     seed=args.seed)
        return
    print("gate,noise,level,analytic,simulated,std_error,trials")
    for r in rows:
        a = "" if r["analytic"] is None else f"{r['analytic']:.6f}"
        print(f"{r['gate']},{r['noise']},{r['level']:g},{a},{r['simulated']:.6f},{r['std_error']:.6f},{r['trials']}")


# -- logic mnist / train-mnist ---------------------------------------------------------------------
def _cmd_mnist(args) -> None:
    import time

    from neurosim.networks.threshold.margins import NoiseKind
    from neurosim.networks.threshold.mnist import hardware_run, resolve_settings

    settings = {"model": args.model, "device": args.device, "crossbar.mapping": args.mapping, "crossbar.program_method": args.method}
    for kind, level in args.noise or []:
        key = {
            NoiseKind.READ: {"device.read_noise_frac": level},
            NoiseKind.PROG: {"device.prog_noise": "constant", "device.prog_noise_frac": level},
            NoiseKind.PROG_PROPORTIONAL: {"device.prog_noise": "proportional", "device.prog_noise_frac": level},
            NoiseKind.C2C: {"device.c2c_sigma_frac": level, "crossbar.program_method": "open_loop"},
            NoiseKind.OUTPUT: {"crossbar.output_noise_frac": level},
            NoiseKind.COMPARATOR: {"threshold.comparator_noise_A": level},
        }[kind]
        settings.update(key)
    if args.comparator_offset_A:
        settings["threshold.comparator_offset_A"] = args.comparator_offset_A
    if args.test_images:
        settings["test_images"] = args.test_images
    start = time.perf_counter()
    run, hw = hardware_run(settings, args.seed)
    result = {**settings, "seed": args.seed, **run, "events": report(hw.layer_events)}
    result["time_s"] = round(time.perf_counter() - start, 3)
    if args.json:
        _, device, config, _ = resolve_settings(settings)
        _emit_result(result, config={"settings": settings, "device": device, "threshold": config}, seed=args.seed)
        return
    print(f"threshold network {args.model} on {args.device} (seed {args.seed}, {result['test_images']} MNIST test images)")
    print(f"  software accuracy  {100 * result['software_accuracy']:.2f} %")
    print(f"  hardware accuracy  {100 * result['accuracy']:.2f} %")
    print(f"  {summary(hw.events)}")


def _cmd_train_mnist(args) -> None:
    from neurosim.networks.threshold.mnist import retrain_threshold_model

    print(f"wrote {retrain_threshold_model(args.out, seed=args.seed)}")


def add_logic_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``logic`` command (with its subcommands) to ``subparsers``; returns its parser."""
    logic = subparsers.add_parser(
        "logic",
        help="threshold logic on crossbars: gates, function counts, perceptron training, noise margins, MNIST",
        description="Threshold (McCulloch-Pitts) units on crossbar columns with comparators.",
    )
    sub = logic.add_subparsers(dest="logic_command", required=True, metavar="{gates,count,train,margins,mnist,train-mnist}")

    p = sub.add_parser(
        "gates",
        help="truth tables and error rates of AND, OR, NAND, NOR, NOT, MAJ3 and XOR on a device",
        description="Program each gate onto crossbars of the device, read its truth table once, and measure the error "
        "rate of every input row over many programmed copies (simulation), next to the Gaussian analytic model.",
    )
    p.add_argument("--gate", action="append", metavar="NAME", help="only this gate (repeatable; default all)")
    p.add_argument("--trials", type=_int_at_least(2), default=1000, metavar="N", help="programmed copies per gate (default 1000)")
    _add_hardware_options(p)
    p.set_defaults(func=_cmd_gates)

    p = sub.add_parser(
        "count",
        help="how many n-input Boolean functions one threshold unit realises",
        description="Count the Boolean functions of n inputs (0..4) that one threshold unit realises when each weight "
        "takes k evenly spaced integer levels {-(k-1), ..., k-1} (threshold free), and with real weights.",
    )
    p.add_argument("--inputs", type=_nonnegative_int, required=True, metavar="N", help="number of inputs, 0..4")
    p.add_argument("--weight-levels", type=_positive_int, metavar="K", help="integer levels per weight (default: real weights only)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_count)

    p = sub.add_parser(
        "train",
        help="the perceptron rule on the devices (pulse updates), with convergence report",
        description="Train one threshold unit (bias row, all weights starting at 0) on the device by pulse updates: "
        "(t - y) x pulses on each mistake. Stops after an epoch without mistakes; reports when the function is not "
        "linearly separable (XOR).",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--function", metavar="GATE", help="a gate's function: AND, OR, NAND, NOR, NOT, MAJ3, XOR")
    what.add_argument("--truth-table", metavar="BITS", help="outputs in truth-table order, e.g. 0110 (rows 00, 01, 10, 11)")
    p.add_argument("--weight-max", type=finite, default=1.0, help="weight at the full conductance window (default 1)")
    p.add_argument("--pulses", type=_positive_int, default=2, help="pulses per update (default 2)")
    p.add_argument("--epochs", type=_positive_int, default=100, help="most epochs (default 100)")
    p.add_argument("--margin", type=finite, default=0.0, help="also update correct outputs within this margin (weight units)")
    p.add_argument("-o", "--plot", type=plot_file, metavar="PLOT", help="draw mistakes per epoch to this file")
    _add_hardware_options(p, mapping="reference_column", thresholds=False)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "margins",
        help="gate error rate vs noise level: analytic (Gaussian) and simulated, with a plot",
        description="Sweep one noise source over levels; for each gate and level compute the analytic error rate "
        "and measure it over programmed copies. Prints CSV (or JSON) and draws both together.",
    )
    p.add_argument(
        "--kind",
        choices=["read", "prog", "prog_proportional", "c2c", "output", "comparator"],
        default="read",
        help="the noise to sweep (see --noise for units; default read)",
    )
    p.add_argument("--levels", type=_levels, default=[0.0, 0.05, 0.1, 0.15, 0.2, 0.3], help="comma-separated noise levels")
    p.add_argument("--gate", action="append", metavar="NAME", help="only this gate (repeatable; default all)")
    p.add_argument("--trials", type=_int_at_least(2), default=2000, metavar="N", help="programmed copies per point (default 2000)")
    p.add_argument("-o", "--output", type=plot_file, metavar="PLOT", help="draw the error rates to this file (.png, .pdf, .svg)")
    _add_hardware_options(p)
    p.set_defaults(func=_cmd_margins)

    p = sub.add_parser(
        "mnist",
        help="MNIST accuracy of the binarised threshold network on a device",
        description="Map the threshold MLP (binary inputs, step hidden units, winner-take-all read-out) onto crossbars "
        "of the device (512-row arrays, comparators) and score it on the MNIST test set.",
    )
    p.add_argument("--model", default="threshold_mnist", help="shipped model name or path (default threshold_mnist)")
    p.add_argument("--test-images", type=_positive_int, help="use only the first N test images")
    _add_hardware_options(p, thresholds=False)
    p.set_defaults(func=_cmd_mnist)

    p = sub.add_parser("train-mnist", help="retrain the shipped threshold MNIST model (needs the MNIST training set)")
    p.add_argument("--out", type=folder, default="models", help="output folder (default models)")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="training seed (default 0)")
    p.set_defaults(func=_cmd_train_mnist)
    return logic
