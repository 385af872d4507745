"""Reductions.  Each takes ``axis`` (int, tuple or None = all) and ``keepdims`` and returns what
NumPy returns.  ``max``/``min`` return values only; where several elements tie for the extreme,
the gradient is split equally among them (so it sums to the incoming gradient)."""
import math

from ..backend import xp
from ._base import as_tensor, check_axis, expand_reduced, make, normalize_axis
from .arguments import axis_or_dim, torch_names
from .elementwise import _to_float


def _reduce_setup(x, axis, op):
    x = as_tensor(x, op)
    axes = normalize_axis(axis, x.ndim, op)
    return x, axes


@torch_names
def sum(x, axis=None, keepdims=False, dtype=None):
    """Sum of elements over ``axis``."""
    x, axes = _reduce_setup(x, axis, "sum")
    out = xp.sum(x.data, axis=axes, keepdims=keepdims, dtype=dtype)
    shape = x.shape
    return make(xp.asarray(out), (x,),
                lambda g: (xp.broadcast_to(expand_reduced(g, shape, axes, keepdims), shape),))


@torch_names
def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (integer inputs give float32)."""
    x, axes = _reduce_setup(_to_float(as_tensor(x, "mean")), axis, "mean")
    out = xp.mean(x.data, axis=axes, keepdims=keepdims)
    shape = x.shape
    count = math.prod(shape[a] for a in axes)
    return make(xp.asarray(out), (x,),
                lambda g: (xp.broadcast_to(expand_reduced(g, shape, axes, keepdims) / count, shape),))


def _extreme(x, axis, keepdims, fn, op, nan_share=None):
    x, axes = _reduce_setup(x, axis, op)
    if x.size == 0:
        raise ValueError(f"ember.{op}: zero-size tensor of shape {x.shape} has no {op}imum")
    out = fn(x.data, axis=axes, keepdims=True)
    xd = x.data
    # PyTorch: a nan maximum passes its gradient to the nans for max(x) over everything and for
    # the inf-norm; amax over given axes gives the whole slice nan (0/0 below)
    nan_share = axis is None if nan_share is None else nan_share

    def backward(g):
        share = xd == out
        if nan_share and xp.isnan(out).any():
            share |= xp.isnan(xd)
        share = share.astype(g.dtype)
        share /= share.sum(axis=axes, keepdims=True)
        return (expand_reduced(g, xd.shape, axes, keepdims) * share,)
    result = out if keepdims else out.reshape([n for i, n in enumerate(xd.shape) if i not in axes])
    y = make(xp.asarray(result), (x,), backward)
    if y._node is not None:
        y._node.name = op
    return y


@torch_names
def max(x, axis=None, keepdims=False):
    """Largest element over ``axis`` (values only; ties share the gradient equally).

    NumPy's meaning (``amax``) also with PyTorch's ``dim=``: ``torch.max(x, dim)`` returns
    ``(values, indices)``, which is ``(ember.max(x, dim=d), ember.argmax(x, dim=d))`` here."""
    return _extreme(x, axis, keepdims, xp.max, "max")


@torch_names
def min(x, axis=None, keepdims=False):
    """Smallest element over ``axis`` (values only; ties share the gradient equally).

    NumPy's meaning (``amin``) also with PyTorch's ``dim=``: ``torch.min(x, dim)`` returns
    ``(values, indices)``, which is ``(ember.min(x, dim=d), ember.argmin(x, dim=d))`` here."""
    return _extreme(x, axis, keepdims, xp.min, "min")


@torch_names
def amax(x, axis=None, keepdims=False):
    """``torch.amax``: the largest element over ``axis`` (all axes by default), ties sharing the
    gradient equally; a nan maximum gives its whole slice a nan gradient, as PyTorch's amax."""
    return _extreme(x, axis, keepdims, xp.max, "amax", nan_share=False)


@torch_names
def amin(x, axis=None, keepdims=False):
    """``torch.amin``: the smallest element over ``axis``; see ``amax``."""
    return _extreme(x, axis, keepdims, xp.min, "amin", nan_share=False)


@torch_names
def prod(x, axis=None, keepdims=False):
    """Product over ``axis``; the gradient is exact also where inputs contain zeros."""
    x, axes = _reduce_setup(x, axis, "prod")
    xd = x.data
    out = xp.prod(xd, axis=axes, keepdims=True)

    def backward(g):
        g = expand_reduced(g, xd.shape, axes, keepdims)
        zeros = xd == 0
        if not zeros.any():     # PyTorch's rule (and its nan / inf results) when no input is 0
            return (g * (out / xd),)
        if axis is None and xp.count_nonzero(zeros) > 1:
            return (xp.zeros(xd.shape, g.dtype),)   # PyTorch: a full product with two zeros: all 0
        # product of all the other elements, computed without dividing by zero: move the reduced
        # axes to the end, flatten them, and use exclusive cumulative products from both sides.
        keep = [i for i in range(xd.ndim) if i not in axes]
        moved = xp.transpose(xd, keep + list(axes))
        flat = moved.reshape(moved.shape[:len(keep)] + (-1,))
        ones = xp.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = (left * right).reshape(moved.shape)
        inverse = xp.argsort(keep + list(axes))
        return (g * xp.transpose(others, inverse),)
    result = out if keepdims else out.reshape([n for i, n in enumerate(xd.shape) if i not in axes])
    return make(xp.asarray(result), (x,), backward)


def _var_args(op, axis, ddof, keepdims, correction, dim, keepdim):
    axis = axis_or_dim(axis, dim, None, f"ember.{op}")
    if correction is not None:
        if ddof not in (0, correction):
            raise TypeError(f"ember.{op}: got ddof={ddof!r} and correction={correction!r}; give one "
                            "(correction is PyTorch's name for NumPy's ddof)")
        ddof = correction
    if keepdim is not None:
        keepdims = keepdim
    return axis, ddof, keepdims


