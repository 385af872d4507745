"""Parity (vs PyTorch, float32) and gradcheck (float64) for the indexing and scatter ops: gather,
take_along_dim, scatter (src / value / reduce), scatter_add, scatter_reduce (every reduction, with
and without the base), index_select/add/copy/fill, masked_fill/select/scatter, nonzero and put.
One Row per op and case; repeated indices, broadcasting, ties, zeros and nan/inf included."""
import numpy as np
import pytest

import ember
import ember.functional as F
from op_harness import Row, table_tests, Spec, distinct, fixed, ints, mask, randn, torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

T = torch
nan, inf = np.nan, np.inf


def distinct_index(n, *shape, axis=-1):
    """int64 indices in [0, n), all different along ``axis`` (so an overwriting scatter has no
    collisions and its result is defined)."""
    def make(rng, dt):
        full = list(shape)
        full[axis] = n
        idx = np.argsort(rng.random(full), axis=axis)
        return np.take(idx, np.arange(shape[axis]), axis=axis).astype(np.int64)
    return Spec(make, grad=False)


def value(v):
    """A 0-d float input (differentiable: a fill value that receives a gradient)."""
    return Spec(lambda rng, dt: np.asarray(v, dtype=dt), noncontig=False)


# values with ties inside the source and between the base and the source (amax/amin share the
# gradient equally among all of them, as PyTorch's scatter_reduce does)
TIE_BASE = [[1.0, 5.0, 2.0, 0.0], [3.0, 3.0, -1.0, 4.0]]
TIE_INDEX = np.array([[0, 0, 1, 3, 3], [1, 1, 2, 2, 0]])
TIE_SRC = [[1.0, 1.0, 5.0, 0.0, -2.0], [3.0, 2.0, -1.0, -1.0, 3.0]]
# zeros in the base and the source: none, one and two landing on one position
ZERO_BASE = [[2.0, 0.0, 1.5, 3.0], [1.0, 2.0, 0.5, -1.0]]
ZERO_INDEX = np.array([[0, 0, 1, 2, 3], [3, 3, 2, 0, 1]])
ZERO_SRC = [[0.0, 1.5, 2.0, 0.0, 1.25], [0.0, 0.0, 3.0, 2.0, 0.75]]

