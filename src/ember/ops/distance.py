"""Normalisation and distances between vectors along an axis: ``normalize``,
``cosine_similarity``, ``pairwise_distance`` and the loss built on it, ``triplet_margin_loss``.
Signatures, defaults (``normalize`` and ``cosine_similarity`` work along axis 1, as PyTorch;
``pairwise_distance`` along the last axis) and the handling of tiny norms (``eps``) follow
``torch.nn.functional``.  Axis arguments take NumPy's ``axis`` or PyTorch's ``dim``."""
from ..backend import xp
from ._base import as_tensor, broadcast_error, make, normalize_axis, unbroadcast
from .arguments import axis_or_dim
from .elementwise import _to_float, add, clip, div, minimum, sub
from .loss import _check_reduction
from .linalg_norm import vector_norm
from .reduction import mean, norm, sum as _sum

__all__ = ["normalize", "cosine_similarity", "pairwise_distance", "triplet_margin_loss"]


def _axis(x, axis, op):
    if x.ndim == 0:
        raise ValueError(f"ember.{op}: needs at least 1 dimension, got a 0-d tensor")
    return normalize_axis(axis, x.ndim, op)[0]


def normalize(x, p=2.0, axis=None, eps=1e-12, *, dim=None):
    """x / max(||x||_p, eps) along ``axis`` (PyTorch's ``dim``; default 1, as PyTorch; use -1 for
    the channels-last feature axis of images).  The clamp has PyTorch's gradient (0 where the
    norm is below ``eps``)."""
    x = _to_float(as_tensor(x, "normalize"))
    if x.ndim == 0:
        raise ValueError("ember.normalize: needs at least 1 dimension, got a 0-d tensor")
    ax = normalize_axis(axis_or_dim(axis, dim, 1, "ember.normalize"), x.ndim, "normalize")
    # a vector norm over every given axis (PyTorch's), never a matrix norm for two axes
    return div(x, clip(vector_norm(x, ord=p, axis=ax, keepdims=True), eps))


def cosine_similarity(x1, x2, axis=None, eps=1e-8, *, dim=None):
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along ``axis`` (PyTorch's ``dim``;
    default 1), broadcasting x1 against x2.  As PyTorch, each vector is divided by its norm
    first (results stay within [-1, 1]) and the clamp to ``eps`` is not differentiated: the
    norm's own gradient flows (0 for a zero vector)."""
    a = _to_float(as_tensor(x1, "cosine_similarity", "x1"))
    b = _to_float(as_tensor(x2, "cosine_similarity", "x2"))
    if a.data.dtype != b.data.dtype:
        raise TypeError(f"ember.cosine_similarity: x1 and x2 must have the same dtype, got "
                        f"{a.data.dtype} and {b.data.dtype}; cast one with .astype()")
    try:
        shape = xp.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise broadcast_error("cosine_similarity", a, b) from None
    ad, bd = xp.broadcast_to(a.data, shape), xp.broadcast_to(b.data, shape)
    if not shape:
        raise ValueError("ember.cosine_similarity: needs at least 1 dimension, got 0-d inputs")
    ax = normalize_axis(axis_or_dim(axis, dim, 1, "ember.cosine_similarity"), len(shape),
                        "cosine_similarity")[0]
    na = xp.sqrt(xp.sum(ad * ad, axis=ax, keepdims=True))
    nb = xp.sqrt(xp.sum(bd * bd, axis=ax, keepdims=True))
    ca, cb = xp.maximum(na, eps), xp.maximum(nb, eps)
    ua, ub = ad / ca, bd / cb
    out = xp.sum(ua * ub, axis=ax)

    def grad_of(gu, xd, n, c):
        # u = x / c with c = max(n, eps) and dc/dx taken as dn/dx = x / n (0 where n == 0)
        dn = xd / xp.where(n == 0, 1, n)
        return gu / c - xp.sum(gu * xd, axis=ax, keepdims=True) / (c * c) * dn

    def backward(g):
        g = xp.expand_dims(g, ax)
        return (unbroadcast(grad_of(g * ub, ad, na, ca), a.shape) if a._rg else None,
                unbroadcast(grad_of(g * ua, bd, nb, cb), b.shape) if b._rg else None)
    return make(out, (a, b), backward)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False, *, keepdims=None):
    """||x1 - x2 + eps||_p along the last axis, broadcasting (as PyTorch: ``eps`` is added to
    the difference, which keeps the gradient finite where x1 == x2)."""
    a = _to_float(as_tensor(x1, "pairwise_distance", "x1"))
    b = _to_float(as_tensor(x2, "pairwise_distance", "x2"))
    keep = keepdim if keepdims is None else keepdims
    d = add(sub(a, b), eps)
    if d.ndim == 0:
        raise ValueError("ember.pairwise_distance: needs at least 1 dimension, got 0-d inputs")
    return norm(d, ord=p, axis=-1, keepdims=keep)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with ``pairwise_distance`` d
    (``swap``: d(anchor, negative) replaced by min(d(a, n), d(p, n)), Balntas et al. 2016).
    reduction: 'none', 'mean' or 'sum'.  The clamp at 0 has gradient 1 at 0 (PyTorch's
    clamp_min)."""
    op = "triplet_margin_loss"
    _check_reduction(reduction, op)
    if not margin >= 0:
        raise ValueError(f"ember.{op}: margin must be >= 0, got {margin}")
    shapes = [tuple(as_tensor(t, op).shape) for t in (anchor, positive, negative)]
    if len({len(s) for s in shapes}) != 1:
        raise ValueError(f"ember.{op}: anchor, positive and negative must have the same number of "
                         f"dimensions, got shapes {shapes[0]}, {shapes[1]} and {shapes[2]}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = clip(add(sub(d_pos, d_neg), margin), 0.0)
    if reduction == "none":
        return loss
    return _sum(loss) if reduction == "sum" else mean(loss)
