"""PyTorch habits in ember's ops: dim=/keepdim= beside axis=/keepdims=, ember.nn.functional,
AxisError for out-of-range axes and indices, PyTorch's rejections, documented NumPy meanings."""
import importlib
import inspect

import numpy as np
import pytest

import ember
import ember.functional as F
from ember.ops.arguments import torch_names

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)


def _t():
    return torch.from_numpy(X.copy())


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "prod", "logsumexp", "argmax",
                                  "argmin", "any", "all"])
@pytest.mark.parametrize("dim,keepdim", [(1, False), (-1, True), ((0, 2), True)])
def test_reductions_take_dim_and_keepdim(name, dim, keepdim):
    ours = {"amax": "max", "amin": "min"}.get(name, name)
    if name in ("argmax", "argmin", "prod") and isinstance(dim, tuple):
        dim = 2   # PyTorch's argmax/argmin/prod take one dim
    x = X > 0 if name in ("any", "all") else X
    expected = getattr(torch, name)(torch.from_numpy(np.asarray(x)), dim=dim, keepdim=keepdim).numpy()
    got = getattr(F, ours)(ember.tensor(x), dim=dim, keepdim=keepdim).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # the Tensor method too, and the NumPy names still work
    np.testing.assert_allclose(getattr(ember.tensor(x), ours)(dim=dim, keepdim=keepdim).numpy(),
                               expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(getattr(F, ours)(ember.tensor(x), axis=dim, keepdims=keepdim).numpy(),
                               expected, rtol=1e-5, atol=1e-6)


def test_shape_and_softmax_ops_take_torch_names():
    x, t = ember.tensor(X), _t()
    cases = [
        (F.softmax(x, dim=0), torch.softmax(t, dim=0)),
        (F.log_softmax(x, dim=1), torch.log_softmax(t, dim=1)),
        (F.flatten(x, start_dim=1), torch.flatten(t, start_dim=1)),
        (F.flatten(x, start_dim=0, end_dim=1), torch.flatten(t, start_dim=0, end_dim=1)),
        (F.cat([x, x], dim=2), torch.cat([t, t], dim=2)),
        (F.stack([x, x], dim=1), torch.stack([t, t], dim=1)),
        (F.unsqueeze(x, dim=1), torch.unsqueeze(t, dim=1)),
        (F.squeeze(F.unsqueeze(x, dim=0), dim=0), t),
        (F.swapaxes(x, dim0=0, dim1=2), torch.transpose(t, dim0=0, dim1=2)),
        (F.repeat(x, 2, dim=1), torch.repeat_interleave(t, 2, dim=1)),
        (F.clip(x, min=-0.5, max=0.5), torch.clamp(t, min=-0.5, max=0.5)),
        (F.chunk(x, 2, dim=2)[1], torch.chunk(t, 2, dim=2)[1]),
    ]
    for ours, theirs in cases:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)
    images = ember.tensor(np.ones((2, 3, 3, 4), np.float32))
    assert F.global_avg_pool2d(images, keepdim=True).shape == (2, 1, 1, 4)
    y = ember.tensor(X, requires_grad=True)
    F.sum(F.softmax(y, dim=1) * F.mean(y, dim=2, keepdim=True)).backward()   # gradients flow
    assert y.grad.shape == X.shape


def test_both_names_with_different_values_raise():
    x = ember.tensor(X)
    with pytest.raises(TypeError, match="axis=0 and dim=1.*PyTorch's name for axis"):
        F.sum(x, axis=0, dim=1)
    with pytest.raises(TypeError, match="keepdims"):
        F.mean(x, keepdims=True, keepdim=False)
    assert F.sum(x, axis=1, dim=1).shape == (2, 4)          # the same value twice is fine
    with pytest.raises(TypeError, match="each bound once"):
        F.clip(x, 0.0, min=1.0)


def test_torch_names_decorator_is_reusable():
    @torch_names(start_dim="start")
    def op(x, axis=None, keepdims=False, start=0):
        """An op."""
        return axis, keepdims, start

    assert op(1, dim=2, keepdim=True, start_dim=3) == (2, True, 3)
    assert op.torch_names == {"dim": "axis", "keepdim": "keepdims", "start_dim": "start"}
    assert "PyTorch's names are accepted too" in op.__doc__
    assert list(inspect.signature(op).parameters) == ["x", "axis", "keepdims", "start"]

    def has_dim(x, axis=None, dim=None):
        return axis, dim
    assert torch_names(has_dim) is has_dim                  # takes dim itself: left alone


