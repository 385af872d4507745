"""A small TensorFlow-shaped namespace for programs written against ``tf.keras``.

``import ember.keras.tf as tf`` (in place of ``import tensorflow as tf``) gives ``tf.keras.*``
(``ember.keras``), ``tf.GradientTape``, ``tf.function`` (runs the function as is) and the basic
tensor functions such programs use, with TensorFlow's names and argument conventions:
``tf.constant``, ``tf.Variable``, ``tf.convert_to_tensor``, ``tf.reduce_mean`` / ``reduce_sum`` /
``reduce_max`` / ``reduce_min``, ``tf.square``, ``tf.sqrt``, ``tf.exp``, ``tf.log``-style math in
``tf.math``, ``tf.matmul``, ``tf.reshape``, ``tf.transpose``, ``tf.cast``, ``tf.argmax`` (axis 0 by
default, as TensorFlow), ``tf.one_hot``, ``tf.nn.softmax`` / ``relu`` / ``sigmoid`` and the
``*_cross_entropy_with_logits`` losses, ``tf.random.set_seed`` / ``normal`` / ``uniform``, and the
dtypes ``tf.float32`` etc.  Everything returns ember Tensors (``.numpy()`` works).
"""
import types

import numpy as np

from .. import functional as F
from .. import random as _random
from ..tensor import Tensor
from ..train.gradient_tape import GradientTape
from .. import keras
from .variables import Variable as _KerasVariable
from . import tf_data as data                 # tf.data.Dataset, tf.data.AUTOTUNE
from .tf_data import TensorSpec

__all__ = ["keras", "GradientTape", "function", "constant", "Variable", "convert_to_tensor",
           "reduce_mean", "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "square", "sqrt",
           "exp", "abs", "matmul", "reshape", "transpose", "cast", "argmax", "argmin", "equal",
           "maximum", "minimum", "concat", "stack", "expand_dims", "squeeze", "ones", "zeros",
           "ones_like", "zeros_like", "clip_by_value", "where", "one_hot", "range", "shape",
           "add", "subtract", "multiply", "divide", "nn", "math", "random", "float16", "float32",
           "float64", "int32", "int64", "uint8", "bool"]

float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int8, int16, int32, int64, uint8 = (np.dtype(n) for n in ("int8", "int16", "int32", "int64", "uint8"))
bool = np.dtype("bool")   # noqa: A001  (TensorFlow's name)


def function(fn=None, **kwargs):
    """``@tf.function``: ember runs eagerly, so the function is returned unchanged."""
    if fn is None:
        return lambda f: f
    return fn


def _t(x, dtype=None):
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == np.dtype(dtype) else x.astype(dtype)
    arr = np.asarray(x)
    if dtype is None and arr.dtype == np.float64:
        dtype = np.float32                     # TensorFlow's default float
    if dtype is None and arr.dtype == np.int64 and not isinstance(x, np.ndarray):
        dtype = np.int32                       # Python ints: TensorFlow's int32
    return Tensor.wrap(np.array(arr, dtype=dtype))


def constant(value, dtype=None, shape=None, name=None):
    """A constant tensor (no gradient) holding ``value`` (broadcast to ``shape`` if given)."""
    t = _t(value, dtype)
    if shape is not None:
        t = Tensor.wrap(np.broadcast_to(t.data, tuple(shape)).copy())
    return t


def convert_to_tensor(value, dtype=None, name=None):
    return _t(value, dtype)


class Variable(_KerasVariable):
    """``tf.Variable(initial_value, trainable=True, dtype=None, name=None)``: a
    ``keras.Variable`` (an ``ember.nn.Parameter``; ``trainable=False`` or an integer dtype: no
    gradient).  Update it with ``v.assign(x)``, ``v.assign_add(x)``, ``v.assign_sub(x)``."""

    def __init__(self, initial_value=None, trainable=True, validate_shape=True, caching_device=None,
                 name=None, variable_def=None, dtype=None, import_scope=None, constraint=None,
                 synchronization="auto", aggregation="none", shape=None):
        if initial_value is None:
            raise ValueError("tf.Variable: initial_value is required")
        if callable(initial_value) and not isinstance(initial_value, Tensor):
            initial_value = initial_value()       # TensorFlow accepts a function of no arguments
        super().__init__(initial_value, dtype=dtype, trainable=trainable, name=name,
                         constraint=constraint, aggregation=aggregation,
                         synchronization=synchronization)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    x = _t(input_tensor)
    if x.data.dtype.kind != "f":
        # TensorFlow keeps the dtype: the integer mean truncates
        return Tensor.wrap(np.asarray(x.data.mean(axis=_axis(axis), keepdims=keepdims)).astype(x.dtype))
    return F.mean(x, axis=_axis(axis), keepdims=keepdims)


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    return F.sum(_t(input_tensor), axis=_axis(axis), keepdims=keepdims)


