"""The autograd engine: accumulation, retained grads and graphs, grad mode, deep and diamond
graphs, detach, the errors it raises, and the checking tools themselves (gradcheck and the parity
harness must be able to fail)."""
import threading

import numpy as np
import pytest

import ember
import ember.functional as F
from ember import Tensor
from ember.testing import GradcheckError, gradcheck
from op_harness import Row, check_parity, randn, torch


@pytest.fixture(autouse=True)
def _restore_grad_mode():
    """A failing grad-mode test must not leave recording off for the tests after it."""
    yield
    ember.set_grad_enabled(True)


def leaf(values, dtype="float32"):
    return ember.tensor(values, dtype=dtype, requires_grad=True)


# -- accumulation and retained grads -------------------------------------------------------------
def test_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 4, 6])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5, 7, 9])
    x.zero_grad()
    assert x.grad is None
    x.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1, 1])


def test_grad_is_a_fresh_tensor_not_aliasing_the_upstream_gradient():
    x = leaf([1.0, 2.0])
    g = ember.tensor([1.0, 1.0])
    (x + 0.0).backward(g)
    (x + 0.0).backward(g)
    np.testing.assert_allclose(g.numpy(), [1, 1])          # the caller's grad is not modified
    np.testing.assert_allclose(x.grad.numpy(), [2, 2])


def _owned_flags(monkeypatch):
    """The ``owned`` argument of every leaf delivery during the next backward passes."""
    from ember.autograd import engine
    flags, real = [], engine.accumulate_leaf

    def spy(leaf, g, backward=None, owned=False):
        flags.append(owned)
        return real(leaf, g, backward, owned)
    monkeypatch.setattr(engine, "accumulate_leaf", spy)
    return flags


def test_a_fresh_gradient_becomes_the_leaf_grad_without_a_copy(monkeypatch):
    # mul's backward makes a new array for each input: nothing else holds it, so the leaves keep
    # them (PyTorch's AccumulateGrad steals such gradients too).  A failure here means the
    # reference count the engine expects no longer matches this Python: the copy comes back.
    flags = _owned_flags(monkeypatch)
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x * w).backward(ember.tensor([1.0, 1.0]))
    assert flags == [True, True]
    np.testing.assert_allclose(x.grad.numpy(), [3, 4])
    np.testing.assert_allclose(w.grad.numpy(), [1, 2])


def test_a_gradient_shared_by_two_parents_is_copied_for_each(monkeypatch):
    flags = _owned_flags(monkeypatch)
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x + y).backward(ember.tensor([1.0, 1.0]))          # add hands the same array to both
    assert flags == [False, False]
    assert not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.data[0] = 9.0
    np.testing.assert_allclose(y.grad.numpy(), [1, 1])
    z = leaf([1.0, 2.0])
    (z + z).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [2, 2])


def test_a_gradient_held_elsewhere_or_a_view_is_copied(monkeypatch):
    flags = _owned_flags(monkeypatch)
    kept = []

    def keeps_its_gradient(t):      # a backward that also stores the array it returns
        def backward(g):
            out = g * 2
            kept.append(out)
            return (out,)
        return Tensor._make(t.data * 2, (t,), backward)
    x = leaf([1.0, 2.0])
    keeps_its_gradient(x).backward(ember.tensor([1.0, 1.0]))
    assert flags == [False] and not np.shares_memory(x.grad.data, kept[0])
    flags.clear()
    y = leaf([[1.0, 2.0], [3.0, 4.0]])
    (y.T * 1.0).sum().backward()                      # the transpose's gradient is a view
    assert flags == [False]
    np.testing.assert_allclose(y.grad.numpy(), np.ones((2, 2)))


def test_retained_intermediate_and_leaf_gradients_do_not_alias():
    x = leaf([1.0, 2.0])
    y = x * 1.0
    y.retain_grad()
    (y * 3.0).backward(ember.tensor([1.0, 1.0]))
    assert not np.shares_memory(x.grad.data, y.grad.data)
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])
    np.testing.assert_allclose(y.grad.numpy(), [3, 3])


