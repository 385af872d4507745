"""Tensor creation, dtype rules and promotion, attributes, operators, repr, and the errors raised
before any arithmetic happens."""
import math

import numpy as np
import pytest

import ember
import ember.functional as F
from ember import Tensor


# -- creation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,args,shape,dtype", [
    (ember.zeros, (2, 3), (2, 3), "float32"),
    (ember.zeros, ((2, 3),), (2, 3), "float32"),
    (ember.zeros, ([4],), (4,), "float32"),
    (ember.zeros, ((),), (), "float32"),
    (ember.ones, (3,), (3,), "float32"),
    (ember.rand, (2, 5), (2, 5), "float32"),
    (ember.randn, ((3, 1),), (3, 1), "float32"),
])
def test_shape_creation(fn, args, shape, dtype):
    t = fn(*args)
    assert isinstance(t, Tensor)
    assert t.shape == shape and t.dtype == np.dtype(dtype)
    assert not t.requires_grad and t.is_leaf and t.grad is None
    t2 = fn(*args, dtype="float64", requires_grad=True)
    assert t2.dtype == np.float64 and t2.requires_grad and t2.is_leaf


def test_creation_values():
    np.testing.assert_array_equal(ember.zeros(2, 2).numpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(ember.ones(3, dtype="int64").numpy(), [1, 1, 1])
    assert ember.ones(3, dtype="int64").dtype == np.int64
    f = ember.full((2, 3), 7.5)
    assert f.shape == (2, 3) and f.dtype == np.float32 and np.all(f.numpy() == 7.5)
    assert ember.full(3, 2).dtype == np.int64 and ember.full(3, True).dtype == np.bool_
    assert ember.full((2,), 1, dtype="float16").dtype == np.float16
    assert ember.full((2,), 1.0, requires_grad=True).requires_grad


def test_arange_linspace_eye():
    a = ember.arange(5)
    assert a.dtype == np.int64 and a.tolist() == [0, 1, 2, 3, 4]
    assert ember.arange(2, 8, 2).tolist() == [2, 4, 6]
    assert ember.arange(np.int64(3)).dtype == np.int64
    b = ember.arange(0.0, 1.0, 0.25)
    assert b.dtype == np.float32
    np.testing.assert_allclose(b.numpy(), [0, 0.25, 0.5, 0.75])
    assert ember.arange(3, dtype="float64").dtype == np.float64
    assert ember.arange(4.0, requires_grad=True).requires_grad
    ls = ember.linspace(0, 1, 5)
    assert ls.dtype == np.float32 and ls.shape == (5,)
    np.testing.assert_allclose(ls.numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    assert ember.linspace(0, 1, 4, endpoint=False).tolist() == [0, 0.25, 0.5, 0.75]
    e = ember.eye(3)
    assert e.shape == (3, 3) and e.dtype == np.float32
    np.testing.assert_array_equal(e.numpy(), np.eye(3))
    assert ember.eye(2, 4, k=1).shape == (2, 4)
    np.testing.assert_array_equal(ember.eye(2, 4, k=1).numpy(), np.eye(2, 4, k=1))


def test_random_creation_ranges_and_dtypes():
    ember.manual_seed(1)
    r = ember.rand(1000)
    assert r.dtype == np.float32 and r.numpy().min() >= 0 and r.numpy().max() < 1
    assert ember.rand(10, dtype="float16").numpy().max() < 1
    n = ember.randn(2000, dtype="float64")
    assert n.dtype == np.float64 and abs(n.numpy().mean()) < 0.1 and abs(n.numpy().std() - 1) < 0.1
    i = ember.randint(3, 7, (50,))
    assert i.dtype == np.int64 and i.shape == (50,) and i.numpy().min() >= 3 and i.numpy().max() < 7
    assert ember.randint(4, size=(2, 2)).numpy().max() < 4
    assert ember.randint(0, 5, 3, dtype="int32").dtype == np.int32
    with pytest.raises(TypeError, match="floating-point dtype"):
        ember.rand(3, dtype="int64")
    with pytest.raises(TypeError, match="floating-point dtype"):
        ember.randn(3, dtype="bool")


def test_like_functions():
    x = ember.tensor([[1.0, 2.0, 3.0]], dtype="float64")
    z = ember.zeros_like(x)
    o = ember.ones_like(x, requires_grad=True)
    assert z.shape == o.shape == (1, 3) and z.dtype == o.dtype == np.float64
    assert o.requires_grad and not z.requires_grad
    assert np.all(z.numpy() == 0) and np.all(o.numpy() == 1)
    assert ember.zeros_like(ember.tensor([1, 2])).dtype == np.int64
    assert ember.ones_like(x, dtype="float32").dtype == np.float32
    z.data[0, 0] = 5     # a new array, not x's
    assert x.numpy()[0, 0] == 1.0


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = ember.tensor(a)
    a[0] = 9
    assert t.tolist() == [1.0, 2.0]
    t2 = ember.tensor(t)
    t2.data[1] = 5
    assert t.tolist() == [1.0, 2.0]


def test_manual_seed_reproducible():
    ember.manual_seed(123)
    a = (ember.rand(4).numpy(), ember.randn(2, 2).numpy(), ember.randint(0, 100, (5,)).numpy())
    ember.manual_seed(123)
    b = (ember.rand(4).numpy(), ember.randn(2, 2).numpy(), ember.randint(0, 100, (5,)).numpy())
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    ember.manual_seed(124)
    assert not np.array_equal(ember.rand(4).numpy(), a[0])


def test_rng_state_roundtrip():
    ember.manual_seed(7)
    state = ember.get_rng_state()
    x = ember.randn(5).numpy()
    ember.randn(3)
    ember.set_rng_state(state)
    np.testing.assert_array_equal(ember.randn(5).numpy(), x)


# -- dtype rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize("data,dtype", [
    (1.5, "float32"), ([1.0, 2.0], "float32"), (np.array([1.0]), "float32"),
    (np.float64(2.0), "float32"), (np.array([1.0], dtype=np.float16), "float16"),
    (3, "int64"), ([1, 2], "int64"), (np.array([1], dtype=np.int32), "int32"),
    (True, "bool"), ([True, False], "bool"), ([1, 2.5], "float32"), ([], "float32"),
])
def test_default_dtypes(data, dtype):
    assert ember.tensor(data).dtype == np.dtype(dtype)


