"""Keras 3's ``keras.ops.linalg`` (also at ``keras.ops``): decompositions, inverses and solvers
on ``ember.functional`` (differentiable where ember's linalg ops are)."""
from ... import functional as F
from ..keras_tensor import symbolic
from .core import float_tensor
from .numpy import norm

__all__ = ["cholesky", "cholesky_inverse", "det", "eigh", "inv", "lstsq", "matrix_rank", "norm",
           "pinv", "qr", "slogdet", "solve", "solve_triangular", "svd"]


@symbolic
def cholesky(x, upper=False):
    """The Cholesky factor of positive-definite ``x`` (lower, or upper with ``upper=True``)."""
    return F.cholesky(float_tensor(x), upper=upper)


@symbolic
def cholesky_inverse(x, upper=False):
    """The inverse of A = L L^T from its Cholesky factor ``x`` (L, or U = L^T with
    ``upper=True``)."""
    f = float_tensor(x)
    lower = F.swapaxes(f, -1, -2) if upper else f
    return F.inv(F.matmul(lower, F.swapaxes(lower, -1, -2)))


@symbolic
def det(x):
    """The determinant of (batches of) square matrices."""
    return F.det(float_tensor(x))


@symbolic
def eigh(x):
    """``(eigenvalues ascending, eigenvectors)`` of symmetric ``x``."""
    return tuple(F.eigh(float_tensor(x)))


@symbolic
def inv(x):
    """The inverse of (batches of) square matrices."""
    return F.inv(float_tensor(x))


@symbolic
def lstsq(a, b, rcond=None):
    """The least-squares solution x of a @ x = b."""
    out = F.lstsq(float_tensor(a), float_tensor(b), rcond)
    return out[0] if isinstance(out, tuple) else getattr(out, "solution", out)


@symbolic
def matrix_rank(x, tol=None):
    """The numerical rank of ``x`` (singular values above ``tol``)."""
    return F.matrix_rank(float_tensor(x), atol=tol)


@symbolic
def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse."""
    return F.pinv(float_tensor(x), rtol=rcond)


@symbolic
def qr(x, mode="reduced"):
    """``(q, r)`` of (batches of) matrices; ``mode`` 'reduced' or 'complete'."""
    return tuple(F.qr(float_tensor(x), mode))


@symbolic
def slogdet(x):
    """``(sign, log|det|)`` of (batches of) square matrices."""
    return tuple(F.slogdet(float_tensor(x)))


@symbolic
def solve(a, b):
    """x with a @ x = b."""
    return F.solve(float_tensor(a), float_tensor(b))


@symbolic
def solve_triangular(a, b, lower=False):
    """x with a @ x = b for triangular ``a`` (upper unless ``lower=True``)."""
    return F.solve_triangular(float_tensor(a), float_tensor(b), upper=not lower)


@symbolic
def svd(x, full_matrices=True, compute_uv=True):
    """``(u, s, vh)`` with x = u @ diag(s) @ vh, or just ``s`` with ``compute_uv=False``."""
    if not compute_uv:
        return F.svdvals(float_tensor(x))
    return tuple(F.svd(float_tensor(x), full_matrices))