ROWS = [
    # -- gather / take_along_dim
    Row("gather", lambda x, i: F.gather(x, 1, i), lambda x, i: T.gather(x, 1, i), [randn(3, 5), ints(5, 3, 4)]),
    Row("gather_dim0_kw", lambda x, i: F.gather(x, dim=0, index=i), lambda x, i: T.gather(x, 0, i),
        [randn(4, 3), ints(4, 6, 3)]),
    Row("gather_smaller_index", lambda x, i: x.gather(1, i), lambda x, i: x.gather(1, i), [randn(4, 5), ints(5, 2, 3)]),
    Row("gather_repeated", lambda x, i: F.gather(x, -1, i), lambda x, i: T.gather(x, -1, i),
        [randn(2, 3), fixed(np.array([[0, 0, 0, 2], [1, 1, 2, 1]]))]),
    Row("gather_3d", lambda x, i: F.gather(x, 1, i), lambda x, i: T.gather(x, 1, i),
        [randn(2, 4, 3), ints(4, 2, 5, 3)]),
    Row("gather_special", lambda x, i: F.gather(x, 1, i), lambda x, i: T.gather(x, 1, i),
        [fixed([[nan, -0.0, inf], [-inf, 1.0, 0.0]]), fixed(np.array([[0, 1, 2, 1], [2, 0, 0, 1]]))],
        gradcheck=False),
    Row("gather_1d", lambda x, i: F.gather(x, 0, i), lambda x, i: T.gather(x, 0, i), [randn(5), ints(5, 8)]),
    Row("gather_empty_index", lambda x, i: F.gather(x, 1, i), lambda x, i: T.gather(x, 1, i),
        [randn(3, 4), ints(4, 3, 0)], gradcheck=False),
    Row("gather_int", lambda x, i: F.gather(x, 1, i), lambda x, i: T.gather(x, 1, i), [ints(9, 3, 4), ints(4, 3, 2)],
        differentiable=False),
    Row("take_along_dim", lambda x, i: F.take_along_dim(x, i, 1), lambda x, i: T.take_along_dim(x, i, 1),
        [randn(3, 5), ints(5, 3, 2)]),
    Row("take_along_dim_broadcast", lambda x, i: x.take_along_dim(i, dim=1),
        lambda x, i: x.take_along_dim(i, dim=1), [randn(1, 5), ints(5, 3, 4)]),
    Row("take_along_dim_broadcast_index", lambda x, i: F.take_along_dim(x, i, 0),
        lambda x, i: T.take_along_dim(x, i, 0), [randn(4, 3), ints(4, 2, 1)]),
    Row("take_along_dim_flat", F.take_along_dim, T.take_along_dim, [randn(3, 4), ints(12, 5)]),
    # -- scatter
    Row("scatter_src", lambda x, i, s: F.scatter(x, 1, i, s), lambda x, i, s: T.scatter(x, 1, i, s),
        [randn(3, 5), distinct_index(5, 3, 3), randn(3, 3)]),
    # a src larger than the index: only its leading block is used (PyTorch has no gradient here)
    Row("scatter_src_bigger", lambda x, i, s: F.scatter(x, 1, i, s), lambda x, i, s: T.scatter(x, 1, i, s),
        [randn(3, 5), distinct_index(5, 2, 3), randn(3, 4)], differentiable=False),
    Row("scatter_src_dim0", lambda x, i, s: x.scatter(0, i, s), lambda x, i, s: x.scatter(0, i, s),
        [randn(5, 3), distinct_index(5, 2, 3, axis=0), randn(2, 3)]),
    Row("scatter_value", lambda x, i: F.scatter(x, 1, i, value=2.5), lambda x, i: T.scatter(x, 1, i, value=2.5),
        [randn(3, 5), distinct_index(5, 3, 2)]),
    Row("scatter_scalar_src", lambda x, i: F.scatter(x, 1, i, -0.0), lambda x, i: T.scatter(x, 1, i, -0.0),
        [randn(3, 5), distinct_index(5, 3, 2)]),
    # reduce= (PyTorch has no gradient for scatter(reduce=...); scatter_reduce is the same op and has one)
    Row("scatter_reduce_add", lambda x, i, s: F.scatter(x, 1, i, s, reduce="add"),
        lambda x, i, s: T.scatter_reduce(x, 1, i, s, "sum"), [randn(3, 5), ints(5, 3, 6), randn(3, 6)]),
    Row("scatter_reduce_multiply", lambda x, i, s: F.scatter(x, 1, i, s, reduce="multiply"),
        lambda x, i, s: T.scatter_reduce(x, 1, i, s, "prod"), [randn(3, 5), ints(5, 3, 6), randn(3, 6)]),
    Row("scatter_add_1d", lambda x, i, s: F.scatter_add(x, 0, i, s), lambda x, i, s: T.scatter_add(x, 0, i, s),
        [randn(4), ints(4, 9), randn(9)]),
    Row("scatter_add", lambda x, i, s: F.scatter_add(x, 1, i, s), lambda x, i, s: T.scatter_add(x, 1, i, s),
        [randn(3, 5), ints(5, 3, 7), randn(3, 7)]),
    Row("scatter_add_dim0_bigger_src", lambda x, i, s: x.scatter_add(0, i, s), lambda x, i, s: x.scatter_add(0, i, s),
        [randn(4, 3), ints(4, 5, 2), randn(6, 3)], differentiable=False),
    Row("scatter_add_dim0", lambda x, i, s: x.scatter_add(0, i, s), lambda x, i, s: x.scatter_add(0, i, s),
        [randn(4, 3), ints(4, 5, 2), randn(5, 2)]),
    Row("scatter_add_special", lambda x, i, s: F.scatter_add(x, 1, i, s), lambda x, i, s: T.scatter_add(x, 1, i, s),
        [fixed([[1.0, -0.0, 0.0], [inf, 2.0, nan]]), fixed(np.array([[1, 1, 2], [0, 1, 1]])),
         fixed([[-0.0, -0.0, inf], [-inf, 1.0, 2.0]])], gradcheck=False),
]