def test_explicit_float64_end_to_end():
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((3, 4)), dtype="float64", requires_grad=True)
    w = ember.tensor(rng.standard_normal((4, 2)), dtype=ember.float64, requires_grad=True)
    b = ember.tensor([0.5, -0.5], dtype=np.float64, requires_grad=True)
    h = (x @ w + b).tanh()
    loss = (F.log_softmax(h * 2.5) + h.max(axis=0) - h.var(axis=1, keepdims=True)).mean() + x.std()
    assert h.dtype == np.float64 and loss.dtype == np.float64
    loss.backward()
    for t in (x, w, b):
        assert t.grad.dtype == np.float64


def test_float16_storage():
    h = ember.tensor([1.0, 2.0, 3.0], dtype="float16", requires_grad=True)
    assert h.dtype == np.float16 and h.data.dtype == np.float16
    y = (h * 2.5 + 1).sum()
    assert y.dtype == np.float16
    y.backward()
    assert h.grad.dtype == np.float16
    np.testing.assert_allclose(h.grad.numpy(), [2.5, 2.5, 2.5])
    assert ember.zeros(2, dtype=ember.half).dtype == np.float16


def test_promotion_rule():
    i = ember.tensor([1, 2])
    f32 = ember.tensor([1.0, 2.0])
    f64 = ember.tensor([1.0, 2.0], dtype="float64")
    f16 = ember.tensor([1.0, 2.0], dtype="float16")
    b = ember.tensor([True, False])
    assert (i + f32).dtype == np.float32 and (f32 + i).dtype == np.float32   # not NumPy's float64
    assert (f32 + f64).dtype == np.float64
    assert (f16 + f32).dtype == np.float32
    assert (i * 1.5).dtype == np.float32
    np.testing.assert_allclose((i * 1.5).numpy(), [1.5, 3.0])
    assert (f16 + 1.5).dtype == np.float16 and (2.0 * f16).dtype == np.float16
    assert (f32 * 2).dtype == np.float32 and (f64 * 2.0).dtype == np.float64
    assert (i + 1).dtype == np.int64 and (b + 1).dtype == np.int64 and (b * 1.5).dtype == np.float32
    assert (ember.tensor([1], dtype="int32") + 1).dtype == np.int32
    assert (ember.tensor([1], dtype="int32") + ember.tensor([1])).dtype == np.int64
    # NumPy scalars behave like Python numbers
    assert (i * np.float32(1.5)).dtype == np.float32
    np.testing.assert_allclose((i * np.float32(1.5)).numpy(), [1.5, 3.0])
    assert (f32 * np.float64(2.0)).dtype == np.float32
    # integer division gives the default float
    assert (i / 2).dtype == np.float32 and (i / i).dtype == np.float32
    # concatenation and stacking follow the same rule
    assert F.concatenate([i, f32]).dtype == np.float32
    assert F.stack([f16, f64]).dtype == np.float64
    assert F.where(ember.tensor([True, False]), i, f32).dtype == np.float32
    assert F.clip(i, 0.5, 1.5).dtype == np.float32 and F.clip(i, 0, 1).dtype == np.int64
    assert F.clip(f16, 0.5, 1.5).dtype == np.float16


