"""Keras 3's NumPy-like ops, part 1: elementwise maths, arithmetic, comparisons and reductions
(``keras.ops.add``, ``exp``, ``mean``, ``argmax`` ...), with Keras' names, signatures and
defaults, computed by ``ember.functional`` (so gradients flow).

dtypes follow Keras where it is cheap: arithmetic on ints stays int (``int32 + 2`` is int32),
``mean`` / ``std`` / ``sqrt`` / ``exp`` ... of ints give float32, ``sum`` / ``cumsum`` / ``prod`` of
int32 stay int32 (bools and small ints give int32), ``argmax`` / ``argmin`` / ``argsort`` give
int32, comparisons give bool.
"""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ..keras_tensor import symbolic
from .core import axis_arg, exporter, float_tensor, operand, to_tensor

__all__ = []     # filled by _export


_export = exporter(__all__)


def _unary(name, f, doc, float_out=False):
    def op(x):
        x = to_tensor(x)
        if float_out and x.dtype.kind != "f":
            x = F.cast(x, np.float32)
        return f(x)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc + " (elementwise)."
    return _export(symbolic(op))


def _operands(x1, x2):
    """Both operands of a binary op: Python scalars stay weak unless both are scalars (then the
    first becomes a tensor: int32 / float32, as Keras)."""
    a, b = operand(x1), operand(x2)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = to_tensor(a)
    return a, b


def _binary(name, f, doc):
    def op(x1, x2):
        return f(*_operands(x1, x2))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc + " (elementwise, NumPy broadcasting)."
    return _export(symbolic(op))


# -- elementwise unary -----------------------------------------------------------------------------
abs = _unary("abs", F.abs, "|x|")                     # noqa: A001
absolute = _unary("absolute", F.abs, "|x|")
negative = _unary("negative", F.negative, "-x")
sign = _unary("sign", F.sign, "-1, 0 or 1 by the sign of x")
square = _unary("square", lambda x: F.multiply(x, x), "x * x")
sqrt = _unary("sqrt", F.sqrt, "The square root of x", float_out=True)
rsqrt = _unary("rsqrt", F.rsqrt, "1 / sqrt(x)", float_out=True)
cbrt = _unary("cbrt", lambda x: F.multiply(F.sign(x), F.power(F.abs(x), 1.0 / 3.0)),
              "The cube root of x", float_out=True)
reciprocal = _unary("reciprocal", lambda x: F.divide(1.0, x), "1 / x", float_out=True)
exp = _unary("exp", F.exp, "e ** x", float_out=True)
exp2 = _unary("exp2", F.exp2, "2 ** x", float_out=True)
expm1 = _unary("expm1", F.expm1, "e ** x - 1", float_out=True)
log = _unary("log", F.log, "The natural logarithm of x", float_out=True)
log1p = _unary("log1p", F.log1p, "log(1 + x)", float_out=True)
log2 = _unary("log2", F.log2, "The base-2 logarithm of x", float_out=True)
log10 = _unary("log10", F.log10, "The base-10 logarithm of x", float_out=True)
sin = _unary("sin", F.sin, "sin(x)", float_out=True)
cos = _unary("cos", F.cos, "cos(x)", float_out=True)
tan = _unary("tan", F.tan, "tan(x)", float_out=True)
arcsin = _unary("arcsin", F.arcsin, "arcsin(x)", float_out=True)
arccos = _unary("arccos", F.arccos, "arccos(x)", float_out=True)
arctan = _unary("arctan", F.arctan, "arctan(x)", float_out=True)
sinh = _unary("sinh", F.sinh, "sinh(x)", float_out=True)
cosh = _unary("cosh", F.cosh, "cosh(x)", float_out=True)
tanh = _unary("tanh", F.tanh, "tanh(x)", float_out=True)
arcsinh = _unary("arcsinh", F.arcsinh, "arcsinh(x)", float_out=True)
arccosh = _unary("arccosh", F.arccosh, "arccosh(x)", float_out=True)
arctanh = _unary("arctanh", F.arctanh, "arctanh(x)", float_out=True)
erf = _unary("erf", F.erf, "The error function of x", float_out=True)
erfc = _unary("erfc", F.erfc, "1 - erf(x)", float_out=True)
erfinv = _unary("erfinv", F.erfinv, "The inverse error function of x", float_out=True)
floor = _unary("floor", F.floor, "The largest integer <= x", float_out=True)
ceil = _unary("ceil", F.ceil, "The smallest integer >= x", float_out=True)
trunc = _unary("trunc", F.trunc, "x rounded towards zero")
isnan = _unary("isnan", F.isnan, "Whether x is NaN")
isinf = _unary("isinf", F.isinf, "Whether x is +-inf")
isfinite = _unary("isfinite", F.isfinite, "Whether x is finite")
logical_not = _unary("logical_not", F.logical_not, "not x")
deg2rad = _unary("deg2rad", lambda x: F.multiply(x, np.pi / 180), "Degrees to radians",
                 float_out=True)