def reduce_max(input_tensor, axis=None, keepdims=False, name=None):
    return F.max(_t(input_tensor), axis=_axis(axis), keepdims=keepdims)


def reduce_min(input_tensor, axis=None, keepdims=False, name=None):
    return F.min(_t(input_tensor), axis=_axis(axis), keepdims=keepdims)


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None):
    return F.prod(_t(input_tensor), axis=_axis(axis), keepdims=keepdims)


def square(x, name=None):
    x = _t(x)
    return x * x


def sqrt(x, name=None):
    return F.sqrt(_t(x))


def exp(x, name=None):
    return F.exp(_t(x))


def log(x, name=None):
    return F.log(_t(x))


def abs(x, name=None):   # noqa: A001  (TensorFlow's name)
    return F.abs(_t(x))


def matmul(a, b, transpose_a=False, transpose_b=False, name=None):
    a, b = _t(a), _t(b)
    if transpose_a:
        a = F.swapaxes(a, -1, -2)
    if transpose_b:
        b = F.swapaxes(b, -1, -2)
    return F.matmul(a, b)


def reshape(tensor, shape, name=None):
    return F.reshape(_t(tensor), tuple(int(n) for n in shape))


def transpose(a, perm=None, name=None):
    a = _t(a)
    return F.transpose(a) if perm is None else F.transpose(a, *perm)


def cast(x, dtype, name=None):
    return _t(x).astype(np.dtype(dtype))


def argmax(input, axis=None, output_type=int64, name=None):   # noqa: A002
    """Index of the largest value along ``axis`` (TensorFlow: axis 0 when None)."""
    return Tensor.wrap(np.argmax(_t(input).data, axis=0 if axis is None else axis).astype(output_type))


def argmin(input, axis=None, output_type=int64, name=None):   # noqa: A002
    return Tensor.wrap(np.argmin(_t(input).data, axis=0 if axis is None else axis).astype(output_type))


def equal(x, y, name=None):
    return F.equal(_t(x), _t(y))


def maximum(x, y, name=None):
    return F.maximum(_t(x), _t(y))


def minimum(x, y, name=None):
    return F.minimum(_t(x), _t(y))


def add(x, y, name=None):
    return F.add(_t(x), _t(y))


def subtract(x, y, name=None):
    return F.sub(_t(x), _t(y))


def multiply(x, y, name=None):
    return F.mul(_t(x), _t(y))


def divide(x, y, name=None):
    return F.div(_t(x), _t(y))


def concat(values, axis, name=None):
    return F.concatenate([_t(v) for v in values], axis=axis)


def stack(values, axis=0, name=None):
    return F.stack([_t(v) for v in values], axis=axis)


def expand_dims(input, axis, name=None):   # noqa: A002
    return F.expand_dims(_t(input), axis)


def squeeze(input, axis=None, name=None):   # noqa: A002
    return F.squeeze(_t(input), axis)


def ones(shape, dtype=float32, name=None):
    return Tensor.wrap(np.ones(tuple(shape) if not isinstance(shape, int) else (shape,), dtype=dtype))


def zeros(shape, dtype=float32, name=None):
    return Tensor.wrap(np.zeros(tuple(shape) if not isinstance(shape, int) else (shape,), dtype=dtype))


def ones_like(input, dtype=None, name=None):   # noqa: A002
    x = _t(input)
    return Tensor.wrap(np.ones(x.shape, dtype=dtype or x.dtype))


def zeros_like(input, dtype=None, name=None):   # noqa: A002
    x = _t(input)
    return Tensor.wrap(np.zeros(x.shape, dtype=dtype or x.dtype))


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    return F.clip(_t(t), clip_value_min, clip_value_max)


def where(condition, x=None, y=None, name=None):
    if x is None and y is None:
        return Tensor.wrap(np.argwhere(_t(condition).data).astype(np.int64))
    return F.where(_t(condition), _t(x), _t(y))