def test_mixed_dtype_concatenate_gradient():
    a = ember.tensor([1.0], dtype="float16", requires_grad=True)
    b = ember.tensor([2.0, 3.0], requires_grad=True)
    out = F.concatenate([a, b, ember.tensor([4])])
    assert out.dtype == np.float32
    (out * ember.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert a.grad.dtype == np.float16 and a.grad.tolist() == [1.0]
    assert b.grad.tolist() == [2.0, 3.0]


@pytest.mark.parametrize("bad", ["complex64", "complex128", "float128", "str", object, "foo"])
def test_unsupported_dtype_raises(bad):
    with pytest.raises(TypeError, match="expected one of") as info:
        ember.tensor([1.0], dtype=bad)
    assert "float32" in str(info.value)
    with pytest.raises(TypeError):
        ember.zeros(2, dtype=bad)


@pytest.mark.parametrize("data", [np.array(["a", "b"]), ["x"], np.array([1 + 2j]), None,
                                  [object()], [[1, 2], [3]]])
def test_unconvertible_data_raises(data):
    with pytest.raises(TypeError, match="expected|cannot convert"):
        ember.tensor(data)


def test_unconvertible_data_with_explicit_dtype_raises():
    with pytest.raises(TypeError, match="expected numbers"):
        ember.tensor(np.array(["1.5"]), dtype="float32")
    with pytest.raises(TypeError, match="expected numbers"):
        ember.tensor(np.array([1 + 2j]), dtype="float32")


def test_op_with_unconvertible_operand_raises():
    x = ember.ones(2)
    with pytest.raises(TypeError, match="ember.add"):
        x + "a"
    with pytest.raises(TypeError, match="real number"):
        x * 1j


# -- attributes ----------------------------------------------------------------------------------
def test_attributes():
    x = ember.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.shape == (2, 3) and x.dtype == np.float32 and x.ndim == 2 and x.size == 6
    assert x.T.shape == (3, 2) and x.T.tolist() == [[1, 4], [2, 5], [3, 6]]
    assert x.is_leaf and not (x * 2).is_leaf and (x * 2).grad_fn is not None
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().dtype == np.float32
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert ember.tensor([2.5]).item() == 2.5 and isinstance(ember.tensor(3).item(), int)
    with pytest.raises(ValueError, match=r"one-element.*\(2, 3\)"):
        x.item()
    d = x.detach()
    assert not d.requires_grad and d.tolist() == x.tolist()
    c = x.astype("float64")
    assert c.dtype == np.float64 and c.requires_grad
    assert x.astype(ember.int64).dtype == np.int64 and not x.astype("int64").requires_grad
    assert x.to("cpu") is x and x.to(ember.float64).dtype == np.float64 and x.to("float16").dtype == np.float16
    assert x.double().dtype == np.float64 and x.long().dtype == np.int64 and x.half().dtype == np.float16
    assert float(ember.tensor(1.5)) == 1.5 and int(ember.tensor(3)) == 3
    assert ember.tensor(0.0).ndim == 0 and ember.tensor(0.0).shape == () and ember.tensor(0.0).size == 1


def test_astype_gradient_flows_back_in_source_dtype():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x.astype("float64") * 3).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 3.0]


