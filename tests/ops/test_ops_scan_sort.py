"""Parity (vs PyTorch, float32) and gradcheck (float64) for the scans (cumsum, cumprod, cummax,
cummin, logcumsumexp) and sorting ops (sort, argsort, topk, kthvalue, median, mode, unique): one Row
per op and case, special values (-0.0, nan, inf, zeros, ties) included."""
import numpy as np
import pytest

import ember
import ember.functional as F
from op_harness import (Row, table_tests, distinct, fixed, ints, positive,
                        randn, torch)

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

T = torch
nan, inf = np.nan, np.inf

ROWS = [
    # -- cumsum / cumprod
    Row("cumsum", lambda x: F.cumsum(x, 1), lambda x: T.cumsum(x, 1), [randn(3, 5)]),
    Row("cumsum_dim_kw", lambda x: F.cumsum(x, dim=0), lambda x: T.cumsum(x, dim=0), [randn(4, 2, 3)]),
    Row("cumsum_neg_axis_method", lambda x: x.cumsum(axis=-1), lambda x: x.cumsum(-1), [randn(2, 3, 4)]),
    Row("cumsum_flat", F.cumsum, lambda x: T.cumsum(x.reshape(-1), 0), [randn(3, 4)]),
    Row("cumsum_0d", lambda x: F.cumsum(x, 0), lambda x: T.cumsum(x, 0), [randn()]),
    Row("cumsum_special", lambda x: F.cumsum(x, 1), lambda x: T.cumsum(x, 1),
        [fixed([[1.0, inf, -inf, 2.0], [-0.0, -0.0, nan, 1.0]])], gradcheck=False),
    Row("cumsum_int", lambda x: F.cumsum(x, 0), lambda x: T.cumsum(x, 0), [ints(5, 6)], differentiable=False),
    Row("cumprod", lambda x: F.cumprod(x, 1), lambda x: T.cumprod(x, 1), [randn(3, 5)]),
    Row("cumprod_axis0", lambda x: x.cumprod(0), lambda x: x.cumprod(0), [positive(4, 3)]),
    # zeros: one, two, at the start and at the end of a row; the gradient must not divide by them
    Row("cumprod_zeros", lambda x: F.cumprod(x, 1), lambda x: T.cumprod(x, 1),
        [fixed([[2.0, 0.0, 3.0, 4.0, 0.5], [0.0, 1.5, 0.0, 2.0, 3.0], [1.5, 2.0, -1.0, 3.0, 0.0],
                [0.0, 0.0, 0.0, 2.0, 1.0]])]),
    Row("cumprod_flat", F.cumprod, lambda x: T.cumprod(x.reshape(-1), 0), [positive(2, 3)]),
    # -- cummax / cummin
    Row("cummax", lambda x: F.cummax(x, 1), lambda x: T.cummax(x, 1), [distinct(3, 6)]),
    Row("cummin_dim0", lambda x: F.cummin(x, dim=0), lambda x: T.cummin(x, 0), [distinct(5, 3)]),
    Row("cummax_method", lambda x: x.cummax(-1), lambda x: x.cummax(-1), [distinct(2, 3, 4)]),
    # ties (the latest index wins), nan (propagates, index follows the latest nan), +-inf
    Row("cummax_ties_nan", lambda x: F.cummax(x, 1), lambda x: T.cummax(x, 1),
        [fixed([[1.0, 3.0, 3.0, 2.0, 3.0, 5.0], [1.0, nan, 5.0, nan, 0.0, 7.0],
                [-inf, -inf, 0.0, -0.0, inf, inf]])], gradcheck=False),
    Row("cummin_ties_nan", lambda x: F.cummin(x, 1), lambda x: T.cummin(x, 1),
        [fixed([[3.0, 1.0, 1.0, 2.0, 1.0, 0.0], [1.0, nan, -5.0, nan, 0.0, -7.0],
                [inf, inf, 0.0, -0.0, -inf, -inf]])], gradcheck=False),
    # -- logcumsumexp
    Row("logcumsumexp", lambda x: F.logcumsumexp(x, 1), lambda x: T.logcumsumexp(x, 1), [randn(3, 6, scale=3)]),
    Row("logcumsumexp_dim0", lambda x: x.logcumsumexp(dim=0), lambda x: x.logcumsumexp(0), [randn(5, 2)]),
    # widely spread values: a shifted exp would underflow, a running logaddexp does not
    Row("logcumsumexp_spread", lambda x: F.logcumsumexp(x, 0), lambda x: T.logcumsumexp(x, 0),
        [fixed([-200.0, 0.0, 150.0, -300.0, 80.0])], gradcheck=False, fwd_rtol=1e-5),
    # -inf entries get a zero gradient (a leading -inf is left out: PyTorch's gradient there is nan)
    Row("logcumsumexp_inf", lambda x: F.logcumsumexp(x, 1), lambda x: T.logcumsumexp(x, 1),
        [fixed([[0.25, 0.5, -inf, 1.0], [2.0, -inf, -1.0, -inf]])], gradcheck=False),
    # -- sort / argsort
    Row("sort", lambda x: F.sort(x), lambda x: T.sort(x), [distinct(4, 6)]),
    Row("sort_desc_dim0", lambda x: F.sort(x, dim=0, descending=True),
        lambda x: T.sort(x, dim=0, descending=True), [distinct(5, 3)]),
    Row("sort_method_3d", lambda x: x.sort(1), lambda x: x.sort(1), [distinct(2, 5, 3)]),
    # ties keep their order (stable) in both directions; nan sorts last (first descending); -0.0 == 0.0
    Row("sort_stable_special", lambda x: F.sort(x, 1), lambda x: T.sort(x, dim=1, stable=True),
        [fixed([[2.0, 1.0, 2.0, nan, 1.0, -inf], [0.0, -0.0, 0.0, -0.0, inf, nan]])], gradcheck=False),
    Row("sort_stable_desc", lambda x: F.sort(x, 1, descending=True),
        lambda x: T.sort(x, dim=1, descending=True, stable=True),
        [fixed([[2.0, 1.0, 2.0, nan, 1.0, -inf], [0.0, -0.0, 0.0, -0.0, inf, nan]])], gradcheck=False),
    # only some columns hold ties: those are re-sorted stably, the others keep the fast order
    Row("sort_mixed_ties_dim0", lambda x: F.sort(x, 0), lambda x: T.sort(x, dim=0, stable=True),
        [fixed([[1.0, 0.3, 5.0, -0.0], [1.0, -2.0, 4.0, 0.0], [0.5, 0.7, nan, 2.0], [1.0, 0.1, 3.0, -1.0]])],
        gradcheck=False),
    Row("sort_mixed_ties_desc", lambda x: F.sort(x, 0, descending=True),
        lambda x: T.sort(x, dim=0, descending=True, stable=True),
        [fixed([[1.0, 0.3, 5.0, -0.0], [1.0, -2.0, 4.0, 0.0], [0.5, 0.7, nan, 2.0], [1.0, 0.1, 3.0, -1.0]])],
        gradcheck=False),
    # long rows of few distinct values: an unstable sort would reorder the ties
    Row("sort_many_ties", lambda x: F.sort(x, 1), lambda x: T.sort(x, dim=1, stable=True),
        [fixed(np.random.default_rng(3).integers(0, 3, (3, 200)) - 1.0)], gradcheck=False),
    Row("sort_many_ties_desc", lambda x: F.sort(x, 1, descending=True),
        lambda x: T.sort(x, dim=1, descending=True, stable=True),
        [fixed(np.random.default_rng(4).integers(0, 3, (3, 200)) * 0.5)], gradcheck=False),
    Row("sort_0d", F.sort, T.sort, [randn()]),
    Row("argsort", lambda x: F.argsort(x, 1), lambda x: T.argsort(x, dim=1, stable=True),
        [fixed([[3.0, 1.0, 3.0, 2.0, 1.0], [0.0, 0.0, -1.0, 5.0, 0.0]], no_grad="argsort returns indices only")],
        differentiable=False),
    Row("argsort_desc", lambda x: x.argsort(dim=0, descending=True),
        lambda x: T.argsort(x, dim=0, descending=True, stable=True),
        [fixed([[3.0, 1.0], [1.0, 1.0], [3.0, 2.0]], no_grad="argsort returns indices only")], differentiable=False),
    # -- topk
    Row("topk", lambda x: F.topk(x, 3), lambda x: T.topk(x, 3), [distinct(4, 7)]),
    Row("topk_smallest_dim0", lambda x: F.topk(x, 2, dim=0, largest=False),
        lambda x: T.topk(x, 2, dim=0, largest=False), [distinct(5, 3)]),
    Row("topk_method_all", lambda x: x.topk(5, 1), lambda x: x.topk(5, 1), [distinct(2, 5, 3)]),
    Row("topk_k1", lambda x: F.topk(x, 1), lambda x: T.topk(x, 1), [distinct(3, 4)]),
    Row("topk_nan_inf", lambda x: F.topk(x, 2), lambda x: T.topk(x, 2),
        [fixed([[1.0, nan, -2.0, 3.0], [inf, -inf, 0.5, 2.0]])], gradcheck=False),
    # -- kthvalue / median / mode
    Row("kthvalue", lambda x: F.kthvalue(x, 2), lambda x: T.kthvalue(x, 2), [distinct(3, 5)]),
    Row("kthvalue_keep", lambda x: F.kthvalue(x, 4, dim=0, keepdim=True),
        lambda x: T.kthvalue(x, 4, 0, keepdim=True), [distinct(4, 3)]),
    Row("median_all_odd", F.median, T.median, [distinct(3, 5)]),
    Row("median_all_even", lambda x: x.median(), lambda x: x.median(), [distinct(2, 4)]),
    Row("median_dim", lambda x: F.median(x, 1), lambda x: T.median(x, 1), [distinct(3, 4)]),
    Row("median_dim_keep", lambda x: F.median(x, dim=0, keepdim=True),
        lambda x: T.median(x, 0, keepdim=True), [distinct(5, 2)]),
    Row("median_nan", lambda x: F.median(x, 1), lambda x: T.median(x, 1),
        [fixed([[2.0, nan, 1.0, nan, 3.0], [2.0, 1.0, 0.0, 4.0, 3.0]])], gradcheck=False),
    Row("median_all_nan", F.median, T.median, [fixed([3.0, nan, 1.0])], gradcheck=False),
    Row("mode", lambda x: F.mode(x, 1), lambda x: T.mode(x, 1),
        [fixed([[2.0, 1.0, 2.0, 1.0, 3.0], [4.0, 4.0, 0.0, 4.0, -0.5], [1.0, 2.0, 3.0, 0.0, 5.0]])],
        gradcheck=False),
    Row("mode_dim0_keep", lambda x: F.mode(x, 0, keepdim=True), lambda x: T.mode(x, 0, keepdim=True),
        [fixed([[1.0, 2.0], [1.0, 3.0], [2.0, 3.0], [2.0, 2.0]])], gradcheck=False),
    # -- odd shapes and integer inputs
    Row("cumsum_empty_axis", lambda x: F.cumsum(x, 1), lambda x: T.cumsum(x, 1), [randn(3, 0)], gradcheck=False),
    Row("sort_empty_rows", lambda x: F.sort(x, 1), lambda x: T.sort(x, 1), [randn(0, 4)], gradcheck=False),
    Row("sort_1d", lambda x: F.sort(x, descending=True), lambda x: T.sort(x, descending=True), [distinct(7)]),
    Row("topk_1d_k0", lambda x: F.topk(x, 0), lambda x: T.topk(x, 0), [distinct(5)], gradcheck=False),
    Row("sort_int", lambda x: F.sort(x, 0), lambda x: T.sort(x, dim=0, stable=True), [ints(4, 6, 3)],
        differentiable=False),
    Row("cummax_int", lambda x: F.cummax(x, 1), lambda x: T.cummax(x, 1), [ints(4, 3, 6)], differentiable=False),
    Row("topk_int", lambda x: F.topk(x, 2, largest=False), lambda x: T.topk(x, 2, largest=False),
        [fixed(np.array([[5, 1, 9, 3], [0, 7, 2, 8]]))], differentiable=False),
    Row("mode_random_ints", lambda x: x.mode(), lambda x: x.mode(), [ints(3, 4, 9)], differentiable=False),
]


