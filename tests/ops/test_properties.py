"""Property tests (hypothesis): broadcasting, reductions and indexing on random shapes, axes and
indices.  Forward values are compared with NumPy; gradients with PyTorch (float64 end to end) or
with the exact formula (the un-broadcast sum, the np.add.at scatter)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember
import ember.functional as F

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def _values(seed, shape, kind="normal"):
    rng = np.random.default_rng(seed)
    if kind == "ties":        # few distinct values, so maxima and equal pairs repeat
        return rng.integers(-2, 3, shape).astype(np.float64)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    return rng.standard_normal(shape)


def _unbroadcast_sum(g, shape):
    """The gradient of broadcasting ``shape`` to ``g.shape``: sum over the broadcast axes."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


# -- broadcasting -------------------------------------------------------------------------------
BINARY = {
    "add": (F.add, np.add, torch.add),
    "sub": (F.sub, np.subtract, torch.sub),
    "mul": (F.mul, np.multiply, torch.mul),
    "div": (F.div, np.divide, torch.div),
    "maximum": (F.maximum, np.maximum, torch.maximum),
    "minimum": (F.minimum, np.minimum, torch.minimum),
}

shape_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4)


@SETTINGS
@given(op=st.sampled_from(sorted(BINARY)), shapes=shape_pairs, seed=st.integers(0, 2**32 - 1),
       ties=st.booleans())
def test_broadcast_binary(op, shapes, seed, ties):
    e_fn, np_fn, t_fn = BINARY[op]
    sa, sb = shapes.input_shapes
    a = _values(seed, sa, "ties" if ties else "normal")
    b = _values(seed + 1, sb, "positive" if op == "div" else ("ties" if ties else "normal"))
    ea = ember.tensor(a, dtype="float64", requires_grad=True)
    eb = ember.tensor(b, dtype="float64", requires_grad=True)
    out = e_fn(ea, eb)
    expected = np_fn(a, b)
    assert out.shape == expected.shape == shapes.result_shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=0)

    g = np.random.default_rng(seed + 2).standard_normal(out.shape)
    out.backward(ember.tensor(g, dtype="float64"))
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    t_fn(ta, tb).backward(torch.tensor(g))
    for e, t, shape in ((ea, ta, sa), (eb, tb, sb)):
        assert e.grad.shape == shape and e.grad.dtype == np.float64
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(shapes=shape_pairs, seed=st.integers(0, 2**32 - 1))
def test_broadcast_add_mul_grad_is_unbroadcast_sum(shapes, seed):
    """Analytic check without PyTorch: d(a+b)/da = unbroadcast(g), d(a*b)/da = unbroadcast(g*b)."""
    sa, sb = shapes.input_shapes
    a, b = _values(seed, sa), _values(seed + 1, sb)
    g = np.random.default_rng(seed + 2).standard_normal(shapes.result_shape)
    ea = ember.tensor(a, dtype="float64", requires_grad=True)
    eb = ember.tensor(b, dtype="float64", requires_grad=True)
    (ea + eb).backward(ember.tensor(g, dtype="float64"))
    np.testing.assert_allclose(ea.grad.numpy(), _unbroadcast_sum(g, sa), rtol=1e-12)
    np.testing.assert_allclose(eb.grad.numpy(), _unbroadcast_sum(g, sb), rtol=1e-12)
    ea.zero_grad()
    eb.zero_grad()
    (ea * eb).backward(ember.tensor(g, dtype="float64"))
    np.testing.assert_allclose(ea.grad.numpy(), _unbroadcast_sum(g * b, sa), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(eb.grad.numpy(), _unbroadcast_sum(g * a, sb), rtol=1e-10, atol=1e-12)


# -- reductions ---------------------------------------------------------------------------------
@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    nd = len(shape)
    if nd == 0:
        axis = draw(st.sampled_from([None, 0, -1]))
    else:
        kind = draw(st.sampled_from(["none", "int", "tuple"]))
        if kind == "none":
            axis = None
        else:
            axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
            axes = [a - nd if draw(st.booleans()) else a for a in axes]   # some negative
            axis = axes[0] if kind == "int" else tuple(axes)
    return shape, axis


def _torch_reduce(name, t, axis, keepdims, ddof):
    """PyTorch's version of an ember reduction (prod over several axes via move-and-flatten)."""
    nd = t.ndim
    dims = tuple(range(nd)) if axis is None or nd == 0 else (
        tuple(a % nd for a in axis) if isinstance(axis, tuple) else (axis % nd,))
    if nd == 0:
        dims = ()
    if name == "prod":
        keep = [i for i in range(nd) if i not in dims]
        moved = t.permute(keep + sorted(dims)) if nd else t
        flat = moved.reshape([t.shape[i] for i in keep] + [-1])
        out = flat.prod(-1)
        if keepdims:
            out = out.reshape([1 if i in dims else n for i, n in enumerate(t.shape)])
        return out
    if nd == 0:   # PyTorch reduces a 0-d tensor over dim 0 / -1
        dims = 0
    if name == "sum":
        return t.sum(dim=dims, keepdim=keepdims)
    if name == "mean":
        return t.mean(dim=dims, keepdim=keepdims)
    if name == "max":
        return t.amax(dim=dims, keepdim=keepdims)
    if name == "min":
        return t.amin(dim=dims, keepdim=keepdims)
    if name == "var":
        return t.var(dim=dims, keepdim=keepdims, correction=ddof)
    if name == "std":
        return t.std(dim=dims, keepdim=keepdims, correction=ddof)
    if name == "logsumexp":
        return t.logsumexp(dim=dims, keepdim=keepdims)
    raise AssertionError(name)


REDUCTIONS = ["sum", "mean", "max", "min", "prod", "var", "std", "logsumexp"]
NP_REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod}


