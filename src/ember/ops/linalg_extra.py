"""More of ``ember.linalg``, composed of differentiable ops (so their gradients are those of the
parts): matrix_power, multi_dot, vecdot, cross, solve_triangular, cond, matrix_rank, and
torch.linalg.diagonal (the last two axes by default)."""
import math

from ..backend import xp
from ._base import as_tensor, make
from . import elementwise as E
from . import reduction as R
from .linalg import matmul
from .linalg_decomp import _matrix, inv, solve, svdvals
from .linalg_norm import matrix_norm
from .shape import getitem, stack, tril, triu
from .shape_extra import diagonal as _diagonal, movedim


def matrix_power(A, n):
    """``A`` multiplied by itself ``n`` times (square matrices, batched); n = 0 gives the identity,
    n < 0 powers of the inverse (torch.linalg.matrix_power)."""
    A = as_tensor(A, "linalg.matrix_power")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"ember.linalg.matrix_power: expected square matrices (..., n, n), got shape {A.shape}")
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"ember.linalg.matrix_power: n must be an int, got {n!r}")
    if n == 0:
        eye = xp.broadcast_to(xp.eye(A.shape[-1], dtype=A.data.dtype), A.shape).copy()
        return make(eye, (A,), lambda g: (xp.zeros(A.shape, dtype=g.dtype),))
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while n:                      # binary powering: O(log n) products
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def multi_dot(tensors):
    """The chained product of matrices (torch.linalg.multi_dot); the first may be a 1-D row vector
    and the last a 1-D column vector.  Multiplied left to right."""
    ts = [as_tensor(t, "linalg.multi_dot") for t in tensors]
    if len(ts) < 2:
        raise ValueError(f"ember.linalg.multi_dot: expected at least 2 tensors, got {len(ts)}")
    for i, t in enumerate(ts):
        allowed = (1, 2) if i in (0, len(ts) - 1) else (2,)
        if t.ndim not in allowed:
            raise ValueError(f"ember.linalg.multi_dot: tensor {i} must be {' or '.join(map(str, allowed))}-D, "
                             f"got shape {t.shape} (only the first and last may be vectors)")
    out = ts[0]
    for t in ts[1:]:
        out = matmul(out, t)
    return out


def vecdot(x, y, dim=-1, *, axis=None):
    """Dot products along ``dim`` (batch axes broadcast), as torch.linalg.vecdot."""
    d = dim if axis is None else axis
    return R.sum(E.mul(x, y), axis=d)


def cross(a, b, dim=-1, *, axis=None):
    """Cross product of 3-vectors along ``dim`` (batch axes broadcast), as torch.linalg.cross."""
    a, b = as_tensor(a, "linalg.cross"), as_tensor(b, "linalg.cross")
    d = dim if axis is None else axis
    if a.ndim == 0 or b.ndim == 0 or a.shape[d] != 3 or b.shape[d] != 3:
        raise ValueError(f"ember.linalg.cross: axis {d} must have size 3 in both inputs, got shapes "
                         f"{a.shape} and {b.shape}")
    a, b = movedim(a, d, -1), movedim(b, d, -1)
    c = [getitem(a, (Ellipsis, i)) for i in range(3)]
    e = [getitem(b, (Ellipsis, i)) for i in range(3)]
    out = stack([E.sub(E.mul(c[1], e[2]), E.mul(c[2], e[1])),
                 E.sub(E.mul(c[2], e[0]), E.mul(c[0], e[2])),
                 E.sub(E.mul(c[0], e[1]), E.mul(c[1], e[0]))], axis=-1)
    return movedim(out, -1, d)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with ``A X = B`` (``X A = B`` when left=False) for triangular A, reading only its
    ``upper`` or lower triangle (and taking its diagonal as ones when ``unitriangular``), as
    torch.linalg.solve_triangular.  B is a batch of matrices (..., n, k)."""
    A = _matrix(A, "solve_triangular", square=True)
    B = as_tensor(B, "linalg.solve_triangular")
    if B.ndim < 2:
        raise ValueError(f"ember.linalg.solve_triangular: B must be a batch of matrices (..., n, k), "
                         f"got shape {B.shape}; add an axis with B[..., None] for a vector")
    T = triu(A, 1 if unitriangular else 0) if upper else tril(A, -1 if unitriangular else 0)
    if unitriangular:
        T = E.add(T, xp.eye(A.shape[-1], dtype=A.data.dtype))
    return solve(T, B, left=left)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """Diagonals of the matrices in the last two axes (torch.linalg.diagonal)."""
    return _diagonal(A, offset, dim1=dim1, dim2=dim2)


def cond(A, p=None):
    """Condition number (torch.linalg.cond): for p None / 2 / -2 the ratio of the extreme singular
    values; for 'fro', 'nuc', 1, -1, inf, -inf ``norm(A, p) * norm(inv(A), p)`` (square A)."""
    A = _matrix(A, "cond")
    if p is None or p in (2, -2):
        s = svdvals(A)
        hi, lo = getitem(s, (Ellipsis, 0)), getitem(s, (Ellipsis, -1))
        return E.div(lo, hi) if p == -2 else E.div(hi, lo)
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        raise ValueError(f"ember.linalg.cond: p must be None, 'fro', 'nuc', 1, -1, 2, -2, inf or -inf, got {p!r}")
    if A.shape[-1] != A.shape[-2]:
        raise ValueError(f"ember.linalg.cond: p={p!r} needs square matrices, got shape {A.shape}")
    return E.mul(matrix_norm(A, p), matrix_norm(inv(A), p))


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """Number of singular values above ``max(atol, rtol * largest)`` (default rtol
    ``max(m, n) * eps``), int64, not differentiable (torch.linalg.matrix_rank)."""
    A = _matrix(A, "matrix_rank")
    if hermitian:
        S = xp.abs(xp.linalg.eigvalsh(A.data))
    else:
        S = xp.linalg.svd(A.data, compute_uv=False)
    smax = S.max(-1, keepdims=True) if S.shape[-1] else xp.zeros(S.shape[:-1] + (1,), S.dtype)
    if rtol is None:
        rtol = 0.0 if (atol is not None and atol > 0) else max(A.shape[-2:]) * xp.finfo(S.dtype).eps
    tol = xp.maximum(0.0 if atol is None else atol, rtol * smax)
    return make(xp.asarray((S > tol).sum(-1).astype(xp.int64)), (), None)


__all__ = ["matrix_power", "multi_dot", "vecdot", "cross", "solve_triangular", "cond", "matrix_rank"]