def var(x, axis=None, ddof=0, keepdims=False, *, correction=None, dim=None, keepdim=None):
    """Variance over ``axis``: sum((x - mean)^2) / (N - ddof), with NumPy's ``ddof`` (default 0:
    the biased estimate; PyTorch's ``correction``, ``dim`` and ``keepdim`` are accepted too).

    NumPy's default, not PyTorch's: ``torch.var`` divides by N - 1 unless told otherwise; pass
    ``correction=1`` (or ``ddof=1``) for PyTorch's unbiased estimate.

    Where ``ddof >= N`` the divisor is taken as 0, so the result is inf (nan where all the
    elements are equal), as NumPy and PyTorch.  The gradient 2 (x - mean) / (N - ddof) then
    follows PyTorch: over all elements (``axis=None``) it is inf (nan where x == mean); over
    given axes it uses N - ddof as it is (inf at 0, finite and negative below)."""
    axis, ddof, keepdims = _var_args("var", axis, ddof, keepdims, correction, dim, keepdim)
    full = axis is None                     # PyTorch's dim=None: the whole-tensor gradient rule
    x, axes = _reduce_setup(_to_float(as_tensor(x, "var")), axis, "var")
    full = full or x.ndim == 0
    xd = x.data
    count = math.prod(xd.shape[a] for a in axes)
    dof = count - ddof
    centered = xd - xd.mean(axis=axes, keepdims=True)
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = xp.sum(centered * centered, axis=axes, keepdims=keepdims) / (dof if dof > 0 else 0)

    def backward(g):
        g = expand_reduced(g, xd.shape, axes, keepdims)
        if full and dof <= 0:
            return (g * xp.where(centered == 0, xp.nan, xp.inf).astype(xd.dtype, copy=False),)
        scale = 2 / dof if dof != 0 else math.inf
        with xp.errstate(invalid="ignore"):
            return (g * scale * centered,)
    return make(xp.asarray(out), (x,), backward)


def std(x, axis=None, ddof=0, keepdims=False, *, correction=None, dim=None, keepdim=None):
    """Standard deviation sqrt(var) over ``axis`` (``ddof`` as NumPy, default 0 where PyTorch's
    default is ``correction=1``; PyTorch's ``correction``/``dim``/``keepdim`` accepted).  ``ddof >= N`` gives inf or nan as ``var``."""
    from .elementwise import sqrt
    axis, ddof, keepdims = _var_args("std", axis, ddof, keepdims, correction, dim, keepdim)
    return sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims))


@torch_names
def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis``, computed stably; its gradient is softmax(x)."""
    x, axes = _reduce_setup(_to_float(as_tensor(x, "logsumexp")), axis, "logsumexp")
    xd = x.data
    m = xp.max(xd, axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    e = xp.exp(xd - m)
    s = xp.sum(e, axis=axes, keepdims=True)
    out = xp.log(s) + m

    def backward(g):
        return (expand_reduced(g, xd.shape, axes, keepdims) * (e / s),)
    result = out if keepdims else out.reshape([n for i, n in enumerate(xd.shape) if i not in axes])
    return make(xp.asarray(result), (x,), backward)


@torch_names
def norm(x, ord=None, axis=None, keepdims=False):
    """Vector p-norm over ``axis`` (``ord`` None/2 = Euclidean, 1, inf, or any p > 0).  Over all
    elements when ``axis`` is None (Frobenius for matrices).  The 2-norm's gradient at 0 is 0."""
    from . import elementwise as E
    x = _to_float(as_tensor(x, "norm"))
    if ord is None or ord == 2:
        xd = x.data
        axes = normalize_axis(axis, x.ndim, "norm")
        out = xp.sqrt(xp.sum(xd * xd, axis=axes, keepdims=True))

        def backward(g):
            safe = xp.where(out == 0, 1, out)
            return (expand_reduced(g, xd.shape, axes, keepdims) * xd / safe,)
        result = out if keepdims else out.reshape([n for i, n in enumerate(xd.shape) if i not in axes])
        return make(xp.asarray(result), (x,), backward)
    if ord == 1:
        return sum(E.abs(x), axis=axis, keepdims=keepdims)
    if ord == math.inf:
        return _extreme(E.abs(x), axis, keepdims, xp.max, "max", nan_share=True)
    return E.pow(sum(E.pow(E.abs(x), ord), axis=axis, keepdims=keepdims), 1.0 / ord)


@torch_names
def argmax(x, axis=None, keepdims=False):
    """Index of the largest element (flat index when ``axis`` is None); no gradient."""
    x = as_tensor(x, "argmax")
    if axis is not None and x.ndim:
        axis = check_axis(axis, x.ndim, "argmax")
    return make(xp.asarray(xp.argmax(x.data, axis=axis, keepdims=keepdims)), (), None)


@torch_names
def argmin(x, axis=None, keepdims=False):
    """Index of the smallest element (flat index when ``axis`` is None); no gradient."""
    x = as_tensor(x, "argmin")
    if axis is not None and x.ndim:
        axis = check_axis(axis, x.ndim, "argmin")
    return make(xp.asarray(xp.argmin(x.data, axis=axis, keepdims=keepdims)), (), None)


@torch_names
def any(x, axis=None, keepdims=False):
    x = as_tensor(x, "any")
    return make(xp.asarray(xp.any(x.data, axis=axis, keepdims=keepdims)), (), None)


@torch_names
def all(x, axis=None, keepdims=False):
    x = as_tensor(x, "all")
    return make(xp.asarray(xp.all(x.data, axis=axis, keepdims=keepdims)), (), None)