for _red in ("sum", "prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        _tag = "" if _inc else "_noself"
        ROWS += [
            Row(f"scatter_reduce_{_red}{_tag}",
                lambda x, i, s, r=_red, inc=_inc: F.scatter_reduce(x, 1, i, s, r, include_self=inc),
                lambda x, i, s, r=_red, inc=_inc: T.scatter_reduce(x, 1, i, s, r, include_self=inc),
                [distinct(3, 5), ints(5, 3, 6), distinct(3, 6)] if _red in ("amax", "amin")
                else [randn(3, 5), ints(5, 3, 6), randn(3, 6)]),
            Row(f"scatter_reduce_{_red}{_tag}_dim0_method",
                lambda x, i, s, r=_red, inc=_inc: x.scatter_reduce(0, i, s, reduce=r, include_self=inc),
                lambda x, i, s, r=_red, inc=_inc: x.scatter_reduce(0, i, s, reduce=r, include_self=inc),
                [randn(4, 3), ints(4, 5, 2), randn(5, 2)]),
        ]
        if _red in ("amax", "amin"):
            ROWS.append(Row(f"scatter_reduce_{_red}{_tag}_ties",
                            lambda x, i, s, r=_red, inc=_inc: F.scatter_reduce(x, 1, i, s, r, include_self=inc),
                            lambda x, i, s, r=_red, inc=_inc: T.scatter_reduce(x, 1, i, s, r, include_self=inc),
                            [fixed(TIE_BASE), fixed(TIE_INDEX), fixed(TIE_SRC)], gradcheck=False))
        if _red == "prod":
            ROWS.append(Row(f"scatter_reduce_prod{_tag}_zeros",
                            lambda x, i, s, inc=_inc: F.scatter_reduce(x, 1, i, s, "prod", include_self=inc),
                            lambda x, i, s, inc=_inc: T.scatter_reduce(x, 1, i, s, "prod", include_self=inc),
                            [fixed(ZERO_BASE), fixed(ZERO_INDEX), fixed(ZERO_SRC)], gradcheck=False))

ROWS += [
    # -- index_* along one axis
    Row("index_select", lambda x, i: F.index_select(x, 0, i), lambda x, i: T.index_select(x, 0, i),
        [randn(4, 3), fixed(np.array([0, 3, 3, 1]))]),
    Row("index_select_dim1", lambda x, i: x.index_select(dim=1, index=i), lambda x, i: x.index_select(1, i),
        [randn(2, 5, 3), ints(5, 7)]),
    Row("index_select_negative", lambda x, i: F.index_select(x, -1, i), lambda x, i: T.index_select(x, -1, i),
        [randn(3, 4), fixed(np.array([2, 0]))]),
    Row("index_add", lambda x, i, s: F.index_add(x, 0, i, s), lambda x, i, s: T.index_add(x, 0, i, s),
        [randn(4, 3), fixed(np.array([0, 2, 2])), randn(3, 3)]),
    Row("index_add_alpha_dim1", lambda x, i, s: x.index_add(1, i, s, alpha=-2.0),
        lambda x, i, s: x.index_add(1, i, s, alpha=-2.0), [randn(2, 5), ints(5, 4), randn(2, 4)]),
    Row("index_copy", lambda x, i, s: F.index_copy(x, 0, i, s), lambda x, i, s: T.index_copy(x, 0, i, s),
        [randn(4, 3), fixed(np.array([3, 0])), randn(2, 3)]),
    Row("index_copy_dim1", lambda x, i, s: x.index_copy(1, i, s), lambda x, i, s: x.index_copy(1, i, s),
        [randn(2, 5, 2), fixed(np.array([4, 1, 2])), randn(2, 3, 2)]),
    Row("index_fill", lambda x, i: F.index_fill(x, 0, i, -1.5), lambda x, i: T.index_fill(x, 0, i, -1.5),
        [randn(4, 3), fixed(np.array([1, 3, 1]))]),
    Row("index_fill_tensor_value", lambda x, i, v: x.index_fill(1, i, v), lambda x, i, v: x.index_fill(1, i, v),
        [randn(3, 4), fixed(np.array([0, 2])), value(0.75)]),
    Row("index_fill_nan", lambda x, i: F.index_fill(x, 1, i, nan), lambda x, i: T.index_fill(x, 1, i, nan),
        [randn(3, 4), fixed(np.array([3]))], gradcheck=False),
    # -- masks
    Row("masked_fill", lambda x, m: F.masked_fill(x, m, 0.5), lambda x, m: T.masked_fill(x, m, 0.5),
        [randn(3, 4), mask(3, 4)]),
    Row("masked_fill_broadcast_mask", lambda x, m: x.masked_fill(m, -inf), lambda x, m: x.masked_fill(m, -inf),
        [randn(3, 4), mask(4)], gradcheck=False),
    Row("masked_fill_nan_negzero", lambda x, m: F.masked_fill(F.masked_fill(x, m, nan), ~m, -0.0),
        lambda x, m: T.masked_fill(T.masked_fill(x, m, nan), ~m, -0.0), [randn(2, 3), mask(2, 3)],
        gradcheck=False),
    Row("masked_fill_tensor_value", lambda x, m, v: F.masked_fill(x, m, v), lambda x, m, v: T.masked_fill(x, m, v),
        [randn(3, 4), mask(3, 4), value(2.0)]),
    Row("masked_select", lambda x, m: F.masked_select(x, m), lambda x, m: T.masked_select(x, m),
        [randn(3, 4), mask(3, 4)]),
    Row("masked_select_broadcast", lambda x, m: x.masked_select(m), lambda x, m: x.masked_select(m),
        [randn(3, 1), mask(3, 4)]),
    Row("masked_scatter", lambda x, m, s: F.masked_scatter(x, m, s), lambda x, m, s: T.masked_scatter(x, m, s),
        [randn(3, 4), mask(3, 4), randn(12)]),
    Row("masked_scatter_broadcast_more_src", lambda x, m, s: x.masked_scatter(m, s),
        lambda x, m, s: x.masked_scatter(m, s), [randn(3, 4), mask(4), randn(4, 5)]),
    # -- nonzero (-0.0 is zero, nan is not), put
    Row("nonzero", F.nonzero, T.nonzero,
        [fixed([[0.0, -0.0, 1.0], [nan, 0.0, -inf]], no_grad="nonzero returns indices")], differentiable=False),
    Row("nonzero_tuple", lambda x: x.nonzero(as_tuple=True), lambda x: x.nonzero(as_tuple=True),
        [ints(2, 3, 4, 2)], differentiable=False),
    Row("nonzero_0d", F.nonzero, T.nonzero, [fixed(1.0, no_grad="nonzero returns indices")], differentiable=False),
    Row("put", lambda x, i, s: F.put(x, i, s), lambda x, i, s: T.put(x, i, s),
        [randn(3, 4), fixed(np.array([0, 5, -1])), randn(3)]),
    Row("put_accumulate", lambda x, i, s: x.put(i, s, accumulate=True), lambda x, i, s: x.put(i, s, accumulate=True),
        [randn(3, 4), fixed(np.array([[1, 1], [5, -12]])), randn(2, 2)]),
]


(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


def test_scatter_overwritten_base_gets_no_gradient():
    x = ember.Tensor(np.ones((2, 3)), requires_grad=True)
    s = ember.Tensor(np.full((2, 1), 5.0), requires_grad=True)
    F.scatter(x, 1, np.array([[2], [0]]), s).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1, 0], [0, 1, 1]])
    np.testing.assert_array_equal(s.grad.numpy(), [[1], [1]])


