"""Parity (vs torch.linalg, float32) and gradcheck (float64) for ``ember.linalg``: norms, inv,
solve, det, slogdet, cholesky, qr, svd, svdvals, eigh, pinv, lstsq -- batched, tall and wide.

Inputs are made well-conditioned inside each row (``A + n I``; SPD ``A A^T + n I``), so float32
LAPACK results agree.  Decompositions are compared through gauge-fixed outputs: each column of Q /
U / eigenvectors multiplied by a sign (of R's diagonal, or of its first row), applied identically
in both libraries, so the sign freedom of LAPACK cannot make the tests flaky while every factor
(and its gradient) is still compared."""
import math

import numpy as np
import pytest

import ember
import ember.functional as F
import ember.linalg as LA
from op_harness import (Row, table_tests, no_special, away_from_zero, fixed, randn, special,
                        torch)

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

TL = torch.linalg


def _eye(a, n):
    if isinstance(a, torch.Tensor):
        return torch.eye(n, dtype=a.dtype)
    return ember.eye(n, dtype=a.dtype)


def well(a):
    """A + n I: a well-conditioned square matrix (batch)."""
    return a + a.shape[-1] * _eye(a, a.shape[-1])


def spd(a):
    """A A^T + n I: symmetric positive-definite, and symmetric in its gradient."""
    return a @ a.mT + a.shape[-1] * _eye(a, a.shape[-1])


def sym(a):
    """A symmetric matrix with well-separated eigenvalues (distinct: the gradient of eigh exists)."""
    n = a.shape[-1]
    spread = torch.arange(n, dtype=a.dtype) if isinstance(a, torch.Tensor) else ember.arange(n).astype(a.dtype)
    d = spread * 3.0
    return 0.5 * (a + a.mT) + (_eye(a, n) * d)


def fix_cols(M, s):
    """Multiply each column of M by the sign vector s (..., k)."""
    return M * s.unsqueeze(-2)


def qr_fixed(Q, R):
    s = R.diagonal(dim1=-2, dim2=-1).sign()
    return fix_cols(Q, s), R * s.unsqueeze(-1)


def svd_fixed(U, S, Vh):
    s = U[..., :1, :].sign()
    return U * s, S, Vh * s.mT


def eigh_fixed(L, Q):
    return L, Q * Q[..., :1, :].sign()


LIN = dict(fwd_atol=1e-5, fwd_rtol=1e-4, grad_atol=1e-4, grad_rtol=1e-3)
DEC = dict(fwd_atol=2e-5, fwd_rtol=2e-4, grad_atol=5e-4, grad_rtol=2e-3, gc_atol=1e-4, gc_rtol=1e-3)
INF = math.inf

