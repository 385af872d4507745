"""Sorting and order statistics along one axis, with PyTorch's semantics.

``sort``, ``topk``, ``kthvalue``, ``median`` (with an axis) and ``mode`` return a ``(values,
indices)`` pair (named fields, as PyTorch's return types); ``argsort`` the indices only; ``unique``
its sorted values (plus inverse and counts on request).  ``sort`` is always stable, ascending or
descending; NaN sorts after every number (first when descending), as in PyTorch.  ``median`` is the
lower median; a NaN along the axis makes it NaN (at the first NaN's index).  The gradient of the
values flows back to the selected positions.  Axes are ``axis=`` (NumPy) or ``dim=`` (PyTorch).
"""
from collections import namedtuple

from ..backend import xp
from ..tensor import Tensor
from ._base import as_tensor, make
from .indexing import one_axis, pick_axis

__all__ = ["sort", "argsort", "topk", "kthvalue", "median", "mode", "unique"]

SortResult = namedtuple("SortResult", ["values", "indices"])


def _setup(x, axis, dim, op, default=-1):
    x = as_tensor(x, op)
    a = one_axis(x, pick_axis(axis, dim, op, default=default), op)
    return x, a, (x.data if x.ndim else x.data.reshape(1))


def _stable_argsort(xd, a, descending):
    """Stable argsort along ``a``; descending keeps equal elements in their original order."""
    if not descending:
        return xp.argsort(xd, axis=a, kind="stable")
    n = xd.shape[a]
    return (n - 1) - xp.flip(xp.argsort(xp.flip(xd, a), axis=a, kind="stable"), a)


def _sorted(xd, a, descending):
    """``(indices, values)`` of a stable sort along ``a``.  Floats first use NumPy's (SIMD)
    quicksort: in a row without ties or NaNs every order is the stable one, and descending is
    ascending reversed.  Only the rows that have ties or NaNs are sorted again, stably."""
    n = xd.shape[a]
    if xd.dtype.kind != "f" or n < 2 or xd.size == 0:
        idx = _stable_argsort(xd, a, descending)
        return idx, xp.take_along_axis(xd, idx, axis=a)
    m = xp.moveaxis(xd, a, -1)
    rows_shape = m.shape
    m = m.reshape(-1, n)
    idx = xp.argsort(m, axis=-1)
    vals = xp.take_along_axis(m, idx, axis=-1)
    redo = (vals[:, 1:] == vals[:, :-1]).any(axis=1) | xp.isnan(vals[:, -1])   # NaN sorts last
    if descending:
        idx, vals = idx[:, ::-1], vals[:, ::-1]
    if redo.any():
        rows = xp.nonzero(redo)[0]
        sub = _stable_argsort(m[rows], 1, descending)
        idx, vals = xp.array(idx), xp.array(vals)
        idx[rows] = sub
        vals[rows] = xp.take_along_axis(m[rows], sub, axis=1)
    idx = xp.moveaxis(idx.reshape(rows_shape), -1, a)
    vals = xp.moveaxis(vals.reshape(rows_shape), -1, a)
    return idx, vals


def _placed(shape, a, idx, g):
    """Zeros of ``shape`` with ``g`` written at ``idx`` along ``a`` (distinct indices)."""
    full = xp.zeros(shape, dtype=g.dtype)
    xp.put_along_axis(full, idx, g, axis=a)
    return full


def _selected(x, xd, a, idx, vals, keepdim=True):
    """The ``(values, indices)`` pair of a selection ``idx`` along ``a`` (``vals`` = the values
    there), with the gradient placed back at ``idx``."""
    shape, full = x.shape, xd.shape
    out_shape = vals.shape

    def backward(g):
        return (_placed(full, a, idx, g.reshape(out_shape)).reshape(shape),)
    v, i = vals, idx
    if not keepdim:
        v, i = v.squeeze(a), i.squeeze(a)
    if not x.ndim:
        v, i = v.reshape(()), i.reshape(())
    return SortResult(make(v, (x,), backward), make(i.astype(xp.int64), (), None))


def sort(x, axis=None, descending=False, *, stable=True, dim=None):
    """``(values, indices)`` sorted along ``axis`` (default -1).  Always stable: equal elements
    keep their order (``stable`` is accepted for PyTorch's signature)."""
    x, a, xd = _setup(x, axis, dim, "sort")
    idx, vals = _sorted(xd, a, descending)
    return _selected(x, xd, a, idx, vals)


def argsort(x, axis=None, descending=False, *, stable=True, dim=None):
    """The indices that sort ``x`` along ``axis`` (default -1), stably.  Not differentiable."""
    x, a, xd = _setup(x, axis, dim, "argsort")
    idx = _sorted(xd, a, descending)[0].astype(xp.int64)
    return make(idx if x.ndim else idx.reshape(()), (), None)


def _check_k(k, n, op, a, low):
    if isinstance(k, bool) or not hasattr(k, "__index__"):
        raise TypeError(f"ember.{op}: k must be an int, got {k!r}")
    k = int(k)
    if not low <= k <= n:
        raise ValueError(f"ember.{op}: k={k} is out of range for axis {a} of size {n} "
                         f"(need {low} <= k <= {n})")
    return k