def test_non_leaf_grad_only_with_retain_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * y
    w = z.sum()
    assert not y.is_leaf and x.is_leaf
    z.retain_grad()
    w.backward()
    assert y.grad is None
    np.testing.assert_allclose(z.grad.numpy(), [1, 1])
    assert z.grad.dtype == z.dtype and z.grad.shape == z.shape
    np.testing.assert_allclose(x.grad.numpy(), [8, 16])


def test_retain_grad_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.tensor([1.0]).retain_grad()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, -2.0])
    y = (x * x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * np.array([1.0, 4.0]))


def test_second_backward_without_retain_graph_raises_freed():
    x = leaf([1.0, -2.0])
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="freed") as info:
        y.backward()
    assert "retain_graph=True" in str(info.value)


def test_backward_through_shared_subgraph_freed_by_another_root():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.sum().backward()
    with pytest.raises(RuntimeError, match="freed"):
        (h * 3).sum().backward()


# -- grad mode -----------------------------------------------------------------------------------
def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with ember.no_grad():
        y = (x * 2 + 1).sum()
        z = F.softmax(x) @ x
    for t in (y, z):
        assert not t.requires_grad and t.grad_fn is None and t.is_leaf
    assert ember.is_grad_enabled()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_as_decorator_both_forms():
    x = leaf([1.0])

    @ember.no_grad()
    def f(t):
        assert not ember.is_grad_enabled()
        return t * 2

    @ember.no_grad
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert f.__name__ == "f"
    assert ember.is_grad_enabled()
    assert (x * 2).requires_grad


def test_enable_grad_inside_no_grad():
    x = leaf([1.0, 2.0])
    with ember.no_grad():
        with ember.enable_grad():
            y = (x * x).sum()
        z = x * 2
    assert y.requires_grad and not z.requires_grad
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 4])


def test_grad_mode_restored_after_exception_and_nested_reuse():
    with pytest.raises(ValueError):
        with ember.no_grad():
            raise ValueError("boom")
    assert ember.is_grad_enabled()
    ng = ember.no_grad()
    with ng:
        with ng:
            assert not ember.is_grad_enabled()
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with ember.no_grad():
        t = threading.Thread(target=lambda: seen.append(ember.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_set_grad_enabled_returns_previous():
    prev = ember.set_grad_enabled(False)
    try:
        assert prev is True and not ember.is_grad_enabled()
        assert not (leaf([1.0]) * 2).requires_grad
    finally:
        ember.set_grad_enabled(prev)
    assert ember.is_grad_enabled()


# -- graph shapes --------------------------------------------------------------------------------
def test_deep_chain_no_recursion_error():
    x = leaf(1.0)
    y = x
    for _ in range(5000):
        y = y + 1.0
    y.backward()
    assert x.grad.item() == 1.0
    assert y.item() == 5001.0
    # a deep graph that is never backwarded is freed without recursion trouble too
    y = x
    for _ in range(20000):
        y = y * 1.0
    del y


def test_deep_chain_of_muls_gradient():
    x = leaf(1.0, dtype="float64")
    y = x
    for _ in range(3000):
        y = y * 1.001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.001 ** 3000, rtol=1e-9)


def test_diamond_graph_accumulates():
    x = leaf([1.0, 2.0, 3.0])
    a = x * 2
    b = x.exp()
    c = a * b + a          # x reaches c through a twice and through b
    c.sum().backward()
    xv = np.array([1.0, 2.0, 3.0])
    expected = 2 * np.exp(xv) + 2 * xv * np.exp(xv) + 2
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_same_tensor_both_operands():
    x = leaf([3.0, -1.0])
    (x * x + x / x - x - x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([3.0, -1.0]) - 2, rtol=1e-6)


def test_detach_cuts_graph():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 4])     # d treated as a constant
    assert d.grad is None


def test_unused_leaf_gets_no_grad():
    x, w = leaf([1.0]), leaf([2.0])
    (x * 3).sum().backward()
    assert w.grad is None


