"""Checkpoints in the safetensors format: ``ember.save`` / ``ember.load`` (never pickle).

A safetensors file is::

    8 bytes   N, the header length (unsigned little-endian)
    N bytes   a JSON object {name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
              ..., "__metadata__": {str: str}}, padded with spaces so that N is a multiple of 8
    the rest  the raw little-endian bytes of every tensor, back to back; offsets are relative to
              the start of this data section

Loading a file never runs code: the header is plain JSON and the data is raw numbers.  Every
structural property of the header is checked before any tensor byte is read, and anything wrong
raises :class:`CheckpointError` (a ``ValueError``) naming the file.

Two layers live here:

* ``save_file`` / ``load_file`` / ``read_metadata``: flat ``{name: array}`` files, readable and
  writable by the ``safetensors`` package and every other tool that speaks the format; and
  ``save_state_dict`` / ``load_state_dict``, the same for a module's parameters and buffers.
* ``save`` / ``load`` (exported as ``ember.save`` / ``ember.load``): any nesting of dicts, lists
  and tuples whose leaves are Tensors, NumPy arrays, NumPy scalars, or JSON values (numbers,
  strings, booleans, None).  Array leaves become tensors named by their path
  (``"model/h.0.attn.weight"``, ``"optimizer/state/3/exp_avg"``); the shape of the nesting and
  the JSON values go into the ``"__ember__"`` metadata entry, a JSON document of nodes::

      {"dict": [[key, node], ...]}      key a string or an int (JSON keeps the difference)
      {"ordered_dict": [[key, node], ...]}
      {"list": [node, ...]}   {"tuple": [node, ...]}
      {"tensor": name}   an ember Tensor        {"array": name}   a NumPy array
      {"scalar": name}   a NumPy scalar (stored as a 0-d tensor, so its dtype survives)
      {"value": v}       a JSON value (or a list of them); Python ints keep every digit

Writes are atomic: the file is written under a temporary name in the same folder, flushed and
fsync'ed, then renamed over the target, so a crash leaves either the old file or the new one.
"""
import contextlib
import json
import math
import os
import uuid
from collections import OrderedDict
from collections.abc import Mapping

import numpy as _np

from .backend import to_host, xp
from .tensor import Tensor

__all__ = ["CheckpointError", "save", "load", "save_file", "load_file", "read_metadata",
           "save_state_dict", "load_state_dict"]

#: The reference implementation refuses headers larger than this; so do we.
MAX_HEADER_SIZE = 100_000_000
_FORMAT_VERSION = 1
_EMBER_KEY = "__ember__"
_METADATA_KEY = "__metadata__"

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


def _read_array(f, path, name, dtype, shape, start):
    stored = _STORED[dtype]
    count = math.prod(shape)
    arr = _np.empty(count, dtype=stored)
    if count:
        f.seek(start)
        got = f.readinto(arr.view(_np.uint8))
        if got != arr.nbytes:
            raise _fail(path, f"file truncated while reading tensor {name!r} (it changed after "
                              "its header was checked?)")
    if dtype == "BOOL":
        arr = arr != 0
    elif dtype == "BF16":
        arr = (arr.astype(_np.uint32) << 16).view(_np.float32)
    else:
        arr = arr.astype(stored.newbyteorder("="), copy=False)
    return arr.reshape(shape)


def _read_arrays(f, path, entries, data_start):
    arrays = {}
    for name, dtype, shape, begin, _ in sorted(entries, key=lambda e: e[3]):
        arrays[name] = _read_array(f, path, name, dtype, shape, data_start + begin)
    return {e[0]: arrays[e[0]] for e in entries}


def _read(path, tensors=True):
    """(arrays in header order, metadata); ``tensors=False`` reads only the header."""
    with open(path, "rb") as f:
        entries, metadata, data_start = _read_header(f, path)
        arrays = _read_arrays(f, path, entries, data_start) if tensors else None
    return arrays, metadata


def load_file(path):
    """Read a safetensors file into ``{name: numpy array}`` (in header order; arrays are owned).

    ``BF16`` tensors are widened to float32 exactly; everything else keeps its dtype bit for bit.
    Raises :class:`CheckpointError` for anything that is not a valid safetensors file.
    """
    return _read(path)[0]


