"""``tf.math``: TensorFlow 2's maths functions, with its names, argument names and dtypes, on
``ember.keras.ops`` (so gradients flow and results are ember Tensors).

TensorFlow's conventions kept here: ``reduce_*(input_tensor, axis=None, keepdims=False)`` (axis
None: every axis); ``reduce_mean`` of integers stays integer (truncated, as TensorFlow);
``argmax`` / ``argmin`` reduce axis 0 when ``axis`` is None and return int64 (``output_type``);
``cumsum`` / ``cumprod`` take ``exclusive`` and ``reverse``; ``top_k`` returns
``(values, indices)`` with int32 indices; ``confusion_matrix`` puts labels on rows and predictions
on columns.  Every function also accepts TensorFlow's ``name=`` (ignored).
"""
import collections
import functools

import numpy as np

from .. import ops
from ._base import accept_symbolic, axis_arg, dtype_of, int32, int64, missing_name, t


def _unary(op):
    def f(x, name=None):
        return op(x)
    f.__name__ = f.__qualname__ = op.__name__
    f.__doc__ = f"``{op.__name__}`` elementwise (``keras.ops.{op.__name__}``)."
    return f


def _binary(op):
    def f(x, y, name=None):
        return op(x, y)
    f.__name__ = f.__qualname__ = op.__name__
    f.__doc__ = f"``{op.__name__}(x, y)`` elementwise with broadcasting (``keras.ops``)."
    return f


# -- elementwise -------------------------------------------------------------------------------
abs = _unary(ops.abs)               # noqa: A001  (TensorFlow's name)
negative = _unary(ops.negative)
reciprocal = _unary(ops.reciprocal)
sign = _unary(ops.sign)
square = _unary(ops.square)
sqrt = _unary(ops.sqrt)
rsqrt = _unary(ops.rsqrt)
exp = _unary(ops.exp)
expm1 = _unary(ops.expm1)
log = _unary(ops.log)
log1p = _unary(ops.log1p)
log_sigmoid = _unary(ops.log_sigmoid)
sigmoid = _unary(ops.sigmoid)
tanh = _unary(ops.tanh)
softplus = _unary(ops.softplus)
softsign = _unary(ops.softsign)
erf = _unary(ops.erf)
sin, cos, tan = _unary(ops.sin), _unary(ops.cos), _unary(ops.tan)
asin, acos, atan = _unary(ops.arcsin), _unary(ops.arccos), _unary(ops.arctan)
sinh, cosh = _unary(ops.sinh), _unary(ops.cosh)
asinh, acosh, atanh = _unary(ops.arcsinh), _unary(ops.arccosh), _unary(ops.arctanh)
floor, ceil = _unary(ops.floor), _unary(ops.ceil)
round = _unary(ops.round)           # noqa: A001  (half to even, as TensorFlow)
is_nan, is_inf, is_finite = _unary(ops.isnan), _unary(ops.isinf), _unary(ops.isfinite)
logical_not = _unary(ops.logical_not)

add, subtract, multiply = _binary(ops.add), _binary(ops.subtract), _binary(ops.multiply)
divide, truediv = _binary(ops.true_divide), _binary(ops.true_divide)
floordiv = _binary(ops.floor_divide)
floormod = mod = _binary(ops.mod)
maximum, minimum = _binary(ops.maximum), _binary(ops.minimum)
pow = _binary(ops.power)            # noqa: A001  (TensorFlow's name)
atan2 = _binary(ops.arctan2)
divide_no_nan = _binary(ops.divide_no_nan)
equal, not_equal = _binary(ops.equal), _binary(ops.not_equal)
greater, greater_equal = _binary(ops.greater), _binary(ops.greater_equal)
less, less_equal = _binary(ops.less), _binary(ops.less_equal)
logical_and, logical_or, logical_xor = (_binary(ops.logical_and), _binary(ops.logical_or),
                                        _binary(ops.logical_xor))


def squared_difference(x, y, name=None):
    """``(x - y) ** 2`` elementwise."""
    return ops.square(ops.subtract(x, y))