# -- errors --------------------------------------------------------------------------------------
def test_requires_grad_on_int_tensor_raises_type_error():
    t = ember.tensor([1, 2, 3])
    with pytest.raises(TypeError, match="floating-point") as info:
        t.requires_grad_()
    assert "int64" in str(info.value)
    with pytest.raises(TypeError, match="floating-point"):
        ember.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        ember.zeros(3, dtype="int32", requires_grad=True)


def test_backward_non_scalar_without_grad_names_shape():
    y = leaf([[1.0, 2.0], [3.0, 4.0]]) * 2
    with pytest.raises(RuntimeError, match=r"\(2, 2\)") as info:
        y.backward()
    assert "scalar" in str(info.value)


def test_backward_grad_shape_mismatch_raises():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(ember.ones(3))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (ember.ones(2) * 2).sum().backward()


def test_setitem_on_requires_grad_tensor():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        x[0] = 5.0
    with ember.no_grad():
        x[0] = 5.0
        x[ember.tensor([1])] = ember.tensor([7.0])
    np.testing.assert_allclose(x.numpy(), [5, 7, 3])
    y = ember.zeros(3)           # no grad: allowed
    y[1:] = 2.0
    np.testing.assert_allclose(y.numpy(), [0, 2, 2])


def test_wrong_shape_gradient_from_an_op_is_reported():
    def bad(t):   # backward returns a gradient with the wrong number of elements
        return Tensor._make(t.data * 2, (t,), lambda g: (np.ones(t.shape + (2,)),))
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(2, 2\).*shape \(2,\)"):
        bad(x).sum().backward()
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="shape"):
        (bad(x) * 1.0).sum().backward()


# -- dtypes and shapes of gradients --------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_grad_dtype_and_shape_match_leaf(dtype):
    x = ember.tensor(np.arange(6.0).reshape(2, 3), dtype=dtype, requires_grad=True)
    w = ember.tensor(np.ones((3, 2)), dtype=dtype, requires_grad=True)
    loss = ((x @ w).max(axis=1) + x.mean()).sum()
    assert loss.dtype == np.dtype(dtype)
    loss.backward()
    for t in (x, w):
        assert isinstance(t.grad, Tensor)
        assert t.grad.dtype == np.dtype(dtype) and t.grad.shape == t.shape
        assert not t.grad.requires_grad


def test_grad_of_mixed_dtype_graph_keeps_leaf_dtypes():
    a = ember.tensor([1.0, 2.0], dtype="float16", requires_grad=True)
    b = ember.tensor([3.0, 4.0], dtype="float64", requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.retain_grad()
    y.sum().backward()
    assert a.grad.dtype == np.float16 and b.grad.dtype == np.float64 and y.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.numpy(), [3, 4])
    np.testing.assert_allclose(b.grad.numpy(), [1, 2])


def test_backward_with_explicit_grad():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * x
    y.backward(ember.tensor([[1.0, 0.0], [0.5, 2.0]]))
    np.testing.assert_allclose(x.grad.numpy(), [[2, 0], [3, 16]])
    x2 = leaf([1.0, 2.0])
    (x2 * 3).backward(np.array([1.0, -1.0]))     # a NumPy array is accepted too
    np.testing.assert_allclose(x2.grad.numpy(), [3, -3])
    assert x2.grad.dtype == np.float32


def test_backward_on_leaf_itself():
    x = leaf(3.0)
    x.backward()
    assert x.grad.item() == 1.0


