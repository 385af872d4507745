"""``tf.linalg``: TensorFlow 2's basic linear algebra on ``ember.keras.ops`` (batched over
leading axes, as TensorFlow: matrices are the last two axes).

Different from NumPy, as TensorFlow: ``diag`` builds (batches of) diagonal matrices from the last
axis, ``diag_part`` / ``trace`` read the last two axes, ``svd`` returns ``(s, u, v)`` with
``a = u @ diag(s) @ v^T`` (reduced by default), ``band_part(x, num_lower, num_upper)`` keeps a
band (-1: the whole triangle), ``eye(num_rows, num_columns=None, batch_shape=None, dtype)``.
"""
from ... import functional as F
from .. import ops
from ._base import accept_symbolic, dtype_of, float32, missing_name, t
from .math import l2_normalize  # noqa: F401  (tf.linalg.l2_normalize too)

__all__ = ["matmul", "matvec", "inv", "det", "slogdet", "logdet", "eye", "diag", "diag_part",
           "trace", "matrix_transpose", "adjoint", "norm", "l2_normalize", "solve",
           "triangular_solve", "cholesky", "qr", "svd", "eigh", "band_part", "einsum",
           "tensordot", "pinv"]


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           name=None):
    """``a @ b`` (batched), transposing the last two axes of ``a`` / ``b`` first if asked."""
    a, b = t(a), t(b)
    if transpose_a or adjoint_a:
        a = ops.swapaxes(a, -1, -2)
    if transpose_b or adjoint_b:
        b = ops.swapaxes(b, -1, -2)
    return ops.matmul(a, b)


def matvec(a, b, transpose_a=False, name=None):
    """``a @ b`` for matrices ``a`` (..., M, N) and vectors ``b`` (..., N)."""
    out = matmul(a, ops.expand_dims(b, -1), transpose_a=transpose_a)
    return ops.squeeze(out, -1)


def matrix_transpose(a, name=None, conjugate=False):
    """``a`` with its last two axes swapped."""
    return ops.swapaxes(a, -1, -2)


adjoint = matrix_transpose


def inv(input, adjoint=False, name=None):   # noqa: A002
    return ops.inv(matrix_transpose(input) if adjoint else input)


def det(input, name=None):   # noqa: A002
    return ops.det(input)


def slogdet(input, name=None):   # noqa: A002
    """``(sign, log|det|)``."""
    return ops.slogdet(input)


def logdet(matrix, name=None):
    """log det of a symmetric positive-definite matrix."""
    return ops.logdet(matrix)


def eye(num_rows, num_columns=None, batch_shape=None, dtype=float32, name=None):
    """The identity matrix (num_rows, num_columns), repeated over ``batch_shape``."""
    m = ops.eye(int(num_rows), None if num_columns is None else int(num_columns),
                dtype=dtype_of(dtype))
    if batch_shape:
        m = ops.broadcast_to(m, tuple(int(n) for n in batch_shape) + tuple(m.shape))
    return m


def diag(diagonal, name=None, k=0):
    """Diagonal matrices (..., N, N) with the last axis of ``diagonal`` (..., N) on the
    diagonal."""
    return F.diag_embed(t(diagonal), offset=int(k))


def diag_part(input, name=None, k=0):   # noqa: A002
    """The diagonal of the last two axes (..., min(M, N))."""
    return ops.diagonal(input, offset=int(k), axis1=-2, axis2=-1)


def trace(x, name=None):
    """The sum of the diagonal of the last two axes."""
    return ops.trace(x, axis1=-2, axis2=-1)


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):   # noqa: A002
    """``tf.norm``: 'euclidean' (the 2-norm of all entries when ``axis`` is None, of vectors
    along an int ``axis``, Frobenius over a pair of axes), 'fro', or a number (a vector p-norm,
    or with a pair of axes NumPy's matrix norm of that order)."""
    x = t(tensor)
    if x.dtype.kind != "f":
        raise TypeError(f"tf.norm: expected a float tensor, got {x.dtype}")
    keep = bool(keepdims)
    if ord in ("euclidean", "fro", 2) and (axis is None or ord != 2):
        # the square root of the sum of squares over the axes (every axis when None)
        ax = None if axis is None else tuple(int(a) for a in (
            axis if isinstance(axis, (list, tuple)) else [axis]))
        return ops.sqrt(ops.sum(ops.square(x), axis=ax, keepdims=keep))
    if axis is None:
        x, axis = ops.reshape(x, (-1,)), 0
    return ops.norm(x, ord=ord, axis=tuple(axis) if isinstance(axis, list) else axis,
                    keepdims=keep)


def solve(matrix, rhs, adjoint=False, name=None):
    """``X`` with ``matrix @ X = rhs``."""
    return ops.solve(matrix_transpose(matrix) if adjoint else matrix, rhs)


def triangular_solve(matrix, rhs, lower=True, adjoint=False, name=None):
    """``X`` with ``matrix @ X = rhs`` for a lower (or upper) triangular ``matrix``."""
    if adjoint:
        matrix, lower = matrix_transpose(matrix), not lower
    return ops.solve_triangular(matrix, rhs, lower=lower)


def cholesky(input, name=None):   # noqa: A002
    """The lower Cholesky factor."""
    return ops.cholesky(input)


def qr(input, full_matrices=False, name=None):   # noqa: A002
    """``(q, r)``; reduced unless ``full_matrices``."""
    return ops.qr(input, mode="complete" if full_matrices else "reduced")


def svd(tensor, full_matrices=False, compute_uv=True, name=None):
    """TensorFlow's ``(s, u, v)`` (``a = u @ diag(s) @ v^T``; ``s`` alone if not compute_uv)."""
    if not compute_uv:
        return ops.svd(tensor, full_matrices=full_matrices, compute_uv=False)
    u, s, vh = ops.svd(tensor, full_matrices=full_matrices)
    return s, u, matrix_transpose(vh)


def eigh(tensor, name=None):
    """``(eigenvalues ascending, eigenvectors as columns)`` of a symmetric matrix."""
    return ops.eigh(tensor)


def band_part(input, num_lower, num_upper, name=None):   # noqa: A002
    """``input`` with entries more than ``num_lower`` below / ``num_upper`` above the diagonal
    zeroed (-1 keeps that whole triangle): ``band_part(x, -1, 0)`` is the lower triangle."""
    x = t(input)
    if int(num_lower) >= 0:
        x = ops.triu(x, -int(num_lower))
    if int(num_upper) >= 0:
        x = ops.tril(x, int(num_upper))
    return x


def einsum(equation, *inputs, **kwargs):
    """``tf.einsum``: Einstein summation (``ops.einsum``)."""
    kwargs.pop("name", None)
    return ops.einsum(equation, *inputs, **kwargs)


def tensordot(a, b, axes, name=None):
    return ops.tensordot(a, b, axes=axes)


def pinv(a, rcond=None, validate_args=False, name=None):
    return ops.pinv(a) if rcond is None else ops.pinv(a, rcond=rcond)


accept_symbolic(globals(), __all__, skip=("eye",))


def __getattr__(name):
    raise missing_name("ember.keras.tf.linalg", name, __all__)