ROWS = [
    # -- vector norms
    Row("vector_norm_2", LA.vector_norm, TL.vector_norm, [randn(3, 4)]),
    Row("vector_norm_1_dim", lambda x: LA.vector_norm(x, 1, dim=1), lambda x: TL.vector_norm(x, 1, dim=1),
        [away_from_zero(3, 4)]),
    Row("vector_norm_3_keep", lambda x: LA.vector_norm(x, 3, (0, 2), keepdim=True),
        lambda x: TL.vector_norm(x, 3, (0, 2), keepdim=True), [away_from_zero(2, 3, 4)]),
    Row("vector_norm_half_axis_alias", lambda x: LA.vector_norm(x, 0.5, axis=-1, keepdims=True),
        lambda x: TL.vector_norm(x, 0.5, dim=-1, keepdim=True), [away_from_zero(3, 4)]),
    Row("vector_norm_inf", lambda x: LA.vector_norm(x, INF, 1), lambda x: TL.vector_norm(x, INF, 1),
        [away_from_zero(3, 5)]),
    Row("vector_norm_neg_inf", lambda x: LA.vector_norm(x, -INF), lambda x: TL.vector_norm(x, -INF),
        [away_from_zero(3, 5)]),
    Row("vector_norm_0", lambda x: LA.vector_norm(x, 0, 0), lambda x: TL.vector_norm(x, 0, 0),
        [away_from_zero(3, 5)], gradcheck=False),
    # ties share the gradient equally; nan / inf / -0.0 inputs give PyTorch's values and gradients
    # (a nan inf-norm sends 0, not nan, back)
    Row("vector_norm_inf_ties", lambda x: LA.vector_norm(x, INF, 0, keepdim=True),
        lambda x: TL.vector_norm(x, INF, 0, keepdim=True), [fixed([[1.0, -2.0], [-1.0, 2.0], [0.5, -2.0]])],
        gradcheck=False),     # not differentiable at a tie: the row pins PyTorch's subgradient
    *[Row(f"vector_norm_{o}_special", (lambda o: lambda x: LA.vector_norm(x, o, 1))(o),
          (lambda o: lambda x: TL.vector_norm(x, o, 1))(o), [special(3, 4)], gradcheck=False)
      for o in (2, 1, 3, INF, -INF, 0)],
    Row("vector_norm_inf_all_special", lambda x: LA.vector_norm(x, INF), lambda x: TL.vector_norm(x, INF),
        [special(3, 4)], gradcheck=False),
    Row("matrix_norm_fro_special", LA.matrix_norm, TL.matrix_norm, [special(3, 4)], gradcheck=False),
    Row("matrix_norm_inf_special", lambda x: LA.matrix_norm(x, INF), lambda x: TL.matrix_norm(x, INF),
        [special(3, 4)], gradcheck=False),
    # -- matrix norms (batched, dims moved)
    *[Row(f"matrix_norm_{o}", (lambda o: lambda x: LA.matrix_norm(x, o))(o),
          (lambda o: lambda x: TL.matrix_norm(x, o))(o), [away_from_zero(2, 3, 4)], **LIN)
      for o in ("fro", "nuc", 2, -2, 1, -1, INF, -INF)],
    Row("matrix_norm_dims_keep", lambda x: LA.matrix_norm(x, "nuc", dim=(2, 0), keepdim=True),
        lambda x: TL.matrix_norm(x, "nuc", dim=(2, 0), keepdim=True), [randn(3, 2, 4)], **LIN),
    Row("matrix_norm_1_dims_keep", lambda x: LA.matrix_norm(x, 1, dim=(0, -1), keepdim=True),
        lambda x: TL.matrix_norm(x, 1, dim=(0, -1), keepdim=True), [away_from_zero(3, 2, 4)], **LIN),
    Row("norm_default", LA.norm, TL.norm, [randn(2, 3, 4)]),
    Row("norm_ord_matrix", lambda x: LA.norm(x, -INF), lambda x: TL.norm(x, -INF), [away_from_zero(3, 4)]),
    Row("norm_ord_vector", lambda x: LA.norm(x, 3), lambda x: TL.norm(x, 3), [away_from_zero(5)]),
    Row("norm_int_dim", lambda x: LA.norm(x, 1, dim=-1), lambda x: TL.norm(x, 1, dim=-1), [away_from_zero(3, 4)]),
    Row("norm_pair_dim", lambda x: LA.norm(x, 2, dim=(0, 1)), lambda x: TL.norm(x, 2, dim=(0, 1)),
        [randn(3, 4, 2)], **LIN),
    # -- inverse, solve, determinants
    Row("inv", lambda a: LA.inv(well(a)), lambda a: TL.inv(well(a)), [randn(4, 4)], **LIN),
    Row("inv_batch", lambda a: LA.inv(well(a)), lambda a: TL.inv(well(a)), [randn(2, 3, 3)], **LIN),
    Row("inverse_method", lambda a: well(a).inverse(), lambda a: well(a).inverse(), [randn(3, 3)], **LIN),
    Row("solve", lambda a, b: LA.solve(well(a), b), lambda a, b: TL.solve(well(a), b),
        [randn(3, 3), randn(3, 2)], **LIN),
    Row("solve_broadcast", lambda a, b: LA.solve(well(a), b), lambda a, b: TL.solve(well(a), b),
        [randn(2, 1, 3, 3), randn(4, 3, 2)], **LIN),
    Row("solve_vector", lambda a, b: LA.solve(well(a), b), lambda a, b: TL.solve(well(a), b),
        [randn(3, 3), randn(3)], **LIN),
    Row("solve_batch_vectors", lambda a, b: LA.solve(well(a), b), lambda a, b: TL.solve(well(a), b),
        [randn(2, 3, 3), randn(2, 3)], **LIN),
    Row("solve_batched_a_vector_b", lambda a, b: LA.solve(well(a), b), lambda a, b: TL.solve(well(a), b),
        [randn(2, 3, 3), randn(3)], **LIN),
    Row("solve_right", lambda a, b: LA.solve(well(a), b, left=False),
        lambda a, b: TL.solve(well(a), b, left=False), [randn(3, 3), randn(2, 3)], **LIN),
    Row("det", lambda a: LA.det(well(a)), lambda a: TL.det(well(a)), [randn(3, 3)], **LIN),
    Row("det_batch", lambda a: LA.det(a), lambda a: TL.det(a), [randn(2, 3, 4, 4)], **LIN),
    Row("det_method", lambda a: a.det(), lambda a: a.det(), [randn(2, 2)], **LIN),
    Row("slogdet", lambda a: LA.slogdet(a), lambda a: TL.slogdet(a), [randn(2, 4, 4)], **LIN),
    Row("logdet", lambda a: F.logdet(spd(a)), lambda a: torch.logdet(spd(a)), [randn(3, 3)], **LIN),
    # -- decompositions
    Row("cholesky", lambda a: LA.cholesky(spd(a)), lambda a: TL.cholesky(spd(a)), [randn(4, 4)], **LIN),
    Row("cholesky_batch_upper", lambda a: LA.cholesky(spd(a), upper=True),
        lambda a: TL.cholesky(spd(a), upper=True), [randn(2, 3, 3)], **LIN),
    Row("qr_square", lambda a: qr_fixed(*LA.qr(well(a))), lambda a: qr_fixed(*TL.qr(well(a))),
        [randn(3, 3)], **DEC),
    Row("qr_tall_batch", lambda a: qr_fixed(*LA.qr(a)), lambda a: qr_fixed(*TL.qr(a)),
        [randn(2, 5, 3)], **DEC),
    Row("qr_wide", lambda a: qr_fixed(*LA.qr(a)), lambda a: qr_fixed(*TL.qr(a)), [randn(3, 5)], **DEC),
    Row("qr_reconstruct", lambda a: (lambda q, r: q @ r)(*LA.qr(a)), lambda a: (lambda q, r: q @ r)(*TL.qr(a)),
        [randn(4, 3)], **DEC),
    Row("qr_complete_wide", lambda a: qr_fixed(*LA.qr(a, mode="complete")),
        lambda a: qr_fixed(*TL.qr(a, mode="complete")), [randn(2, 4)], **DEC),
    Row("qr_r_only", lambda a: LA.qr(a, mode="r")[1].abs(), lambda a: TL.qr(a, mode="r")[1].abs(),
        [randn(4, 3)], differentiable=False, note="mode='r' has no gradient (as PyTorch)", **DEC),
    Row("svdvals", LA.svdvals, TL.svdvals, [randn(2, 4, 3)], **DEC),
    Row("svd_reduced_tall", lambda a: svd_fixed(*LA.svd(a, full_matrices=False)),
        lambda a: svd_fixed(*TL.svd(a, full_matrices=False)), [randn(5, 3)], **DEC),
    Row("svd_reduced_wide_batch", lambda a: svd_fixed(*LA.svd(a, full_matrices=False)),
        lambda a: svd_fixed(*TL.svd(a, full_matrices=False)), [randn(2, 3, 5)], **DEC),
    Row("svd_square", lambda a: svd_fixed(*LA.svd(a)), lambda a: svd_fixed(*TL.svd(a)), [randn(4, 4)], **DEC),
    Row("svd_full_tall_values", lambda a: (lambda u, s, vh: (u[..., :3] * u[..., :1, :3].sign(), s))(*LA.svd(a)),
        lambda a: (lambda u, s, vh: (u[..., :3] * u[..., :1, :3].sign(), s))(*TL.svd(a)), [randn(5, 3)], **DEC),
    Row("svd_reconstruct", lambda a: (lambda u, s, vh: (u * s.unsqueeze(-2)) @ vh)(*LA.svd(a, full_matrices=False)),
        lambda a: (lambda u, s, vh: (u * s.unsqueeze(-2)) @ vh)(*TL.svd(a, full_matrices=False)),
        [randn(3, 4)], **DEC),
    Row("eigh", lambda a: eigh_fixed(*LA.eigh(sym(a))), lambda a: eigh_fixed(*TL.eigh(sym(a))),
        [randn(4, 4)], **DEC),
    Row("eigh_batch_upper", lambda a: eigh_fixed(*LA.eigh(sym(a), UPLO="U")),
        lambda a: eigh_fixed(*TL.eigh(sym(a), UPLO="U")), [randn(2, 3, 3)], **DEC),
    Row("eigvalsh", lambda a: LA.eigvalsh(sym(a)), lambda a: TL.eigvalsh(sym(a)), [randn(3, 3)], **DEC),
    # -- pseudo-inverse, least squares
    Row("pinv_tall", LA.pinv, TL.pinv, [randn(5, 3)], **DEC),
    Row("pinv_wide_batch", LA.pinv, TL.pinv, [randn(2, 3, 4)], **DEC),
    Row("pinv_square_method", lambda a: well(a).pinverse(), lambda a: well(a).pinverse(), [randn(3, 3)], **DEC),
    Row("lstsq", lambda a, b: LA.lstsq(a, b).solution, lambda a, b: TL.lstsq(a, b).solution,
        [randn(6, 3), randn(6, 2)], **DEC),
    Row("lstsq_batch", lambda a, b: LA.lstsq(a, b).solution, lambda a, b: TL.lstsq(a, b).solution,
        [randn(2, 5, 3), randn(2, 5, 1)], **DEC),
    # -- composed ops (ember.ops.linalg_extra)
    Row("matrix_power_3", lambda a: LA.matrix_power(a, 3), lambda a: TL.matrix_power(a, 3), [randn(2, 3, 3)], **LIN),
    Row("matrix_power_5_method", lambda a: a.matrix_power(5), lambda a: a.matrix_power(5),
        [randn(3, 3, scale=0.5)], **LIN),
    Row("matrix_power_0", lambda a: LA.matrix_power(a, 0), lambda a: TL.matrix_power(a, 0), [randn(2, 2, 2)]),
    Row("matrix_power_neg", lambda a: LA.matrix_power(well(a), -2), lambda a: TL.matrix_power(well(a), -2),
        [randn(3, 3)], **LIN),
    Row("multi_dot", lambda a, b, c: LA.multi_dot([a, b, c]), lambda a, b, c: TL.multi_dot([a, b, c]),
        [randn(2, 3), randn(3, 4), randn(4, 2)], **LIN),
    Row("multi_dot_vectors", lambda a, b, c: LA.multi_dot([a, b, c]), lambda a, b, c: TL.multi_dot([a, b, c]),
        [randn(3), randn(3, 4), randn(4)], **LIN),
    Row("vecdot", lambda a, b: LA.vecdot(a, b, dim=0), lambda a, b: TL.vecdot(a, b, dim=0),
        [randn(3, 4), randn(3, 1)]),
    Row("cross", LA.cross, TL.cross, [randn(4, 3), randn(4, 3)]),
    Row("cross_dim_broadcast", lambda a, b: LA.cross(a, b, dim=1), lambda a, b: TL.cross(a, b, dim=1),
        [randn(2, 3, 2), randn(1, 3, 2)]),
    Row("solve_triangular_lower", lambda a, b: LA.solve_triangular(well(a), b, upper=False),
        lambda a, b: TL.solve_triangular(well(a), b, upper=False), [randn(3, 3), randn(3, 2)], **LIN),
    Row("solve_triangular_upper_right_unit", lambda a, b: LA.solve_triangular(a, b, upper=True, left=False,
                                                                             unitriangular=True),
        lambda a, b: TL.solve_triangular(a, b, upper=True, left=False, unitriangular=True),
        [randn(2, 3, 3, scale=0.3), randn(2, 4, 3)], **LIN),
    Row("linalg_diagonal", lambda a: LA.diagonal(a, offset=1), lambda a: TL.diagonal(a, offset=1), [randn(2, 3, 4)]),
    *[Row(f"cond_{p}", (lambda p: lambda a: LA.cond(well(a), p))(p), (lambda p: lambda a: TL.cond(well(a), p))(p),
          [away_from_zero(2, 3, 3)], **DEC) for p in (None, -2)],
    # torch 2.13's cond for these p cannot be differentiated (an in-place op in its graph): the
    # oracle is its definition, norm(A) * norm(inv(A)), in torch
    *[Row(f"cond_{p}", (lambda p: lambda a: LA.cond(well(a), p))(p),
          (lambda p: lambda a: TL.matrix_norm(well(a), p) * TL.matrix_norm(TL.inv(well(a)), p))(p),
          [away_from_zero(2, 3, 3)], **DEC) for p in ("fro", "nuc", 1, -INF)],
    Row("pinv_atol_cuts", lambda a: LA.pinv(a, atol=0.5), lambda a: TL.pinv(a, atol=0.5),
        [randn(4, 3)], gradcheck=False, **DEC),
    # ^ cuts the smallest singular value (0.33): the gradient (PyTorch's formula, and ember's) is
    # that of A^+ at a matrix of constant rank, not of the truncated pseudo-inverse, so
    # finite differences disagree with both; the PyTorch comparison still holds
    Row("pinv_hermitian", lambda a: LA.pinv(spd(a), hermitian=True), lambda a: TL.pinv(spd(a), hermitian=True),
        [randn(3, 3)], **DEC),
    Row("lstsq_wide_min_norm", lambda a, b: LA.lstsq(a, b).solution, lambda a, b: TL.lstsq(a, b).solution,
        [randn(3, 5), randn(3, 2)], **DEC),
    Row("svd_full_wide", lambda a: (lambda u, s, vh: (u * u[..., :1, :].sign(), s, vh[..., :3, :] * u[..., :1, :].sign().mT))(*LA.svd(a)),
        lambda a: (lambda u, s, vh: (u * u[..., :1, :].sign(), s, vh[..., :3, :] * u[..., :1, :].sign().mT))(*TL.svd(a)),
        [randn(3, 5)], **DEC),
    Row("lstsq_vector", lambda a, b: LA.lstsq(a, b)[0], lambda a, b: TL.lstsq(a, b)[0],
        [randn(5, 3), randn(5)], **DEC),
]


