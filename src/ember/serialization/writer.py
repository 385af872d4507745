"""Writing safetensors files: arrays as little-endian bytes, their CRC-32s and a description of
the backend in the metadata, all through an atomic write."""
import json
import zlib
from collections.abc import Mapping

import numpy as _np

from ..backend import to_host
from ..tensor import Tensor
from .atomic import atomic_write
from .reader import (_BACKEND_KEY, _CHECKSUM_ALGORITHM, _CHECKSUM_KEY, _CODE, _METADATA_KEY,
                     _OWN_KEYS, MAX_HEADER_SIZE)


def _host_array(value, what):
    """The NumPy array behind a Tensor / array / NumPy scalar (no copy on the CPU; a tensor on a
    GPU is copied to the host, so checkpoints never depend on the device), or TypeError."""
    if isinstance(value, Tensor):
        arr = to_host(value.data)
    elif isinstance(value, (_np.ndarray, _np.generic)):
        arr = _np.asarray(value)
    else:
        raise TypeError(f"{what}: expected an ember Tensor or a NumPy array, got {type(value).__name__}")
    if (arr.dtype.kind, arr.dtype.itemsize) not in _CODE or arr.dtype.fields is not None:
        raise TypeError(f"{what}: cannot store dtype {arr.dtype} in safetensors (supported: bool, "
                        "uint8/16/32/64, int8/16/32/64, float16/32/64)")
    return arr


def _write_array(f, arr):
    """Write ``arr``'s elements as contiguous little-endian bytes (copying only when it must);
    returns the CRC-32 of the bytes written."""
    if arr.size == 0:
        return 0
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _np.little_endian):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    data = _np.ascontiguousarray(arr).reshape(-1).view(_np.uint8)
    crc = zlib.crc32(data)
    f.write(data)
    return crc


def _write_safetensors(path, named, metadata):
    """Write ``named`` ([(name, array)], arrays already checked) and str->str ``metadata``.

    The header lists tensors in the given order; the data is laid out widest dtype first (stable),
    as the reference writer does, so every tensor starts at a multiple of its itemsize.
    """
    layout = sorted(range(len(named)), key=lambda i: -named[i][1].dtype.itemsize)
    offsets, pos = {}, 0
    for i in layout:
        offsets[i] = (pos, pos + named[i][1].nbytes)
        pos += named[i][1].nbytes
    metadata = dict(metadata)
    metadata[_BACKEND_KEY] = _backend_info()

    def header_blob(crcs):
        # The checksums are 8 hex digits each, so the header has the same length before the data
        # is written (placeholders) and after (the real values): it is written once with
        # placeholders, then rewritten in place -- the data is read only once.
        meta = dict(metadata)
        meta[_CHECKSUM_KEY] = json.dumps(
            {"algorithm": _CHECKSUM_ALGORITHM,
             "tensors": {name: f"{crcs.get(name, 0):08x}" for name, _ in named}},
            separators=(",", ":"))
        header = {_METADATA_KEY: meta}
        for i, (name, arr) in enumerate(named):
            header[name] = {"dtype": _CODE[arr.dtype.kind, arr.dtype.itemsize],
                            "shape": list(arr.shape), "data_offsets": list(offsets[i])}
        blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
        return blob + b" " * (-len(blob) % 8)

    blob = header_blob({})
    if len(blob) > MAX_HEADER_SIZE:
        raise ValueError(f"safetensors header of {len(blob)} bytes exceeds the format's limit of "
                         f"{MAX_HEADER_SIZE} (too many tensors or too much metadata)")

    def write(f):
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        crcs = {}
        for i in layout:
            crcs[named[i][0]] = _write_array(f, named[i][1])
        final = header_blob(crcs)
        if len(final) != len(blob):      # cannot happen: every checksum is 8 hex digits
            raise RuntimeError("ember.save: internal error: the header changed length")
        f.seek(8)
        f.write(final)

    atomic_write(path, write)


def _backend_info():
    """``ember.backend.info()`` as JSON; a save never fails because it cannot be described."""
    try:
        from .. import backend
        return json.dumps(backend.info(), sort_keys=True)
    except Exception as e:  # noqa: BLE001 -- a description, never worth losing a checkpoint over
        return json.dumps({"error": f"ember.backend.info() failed: {type(e).__name__}: {e}"})


def _check_str_metadata(metadata, fn):
    """``metadata`` as a str->str dict, less ember's own keys (the writer writes its own)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"{fn}: metadata must be a dict of str to str, got {type(metadata).__name__}")
    metadata = {k: v for k, v in metadata.items() if k not in _OWN_KEYS}
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{fn}: metadata must map str to str; got {k!r}: {type(v).__name__} "
                            "(use ember.save to store other JSON values)")
    return {str(k): str(v) for k, v in metadata.items()}


def _check_named(tensors, fn):
    if not isinstance(tensors, Mapping):
        raise TypeError(f"{fn}: expected a dict of name -> tensor, got {type(tensors).__name__}")
    named = []
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"{fn}: tensor names must be strings, got {name!r}")
        if name == _METADATA_KEY:
            raise ValueError(f"{fn}: {_METADATA_KEY!r} is reserved by the safetensors format")
        named.append((name, _host_array(value, f"{fn}: tensor {name!r}")))
    return named