# -- inputs are never mutated ----------------------------------------------------------------------
MUTATION_CASES = [
    ("elementwise", lambda a, b: (a * b + a / (b.abs() + 1) - a.exp() + b.tanh()).sum()),
    ("maximum", lambda a, b: F.maximum(a, b).sum()),
    ("reduction", lambda a, b: a.max(axis=0).sum() + a.var() + b.prod() + F.logsumexp(a, axis=1).sum()),
    ("shape", lambda a, b: (a.T.reshape(-1)[::2].sum() + F.concatenate([a, b], axis=0).sum()
                             + F.stack([a, b]).flip(0).sum() + F.pad(a, 1).sum())),
    ("indexing", lambda a, b: a[np.array([0, 0, 2])].sum() + b[b > 0].sum() + a[1:, ::-1].sum()),
    ("linalg", lambda a, b: (a @ b.T).sum() + F.einsum("ij,ij->i", a, b).sum()),
    ("softmax", lambda a, b: (F.softmax(a, axis=0) * F.log_softmax(b)).sum()),
    ("cast", lambda a, b: a.astype("float64").sum() + b.half().sum()),
]


@pytest.mark.parametrize("name,fn", MUTATION_CASES, ids=[c[0] for c in MUTATION_CASES])
def test_inputs_never_mutated(name, fn):
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((3, 4)).astype(np.float32)
    b_np = rng.standard_normal((3, 4)).astype(np.float32)
    a, b = ember.tensor(a_np, requires_grad=True), ember.tensor(b_np, requires_grad=True)
    out = fn(a, b)
    out.backward()
    np.testing.assert_array_equal(a.numpy(), a_np)
    np.testing.assert_array_equal(b.numpy(), b_np)
    assert a.grad is not None and b.grad is not None


# -- the checking tools can fail -------------------------------------------------------------------
def _square_with(grad_factor):
    """x**2 with backward ``grad_factor * x * g`` (2 is right)."""
    def fn(x):
        xd = x.data
        return Tensor._make(xd * xd, (x,), lambda g: (grad_factor * xd * g,))
    return fn


def test_gradcheck_passes_a_correct_backward():
    assert gradcheck(_square_with(2.0), np.random.default_rng(0).standard_normal((3, 2)))


def test_gradcheck_catches_a_wrong_backward():
    with pytest.raises(GradcheckError, match="gradient mismatch"):
        gradcheck(_square_with(2.1), np.random.default_rng(0).standard_normal((3, 2)))
    with pytest.raises(GradcheckError):
        gradcheck(_square_with(2.1), np.random.default_rng(0).standard_normal((3, 2)), fast_mode=True)


def test_gradcheck_catches_nan_and_missing_gradients():
    with pytest.raises(GradcheckError, match="nan"):
        gradcheck(_square_with(np.nan), np.ones(3))
    with pytest.raises(GradcheckError):
        gradcheck(_square_with(np.nan), np.ones(3), fast_mode=True)

    def no_grad_recorded(x):
        return Tensor.wrap(x.data * 2)          # forgets to record a node
    with pytest.raises(GradcheckError):
        gradcheck(no_grad_recorded, np.ones(3))


def test_gradcheck_catches_in_place_mutation_and_wrong_dtype():
    def mutates(x):
        x.data[0] += 1.0
        return x * 1.0
    with pytest.raises(GradcheckError, match="in place"):
        gradcheck(mutates, np.ones(3))
    with pytest.raises(GradcheckError, match="float64"):
        gradcheck(lambda x: x.astype("float32"), np.ones(3))


def test_gradcheck_non_contiguous_and_tensor_inputs():
    a = np.random.default_rng(0).standard_normal((4, 3)).T       # Fortran-ordered view
    assert gradcheck(lambda x: (x * x).sum(axis=0), a)
    t = ember.randn(2, 3)
    assert gradcheck(lambda x, i: x[i].tanh(), t, np.array([1, 0, 1]))


def test_parity_harness_fails_on_wrong_forward():
    if torch is None:
        pytest.skip("PyTorch not installed")
    wrong = Row("wrong_forward", lambda x: x * 2.0 + 1e-3, lambda x: x * 2.0, [randn(3, 4)])
    with pytest.raises(AssertionError, match="forward"):
        check_parity(wrong)


def test_parity_harness_fails_on_wrong_backward():
    if torch is None:
        pytest.skip("PyTorch not installed")
    wrong = Row("wrong_backward", _square_with(2.5), lambda x: x * x, [randn(3, 4)])
    with pytest.raises(AssertionError, match="gradient"):
        check_parity(wrong)


