"""PyTorch's Tensor methods added in ember.ops.tensor_methods / tensor_stats, compared with PyTorch:
differentiable ones through the table harness (forward, gradients, special values, gradcheck),
the rest (metadata, counting, constructors, in-place, errors) in plain tests."""
import numpy as np
import pytest
import torch

import ember
import ember.functional as F
from tests.support.op_harness import (Row, away_from_zero, const, distinct, fixed, mask, positive,
                                      randn, table_tests)

E = ember.Tensor
nan = float("nan")
_WITH_NAN = np.array([[0.3, nan, -1.2, 2.0, 0.7], [nan, nan, nan, nan, nan],
                      [1.5, -0.4, nan, 0.9, -2.2]])

ROWS = [
    Row("mm", lambda a, b: a.mm(b), lambda a, b: a.mm(b), [randn(3, 4), randn(4, 5)]),
    Row("bmm", F.bmm, torch.bmm, [randn(2, 3, 4), randn(2, 4, 2)]),
    Row("mv", lambda a, v: a.mv(v), lambda a, v: a.mv(v), [randn(3, 4), randn(4)]),
    Row("addmm", lambda i, a, b: i.addmm(a, b, beta=0.5, alpha=2.0),
        lambda i, a, b: i.addmm(a, b, beta=0.5, alpha=2.0), [randn(1, 5), randn(3, 4), randn(4, 5)]),
    Row("addmm_beta0", lambda i, a, b: F.addmm(i, a, b, beta=0),
        lambda i, a, b: torch.addmm(i, a, b, beta=0), [randn(3, 5), randn(3, 4), randn(4, 5)]),
    Row("addmv", lambda i, a, v: i.addmv(a, v, alpha=-1.5), lambda i, a, v: i.addmv(a, v, alpha=-1.5),
        [randn(3), randn(3, 4), randn(4)]),
    Row("baddbmm", lambda i, a, b: i.baddbmm(a, b, beta=2.0), lambda i, a, b: i.baddbmm(a, b, beta=2.0),
        [randn(2, 1, 2), randn(2, 3, 4), randn(2, 4, 2)]),
    Row("addcmul", lambda i, a, b: i.addcmul(a, b, value=0.5), lambda i, a, b: i.addcmul(a, b, value=0.5),
        [randn(3, 4), randn(4), randn(3, 1)]),
    Row("addcdiv", lambda i, a, b: F.addcdiv(i, a, b, value=-2.0),
        lambda i, a, b: torch.addcdiv(i, a, b, value=-2.0), [randn(3, 4), randn(3, 4), positive(4)]),
    Row("t", lambda x: x.t(), lambda x: x.t(), [randn(3, 4)]),
    Row("contiguous", lambda x: x.mT.contiguous(), lambda x: x.mT.contiguous(), [randn(3, 4)]),
    Row("where_method", lambda x, c, y: x.where(c, y), lambda x, c, y: x.where(c, y),
        [randn(3, 4), mask(3, 4), randn(4)]),
    Row("expand_as", lambda x, y: x.expand_as(y), lambda x, y: x.expand_as(y),
        [randn(3, 1), const(randn(2, 3, 4))]),
    Row("reshape_as", lambda x, y: x.reshape_as(y) * 1, lambda x, y: x.reshape_as(y) * 1,
        [randn(3, 4), const(randn(2, 6))]),
    Row("type_as_float64", lambda x: x.type_as(E.wrap(np.zeros(1))) * 2,
        lambda x: x.type_as(torch.zeros(1, dtype=torch.float64)) * 2, [randn(3)]),
    Row("square", F.square, torch.square, [randn(3, 4)]),
    Row("reciprocal", lambda x: x.reciprocal(), lambda x: x.reciprocal(), [away_from_zero(3, 4)]),
    Row("clamp_min", lambda x: x.clamp_min(0.25), lambda x: x.clamp_min(0.25), [distinct(3, 4)]),
    Row("clamp_max_tensor", lambda x, m: x.clamp_max(m), lambda x, m: x.clamp_max(m),
        [distinct(3, 4), const(randn(3, 4, scale=3.0))]),
    Row("unbind", lambda x: F.unbind(x, 1), lambda x: torch.unbind(x, 1), [randn(2, 3, 2)]),
    Row("select", lambda x: x.select(-1, -2), lambda x: x.select(-1, -2), [randn(2, 3, 4)]),
    Row("trace", F.trace, torch.trace, [randn(3, 5)]),
    Row("diff", lambda x: x.diff(), lambda x: x.diff(), [randn(3, 5)]),
    Row("diff_n2_dim0_pre_app", lambda x, p, a: F.diff(x, 2, 0, p, a),
        lambda x, p, a: torch.diff(x, 2, 0, p, a), [randn(3, 4), randn(1, 4), randn(2, 4)]),
    # ember's default dim is the first of size 3 (torch.cross's deprecated default: it warns)
    Row("cross_default_dim", lambda a, b: a.cross(b), lambda a, b: a.cross(b, dim=1),
        [randn(4, 3, 3), randn(4, 3, 3)]),
    Row("dist", F.dist, torch.dist, [randn(3, 4), randn(4)]),
    Row("dist_p1", lambda a, b: a.dist(b, 1), lambda a, b: a.dist(b, 1), [randn(3, 4), randn(3, 4)]),
    Row("renorm", lambda x: x.renorm(2, 1, 1.0), lambda x: x.renorm(2, 1, 1.0), [randn(3, 4, 2)]),
    Row("renorm_p1_dim0", lambda x: x.renorm(1, 0, 2.5), lambda x: x.renorm(1, 0, 2.5),
        [away_from_zero(3, 4)]),
    Row("nansum", lambda x: F.nansum(x, dim=1), lambda x: torch.nansum(x, dim=1), [fixed(_WITH_NAN)]),
    Row("nansum_all", lambda x: x.nansum(), lambda x: x.nansum(), [randn(3, 4)]),
    Row("nanmean", lambda x: F.nanmean(x, 1, keepdim=True), lambda x: torch.nanmean(x, 1, keepdim=True),
        [fixed(_WITH_NAN)], gradcheck=False,
        note="nan inputs: finite differences mean nothing (gradients still compared with torch)"),
    Row("nanmean_all", lambda x: x.nanmean(), lambda x: x.nanmean(), [randn(3, 4)]),
    # values only: the index PyTorch returns for an all-nan row depends on its nth_element
    Row("nanmedian_dim", lambda x: x.nanmedian(1).values, lambda x: x.nanmedian(1).values,
        [fixed(_WITH_NAN)], gradcheck=False,
        note="nan inputs: finite differences mean nothing (gradients still compared with torch)"),
    Row("nanmedian_dim_random", lambda x: x.nanmedian(0, keepdim=True),
        lambda x: x.nanmedian(0, keepdim=True), [distinct(4, 3)],
        no_special="-0.0 and 0.0 tie: which one's index is returned is unspecified"),
    Row("nanmedian_all", lambda x: x.nanmedian(), lambda x: x.nanmedian(), [distinct(3, 4)],
        no_special="-0.0 and 0.0 tie: which one gets the gradient is unspecified"),
    Row("aminmax", lambda x: x.aminmax(dim=1), lambda x: tuple(x.aminmax(dim=1)), [distinct(3, 4)]),
    Row("aminmax_all", lambda x: F.aminmax(x), lambda x: tuple(torch.aminmax(x)), [distinct(3, 4)]),
    Row("index_put", lambda x, v: x.index_put((E(np.array([0, 2])), E(np.array([1, 3]))), v),
        lambda x, v: x.index_put((torch.tensor([0, 2]), torch.tensor([1, 3])), v), [randn(3, 4), randn(2)]),
    Row("index_put_accumulate", lambda x, v: F.index_put(x, (E(np.array([0, 2, 0])),), v, accumulate=True),
        lambda x, v: x.index_put((torch.tensor([0, 2, 0]),), v, accumulate=True), [randn(3, 4), randn(4)]),
    Row("index_put_mask", lambda x, m: x.index_put((m,), 1.5),
        lambda x, m: x.index_put((m,), torch.tensor(1.5)),
        [randn(3, 4), mask(3, 4)]),
]