# special values: rows whose run with -0.0 / nan / inf cannot match PyTorch, and why
LAPACK = ("LAPACK factorisation of a non-finite matrix: which entries come out nan / inf (or whether it "
          "raises) is implementation-defined (MKL in PyTorch vs NumPy's LAPACK)")
ORDER = "where inf meets 0 the nan / inf pattern depends on the contraction order"
no_special(ROWS, {
    "solve_batch_vectors": LAPACK,
    "det_batch": LAPACK,
    "slogdet": LAPACK,
    "cholesky": LAPACK,
    "cholesky_batch_upper": LAPACK,
    "qr_wide": LAPACK,
    "qr_complete_wide": LAPACK,
    "solve_triangular_lower": LAPACK,
    "solve_triangular_upper_right_unit": LAPACK,
    "multi_dot": ORDER,
})

(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


# -- outputs that are not differentiable, and errors -----------------------------------------------
def test_lstsq_rank_residuals_and_singular_values():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    r = LA.lstsq(ember.tensor(a, dtype="float64"), ember.tensor(b, dtype="float64"))
    t = TL.lstsq(torch.from_numpy(a), torch.from_numpy(b), driver="gelsd")
    assert int(r.rank.numpy()) == int(t.rank) == 3
    np.testing.assert_allclose(r.residuals.numpy(), t.residuals.numpy(), rtol=1e-10)
    np.testing.assert_allclose(r.singular_values.numpy(), t.singular_values.numpy(), rtol=1e-10)


def test_det_gradient_of_singular_matrices_is_the_cofactor_matrix():
    # the cofactor matrix is the exact derivative (finite differences agree); torch 2.13 returns
    # zeros for an exactly singular input, ember the derivative
    for a in ([[1.0, 2.0], [2.0, 4.0]], [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 1.0]], np.zeros((3, 3))):
        x = ember.tensor(a, dtype="float64", requires_grad=True)
        LA.det(x).backward()
        an = np.asarray(a)
        cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(an, i, 0), j, 1))
                         for j in range(len(an))] for i in range(len(an))])
        np.testing.assert_allclose(x.grad.numpy(), cof, atol=1e-12)
        ember.testing.gradcheck(LA.det, an)