def scalar_mul(scalar, x, name=None):
    """``scalar * x``."""
    return ops.multiply(x, scalar)


def add_n(inputs, name=None):
    """The elementwise sum of a list of tensors of one shape."""
    inputs = list(inputs)
    if not inputs:
        raise ValueError("tf.math.add_n: got an empty list; pass at least one tensor")
    return functools.reduce(ops.add, inputs[1:], t(inputs[0]))


# -- reductions --------------------------------------------------------------------------------
def _reduction(op, doc):
    def f(input_tensor, axis=None, keepdims=False, name=None):
        return op(input_tensor, axis=axis_arg(axis), keepdims=bool(keepdims))
    f.__doc__ = f"{doc} over ``axis`` (every axis when None; ``keepdims`` keeps them as size 1)."
    return f


reduce_sum = _reduction(ops.sum, "The sum")
reduce_max = _reduction(ops.max, "The largest value")
reduce_min = _reduction(ops.min, "The smallest value")
reduce_prod = _reduction(ops.prod, "The product")
reduce_any = _reduction(ops.any, "Logical or")
reduce_all = _reduction(ops.all, "Logical and")
reduce_logsumexp = _reduction(ops.logsumexp, "log(sum(exp(x))), computed stably,")
reduce_std = _reduction(ops.std, "The (population) standard deviation")
reduce_variance = _reduction(ops.var, "The (population) variance")
for _f, _n in ((reduce_sum, "reduce_sum"), (reduce_max, "reduce_max"), (reduce_min, "reduce_min"),
               (reduce_prod, "reduce_prod"), (reduce_any, "reduce_any"), (reduce_all, "reduce_all"),
               (reduce_logsumexp, "reduce_logsumexp"), (reduce_std, "reduce_std"),
               (reduce_variance, "reduce_variance")):
    _f.__name__ = _f.__qualname__ = _n


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """The mean over ``axis`` (every axis when None).  Integer input gives an integer result
    (truncated toward zero), as TensorFlow."""
    x = t(input_tensor)
    out = ops.mean(x, axis=axis_arg(axis), keepdims=bool(keepdims))
    return ops.cast(out, x.dtype) if x.dtype.kind in "iu" else out


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """``sqrt(sum(x ** 2))`` over ``axis``."""
    return ops.sqrt(reduce_sum(ops.square(input_tensor), axis, keepdims))


def count_nonzero(input, axis=None, keepdims=None, dtype=int64, name=None):   # noqa: A002
    """The number of non-zero entries over ``axis`` (int64 by default)."""
    out = ops.count_nonzero(input, axis=axis_arg(axis))
    if keepdims:
        out = ops.reshape(out, _kept_shape(t(input).shape, axis))
    return ops.cast(out, dtype_of(dtype))


def _kept_shape(shape, axis):
    axes = range(len(shape)) if axis is None else [a % len(shape) for a in np.atleast_1d(axis)]
    return tuple(1 if i in set(axes) else n for i, n in enumerate(shape))


def argmax(input, axis=None, output_type=int64, name=None):   # noqa: A002
    """The index of the largest value along ``axis`` (axis 0 when None, as TensorFlow), int64
    unless ``output_type`` says otherwise."""
    return ops.cast(ops.argmax(input, axis=0 if axis is None else int(axis)), dtype_of(output_type))


def argmin(input, axis=None, output_type=int64, name=None):   # noqa: A002
    """The index of the smallest value along ``axis`` (axis 0 when None), int64 by default."""
    return ops.cast(ops.argmin(input, axis=0 if axis is None else int(axis)), dtype_of(output_type))