def read_metadata(path, raw=False):
    """The metadata of a safetensors file, reading only its header.

    For a file written by ``ember.save`` this is the ``metadata`` dict given to it (values decoded
    from JSON, the ``__ember__`` entry left out); for any other file, and with ``raw=True``, the
    ``__metadata__`` mapping of strings to strings as stored (``{}`` when there is none).
    """
    metadata = _read(path, tensors=False)[1]
    if raw or _EMBER_KEY not in metadata:
        return metadata
    spec = _parse_spec(path, metadata[_EMBER_KEY])
    return _user_metadata(path, metadata, spec)


# ================================================================================================
# Writing
# ================================================================================================
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
    """Write ``arr``'s elements as contiguous little-endian bytes (copying only when it must)."""
    if arr.size == 0:
        return
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _np.little_endian):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    arr = _np.ascontiguousarray(arr).reshape(-1)
    f.write(arr.view(_np.uint8))


def _fsync_directory(directory):
    if os.name != "posix":  # Windows cannot open a folder to fsync it
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path, write):
    """Call ``write(f)`` on a temporary file beside ``path``, then move it onto ``path``.

    On any exception (KeyboardInterrupt included) the temporary file is removed and whatever was at
    ``path`` before is left untouched.  A symlink at ``path`` is written through, not replaced.
    """
    path = os.fspath(path)
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(os.path.abspath(target))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{os.path.basename(target)}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # 0o666 & ~umask, like a file opened with open()
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


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
    header = {}
    if metadata:
        header[_METADATA_KEY] = dict(metadata)
    for i, (name, arr) in enumerate(named):
        header[name] = {"dtype": _CODE[arr.dtype.kind, arr.dtype.itemsize],
                        "shape": list(arr.shape), "data_offsets": list(offsets[i])}
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)
    if len(blob) > MAX_HEADER_SIZE:
        raise ValueError(f"safetensors header of {len(blob)} bytes exceeds the format's limit of "
                         f"{MAX_HEADER_SIZE} (too many tensors or too much metadata)")

    def write(f):
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for i in layout:
            _write_array(f, named[i][1])

    _atomic_write(path, write)


def _check_str_metadata(metadata, fn):
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"{fn}: metadata must be a dict of str to str, got {type(metadata).__name__}")
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


def save_file(tensors, path, metadata=None):
    """Write ``{name: Tensor or array}`` (and optional str->str ``metadata``) as a safetensors file.

    Any array layout is accepted (non-contiguous, big-endian); the file always holds contiguous
    little-endian data.  The write is atomic.
    """
    named = _check_named(tensors, "save_file")
    _write_safetensors(path, named, _check_str_metadata(metadata, "save_file"))


def save_state_dict(module_or_state_dict, path, metadata=None):
    """Save a module's ``state_dict()`` (or a state dict) as a flat safetensors file.

    The file holds exactly the dotted parameter/buffer names, so any safetensors reader can load
    it; ``metadata`` must map str to str.
    """
    sd = module_or_state_dict
    if not isinstance(sd, Mapping) and callable(getattr(sd, "state_dict", None)):
        sd = sd.state_dict()
    named = _check_named(sd, "save_state_dict")
    _write_safetensors(path, named, _check_str_metadata(metadata, "save_state_dict"))


def _to_tensor(arr):
    return Tensor._wrap(xp.asarray(arr))


def load_state_dict(path, as_numpy=False):
    """Read a safetensors file as a flat ``{name: Tensor}`` dict (NumPy arrays with ``as_numpy``),
    ready for ``module.load_state_dict``."""
    arrays = load_file(path)
    return arrays if as_numpy else {k: _to_tensor(a) for k, a in arrays.items()}


# ================================================================================================
# ember.save / ember.load: nested structures
# ================================================================================================
_JSON_SCALARS = (type(None), bool, int, float, str)


def _scalar_value(x):
    if x is None or isinstance(x, str):
        return None if x is None else str(x)
    if isinstance(x, bool):
        return bool(x)
    if isinstance(x, int):
        return int(x)
    return float(x)


def _escape(key):
    return key.replace("~", "~0").replace("/", "~1")