rad2deg = _unary("rad2deg", lambda x: F.multiply(x, 180 / np.pi), "Radians to degrees",
                 float_out=True)
signbit = _unary("signbit", lambda x: F.less(F.copysign(F.cast(x, np.float32), 1.0), 0),
                 "Whether the sign bit of x is set")


@_export
@symbolic
def round(x, decimals=0):   # noqa: A001
    """x rounded half to even to ``decimals`` places."""
    return F.round(to_tensor(x), decimals)


@_export
@symbolic
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """x with NaN replaced by ``nan`` and +-inf by ``posinf`` / ``neginf`` (default: the dtype's
    largest / smallest finite value)."""
    return F.nan_to_num(to_tensor(x), nan, posinf, neginf)


@_export
@symbolic
def clip(x, x_min, x_max):
    """x limited to [x_min, x_max] (a bool input is clipped as int32, as Keras)."""
    x = to_tensor(x)
    if x.dtype == np.bool_:
        x = F.cast(x, np.int32)
    return F.clip(x, x_min, x_max)


# -- elementwise binary ----------------------------------------------------------------------------
add = _binary("add", F.add, "x1 + x2")
subtract = _binary("subtract", F.subtract, "x1 - x2")
multiply = _binary("multiply", F.multiply, "x1 * x2")
divide = _binary("divide", F.divide, "x1 / x2 (true division, float result)")
true_divide = _binary("true_divide", F.true_divide, "x1 / x2 (true division, float result)")
floor_divide = _binary("floor_divide", F.floor_divide, "floor(x1 / x2)")
mod = _binary("mod", F.remainder, "x1 mod x2 (the sign of x2, as NumPy)")
fmod = _binary("fmod", F.fmod, "x1 mod x2 (the sign of x1, as C)")
maximum = _binary("maximum", F.maximum, "The larger of x1 and x2")
minimum = _binary("minimum", F.minimum, "The smaller of x1 and x2")
arctan2 = _binary("arctan2", lambda a, b: F.arctan2(_f(a), _f(b)), "arctan(x1 / x2) by quadrant")
hypot = _binary("hypot", lambda a, b: F.hypot(_f(a), _f(b)), "sqrt(x1 ** 2 + x2 ** 2)")
logaddexp = _binary("logaddexp", lambda a, b: F.logaddexp(_f(a), _f(b)),
                    "log(exp(x1) + exp(x2)), stably")
equal = _binary("equal", F.equal, "x1 == x2")
not_equal = _binary("not_equal", F.not_equal, "x1 != x2")
less = _binary("less", F.less, "x1 < x2")
less_equal = _binary("less_equal", F.less_equal, "x1 <= x2")
greater = _binary("greater", F.greater, "x1 > x2")
greater_equal = _binary("greater_equal", F.greater_equal, "x1 >= x2")
logical_and = _binary("logical_and", F.logical_and, "x1 and x2")
logical_or = _binary("logical_or", F.logical_or, "x1 or x2")
logical_xor = _binary("logical_xor", F.logical_xor, "x1 xor x2")


def _f(x):
    """A float operand (float32 for ints and Python ints)."""
    if isinstance(x, (int, float, bool, np.number)):
        return float(x)
    return x if x.dtype.kind == "f" else F.cast(x, np.float32)


@_export
@symbolic
def power(x1, x2):
    """x1 ** x2 (elementwise, NumPy broadcasting)."""
    a, b = _operands(x1, x2)
    if isinstance(a, (int, float)) and not isinstance(b, (int, float)):
        a = to_tensor(a, b.dtype if isinstance(a, int) or b.dtype.kind == "f" else np.float32)
    return F.power(a, b)