def test_amax_ties_share_gradient_equally():
    x = ember.Tensor(np.array([3.0, 0.0]), requires_grad=True)
    s = ember.Tensor(np.array([3.0, 3.0, 1.0]), requires_grad=True)
    F.scatter_reduce(x, 0, np.array([0, 0, 0]), s, "amax").sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / 3, 1.0])
    np.testing.assert_allclose(s.grad.numpy(), [1 / 3, 1 / 3, 0.0])


@pytest.mark.parametrize("call, error, match", [
    (lambda x: F.gather(x, 1, np.array([[0, 4]])), IndexError, "index 4 is out of bounds for axis 1 of size 3"),
    (lambda x: F.gather(x, 1, np.array([[-1]])), IndexError, "out of bounds"),
    (lambda x: F.gather(x, 1, np.array([0, 1])), ValueError, "as many dimensions"),
    (lambda x: F.gather(x, 1, np.array([[0.0]])), TypeError, "must hold integers"),
    (lambda x: F.gather(x, 1, np.zeros((3, 1), dtype=np.int64)), ValueError, "larger than the input"),
    (lambda x: F.scatter(x, 1, np.array([[0]])), TypeError, "src"),
    (lambda x: F.scatter_reduce(x, 1, np.array([[0]]), x, "max"), ValueError, "'amax'"),
    (lambda x: F.index_select(x, 0, np.array([[0]])), ValueError, "0-d or 1-d"),
    (lambda x: F.index_copy(x, 0, np.array([0]), np.zeros((1, 2))), ValueError, "must have shape"),
    (lambda x: F.masked_fill(x, np.array([1, 0, 1]), 0.0), TypeError, "bool"),
    (lambda x: F.masked_fill(x, np.array([True, False]), 0.0), ValueError, "does not broadcast"),
    (lambda x: F.masked_scatter(x, np.ones((2, 3), bool), np.zeros(5)), ValueError, "at least as many"),
    (lambda x: F.put(x, np.array([6]), np.zeros(1)), IndexError, "out of bounds"),
    (lambda x: F.gather(x, axis=0, dim=1, index=np.zeros((1, 1), np.int64)), TypeError, "give one of them"),
])
def test_errors(call, error, match):
    x = ember.Tensor(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(error, match=match):
        call(x)