def test_parity_harness_fails_on_mutation():
    if torch is None:
        pytest.skip("PyTorch not installed")
    def mutating(x):
        x.data[0] = 0.0
        return x * 1.0
    with pytest.raises(AssertionError, match="mutated"):
        check_parity(Row("mutating", mutating, lambda x: torch.cat([torch.zeros(1), x[1:]]),
                         [randn(3)], differentiable=False))


# -- indexing's gradient stays indexed until it is summed (autograd/indexed.py) -------------------

def _slices_and_torch(x_np, through_op, pieces, extra_full_use):
    """Gradient of sum_k (x[pieces[k]] * w_k).sum() (+ (x * 3).sum()) for ember and PyTorch."""
    out = []
    for mod in (ember, torch):
        leaf = (ember.tensor(x_np, dtype="float64", requires_grad=True) if mod is ember
                else torch.tensor(x_np, requires_grad=True))
        x = leaf * 1.0 if through_op else leaf
        total = (x * 3).sum() if extra_full_use == "before" else None
        for k, index in enumerate(pieces):
            term = (x[index] * (k + 1.5)).sum()
            total = term if total is None else total + term
        if extra_full_use == "after":
            total = total + (x * x).sum()
        total.backward()
        out.append(leaf.grad.numpy())
    return out


@pytest.mark.skipif(torch is None, reason="PyTorch (test-only oracle) is not installed")
@pytest.mark.parametrize("through_op", [False, True])
@pytest.mark.parametrize("extra_full_use", [None, "before", "after"])
def test_many_indexed_pieces_sum_like_torch(through_op, extra_full_use):
    # basic slices, integers, repeated advanced indices (scatter-add) and a boolean mask, on a
    # leaf and on a tensor computed by an op, with and without a full-size use of the same tensor
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 5))
    mask = rng.random((4, 6, 5)) > 0.5
    pieces = [(slice(None), t) for t in range(6)] + [(1, slice(1, 4)), (np.array([0, 2, 0, 0]),),
                                                     (Ellipsis, np.array([4, 4, 1])), (mask,), (None, 2)]
    ours, theirs = _slices_and_torch(x, through_op, pieces, extra_full_use)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_indexed_gradient_into_an_optimizer_buffer_autograd_grad_and_hooks():
    import ember.nn as nn
    import ember.optim as optim
    p = nn.Parameter(ember.tensor(np.arange(6.0).reshape(2, 3)))
    optim.SGD([p], lr=1.0)                              # its .grad lives in the flat buffer
    p.grad = None
    (p[0] * 2).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [[2, 2, 2], [0, 0, 0]])
    (p[:, 1] * 5).sum().backward()                      # added in place into the buffer
    np.testing.assert_array_equal(p.grad.numpy(), [[2, 7, 2], [0, 5, 0]])
    x = ember.tensor(np.ones((3, 4)), requires_grad=True)
    g, = ember.autograd.grad(sum((x[i] * (i + 1)).sum() for i in range(3)) + x[:, 0].sum(), x)
    np.testing.assert_array_equal(g.numpy(), [[2, 1, 1, 1], [3, 2, 2, 2], [4, 3, 3, 3]])
    seen = []
    x.register_hook(lambda grad: seen.append(grad.numpy().copy()))
    (x[0].sum() + x[2, 1:].sum()).backward()
    np.testing.assert_array_equal(seen[0], [[1, 1, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]])


def test_indexed_gradient_keeps_negative_zero_and_reaches_anomaly_checks():
    x = ember.tensor(np.zeros(3), requires_grad=True)
    x[1:].backward(ember.tensor(np.array([-0.0, 2.0])))
    assert np.signbit(x.grad.numpy()).tolist() == [False, True, False]
    y = ember.tensor(np.ones(3), requires_grad=True)
    with ember.autograd.detect_anomaly():
        with pytest.raises(ember.autograd.AnomalyError, match="getitem"):
            (y * 1.0)[:2].backward(ember.tensor(np.array([np.inf, 1.0])))
