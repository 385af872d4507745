"""Reading safetensors files: the header, validated in full before any tensor byte is read, the
tensors, and the check of their bytes against the CRC-32s ember records (``ember.checksums``)."""
import contextlib
import json
import math
import os
import re

import numpy as _np

from .crc import _CRC_PIECE, _Crcs, _crc_workers

#: The reference implementation refuses headers larger than this; so do we.
MAX_HEADER_SIZE = 100_000_000
_FORMAT_VERSION = 1
_EMBER_KEY = "__ember__"
_METADATA_KEY = "__metadata__"
_CHECKSUM_KEY = "ember.checksums"    # {"algorithm": "crc32", "tensors": {name: "%08x"}}
_BACKEND_KEY = "ember.backend"       # json.dumps(ember.backend.info()) of the writing process
_CHECKSUM_ALGORITHM = "crc32"
_OWN_KEYS = (_CHECKSUM_KEY, _BACKEND_KEY)   # written by ember itself; a caller's are replaced

# safetensors dtype name -> the NumPy dtype of the bytes as stored (always little-endian).
# BOOL is read as bytes and normalised to 0/1; BF16 is read as uint16 and widened to float32.
_STORED = {
    "BOOL": _np.dtype("u1"), "U8": _np.dtype("u1"), "I8": _np.dtype("i1"),
    "I16": _np.dtype("<i2"), "U16": _np.dtype("<u2"), "F16": _np.dtype("<f2"),
    "BF16": _np.dtype("<u2"), "I32": _np.dtype("<i4"), "U32": _np.dtype("<u4"),
    "F32": _np.dtype("<f4"), "I64": _np.dtype("<i8"), "U64": _np.dtype("<u8"),
    "F64": _np.dtype("<f8"),
}
# (NumPy kind, itemsize) -> safetensors dtype name, for writing (BF16 is read-only).
_CODE = {("b", 1): "BOOL", ("u", 1): "U8", ("i", 1): "I8", ("i", 2): "I16", ("u", 2): "U16",
         ("f", 2): "F16", ("i", 4): "I32", ("u", 4): "U32", ("f", 4): "F32", ("i", 8): "I64",
         ("u", 8): "U64", ("f", 8): "F64"}


class CheckpointError(ValueError):
    """A file that is not a valid safetensors (or ember) checkpoint; the message names the file."""


def _fail(path, what):
    return CheckpointError(f"{os.fsdecode(path)}: {what}")


# ================================================================================================
# Reading
# ================================================================================================
class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _is_count(x):
    return type(x) is int and x >= 0


