"""Matrix functions and decompositions (``ember.linalg``): inv, solve, det, slogdet, cholesky, qr,
svd, svdvals, eigh, pinv, lstsq.  Inputs are batches of matrices (..., M, N); each op computes its
forward with NumPy's LAPACK routines and its backward by the closed form PyTorch uses.

An op with several outputs (qr, svd, eigh, slogdet) records one graph node per output, each with
the backward of that output alone: the backward formulas are linear in the output gradients, so
the contributions add up to the full gradient.  Decompositions are differentiable where PyTorch's
are: svd and eigh for distinct singular values / eigenvalues (a repeated one makes the gradient
infinite or undefined, as in PyTorch), qr in reduced mode.
"""
from collections import namedtuple

from ..backend import xp
from ._base import as_tensor, make, unbroadcast


def _mT(a):
    return xp.swapaxes(a, -1, -2)


def _matrix(x, op, square=False):
    x = as_tensor(x, f"linalg.{op}")
    if x.ndim < 2:
        raise ValueError(f"ember.linalg.{op}: expected a matrix or a batch of matrices (..., M, N), "
                         f"got shape {x.shape}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"ember.linalg.{op}: expected square matrices (..., n, n), got shape {x.shape}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"ember.linalg.{op}: expected a floating-point tensor (float32 or float64), "
                        f"got dtype {x.data.dtype}; convert it with .float()")
    return x


def _lapack(fn, op, *arrays):
    if op in ("svd", "svdvals", "pinv") and not all(bool(xp.isfinite(a).all()) for a in arrays):
        # LAPACK's SVD can loop forever on nan / inf; PyTorch raises for them too
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(f"ember.linalg.{op}: the input of shape {shapes} contains nan or inf; "
                         "an SVD needs finite values")
    try:
        return fn(*arrays)
    except xp.linalg.LinAlgError as e:
        shapes = ", ".join(str(a.shape) for a in arrays)
        if "converge" in str(e):
            hint = "check the input for nan or inf"
        else:
            hint = {"cholesky": "the input must be symmetric positive-definite"}.get(
                op, "the input is singular (or not invertible in floating point)")
        raise ValueError(f"ember.linalg.{op}: {e} for input of shape {shapes}: {hint}") from None


def _solve(a, b):
    """``a^{-1} b`` for stacks of matrices (NumPy's solve, with b always a matrix)."""
    return xp.linalg.solve(a, b)


# -- inverse, solve, determinants --------------------------------------------------------------
def inv(A):
    """Inverse of square matrices; raises for a singular one."""
    A = _matrix(A, "inv", square=True)
    Y = _lapack(xp.linalg.inv, "inv", A.data)
    return make(Y, (A,), lambda g: (-(_mT(Y) @ g @ _mT(Y)),))


def solve(A, B, *, left=True):
    """X with ``A X = B`` (A square, batch axes broadcast).  B is a batch of vectors (..., n) when
    it is 1-D or has exactly A's batch shape plus n (as torch.linalg.solve), else of matrices
    (..., n, k).  ``left=False`` solves ``X A = B``."""
    A = _matrix(A, "solve", square=True)
    B = as_tensor(B, "linalg.solve")
    if not left:
        from .shape import swapaxes
        return swapaxes(solve(swapaxes(A, -1, -2), swapaxes(B, -1, -2)), -1, -2)
    n = A.shape[-1]
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    Bm = B.data[..., None] if vector else B.data
    if Bm.ndim < 2 or Bm.shape[-2] != n:
        raise ValueError(f"ember.linalg.solve: A of shape {A.shape} needs B of shape (..., {n}) or "
                         f"(..., {n}, k), got {B.shape}")
    if B.data.dtype != A.data.dtype:
        raise TypeError(f"ember.linalg.solve: A and B must have the same dtype, got {A.data.dtype} "
                        f"and {B.data.dtype}")
    try:
        X = _lapack(_solve, "solve", A.data, Bm)
    except ValueError as e:
        if "singular" in str(e):
            raise
        raise ValueError(f"ember.linalg.solve: batch shapes of A {A.shape} and B {B.shape} cannot "
                         "be broadcast together") from None

    def backward(g):
        gm = g[..., None] if vector else g
        gB = _solve(_mT(A.data), gm)            # A^{-T} g, broadcast against A
        gA = -gB @ _mT(X)
        gB = unbroadcast(gB, Bm.shape)
        return unbroadcast(gA, A.shape), (gB[..., 0] if vector else gB)
    return make(X[..., 0] if vector else X, (A, B), backward)


