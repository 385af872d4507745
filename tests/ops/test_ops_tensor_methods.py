"""PyTorch's Tensor methods that have no functional twin in ember's op tables: ``Tensor.unfold``
(sliding windows along one axis), the in-place ``name_`` forms, and ``Tensor.svd``."""
import numpy as np
import pytest

import ember
from op_harness import Row, fixed, randn, special, table_tests
from op_harness import torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)


def unfold_row(name, shape, d, size, step, spec=randn):
    return Row(name, lambda x: x.unfold(d, size, step), lambda x: x.unfold(d, size, step), [spec(*shape)])


_TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [-1.0, 2.0, -4.0, 2.0]])
_NAN = np.array([[1.0, np.nan, 3.0], [-np.inf, 0.0, -0.0], [2.0, 2.0, np.inf]])

ROWS = [
    Row("amax_dim_keepdim", lambda x: x.amax(dim=1, keepdim=True), lambda x: x.amax(dim=1, keepdim=True), [randn(3, 4, 2)]),
    Row("amin_dims", lambda x: ember.amin(x, dim=(0, 2)), lambda x: torch.amin(x, dim=(0, 2)), [randn(3, 4, 2)]),
    Row("amax_all", lambda x: ember.amax(x), lambda x: torch.amax(x), [randn(3, 4)]),
    Row("amax_ties_share", lambda x: x.amax(dim=1), lambda x: x.amax(dim=1), [fixed(_TIES)], gradcheck=False),
    Row("amin_ties_share_all", lambda x: x.amin(), lambda x: x.amin(), [fixed(_TIES)], gradcheck=False),
    Row("amax_nan_inf", lambda x: x.amax(dim=0), lambda x: x.amax(dim=0), [fixed(_NAN)], gradcheck=False),
    Row("amax_nan_all", lambda x: x.amax(), lambda x: x.amax(), [fixed(_NAN)], gradcheck=False),
    unfold_row("unfold_last_overlapping", (3, 10), -1, 4, 2),
    unfold_row("unfold_first_disjoint", (9, 2, 3), 0, 3, 3),
    unfold_row("unfold_middle_step_gt_size", (2, 11, 3), 1, 2, 4),
    unfold_row("unfold_whole_axis", (4, 5), 1, 5, 1),
    unfold_row("unfold_size1", (4, 5), 0, 1, 1),
    Row("unfold_special", lambda x: x.unfold(1, 3, 1), lambda x: x.unfold(1, 3, 1), [special(3, 8)], gradcheck=False),
]

(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


def test_unfold_is_not_functional_unfold_and_rejects_bad_windows():
    x = ember.arange(12.0).reshape(3, 4)
    assert x.unfold(1, 2, 1).shape == (3, 3, 2)
    with pytest.raises(ValueError, match="larger than dimension 1"):
        x.unfold(1, 5, 1)
    with pytest.raises(ValueError, match="step must be a positive int"):
        x.unfold(0, 2, 0)
    with pytest.raises(IndexError, match="out of range"):
        x.unfold(2, 1, 1)


def _pair(a):
    return ember.tensor(a.copy()), torch.tensor(a.copy())


# (method, args for ember, args for torch) applied in place to a float tensor
INPLACE = [
    ("add_", lambda e: (e * 0 + 2,), lambda t: (t * 0 + 2,), {"alpha": 3}),
    ("sub_", lambda e: (1.5,), lambda t: (1.5,), {}),
    ("mul_", lambda e: (e,), lambda t: (t,), {}),
    ("div_", lambda e: (4.0,), lambda t: (4.0,), {}),
    ("clamp_", lambda e: (-0.5, 0.5), lambda t: (-0.5, 0.5), {}),
    ("exp_", lambda e: (), lambda t: (), {}),
    ("tanh_", lambda e: (), lambda t: (), {}),
    ("floor_", lambda e: (), lambda t: (), {}),
    ("tril_", lambda e: (), lambda t: (), {}),
    ("masked_fill_", lambda e: (e > 0, -1.0), lambda t: (t > 0, -1.0), {}),
    ("index_add_", lambda e: (0, ember.tensor(np.array([2, 0])), e[:2]),
     lambda t: (0, torch.tensor([2, 0]), t[:2].clone()), {}),
    ("index_fill_", lambda e: (1, ember.tensor(np.array([1])), 7.0), lambda t: (1, torch.tensor([1]), 7.0), {}),
    ("scatter_", lambda e: (1, ember.tensor(np.array([[0, 1, 2, 3]] * 3)), e * 2),
     lambda t: (1, torch.tensor([[0, 1, 2, 3]] * 3), t * 2), {}),
    ("scatter_add_", lambda e: (0, ember.tensor(np.array([[0, 1, 2, 0]])), e[:1]),
     lambda t: (0, torch.tensor([[0, 1, 2, 0]]), t[:1].clone()), {}),
    ("lerp_", lambda e: (e * 0, 0.25), lambda t: (t * 0, 0.25), {}),
    ("nan_to_num_", lambda e: (), lambda t: (), {}),
]


@pytest.mark.parametrize("name, e_args, t_args, kw", INPLACE, ids=[r[0] for r in INPLACE])
def test_inplace_method_equals_torch_and_returns_self(name, e_args, t_args, kw):
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    e, t = _pair(a)
    out = getattr(e, name)(*e_args(e), **kw)
    getattr(t, name)(*t_args(t), **kw)
    assert out is e
    assert e.dtype == np.float32 and e.shape == (3, 4)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6, atol=1e-6)


