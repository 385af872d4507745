"""``ember.linalg``: linear algebra as torch.linalg -- norms, inverses and solves, determinants and
decompositions, all differentiable where PyTorch's are.  The ops are defined in
``ember.ops.linalg_decomp`` and ``ember.ops.linalg_norm``; this module is their public name."""
from .ops.linalg import einsum, matmul, outer  # noqa: F401
from .ops.linalg_decomp import (EighResult, LstsqResult, QRResult, SlogdetResult,  # noqa: F401
                                SVDResult, cholesky, det, eigh, eigvalsh, inv, lstsq, pinv,
                                qr, slogdet, solve, svd, svdvals)
from .ops.linalg_extra import (cond, cross, diagonal, matrix_power, matrix_rank,  # noqa: F401
                               multi_dot, solve_triangular, vecdot)
from .ops.linalg_norm import matrix_norm, norm, vector_norm  # noqa: F401
from .ops.shape_extra import tensordot  # noqa: F401


__all__ = ["cholesky", "cond", "cross", "det", "diagonal", "eigh", "eigvalsh", "einsum", "inv",
           "lstsq", "matmul", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm",
           "outer", "pinv", "qr", "slogdet", "solve", "solve_triangular", "svd", "svdvals",
           "tensordot", "vecdot", "vector_norm"]
