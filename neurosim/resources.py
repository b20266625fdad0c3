"""Locate the data folders shipped with neurosim (device cards, trained models).

In an installed wheel they live inside the package (``neurosim/_shipped``);
in a source checkout they are the top-level ``devices/`` and ``models/``
folders next to the package.
"""

from importlib import resources
from pathlib import Path


def shipped_dir(name: str) -> Path:
    """Return the folder ``name`` ("devices" or "models") shipped with neurosim."""
    packaged = Path(str(resources.files("neurosim"))) / "_shipped" / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / name