@_export
@symbolic
def isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|x1 - x2| <= atol + rtol * |x2| (elementwise)."""
    return F.isclose(to_tensor(x1), to_tensor(x2), rtol, atol, equal_nan)


@_export
@symbolic
def allclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of x1 and x2 is close (a bool scalar tensor)."""
    return F.all(isclose(x1, x2, rtol, atol, equal_nan))


@_export
@symbolic
def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` else ``x2``; with neither given, the indices of the true
    elements (a tuple of int32 tensors, one per axis)."""
    cond = to_tensor(condition)
    if x1 is None and x2 is None:
        return tuple(F.cast(i, np.int32) for i in F.nonzero(cond, as_tuple=True))
    if x1 is None or x2 is None:
        raise ValueError("keras.ops.where: give both x1 and x2, or neither")
    if cond.dtype != np.bool_:
        cond = F.not_equal(cond, 0)
    return F.where(cond, operand(x1), operand(x2))


# -- reductions ------------------------------------------------------------------------------------
def _keep_int(result, x):
    """Keras' dtype of an integer sum / product: int32 for bool and ints up to 32 bits."""
    if x.dtype.kind in "biu" and x.dtype.itemsize <= 4:
        return F.cast(result, np.int32 if x.dtype.kind != "u" or x.dtype.itemsize < 4 else np.uint32)
    return result


@_export
@symbolic
def sum(x, axis=None, keepdims=False):   # noqa: A001
    """The sum over ``axis`` (all axes when None; an int or a tuple)."""
    x = to_tensor(x)
    return _keep_int(F.sum(x, axis_arg(axis), keepdims), x)


@_export
@symbolic
def prod(x, axis=None, keepdims=False, dtype=None):
    """The product over ``axis``."""
    x = to_tensor(x, dtype)
    return _keep_int(F.prod(x, axis_arg(axis), keepdims), x)


@_export
@symbolic
def mean(x, axis=None, keepdims=False):
    """The mean over ``axis`` (float32 for int inputs)."""
    return F.mean(float_tensor(x), axis_arg(axis), keepdims)


@_export
@symbolic
def average(x, axis=None, weights=None):
    """The (``weights``-weighted) mean over ``axis``; ``weights`` has x's shape or is 1-D along
    ``axis``."""
    x = float_tensor(x)
    if weights is None:
        return F.mean(x, axis_arg(axis))
    w = F.cast(to_tensor(weights), x.dtype)
    if w.ndim == 1 and x.ndim > 1 and axis is not None:
        w = F.reshape(w, tuple(-1 if i == axis % x.ndim else 1 for i in range(x.ndim)))
    return F.divide(F.sum(F.multiply(x, w), axis_arg(axis)),
                    F.sum(F.broadcast_to(w, tuple(x.shape)), axis_arg(axis)))


@_export
@symbolic
def var(x, axis=None, keepdims=False):
    """The (population) variance over ``axis``."""
    return F.var(float_tensor(x), axis_arg(axis), 0, keepdims)


@_export
@symbolic
def std(x, axis=None, keepdims=False):
    """The (population) standard deviation over ``axis``."""
    return F.std(float_tensor(x), axis_arg(axis), 0, keepdims)


def _initial(result, initial, pick):
    return result if initial is None else pick(result, initial)


@_export
@symbolic
def max(x, axis=None, keepdims=False, initial=None):   # noqa: A001
    """The maximum over ``axis`` (at least ``initial`` when given)."""
    return _initial(F.max(to_tensor(x), axis_arg(axis), keepdims), initial, F.maximum)


@_export
@symbolic
def min(x, axis=None, keepdims=False, initial=None):   # noqa: A001
    """The minimum over ``axis`` (at most ``initial`` when given)."""
    return _initial(F.min(to_tensor(x), axis_arg(axis), keepdims), initial, F.minimum)


@_export
@symbolic
def amax(x, axis=None, keepdims=False):
    """The maximum over ``axis``."""
    return F.max(to_tensor(x), axis_arg(axis), keepdims)


@_export
@symbolic
def amin(x, axis=None, keepdims=False):
    """The minimum over ``axis``."""
    return F.min(to_tensor(x), axis_arg(axis), keepdims)


@_export
@symbolic
def ptp(x, axis=None, keepdims=False):
    """max - min over ``axis``."""
    x = to_tensor(x)
    return F.subtract(F.max(x, axis_arg(axis), keepdims), F.min(x, axis_arg(axis), keepdims))


@_export
@symbolic
def median(x, axis=None, keepdims=False):
    """The median over ``axis`` (the mean of the two middle values for even counts, as NumPy)."""
    x = float_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    n = x.shape[axis]
    s = F.sort(x, axis=axis).values
    lo = F.take(s, np.array([(n - 1) // 2]), axis=axis)
    hi = F.take(s, np.array([n // 2]), axis=axis)
    out = F.multiply(F.add(lo, hi), 0.5)
    return out if keepdims else F.squeeze(out, axis)


@_export
@symbolic
def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-quantiles (q in [0, 1], a scalar or 1-D) over ``axis``, linear interpolation
    (``method='linear'`` only); a 1-D ``q`` puts the quantiles on a new axis 0."""
    if method != "linear":
        raise ValueError(f"keras.ops.quantile: method={method!r}; ember supports 'linear'")
    x = float_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    axis = axis % x.ndim
    n = x.shape[axis]
    qs = np.atleast_1d(np.asarray(q.numpy() if hasattr(q, "numpy") else q, dtype=np.float64))
    pos = qs * (n - 1)
    lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    frac = (pos - lo).astype(x.dtype)
    s = F.sort(x, axis=axis).values
    shape = [1] * x.ndim
    shape[axis] = -1
    a, b = F.take(s, lo, axis=axis), F.take(s, hi, axis=axis)
    out = F.add(a, F.multiply(F.subtract(b, a), frac.reshape(shape)))
    out = F.moveaxis(out, axis, 0)
    if keepdims:
        out = F.expand_dims(out, axis + 1)
    return out if np.ndim(q) else F.squeeze(out, 0)


@_export
@symbolic
def percentile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th percentiles (q in [0, 100]) over ``axis`` (see :func:`quantile`)."""
    return quantile(x, np.asarray(q.numpy() if hasattr(q, "numpy") else q) / 100.0, axis,
                    method, keepdims)


@_export
@symbolic
def argmax(x, axis=None, keepdims=False):
    """The int32 index of the first maximum over ``axis`` (of the flattened x when None)."""
    return F.cast(F.argmax(to_tensor(x), axis, keepdims), np.int32)


@_export
@symbolic
def argmin(x, axis=None, keepdims=False):
    """The int32 index of the first minimum over ``axis`` (of the flattened x when None)."""
    return F.cast(F.argmin(to_tensor(x), axis, keepdims), np.int32)


@_export
@symbolic
def all(x, axis=None, keepdims=False):   # noqa: A001
    """Whether every element over ``axis`` is true (non-zero)."""
    return F.all(to_tensor(x), axis_arg(axis), keepdims)


@_export
@symbolic
def any(x, axis=None, keepdims=False):   # noqa: A001
    """Whether some element over ``axis`` is true (non-zero)."""
    return F.any(to_tensor(x), axis_arg(axis), keepdims)


@_export
@symbolic
def count_nonzero(x, axis=None):
    """The number of non-zero elements over ``axis`` (int32)."""
    return F.cast(F.sum(F.not_equal(to_tensor(x), 0), axis_arg(axis)), np.int32)


@_export
@symbolic
def cumsum(x, axis=None, dtype=None):
    """The running sum along ``axis`` (of the flattened x when None)."""
    x = to_tensor(x, dtype)
    return _keep_int(F.cumsum(x if axis is not None else F.reshape(x, (-1,)),
                              0 if axis is None else axis), x)


@_export
@symbolic
def cumprod(x, axis=None, dtype=None):
    """The running product along ``axis`` (of the flattened x when None)."""
    x = to_tensor(x, dtype)
    return _keep_int(F.cumprod(x if axis is not None else F.reshape(x, (-1,)),
                               0 if axis is None else axis), x)


@_export
@symbolic
def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis``, computed stably."""
    return F.logsumexp(float_tensor(x), axis_arg(axis), keepdims)


# -- sorting -----------------------------------------------------------------------------------------
@_export
@symbolic
def sort(x, axis=-1):
    """x sorted ascending along ``axis`` (flattened first when None)."""
    x = to_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    return F.sort(x, axis=axis).values


@_export
@symbolic
def argsort(x, axis=-1):
    """The int32 indices that sort x ascending along ``axis`` (stable)."""
    x = to_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    return F.cast(F.argsort(x, axis=axis), np.int32)


@_export
@symbolic
def top_k(x, k, sorted=True):   # noqa: A002
    """``(values, indices)`` of the ``k`` largest entries along the last axis (indices int32)."""
    values, indices = F.topk(to_tensor(x), int(k), axis=-1, sorted=sorted)
    return values, F.cast(indices, np.int32)


@_export
@symbolic
def in_top_k(targets, predictions, k):
    """Whether each target class (B,) is among the ``k`` largest predictions (B, C) (ties with
    the k-th value count as in, as Keras)."""
    p = to_tensor(predictions)
    t = to_tensor(targets)
    target_score = F.take_along_dim(p, F.reshape(F.cast(t, np.int64), (-1, 1)), axis=-1)
    kth = F.topk(p, int(k), axis=-1).values[:, -1:]
    return F.reshape(F.greater_equal(target_score, kth), (-1,))


# -- products ----------------------------------------------------------------------------------------
@_export
@symbolic
def matmul(x1, x2):
    """The matrix product (NumPy's matmul: batched over leading axes, 1-D operands promoted)."""
    return F.matmul(to_tensor(x1), to_tensor(x2))


@_export
@symbolic
def dot(x1, x2):
    """NumPy's dot: matmul for 1-D / 2-D operands, scalar multiplication for scalars, and the
    sum over x1's last and x2's second-to-last axis otherwise."""
    a, b = to_tensor(x1), to_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return F.multiply(a, b)
    if b.ndim <= 2:
        return F.matmul(a, b)
    return F.tensordot(a, b, ([a.ndim - 1], [b.ndim - 2]))


@_export
@symbolic
def vdot(x1, x2):
    """The dot product of the flattened x1 and x2."""
    return F.sum(F.multiply(F.reshape(to_tensor(x1), (-1,)), F.reshape(to_tensor(x2), (-1,))))


@_export
@symbolic
def inner(x1, x2):
    """The sum product over the last axes of x1 and x2."""
    a, b = to_tensor(x1), to_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return F.multiply(a, b)
    return F.tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


@_export
@symbolic
def outer(x1, x2):
    """The outer product of the flattened x1 and x2."""
    return F.outer(F.reshape(to_tensor(x1), (-1,)), F.reshape(to_tensor(x2), (-1,)))


@_export
@symbolic
def tensordot(x1, x2, axes=2):
    """The sum product over ``axes`` (an int: x1's last and x2's first ``axes`` axes; or a pair of
    axis lists)."""
    return F.tensordot(to_tensor(x1), to_tensor(x2), axes)


@_export
@symbolic
def einsum(subscripts, *operands, **kwargs):
    """Einstein summation, NumPy's notation."""
    return F.einsum(subscripts, *[to_tensor(o) for o in operands])


@_export
@symbolic
def kron(x1, x2):
    """The Kronecker product."""
    return F.kron(to_tensor(x1), to_tensor(x2))


@_export
@symbolic
def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The 3-vector cross product along ``axis`` (or axisa / axisb, result on axisc)."""
    a, b = to_tensor(x1), to_tensor(x2)
    if axis is not None:
        axisa = axisb = axisc = axis
    out = F.cross(F.moveaxis(a, axisa, -1), F.moveaxis(b, axisb, -1), axis=-1)
    return F.moveaxis(out, -1, axisc)


@_export
@symbolic
def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the ``offset`` diagonal of the (axis1, axis2) planes."""
    return F.sum(F.diagonal(to_tensor(x), offset, axis1, axis2), -1)


@_export
@symbolic
def norm(x, ord=None, axis=None, keepdims=False):   # noqa: A002
    """The vector (axis an int, or x 1-D) or matrix (axis a pair, or x 2-D) norm, NumPy's
    ``ord`` meanings; the Frobenius / 2-norm by default."""
    return F.norm(float_tensor(x), ord, axis_arg(axis), keepdims)