def test_cond_forward_matches_torch_for_every_p():
    a = np.random.default_rng(3).standard_normal((2, 3, 3)) + 3 * np.eye(3)
    for p in (None, 2, -2, "fro", "nuc", 1, -1, INF, -INF):
        np.testing.assert_allclose(LA.cond(ember.tensor(a, dtype="float64"), p).numpy(),
                                   TL.cond(torch.from_numpy(a), p).numpy(), rtol=1e-10)


def test_matrix_rank():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    for kw in ({}, {"hermitian": False}, {"atol": 1.5}, {"rtol": 0.5}):
        assert int(LA.matrix_rank(ember.tensor(a), **kw).numpy()) == int(TL.matrix_rank(torch.tensor(a, dtype=torch.float32), **kw))
    s = a @ a.T
    assert int(LA.matrix_rank(ember.tensor(s), hermitian=True).numpy()) == 2
    batch = ember.tensor(np.stack([np.eye(3), a]))
    assert LA.matrix_rank(batch).numpy().tolist() == [3, 2] and LA.matrix_rank(batch).dtype == np.int64


def test_slogdet_sign_and_negative_determinant():
    a = ember.tensor([[0.0, 1.0], [1.0, 0.0]])
    sign, logabs = LA.slogdet(a)
    assert float(sign.numpy()) == -1.0 and abs(float(logabs.numpy())) < 1e-7
    assert math.isnan(float(F.logdet(a).numpy()))