def one_hot(indices, depth, on_value=1.0, off_value=0.0, axis=-1, dtype=float32, name=None):
    """One-hot rows of length ``depth`` (indices out of range give all-off rows, as TensorFlow)."""
    idx = np.asarray(_t(indices).data).astype(np.int64)
    out = np.full(idx.shape + (int(depth),), off_value, dtype=dtype)
    ok = (idx >= 0) & (idx < depth)
    sel = np.nonzero(ok)
    out[sel + (idx[ok],)] = on_value
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return Tensor.wrap(out)


def range(start, limit=None, delta=1, dtype=None, name=None):   # noqa: A001
    if limit is None:
        start, limit = 0, start
    arr = np.arange(start, limit, delta)
    return _t(arr if dtype is None else arr.astype(dtype))


def shape(input, name=None):   # noqa: A002
    return Tensor.wrap(np.asarray(_t(input).shape, dtype=np.int32))


# -- tf.nn ---------------------------------------------------------------------------------
def _sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per-sample -log softmax(logits)[label] (integer labels of shape logits.shape[:-1])."""
    z = _t(logits)
    return F.cross_entropy(z, np.asarray(_t(labels).data).astype(np.int64), reduction="none")


def _softmax_cross_entropy_with_logits(labels=None, logits=None, axis=-1, name=None):
    """Per-sample -sum(labels * log softmax(logits)) (labels: probabilities of logits' shape)."""
    z, t = _t(logits), _t(labels, _t(logits).dtype)
    if axis not in (-1, z.ndim - 1):
        z, t = F.moveaxis(z, axis, -1), F.moveaxis(t, axis, -1)
    return F.cross_entropy(z, t, reduction="none")


def _sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    z = _t(logits)
    return F.binary_cross_entropy_with_logits(z, _t(labels, z.dtype), reduction="none")


nn = types.SimpleNamespace(
    softmax=lambda logits, axis=-1, name=None: F.softmax(_t(logits), axis),
    log_softmax=lambda logits, axis=-1, name=None: F.log_softmax(_t(logits), axis),
    relu=lambda features, name=None: F.relu(_t(features)),
    sigmoid=lambda x, name=None: F.sigmoid(_t(x)),
    tanh=lambda x, name=None: F.tanh(_t(x)),
    gelu=lambda features, approximate=False, name=None: F.gelu(_t(features),
                                                               "tanh" if approximate else "none"),
    silu=lambda features, beta=1.0, name=None: F.silu(_t(features)),
    leaky_relu=lambda features, alpha=0.2, name=None: F.leaky_relu(_t(features), alpha),
    sparse_softmax_cross_entropy_with_logits=_sparse_softmax_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits=_softmax_cross_entropy_with_logits,
    sigmoid_cross_entropy_with_logits=_sigmoid_cross_entropy_with_logits,
)
nn.swish = nn.silu

math = types.SimpleNamespace(
    reduce_mean=reduce_mean, reduce_sum=reduce_sum, reduce_max=reduce_max, reduce_min=reduce_min,
    reduce_prod=reduce_prod, square=square, sqrt=sqrt, exp=exp, log=log, abs=abs,
    argmax=argmax, argmin=argmin, equal=equal, maximum=maximum, minimum=minimum, add=add,
    subtract=subtract, multiply=multiply, divide=divide, sigmoid=nn.sigmoid, tanh=nn.tanh,
    log1p=lambda x, name=None: F.log1p(_t(x)), pow=lambda x, y, name=None: F.pow(_t(x), y),
    softplus=lambda x, name=None: F.softplus(_t(x)),
)


# -- tf.random -------------------------------------------------------------------------------
def _random_normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name=None):
    gen = _random.default_generator() if seed is None else np.random.default_rng(seed)
    return Tensor.wrap(gen.normal(mean, stddev, tuple(shape)).astype(dtype))


def _random_uniform(shape, minval=0, maxval=None, dtype=float32, seed=None, name=None):
    gen = _random.default_generator() if seed is None else np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        if maxval is None:
            raise ValueError("tf.random.uniform: integer dtypes need maxval")
        return Tensor.wrap(gen.integers(minval, maxval, tuple(shape)).astype(dtype))
    return Tensor.wrap(gen.uniform(minval, 1.0 if maxval is None else maxval, tuple(shape)).astype(dtype))


random = types.SimpleNamespace(set_seed=_random.manual_seed, normal=_random_normal,
                               uniform=_random_uniform)
