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

Integrity.  Every file ember writes records a CRC-32 of each tensor's bytes in the metadata entry
``"ember.checksums"`` (``{"algorithm": "crc32", "tensors": {name: "8 hex digits"}}``), and
every load checks them: a tensor whose bytes changed (a flipped bit on disk or in transfer, an
edit by another tool) raises :class:`CheckpointError` naming the file and the tensor.  CRC-32
detects every single-bit error and every burst of up to 32 bits, every 2-bit error in a tensor of
up to 512 MB, and misses other damage with probability 2^-32; zlib computes it at 1-2 GB/s per
core, on several cores for large files (``crc``): checking a 100 MB file costs 70-85 ms on a
2-core VM, where reading it from the page cache takes ~30 ms (benchmarks/RESULTS.md).  Files
without the entry (written by the ``safetensors`` package or an older ember) load unchecked and
silently.  ``verify=False`` skips the check, to recover what is left of a damaged file.  The
header itself (names, shapes, metadata) is not covered: its structure is validated instead.
Every file ember writes also records :func:`ember.backend.info` (the array module and BLAS
kernels that computed it) as JSON under ``"ember.backend"``.  Both keys are ember's own: values
a caller passes for them in ``metadata`` are replaced by the writer's (so metadata read from one
file can be given to the next save); :func:`read_metadata` shows ``"ember.backend"`` (decoded
to a dict) and leaves ``"ember.checksums"`` out unless ``raw=True``.

Writes are atomic: the file is written under a temporary name in the same folder, flushed and
fsync'ed, then renamed over the target, so a crash leaves either the old file or the new one.
A writer killed mid-save (``kill -9``, power loss) leaves its temporary file behind; the next save
to the same target removes it when it can prove that its writer is dead (see
:func:`atomic_write` for the rule).  ``atomic_write(path, write)`` is public (also
``ember.io.atomic_write``) for any other file: tokenizers, IDX files, training samples and
plots are written with it too.

The package: ``reader`` (header validation, reading, checksum verification), ``writer`` (bytes,
checksums, metadata), ``crc`` (CRC-32 on several cores), ``atomic`` (atomic writes, leftovers);
the public functions and the nested format of ``ember.save`` live here.
"""
import contextlib
import json
from collections import OrderedDict
from collections.abc import Mapping

import numpy as _np

from ..backend import xp
from ..tensor import Tensor
from .atomic import atomic_write
from .atomic import _atomic_write  # noqa: F401  (the former name, kept for outside callers)
from .reader import (_BACKEND_KEY, _CHECKSUM_KEY, _EMBER_KEY, _FORMAT_VERSION,  # noqa: F401
                     _METADATA_KEY, _OWN_KEYS,
                     MAX_HEADER_SIZE, CheckpointError, _fail, _is_count, _parse_checksums, _read,
                     _read_arrays, _read_header)
from .writer import _check_named, _check_str_metadata, _host_array, _write_safetensors

__all__ = ["CheckpointError", "save", "load", "save_file", "load_file", "read_metadata",
           "save_state_dict", "load_state_dict", "atomic_write"]

CheckpointError.__module__ = __name__       # ember.serialization.CheckpointError, where it is used


def load_file(path, verify=True):
    """Read a safetensors file into ``{name: numpy array}`` (in header order; arrays are owned).

    ``BF16`` tensors are widened to float32 exactly; everything else keeps its dtype bit for bit.
    Raises :class:`CheckpointError` for anything that is not a valid safetensors file, and (unless
    ``verify=False``) for a tensor whose bytes do not match the checksum ember recorded.
    """
    return _read(path, verify=verify)[0]


def read_metadata(path, raw=False):
    """The metadata of a safetensors file, reading only its header.

    For a file written by ``ember.save`` this is the ``metadata`` dict given to it (values decoded
    from JSON, the ``__ember__`` entry left out); for any other file the ``__metadata__`` mapping
    of strings to strings as stored (``{}`` when there is none).  In both, ``"ember.backend"``
    (what computed the file: :func:`ember.backend.info` of its writer) is decoded to a dict and
    ``"ember.checksums"`` is left out.  ``raw=True`` gives the ``__metadata__`` mapping exactly as
    stored.
    """
    metadata = _read(path, tensors=False)[1]
    if raw:
        return metadata
    if _EMBER_KEY not in metadata:
        return _decode_own_keys({k: v for k, v in metadata.items() if k != _CHECKSUM_KEY})
    spec = _parse_spec(path, metadata[_EMBER_KEY])
    return _user_metadata(path, metadata, spec)


def _decode_own_keys(out):
    """``out`` with ``"ember.backend"`` decoded from JSON (left as stored when it does not parse:
    a description is never worth refusing a file over)."""
    text = out.get(_BACKEND_KEY)
    if isinstance(text, str):
        with contextlib.suppress(ValueError, RecursionError):
            out[_BACKEND_KEY] = json.loads(text)
    return out


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
    return Tensor.wrap(xp.asarray(arr))


def load_state_dict(path, as_numpy=False, verify=True):
    """Read a safetensors file as a flat ``{name: Tensor}`` dict (NumPy arrays with ``as_numpy``),
    ready for ``module.load_state_dict``.  ``verify``: see :func:`load_file`."""
    arrays = load_file(path, verify=verify)
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
        if k in _OWN_KEYS:
            continue        # ember writes its own (e.g. metadata read from an older file)
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
    out = {k: v for k, v in metadata.items() if k not in (_EMBER_KEY, _CHECKSUM_KEY)}
    for k in json_keys:
        if k in out and k not in _OWN_KEYS:
            try:
                out[k] = json.loads(out[k])
            except ValueError:
                raise _fail(path, f"metadata {k!r} is marked as JSON but does not parse") from None
    return _decode_own_keys(out)


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


def load(path, as_numpy=None, verify=True):
    """Load a file written by :func:`save` (or any safetensors file).

    The nesting, dict key types, lists vs tuples and JSON values come back as saved.  Array leaves
    come back as saved (Tensors as ember Tensors, NumPy arrays as NumPy arrays); ``as_numpy=True``
    gives NumPy arrays everywhere and ``as_numpy=False`` ember Tensors everywhere.  A leaf that was
    one object in several places is one object again.  A safetensors file not written by ember
    loads as a flat ``{name: Tensor}`` dict (NumPy arrays with ``as_numpy=True``).

    Tensors always load on the CPU, whatever device they were saved from (a GPU is not needed to
    read a checkpoint): move them with ``.to(device)``, or ``load_state_dict`` them into a model
    that is already on its device.

    Every tensor's bytes are checked against the CRC-32 that ember recorded when it wrote the
    file (files from other writers have none and load unchecked); a mismatch raises
    :class:`CheckpointError` naming the tensor.  ``verify=False`` skips the check (to recover
    what is left of a damaged file).
    """
    with open(path, "rb") as f:
        entries, metadata, data_start = _read_header(f, path)
        # A malformed structure is reported before any tensor data is read.
        spec = _parse_spec(path, metadata[_EMBER_KEY]) if _EMBER_KEY in metadata else None
        checksums = _parse_checksums(path, metadata, entries) if verify else None
        arrays = _read_arrays(f, path, entries, data_start, checksums)
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
