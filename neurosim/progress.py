"""Progress of long commands (sweep points, training epochs, spiking checkpoints).

A :class:`Progress` draws a tqdm bar when stderr is a terminal; otherwise it
logs one line per finished unit on the ``neurosim.progress`` logger, which the
``neurosim`` command prints to stderr (so a job whose output goes to a file or
a pipe still shows that it is moving). A library user sees these lines only
when they configure logging.
"""

import logging
import sys

log = logging.getLogger("neurosim.progress")


class Progress:
    """Progress over ``total`` units of work (``done`` of them already finished) named ``desc``."""

    def __init__(self, total: int, desc: str, unit: str, done: int = 0):
        from tqdm import tqdm

        self.total, self.desc, self.unit, self.done = total, desc, unit, done
        self.bar = tqdm(total=total, initial=done, desc=desc, unit=unit, disable=not sys.stderr.isatty())

    def update(self, detail: str = "", n: int = 1) -> None:
        """Count ``n`` finished units; ``detail`` (e.g. ``"accuracy 91.2 %"``) goes into the line."""
        self.done += n
        self.bar.update(n)
        if self.bar.disable:
            log.info("%s: %s %d of %d done%s", self.desc, self.unit, self.done, self.total, f" ({detail})" if detail else "")

    def close(self) -> None:
        """Finish the bar."""
        self.bar.close()


class _StderrHandler(logging.Handler):
    """Writes each record to the ``sys.stderr`` of the moment (not the one at set-up, which may be replaced)."""

    def emit(self, record):
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def show_on_stderr() -> None:
    """Print progress lines (``neurosim: <line>``) to stderr: what the command line does."""
    if log.handlers:
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("neurosim: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
