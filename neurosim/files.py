"""File helpers: atomic writes (a reader never sees a partial file, a failed write leaves nothing) and reads of
the project's TOML and npz files that fail with one clear error."""

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


def read_npz(path, what: str) -> dict:
    """Every array of the ``.npz`` file ``path`` (never unpickling), or :class:`NeurosimError` saying why not.

    ``what`` names the file's role in the message ("the checkpoint"). A file
    that is not a zip archive, or that holds object (pickled) arrays, is
    reported as not being such a file, never with numpy's hint to unpickle it.
    """
    import zipfile

    import numpy as np

    from neurosim.errors import NeurosimError

    path = Path(path)
    if path.is_file() and not zipfile.is_zipfile(path):
        raise NeurosimError(f"{path}: not {what} (not an npz file, the zip archive of arrays numpy.savez writes)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError:
        raise NeurosimError(f"{path}: not {what} (it holds object arrays or damaged data; neurosim writes numeric arrays only)") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise NeurosimError(f"{path}: cannot read {what} ({exc})") from None


def read_toml(path, what: str, error=None) -> dict:
    """The TOML file ``path`` as a dict, or an error (``error``, default :class:`NeurosimError`) saying why not.

    ``what`` names the file's role in the messages ("device card file").
    """
    import tomllib

    from neurosim.errors import NeurosimError

    error = NeurosimError if error is None else error
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read the {what} ({exc})") from None