def topk(x, k, axis=None, largest=True, sorted=True, *, dim=None):
    """``(values, indices)`` of the ``k`` largest (or smallest) entries along ``axis`` (default -1),
    in sorted order (``sorted=False`` is accepted and also sorts).  NaN counts as the largest."""
    x, a, xd = _setup(x, axis, dim, "topk")
    n = xd.shape[a]
    k = _check_k(k, n, "topk", a, 0)
    if k == 0 or k == n:
        idx = _stable_argsort(xd, a, largest)
        idx = xp.take(idx, xp.arange(k), axis=a)
    else:
        part = xp.argpartition(xd, n - k if largest else k - 1, axis=a)
        part = xp.take(part, xp.arange(n - k, n) if largest else xp.arange(k), axis=a)
        cand = xp.take_along_axis(xd, part, axis=a)
        idx = xp.take_along_axis(part, _stable_argsort(cand, a, largest), axis=a)
    return _selected(x, xd, a, idx, xp.take_along_axis(xd, idx, axis=a))


def _nan_first(xd, a, idx):
    """Replace the selection by the first NaN's index where the axis holds a NaN."""
    if xd.dtype.kind != "f":
        return idx
    nan = xp.isnan(xd)
    has = nan.any(axis=a, keepdims=True)
    if not has.any():
        return idx
    return xp.where(has, xp.argmax(nan, axis=a, keepdims=True), idx)


def _kth(xd, a, k):
    """Index (keepdims) of the k-th smallest entry (0-based) along ``a``."""
    part = xp.argpartition(xd, k, axis=a)
    return xp.take(part, [k], axis=a)


def kthvalue(x, k, axis=None, keepdim=False, *, keepdims=None, dim=None):
    """``(values, indices)`` of the ``k``-th smallest entry (1-based) along ``axis`` (default -1)."""
    keepdim = keepdim if keepdims is None else keepdims
    x, a, xd = _setup(x, axis, dim, "kthvalue")
    k = _check_k(k, xd.shape[a], "kthvalue", a, 1)
    idx = _kth(xd, a, k - 1)
    return _selected(x, xd, a, idx, xp.take_along_axis(xd, idx, axis=a), keepdim)


def median(x, axis=None, keepdim=False, *, keepdims=None, dim=None):
    """The lower median (PyTorch's): with no axis, the value over all entries (a 0-d tensor);
    with an axis, ``(values, indices)``.  A NaN makes the median NaN."""
    keepdim = keepdim if keepdims is None else keepdims
    x = as_tensor(x, "median")
    a = pick_axis(axis, dim, "median")
    if a is None:
        from .shape import reshape
        if x.size == 0:
            raise ValueError(f"ember.median: zero-size tensor of shape {x.shape} has no median")
        return median(reshape(x, -1), 0).values
    x, a, xd = _setup(x, a, None, "median")
    n = xd.shape[a]
    if n == 0:
        raise ValueError(f"ember.median: axis {a} of shape {x.shape} is empty; it has no median")
    idx = _nan_first(xd, a, _kth(xd, a, (n - 1) // 2))
    return _selected(x, xd, a, idx, xp.take_along_axis(xd, idx, axis=a), keepdim)


def mode(x, axis=None, keepdim=False, *, keepdims=None, dim=None):
    """``(values, indices)``: the most frequent value along ``axis`` (default -1; the smallest of
    equally frequent ones) and the last index where it occurs, as PyTorch."""
    keepdim = keepdim if keepdims is None else keepdims
    x, a, xd = _setup(x, axis, dim, "mode")
    n = xd.shape[a]
    if n == 0:
        raise ValueError(f"ember.mode: axis {a} of shape {x.shape} is empty; it has no mode")
    s = xp.sort(xd, axis=a)
    pos = xp.arange(n).reshape((n,) + (1,) * (xd.ndim - a - 1))
    start = xp.ones(s.shape, dtype=bool)
    tail = [slice(None)] * s.ndim
    head = list(tail)
    tail[a], head[a] = slice(1, None), slice(None, -1)
    xp.not_equal(s[tuple(tail)], s[tuple(head)], out=start[tuple(tail)])
    run_start = xp.maximum.accumulate(xp.where(start, pos, 0), axis=a)
    # the first position where a run's length reaches the maximum belongs to the smallest value
    best = xp.argmax(pos - run_start, axis=a, keepdims=True)
    vals = xp.take_along_axis(s, best, axis=a)
    idx = xp.argmax(xp.where(xd == vals, pos, -1), axis=a, keepdims=True)
    return _selected(x, xd, a, idx, vals, keepdim)


def unique(x, sorted=True, return_inverse=False, return_counts=False, axis=None, *, dim=None):
    """The distinct values, sorted (``sorted=False`` is accepted and also sorts); with
    ``return_inverse`` also where each entry of ``x`` went (shaped like ``x``), with
    ``return_counts`` how often each occurs.  With an axis, the distinct slices along it.  NaNs
    are all distinct, as in PyTorch.  Not differentiable."""
    x = as_tensor(x, "unique")
    a = pick_axis(axis, dim, "unique")
    xd = x.data
    kw = {"return_inverse": True, "return_counts": True}
    if a is None:
        vals, inv, counts = xp.unique(xd.reshape(-1), equal_nan=False, **kw)
        inv = inv.reshape(x.shape)
    else:
        a = one_axis(x, a, "unique")
        vals, inv, counts = xp.unique(xd, axis=a, equal_nan=False, **kw)
        inv = inv.reshape(-1)
    out = [make(vals, (), None)]
    if return_inverse:
        out.append(make(inv.astype(xp.int64), (), None))
    if return_counts:
        out.append(make(counts.astype(xp.int64), (), None))
    return out[0] if len(out) == 1 else tuple(out)


def _bind_tensor_methods():
    for name in __all__:
        setattr(Tensor, name, globals()[name])


_bind_tensor_methods()