_Q = [0.0, 0.3, 0.5, 1.0]
_NAN_NOTE = "nan inputs: finite differences mean nothing (gradients still compared with torch)"
for mode in ("linear", "lower", "higher", "midpoint", "nearest"):
    ROWS.append(Row(f"quantile_{mode}",
                    lambda x, m=mode: F.quantile(x, E.wrap(np.array(_Q, x.dtype)), 1, interpolation=m),
                    lambda x, m=mode: torch.quantile(x, torch.tensor(_Q), 1, interpolation=m),
                    [distinct(3, 7)]))
    ROWS.append(Row(f"nanquantile_{mode}",
                    lambda x, m=mode: x.nanquantile(0.4, 1, keepdim=True, interpolation=m),
                    lambda x, m=mode: x.nanquantile(0.4, 1, keepdim=True, interpolation=m),
                    [fixed(_WITH_NAN)], gradcheck=False, note=_NAN_NOTE))
ROWS.append(Row("nanquantile_random", lambda x: F.nanquantile(x, 0.6, dim=0),
                lambda x: torch.nanquantile(x, 0.6, dim=0), [distinct(5, 3)]))
ROWS.append(Row("quantile_all_keepdim", lambda x: x.quantile(0.75, keepdim=True),
                lambda x: x.quantile(0.75, keepdim=True), [distinct(2, 3, 4)]))