def test_inplace_chains_and_fills():
    buf = ember.ones(3)
    buf.mul_(0.9).add_(ember.ones(3), alpha=0.1)
    np.testing.assert_allclose(buf.numpy(), np.ones(3))
    x = ember.empty((2, 3))
    assert x.zero_() is x and not x.numpy().any()
    x.fill_(2.5)
    np.testing.assert_array_equal(x.numpy(), np.full((2, 3), 2.5, np.float32))
    x.copy_(ember.arange(3.0))
    np.testing.assert_array_equal(x.numpy(), np.tile(np.arange(3.0, dtype=np.float32), (2, 1)))
    ember.manual_seed(0)
    w = ember.zeros((200, 50)).normal_(1.0, 2.0)
    assert w.dtype == np.float32 and abs(float(w.mean()) - 1.0) < 0.1 and abs(float(w.std()) - 2.0) < 0.1
    u = ember.zeros(1000).uniform_(-1, 1)
    assert -1 <= float(u.min()) and float(u.max()) < 1 and float(u.std()) > 0.5
    i = ember.zeros(4, dtype="int64")
    i.add_(3)
    np.testing.assert_array_equal(i.numpy(), [3, 3, 3, 3])


def test_inplace_refuses_what_would_corrupt_gradients():
    p = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        p.add_(1)
    with ember.no_grad():
        p.sub_(0.5)                      # a parameter update
    np.testing.assert_array_equal(p.numpy(), [0.5, 0.5, 0.5])
    y = p * 2
    with pytest.raises(RuntimeError, match=r"x = x\.masked_fill\("):
        y.masked_fill_(y > 0, 0.0)
    buf = ember.zeros(3)
    with pytest.raises(RuntimeError, match="dropping its gradient"):
        buf.add_(p)
    with pytest.raises(RuntimeError, match="can't be cast"):
        ember.zeros(2, dtype="int64").add_(0.5)


def test_tensor_svd_is_torch_svd():
    a = np.random.default_rng(1).standard_normal((5, 3))
    U, S, V = ember.tensor(a, dtype="float64").svd()
    tU, tS, tV = torch.tensor(a).svd()
    assert U.shape == tuple(tU.shape) and V.shape == tuple(tV.shape)
    np.testing.assert_allclose(S.numpy(), tS.numpy(), rtol=1e-10)
    np.testing.assert_allclose((U.numpy() * S.numpy()) @ V.numpy().T, a, atol=1e-10)
    U, S, V = ember.tensor(a).svd(some=False)
    assert U.shape == (5, 5)