(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


# -- unique: not differentiable, several outputs -----------------------------------------------
@pytest.mark.parametrize("values", [
    [3.0, 1.0, 3.0, 2.0, 1.0, 1.0],
    [[0.0, -0.0, 2.0], [inf, -inf, 2.0]],
    [1.0, nan, nan, 0.0],
    [],
], ids=["plain", "signed_zero_inf", "nan_distinct", "empty"])
def test_unique_matches_torch(values):
    a = np.array(values, dtype=np.float32)
    e = F.unique(ember.Tensor(a), return_inverse=True, return_counts=True)
    t = T.unique(T.from_numpy(a), return_inverse=True, return_counts=True)
    for eo, to in zip(e, t):
        np.testing.assert_array_equal(eo.numpy(), to.numpy())
    np.testing.assert_array_equal(F.unique(ember.Tensor(a)).numpy(), T.unique(T.from_numpy(a)).numpy())


def test_unique_dim():
    a = np.array([[1, 2], [0, 5], [1, 2], [0, 5], [0, 1]], dtype=np.int64)
    e = ember.Tensor(a).unique(dim=0, return_inverse=True, return_counts=True)
    t = T.unique(T.from_numpy(a), dim=0, return_inverse=True, return_counts=True)
    for eo, to in zip(e, t):
        np.testing.assert_array_equal(eo.numpy(), to.numpy())


# -- named fields and errors ---------------------------------------------------------------------
def test_pairs_have_named_fields():
    x = ember.Tensor(np.array([[3.0, 1.0, 2.0]], dtype=np.float32))
    for out in (F.sort(x), F.topk(x, 2), F.kthvalue(x, 1), F.median(x, 1), F.mode(x), F.cummax(x, 1)):
        values, indices = out
        assert out.values is values and out.indices is indices
        assert indices.dtype == np.int64 and values.dtype == np.float32


def test_cumprod_zero_gradient_is_not_nan():
    x = ember.Tensor(np.array([0.0, 0.0, 2.0], dtype=np.float64), requires_grad=True)
    F.cumprod(x, 0).sum().backward()
    # d/dx0 (x0 + x0 x1 + x0 x1 x2) = 1 + x1 + x1 x2 = 1; d/dx1 = x0 + x0 x2 = 0
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0])


@pytest.mark.parametrize("call, match", [
    (lambda x: F.topk(x, 5), "k=5 is out of range"),
    (lambda x: F.kthvalue(x, 0), "k=0 is out of range"),
    (lambda x: F.cummax(x), "missing the axis"),
    (lambda x: F.sort(x, axis=0, dim=1), "give one of them"),
    (lambda x: F.sort(x, 2), "out of range"),
    (lambda x: F.logcumsumexp(ember.Tensor(np.arange(3)), 0), "floating-point"),
])
def test_errors(call, match):
    x = ember.Tensor(np.zeros((2, 4), dtype=np.float32))
    with pytest.raises((ValueError, TypeError), match=match):
        call(x)