# -- scans -------------------------------------------------------------------------------------
def _scan(op, identity, x, axis, exclusive, reverse):
    x = t(x)
    axis = int(axis) % max(x.ndim, 1)
    if reverse:
        x = ops.flip(x, axis)
    if exclusive:
        # shift by one along the axis, the identity first, so entry i sums the entries before i
        first = ops.full_like(ops.take(x, [0], axis=axis), identity)
        x = ops.concatenate([first, ops.take(x, list(range(x.shape[axis] - 1)), axis=axis)], axis)
    out = op(x, axis=axis)
    return ops.flip(out, axis) if reverse else out


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Running sums along ``axis``; ``exclusive`` leaves out each entry itself, ``reverse`` runs
    from the end."""
    return _scan(ops.cumsum, 0, x, axis, exclusive, reverse)


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """Running products along ``axis`` (``exclusive`` / ``reverse`` as :func:`cumsum`)."""
    return _scan(ops.cumprod, 1, x, axis, exclusive, reverse)


# -- ranking and counting ----------------------------------------------------------------------
TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])


def top_k(input, k=1, sorted=True, index_type=int32, name=None):   # noqa: A002
    """``(values, indices)`` of the ``k`` largest entries along the last axis."""
    values, indices = ops.top_k(input, int(k), sorted=sorted)
    return TopKV2(values, ops.cast(indices, dtype_of(index_type)))


def in_top_k(targets, predictions, k, name=None):
    """Whether each target class (batch,) is among the ``k`` largest ``predictions``
    (batch, classes)."""
    return ops.in_top_k(targets, predictions, int(k))


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=int32, name=None):
    """The (num_classes, num_classes) matrix counting label ``i`` predicted as ``j`` at
    ``[i, j]`` (``weights`` adds a weight per sample instead of 1).  ``num_classes`` defaults to
    one more than the largest label or prediction."""
    lab = ops.cast(ops.reshape(labels, (-1,)), int64)
    pred = ops.cast(ops.reshape(predictions, (-1,)), int64)
    if lab.shape != pred.shape:
        raise ValueError(f"tf.math.confusion_matrix: labels {lab.shape} and predictions "
                         f"{pred.shape} must have the same number of entries")
    if num_classes is None:
        num_classes = int(ops.maximum(ops.max(lab), ops.max(pred))) + 1 if lab.shape[0] else 0
    n = int(num_classes)
    if lab.shape[0] and (int(ops.min(ops.minimum(lab, pred))) < 0
                         or int(ops.max(ops.maximum(lab, pred))) >= n):
        raise ValueError(f"tf.math.confusion_matrix: labels and predictions must be in "
                         f"[0, {n}) for num_classes={n}")
    w = None if weights is None else ops.reshape(weights, (-1,))
    counts = ops.bincount(ops.add(ops.multiply(lab, n), pred), weights=w, minlength=n * n)
    return ops.cast(ops.reshape(counts, (n, n)), dtype_of(dtype))


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """Sums of the rows of ``data`` sharing a segment id, for ids in [0, num_segments)."""
    return ops.segment_sum(data, segment_ids, num_segments=int(num_segments))


def segment_sum(data, segment_ids, name=None):
    """Sums of the rows of ``data`` sharing a (sorted) segment id."""
    return ops.segment_sum(data, segment_ids, sorted=True)


def unsorted_segment_max(data, segment_ids, num_segments, name=None):
    return ops.segment_max(data, segment_ids, num_segments=int(num_segments))


def l2_normalize(x, axis=None, epsilon=1e-12, name=None):
    """``x / sqrt(max(sum(x ** 2, axis), epsilon))`` (every axis when ``axis`` is None)."""
    x = t(x)
    sq = ops.sum(ops.square(x), axis=axis_arg(axis), keepdims=True)
    return ops.multiply(x, ops.rsqrt(ops.maximum(sq, epsilon)))


def softmax(logits, axis=None, name=None):
    """``exp(logits) / sum(exp(logits))`` along ``axis`` (the last when None)."""
    return ops.softmax(logits, -1 if axis is None else int(axis))


def log_softmax(logits, axis=None, name=None):
    """``logits - logsumexp(logits)`` along ``axis`` (the last when None)."""
    return ops.log_softmax(logits, -1 if axis is None else int(axis))

__all__ = sorted({n for n, v in list(globals().items())
                  if not n.startswith("_") and callable(v) and n != "accept_symbolic"
                  and getattr(v, "__module__", None) == __name__} | {"TopKV2"})


accept_symbolic(globals(), __all__, skip=())


def __getattr__(name):
    raise missing_name("ember.keras.tf.math", name, __all__)
