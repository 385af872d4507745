"""``tf.strings`` on NumPy string arrays: what text pipelines call before ``TextVectorization``.

ember tensors hold numbers only, so strings stay NumPy ``str`` arrays (or Python strings / lists,
or bytes, decoded as UTF-8); every function takes any of those and returns a NumPy ``str`` array
of the input's shape (a Python ``str`` for a single string), numbers as ember tensors.  The common
keras-io ``custom_standardization`` runs unchanged::

    lowercase = tf.strings.lower(input_data)
    stripped = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(stripped, f"[{re.escape(string.punctuation)}]", "")

Differences from TensorFlow: patterns are Python ``re`` patterns (TensorFlow uses RE2: the same
syntax for the usual classes, anchors and escapes; RE2's ``\\pL``-style classes need ``regex``);
``lower``/``upper`` change every Unicode letter (TensorFlow's default encoding='' changes ASCII
letters only; pass ``encoding='utf-8'`` there for the same result); ``split`` returns a Python
list of arrays (TensorFlow returns a RaggedTensor, which ember does not have).
"""
import re as _re

import numpy as _np

from ...tensor import Tensor

__all__ = ["lower", "upper", "regex_replace", "regex_full_match", "strip", "length", "join",
           "reduce_join", "split", "substr", "to_number", "as_string"]


def _strings(x, op):
    """(array of str, was_scalar)."""
    if isinstance(x, Tensor) or hasattr(x, "numpy"):
        x = x.numpy()
    arr = _np.asarray(x)
    if arr.dtype.kind == "S" or (arr.dtype.kind == "O" and any(isinstance(v, bytes) for v in arr.reshape(-1))):
        arr = _np.vectorize(lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v), otypes=[str])(arr) \
            if arr.size else arr.astype(str)
    elif arr.dtype.kind == "O":
        arr = arr.astype(str)
    elif arr.dtype.kind != "U":
        raise TypeError(f"tf.strings.{op}: expected strings (str, bytes, a list or a NumPy string array), "
                        f"got dtype {arr.dtype}")
    return arr, arr.ndim == 0


def _out(arr, scalar):
    return str(arr[()]) if scalar else arr


def lower(input, encoding="", name=None):  # noqa: A002
    """Lower-case every string."""
    arr, scalar = _strings(input, "lower")
    return _out(_np.char.lower(arr), scalar)


def upper(input, encoding="", name=None):  # noqa: A002
    """Upper-case every string."""
    arr, scalar = _strings(input, "upper")
    return _out(_np.char.upper(arr), scalar)


def regex_replace(input, pattern, rewrite, replace_global=True, name=None):  # noqa: A002
    """Replace matches of ``pattern`` by ``rewrite`` (every match, or the first with
    ``replace_global=False``); ``\\1`` in ``rewrite`` refers to a group, as in TensorFlow."""
    arr, scalar = _strings(input, "regex_replace")
    compiled = _re.compile(pattern)
    count = 0 if replace_global else 1
    out = _np.array([compiled.sub(rewrite, s, count=count) for s in arr.reshape(-1)], dtype=str)
    return _out(out.reshape(arr.shape) if arr.size else arr, scalar)


def regex_full_match(input, pattern, name=None):  # noqa: A002
    """Whether each whole string matches ``pattern``: an ember bool tensor."""
    arr, _ = _strings(input, "regex_full_match")
    compiled = _re.compile(pattern)
    hits = _np.array([compiled.fullmatch(s) is not None for s in arr.reshape(-1)], dtype=bool)
    return Tensor.wrap(hits.reshape(arr.shape))


def strip(input, name=None):  # noqa: A002
    """Leading and trailing whitespace removed."""
    arr, scalar = _strings(input, "strip")
    return _out(_np.char.strip(arr), scalar)


