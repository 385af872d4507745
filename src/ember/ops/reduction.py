"""Reductions.  Each takes ``axis`` (int, tuple or None = all) and ``keepdims`` and returns what
NumPy returns.  ``max``/``min`` return values only; where several elements tie for the extreme,
the gradient is split equally among them (so it sums to the incoming gradient)."""
import math

from ..backend import xp
from ._base import as_tensor, expand_reduced, make, normalize_axis
from .elementwise import _to_float


def _reduce_setup(x, axis, op):
    x = as_tensor(x, op)
    axes = normalize_axis(axis, x.ndim, op)
    return x, axes


def sum(x, axis=None, keepdims=False, dtype=None):
    """Sum of elements over ``axis``."""
    x, axes = _reduce_setup(x, axis, "sum")
    out = xp.sum(x.data, axis=axes, keepdims=keepdims, dtype=dtype)
    shape = x.shape
    return make(xp.asarray(out), (x,),
                lambda g: (xp.broadcast_to(expand_reduced(g, shape, axes, keepdims), shape),))


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (integer inputs give float32)."""
    x, axes = _reduce_setup(_to_float(as_tensor(x, "mean")), axis, "mean")
    out = xp.mean(x.data, axis=axes, keepdims=keepdims)
    shape = x.shape
    count = math.prod(shape[a] for a in axes)
    return make(xp.asarray(out), (x,),
                lambda g: (xp.broadcast_to(expand_reduced(g, shape, axes, keepdims) / count, shape),))


def _extreme(x, axis, keepdims, fn, op):
    x, axes = _reduce_setup(x, axis, op)
    if x.size == 0:
        raise ValueError(f"ember.{op}: zero-size tensor of shape {x.shape} has no {op}imum")
    out = fn(x.data, axis=axes, keepdims=True)
    xd = x.data

    def backward(g):
        share = (xd == out).astype(g.dtype)
        share /= share.sum(axis=axes, keepdims=True)
        return (expand_reduced(g, xd.shape, axes, keepdims) * share,)
    result = out if keepdims else out.reshape([n for i, n in enumerate(xd.shape) if i not in axes])
    y = make(xp.asarray(result), (x,), backward)
    if y._node is not None:
        y._node.name = op
    return y


def max(x, axis=None, keepdims=False):
    """Largest element over ``axis`` (values only; ties share the gradient equally)."""
    return _extreme(x, axis, keepdims, xp.max, "max")


def min(x, axis=None, keepdims=False):
    """Smallest element over ``axis`` (values only; ties share the gradient equally)."""
    return _extreme(x, axis, keepdims, xp.min, "min")


def prod(x, axis=None, keepdims=False):
    """Product over ``axis``; the gradient is exact also where inputs contain zeros."""
    x, axes = _reduce_setup(x, axis, "prod")
    xd = x.data
    out = xp.prod(xd, axis=axes, keepdims=True)

    def backward(g):
        g = expand_reduced(g, xd.shape, axes, keepdims)
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


def var(x, axis=None, ddof=0, keepdims=False):
    """Variance over ``axis`` with NumPy's ``ddof`` (default 0: the biased estimate)."""
    x, axes = _reduce_setup(_to_float(as_tensor(x, "var")), axis, "var")
    xd = x.data
    count = math.prod(xd.shape[a] for a in axes)
    centered = xd - xd.mean(axis=axes, keepdims=True)
    out = xp.sum(centered * centered, axis=axes, keepdims=keepdims) / (count - ddof)
    return make(xp.asarray(out), (x,),
                lambda g: (expand_reduced(g, xd.shape, axes, keepdims) * (2 / (count - ddof)) * centered,))


def std(x, axis=None, ddof=0, keepdims=False):
    """Standard deviation over ``axis`` (``ddof`` as NumPy, default 0)."""
    from .elementwise import sqrt
    return sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims))


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
        return max(E.abs(x), axis=axis, keepdims=keepdims)
    return E.pow(sum(E.pow(E.abs(x), ord), axis=axis, keepdims=keepdims), 1.0 / ord)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest element (flat index when ``axis`` is None); no gradient."""
    x = as_tensor(x, "argmax")
    return make(xp.asarray(xp.argmax(x.data, axis=axis, keepdims=keepdims)), (), None)


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest element (flat index when ``axis`` is None); no gradient."""
    x = as_tensor(x, "argmin")
    return make(xp.asarray(xp.argmin(x.data, axis=axis, keepdims=keepdims)), (), None)


def any(x, axis=None, keepdims=False):
    x = as_tensor(x, "any")
    return make(xp.asarray(xp.any(x.data, axis=axis, keepdims=keepdims)), (), None)


def all(x, axis=None, keepdims=False):
    x = as_tensor(x, "all")
    return make(xp.asarray(xp.all(x.data, axis=axis, keepdims=keepdims)), (), None)
