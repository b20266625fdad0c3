"""Argument types and output helpers shared by the ``neurosim`` subcommands."""

import argparse
import json
import math
import sys

from neurosim import validation
from neurosim.errors import NeurosimError


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes end in one line ``neurosim: error: ...`` on stderr and exit status 2."""

    def error(self, message):
        """Print ``message`` as one line, pointing at this command's ``--help``, and exit with status 2."""
        self.exit(2, f"neurosim: error: {message} (see '{self.prog} --help')\n")


def whole_number(low: int):
    """An argparse ``type`` accepting whole numbers >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
        return value

    return parse


def real_number(low: float | None = None):
    """An argparse ``type`` accepting finite numbers (``>= low`` when given); never nan or inf."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"expected a number >= {low:g}, got {text!r}")
        return value

    return parse


def folder(text: str) -> str:
    """An argparse ``type`` for an output folder: refused when it names an existing file."""
    try:
        validation.output_folder("folder", text)
    except NeurosimError:
        raise argparse.ArgumentTypeError(f"{text!r} is an existing file; give a folder (it is created if missing)") from None
    return text


def plot_file(text: str) -> str:
    """An argparse ``type`` for a plot file: a suffix matplotlib can write, in a folder (not under a file)."""
    from pathlib import Path

    from matplotlib.figure import Figure

    supported = Figure().canvas.get_supported_filetypes()
    suffix = Path(text).suffix.lstrip(".").lower()
    if suffix not in supported:
        raise argparse.ArgumentTypeError(f"cannot save a plot as {text!r}: use one of the suffixes {', '.join(sorted(supported))}")
    try:
        validation.output_folder("folder", Path(text).parent)
    except NeurosimError:
        raise argparse.ArgumentTypeError(f"cannot save a plot as {text!r}: a folder above it is an existing file") from None
    return text


def scheduler(text: str) -> str:
    """An argparse ``type`` for a Dask scheduler address (see :func:`neurosim.validation.scheduler_address`)."""
    try:
        return validation.scheduler_address("address", text)
    except NeurosimError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("address = ", "", 1)) from None


#: Finite numbers.
finite = real_number()
#: Finite numbers >= 0 (times, noise levels).
nonnegative = real_number(0.0)
#: Whole numbers >= 1 (counts, sizes, bits).
positive_int = whole_number(1)
#: Random seeds: whole numbers >= 0.
seed = whole_number(0)


def emit_json(obj) -> None:
    """Write ``obj`` as indented JSON to stdout."""
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def emit_result(result: dict, *, config=None, seed=None) -> None:
    """Write a run's ``result`` with its provenance (see :mod:`neurosim.provenance`) as JSON to stdout."""
    from neurosim.provenance import with_provenance

    emit_json(with_provenance(result, config=config, seed=seed))