ROWS.append(Row("quantile_nan_row", lambda x: F.quantile(x, 0.5, dim=1),
                lambda x: torch.quantile(x, 0.5, dim=1), [fixed(_WITH_NAN)], gradcheck=False, note=_NAN_NOTE))

(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


# -- plain tests: metadata, non-differentiable ops, constructors, in-place, errors ----------------
def _pair(a):
    a = np.asarray(a)
    return E.wrap(a.copy()), torch.from_numpy(a.copy())


def _same(e, t):
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    assert e.shape == t.shape and e.dtype == t.dtype, (e.shape, e.dtype, t.shape, t.dtype)
    np.testing.assert_array_equal(e.numpy(), t)


def test_metadata_matches_torch():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    e, t = _pair(a)
    assert (e.dim(), e.ndimension(), e.numel(), e.nelement(), e.element_size()) == \
        (t.dim(), t.ndimension(), t.numel(), t.nelement(), t.element_size())
    assert e.stride() == t.stride() and e.stride(-1) == t.stride(-1) == 1
    assert e.mT.stride() == t.mT.stride() and not e.mT.is_contiguous() and e.is_contiguous()
    assert e[1:, 1:].storage_offset() == t[1:, 1:].storage_offset() == 16
    assert e.storage_offset() == 0
    assert e.contiguous() is e
    c = e.mT.contiguous()
    assert c.is_contiguous() and c.stride() == t.mT.contiguous().stride()
    assert e.is_floating_point() and not e.long().is_floating_point() and not e.is_complex()
    with pytest.raises(IndexError):
        e.stride(3)


def test_t_and_products_reject_what_torch_rejects():
    assert E.wrap(np.ones(3, np.float32)).t().shape == (3,)
    with pytest.raises(ValueError, match="<= 2 dimensions"):
        E.wrap(np.ones((2, 2, 2))).t()
    a = E.wrap(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="cannot be multiplied"):
        a.mm(a)
    with pytest.raises(TypeError, match="same dtype"):
        a.mm(E.wrap(np.ones((3, 2))))
    with pytest.raises(ValueError, match="3-D"):
        F.bmm(a, a)
    with pytest.raises(ValueError, match="broadcast"):
        F.addmm(E.wrap(np.ones((4, 2), np.float32)), a, a.t())
    with pytest.raises(TypeError, match="integer division"):
        F.addcdiv(a, E.wrap(np.ones(3, np.int64)), E.wrap(np.ones(3, np.int64)))


def test_comparisons_and_logical_match_torch():
    rng = np.random.default_rng(0)
    e1, t1 = _pair(rng.integers(0, 3, (3, 4)).astype(np.float32))
    e2, t2 = _pair(rng.integers(0, 3, (4,)).astype(np.float32))
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or"):
        _same(getattr(e1, name)(e2), getattr(t1, name)(t2))
    _same(e1.eq(1.0), t1.eq(1.0))
    _same(e1.logical_not(), t1.logical_not())


def test_equal_and_allclose_match_torch():
    a = np.array([1.0, nan, 3.0], np.float32)
    e, t = _pair(a)
    assert e.equal(e) == torch.equal(t, t) is False
    b = np.array([1.0, 2.0, 3.0], np.float32)
    eb, tb = _pair(b)
    assert eb.equal(eb.clone()) is True and eb.equal(eb[:2]) is False
    assert eb.equal(E.wrap(np.array([1, 2, 3]))) == torch.equal(tb, torch.tensor([1, 2, 3]))
    assert eb.allclose(eb + 1e-7) == tb.allclose(tb + 1e-7) is True
    assert e.allclose(e) == t.allclose(t) is False
    assert e.allclose(e, equal_nan=True) == t.allclose(t, equal_nan=True) is True
    assert ember.allclose(eb, eb + 0.1, atol=0.2) and not ember.allclose(eb, eb + 0.1)
    assert not hasattr(ember, "equal")     # ember.functional.equal is the elementwise ==


def test_type_casts_and_new_constructors():
    e, t = _pair(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert e.type() == "ember.float32"
    assert e.type(e.type()) is e
    assert e.type("torch.DoubleTensor").dtype == np.float64 == e.type(ember.float64).dtype
    assert e.type("int16").dtype == np.int16 and e.type("ember.int8").dtype == np.int8
    for name in ("byte", "char", "short"):
        _same(getattr(e, name)(), getattr(t, name)())
    with pytest.raises(TypeError, match="float16"):
        e.bfloat16()
    _same(e.new_zeros(2, 5), t.new_zeros(2, 5))
    _same(e.new_ones((3,), dtype="int64"), t.new_ones((3,), dtype=torch.int64))
    _same(e.new_full((2, 2), 7.5), t.new_full((2, 2), 7.5))
    assert e.new_empty(4, 1).shape == (4, 1) and e.new_empty(4, 1).dtype == np.float32
    src = np.array([1, 2, 3])
    n = e.new_tensor(src)
    _same(n, t.new_tensor(src))
    src[0] = 9
    assert n.numpy()[0] == 1                                  # a copy
    g = e.new_zeros(2, requires_grad=True)
    assert g.requires_grad and g.is_leaf
    with pytest.raises(ValueError, match="non-negative"):
        e.new_zeros(-1)


def test_dtype_rules_of_small_ops():
    for dt in (np.int32, np.int64, np.bool_):
        e, t = _pair(np.array([1, 0, 1]).astype(dt))
        _same(e.square(), t.square())
        _same(ember.reciprocal(e), torch.reciprocal(t))
        _same(e.nansum(), t.nansum())
    e, t = _pair(np.arange(9, dtype=np.int32).reshape(3, 3))
    _same(e.trace(), t.trace())
    _same(e.count_nonzero(), t.count_nonzero())
    _same(ember.count_nonzero(e, dim=(0, 1)), torch.count_nonzero(t, dim=(0, 1)))
    _same(e.count_nonzero(1), t.count_nonzero(1))
    with pytest.raises(ValueError, match="matrix"):
        E.wrap(np.ones((2, 2, 2))).trace()
    with pytest.raises(TypeError, match="floating"):
        e.nanmean()


def test_unbind_select_diff_edge_cases():
    e, t = _pair(np.arange(12, dtype=np.float32).reshape(3, 4))
    for eo, to in zip(e.unbind(-1), t.unbind(-1)):
        _same(eo, to)
    assert len(ember.unbind(e)) == 3
    with pytest.raises(IndexError):
        e.select(1, 4)
    with pytest.raises(IndexError):
        e.select(2, 0)
    eb, tb = _pair(np.array([True, False, False, True]))
    _same(eb.diff(), tb.diff())
    _same(e.diff(n=0), t.diff(n=0))
    _same(e.diff(n=5), t.diff(n=5))
    _same(ember.diff(e, dim=0, append=e), torch.diff(t, dim=0, append=t))
    with pytest.raises(ValueError, match="same number of dimensions"):
        e.diff(prepend=E.wrap(np.ones(4, np.float32)))


def test_quantile_forward_all_modes_match_torch():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 9)).astype(np.float32)
    a[0, 2] = nan
    a[2, :] = nan
    e, t = _pair(a)
    # ranks landing on x.5 exercise 'nearest' (half to even) and 'midpoint'
    q = np.array([0.0, 0.0625, 0.1875, 0.25, 0.5, 0.8125, 0.9, 1.0], np.float32)
    eq, tq = _pair(q)
    for mode in ("linear", "lower", "higher", "midpoint", "nearest"):
        for dim in (None, 1, 0):
            for fn in ("quantile", "nanquantile"):
                got = getattr(e, fn)(eq, dim, interpolation=mode)
                want = getattr(t, fn)(tq, dim, interpolation=mode)
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, err_msg=f"{fn} {mode} {dim}")
                assert got.shape == tuple(want.shape)
    _same(ember.quantile(e, 0.5, dim=1, keepdim=True), torch.quantile(t, 0.5, dim=1, keepdim=True))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        e.quantile(1.5)
    with pytest.raises(TypeError, match="float32 or float64"):
        E.wrap(np.arange(3)).quantile(0.5)
    with pytest.raises(TypeError, match="dtype"):
        e.quantile(E.wrap(np.array([0.5])))
    with pytest.raises(ValueError, match="interpolation"):
        e.quantile(0.5, interpolation="cubic")