# -- operators -----------------------------------------------------------------------------------
def test_arithmetic_operators():
    a = ember.tensor([7.0, -7.0, 5.5])
    b = ember.tensor([2.0, 2.0, -2.0])
    an, bn = a.numpy(), b.numpy()
    np.testing.assert_allclose((a + b).numpy(), an + bn)
    np.testing.assert_allclose((a - b).numpy(), an - bn)
    np.testing.assert_allclose((a * b).numpy(), an * bn)
    np.testing.assert_allclose((a / b).numpy(), an / bn)
    np.testing.assert_allclose((a // b).numpy(), an // bn)
    np.testing.assert_allclose((a % b).numpy(), an % bn)
    np.testing.assert_allclose((a ** 2).numpy(), an ** 2)
    np.testing.assert_allclose((2 ** b).numpy(), 2 ** bn)
    np.testing.assert_allclose((10 - a).numpy(), 10 - an)
    np.testing.assert_allclose((1 / b).numpy(), 1 / bn)
    np.testing.assert_allclose((7 // b).numpy(), 7 // bn)
    np.testing.assert_allclose((7 % b).numpy(), 7 % bn)
    np.testing.assert_allclose((-a).numpy(), -an)
    np.testing.assert_allclose((+a).numpy(), an)
    np.testing.assert_allclose(abs(a).numpy(), np.abs(an))
    i = ember.tensor([7, -7])
    assert (i // 2).tolist() == [3, -4] and (i // 2).dtype == np.int64
    assert (i % 3).tolist() == [1, 2]
    # NumPy array on the left hands the operator back to the tensor
    r = np.array([1.0, 1.0, 1.0]) + a
    assert isinstance(r, Tensor)
    np.testing.assert_allclose(r.numpy(), an + 1)


def test_operator_gradients():
    a = ember.tensor([3.0, -2.0], requires_grad=True)
    b = ember.tensor([2.0, 4.0], requires_grad=True)
    (-a + abs(a) * 2 + a % b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [-1 + 2 + 1, -1 - 2 + 1])
    np.testing.assert_allclose(b.grad.numpy(), -np.floor(np.array([3.0, -2.0]) / [2.0, 4.0]))


def test_comparisons_return_bool_without_grad():
    a = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = ember.tensor([3.0, 2.0, 1.0])
    for out, expected in [(a < b, [True, False, False]), (a <= b, [True, True, False]),
                          (a > b, [False, False, True]), (a >= b, [False, True, True]),
                          (a == b, [False, True, False]), (a != b, [True, False, True]),
                          (a > 1.5, [False, True, True]), (2 < a, [False, False, True])]:
        assert out.dtype == np.bool_ and not out.requires_grad and out.grad_fn is None
        assert out.tolist() == expected
    m = (a > 1.5) & (a < 2.5)
    assert m.tolist() == [False, True, False] and (~m).tolist() == [True, False, True]
    assert ((a > 2) | (a < 1.5)).tolist() == [True, False, True]
    assert (a == None) is False and (a != None) is True   # noqa: E711


def test_len_iter_bool():
    x = ember.tensor([[1, 2], [3, 4], [5, 6]])
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, Tensor) for r in rows) and rows[2].tolist() == [5, 6]
    with pytest.raises(TypeError, match="0-d"):
        len(ember.tensor(1.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(ember.tensor(1.0))
    assert bool(ember.tensor([1.0])) and not bool(ember.tensor(0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(ember.tensor([1.0, 2.0]))
    assert [10, 20, 30][ember.tensor(1)] == 20      # __index__


def test_iteration_is_differentiable():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    total = None
    for k, row in enumerate(x):
        term = (row * (k + 1)).sum()
        total = term if total is None else total + term
    total.backward()
    assert x.grad.tolist() == [[1, 1], [2, 2]]


def test_getitem_forms():
    xn = np.arange(24.0).reshape(2, 3, 4)
    x = ember.tensor(xn)
    cases = [1, -1, (1, 2), (1, 2, 3), slice(None, None, -1), (slice(None), 1), (Ellipsis, 0),
             (None, 0), (0, None, slice(1, 3)), (slice(None), slice(None, None, 2), slice(3, 0, -1)),
             np.array([1, 1, 0]), (0, np.array([2, 0, 2])), xn > 10, (np.array([0, 1]), np.array([2, 0]))]
    for idx in cases:
        np.testing.assert_array_equal(x[idx].numpy(), xn[idx], err_msg=str(idx))
    np.testing.assert_array_equal(x[[1, 0]].numpy(), xn[[1, 0]])
    np.testing.assert_array_equal(x[ember.tensor([1, 0])].numpy(), xn[[1, 0]])
    np.testing.assert_array_equal(x[x > 10].numpy(), xn[xn > 10])
    assert x[1, 2, 3].shape == () and x[1, 2, 3].item() == 23.0
    with pytest.raises(IndexError, match=r"\(2, 3, 4\)"):
        x[5]


# -- repr ----------------------------------------------------------------------------------------
def test_repr():
    r = repr(ember.tensor([1.5, 2.0]))
    assert r.startswith("tensor(") and "1.5" in r and "dtype" not in r and "grad" not in r
    r = repr(ember.tensor([1, 2]))
    assert "dtype=int64" in r and "1, 2" in r
    assert "dtype=float64" in repr(ember.tensor([1.0], dtype="float64"))
    r = repr(ember.tensor([1.0, 2.0], requires_grad=True))
    assert "requires_grad=True" in r
    y = ember.tensor([1.0, 2.0], requires_grad=True) * 3
    r = repr(y)
    assert "grad_fn=mul" in r and "3." in r and "6." in r
    assert "grad_fn=exp" in repr(y.exp()) and "grad_fn=max" in repr(y.max())
    big = repr(ember.zeros(1000))
    assert "..." in big and len(big) < 400


def test_format_matches_torch_and_numpy():
    from fake_cuda import fake_cuda                      # tests/support
    torch = pytest.importorskip("torch")
    loss = (ember.tensor([1.23456, 2.0], requires_grad=True) * 1).mean()   # 0-d, with a graph
    for spec in (".2f", ".3e", "8.4f", "g"):
        assert f"{loss:{spec}}" == format(torch.tensor(1.61728), spec) == format(np.float32(1.61728), spec)
    assert f"{ember.tensor(1.5)}" == str(np.float32(1.5)) == "1.5"      # TensorFlow's f"{t}"
    assert f"{ember.tensor(7, dtype='int32'):03d}" == "007"
    assert f"{ember.tensor(True)}" == "True"
    with fake_cuda(1):                                   # a GPU tensor formats its host value
        assert f"{ember.tensor(2.5).to('cuda'):.1f}" == "2.5"
    vec = ember.tensor([1.5, 2.5])
    assert f"{vec}" == str(vec)
    for t in (vec, ember.tensor([1.5])):                  # PyTorch and NumPy refuse a spec here
        with pytest.raises(TypeError, match=r"needs a 0-d tensor.*item\(\)"):
            f"{t:.2f}"
        with pytest.raises(TypeError):
            format(torch.tensor(t.numpy()), ".2f")
        with pytest.raises(TypeError):
            format(t.numpy(), ".2f")


# -- clear errors before arithmetic ----------------------------------------------------------------
def test_matmul_shape_error_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        ember.ones(2, 3) @ ember.ones(4, 5)
    with pytest.raises(ValueError, match=r"matmul.*\(3,\).*\(4,\)"):
        F.matmul(ember.ones(3), ember.ones(4))
    with pytest.raises(ValueError, match=r"matmul.*\(2, 2, 3\).*\(3, 3, 5\)"):
        ember.ones(2, 2, 3) @ ember.ones(3, 3, 5)
    with pytest.raises(ValueError, match=r"matmul.*at least 1 dimension"):
        ember.tensor(2.0) @ ember.ones(2)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "pow"])
def test_broadcast_error_names_both_shapes(op):
    with pytest.raises(ValueError, match=rf"ember.{op}.*\(2, 3\).*\(4,\).*broadcast"):
        getattr(F, op)(ember.ones(2, 3), ember.ones(4))


def test_non_broadcast_numpy_error_is_not_called_a_broadcast_error():
    with pytest.raises(ValueError, match="negative integer powers") as info:
        ember.tensor([1, 2]) ** -1
    assert "broadcast" not in str(info.value)


def test_concatenate_and_stack_errors_name_shapes():
    with pytest.raises(ValueError, match=r"concatenate.*\(2, 3\).*\(2, 4\)"):
        F.concatenate([ember.ones(2, 3), ember.ones(2, 4)], axis=0)
    with pytest.raises(ValueError, match=r"concatenate.*axis 2"):
        F.concatenate([ember.ones(2, 3), ember.ones(2, 3)], axis=2)
    with pytest.raises(ValueError, match="at least one"):
        F.concatenate([])
    with pytest.raises(ValueError, match=r"stack.*\(2,\).*\(3,\)"):
        F.stack([ember.ones(2), ember.ones(3)])
    with pytest.raises(ValueError, match=r"stack.*axis 3"):
        F.stack([ember.ones(2), ember.ones(2)], axis=3)


def test_reshape_error():
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*6 elements.*\(4, 2\)"):
        ember.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match="reshape"):
        ember.ones(2, 3).reshape(-1, 4)


@pytest.mark.parametrize("call", [
    lambda x: x.sum(axis=3), lambda x: x.mean(axis=-4), lambda x: x.max(axis=(0, 5)),
    lambda x: x.var(axis=3), lambda x: x.squeeze(7), lambda x: x.transpose(0, 3, 1),
    lambda x: x.transpose(0, 1, 1), lambda x: F.concatenate([x, x], axis=-4),
    lambda x: F.logsumexp(x, axis=3), lambda x: x.prod(axis=-5),
])
def test_out_of_range_axis(call):
    x = ember.ones(2, 3, 4)
    with pytest.raises((ValueError, IndexError), match="axis|axes"):
        call(x)


def test_zero_dim_reductions_accept_axis_0_and_minus_1():
    x = ember.tensor(2.5, requires_grad=True)
    for axis in (None, 0, -1, (0,)):
        assert x.sum(axis=axis).item() == 2.5
        assert x.sum(axis=axis, keepdims=True).shape == ()
    x.max(axis=0).backward()
    assert x.grad.item() == 1.0
    with pytest.raises(ValueError, match="out of range"):
        x.sum(axis=1)


def test_math_float_ops_on_int_tensors_give_float32():
    i = ember.tensor([1, 4])
    assert i.sqrt().dtype == np.float32 and i.mean().dtype == np.float32
    assert math.isclose(i.sqrt().tolist()[1], 2.0)
    assert i.sum().dtype == np.int64
