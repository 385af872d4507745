"""Norms of ``ember.linalg``, as torch.linalg: ``vector_norm`` (any p, 0, +-inf), ``matrix_norm``
('fro', 'nuc', 1, -1, 2, -2, inf, -inf) and ``norm`` (either, by ``ord`` and ``dim``).  Built from
differentiable ops, so gradients follow theirs: the 2-norm's is 0 at 0; max/min split ties equally;
the spectral norms' need distinct singular values.  The general p-norm has PyTorch's own backward."""
import math

from ._base import as_tensor
from . import elementwise as E
from . import reduction as R
from .linalg_decomp import svdvals
from .shape import expand_dims, moveaxis


def _dims(axis, dim, op):
    if dim is not None and axis is not None:
        raise TypeError(f"ember.linalg.{op}: give dim= or its NumPy alias axis=, not both")
    return axis if dim is None else dim


def _keep(keepdim, keepdims):
    return bool(keepdim or keepdims)


def _float(x, op):
    x = as_tensor(x, f"linalg.{op}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"ember.linalg.{op}: expected a floating-point tensor, got dtype "
                        f"{x.data.dtype}; convert it with .float()")
    return x


def vector_norm(x, ord=2, dim=None, keepdim=False, *, axis=None, keepdims=False, dtype=None):
    """``sum(|x|^ord) ^ (1/ord)`` over ``dim`` (all elements when None); ``ord`` inf / -inf is the
    largest / smallest |x|, 0 the number of non-zeros (no gradient)."""
    x = _float(x, "vector_norm")
    if dtype is not None:
        from .cast import cast
        x = cast(x, dtype)
    dim = _dims(axis, dim, "vector_norm")
    keep = _keep(keepdim, keepdims)
    if isinstance(ord, str) or ord is None:
        raise ValueError(f"ember.linalg.vector_norm: ord must be a number (p, 0, inf or -inf), got {ord!r}")
    if ord == 2:
        return R.norm(x, axis=dim, keepdims=keep)
    if ord in (math.inf, -math.inf):
        return _extreme_abs(x, dim, keep, ord > 0)
    if ord == 0:         # a count: piecewise constant, its gradient is 0 (as PyTorch's)
        from ._base import make
        from ..backend import xp
        count = R.sum(E.not_equal(x, 0), axis=dim, keepdims=keep).data.astype(x.data.dtype)
        return make(xp.asarray(count), (x,), lambda g: (xp.zeros(x.shape, dtype=g.dtype),))
    if ord == 1:
        return R.sum(E.abs(x), axis=dim, keepdims=keep)
    return _p_norm(x, float(ord), dim, keep)


def _p_norm(x, p, dim, keep):
    """sum(|x|^p)^(1/p) with PyTorch's backward: sign(x) |x|^(p-1) g / norm^(p-1), taken as 0
    where x == 0 for p < 1 (pow(|x|, p)'s slope is inf there) and where the norm is 0."""
    from ._base import expand_reduced, make, normalize_axis
    from ..backend import xp
    xd = x.data
    axes = normalize_axis(dim, x.ndim, "linalg.vector_norm")
    a = xp.abs(xd)
    with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = xp.sum(a ** p, axis=axes, keepdims=True) ** (1.0 / p)

    def backward(g):
        g = expand_reduced(g, xd.shape, axes, keep)
        sign = (xd > 0).astype(xd.dtype) - (xd < 0).astype(xd.dtype)     # sign(nan) = 0, as torch.sgn
        with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            scaled = sign * a ** (p - 1)
            if p < 1:
                return ((xp.where(xd == 0, 0, scaled) * g * out ** (1 - p)).astype(xd.dtype, copy=False),)
            scale = xp.where(out == 0, 0, g / out ** (p - 1))
            return ((scaled * scale).astype(xd.dtype, copy=False),)
    result = out if keep else out.reshape([n for i, n in enumerate(xd.shape) if i not in axes])
    return make(xp.asarray(result), (x,), backward)