def test_nanmedian_and_aminmax():
    a = np.array([[1.0, nan, 3.0, 2.0], [nan, nan, nan, nan], [4.0, 1.0, nan, nan]], np.float32)
    e, t = _pair(a)
    _same(e.nanmedian(), t.nanmedian())
    for k in (False, True):
        ev, ei = e.nanmedian(1, keepdim=k)
        tv, ti = t.nanmedian(1, keepdim=k)
        np.testing.assert_array_equal(ev.numpy(), tv.numpy())
        _same(ei[[0, 2]], ti[[0, 2]])       # an all-nan row's index is one of its nans
    ei_, ti_ = _pair(np.array([[3, 1, 2], [5, 5, 4]]))
    _same(ei_.nanmedian(1).values, ti_.nanmedian(1).values)
    mn, mx = ember.aminmax(e[2:, :2], keepdim=True)
    tmn, tmx = torch.aminmax(t[2:, :2], keepdim=True)
    _same(mn, tmn)
    _same(mx, tmx)
    assert e.aminmax(dim=0).max.shape == (4,)


def test_bincount_matches_torch():
    x = np.array([0, 3, 1, 3, 3])
    e, t = _pair(x)
    _same(e.bincount(), t.bincount())
    _same(ember.bincount(e, minlength=7), torch.bincount(t, minlength=7))
    for w in (np.array([0.5, 1, 2, 3, 4], np.float32), np.array([1, 2, 3, 4, 5]), np.arange(5.0)):
        ew, tw = _pair(w)
        got, want = e.bincount(ew), t.bincount(tw)
        assert got.dtype == want.numpy().dtype
        np.testing.assert_allclose(got.numpy(), want.numpy())
    _same(E.wrap(np.zeros(0, np.int64)).bincount(), torch.zeros(0, dtype=torch.int64).bincount())
    with pytest.raises(ValueError, match="non-negative"):
        E.wrap(np.array([1, -1])).bincount()
    with pytest.raises(ValueError, match="1-d"):
        E.wrap(np.ones((2, 2), np.int64)).bincount()