def det(A):
    """Determinant of square matrices.  Its gradient is the cofactor matrix ``adj(A)^T`` (which is
    ``det(A) A^{-T}`` for invertible A), computed through the SVD so that it is right for
    singular matrices too (as PyTorch's)."""
    A = _matrix(A, "det", square=True)
    d = xp.asarray(xp.linalg.det(A.data))

    def backward(g):
        if A.shape[-1] == 0:
            return (xp.zeros(A.shape, dtype=A.data.dtype),)
        bad = ~xp.isfinite(A.data).all(axis=(-2, -1), keepdims=True)
        if bad.any():
            # a matrix with nan / inf gets a nan gradient (PyTorch's); LAPACK's SVD may hang on it
            Af = xp.where(bad, xp.eye(A.shape[-1], dtype=A.data.dtype), A.data)
            return (xp.where(bad, xp.nan, _det_grad(Af, g)).astype(A.data.dtype, copy=False),)
        return (_det_grad(A.data, g),)
    return make(d, (A,), backward)


def _det_grad(a, g):
    """g times the cofactor matrix adj(a)^T of finite square matrices a, through the SVD."""
    U, S, Vh = xp.linalg.svd(a)
    sign = xp.linalg.det(U) * xp.linalg.det(Vh)              # +-1: det(A) = sign * prod(S)
    ones = xp.ones(S.shape[:-1] + (1,), dtype=S.dtype)
    left = xp.cumprod(xp.concatenate([ones, S[..., :-1]], -1), -1)          # prod(S[:i])
    right = xp.cumprod(xp.concatenate([ones, S[..., :0:-1]], -1), -1)[..., ::-1]  # prod(S[i+1:])
    cof = (U * (left * right)[..., None, :]) @ Vh            # adj(A)^T, up to the sign
    return (g * sign)[..., None, None] * cof


SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def slogdet(A):
    """``(sign, logabsdet)`` of square matrices (torch.linalg.slogdet); the log is differentiable
    (gradient ``A^{-T}``), the sign is not."""
    A = _matrix(A, "slogdet", square=True)
    sign, logabs = xp.linalg.slogdet(A.data)
    sign, logabs = xp.asarray(sign), xp.asarray(logabs)
    s = make(sign, (), None)
    la = make(logabs, (A,), lambda g: (g[..., None, None] * _mT(_lapack(xp.linalg.inv, "slogdet", A.data)),))
    return SlogdetResult(s, la)


def logdet(A):
    """log det(A) (nan where the determinant is negative, as torch.logdet)."""
    from .elementwise import log
    from ..tensor import Tensor
    sign, la = slogdet(A)
    with xp.errstate(invalid="ignore", divide="ignore"):
        return la + log(Tensor.wrap(sign.data.astype(la.data.dtype)))


# -- Cholesky, QR --------------------------------------------------------------------------------
def cholesky(A, *, upper=False):
    """Lower Cholesky factor L (A = L L^T) of symmetric positive-definite matrices (upper=True:
    U = L^T).  Reads the lower triangle; the gradient is symmetric, as PyTorch's."""
    A = _matrix(A, "cholesky", square=True)
    L = _lapack(xp.linalg.cholesky, "cholesky", A.data)

    def backward(g):
        gL = _mT(g) if upper else g
        P = xp.tril(_mT(L) @ gL)
        P = 0.5 * (P + _mT(xp.tril(P, -1)))
        Linv = xp.linalg.inv(L)
        return (_mT(Linv) @ P @ Linv,)
    return make(_mT(L).copy() if upper else L, (A,), backward)


QRResult = namedtuple("QRResult", ["Q", "R"])


def _copyltu(M):
    return xp.tril(M, -1) + _mT(xp.tril(M, -1)) + xp.tril(xp.triu(M))


def _qr_backward_tall(Q, R, gQ, gR):
    """A = QR with m >= n (R square, invertible): gA = (gQ + Q copyltu(M)) R^{-T},
    M = R gR^T - gQ^T Q."""
    M = R @ _mT(gR) - _mT(gQ) @ Q
    b = gQ + Q @ _copyltu(M)
    return _mT(_solve(R, _mT(b)))          # b R^{-T}


