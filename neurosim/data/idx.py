"""Read and write IDX files, the format of the MNIST distribution.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (``TT`` the element type,
``NN`` the number of dimensions), then ``NN`` big-endian uint32 dimension sizes,
then the elements in C order, big-endian. Files may be gzip-compressed; a
compressed file is recognised by the gzip magic bytes ``1f 8b``, not by its name.

Every malformed file (bad magic, unknown type code, short header, truncated
payload, trailing bytes, corrupt gzip stream) raises :class:`IdxError` naming
the file.
"""

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from neurosim.errors import NeurosimError

GZIP_MAGIC = b"\x1f\x8b"

#: IDX element-type codes and the (big-endian) numpy dtypes they hold.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_DTYPE = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}


class IdxError(NeurosimError):
    """An IDX file that is missing, corrupt or not in the IDX format."""


def _allowed_types() -> str:
    return ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in IDX_DTYPES.items())


def gunzip_if_compressed(raw: bytes, source="<bytes>") -> bytes:
    """Return ``raw`` decompressed when it starts with the gzip magic bytes, else unchanged."""
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise IdxError(
            f"IDX file {source} starts with the gzip magic bytes but is not a valid "
            f"gzip stream ({exc}); the download or copy is probably incomplete"
        ) from exc


def read_idx_bytes(path) -> bytes:
    """Return the uncompressed bytes of the IDX file at ``path`` (gzip or raw)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IdxError(f"IDX file {path} does not exist") from None
    except OSError as exc:
        raise IdxError(f"cannot read IDX file {path}: {exc}") from exc
    return gunzip_if_compressed(raw, source=path)


def parse_idx(data: bytes, source="<bytes>") -> np.ndarray:
    """Decode uncompressed IDX bytes into a native-byte-order array.

    ``source`` names the data in error messages (usually the file path). The
    payload must hold exactly ``prod(dims)`` elements: a shorter payload is a
    truncated file, a longer one has trailing garbage, and both are errors.
    """
    if len(data) < 4:
        raise IdxError(f"IDX file {source} is {len(data)} bytes long, too short for the 4-byte magic number")
    zero0, zero1, code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0:
        raise IdxError(
            f"IDX file {source} has magic number 0x{data[:4].hex()}, which does not start with "
            f"two zero bytes (expected 0x0000TTNN, TT the type code, NN the number of dimensions)"
        )
    if code not in IDX_DTYPES:
        raise IdxError(
            f"IDX file {source} has unknown element-type code 0x{code:02X}; allowed: {_allowed_types()}"
        )
    if ndim == 0:
        raise IdxError(f"IDX file {source} declares 0 dimensions; at least 1 is required")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IdxError(
            f"IDX file {source} is truncated: its header declares {ndim} dimensions "
            f"({header_len} header bytes) but the file has only {len(data)} bytes"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    payload = len(data) - header_len
    if payload < expected:
        raise IdxError(
            f"IDX file {source} is truncated: dimensions {dims} of {dtype.name} need "
            f"{expected} payload bytes but only {payload} are present"
        )
    if payload > expected:
        raise IdxError(
            f"IDX file {source} has {payload - expected} unexpected trailing bytes after the "
            f"{expected} payload bytes that dimensions {dims} of {dtype.name} need"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len, count=expected // dtype.itemsize)
    return array.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def read_idx(path) -> np.ndarray:
    """Read the IDX file at ``path`` (gzip-compressed or raw) into a numpy array.

    Returns a writable array in native byte order with the file's dimensions
    and element type (uint8 for MNIST images and labels).
    """
    return parse_idx(read_idx_bytes(path), source=Path(path))


def encode_idx(array) -> bytes:
    """Return the uncompressed IDX encoding of ``array`` (1 to 255 dimensions)."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODE_OF_DTYPE:
        raise IdxError(f"IDX cannot store dtype {array.dtype}; allowed: {_allowed_types()}")
    if not 1 <= array.ndim <= 255:
        raise IdxError(f"IDX stores arrays of 1 to 255 dimensions, got {array.ndim}")
    if any(dim >= 2**32 for dim in array.shape):
        raise IdxError(f"IDX dimension sizes must be below 2**32, got shape {array.shape}")
    code = _CODE_OF_DTYPE[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path, array, compress=None) -> Path:
    """Write ``array`` to ``path`` as an IDX file and return the path.

    ``compress`` True writes gzip (with a zero timestamp, so equal arrays give
    equal files), False writes raw IDX, None (default) compresses when the name
    ends in ``.gz``.
    """
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    data = encode_idx(array)
    if compress:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
