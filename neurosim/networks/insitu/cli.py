"""The ``neurosim insitu`` subcommand: train on simulated device arrays and report accuracy per epoch.

Register it with :func:`add_insitu_parser` on the main parser's subparsers;
the handler raises :class:`~neurosim.errors.NeurosimError` for user mistakes
(the main command turns them into one line on stderr).
"""

import argparse
import json
import logging
import sys
import tomllib

from neurosim import events
from neurosim.cli_args import positive_int as _positive_int
from neurosim.cli_args import seed as _seed
from neurosim.cli_args import finite, folder
from neurosim.errors import NeurosimError
from neurosim.progress import Progress

log = logging.getLogger("neurosim")

_CHOICES = {
    "protocol": ["project", "neurosim_v3"],
    "mapping": ["reference_column", "differential"],
    "pulse_rounding": ["nearest", "truncate", "stochastic"],
    "optimizer": ["sgd", "momentum"],
    "backward": ["digital", "transposed_read"],
    "hidden_update": ["sigmoid", "thresholded"],
}






def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return value


def _adc_bits(text: str):
    if text.lower() in ("none", "ideal", "0"):
        return None
    return _positive_int(text)


def parse_assignment(text: str) -> tuple[str, object]:
    """``FIELD=VALUE`` with VALUE as TOML (numbers, true/false, "strings", [lists]) or a bare word; none = None."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise NeurosimError(f"--set expects FIELD=VALUE, got {text!r}")
    if raw.lower() in ("none", "null"):
        return key, None
    try:
        return key, tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return key, raw


def add_insitu_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``insitu`` subcommand to ``subparsers`` (from ``ArgumentParser.add_subparsers``) and return it."""
    p = subparsers.add_parser(
        "insitu",
        help="on-chip learning: train a network through device pulse updates, test accuracy per epoch",
        description="Train a 400-100-10 network on simulated crossbar arrays of a device: forward passes are "
        "crossbar reads (read noise, 8-bit ADC), errors are backpropagated digitally, and every weight change "
        "is a train of programming pulses through the device's nonlinear update curve with cycle-to-cycle "
        "noise. Defaults: NeuroSim's reference protocol (20x20 binarised MNIST, sigmoid, SGD batch 1, "
        "learning rates 0.4/0.2, 125 epochs of 8000 images, weights in [-1, 1] against a reference column). "
        "Prints the test accuracy per epoch as CSV (or JSON); with --out DIR also writes history.csv, run.json, "
        "learning_curve.png and checkpoint.npz (the trained conductances), and resumes an interrupted run "
        "from DIR's checkpoint.",
    )
    p.add_argument("--device", help="device card name or path (default sige_epiram; not with --software)")
    p.add_argument(
        "--software",
        action="store_true",
        help="train the software float baseline instead (same network and protocol; no device, no threshold, ideal ADC)",
    )
    p.add_argument(
        "--protocol",
        choices=_CHOICES["protocol"],
        help="project (default: tiled partial sums, rounding ADC, full weighted sum) or neurosim_v3 "
        "(NeuroSim V3.0's read-out of half the sum, 15 kOhm access transistors, read-back weights, 7-level start)",
    )
    p.add_argument("--epochs", type=_positive_int, help="epochs (default 125)")
    p.add_argument("--images-per-epoch", type=_positive_int, help="randomly drawn training images per epoch (default 8000)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed: device variation, initial weights, order, noise (default 0)")
    p.add_argument("--lr-hidden", type=_positive_float, help="learning rate of the first layer (default 0.4)")
    p.add_argument("--lr-output", type=_positive_float, help="learning rate of the second layer (default 0.2)")
    p.add_argument("--mapping", choices=_CHOICES["mapping"], help="weight mapping (default reference_column)")
    p.add_argument("--rounding", dest="pulse_rounding", choices=_CHOICES["pulse_rounding"], help="weight change to pulses (default nearest)")
    p.add_argument("--optimizer", choices=_CHOICES["optimizer"], help="update rule (default sgd)")
    p.add_argument("--momentum", type=finite, help="velocity decay of --optimizer momentum (default 0.9)")
    p.add_argument("--backward", choices=_CHOICES["backward"], help="hidden error: digital or transposed read (default digital)")
    p.add_argument("--adc-bits", type=_adc_bits, default=argparse.SUPPRESS, metavar="BITS", help="ADC bits, or 'none' for an ideal ADC (default 8)")
    p.add_argument("--test-images", type=_positive_int, help="score only the first N test images (default all 10,000)")
    p.add_argument(
        "--dataset",
        choices=["mnist", "digits"],
        default="mnist",
        help="mnist (default; the training split needs NEUROSIM_DATA or the user cache) or digits "
        "(scikit-learn's 8x8 digits binarised, 64-32-10: a quick check)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other protocol setting, e.g. --set adc_range_hidden=32 --set crossbar.rows=64 --set device.c2c_sigma_frac=0.01 (repeatable)",
    )
    p.add_argument("--out", type=folder, metavar="DIR", help="write history.csv, run.json, learning_curve.png, checkpoint.npz here; resume from it")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end instead of CSV")
    from neurosim.energy.cli import add_energy_options

    add_energy_options(p)
    p.set_defaults(func=run_insitu_command)
    return p


