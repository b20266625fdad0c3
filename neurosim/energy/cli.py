"""The ``--energy`` and ``--circuit`` options of ``neurosim evaluate``, ``insitu`` and ``snn``, and their printout."""

from neurosim.energy.estimate import AREA_PARTS, ENERGY_PARTS
from neurosim.energy.runs import DEFAULT_CIRCUIT


def add_energy_options(parser) -> None:
    """Add ``--energy`` and ``--circuit CARD`` to a subcommand's parser."""
    parser.add_argument("--energy", action="store_true",
                        help="also estimate energy, latency and area from the run's events and a circuit card "
                             "(adds energy_* to --json; --set circuit.FIELD=VALUE overrides a card field)")  # fmt: skip
    parser.add_argument("--circuit", default=DEFAULT_CIRCUIT, metavar="CARD",
                        help=f"circuit card name or path for --energy (default {DEFAULT_CIRCUIT}; cards in circuits/)")


def _joule(value) -> str:
    if value is None:
        return "unknown (the device card has no write pulse)"
    if value == 0:
        return "0 J"
    for unit, scale in (("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value / 1e-15:.4g} fJ"


def estimate_lines(metrics: dict, what: str, prefix: str = "energy_") -> list[str]:
    """Lines describing the ``energy_*`` metrics of a result (per ``what``)."""
    parts = ", ".join(f"{k} {_joule(metrics[f'{prefix}{k}_J'])}" for k in ENERGY_PARTS)
    lines = [f"energy per {what}: {_joule(metrics[f'{prefix}J'])} ({parts})",
             f"read latency per {what}: {metrics[f'{prefix}latency_s'] * 1e9:.4g} ns",
             f"area: {metrics[f'{prefix}area_m2'] * 1e6:.4g} mm^2"]  # fmt: skip
    if f"{prefix}area_cells_m2" in metrics:
        lines[-1] += " (" + ", ".join(f"{k} {metrics[f'{prefix}area_{k}_m2'] * 1e6:.4g}" for k in AREA_PARTS) + ")"
    if "energy_program_J" in metrics and prefix == "energy_":
        lines.append(f"programming (once): {_joule(metrics['energy_program_J'])}")
    return lines


def print_estimate(metrics: dict, what: str, prefix: str = "energy_", indent: str = "  ") -> None:
    """Print :func:`estimate_lines`."""
    for line in estimate_lines(metrics, what, prefix):
        print(indent + line)
