"""The IDX file format (MNIST, Fashion-MNIST, EMNIST, ...): reader and writer.

Layout (big-endian): two zero bytes, a data-type code, the number of dimensions ``d``; then ``d``
unsigned 32-bit sizes; then the values, row-major.  Type codes: 0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64.  Files may be gzipped (detected by content).
"""
import gzip
import math
from pathlib import Path

import numpy as np

from ..serialization import atomic_write
from ._files import DatasetError, read_bytes

__all__ = ["read_idx", "parse_idx", "write_idx", "DatasetError"]

_CODE_TO_DTYPE = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
                  0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_DTYPE_TO_CODE = {np.dtype(dt).newbyteorder("=") if dt.itemsize > 1 else dt: code
                  for code, dt in _CODE_TO_DTYPE.items()}


def parse_idx(data, source="<bytes>"):
    """Decode the bytes of an (uncompressed) IDX file into a native-endian, writable NumPy array.

    Validates the magic number, the type code, the dimensions and that the data size matches the
    header exactly; a DatasetError names ``source`` and the problem.
    """
    size = len(data)
    if size < 4:
        raise DatasetError(f"{source}: not an IDX file: only {size} bytes, too short for the "
                           "4-byte header (truncated or empty file)")
    magic = int.from_bytes(data[:4], "big")
    if data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{source}: not an IDX file: magic number 0x{magic:08X} must start with "
                           "two zero bytes (is it another format, or still compressed?)")
    code, ndim = data[2], data[3]
    if code not in _CODE_TO_DTYPE:
        known = ", ".join(f"0x{c:02X} {dt.name}" for c, dt in _CODE_TO_DTYPE.items())
        raise DatasetError(f"{source}: bad IDX magic number 0x{magic:08X}: unknown data type code "
                           f"0x{code:02X} (expected one of {known})")
    if ndim == 0:
        raise DatasetError(f"{source}: bad IDX header: 0 dimensions")
    header = 4 + 4 * ndim
    if size < header:
        raise DatasetError(f"{source}: truncated IDX header: {ndim} dimensions need {header} bytes "
                           f"but the file has {size}")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _CODE_TO_DTYPE[code]
    expected = math.prod(shape) * dtype.itemsize
    actual = size - header
    if actual < expected:
        raise DatasetError(f"{source}: truncated IDX file: shape {shape} of {dtype.name} needs "
                           f"{expected} bytes of data but only {actual} follow the header; the file "
                           "is incomplete (re-download it)")
    if actual > expected:
        raise DatasetError(f"{source}: malformed IDX file: shape {shape} of {dtype.name} needs "
                           f"{expected} bytes of data but {actual} follow the header")
    array = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=header).reshape(shape)
    # A native-endian copy: frombuffer views of bytes are read-only, and callers expect to own it.
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path):
    """Read an IDX file (gzipped or raw) into a NumPy array; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_idx: no such file: {path}")
    return parse_idx(read_bytes(path), source=str(path))


def write_idx(path, array):
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``), atomically
    (``ember.serialization.atomic_write``).

    Supported dtypes: uint8, int8, int16, int32, float32, float64; at least one dimension.
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype
    if native not in _DTYPE_TO_CODE:
        raise TypeError(f"write_idx: IDX cannot hold dtype {array.dtype}; use one of uint8, int8, "
                        "int16, int32, float32, float64")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: IDX needs 1 to 255 dimensions, got shape {array.shape}")
    code = _DTYPE_TO_CODE[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=_CODE_TO_DTYPE[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    atomic_write(path, lambda f: f.write(payload))
    return path
