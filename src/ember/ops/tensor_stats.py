"""PyTorch's statistics, counting and indexing Tensor methods that ember lacked, with their
functional forms: ``nansum``, ``nanmean``, ``nanmedian``, ``quantile``/``nanquantile`` (every
interpolation mode), ``aminmax``, ``count_nonzero``, ``bincount``, ``histc``,
``unique_consecutive``, ``index_put``; and the Tensor-only ``fill_diagonal_``,
``pin_memory``, ``share_memory_``, ``apply_``, ``map_``.

The differentiable ones are composed from ember's ops (sort, take_along_dim, lerp, where, sum), so
their gradients are those ops' gradients; ``index_put`` has its own backward (a scatter).
"""
import collections
import numbers

from ..backend import xp
from ..tensor import Tensor
from . import elementwise as E
from . import reduction as R
from . import shape as S
from ._base import as_tensor, check_axis, expand_reduced, make, normalize_axis, unbroadcast
from .arguments import axis_or_dim
from .cast import cast
from .indexing import take_along_dim
from .sorting import SortResult, sort

__all__ = ["nansum", "nanmean", "nanmedian", "quantile", "nanquantile", "aminmax",
           "count_nonzero", "bincount", "histc", "unique_consecutive", "index_put"]

AminmaxResult = collections.namedtuple("aminmax", ["min", "max"])


def _dims(axis, dim, op):
    return axis_or_dim(axis, dim, None, f"ember.{op}")


def _float_only(x, op):
    if x.dtype.kind != "f":
        raise TypeError(f"ember.{op}: expected a floating-point input, got dtype {x.dtype}; "
                        f"cast it first, e.g. x.float()")