def test_linalg_errors_name_the_op_and_the_fix():
    with pytest.raises(ValueError, match=r"ember.linalg.inv: .*square"):
        LA.inv(ember.randn(2, 3))
    with pytest.raises(ValueError, match=r"ember.linalg.inv: .*singular"):
        LA.inv(ember.zeros(3, 3))
    with pytest.raises(ValueError, match=r"ember.linalg.cholesky: .*positive-definite"):
        LA.cholesky(-ember.eye(3))
    with pytest.raises(ValueError, match=r"ember.linalg.solve: .*shape"):
        LA.solve(ember.eye(3), ember.randn(4, 2))
    with pytest.raises(TypeError, match=r"ember.linalg.det: .*floating"):
        LA.det(ember.tensor([[1, 2], [3, 4]]))
    with pytest.raises(ValueError, match=r"ember.linalg.matrix_norm: ord"):
        LA.matrix_norm(ember.randn(3, 3), 3)
    with pytest.raises(ValueError, match=r"ember.linalg.svdvals: .*nan or inf"):
        LA.svdvals(ember.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"ember.linalg.svd: .*matrix"):
        LA.svd(ember.randn(3))
    with pytest.raises(ValueError, match=r"ember.linalg.norm: .*dim"):
        LA.norm(ember.randn(2, 2, 2), 1)
    q, r = LA.qr(ember.randn(4, 2, requires_grad=True), mode="complete")
    with pytest.raises(RuntimeError, match="complete"):
        q.sum().backward()
    q, r = LA.qr(ember.randn(4, 2, requires_grad=True), mode="r")
    assert q.shape == (0,)
    with pytest.raises(RuntimeError, match="mode='reduced'"):
        r.sum().backward()


def test_svd_gradient_of_singular_values_alone_matches_svdvals():
    a = ember.randn(4, 3, requires_grad=True)
    LA.svd(a, full_matrices=False).S.sum().backward()
    g1 = a.grad.numpy().copy()
    a.grad = None
    LA.svdvals(a).sum().backward()
    np.testing.assert_allclose(g1, a.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_linalg_is_exposed():
    assert ember.linalg is LA
    for name in LA.__all__:
        assert callable(getattr(LA, name)), name
    for name in ("det", "slogdet", "inv", "solve", "cholesky", "qr", "svdvals", "eigh", "pinv",
                 "lstsq", "vector_norm", "matrix_norm", "logdet"):
        assert callable(getattr(F, name)), name
    x = ember.eye(3)
    for name in ("det", "slogdet", "logdet", "inverse", "pinverse", "qr", "cholesky", "matrix_power"):
        assert callable(getattr(x, name)), name
