"""``python -m neurosim``: the same command line as the ``neurosim`` script."""

from neurosim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