def test_histc_matches_torch():
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(200) * 2).astype(np.float32)
    a[:3] = [-1.0, 1.0, 0.5]                       # on the edges of [-1, 1]
    e, t = _pair(a)
    for kw in ({}, {"bins": 7}, {"bins": 8, "min": -1, "max": 1}, {"bins": 3, "min": 5, "max": 6}):
        _same(e.histc(**kw), t.histc(**kw))
    _same(ember.histc(E.wrap(np.full(4, 2.0, np.float32)), bins=4), torch.histc(torch.full((4,), 2.0), bins=4))
    b = a.copy()
    b[5] = nan
    eb, tb = _pair(b)
    _same(eb.histc(10, -2, 2), tb.histc(10, -2, 2))
    with pytest.raises(ValueError, match="not finite"):
        eb.histc()
    with pytest.raises(TypeError, match="floating"):
        E.wrap(np.arange(3)).histc()


def test_unique_consecutive_matches_torch():
    e, t = _pair(np.array([1, 1, 2, 2, 3, 1, 1, 2]))
    _same(e.unique_consecutive(), t.unique_consecutive())
    for got, want in zip(ember.unique_consecutive(e, True, True), torch.unique_consecutive(t, True, True)):
        _same(got, want)
    m = np.array([[1, 1, 2, 2], [1, 1, 2, 3], [1, 1, 2, 2]])
    e2, t2 = _pair(m)
    for d in (0, 1, -1):
        for got, want in zip(e2.unique_consecutive(True, True, d), t2.unique_consecutive(True, True, d)):
            _same(got, want)
    for got, want in zip(e2.unique_consecutive(return_inverse=True), t2.unique_consecutive(return_inverse=True)):
        _same(got, want)


