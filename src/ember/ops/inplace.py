"""PyTorch's in-place Tensor methods (``x.add_(y)``, ``x.masked_fill_(m, 0)``, ``w.normal_()``, ...).

Each ``name_`` computes the out-of-place op ``name`` and writes the result into the tensor's own
array, keeping its dtype and shape, and returns the tensor (so calls chain:
``buf.mul_(0.9).add_(g, alpha=0.1)``).

The rule while gradients are recorded: ember's graph cannot re-point a tensor that other nodes
already read, so an in-place method on a tensor that requires grad raises, naming the fix (the
out-of-place form ``x = x.name(...)``, or ``with ember.no_grad():`` for a parameter update, as
PyTorch requires for leaves).  Likewise writing a value that requires grad into a tensor that
does not would silently drop that gradient, so it raises too.  Everything else (buffers,
statistics, initialisation, ``no_grad`` blocks) works as in PyTorch.  A result that cannot be
cast to the tensor's dtype without changing kind (float into an int tensor) raises as PyTorch.
"""
from .. import random as _random
from ..autograd.graph import is_grad_enabled
from ..tensor import Tensor

__all__ = []

# out-of-place Tensor methods whose PyTorch in-place form ``name_`` ember provides
_SAME_SHAPE = (
    "add", "sub", "mul", "div", "pow", "clamp", "clip", "neg", "abs", "exp", "log", "log1p", "expm1",
    "sqrt", "rsqrt", "sigmoid", "tanh", "relu", "sign", "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "asinh", "acosh", "atanh", "atan2", "erf", "erfc", "erfinv", "exp2", "log2",
    "log10", "floor", "ceil", "trunc", "round", "frac", "fmod", "remainder", "copysign", "lerp",
    "hypot", "xlogy", "nan_to_num", "tril", "triu", "masked_fill", "index_fill", "index_add",
    "index_copy", "scatter", "scatter_add", "scatter_reduce", "masked_scatter", "put",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
    "bitwise_right_shift", "fix", "silu", "gelu", "hardtanh", "elu", "leaky_relu",
    "square", "reciprocal", "clamp_min", "clamp_max", "index_put",
)


def _check_recording(self, name, args, kwargs):
    if not is_grad_enabled():
        return
    if self._rg:
        fix = (f"x = x.{name[:-1]}(...)" if self._node is not None
               else f"`with ember.no_grad():` around x.{name}(...) (e.g. a parameter update)")
        raise RuntimeError(f"ember: Tensor.{name} on a tensor that requires grad would corrupt the "
                           f"gradient graph; use {fix}")
    if any(isinstance(a, Tensor) and a._rg for a in list(args) + list(kwargs.values())):
        raise RuntimeError(f"ember: Tensor.{name} would write a value that requires grad into a "
                           f"tensor that does not, dropping its gradient; use the out-of-place "
                           f"form x = x.{name[:-1]}(...)")


def _store(self, result, name):
    data = result.data if isinstance(result, Tensor) else result
    if tuple(data.shape) != tuple(self.data.shape):
        raise RuntimeError(f"ember: Tensor.{name}: the result has shape {tuple(data.shape)}, which "
                           f"cannot be written into a tensor of shape {tuple(self.data.shape)}")
    kind_in, kind_out = self.data.dtype.kind, data.dtype.kind
    if kind_out == "f" and kind_in in "iub" or kind_out in "iu" and kind_in == "b":
        raise RuntimeError(f"ember: Tensor.{name}: result type {data.dtype} can't be cast to the "
                           f"tensor's dtype {self.data.dtype}")
    self.data[...] = data
    return self


def _inplace(name, fn):
    def method(self, *args, **kwargs):
        _check_recording(self, name, args, kwargs)
        return _store(self, fn(self, *args, **kwargs), name)
    method.__name__ = name
    method.__doc__ = f"In-place ``{name[:-1]}``: computes it and writes the result into this tensor."
    return method


def _with_alpha(fn):
    def call(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return fn(self, other)
    return call


def _fill_(self, value):
    """Set every element to ``value`` (a number or a 0-d tensor)."""
    _check_recording(self, "fill_", (value,), {})
    self.data[...] = value.data if isinstance(value, Tensor) else value
    return self


def _zero_(self):
    """Set every element to 0."""
    return _fill_(self, 0)


def _copy_(self, src):
    """Copy ``src`` (broadcast to this tensor's shape) into this tensor."""
    _check_recording(self, "copy_", (src,), {})
    self.data[...] = src.data if isinstance(src, Tensor) else src
    return self


def _random_fill(name, draw):
    def method(self, *args, generator=None):
        _check_recording(self, name, (), {})
        gen = _random.default_generator() if generator is None else generator
        self.data[...] = draw(gen, self.data.shape, *args)
        return self
    method.__name__ = name
    return method


def _bind():
    for name in _SAME_SHAPE:
        fn = getattr(Tensor, name, None)
        if fn is not None:
            if name in ("add", "sub"):
                fn = _with_alpha(fn)
            setattr(Tensor, name + "_", _inplace(name + "_", fn))
    Tensor.fill_, Tensor.zero_, Tensor.copy_ = _fill_, _zero_, _copy_
    Tensor.uniform_ = _random_fill("uniform_", lambda g, s, a=0.0, b=1.0: g.uniform(a, b, s))
    Tensor.normal_ = _random_fill("normal_", lambda g, s, mean=0.0, std=1.0: g.normal(mean, std, s))
    Tensor.bernoulli_ = _random_fill("bernoulli_", lambda g, s, p=0.5: g.random(s) < p)
    Tensor.exponential_ = _random_fill("exponential_", lambda g, s, lambd=1.0: g.exponential(1 / lambd, s))


_bind()
