"""Atomic file writes: a reader never sees a partial file, a failed write leaves nothing."""

import os
import tempfile
from pathlib import Path


def write_atomic(path, write) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it to ``path``.

    The data is flushed to disk before the rename (``os.replace``), which is
    atomic on one file system; on any error the
    temporary file is removed and the exception propagates. The file gets mode
    0644 (``mkstemp`` would leave it readable by the owner only).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())  # the data is on disk before the name points to it
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
