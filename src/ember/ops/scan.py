"""Scans: running sums, products, extremes and log-sum-exps along one axis (PyTorch semantics).

Every op takes the axis as ``axis`` (NumPy) or ``dim`` (PyTorch).  ``cumsum``/``cumprod`` with no
axis scan the flattened tensor, as NumPy does.  ``cummax``/``cummin`` return a ``(values, indices)``
pair; the index is that of the latest element equal to the running extreme (PyTorch's rule), and a
NaN, once seen, is the running extreme from then on.
"""
from collections import namedtuple

from ..backend import xp
from ..tensor import Tensor
from ._base import as_tensor, make
from .indexing import one_axis, pick_axis, scatter_add_array

__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]

CumResult = namedtuple("CumResult", ["values", "indices"])


def _flat_or_axis(x, axis, dim, op):
    """(tensor, axis): the flattened tensor and axis 0 when no axis is given (NumPy), else ``x``."""
    a = pick_axis(axis, dim, op)
    if a is None:
        from .shape import reshape
        return reshape(x, -1), 0
    return x, one_axis(x, a, op)


def _nd(a):
    """View a 0-d array as 1-d (scans of a 0-d tensor act on its single element)."""
    return a.reshape(1) if a.ndim == 0 else a


def revcumsum(a, ax):
    """Sum of the elements at and after each position along ``ax`` (the backward of cumsum)."""
    return xp.flip(xp.cumsum(xp.flip(a, ax), axis=ax), ax)


def cumsum(x, axis=None, dtype=None, *, dim=None):
    """Running sum along ``axis`` (the flattened tensor when None).  Integers and bools give int64
    (as PyTorch); ``dtype`` casts first."""
    x = as_tensor(x, "cumsum")
    x, a = _flat_or_axis(x, axis, dim, "cumsum")
    xd = x.data if dtype is None else x.data.astype(dtype)
    if dtype is None and xd.dtype.kind in "biu":
        xd = xd.astype(xp.int64)
    shape = x.shape
    with xp.errstate(invalid="ignore", over="ignore"):      # inf + -inf is nan, as in PyTorch
        out = xp.cumsum(_nd(xd), axis=a).reshape(shape)
    in_dtype = x.data.dtype
    return make(out, (x,), lambda g: (revcumsum(_nd(g), a).reshape(shape).astype(in_dtype, copy=False),))


def cumprod(x, axis=None, dtype=None, *, dim=None):
    """Running product along ``axis``.  The gradient is exact where the input holds zeros (it does
    not divide by them), as PyTorch's."""
    x = as_tensor(x, "cumprod")
    x, a = _flat_or_axis(x, axis, dim, "cumprod")
    xd = x.data if dtype is None else x.data.astype(dtype)
    if dtype is None and xd.dtype.kind in "biu":
        xd = xd.astype(xp.int64)
    shape = x.shape
    xd = _nd(xd)
    with xp.errstate(invalid="ignore", over="ignore"):      # 0 * inf is nan, as in PyTorch
        out = xp.cumprod(xd, axis=a)

    def backward(g):
        g = _nd(g)
        zero = xd == 0
        nzeros = xp.cumsum(zero, axis=a)
        before = nzeros == 0                 # no zero at or before this position
        first = zero & (nzeros == 1)         # the first zero along the axis
        with xp.errstate(divide="ignore", invalid="ignore"):
            # terms from the first zero on are 0 (dropped, as PyTorch: no 0 * inf = nan from them)
            grad = xp.where(before, revcumsum(xp.where(before, g * out, 0), a) / xp.where(before, xd, 1), 0)
        if first.any():
            # at the first zero z: d out[j] / d x[z] = prod(x[k], k <= j, k != z) for j >= z, and
            # 0 from the second zero on
            others = xp.cumprod(xp.where(first, 1, xd), axis=a)
            grad = xp.where(first, revcumsum(xp.where(nzeros == 1, g * others, 0), a), grad)
        return (grad.reshape(shape).astype(x.data.dtype, copy=False),)
    return make(out.reshape(shape), (x,), backward)


def _cum_extreme(x, axis, dim, op, accumulate):
    x = as_tensor(x, op)
    a = one_axis(x, pick_axis(axis, dim, op, required=True), op)
    xd = _nd(x.data)
    shape = x.shape
    vals = accumulate(xd, axis=a)
    n = xd.shape[a]
    pos = xp.arange(n).reshape((n,) + (1,) * (xd.ndim - a - 1))
    mark = (xd == vals)
    if xd.dtype.kind == "f":
        mark |= xp.isnan(xd)
    idx = xp.maximum.accumulate(xp.where(mark, pos, 0), axis=a).astype(xp.int64)

    def backward(g):
        zeros = xp.zeros(xd.shape, dtype=g.dtype)
        return (scatter_add_array(zeros, a, idx, _nd(g)).reshape(shape),)
    return CumResult(make(vals.reshape(shape), (x,), backward), make(idx.reshape(shape), (), None))


def cummax(x, axis=None, *, dim=None):
    """``(values, indices)``: the running maximum along ``axis`` and where it was attained (the
    latest position on ties; NaN propagates).  The gradient flows to those positions."""
    return _cum_extreme(x, axis, dim, "cummax", xp.maximum.accumulate)


def cummin(x, axis=None, *, dim=None):
    """``(values, indices)``: the running minimum along ``axis`` (see ``cummax``)."""
    return _cum_extreme(x, axis, dim, "cummin", xp.minimum.accumulate)


def logcumsumexp(x, axis=None, *, dim=None):
    """log(cumsum(exp(x))) along ``axis``, computed stably (a running ``logaddexp``)."""
    x = as_tensor(x, "logcumsumexp")
    if x.data.dtype.kind != "f":
        raise TypeError(f"ember.logcumsumexp: expected a floating-point tensor, got dtype "
                        f"{x.data.dtype} (cast with x.float() first)")
    a = one_axis(x, pick_axis(axis, dim, "logcumsumexp", required=True), "logcumsumexp")
    xd = _nd(x.data)
    shape = x.shape
    out = xp.logaddexp.accumulate(xd, axis=a)

    def backward(g):
        g = _nd(g)
        # grad x[i] = sum_{j >= i} g[j] exp(x[i] - out[j]), summed in log space for each sign of g
        # (PyTorch's formula, also its nan / inf results: the lowest float, not -inf, for g == 0)
        with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            grad = xp.zeros(xd.shape, dtype=g.dtype)
            for sign in (1, -1):
                part = xp.where(sign * g > 0, xp.log(xp.abs(g)), xp.finfo(g.dtype).min) - out
                tail = xp.flip(xp.logaddexp.accumulate(xp.flip(part, a), axis=a), a)
                grad = grad + sign * xp.exp(xd + tail)
        return (grad.reshape(shape).astype(xd.dtype, copy=False),)
    return make(out.reshape(shape), (x,), backward)


def _bind_tensor_methods():
    for name in __all__:
        setattr(Tensor, name, globals()[name])


_bind_tensor_methods()