@SETTINGS
@given(name=st.sampled_from(REDUCTIONS), sa=shape_and_axis(), keepdims=st.booleans(),
       ddof=st.sampled_from([0, 1]), ties=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_reductions(name, sa, keepdims, ddof, ties, seed):
    shape, axis = sa
    x = _values(seed, shape, "ties" if ties and name in ("max", "min") else "normal")
    nd = len(shape)
    np_axis = None if nd == 0 else axis
    count = int(np.prod([shape[a] for a in ((np_axis,) if isinstance(np_axis, int) else
                                            (np_axis if np_axis is not None else range(nd)))]))
    if name in ("var", "std"):
        assume(count > ddof)
        if name == "std":
            assume(count > 1)      # std's gradient at zero variance is undefined
    kwargs = {"ddof": ddof} if name in ("var", "std") else {}
    ex = ember.tensor(x, dtype="float64", requires_grad=True)
    out = getattr(F, name)(ex, axis=axis, keepdims=keepdims, **kwargs)

    if name in NP_REDUCE:
        expected = NP_REDUCE[name](x, axis=np_axis, keepdims=keepdims)
    elif name in ("var", "std"):
        expected = getattr(np, name)(x, axis=np_axis, keepdims=keepdims, ddof=ddof)
    else:
        m = np.max(x, axis=np_axis, keepdims=True)
        expected = np.log(np.sum(np.exp(x - m), axis=np_axis, keepdims=True)) + m
        if not keepdims:
            expected = expected.reshape(np.sum(x, axis=np_axis).shape)
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)

    g = np.random.default_rng(seed + 1).standard_normal(out.shape)
    out.backward(ember.tensor(g, dtype="float64"))
    assert ex.grad.shape == x.shape and ex.grad.dtype == np.float64
    tx = torch.tensor(x, requires_grad=True)
    t_out = _torch_reduce(name, tx, axis, keepdims, ddof)
    assert tuple(t_out.shape) == out.shape
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)


# -- indexing -----------------------------------------------------------------------------------
@st.composite
def basic_index(draw, shape):
    """A tuple of ints, slices (any step, negative bounds), and sometimes None / Ellipsis."""
    items = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "slice", "int", "full"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "full":
            items.append(slice(None))
        else:
            start = draw(st.none() | st.integers(-n - 1, n + 1))
            stop = draw(st.none() | st.integers(-n - 1, n + 1))
            step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
            items.append(slice(start, stop, step))
    if draw(st.booleans()):   # an Ellipsis stands for a (possibly empty) run of full slices
        lo = draw(st.integers(0, len(items)))
        hi = draw(st.integers(lo, len(items)))
        items[lo:hi] = [Ellipsis]
    else:                     # or trailing items are left out (implicit full slices)
        items = items[:draw(st.integers(0, len(items)))]
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    return tuple(items)


