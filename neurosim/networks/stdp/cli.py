"""The ``neurosim stdp`` subcommand: Diehl & Cook's unsupervised STDP network on MNIST, on a device card.

Register it with :func:`add_stdp_parser`; the handler raises
:class:`~neurosim.errors.NeurosimError` for user mistakes (the main command
turns them into one line on stderr).
"""

import sys

from neurosim.cli_args import emit_json, folder, positive_int, seed, whole_number
from neurosim.progress import Progress


def add_stdp_parser(subparsers):
    """Add the ``stdp`` subcommand to ``subparsers`` and return its parser."""
    p = subparsers.add_parser(
        "stdp",
        help="unsupervised learning on devices: Diehl & Cook (2015) STDP network on MNIST",
        description="Train Diehl & Cook's (2015) spiking network (784 Poisson inputs up to 63.75 Hz, N excitatory "
        "neurons with adaptive thresholds, N inhibitory neurons for lateral inhibition, 350 ms presentations and "
        "150 ms rest, dt 0.5 ms) with STDP on the input synapses, every weight change a pulse train on the device "
        "card (or exact with --device ideal); then label each neuron by its highest mean response on training "
        "images and report the test accuracy. With --out DIR writes checkpoint.npz, run.json and "
        "receptive_fields.png, and resumes an interrupted run from DIR.",
    )
    p.add_argument("--neurons", type=positive_int, default=100, help="excitatory (= inhibitory) neurons (default 100)")
    p.add_argument("--device", default="ideal", help="device card name or path; 'ideal' = exact weight changes (default)")
    p.add_argument("--epochs", type=whole_number(0), default=1, help="passes over the training images (default 1)")
    p.add_argument("--train-images", type=positive_int, default=60000, help="training images per epoch (default 60000)")
    p.add_argument("--assign-images", type=positive_int, default=10000, help="training images that assign labels (default 10000)")
    p.add_argument("--test-images", type=positive_int, default=10000, help="test images scored (default 10000)")
    p.add_argument("--seed", type=seed, default=0, help="random seed: initial weights, device variation, spikes, noise (default 0)")
    p.add_argument("--checkpoint-every", type=positive_int, default=1000, help="images between checkpoints (default 1000)")
    p.add_argument("--out", type=folder, metavar="DIR", help="write checkpoint.npz, run.json, receptive_fields.png; resume from DIR")
    p.add_argument("--json", action="store_true", help="print the run's summary as JSON")
    p.set_defaults(func=run_stdp_command)
    return p


def run_stdp_command(args) -> None:
    """Handler of ``neurosim stdp``."""
    from neurosim.networks.stdp.tasks import load_data, resolve_device
    from neurosim.networks.stdp.train import StdpConfig, train_stdp

    config = StdpConfig(n_neurons=args.neurons, epochs=args.epochs, train_images=args.train_images,
                        assign_images=args.assign_images, test_images=args.test_images,
                        checkpoint_every=args.checkpoint_every)
    device = resolve_device(args.device)
    data = load_data()
    bars = {}

    def show(phase, done, total):
        if phase not in bars:
            for bar in bars.values():
                bar.close()
            bars[phase] = Progress(total, f"stdp {phase}", "image", done=done - 1)
        if done % 100 == 0 or done == total:
            bars[phase].update(n=done - bars[phase].done)

    try:
        result = train_stdp(config, device, args.seed, data, out_dir=args.out, callback=show)
    except KeyboardInterrupt:
        where = f"; the last checkpoint is in {args.out}: rerun the same command to resume" if args.out else ""
        print(f"neurosim: interrupted{where}", file=sys.stderr)
        raise SystemExit(130) from None
    for bar in bars.values():
        bar.close()
    if args.json:
        emit_json(result.summary())
        return
    s = result.summary()
    print(f"{s['device']}: {args.neurons} neurons, test accuracy {100 * result.accuracy:.2f} % on {config.test_images} "
          f"images after {config.epochs} epoch(s) of {config.train_images}; training {result.train_images_per_s:.1f} images/s")
    for kind, path in result.files.items():
        print(f"wrote {path}", file=sys.stderr)