@pytest.mark.parametrize("shape,wrap", [((3, 3), False), ((7, 3), False), ((7, 3), True),
                                        ((2, 5), True), ((3, 3, 3), False)])
def test_fill_diagonal_matches_torch(shape, wrap):
    e, t = _pair(np.zeros(shape, np.float32))
    assert e.fill_diagonal_(2.5, wrap=wrap) is e
    t.fill_diagonal_(2.5, wrap=wrap)
    _same(e, t)


def test_fill_diagonal_rules():
    with pytest.raises(ValueError, match="same length"):
        E.wrap(np.zeros((2, 3, 3))).fill_diagonal_(1)
    w = E.wrap(np.zeros((2, 2), np.float32)).requires_grad_()
    with pytest.raises(RuntimeError, match="requires grad"):
        w.fill_diagonal_(1.0)
    with ember.no_grad():
        w.fill_diagonal_(1.0)
    assert w.numpy().trace() == 2
    v = E.wrap(np.zeros((4, 4), np.float32))[:, ::2]      # a strided view is written through
    v.fill_diagonal_(3.0)
    assert v.numpy().trace() == 6


def test_index_put_inplace_and_errors():
    e, t = _pair(np.zeros((3, 4), np.float32))
    idx_e = (E.wrap(np.array([0, 2, 0])), E.wrap(np.array([1, 1, 1])))
    idx_t = (torch.tensor([0, 2, 0]), torch.tensor([1, 1, 1]))
    ve, vt = _pair(np.array([1.0, 2.0, 4.0], np.float32))
    assert e.index_put_(idx_e, ve, accumulate=True) is e
    t.index_put_(idx_t, vt, accumulate=True)
    _same(e, t)
    _same(e.index_put(idx_e[:1], E.wrap(np.float32(7.0))), t.index_put(idx_t[:1], torch.tensor(7.0)))
    with pytest.raises(TypeError, match="dtype"):
        e.index_put(idx_e, E.wrap(np.ones(3)))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        e.index_put(idx_e, E.wrap(np.ones(2, np.float32)))
    with pytest.raises(TypeError, match="tuple"):
        e.index_put(idx_e[0], ve)


def test_inplace_forms():
    a = np.array([-2.0, -0.5, 0.5, 4.0], np.float32)
    for name, args in (("square_", ()), ("reciprocal_", ()), ("clamp_min_", (0.0,)), ("clamp_max_", (1.0,))):
        e, t = _pair(a)
        assert getattr(e, name)(*args) is e
        getattr(t, name)(*args)
        _same(e, t)


def test_register_hook_on_non_leaf_matches_torch():
    a = np.array([1.0, -2.0, 3.0], np.float32)
    e, t = _pair(a)
    e.requires_grad_(), t.requires_grad_()
    seen = []
    ey, ty = e * e, t * t
    h = ey.register_hook(lambda g: seen.append(g.numpy().copy()))
    ey.register_hook(lambda g: g * 3)
    ty.register_hook(lambda g: g * 3)
    (ey.sum() + ey[0]).backward()
    (ty.sum() + ty[0]).backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy())
    np.testing.assert_array_equal(seen[0], [2.0, 1.0, 1.0])      # the summed incoming gradient
    h.remove()
    e.grad = None
    ez = e * 2
    ez.register_hook(lambda g: None)
    ez.sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        E.wrap(a).register_hook(lambda g: g)