class _Encoder:
    def __init__(self):
        self.named = []                   # [(name, array)] in the order met
        self.taken = {_METADATA_KEY}
        self.by_id = {}                   # id(leaf) -> node, so a shared leaf is stored once
        self.keep = []                    # keeps leaves alive so their ids stay unique

    def leaf(self, kind, x, parts, where):
        if id(x) in self.by_id:
            return self.by_id[id(x)]
        arr = _host_array(x, f"ember.save: {where}")
        name = "/".join(parts) if parts else "tensor"
        if name in self.taken:
            i = 1
            while f"{name}#{i}" in self.taken:
                i += 1
            name = f"{name}#{i}"
        self.taken.add(name)
        self.named.append((name, arr))
        node = {kind: name}
        self.by_id[id(x)] = node
        self.keep.append(x)
        return node

    def encode(self, x, parts, active):
        where = "/".join(parts) or "<root>"
        if isinstance(x, Tensor):
            return self.leaf("tensor", x, parts, where)
        if isinstance(x, _np.ndarray):
            return self.leaf("array", x, parts, where)
        if isinstance(x, _np.generic):
            return self.leaf("scalar", x, parts, where)
        if isinstance(x, _JSON_SCALARS):
            return {"value": _scalar_value(x)}
        if isinstance(x, (Mapping, list, tuple)):
            if id(x) in active:
                raise ValueError(f"ember.save: the object at {where} contains itself")
            active.add(id(x))
            try:
                if isinstance(x, Mapping):
                    items = []
                    for k, v in x.items():
                        if isinstance(k, str):
                            key, part = str(k), _escape(k)
                        elif isinstance(k, int):  # bool included; JSON keeps true apart from 1
                            key = bool(k) if isinstance(k, bool) else int(k)
                            part = str(key)
                        else:
                            raise TypeError(f"ember.save: dict key {k!r} at {where} is a "
                                            f"{type(k).__name__}; keys must be str or int")
                        items.append([key, self.encode(v, parts + [part], active)])
                    return {"ordered_dict" if isinstance(x, OrderedDict) else "dict": items}
                if type(x) is list and all(type(v) in _JSON_SCALARS for v in x):
                    return {"value": list(x)}
                nodes = [self.encode(v, parts + [str(i)], active) for i, v in enumerate(x)]
                return {"list" if isinstance(x, list) else "tuple": nodes}
            finally:
                active.discard(id(x))
        raise TypeError(f"ember.save: cannot store {type(x).__name__} at {where}; leaves must be "
                        "Tensors, NumPy arrays or scalars, numbers, strings, booleans or None")


def save(obj, path, metadata=None):
    """Save ``obj`` to ``path`` as a safetensors file (atomically; never pickle).

    ``obj`` is a nesting of dicts (str or int keys), lists and tuples whose leaves are Tensors,
    NumPy arrays or scalars (stored as tensors, bit for bit) or JSON values: numbers (ints of any
    size), strings, booleans, None.  ``metadata`` is a dict of str to JSON-serialisable values;
    read it back with :func:`read_metadata`.  Example::

        ember.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 10,
                    "rng": ember.get_rng_state()}, "ckpt.safetensors")
    """
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"ember.save: metadata must be a dict, got {type(metadata).__name__}")
    stored, json_keys = {}, []
    for k, v in (metadata or {}).items():
        if not isinstance(k, str):
            raise TypeError(f"ember.save: metadata keys must be strings, got {k!r}")
        if k in (_EMBER_KEY,):
            raise ValueError(f"ember.save: metadata key {k!r} is reserved")
        if isinstance(v, str):
            stored[k] = v
        else:
            try:
                stored[k] = json.dumps(v)
            except (TypeError, ValueError) as e:
                raise TypeError(f"ember.save: metadata {k!r} is not JSON-serialisable: {e}") from None
            json_keys.append(k)
    enc = _Encoder()
    root = enc.encode(obj, [], set())
    spec = {"format": "ember", "version": _FORMAT_VERSION, "root": root}
    if json_keys:
        spec["json_metadata"] = json_keys
    stored[_EMBER_KEY] = json.dumps(spec, separators=(",", ":"))
    _write_safetensors(path, enc.named, stored)


class _Malformed(Exception):
    pass


