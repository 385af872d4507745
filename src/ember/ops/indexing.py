"""Indexing and scatter ops with PyTorch's semantics and gradients.

``gather``/``scatter*``/``take_along_dim`` index along one axis with an index tensor of the same
number of dimensions; ``index_*`` ops take a 1-d index into one axis; ``masked_*`` ops take a
boolean mask broadcastable to the input; ``put`` and ``nonzero`` treat the tensor as flat.  Axes
are ``axis=`` (NumPy) or ``dim=`` (PyTorch).  Where indices repeat, ``scatter``/``index_copy``/
``put`` keep the last write (PyTorch leaves it unspecified); the ``add`` variants accumulate.

Gradients follow PyTorch: the entries of the base that an op overwrites get no gradient, gathered
positions receive the sum of their gradients, and ``scatter_reduce``'s amax/amin split the gradient
equally among all the elements (base and source) that tie for the result.
"""
import numbers

from ..backend import xp
from ..tensor import Tensor
from ._base import AxisError, as_tensor, make, normalize_axis, unbroadcast
from .arguments import axis_or_dim

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
           "index_copy", "index_fill", "masked_fill", "masked_select", "masked_scatter", "nonzero",
           "take_along_dim", "put"]


# -- axis and index helpers (shared with scan.py and sorting.py) ----------------------------------
def pick_axis(axis, dim, op, default=None, required=False):
    """The axis from ``axis=`` (NumPy) or its alias ``dim=`` (PyTorch), as an int (or ``default``)."""
    a = axis_or_dim(axis, dim, None, f"ember.{op}")
    if a is None:
        if required:
            raise TypeError(f"ember.{op}: missing the axis: pass axis= (or dim=)")
        return default
    if isinstance(a, bool) or not hasattr(a, "__index__"):
        raise TypeError(f"ember.{op}: axis must be an int, got {a!r}")
    return int(a)


def one_axis(x, ax, op):
    """``ax`` normalised to a non-negative int for ``x`` (0 for a 0-d tensor)."""
    axes = normalize_axis(ax, x.ndim, op)
    return axes[0] if axes else 0


def _index_array(index, op, name="index"):
    """The integer array behind ``index`` (a Tensor, array or list of ints)."""
    idx = index.data if isinstance(index, Tensor) else xp.asarray(index)
    if idx.dtype.kind not in "iu":
        if idx.size == 0:
            return idx.astype(xp.int64)
        raise TypeError(f"ember.{op}: {name} must hold integers (int64, as PyTorch), got dtype "
                        f"{idx.dtype}; cast with .long()")
    return idx


def _check_bounds(idx, n, op, axis, allow_negative=False):
    if idx.size == 0:
        return
    if not allow_negative and idx.dtype == xp.int64:
        # one pass: viewed as unsigned, a negative index is larger than any valid one
        if int(idx.view(xp.uint64).max()) < n:
            return
    lo, hi = int(idx.min()), int(idx.max())
    low = -n if allow_negative else 0
    if lo < low or hi >= n:
        bad = lo if lo < low else hi
        raise AxisError(f"ember.{op}: index {bad} is out of bounds for axis {axis} of size {n} "
                         f"(valid indices: {low}..{n - 1})")


def _check_shapes(op, axis, idx, x_shape, src_shape=None):
    """PyTorch's rule for gather/scatter: ``index`` has the input's number of dimensions and is no
    larger than it on every other axis (and no larger than ``src`` on any axis)."""
    if idx.ndim != len(x_shape) and not (idx.ndim <= 1 and len(x_shape) <= 1):
        raise ValueError(f"ember.{op}: index of shape {idx.shape} must have as many dimensions as "
                         f"the input of shape {tuple(x_shape)}")
    for d, n in enumerate(idx.shape):
        if d != axis and d < len(x_shape) and n > x_shape[d]:
            raise ValueError(f"ember.{op}: index of shape {idx.shape} is larger than the input of "
                             f"shape {tuple(x_shape)} on axis {d} (only axis {axis} may differ)")
        if src_shape is not None and d < len(src_shape) and n > src_shape[d]:
            raise ValueError(f"ember.{op}: index of shape {idx.shape} is larger than src of shape "
                             f"{tuple(src_shape)} on axis {d}")


