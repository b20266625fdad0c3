"""Argument types and output helpers shared by the ``neurosim`` subcommands."""

import argparse
import json
import sys


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