def _extreme_abs(x, dim, keep, largest):
    """max / min of |x|.  Backward as PyTorch's: ``sign(x)`` times the gradient shared equally by
    the elements equal to the norm, 0 elsewhere (so a nan norm sends 0, not nan, to every element)."""
    from ._base import expand_reduced, make, normalize_axis
    from ..backend import xp
    a = xp.abs(x.data)
    axes = normalize_axis(dim, x.ndim, "linalg.vector_norm")
    with xp.errstate(invalid="ignore"):
        out = (xp.max if largest else xp.min)(a, axis=axes, keepdims=True) if a.size else \
            xp.zeros([1 if i in axes else n for i, n in enumerate(a.shape)], dtype=a.dtype)

    def backward(g):
        hit = a == out
        count = hit.sum(axis=axes, keepdims=True)
        share = expand_reduced(g, a.shape, axes, keep) / xp.where(count == 0, 1, count)
        sign = xp.where(xp.isnan(x.data), 0, xp.sign(x.data))
        return ((sign * xp.where(hit, share, 0)).astype(g.dtype),)
    result = out if keep else out.reshape([n for i, n in enumerate(a.shape) if i not in axes])
    return make(xp.asarray(result), (x,), backward)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, axis=None, keepdims=False, dtype=None):
    """Norm of the matrices spanned by the two axes ``dim``: 'fro' (Frobenius), 'nuc' (sum of the
    singular values), 2 / -2 (largest / smallest singular value), 1 / -1 (largest / smallest
    column sum of |A|), inf / -inf (largest / smallest row sum of |A|)."""
    A = _float(A, "matrix_norm")
    if dtype is not None:
        from .cast import cast
        A = cast(A, dtype)
    dim = tuple(_dims(axis, dim, "matrix_norm"))
    keep = _keep(keepdim, keepdims)
    if A.ndim < 2 or len(dim) != 2:
        raise ValueError(f"ember.linalg.matrix_norm: needs a tensor with at least 2 dimensions and "
                         f"dim naming 2 axes, got shape {A.shape} and dim={dim}")
    d0, d1 = (int(d) for d in dim)
    if not (-A.ndim <= d0 < A.ndim and -A.ndim <= d1 < A.ndim) or d0 % A.ndim == d1 % A.ndim:
        raise ValueError(f"ember.linalg.matrix_norm: dim={dim} must be two different axes of a "
                         f"tensor of shape {A.shape}")
    d0, d1 = d0 % A.ndim, d1 % A.ndim
    if ord == "fro":
        return R.norm(A, axis=(d0, d1), keepdims=keep)
    M = moveaxis(A, (d0, d1), (-2, -1))
    if ord == "nuc" or ord in (2, -2):
        s = svdvals(M)
        out = R.sum(s, axis=-1) if ord == "nuc" else (R.max if ord == 2 else R.min)(s, axis=-1)
    elif ord in (1, -1, math.inf, -math.inf):
        along = -2 if ord in (1, -1) else -1
        sums = R.sum(E.abs(M), axis=along)
        out = (R.max if ord > 0 else R.min)(sums, axis=-1)
    else:
        raise ValueError(f"ember.linalg.matrix_norm: ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or "
                         f"-inf, got {ord!r}")
    if keep:
        for d in sorted((d0, d1)):
            out = expand_dims(out, d)
    return out


def norm(A, ord=None, dim=None, keepdim=False, *, axis=None, keepdims=False, dtype=None):
    """torch.linalg.norm: a vector norm when ``dim`` is an int, or when ``dim`` and ``ord`` are
    both None (the 2-norm of all elements); a matrix norm when ``dim`` is a pair, or when ``dim``
    is None and ``ord`` is given for a 2-D input (a 1-D input gets the vector norm)."""
    A = _float(A, "norm")
    dim = _dims(axis, dim, "norm")
    keep = _keep(keepdim, keepdims)
    if isinstance(dim, (tuple, list)) and len(dim) == 1:
        dim = dim[0]
    if dim is None and ord is not None:
        if A.ndim not in (1, 2):
            raise ValueError(f"ember.linalg.norm: with ord={ord!r} and no dim the input must be 1-D "
                             f"or 2-D, got shape {A.shape}; pass dim")
        dim = 0 if A.ndim == 1 else (0, 1)
    if isinstance(dim, (tuple, list)):
        if len(dim) != 2:
            raise ValueError(f"ember.linalg.norm: dim must be an int or a pair, got {dim}")
        return matrix_norm(A, "fro" if ord is None else ord, dim, keep, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dim, keep, dtype=dtype)


__all__ = ["vector_norm", "matrix_norm"]