@st.composite
def index_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    kind = draw(st.sampled_from(["basic", "int_array", "int_array_2", "bool_full", "bool_leading"]))
    if kind == "basic":
        return shape, draw(basic_index(shape))
    if kind == "int_array":   # one axis indexed by an integer array with repeats and negatives
        ax = draw(st.integers(0, len(shape) - 1))
        n = shape[ax]
        idx = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=7)))
        return shape, (slice(None),) * ax + (idx,)
    if kind == "int_array_2":  # paired arrays on the first two axes (or one on a 1-d tensor)
        k = draw(st.integers(1, 6))
        arrs = tuple(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k)))
                     for n in shape[:2])
        return shape, arrs
    if kind == "bool_full":
        m = np.array(draw(st.lists(st.booleans(), min_size=int(np.prod(shape)),
                                   max_size=int(np.prod(shape))))).reshape(shape)
        return shape, m
    m = np.array(draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0])))
    return shape, m


def _scatter(shape, index, g):
    full = np.zeros(shape)
    np.add.at(full, index, g)
    return full


@SETTINGS
@given(case=index_case(), seed=st.integers(0, 2**32 - 1), as_tensor_index=st.booleans())
def test_indexing(case, seed, as_tensor_index):
    shape, index = case
    x = _values(seed, shape)
    ex = ember.tensor(x, dtype="float64", requires_grad=True)
    e_index = index
    if as_tensor_index and isinstance(index, np.ndarray):
        e_index = ember.tensor(index)
    out = ex[e_index]
    expected = x[index]
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)
    g = np.random.default_rng(seed + 1).standard_normal(out.shape)
    out.backward(ember.tensor(g, dtype="float64"))
    assert ex.grad.shape == shape
    np.testing.assert_allclose(ex.grad.numpy(), _scatter(shape, index, g), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(ex.numpy(), x)   # the input is unchanged


@SETTINGS
@given(case=index_case(), seed=st.integers(0, 2**32 - 1))
def test_indexing_twice_accumulates(case, seed):
    """Two reads of the same tensor (x[i] + x[i]) scatter-add twice into one gradient."""
    shape, index = case
    x = _values(seed, shape)
    ex = ember.tensor(x, dtype="float64", requires_grad=True)
    out = ex[index] * 2.0 + ex[index]
    g = np.random.default_rng(seed + 1).standard_normal(out.shape)
    out.backward(ember.tensor(g, dtype="float64"))
    np.testing.assert_allclose(ex.grad.numpy(), 3 * _scatter(shape, index, g), rtol=1e-12, atol=1e-15)


# -- einsum with broadcast size-1 axes -----------------------------------------------------------
@SETTINGS
@given(spec=st.sampled_from(["ijk,ij->i", "ij,ij->i", "ijk,jk->", "bij,bjk->bik", "ij,jk"]),
       seed=st.integers(0, 2**32 - 1), data=st.data())
def test_einsum_broadcast_grads(spec, seed, data):
    """Size-1 axes broadcast against the other operand, including on an operand that also has an
    axis summed out of it alone, get the summed gradient (as PyTorch)."""
    ins = spec.split("->")[0].split(",")
    sizes = {c: data.draw(st.integers(2, 4)) for c in set("".join(ins))}
    shapes = [tuple(1 if data.draw(st.booleans()) else sizes[c] for c in s) for s in ins]
    arrays = [_values(seed + k, sh) for k, sh in enumerate(shapes)]
    e = [ember.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    eo, to = F.einsum(spec, *e), torch.einsum(spec, *t)
    np.testing.assert_allclose(eo.numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(seed).standard_normal(eo.shape)
    eo.backward(ember.tensor(g, dtype="float64"))
    to.backward(torch.tensor(g))
    for ei, ti in zip(e, t):
        assert ei.grad.shape == ei.shape
        np.testing.assert_allclose(ei.grad.numpy(), ti.grad.numpy(), rtol=1e-10, atol=1e-12)