def _read_header(f, path):
    """Parse and fully validate the header of the open file ``f``.

    Returns ``(entries, metadata, data_start)``: entries are ``(name, dtype, shape, begin, end)`` in
    header order, metadata the ``__metadata__`` dict (``{}`` when absent).
    """
    size = os.fstat(f.fileno()).st_size
    if size < 8:
        raise _fail(path, f"not a safetensors file: it has {size} bytes, fewer than the 8-byte "
                          "header length that starts every safetensors file")
    n = int.from_bytes(f.read(8), "little")
    if n > size - 8:
        raise _fail(path, f"not a safetensors file (or a truncated one): its first 8 bytes give a "
                          f"header length of {n} bytes but only {size - 8} bytes follow them")
    if n > MAX_HEADER_SIZE:
        raise _fail(path, f"not a safetensors file: header length {n} exceeds the format's limit "
                          f"of {MAX_HEADER_SIZE} bytes")
    if n < 2:
        raise _fail(path, f"not a safetensors file: header length {n} is too short for a JSON object")
    raw = f.read(n)
    if len(raw) != n:
        raise _fail(path, "file truncated while reading the header")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(path, "not a safetensors file: the header is not UTF-8 text") from None
    if not text.startswith("{"):
        raise _fail(path, "not a safetensors file: the header does not start with a JSON object")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as e:
        raise _fail(path, f"corrupt safetensors header: name {e.args[0]!r} appears twice") from None
    except (ValueError, RecursionError) as e:
        raise _fail(path, f"not a safetensors file: the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _fail(path, "not a safetensors file: the header is not a JSON object")

    metadata = header.pop(_METADATA_KEY, None)
    if metadata is None:
        metadata = {}
    elif not (isinstance(metadata, dict)
              and all(isinstance(v, str) for v in metadata.values())):
        raise _fail(path, "corrupt safetensors header: __metadata__ must map strings to strings")

    data_start = 8 + n
    data_len = size - data_start
    entries = []
    for name, info in header.items():
        where = f"corrupt safetensors header: tensor {name!r}"
        if not isinstance(info, dict):
            raise _fail(path, f"{where} is described by {type(info).__name__}, not a JSON object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in _STORED:
            raise _fail(path, f"{where} has unknown dtype {dtype!r} (this reader knows "
                              f"{', '.join(_STORED)})")
        if not (isinstance(shape, list) and all(_is_count(d) for d in shape)):
            raise _fail(path, f"{where} has invalid shape {shape!r} (expected a list of "
                              "non-negative integers)")
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(_is_count(o) for o in offsets) and offsets[0] <= offsets[1]):
            raise _fail(path, f"{where} has invalid data_offsets {offsets!r} (expected "
                              "[begin, end] with 0 <= begin <= end)")
        begin, end = offsets
        nbytes = math.prod(shape) * _STORED[dtype].itemsize
        if end - begin != nbytes:
            raise _fail(path, f"{where}: shape {shape} of {dtype} needs {nbytes} bytes but "
                              f"data_offsets {offsets} span {end - begin}")
        if end > data_len:
            raise _fail(path, f"{where}: data_offsets {offsets} lie outside the data section, "
                              f"which has {data_len} bytes (file truncated?)")
        entries.append((name, dtype, tuple(shape), begin, end))

    expected, previous = 0, None
    for name, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin < expected:
            raise _fail(path, f"corrupt safetensors header: the data of tensor {name!r} overlaps "
                              f"that of {previous!r}")
        if begin > expected:
            raise _fail(path, f"corrupt safetensors header: data is not contiguous ({begin - expected} "
                              f"unused bytes before tensor {name!r})")
        expected, previous = end, name
    if expected != data_len:
        raise _fail(path, f"corrupt safetensors file: the tensors cover {expected} bytes of data but "
                          f"the data section has {data_len}")
    return entries, metadata, data_start


def _parse_checksums(path, metadata, entries):
    """``{name: crc32}`` from the ``ember.checksums`` entry, or None when the file has none.

    Anything malformed, or a set of names that differs from the file's tensors, raises
    :class:`CheckpointError` before any tensor byte is read.
    """
    text = metadata.get(_CHECKSUM_KEY)
    if text is None:
        return None
    hint = ("; the file was changed after ember wrote it (load it with verify=False to skip the "
            "check)")
    try:
        spec = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise _fail(path, f"malformed {_CHECKSUM_KEY} metadata: not valid JSON ({e}){hint}") from None
    if not (isinstance(spec, dict) and isinstance(spec.get("tensors"), dict)):
        raise _fail(path, f"malformed {_CHECKSUM_KEY} metadata: expected an object with "
                          f"'algorithm' and 'tensors' entries{hint}")
    algorithm = spec.get("algorithm")
    if algorithm != _CHECKSUM_ALGORITHM:
        raise _fail(path, f"{_CHECKSUM_KEY} metadata uses checksum algorithm {algorithm!r}, which "
                          f"this ember does not know (it knows {_CHECKSUM_ALGORITHM!r}); upgrade "
                          "ember, or load with verify=False to skip the check")
    sums = {}
    for name, value in spec["tensors"].items():
        if not (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{8}", value)):
            raise _fail(path, f"malformed {_CHECKSUM_KEY} metadata: the checksum of tensor "
                              f"{name!r} is {str(value)[:40]!r}, not 8 hex digits{hint}")
        sums[name] = int(value, 16)
    names = [e[0] for e in entries]
    unlisted = [n for n in names if n not in sums]
    if unlisted:
        raise _fail(path, f"{_CHECKSUM_KEY} metadata has no checksum for tensor(s) "
                          f"{_names(unlisted)}{hint}")
    missing = sorted(set(sums) - set(names))
    if missing:
        raise _fail(path, f"{_CHECKSUM_KEY} metadata lists tensor(s) {_names(missing)} that the "
                          f"file does not hold{hint}")
    return sums


def _names(names, limit=5):
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _read_array(f, path, name, dtype, shape, start, crcs=None):
    """Read one tensor; with ``crcs`` (a :class:`_Crcs`), checksum its stored bytes there."""
    stored = _STORED[dtype]
    count = math.prod(shape)
    arr = _np.empty(count, dtype=stored)
    if count:
        f.seek(start)
        got = f.readinto(arr.view(_np.uint8))
        if got != arr.nbytes:
            raise _fail(path, f"file truncated while reading tensor {name!r} (it changed after "
                              "its header was checked?)")
    if crcs is not None:
        crcs.add(name, memoryview(arr.view(_np.uint8)))
    if dtype == "BOOL":
        arr = arr != 0
    elif dtype == "BF16":
        arr = (arr.astype(_np.uint32) << 16).view(_np.float32)
    else:
        arr = arr.astype(stored.newbyteorder("="), copy=False)
    return arr.reshape(shape)


def _read_arrays(f, path, entries, data_start, checksums=None):
    """Read every tensor; with ``checksums`` ({name: crc32}) verify each one's bytes."""
    arrays = {}
    order = sorted(entries, key=lambda e: e[3])
    if checksums is None:
        for name, dtype, shape, begin, _ in order:
            arrays[name] = _read_array(f, path, name, dtype, shape, data_start + begin)
        return {e[0]: arrays[e[0]] for e in entries}
    total = sum(e[4] - e[3] for e in entries)
    workers = _crc_workers() if total > 2 * _CRC_PIECE else 1
    with contextlib.ExitStack() as stack:
        pool = None
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor
            pool = stack.enter_context(ThreadPoolExecutor(workers, "ember-crc"))
        crcs = _Crcs(pool)
        for name, dtype, shape, begin, _ in order:
            arrays[name] = _read_array(f, path, name, dtype, shape, data_start + begin, crcs)
        crcs = crcs.result()
    bad = [e[0] for e in entries if crcs[e[0]] != checksums[e[0]]]
    if bad:
        first = bad[0]
        nbytes = next(e[4] - e[3] for e in entries if e[0] == first)
        what = (f"tensor {first!r} is corrupt: its {nbytes} bytes" if len(bad) == 1 else
                f"{len(bad)} tensors are corrupt ({_names(bad)}): the {nbytes} bytes of {first!r}")
        raise _fail(path, f"{what} have CRC-32 {crcs[first]:08x}, but ember recorded "
                          f"{checksums[first]:08x} when it wrote the file (damaged on disk or in "
                          "transfer, or changed by another tool); restore the file from a good "
                          "copy, or load it with verify=False to recover the data as it is")
    return {e[0]: arrays[e[0]] for e in entries}


def _read(path, tensors=True, verify=True):
    """(arrays in header order, metadata); ``tensors=False`` reads only the header."""
    with open(path, "rb") as f:
        entries, metadata, data_start = _read_header(f, path)
        arrays = None
        if tensors:
            checksums = _parse_checksums(path, metadata, entries) if verify else None
            arrays = _read_arrays(f, path, entries, data_start, checksums)
    return arrays, metadata