def qr(A, mode="reduced"):
    """QR decomposition ``A = Q R`` (Q with orthonormal columns, R upper triangular), as
    torch.linalg.qr: mode 'reduced' (Q (..., m, k), R (..., k, n), k = min(m, n)), 'complete' or
    'r' (Q empty).  Differentiable in 'reduced' mode (and 'complete' when m <= n), needing
    full-rank inputs; the signs of Q's columns and R's rows are LAPACK's."""
    A = _matrix(A, "qr")
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"ember.linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    Qd, Rd = xp.linalg.qr(A.data, mode="complete" if mode == "complete" else "reduced")
    m, n = A.shape[-2], A.shape[-1]

    def grad(gQ, gR):
        if mode == "r":
            raise RuntimeError("ember.linalg.qr: the gradient of R needs Q, which mode='r' does not "
                               "compute; use mode='reduced' to differentiate through qr")
        gQ = xp.zeros_like(Qd) if gQ is None else gQ
        gR = xp.zeros_like(Rd) if gR is None else gR
        if mode == "complete" and m > n:
            raise RuntimeError("ember.linalg.qr: the gradient of mode='complete' with more rows than "
                               "columns is not defined (as in PyTorch); use mode='reduced'")
        if m >= n:
            return (_qr_backward_tall(Qd, Rd, gQ, gR),)
        # wide: A = [X | Y], X = Q U (square), Y = Q V
        U = Rd[..., :, :m]
        gU, gV = gR[..., :, :m], gR[..., :, m:]
        gX = _qr_backward_tall(Qd, U, gQ + A.data[..., :, m:] @ _mT(gV), gU)
        return (xp.concatenate([gX, Qd @ gV], axis=-1),)
    R = make(Rd, (A,), lambda g: grad(None, g))
    if mode == "r":
        return QRResult(make(xp.zeros((0,), dtype=Qd.dtype), (), None), R)
    return QRResult(make(Qd, (A,), lambda g: grad(g, None)), R)


# -- SVD, symmetric eigendecomposition -------------------------------------------------------------
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


def _svd_backward(A, U, S, Vh, gU, gS, gVh):
    """PyTorch's svd_backward (reduced SVD, real): valid for distinct non-zero singular values."""
    m, n = A.shape[-2], A.shape[-1]
    k = S.shape[-1]
    V = _mT(Vh)
    if gU is None and gVh is None:
        return (U * gS[..., None, :]) @ Vh
    gU = xp.zeros_like(U) if gU is None else gU
    gV = xp.zeros_like(V) if gVh is None else _mT(gVh)
    UhgU = _mT(U) @ gU
    VhgV = _mT(V) @ gV
    UhgU = UhgU - _mT(UhgU)
    VhgV = VhgV - _mT(VhgV)
    S2 = S * S
    E = S2[..., None, :] - S2[..., :, None]
    idx = xp.arange(k)
    E[..., idx, idx] = 1
    with xp.errstate(divide="ignore", invalid="ignore"):
        gA = (UhgU * S[..., None, :] + S[..., :, None] * VhgV) / E
    if gS is not None:
        gA[..., idx, idx] += gS
    if m > k:
        gUS = gU / S[..., None, :]
        gA = U @ gA + gUS - U @ (_mT(U) @ gUS)
        gA = gA @ Vh
    elif n > k:
        gVS = gV / S[..., None, :]
        gA = gA @ Vh + _mT(gVS) - (_mT(gVS) @ V) @ Vh
        gA = U @ gA
    else:
        gA = U @ gA @ Vh
    return gA


def svd(A, full_matrices=True):
    """``A = U diag(S) Vh`` (torch.linalg.svd): S descending.  Gradients (as PyTorch) need
    distinct non-zero singular values, and with ``full_matrices=True`` ignore the extra columns
    of U / rows of Vh; U and Vh are defined up to the sign of each singular pair, so only
    sign-invariant functions of them have a well-defined gradient."""
    A = _matrix(A, "svd")
    Ud, Sd, Vhd = _lapack(lambda a: xp.linalg.svd(a, full_matrices=full_matrices), "svd", A.data)
    k = Sd.shape[-1]

    def grad(gU, gS, gVh):
        # full_matrices=True: the extra columns of U (rows of Vh) span the null spaces and do not
        # depend on A smoothly; as PyTorch, their gradients are dropped
        U, Vh = Ud[..., :, :k], Vhd[..., :k, :]
        gU = None if gU is None else gU[..., :, :k]
        gVh = None if gVh is None else gVh[..., :k, :]
        return (_svd_backward(A.data, U, Sd, Vh, gU, gS, gVh),)
    return SVDResult(make(Ud, (A,), lambda g: grad(g, None, None)),
                     make(Sd, (A,), lambda g: grad(None, g, None)),
                     make(Vhd, (A,), lambda g: grad(None, None, g)))


def svdvals(A):
    """Singular values, descending (torch.linalg.svdvals); gradient ``U diag(g) Vh``."""
    A = _matrix(A, "svdvals")
    U, S, Vh = _lapack(lambda a: xp.linalg.svd(a, full_matrices=False), "svdvals", A.data)
    return make(S, (A,), lambda g: ((U * g[..., None, :]) @ Vh,))


EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices, reading the
    ``UPLO`` triangle (torch.linalg.eigh).  Gradient for distinct eigenvalues:
    ``Q (diag(gL) + (Q^T gQ) / E) Q^T`` with ``E_ij = L_j - L_i``; eigenvectors are defined up to
    sign, so only sign-invariant functions of them have a well-defined gradient."""
    A = _matrix(A, "eigh", square=True)
    if UPLO not in ("L", "U"):
        raise ValueError(f"ember.linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    L, Q = _lapack(lambda a: xp.linalg.eigh(a, UPLO), "eigh", A.data)

    def grad(gL, gQ):
        if gQ is None:
            return ((Q * gL[..., None, :]) @ _mT(Q),)
        E = L[..., None, :] - L[..., :, None]
        idx = xp.arange(L.shape[-1])
        E[..., idx, idx] = 1
        with xp.errstate(divide="ignore", invalid="ignore"):
            inner = (_mT(Q) @ gQ) / E
        inner[..., idx, idx] = 0
        return (Q @ inner @ _mT(Q),)
    return EighResult(make(L, (A,), lambda g: grad(g, None)), make(Q, (A,), lambda g: grad(None, g)))


def eigvalsh(A, UPLO="L"):
    """Eigenvalues (ascending) of symmetric matrices."""
    return eigh(A, UPLO)[0]


# -- pseudo-inverse, least squares -----------------------------------------------------------------
def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """Moore-Penrose pseudo-inverse (torch.linalg.pinv): singular values at or below
    ``max(atol, rtol * largest)`` are treated as zero (default rtol ``max(m, n) * eps`` when atol
    is not given, else 0).  ``hermitian`` is accepted for PyTorch's signature (the SVD is used
    either way).  Gradient (PyTorch's) for inputs of constant rank:
    ``-P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A)``; where singular values are cut it
    is still this formula, not the derivative of the truncated inverse."""
    A = _matrix(A, "pinv")
    a = A.data
    if rtol is None:
        rtol = 0.0 if (atol is not None and atol > 0) else max(a.shape[-2:]) * xp.finfo(a.dtype).eps
    U, S, Vh = _lapack(lambda x: xp.linalg.svd(x, full_matrices=False), "pinv", a)
    smax = S[..., :1] if S.shape[-1] else xp.zeros(S.shape[:-1] + (1,), dtype=S.dtype)
    keep = S > xp.maximum(0.0 if atol is None else atol, rtol * smax)
    inv_s = xp.where(keep, 1 / xp.where(keep, S, 1), 0).astype(a.dtype)
    P = (_mT(Vh) * inv_s[..., None, :]) @ _mT(U)
    m, n = a.shape[-2], a.shape[-1]

    def backward(g):
        Pt, gt = _mT(P), _mT(g)
        gA = -Pt @ g @ Pt
        gA = gA + (xp.eye(m, dtype=a.dtype) - a @ P) @ gt @ P @ Pt
        gA = gA + Pt @ P @ gt @ (xp.eye(n, dtype=a.dtype) - P @ a)
        return (gA,)
    return make(P, (A,), backward)


LstsqResult = namedtuple("LstsqResult", ["solution", "residuals", "rank", "singular_values"])


def lstsq(A, B, rcond=None):
    """Least-squares solution of ``A X = B`` (torch.linalg.lstsq): ``solution`` is
    ``pinv(A) B`` (differentiable in A and B).  The other fields are as PyTorch's with
    driver='gelsd' (its CPU default 'gelsy' leaves two of them empty), not differentiable:
    ``residuals`` (squared, per column; for m > n and full rank, else empty), ``rank`` and
    ``singular_values``.  B is
    (..., m, k), or (m,) for a single vector."""
    from .linalg import matmul
    A = _matrix(A, "lstsq")
    B = as_tensor(B, "linalg.lstsq")
    vector = B.ndim == 1
    m, n = A.shape[-2], A.shape[-1]
    if (B.shape[0] if vector else (B.shape[-2] if B.ndim >= 2 else -1)) != m:
        raise ValueError(f"ember.linalg.lstsq: A of shape {A.shape} needs B of shape (..., {m}, k) "
                         f"or ({m},), got {B.shape}")
    S = xp.linalg.svd(A.data, compute_uv=False)
    cut = (max(m, n) * xp.finfo(A.data.dtype).eps if rcond is None else rcond) * S[..., :1]
    rank = (S > cut).sum(-1).astype(xp.int64)
    X = matmul(pinv(A, rtol=rcond), B)  # rcond None: pinv's default cut
    if m > n and bool((rank == n).all()):
        r = A.data @ (X.data[..., None] if vector else X.data) - (B.data[..., None] if vector else B.data)
        residuals = (r * r).sum(-2)
        residuals = residuals[..., 0] if vector else residuals
    else:
        residuals = xp.zeros((0,), dtype=A.data.dtype)
    return LstsqResult(X, make(residuals, (), None), make(xp.asarray(rank), (), None),
                       make(S, (), None))


__all__ = ["inv", "solve", "det", "slogdet", "logdet", "cholesky", "qr", "svd", "svdvals", "eigh",
           "eigvalsh", "pinv", "lstsq"]