def nansum(x, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Sum over ``dim`` (int, tuple or None = all) treating nan as 0; the gradient is 0 at nans."""
    x = as_tensor(x, "nansum")
    a, k = _dims(axis, dim, "nansum"), keepdim if keepdims is None else keepdims
    if x.dtype.kind != "f":
        return R.sum(x, axis=a, keepdims=k, dtype=dtype)
    axes = normalize_axis(a, x.ndim, "nansum")
    keep = ~xp.isnan(x.data)
    out = xp.asarray(xp.nansum(x.data, axis=axes, keepdims=k, dtype=dtype))
    shape = x.shape

    # PyTorch's rule: the gradient times the not-nan mask (an inf gradient gives nan at the nans,
    # which a where() would hide; nanmean of an all-nan slice relies on it)
    def backward(g):
        with E._quiet():
            return ((expand_reduced(g, shape, axes, k) * keep).astype(x.dtype, copy=False),)
    return make(out, (x,), backward)


def nanmean(x, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Mean over ``dim`` of the non-nan entries (nan where a slice is all nan).  Floats only."""
    x = as_tensor(x, "nanmean")
    _float_only(x, "nanmean")
    if dtype is not None:
        x = cast(x, dtype)
    a, k = _dims(axis, dim, "nanmean"), keepdim if keepdims is None else keepdims
    axes = normalize_axis(a, x.ndim, "nanmean")
    keep = ~xp.isnan(x.data)
    count = xp.sum(keep, axis=axes, keepdims=True).astype(x.dtype)
    with E._quiet():     # an all-nan slice is 0 / 0 = nan, as PyTorch: no warning
        out = xp.nansum(x.data, axis=axes, keepdims=True) / count
    shape = x.shape

    # PyTorch's nansum(x) / count: g / count times the not-nan mask (nan for an all-nan slice)
    def backward(g):
        with E._quiet():
            return ((expand_reduced(g, shape, axes, k) / count * keep).astype(x.dtype, copy=False),)
    return make(out if k else out.reshape([n for i, n in enumerate(shape) if i not in axes]),
                (x,), backward)


def nanmedian(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The lower median of the non-nan entries (nan where all are nan).  No ``dim``: a 0-d tensor
    over everything; with ``dim``: ``(values, indices)``."""
    x = as_tensor(x, "nanmedian")
    a, k = _dims(axis, dim, "nanmedian"), keepdim if keepdims is None else keepdims
    if a is None:
        if x.size == 0:
            raise ValueError(f"ember.nanmedian: zero-size tensor of shape {x.shape} has no median")
        return nanmedian(S.reshape(x, -1), 0).values
    if x.ndim == 0:
        x = S.reshape(x, 1)
    a = check_axis(a, x.ndim, "nanmedian", "dim")
    if x.shape[a] == 0:
        raise ValueError(f"ember.nanmedian: dimension {a} of shape {x.shape} is empty")
    vals, idx = sort(x, axis=a)
    if x.dtype.kind == "f":
        n = xp.sum(~xp.isnan(x.data), axis=a, keepdims=True)   # nans sort last
    else:
        n = xp.full((1,) * x.ndim, x.shape[a])
    # an all-nan slice gives nan and the index of one of its nans (PyTorch's choice among them
    # follows its nth_element; the middle one here)
    pos = Tensor.wrap(xp.where(n > 0, (n - 1) // 2, (x.shape[a] - 1) // 2).astype(xp.int64))
    v, i = take_along_dim(vals, pos, axis=a), take_along_dim(idx, pos, axis=a)
    if not k:
        v, i = S.squeeze(v, a), S.squeeze(i, a)
    return SortResult(v, i)


_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(x, q, dim, keepdim, interpolation, op, ignore_nan):
    x = as_tensor(x, op)
    if x.dtype not in (xp.float32, xp.float64):
        raise TypeError(f"ember.{op}: input must be float32 or float64, got dtype {x.dtype}")
    if interpolation not in _MODES:
        raise ValueError(f"ember.{op}: interpolation must be one of {_MODES}, got {interpolation!r}")
    scalar_q = not isinstance(q, Tensor) or q.ndim == 0
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise ValueError(f"ember.{op}: q must be a number, a 0-d or a 1-d tensor, got shape {q.shape}")
        if q.dtype != x.dtype:
            raise TypeError(f"ember.{op}: q must have the input's dtype {x.dtype}, got {q.dtype}")
        qd = q.data.reshape(-1)
    else:
        qd = xp.asarray([q] if isinstance(q, numbers.Number) else q, dtype=x.dtype).reshape(-1)
    if not bool(xp.all((qd >= 0) & (qd <= 1))):
        raise ValueError(f"ember.{op}: q values must be in the range [0, 1], got {qd.tolist()}")
    if x.size == 0:
        raise ValueError(f"ember.{op}: input tensor must be non-empty, got shape {x.shape}")
    shape = x.shape
    if dim is None:
        x, a = S.reshape(x, -1), 0
    else:
        if x.ndim == 0:
            x = S.reshape(x, 1)
        a = check_axis(dim, x.ndim, op, "dim")
    sv = S.moveaxis(sort(x, axis=a).values, a, -1)        # (..., n), nans last
    n = sv.shape[-1]
    nan = xp.isnan(sv.data)
    if ignore_nan:
        count = xp.sum(~nan, axis=-1, keepdims=True).astype(x.dtype)
        ranks = xp.maximum(qd * (count - 1), 0)           # an all-nan slice reads its nan at 0
    else:
        # any nan makes the quantile nan: read the last (nan) entry (as PyTorch)
        ranks = xp.where(nan.any(axis=-1, keepdims=True), xp.asarray(n - 1, dtype=x.dtype),
                         qd * xp.asarray(n - 1, dtype=x.dtype))
    ranks = ranks.astype(x.dtype)
    if interpolation == "lower":
        ranks = xp.floor(ranks)
    elif interpolation == "higher":
        ranks = xp.ceil(ranks)
    elif interpolation == "nearest":
        ranks = xp.round(ranks)                           # half to even, as torch.round
    below = ranks.astype(xp.int64)
    out = take_along_dim(sv, Tensor.wrap(below), axis=-1)
    if interpolation in ("linear", "midpoint"):
        w = xp.full(ranks.shape, 0.5, dtype=x.dtype) if interpolation == "midpoint" else ranks - below
        above = take_along_dim(sv, Tensor.wrap(xp.ceil(ranks).astype(xp.int64)), axis=-1)
        out = E.lerp(out, above, Tensor.wrap(w.astype(x.dtype)))
    out = S.moveaxis(out, -1, 0)                          # (nq, ...): q's axis first
    if keepdim:
        kept = (1,) * len(shape) if dim is None else shape[:a] + (1,) + shape[a + 1:]
        out = S.reshape(out, (out.shape[0],) + kept)
    return S.getitem(out, 0) if scalar_q else out


def quantile(x, q, dim=None, keepdim=False, *, interpolation="linear", axis=None):
    """The ``q``-quantiles (a number, or a 0-d / 1-d tensor of the input's dtype, in [0, 1]) along
    ``dim`` (None: over everything).  A 1-d ``q`` adds a leading dimension of its length.
    ``interpolation``: 'linear' (default), 'lower', 'higher', 'midpoint' or 'nearest' (rounding
    half to even), as PyTorch.  A slice holding nan gives nan."""
    return _quantile(x, q, _dims(axis, dim, "quantile"), keepdim, interpolation, "quantile", False)


def nanquantile(x, q, dim=None, keepdim=False, *, interpolation="linear", axis=None):
    """``quantile`` ignoring nans (nan only where a slice is all nan)."""
    return _quantile(x, q, _dims(axis, dim, "nanquantile"), keepdim, interpolation, "nanquantile", True)


def aminmax(x, *, dim=None, keepdim=False, axis=None):
    """``(min, max)`` over ``dim`` (one int or None = all), a named pair; gradients as
    ``amin``/``amax`` (shared equally among ties)."""
    x = as_tensor(x, "aminmax")
    a = _dims(axis, dim, "aminmax")
    if x.size == 0:
        raise ValueError(f"ember.aminmax: zero-size tensor of shape {x.shape} has no min or max")
    return AminmaxResult(R.amin(x, axis=a, keepdims=keepdim), R.amax(x, axis=a, keepdims=keepdim))


def count_nonzero(x, dim=None, *, axis=None):
    """Number of non-zero entries over ``dim`` (int, tuple or None = all), as int64."""
    x = as_tensor(x, "count_nonzero")
    axes = normalize_axis(_dims(axis, dim, "count_nonzero"), x.ndim, "count_nonzero")
    return make(xp.asarray(xp.count_nonzero(x.data, axis=axes), dtype=xp.int64), (), None)


def bincount(x, weights=None, minlength=0):
    """Counts of each value of the 1-d non-negative integer ``x`` (length ``max(x) + 1``, at least
    ``minlength``); with ``weights`` (same length) the sums of the weights instead: float32 weights
    give float32, others float64, as PyTorch.  Not differentiable."""
    x = as_tensor(x, "bincount")
    if x.ndim != 1 or x.dtype.kind not in "iu" or (x.size and int(x.data.min()) < 0):
        raise ValueError(f"ember.bincount: expected a 1-d tensor of non-negative integers, got "
                         f"shape {x.shape} and dtype {x.dtype}")
    if minlength < 0:
        raise ValueError(f"ember.bincount: minlength must be non-negative, got {minlength}")
    if weights is None:
        return make(xp.bincount(x.data, minlength=minlength).astype(xp.int64), (), None)
    w = as_tensor(weights, "bincount", "weights")
    if w.shape != x.shape:
        raise ValueError(f"ember.bincount: weights must have the input's shape {x.shape}, got {w.shape}")
    out_dtype = xp.float32 if w.dtype == xp.float32 else xp.float64
    return make(xp.bincount(x.data, weights=w.data.astype(xp.float64), minlength=minlength)
                .astype(out_dtype), (), None)


def histc(x, bins=100, min=0, max=0):
    """Histogram of ``x`` with ``bins`` equal bins over [min, max] (``min == max``: the data's
    range, widened by 1 each way if that is empty too); values outside (and nan) are ignored, a
    value equal to ``max`` counts in the last bin.  Same float dtype as ``x``.  Not differentiable."""
    x = as_tensor(x, "histc")
    _float_only(x, "histc")
    if bins <= 0:
        raise ValueError(f"ember.histc: bins must be > 0, got {bins}")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise ValueError(f"ember.histc: max must be larger than min, got min={min}, max={max}")
    if lo == hi and x.size:
        lo, hi = float(x.data.min()), float(x.data.max())
    if not (xp.isfinite(lo) and xp.isfinite(hi)):
        raise ValueError(f"ember.histc: range of [{lo}, {hi}] is not finite")
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    d = x.data.reshape(-1)
    d = d[(d >= lo) & (d <= hi)]
    t = x.dtype.type
    # (x - min) * bins / (max - min) in the input's dtype, the order PyTorch computes it in
    pos = ((d - t(lo)) * t(bins) / (t(hi) - t(lo))).astype(xp.int64)
    pos = xp.minimum(pos, bins - 1)
    return make(xp.bincount(pos, minlength=bins).astype(x.dtype), (), None)


def unique_consecutive(x, return_inverse=False, return_counts=False, dim=None, *, axis=None):
    """The input with each run of equal consecutive entries (slices along ``dim``, or elements of
    the flattened input when ``dim`` is None) collapsed to one; with ``return_inverse`` which run
    each entry belongs to, with ``return_counts`` each run's length.  Not differentiable."""
    x = as_tensor(x, "unique_consecutive")
    a = _dims(axis, dim, "unique_consecutive")
    if a is None:
        flat = x.data.reshape(-1)
        rows, shape_inv = flat.reshape(-1, 1), x.shape
    else:
        a = check_axis(a, x.ndim, "unique_consecutive", "dim")
        m = xp.moveaxis(x.data, a, 0)
        rows, shape_inv = m.reshape(m.shape[0], -1), (m.shape[0],)
    n = rows.shape[0]
    start = xp.ones(n, dtype=bool)
    if n > 1:
        start[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    first = xp.nonzero(start)[0]
    if a is None:
        vals = flat[first]
    else:
        vals = xp.take(x.data, first, axis=a)
    out = [make(vals, (), None)]
    if return_inverse:
        out.append(make((xp.cumsum(start) - 1).astype(xp.int64).reshape(shape_inv), (), None))
    if return_counts:
        out.append(make(xp.diff(xp.append(first, n)).astype(xp.int64), (), None))
    return out[0] if len(out) == 1 else tuple(out)


def index_put(x, indices, values, accumulate=False):
    """A copy of ``x`` with ``x[indices] = values`` (``accumulate=True``: ``+=``, repeated indices
    adding up).  ``indices``: a tuple of integer or bool tensors (NumPy advanced indexing);
    ``values`` (a number, or a tensor of ``x``'s dtype) broadcast to ``x[indices]``'s shape.
    Gradients: ``x`` gets the output's gradient (zeroed at the overwritten places unless
    ``accumulate``), ``values`` gets the gradient at its places."""
    x = as_tensor(x, "index_put")
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"ember.index_put: indices must be a tuple of tensors, got {type(indices).__name__}")
    idx = []
    for i in indices:
        d = as_tensor(i, "index_put", "indices").data
        if d.dtype.kind not in "iub":
            raise TypeError(f"ember.index_put: index tensors must be integer or bool, got {d.dtype}")
        idx.append(d)
    idx = tuple(idx)
    if isinstance(values, Tensor):
        if values.dtype != x.dtype:
            raise TypeError(f"ember.index_put: values must have the destination's dtype {x.dtype}, "
                            f"got {values.dtype}; cast them, e.g. values.to({x.dtype.name!r})")
        v = values
    else:
        v = Tensor.wrap(xp.asarray(values, dtype=x.dtype))
    try:
        target = x.data[idx].shape
    except IndexError as e:
        raise IndexError(f"ember.index_put: {e} (tensor shape {x.shape})") from None
    try:
        ok = xp.broadcast_shapes(v.shape, target) == target
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"ember.index_put: values of shape {v.shape} cannot be broadcast to the "
                         f"indexing result of shape {target}")
    out = x.data.copy()
    if accumulate:
        xp.add.at(out, idx, v.data)
    else:
        out[idx] = v.data

    def backward(g):
        gx = None
        if x._rg:
            gx = g
            if not accumulate:
                gx = g.copy()
                gx[idx] = 0
        gv = unbroadcast(g[idx], v.shape) if v._rg else None
        return gx, gv
    return make(out, (x, v), backward)


# -- Tensor-only methods ------------------------------------------------------------------------
def _check_recording(self, name, args=()):
    from .inplace import _check_recording as check   # late: inplace binds after this module
    check(self, name, args, {})


def _fill_diagonal_(self, fill_value, wrap=False):
    """Fill the main diagonal (all indices equal) with ``fill_value``, in place; a tall 2-D matrix
    with ``wrap=True`` restarts the diagonal every ``cols + 1`` rows, as PyTorch.  Every dimension
    of a tensor with more than 2 must have the same length."""
    _check_recording(self, "fill_diagonal_", (fill_value,))
    if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
        raise ValueError(f"ember: Tensor.fill_diagonal_: needs a 2-D tensor or one whose dimensions "
                         f"all have the same length, got shape {self.shape}")
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    xp.fill_diagonal(self.data, value, wrap=wrap)
    return self


def _pin_memory(self, device=None):
    """``self``: pinned (page-locked) host memory only speeds up copies to a GPU in PyTorch; ember's
    host arrays are ordinary NumPy memory, so this is a no-op kept for PyTorch code."""
    return self


def _share_memory_(self):
    """``self``: PyTorch moves the storage to shared memory for worker processes; ember does not
    (a no-op kept for PyTorch code; worker processes get copies)."""
    return self


def _host_only(self, name):
    if hasattr(self.data, "__array_interface__"):
        return
    raise TypeError(f"ember: Tensor.{name} calls a Python function per element and works only on "
                    f"host (CPU) tensors; this one is on {self.device}")


def _apply_(self, callable):
    """Apply the Python function ``callable(element) -> number`` to every element, in place (host
    tensors only; slow: one Python call per element, as PyTorch's)."""
    _check_recording(self, "apply_")
    _host_only(self, "apply_")
    if self.data.size:
        out = xp.frompyfunc(callable, 1, 1)(self.data)    # a bare object for a 0-d tensor
        self.data[...] = xp.asarray(out, dtype=object).astype(self.data.dtype)
    return self


def _map_(self, tensor, callable):
    """``self[i] = callable(self[i], tensor[i])`` for every element, in place, ``tensor`` broadcast
    to this tensor's shape (host tensors only; one Python call per element)."""
    _check_recording(self, "map_", (tensor,))
    _host_only(self, "map_")
    other = tensor.data if isinstance(tensor, Tensor) else xp.asarray(tensor)
    other = xp.broadcast_to(other, self.data.shape)
    if self.data.size:
        out = xp.frompyfunc(callable, 2, 1)(self.data, other)
        self.data[...] = xp.asarray(out, dtype=object).astype(self.data.dtype)
    return self


def _bind():
    T = Tensor
    for name in ("nansum", "nanmean", "nanmedian", "quantile", "nanquantile", "aminmax",
                 "count_nonzero", "bincount", "histc", "unique_consecutive", "index_put"):
        setattr(T, name, globals()[name])
    T.fill_diagonal_ = _fill_diagonal_
    T.pin_memory, T.share_memory_, T.apply_, T.map_ = _pin_memory, _share_memory_, _apply_, _map_


_bind()