def linear_index(shape, ax, idx):
    """Flat (C-order) positions in an array of ``shape`` of the entries ``idx`` points at along
    ``ax`` (the other coordinates being the index's own)."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    if not shape:
        return idx.astype(xp.intp)
    # one pass where possible: (idx * stride) + offsets, the first operation making the new array
    lin = idx * strides[ax] if strides[ax] != 1 else idx
    for d, n in enumerate(idx.shape):
        if d != ax and n > 1:
            offsets = (xp.arange(n) * strides[d]).reshape((n,) + (1,) * (idx.ndim - d - 1))
            if lin is idx:
                lin = xp.add(idx, offsets, dtype=xp.intp)
            else:
                lin += offsets       # offsets span one axis of idx: lin keeps its shape
    if lin is idx or lin.dtype != xp.intp:
        lin = lin.astype(xp.intp)
    return lin


def _corner(a, shape):
    """The leading ``shape`` block of ``a`` (PyTorch uses only that part of a larger ``src``)."""
    if a.shape == tuple(shape):
        return a
    return a[tuple(slice(0, n) for n in shape)]


def scatter_add_array(base, ax, idx, src):
    """A new array: ``base`` plus ``src`` (shaped like ``idx``) added at ``idx`` along ``ax``."""
    out = xp.array(base, dtype=base.dtype, order="C", copy=True)
    lin = linear_index(base.shape, ax, idx)
    xp.add.at(out.reshape(-1), lin.reshape(-1), xp.asarray(src, dtype=base.dtype).reshape(-1))
    return out


def gather_array(a, ax, idx, lin=None):
    """``a``'s entries at ``idx`` along ``ax`` (PyTorch's gather on arrays)."""
    if a.ndim == 0:
        return a.reshape(()) if idx.ndim == 0 else xp.broadcast_to(a, idx.shape).copy()
    if lin is None:
        lin = linear_index(a.shape, ax, idx)
    return xp.take(xp.ascontiguousarray(a).reshape(-1), lin)


# -- gather / scatter ----------------------------------------------------------------------------
def gather(x, axis=None, index=None, *, dim=None):
    """``out[i][j] = x[i][index[i][j]]`` for ``axis=1`` (PyTorch's ``gather``): ``index`` has
    ``x``'s number of dimensions and is no larger on the other axes.  Repeated indices add up
    their gradients."""
    x = as_tensor(x, "gather")
    a = one_axis(x, pick_axis(axis, dim, "gather", required=True), "gather")
    if index is None:
        raise TypeError("ember.gather: missing the index tensor: gather(x, axis, index)")
    idx = _index_array(index, "gather")
    _check_shapes("gather", a, idx, x.shape)
    _check_bounds(idx, x.shape[a] if x.ndim else 1, "gather", a)
    shape = x.shape
    lin = linear_index(shape, a, idx) if x.ndim else None
    out = gather_array(x.data, a, idx, lin)

    def backward(g):
        full = xp.zeros(shape, dtype=g.dtype)
        if not shape:
            return (g.sum().reshape(()).astype(g.dtype),)
        xp.add.at(full.reshape(-1), lin.reshape(-1), g.reshape(-1))
        return (full,)
    return make(out, (x,), backward)


def take_along_dim(x, indices, axis=None, *, dim=None):
    """PyTorch's ``take_along_dim``: ``gather`` after broadcasting ``x`` and ``indices`` against
    each other on every axis but ``axis``; with no axis, both are flattened first."""
    from .shape import broadcast_to, reshape
    x = as_tensor(x, "take_along_dim")
    idx = _index_array(indices, "take_along_dim", "indices")
    a = pick_axis(axis, dim, "take_along_dim")
    if a is None:
        return gather(reshape(x, -1), 0, idx.reshape(-1))
    if idx.ndim != x.ndim:
        raise ValueError(f"ember.take_along_dim: indices of shape {idx.shape} must have as many "
                         f"dimensions as the input of shape {x.shape}")
    a = one_axis(x, a, "take_along_dim")
    xs, ish = list(x.shape), list(idx.shape)
    xs[a] = ish[a] = 1
    try:
        common = list(xp.broadcast_shapes(tuple(xs), tuple(ish)))
    except ValueError:
        raise ValueError(f"ember.take_along_dim: input of shape {x.shape} and indices of shape "
                         f"{idx.shape} do not broadcast on the axes other than {a}") from None
    xt = list(common)
    xt[a] = x.shape[a]
    common[a] = idx.shape[a]
    if tuple(xt) != x.shape:
        x = broadcast_to(x, tuple(xt))
    return gather(x, a, xp.broadcast_to(idx, tuple(common)))


def _scatter_src(src, value, idx, op, dtype):
    """(src array shaped like idx, src Tensor or None) from a ``src`` tensor or a scalar ``value``."""
    if src is not None and value is not None:
        raise TypeError(f"ember.{op}: pass src (a tensor) or value (a number), not both")
    if src is None and value is None:
        raise TypeError(f"ember.{op}: missing what to scatter: pass src= (a tensor) or value=")
    if src is None or isinstance(src, numbers.Number):
        v = value if src is None else src
        return xp.full(idx.shape, v, dtype=dtype), None
    s = as_tensor(src, op, "src")
    if s.ndim != idx.ndim and idx.ndim:
        raise ValueError(f"ember.{op}: src of shape {s.shape} must have as many dimensions as "
                         f"index of shape {idx.shape}")
    return _corner(s.data, idx.shape).astype(dtype, copy=False), s


def _scatter_setup(x, axis, dim, index, op):
    x = as_tensor(x, op)
    a = one_axis(x, pick_axis(axis, dim, op, required=True), op)
    if index is None:
        raise TypeError(f"ember.{op}: missing the index tensor: {op}(x, axis, index, src)")
    idx = _index_array(index, op)
    _check_shapes(op, a, idx, x.shape)
    _check_bounds(idx, x.shape[a] if x.ndim else 1, op, a)
    return x, a, idx


def scatter(x, axis=None, index=None, src=None, *, value=None, reduce=None, dim=None):
    """A copy of ``x`` with ``src`` (a tensor, or a number / ``value=``) written at ``index``
    along ``axis``: ``out[i][index[i][j]] = src[i][j]`` for ``axis=1`` (PyTorch's ``scatter``).
    ``reduce='add'`` or ``'multiply'`` combine instead of overwriting.  The gradient of ``x`` is
    zero at the overwritten entries; ``src`` gets the gradient at the positions it was written to."""
    if reduce is not None:
        modes = {"add": "sum", "multiply": "prod"}
        if reduce not in modes:
            raise ValueError(f"ember.scatter: reduce must be 'add' or 'multiply', got {reduce!r} "
                             "(scatter_reduce has sum/prod/mean/amax/amin)")
        x, a, idx = _scatter_setup(x, axis, dim, index, "scatter")
        s_arr, s = _scatter_src(src, value, idx, "scatter", x.data.dtype)
        return scatter_reduce(x, a, idx, s if s is not None else s_arr, modes[reduce])
    x, a, idx = _scatter_setup(x, axis, dim, index, "scatter")
    s_arr, s = _scatter_src(src, value, idx, "scatter", x.data.dtype)
    out = xp.array(x.data, order="C", copy=True)
    lin = linear_index(x.shape, a, idx).reshape(-1)
    out.reshape(-1)[lin] = s_arr.reshape(-1)
    parents = (x,) if s is None else (x, s)
    s_shape = None if s is None else s.shape

    def backward(g):
        gx = xp.array(g, order="C", copy=True)
        gx.reshape(-1)[lin] = 0
        if s is None:
            return (gx,)
        gs = xp.zeros(s_shape, dtype=g.dtype)
        _corner(gs, idx.shape)[...] = xp.take(xp.ascontiguousarray(g).reshape(-1), lin).reshape(idx.shape)
        return gx, gs
    return make(out, parents, backward)


def scatter_add(x, axis=None, index=None, src=None, *, dim=None):
    """``x`` plus ``src`` added at ``index`` along ``axis`` (repeated indices accumulate), as
    PyTorch's ``scatter_add``."""
    x, a, idx = _scatter_setup(x, axis, dim, index, "scatter_add")
    s_arr, s = _scatter_src(src, None, idx, "scatter_add", x.data.dtype)
    out = xp.array(x.data, order="C", copy=True)
    lin = linear_index(x.shape, a, idx).reshape(-1)
    with xp.errstate(invalid="ignore", over="ignore"):     # inf + -inf is nan, as in PyTorch
        xp.add.at(out.reshape(-1), lin, s_arr.reshape(-1))
    parents = (x,) if s is None else (x, s)

    def backward(g):
        if s is None:
            return (g,)
        gs = xp.zeros(s.shape, dtype=g.dtype)
        _corner(gs, idx.shape)[...] = xp.take(xp.ascontiguousarray(g).reshape(-1), lin).reshape(idx.shape)
        return g, gs
    return make(out, parents, backward)


_REDUCE_UFUNC = {"sum": xp.add, "prod": xp.multiply, "amax": xp.maximum, "amin": xp.minimum}


def _scatter_reduce_array(xd, lin, sd, reduce, include_self):
    """The forward of scatter_reduce on arrays (``lin``: flat target positions of ``sd``'s entries)."""
    out = xp.array(xd, order="C", copy=True)
    flat = out.reshape(-1)
    sflat = sd.reshape(-1)
    if reduce == "mean":
        count = xp.zeros(out.size, dtype=out.dtype)
        xp.add.at(count, lin, 1)
        hit = count > 0
        if not include_self:
            flat[hit] = 0
        xp.add.at(flat, lin, sflat)
        count += 1 if include_self else 0
        count = xp.where(count == 0, 1, count)
        if out.dtype.kind == "f":
            flat /= count
        else:
            flat[...] = xp.floor_divide(flat, count.astype(out.dtype))
        return out, count.reshape(out.shape)
    ufunc = _REDUCE_UFUNC[reduce]
    if not include_self:       # the scattered-to entries start from the identity / a source value
        flat[lin] = {"sum": 0, "prod": 1}[reduce] if reduce in ("sum", "prod") else sflat
    ufunc.at(flat, lin, sflat)
    return out, None


def scatter_reduce(x, axis=None, index=None, src=None, reduce=None, *, include_self=True, dim=None):
    """PyTorch's ``scatter_reduce``: combine ``src`` into ``x`` at ``index`` along ``axis`` with
    ``reduce`` in {'sum', 'prod', 'mean', 'amax', 'amin'}; with ``include_self=False`` the
    scattered-to entries of ``x`` are left out of the reduction.  Gradients as PyTorch's: exact
    for prod with zeros, and shared equally among ties for amax/amin."""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise ValueError(f"ember.scatter_reduce: reduce must be one of 'sum', 'prod', 'mean', "
                         f"'amax', 'amin', got {reduce!r}")
    x, a, idx = _scatter_setup(x, axis, dim, index, "scatter_reduce")
    s_arr, s = _scatter_src(src, None, idx, "scatter_reduce", x.data.dtype)
    xd = x.data
    lin = linear_index(x.shape, a, idx).reshape(-1)
    with xp.errstate(invalid="ignore", over="ignore"):
        out, count = _scatter_reduce_array(xd, lin, s_arr, reduce, include_self)
    parents = (x,) if s is None else (x, s)

    def backward(g):
        g = xp.ascontiguousarray(g)
        with xp.errstate(divide="ignore", invalid="ignore"):
            if reduce == "sum":
                gx, gs = g, g.reshape(-1)[lin]
            elif reduce == "mean":
                gx = g / count
                gs = gx.reshape(-1)[lin]
            elif reduce == "prod":
                masked_x = xp.where(xd == 0, 1, xd)
                gx = g * _scatter_reduce_array(masked_x, lin, s_arr, "prod", include_self)[0] / masked_x
                sf = s_arr.reshape(-1)
                s_zero = sf == 0
                nzeros = xp.zeros(out.size, dtype=g.dtype)
                xp.add.at(nzeros, lin, s_zero.astype(g.dtype))
                single = s_zero & (nzeros[lin] == 1)
                masked_src = xp.where(single, 1, sf)
                without = _scatter_reduce_array(xd, lin, masked_src, "prod", include_self)[0]
                gs = xp.where(single, (g * without).reshape(-1)[lin],
                              (g * out).reshape(-1)[lin] / xp.where(s_zero, 1, sf))
            else:                      # amax / amin: ties share equally
                value = out.reshape(-1)[lin]
                x_is = (xd == out).astype(g.dtype)
                s_is = (s_arr.reshape(-1) == value).astype(g.dtype)
                n = x_is.reshape(-1).copy()
                xp.add.at(n, lin, s_is)
                share = g / n.reshape(out.shape)
                gx = x_is * share
                gs = s_is * share.reshape(-1)[lin]
        if not include_self:
            gx = xp.array(gx, order="C", copy=True)
            gx.reshape(-1)[lin] = 0
        if s is None:
            return (gx,)
        full = xp.zeros(s.shape, dtype=g.dtype)
        _corner(full, idx.shape)[...] = gs.reshape(idx.shape)
        return gx, full
    return make(out, parents, backward)


# -- index_* along one axis with a 1-d index ------------------------------------------------------
def _index_setup(x, axis, dim, index, op):
    x = as_tensor(x, op)
    a = one_axis(x, pick_axis(axis, dim, op, required=True), op)
    if index is None:
        raise TypeError(f"ember.{op}: missing the index: {op}(x, axis, index, ...)")
    idx = _index_array(index, op)
    if idx.ndim > 1:
        raise ValueError(f"ember.{op}: index must be 0-d or 1-d, got shape {idx.shape}")
    idx = idx.reshape(-1)
    n = x.shape[a] if x.ndim else 1
    _check_bounds(idx, n, op, a, allow_negative=True)
    return x, a, xp.where(idx < 0, idx + n, idx) if idx.size else idx


def _rows(a, idx):
    """An index tuple selecting ``idx`` along axis ``a``."""
    return (slice(None),) * a + (idx,)


def index_select(x, axis=None, index=None, *, dim=None):
    """The entries of ``x`` at the 1-d ``index`` along ``axis`` (PyTorch's ``index_select``)."""
    x, a, idx = _index_setup(x, axis, dim, index, "index_select")
    shape = x.shape
    xd = x.data if x.ndim else x.data.reshape(1)
    out = xp.take(xd, idx, axis=a)
    if not x.ndim:
        out = out.reshape(idx.shape if idx.size != 1 else ())

    def backward(g):
        full = xp.zeros(xd.shape, dtype=g.dtype)
        xp.add.at(full, _rows(a, idx), g.reshape(out.shape if x.ndim else (-1,)))
        return (full.reshape(shape),)
    return make(out, (x,), backward)


def _source(source, x, a, idx, op):
    s = as_tensor(source, op, "source")
    want = list(x.shape)
    if want:
        want[a] = idx.size
    if s.shape != tuple(want) and not (s.size == idx.size and x.ndim <= 1):
        raise ValueError(f"ember.{op}: source of shape {s.shape} must have shape {tuple(want)} "
                         f"(the input's shape {x.shape} with axis {a} of length len(index)="
                         f"{idx.size})")
    return s


def index_add(x, axis=None, index=None, source=None, *, alpha=1, dim=None):
    """``x`` with ``alpha * source`` added at the 1-d ``index`` along ``axis`` (repeats add up)."""
    x, a, idx = _index_setup(x, axis, dim, index, "index_add")
    s = _source(source, x, a, idx, "index_add")
    out = xp.array(x.data, copy=True)
    view = out if x.ndim else out.reshape(1)
    rows = _rows(a, idx)
    sd = s.data.astype(out.dtype, copy=False).reshape(_picked_shape(view.shape, a, idx))
    xp.add.at(view, rows, sd * alpha if alpha != 1 else sd)
    s_shape = s.shape

    def backward(g):
        gs = xp.take(g if x.ndim else g.reshape(1), idx, axis=a)
        return g, (gs * alpha if alpha != 1 else gs).reshape(s_shape)
    return make(out, (x, s), backward)


def _picked_shape(shape, a, idx):
    shape = list(shape)
    shape[a] = idx.size
    return tuple(shape)


def index_copy(x, axis=None, index=None, source=None, *, dim=None):
    """A copy of ``x`` with the slices at the 1-d ``index`` along ``axis`` replaced by ``source``.
    The gradient of ``x`` is zero at the replaced slices."""
    x, a, idx = _index_setup(x, axis, dim, index, "index_copy")
    s = _source(source, x, a, idx, "index_copy")
    out = xp.array(x.data, copy=True)
    view = out if x.ndim else out.reshape(1)
    rows = _rows(a, idx)
    view[rows] = s.data.astype(out.dtype, copy=False).reshape(_picked_shape(view.shape, a, idx))
    s_shape = s.shape

    def backward(g):
        gx = xp.array(g, copy=True)
        (gx if x.ndim else gx.reshape(1))[rows] = 0
        gs = xp.take(g if x.ndim else g.reshape(1), idx, axis=a)
        return gx, gs.reshape(s_shape)
    return make(out, (x, s), backward)


def _fill_value(value, op):
    """(number or array, Tensor or None): a fill value may be a number or a 0-d tensor (which then
    receives the gradient of the entries it filled)."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"ember.{op}: value must be a number or a 0-d tensor, got a tensor of "
                             f"shape {value.shape}")
        return value.data, value
    if not isinstance(value, (numbers.Number, xp.generic)):
        raise TypeError(f"ember.{op}: value must be a number or a 0-d tensor, got {type(value).__name__}")
    return value, None


def index_fill(x, axis=None, index=None, value=None, *, dim=None):
    """A copy of ``x`` with the slices at the 1-d ``index`` along ``axis`` set to ``value`` (a
    number or a 0-d tensor)."""
    x, a, idx = _index_setup(x, axis, dim, index, "index_fill")
    if value is None:
        raise TypeError("ember.index_fill: missing value: index_fill(x, axis, index, value)")
    v, vt = _fill_value(value, "index_fill")
    m = xp.zeros(x.shape[a] if x.ndim else 1, dtype=bool)
    m[idx] = True
    m = m.reshape((-1,) + (1,) * (x.ndim - a - 1)) if x.ndim else m.reshape(())
    return masked_fill(x, m, vt if vt is not None else v)


# -- masks ----------------------------------------------------------------------------------------
def _mask_array(mask, op):
    m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != xp.bool_:
        raise TypeError(f"ember.{op}: mask must be a bool tensor, got dtype {m.dtype} "
                        "(compare first, e.g. x > 0, or cast with .bool())")
    return m


def masked_fill(x, mask, value):
    """``x`` with ``value`` (a number or a 0-d tensor) where the boolean ``mask`` (broadcastable
    to ``x``) is True; the gradient of ``x`` is zero there."""
    x = as_tensor(x, "masked_fill")
    m = _mask_array(mask, "masked_fill")
    v, vt = _fill_value(value, "masked_fill")
    try:
        shape = xp.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise ValueError(f"ember.masked_fill: mask of shape {m.shape} does not broadcast with the "
                         f"input of shape {x.shape}") from None
    fill = xp.asarray(v).astype(x.data.dtype)
    out = xp.where(m, fill, x.data)
    x_shape = x.shape
    parents = (x,) if vt is None else (x, vt)

    def backward(g):
        gx = unbroadcast(xp.where(m, 0, g), x_shape).astype(g.dtype, copy=False)
        if vt is None:
            return (gx,)
        return gx, xp.asarray(xp.sum(xp.where(m, g, 0)), dtype=g.dtype)
    if out.shape != shape:
        out = xp.broadcast_to(out, shape).copy()
    return make(out, parents, backward)


def masked_select(x, mask):
    """The 1-d tensor of ``x``'s entries where ``mask`` is True (both broadcast first)."""
    x = as_tensor(x, "masked_select")
    m = _mask_array(mask, "masked_select")
    try:
        shape = xp.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise ValueError(f"ember.masked_select: mask of shape {m.shape} does not broadcast with "
                         f"the input of shape {x.shape}") from None
    mb = xp.broadcast_to(m, shape)
    out = xp.broadcast_to(x.data, shape)[mb]
    x_shape = x.shape

    def backward(g):
        full = xp.zeros(shape, dtype=g.dtype)
        full[mb] = g
        return (unbroadcast(full, x_shape),)
    return make(out, (x,), backward)


def masked_scatter(x, mask, source):
    """A copy of ``x`` whose entries where ``mask`` is True are filled, in order, from the first
    entries of ``source`` (which needs at least as many elements as the mask has True)."""
    x = as_tensor(x, "masked_scatter")
    m = _mask_array(mask, "masked_scatter")
    s = as_tensor(source, "masked_scatter", "source")
    try:
        mb = xp.broadcast_to(m, x.shape)
    except ValueError:
        raise ValueError(f"ember.masked_scatter: mask of shape {m.shape} does not broadcast to the "
                         f"input of shape {x.shape}") from None
    k = int(mb.sum())
    if s.size < k:
        raise ValueError(f"ember.masked_scatter: source has {s.size} elements but the mask selects "
                         f"{k}; source needs at least as many")
    out = xp.array(x.data, copy=True)
    out[mb] = s.data.reshape(-1)[:k].astype(out.dtype, copy=False)
    s_shape = s.shape

    def backward(g):
        gs = xp.zeros(s.size, dtype=g.dtype)
        gs[:k] = g[mb]
        return xp.where(mb, 0, g), gs.reshape(s_shape)
    return make(out, (x, s), backward)


def nonzero(x, *, as_tuple=False):
    """Indices of the non-zero entries: an (n, ndim) int64 tensor in C order, or with
    ``as_tuple=True`` one 1-d tensor per axis.  Not differentiable."""
    x = as_tensor(x, "nonzero")
    d = x.data
    if as_tuple:
        return tuple(make(i.astype(xp.int64), (), None) for i in xp.nonzero(d.reshape(1) if d.ndim == 0 else d))
    return make(xp.argwhere(d).astype(xp.int64), (), None)


def put(x, index, source, accumulate=False):
    """A copy of ``x`` with ``source`` written at the flat positions ``index`` (x viewed as 1-d;
    negative indices count from the end).  ``accumulate=True`` adds instead (repeats add up)."""
    x = as_tensor(x, "put")
    idx = _index_array(index, "put").reshape(-1)
    s = as_tensor(source, "put", "source")
    if s.size != idx.size:
        raise ValueError(f"ember.put: source has {s.size} elements but index has {idx.size}; they "
                         "must match")
    _check_bounds(idx, x.size, "put", "(flattened)", allow_negative=True)
    idx = xp.where(idx < 0, idx + x.size, idx) if idx.size else idx.astype(xp.intp)
    out = xp.array(x.data, order="C", copy=True)
    sd = s.data.reshape(-1).astype(out.dtype, copy=False)
    if accumulate:
        xp.add.at(out.reshape(-1), idx, sd)
    else:
        out.reshape(-1)[idx] = sd
    s_shape = s.shape

    def backward(g):
        g = xp.ascontiguousarray(g)
        gx = g
        if not accumulate:
            gx = g.copy()
            gx.reshape(-1)[idx] = 0
        return gx, g.reshape(-1)[idx].reshape(s_shape)
    return make(out, (x, s), backward)


def _bind_tensor_methods():
    for name in __all__:
        setattr(Tensor, name, globals()[name])


_bind_tensor_methods()