def _settings(args) -> dict:
    if args.software and args.device is not None:
        raise NeurosimError(f"--device {args.device} is not allowed with --software: the software baseline uses no device")
    settings = {"dataset": args.dataset, "device": "software" if args.software else (args.device or "sige_epiram")}
    for name in ("protocol", "epochs", "images_per_epoch", "lr_hidden", "lr_output", "pulse_rounding", "optimizer",
                 "momentum", "backward", "test_images"):  # fmt: skip
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = value
    if getattr(args, "mapping", None) is not None:
        settings["crossbar.mapping"] = args.mapping
    if hasattr(args, "adc_bits"):
        settings["crossbar.adc_bits"] = args.adc_bits
    for text in args.set:
        key, value = parse_assignment(text)
        if key in ("device", "dataset"):
            raise NeurosimError(f"use --{key} rather than --set {key}=...")
        settings[key] = value
    hardware = sorted(k for k in settings if k.startswith("crossbar."))
    if args.software and hardware:
        raise NeurosimError(
            f"{', '.join(hardware)} (--adc-bits, --mapping, --set crossbar.*) is not allowed with --software: "
            "the float baseline has no crossbar"
        )
    if args.energy:
        settings.setdefault("circuit", args.circuit)
    return settings


def run_insitu_command(args) -> None:
    """Handler of ``neurosim insitu``."""
    from neurosim.networks.insitu.tasks import check_settings, energy_metrics, run_settings
    from neurosim.networks.insitu.train import EpochRecord, history_csv

    settings = _settings(args)
    check_settings(settings)  # a bad circuit fails before training
    stream = not args.json
    header = [True]
    progress = [None]

    def show(record: EpochRecord):
        if progress[0] is None:
            from neurosim.networks.insitu.config import InsituConfig

            total = settings.get("epochs", InsituConfig.epochs)
            progress[0] = Progress(total, "insitu", "epoch", done=record.epoch - 1)
        acc = record.test_accuracy
        progress[0].update("" if acc is None else f"test accuracy {100 * acc:.2f} %")
        if stream:
            text = history_csv([record])
            sys.stdout.write(text if header[0] else text.split("\n", 1)[1])
            sys.stdout.flush()
            header[0] = False

    try:
        result = run_settings(settings, args.seed, out_dir=args.out, callback=show)
        if progress[0] is not None:
            progress[0].close()
    except KeyboardInterrupt:
        where = f"; the last checkpoint is in {args.out}: rerun the same command to resume" if args.out else ""
        print(f"neurosim: interrupted{where}", file=sys.stderr)
        raise SystemExit(130) from None
    estimate = energy_metrics(settings, result)
    if args.json:
        json.dump({**result.summary(), **estimate}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    name = "software (float)" if result.device is None else result.device.name
    print(
        f"{name}: test accuracy {100 * result.final_accuracy:.2f} % after {len(result.history)} epochs "
        f"(best {100 * result.best_accuracy:.2f} %), seed {args.seed}, {result.time_s:.1f} s",
        file=sys.stderr,
    )
    if result.device is not None:
        print(events.summary(events.total(result.layer_events())), file=sys.stderr)
    if estimate:
        from neurosim.energy.cli import estimate_lines

        for line in estimate_lines(estimate, "training image") + estimate_lines(estimate, "test image", "energy_test_"):
            print(line, file=sys.stderr)
    for kind, path in result.files.items():
        print(f"wrote {path}", file=sys.stderr)