def _parse_spec(path, text):
    try:
        spec = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise _fail(path, f"malformed __ember__ metadata: not valid JSON ({e})") from None
    if not isinstance(spec, dict) or "root" not in spec:
        raise _fail(path, "malformed __ember__ metadata: expected an object with a 'root' entry")
    version = spec.get("version")
    if not _is_count(version):
        raise _fail(path, f"malformed __ember__ metadata: bad version {version!r}")
    if version > _FORMAT_VERSION:
        raise _fail(path, f"checkpoint format version {version} is newer than this ember "
                          f"understands ({_FORMAT_VERSION}); upgrade ember")
    return spec


def _user_metadata(path, metadata, spec):
    json_keys = spec.get("json_metadata", [])
    if not isinstance(json_keys, list):
        raise _fail(path, "malformed __ember__ metadata: 'json_metadata' is not a list")
    out = {k: v for k, v in metadata.items() if k != _EMBER_KEY}
    for k in json_keys:
        if k in out:
            try:
                out[k] = json.loads(out[k])
            except ValueError:
                raise _fail(path, f"metadata {k!r} is marked as JSON but does not parse") from None
    return out


def _decode(node, get):
    if not (isinstance(node, dict) and len(node) == 1):
        raise _Malformed(f"expected a one-entry object, got {str(node)[:80]}")
    (kind, v), = node.items()
    if kind == "value":
        if isinstance(v, dict) or (isinstance(v, list) and any(isinstance(i, (dict, list)) for i in v)):
            raise _Malformed(f"bad value {str(v)[:80]}")
        return v
    if kind in ("tensor", "array", "scalar"):
        if not isinstance(v, str):
            raise _Malformed(f"bad tensor reference {v!r}")
        return get(kind, v)
    if kind in ("dict", "ordered_dict"):
        if not isinstance(v, list):
            raise _Malformed(f"{kind} entries must be a list")
        out = OrderedDict() if kind == "ordered_dict" else {}
        for item in v:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))):
                raise _Malformed(f"bad {kind} item {str(item)[:80]}")
            out[item[0]] = _decode(item[1], get)
        return out
    if kind in ("list", "tuple"):
        if not isinstance(v, list):
            raise _Malformed(f"{kind} entries must be a list")
        items = [_decode(i, get) for i in v]
        return items if kind == "list" else tuple(items)
    raise _Malformed(f"unknown node kind {kind!r}")


def load(path, as_numpy=None):
    """Load a file written by :func:`save` (or any safetensors file).

    The nesting, dict key types, lists vs tuples and JSON values come back as saved.  Array leaves
    come back as saved (Tensors as ember Tensors, NumPy arrays as NumPy arrays); ``as_numpy=True``
    gives NumPy arrays everywhere and ``as_numpy=False`` ember Tensors everywhere.  A leaf that was
    one object in several places is one object again.  A safetensors file not written by ember
    loads as a flat ``{name: Tensor}`` dict (NumPy arrays with ``as_numpy=True``).

    Tensors always load on the CPU, whatever device they were saved from (a GPU is not needed to
    read a checkpoint): move them with ``.to(device)``, or ``load_state_dict`` them into a model
    that is already on its device.
    """
    with open(path, "rb") as f:
        entries, metadata, data_start = _read_header(f, path)
        # A malformed structure is reported before any tensor data is read.
        spec = _parse_spec(path, metadata[_EMBER_KEY]) if _EMBER_KEY in metadata else None
        arrays = _read_arrays(f, path, entries, data_start)
    if spec is None:
        return arrays if as_numpy else {k: _to_tensor(a) for k, a in arrays.items()}

    cache = {}

    def get(kind, name):
        if name not in arrays:
            raise _Malformed(f"it refers to tensor {name!r}, which the file does not hold")
        if (kind, name) not in cache:
            arr = arrays[name]
            if kind == "scalar":
                value = arr[()] if arr.ndim == 0 else arr
            elif as_numpy or (as_numpy is None and kind == "array"):
                value = arr
            else:
                value = _to_tensor(arr)
            cache[kind, name] = value
        return cache[kind, name]

    try:
        return _decode(spec["root"], get)
    except _Malformed as e:
        raise _fail(path, f"malformed __ember__ metadata: {e}") from None
    except RecursionError:
        raise _fail(path, "malformed __ember__ metadata: nested too deeply") from None