# the ops that existed before the PyTorch-habits pass; each axis/keepdims must take dim/keepdim
_MODULES = ["reduction", "shape", "softmax", "pooling", "elementwise", "linalg", "loss",
            "normalization", "embedding", "attention", "probability_losses", "conv", "linear",
            "rnn", "dropout", "cast"]
_EXEMPT = {("shape", "take"),    # NumPy's take; torch.take has no dim (see index_select)
           ("shape", "flip"), ("shape", "roll")}   # these take PyTorch's `dims` themselves


def test_every_op_with_axis_or_keepdims_accepts_dim_and_keepdim():
    missing = []
    for m in _MODULES:
        mod = importlib.import_module(f"ember.ops.{m}")
        for name, fn in vars(mod).items():
            if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != mod.__name__:
                continue
            if (m, name) in _EXEMPT:
                continue
            params = inspect.signature(fn).parameters
            table = getattr(fn, "torch_names", {})
            for numpy_name, torch_name in (("axis", "dim"), ("keepdims", "keepdim")):
                if numpy_name in params and torch_name not in params and torch_name not in table:
                    missing.append(f"{m}.{name}({numpy_name})")
    assert not missing, f"add @torch_names to: {missing}"


def test_nn_functional_is_ember_functional():
    import ember.nn.functional as NF
    assert NF.relu is F.relu and NF.cross_entropy is F.cross_entropy
    assert set(NF.__all__) == set(F.__all__)
    assert all(getattr(NF, n) is getattr(F, n) for n in F.__all__)


@pytest.mark.parametrize("call", [
    lambda x: F.sum(x, axis=3), lambda x: F.mean(x, dim=-4), lambda x: F.softmax(x, dim=3),
    lambda x: F.squeeze(x, 5), lambda x: F.unsqueeze(x, 5), lambda x: F.flatten(x, 3),
    lambda x: F.flatten(x, start_dim=0, end_dim=7), lambda x: F.stack([x, x], axis=5),
    lambda x: F.cat([x, x], dim=3), lambda x: F.split(x, 1, axis=4), lambda x: F.chunk(x, 2, dim=9),
    lambda x: F.swapaxes(x, 0, 3), lambda x: F.transpose(x, 0, 1, 3), lambda x: F.take(x, [0], axis=3),
    lambda x: F.argmax(x, dim=3), lambda x: x[5], lambda x: x[0, 0, 0, 0], lambda x: x[:, 7],
])
def test_out_of_range_axes_and_indices_raise_axis_error(call):
    x = ember.tensor(X)
    with pytest.raises(ember.AxisError):
        call(x)
    with pytest.raises(IndexError):        # PyTorch's habit
        call(x)
    with pytest.raises(ValueError):        # NumPy's habit (for axes)
        call(x)
    assert issubclass(ember.AxisError, np.exceptions.AxisError)


def test_zero_d_tensors_accept_axis_0_and_minus_1():
    s = ember.tensor(3.0)
    assert F.flatten(s).shape == (1,)
    assert float(F.sum(s, dim=0).numpy()) == 3.0


def test_pytorch_rejections():
    x = ember.tensor(X)
    with pytest.raises(ValueError, match="at least one"):
        F.clip(x, None, None)
    with pytest.raises(ValueError, match="at least one"):
        x.clamp()
    with pytest.raises(ValueError, match="start_axis 2 comes after end_axis 1"):
        F.flatten(x, 2, 1)


@pytest.mark.parametrize("fn,alternative", [(F.repeat, "tile"), (F.transpose, "swapaxes"),
                                            (F.var, "correction=1"), (F.std, "correction=1"),
                                            (F.split, "size of each piece"),
                                            (F.max, "argmax"), (F.min, "argmin")])
def test_numpy_meanings_are_documented(fn, alternative):
    doc = fn.__doc__
    assert "PyTorch" in doc and alternative in doc
    assert "size()" in ember.Tensor.size.__doc__ and "shape" in ember.Tensor.size.__doc__


def test_softmax_modules_take_dim():
    x = ember.tensor(X)
    for cls, fn in ((ember.nn.Softmax, torch.softmax), (ember.nn.LogSoftmax, torch.log_softmax)):
        layer = cls(dim=1)
        np.testing.assert_allclose(layer(x).numpy(), fn(_t(), dim=1).numpy(), rtol=1e-5, atol=1e-6)
        assert cls.from_config(layer.get_config()).axis == 1       # the config rebuilds it
        with pytest.raises(TypeError, match="axis=0 and dim=1"):
            cls(axis=0, dim=1)