def length(input, unit="BYTE", name=None):  # noqa: A002
    """The length of each string: UTF-8 bytes (``unit='BYTE'``, TensorFlow's default) or
    characters (``unit='UTF8_CHAR'``); an ember int32 tensor."""
    arr, _ = _strings(input, "length")
    if unit not in ("BYTE", "UTF8_CHAR"):
        raise ValueError(f"tf.strings.length: unit must be 'BYTE' or 'UTF8_CHAR', got {unit!r}")
    count = (lambda s: len(s.encode("utf-8"))) if unit == "BYTE" else len
    lengths = _np.array([count(s) for s in arr.reshape(-1)], dtype=_np.int32).reshape(arr.shape)
    return Tensor.wrap(lengths)


def join(inputs, separator="", name=None):
    """Element-wise concatenation of several string arrays (broadcast), with ``separator``."""
    arrays = [_strings(x, "join")[0] for x in inputs]
    out = arrays[0]
    for a in arrays[1:]:
        out = _np.char.add(_np.char.add(out, separator), a)
    return _out(out, out.ndim == 0)


def reduce_join(inputs, axis=None, keepdims=False, separator="", name=None):
    """Join the strings along ``axis`` (all of them with None)."""
    arr, _ = _strings(inputs, "reduce_join")
    if axis is None:
        joined = separator.join(arr.reshape(-1).tolist())
        return _np.array(joined).reshape((1,) * arr.ndim) if keepdims else joined
    moved = _np.moveaxis(arr, axis, -1)
    out = _np.array([separator.join(row) for row in moved.reshape(-1, moved.shape[-1]).tolist()],
                    dtype=str).reshape(moved.shape[:-1])
    return _np.expand_dims(out, axis) if keepdims else _out(out, out.ndim == 0)


def split(input, sep=None, maxsplit=-1, name=None):  # noqa: A002
    """Split each string on ``sep`` (whitespace runs with None): one string gives an array of
    its pieces; an array gives a Python list of such arrays (TensorFlow: a RaggedTensor)."""
    arr, scalar = _strings(input, "split")
    pieces = [_np.array(s.split(sep, maxsplit), dtype=str) for s in arr.reshape(-1)]
    return pieces[0] if scalar else pieces


def substr(input, pos, len, unit="BYTE", name=None):  # noqa: A002
    """``len`` characters from ``pos`` of each string (negative ``pos`` counts from the end)."""
    arr, scalar = _strings(input, "substr")
    if unit == "BYTE":
        out = [s.encode("utf-8")[pos:pos + len if pos >= 0 or pos + len < 0 else None]
               .decode("utf-8", "ignore") for s in arr.reshape(-1)]
    else:
        out = [s[pos:pos + len if pos >= 0 or pos + len < 0 else None] for s in arr.reshape(-1)]
    return _out(_np.array(out, dtype=str).reshape(arr.shape), scalar)


def to_number(string_tensor, out_type="float32", name=None):
    """Parse each string as a number: an ember tensor of ``out_type`` (float32 by default)."""
    arr, _ = _strings(string_tensor, "to_number")
    dtype = _np.dtype(getattr(out_type, "name", out_type))
    try:
        values = _np.array([float(s) if dtype.kind == "f" else int(s) for s in arr.reshape(-1)], dtype=dtype)
    except ValueError as e:
        raise ValueError(f"tf.strings.to_number: {e}") from None
    return Tensor.wrap(values.reshape(arr.shape))


def as_string(input, precision=-1, name=None):  # noqa: A002
    """Numbers as strings (``precision`` digits after the point for floats when >= 0)."""
    values = input.numpy() if hasattr(input, "numpy") else _np.asarray(input)
    if values.dtype.kind == "f" and precision >= 0:
        fmt = f"{{:.{precision}f}}"
        out = _np.array([fmt.format(v) for v in values.reshape(-1)], dtype=str).reshape(values.shape)
    elif values.dtype.kind == "f":
        out = _np.array([f"{v:f}" for v in values.reshape(-1)], dtype=str).reshape(values.shape)
    else:
        out = values.astype(str)
    return _out(out, out.ndim == 0)
