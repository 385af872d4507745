"""Helpers every op shares: argument conversion, scalar promotion, un-broadcasting, axis handling."""
import numbers

import numpy as _np

from .. import dtypes as _dt
from ..backend import array_backends as _backends
from ..backend import xp
from ..tensor import Tensor, make, to_array  # noqa: F401  (make: for the ops)

wrap = Tensor.wrap

# True once a second array backend (CuPy) is loaded: only then do ops look at devices, so the
# CPU-only hot path pays one global test per binary op (see docs/gpu.md).
_multi = False


def _set_single(single):
    global _multi
    _multi = not single


_backends.on_backends_changed(_set_single)


def check_devices(op, *tensors):
    """Raise ``DeviceMismatchError`` naming both devices unless ``tensors`` (Tensors or None) all
    live on one device.  Free while NumPy is the only backend; multi-input ops call it first."""
    if _multi:
        _backends.check_same_device(op, *(None if t is None else t.data for t in tensors))


def as_tensor(x, op="op", name="input"):
    """Return ``x`` as a Tensor: Tensors pass through; arrays and numbers are converted (no grad)."""
    if isinstance(x, Tensor):
        return x
    try:
        return wrap(to_array(x, None))
    except TypeError as e:
        raise TypeError(f"ember.{op}: argument {name!r} {e}") from None


def operands(a, b, op):
    """Two Tensors from (Tensor|number|array, Tensor|number|array), with ember's scalar promotion."""
    a_t = isinstance(a, Tensor)
    b_t = isinstance(b, Tensor)
    if a_t and b_t:
        if _multi:
            _backends.check_same_device(op, a.data, b.data, names=("the first operand", "the second"))
        da, db = a.data.dtype, b.data.dtype
        if da is db or da.kind == db.kind or (da.kind != "f" and db.kind != "f"):
            return a, b
        # integer/bool with float: the float dtype wins (NumPy would widen int64+float32 to float64)
        if da.kind == "f":
            return a, wrap(b.data.astype(da))
        return wrap(a.data.astype(db)), b
    if a_t and isinstance(b, numbers.Number):
        d = _dt.scalar_dtype(a.data.dtype, b)
        return (a if d is a.data.dtype else wrap(a.data.astype(d))), _scalar(b, d, a)
    if b_t and isinstance(a, numbers.Number):
        d = _dt.scalar_dtype(b.data.dtype, a)
        return _scalar(a, d, b), (b if d is b.data.dtype else wrap(b.data.astype(d)))
    return operands(as_tensor(a, op, "a"), as_tensor(b, op, "b"), op)


def _scalar(value, dtype, like):
    """A 0-d tensor holding Python number ``value`` on ``like``'s device.  On a GPU it is filled by
    a kernel (``full``), not copied from the host."""
    if _multi:
        return wrap(_backends.get_array_module(like.data).full((), value, dtype=dtype))
    return wrap(xp.asarray(value, dtype=dtype))


def broadcast_error(op, *tensors):
    shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
    return ValueError(f"ember.{op}: shapes {shapes} cannot be broadcast together "
                      "(NumPy rules: trailing dimensions must be equal or 1)")


def broadcasts_to(shape, target):
    """Whether an array of ``shape`` broadcasts to ``target`` (NumPy rules) without growing it."""
    try:
        return xp.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
    except ValueError:
        return False


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the backward of NumPy broadcasting."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


class AxisError(_np.exceptions.AxisError):
    """An axis (dimension) or index out of range: ``ember.AxisError``.

    It derives from NumPy's ``AxisError``, hence from both ``IndexError`` (what PyTorch raises)
    and ``ValueError`` (what NumPy raises for axes), so either ``except`` clause catches it."""

    def __init__(self, message):
        super().__init__(message)

    def __reduce__(self):
        return type(self), (str(self),)


def check_axis(axis, ndim, op="op", name="axis"):
    """One axis (negatives allowed) as a non-negative int; AxisError when out of range."""
    a, n = int(axis), max(ndim, 1)   # a 0-d tensor accepts 0 and -1, as PyTorch
    if not -n <= a < n:
        raise AxisError(f"ember.{op}: {name} {a} is out of range for a tensor with {ndim} "
                        f"dimensions (valid: {-n} to {n - 1})")
    return a % n


def normalize_axis(axis, ndim, op="op"):
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        axes = axis
    else:
        axes = (axis,)
    out = []
    for a in axes:
        a = int(a)
        # a 0-d tensor accepts axis 0 or -1 (as PyTorch), meaning "no axis"
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise AxisError(f"ember.{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        if ndim:
            out.append(a % ndim)
    return tuple(sorted(set(out)))


def expand_reduced(g, shape, axes, keepdims):
    """Reshape a reduced gradient so that it broadcasts against the input of the reduction."""
    if keepdims or not axes:
        return g
    kept = list(shape)
    for a in axes:
        kept[a] = 1
    return g.reshape(kept)


def require_float(x, op):
    if x.data.dtype.kind != "f":
        raise TypeError(f"ember.{op}: expected a floating-point tensor, got dtype {x.data.dtype}")