def test_register_hook_on_leaves_and_retained_grads_matches_torch():
    # a leaf's hook sees its gradient summed over every use, before it accumulates; a non-leaf's
    # hook runs before retain_grad keeps the gradient; both also in autograd.grad
    a = np.array([1.0, -2.0, 3.0], np.float32)
    results = []
    for mod, leaf in ((ember, E.wrap(a.copy()).requires_grad_()), (torch, torch.tensor(a, requires_grad=True))):
        seen = []
        leaf.register_hook(lambda g: seen.append(g.numpy().copy()))
        handle = leaf.register_hook(lambda g: g * 10)
        mid = leaf * 3
        mid.retain_grad()
        mid.register_hook(lambda g: g + 1)
        (mid * mid + leaf * 2).sum().backward()           # leaf used twice
        first = (leaf.grad.numpy().copy(), mid.grad.numpy().copy(), seen[0])
        (leaf * leaf).sum().backward()                    # accumulates the hooked gradient
        second = leaf.grad.numpy().copy()
        handle.remove()
        leaf.grad = None
        (leaf * 4).sum().backward()
        third = leaf.grad.numpy().copy()
        grad_of_leaf, = mod.autograd.grad((leaf * leaf).sum(), leaf)
        results.append(first + (second, third, grad_of_leaf.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_post_accumulate_grad_hook_runs_after_accumulation():
    a = np.array([1.0, 2.0], np.float32)
    for leaf in (E.wrap(a.copy()).requires_grad_(), torch.tensor(a, requires_grad=True)):
        seen = []
        handle = leaf.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
        (leaf * leaf + leaf).sum().backward()
        (leaf * 3).sum().backward()
        handle.remove()
        (leaf * 3).sum().backward()
        np.testing.assert_allclose(seen, [[3.0, 5.0], [6.0, 8.0]])
    with pytest.raises(RuntimeError, match="leaf"):
        (E.wrap(a).requires_grad_() * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_leaf_hook_with_an_optimizer_buffer_and_unreached_branches():
    # a Parameter whose gradient lives in an optimizer's flat buffer; a hooked leaf reached only
    # through a branch that gets no gradient still has its hooks run on what it did get
    import ember.nn as nn
    import ember.optim as optim
    lin = nn.Linear(3, 2)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    lin.weight.register_hook(lambda g: g * 0)
    x = E.wrap(np.ones((4, 3), np.float32))
    lin(x).sum().backward()
    assert lin.weight.grad is not None and not lin.weight.grad.numpy().any()
    assert lin.bias.grad.numpy().tolist() == [4.0, 4.0]
    before = lin.weight.numpy().copy()
    opt.step()
    np.testing.assert_array_equal(lin.weight.numpy(), before)


def test_pin_share_apply_map():
    e, t = _pair(np.array([1.0, 2.0, 3.0], np.float32))
    assert e.pin_memory() is e and e.share_memory_() is e
    assert e.apply_(lambda v: v * 10 + 1) is e
    t.apply_(lambda v: v * 10 + 1)
    _same(e, t)
    o, to = _pair(np.array([2.0], np.float32))
    assert e.map_(o, lambda x, y: x - y) is e
    t.map_(to, lambda x, y: x - y)
    _same(e, t)
    ei, ti = _pair(np.array([1, 2, 3]))
    _same(ei.apply_(lambda v: v / 2), ti.apply_(lambda v: v / 2))      # cast back to int64
    g = E.wrap(np.ones(2, np.float32)).requires_grad_()
    with pytest.raises(RuntimeError, match="requires grad"):
        g.apply_(abs)


def test_top_level_exports():
    for name in ("square", "reciprocal", "trace", "diff", "nansum", "nanmean", "quantile",
                 "count_nonzero", "bincount", "histc", "aminmax", "addmm", "addcmul", "addcdiv",
                 "bmm", "mm", "mv", "unbind", "select", "dist", "unique_consecutive", "allclose"):
        assert getattr(ember, name) is getattr(F, name), name


def test_more_errors_name_the_op():
    x = E.wrap(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="renorm.*maxnorm"):
        x.renorm(2, 0, -1.0)
    with pytest.raises(TypeError, match="renorm"):
        E.wrap(np.ones((2, 2), np.int64)).renorm(2, 0, 1.0)
    with pytest.raises(ValueError, match="size 3"):
        x.cross(x)
    with pytest.raises(ValueError, match="non-empty"):
        E.wrap(np.zeros((0,), np.float32)).quantile(0.5)
    with pytest.raises(ValueError, match="0-d"):
        E.wrap(np.float32(1.0)).diff()
    with pytest.raises(ValueError, match="nanmedian"):
        E.wrap(np.zeros((2, 0), np.float32)).nanmedian(1)
    with pytest.raises(ValueError, match="zero-size"):
        F.aminmax(E.wrap(np.zeros(0, np.float32)))
    with pytest.raises(ValueError, match="bins"):
        x.histc(bins=0)
