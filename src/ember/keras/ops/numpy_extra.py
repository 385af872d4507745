"""Keras 3's NumPy-like ops, part 3: the NaN-ignoring reductions (``nansum``, ``nanmean`` ...),
bitwise ops, real-number versions of the complex helpers (``real``, ``imag``, ``angle`` ...),
window functions and a few less common NumPy functions (``divide_no_nan``, ``heaviside``,
``isin``, ``trapezoid``, ``vander``, ``correlate``, ``histogram`` ...), computed by
``ember.functional`` (differentiable where they are in NumPy's sense; index- and count-valued
ones are not)."""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ..keras_tensor import symbolic
from .core import axis_arg, exporter, float_tensor, operand, to_tensor

__all__ = []


_export = exporter(__all__)


def _no_nan(x, fill):
    x = float_tensor(x)
    return F.where(F.isnan(x), Tensor.wrap(np.array(fill, x.dtype)), x)


# -- NaN-ignoring reductions -------------------------------------------------------------------------
def _nan_reduction(name, fill, reduce, doc, all_nan_is_nan=False):
    def op(x, axis=None, keepdims=False):
        x = float_tensor(x)
        out = reduce(_no_nan(x, fill), axis_arg(axis), keepdims)
        if all_nan_is_nan:      # a slice of NaNs only gives NaN, as NumPy
            empty = F.all(F.isnan(x), axis_arg(axis), keepdims)
            out = F.where(empty, Tensor.wrap(np.array(np.nan, out.dtype)), out)
        return out
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc + " over ``axis``, ignoring NaNs."
    return _export(symbolic(op))


nansum = _nan_reduction("nansum", 0.0, F.sum, "The sum")
nanprod = _nan_reduction("nanprod", 1.0, F.prod, "The product")
nanmax = _nan_reduction("nanmax", -np.inf, F.max, "The maximum (NaN where all are NaN)", True)
nanmin = _nan_reduction("nanmin", np.inf, F.min, "The minimum (NaN where all are NaN)", True)
nanargmax = _nan_reduction("nanargmax", -np.inf,
                           lambda x, a, k: F.cast(F.argmax(x, a, k), np.int32), "The argmax")
nanargmin = _nan_reduction("nanargmin", np.inf,
                           lambda x, a, k: F.cast(F.argmin(x, a, k), np.int32), "The argmin")


def _count(x, axis, keepdims):
    return F.sum(F.cast(F.logical_not(F.isnan(x)), x.dtype), axis_arg(axis), keepdims)


@_export
@symbolic
def nanmean(x, axis=None, keepdims=False):
    """The mean over ``axis``, ignoring NaNs."""
    x = float_tensor(x)
    return F.divide(F.sum(_no_nan(x, 0.0), axis_arg(axis), keepdims), _count(x, axis, keepdims))


@_export
@symbolic
def nanvar(x, axis=None, keepdims=False):
    """The variance over ``axis``, ignoring NaNs."""
    x = float_tensor(x)
    m = nanmean(x, axis, True)
    d = _no_nan(F.subtract(x, m), 0.0)
    return F.divide(F.sum(F.multiply(d, d), axis_arg(axis), keepdims), _count(x, axis, keepdims))


@_export
@symbolic
def nanstd(x, axis=None, keepdims=False):
    """The standard deviation over ``axis``, ignoring NaNs."""
    return F.sqrt(nanvar(x, axis, keepdims))


@_export
@symbolic
def nancumsum(x, axis=None, dtype=None):
    """The running sum along ``axis`` (flattened when None), NaNs counted as 0."""
    x = _no_nan(to_tensor(x, dtype), 0.0)
    return F.cumsum(F.reshape(x, (-1,)), 0) if axis is None else F.cumsum(x, axis)


@_export
@symbolic
def nancumprod(x, axis=None, dtype=None):
    """The running product along ``axis`` (flattened when None), NaNs counted as 1."""
    x = _no_nan(to_tensor(x, dtype), 1.0)
    return F.cumprod(F.reshape(x, (-1,)), 0) if axis is None else F.cumprod(x, axis)


@_export
@symbolic
def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-quantiles over ``axis`` ignoring NaNs (linear interpolation; a 1-D ``q`` puts
    them on a new axis 0; all-NaN slices give NaN)."""
    if method != "linear":
        raise ValueError(f"keras.ops.nanquantile: method={method!r}; ember supports 'linear'")
    x = float_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    axis = axis % x.ndim
    z = F.moveaxis(x, axis, -1)
    srt = F.sort(z, axis=-1).values                        # NaNs sort last
    valid = np.sum(~np.isnan(z.numpy()), -1, keepdims=True)
    qs = np.atleast_1d(np.asarray(q.numpy() if hasattr(q, "numpy") else q, np.float64))
    outs = []
    for qv in qs:
        pos = qv * np.maximum(valid - 1, 0)
        lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
        a, b = F.take_along_dim(srt, lo, axis=-1), F.take_along_dim(srt, hi, axis=-1)
        out = F.add(a, F.multiply(F.subtract(b, a), (pos - lo).astype(srt.dtype)))
        out = F.where(Tensor.wrap(valid == 0), Tensor.wrap(np.array(np.nan, srt.dtype)), out)
        out = F.moveaxis(out, -1, axis) if keepdims else F.squeeze(out, -1)
        outs.append(out)
    return F.stack(outs, 0) if np.ndim(q) else outs[0]


@_export
@symbolic
def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th percentiles (q in [0, 100]) over ``axis``, ignoring NaNs."""
    return nanquantile(x, np.asarray(q.numpy() if hasattr(q, "numpy") else q) / 100.0, axis,
                       method, keepdims)


@_export
@symbolic
def nanmedian(x, axis=None, keepdims=False):
    """The median over ``axis``, ignoring NaNs."""
    return nanquantile(x, 0.5, axis, "linear", keepdims)


@_export
@symbolic
def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False,   # noqa: A002
           axis=None, size=None, fill_value=None):
    """The sorted unique values of x (flattened unless ``axis``), with the first indices, the
    inverse and the counts on request (no gradient); ``size`` pads (with ``fill_value``,
    default the minimum) or cuts the values to a fixed length."""
    arr = to_tensor(x).numpy()
    res = np.unique(arr, return_index=return_index, return_inverse=return_inverse,
                    return_counts=return_counts, axis=axis)
    res = list(res) if isinstance(res, tuple) else [res]
    if size is not None:
        n = res[0].shape[0 if axis is None else axis]
        fill = res[0].min() if fill_value is None else fill_value
        if n < size:
            widths = [(0, 0)] * res[0].ndim
            widths[0 if axis is None else axis] = (0, size - n)
            res[0] = np.pad(res[0], widths, constant_values=fill)
        else:
            res[0] = np.take(res[0], np.arange(size), axis=0 if axis is None else axis)
        per_value = [1] if return_index else []          # first indices and counts: one per value
        per_value += [len(res) - 1] if return_counts else []
        for i in per_value:
            res[i] = np.pad(res[i][:size], (0, max(size - n, 0)))
    outs = [Tensor.wrap(r if i == 0 else r.astype(np.int32)) for i, r in enumerate(res)]
    return outs[0] if len(outs) == 1 else tuple(outs)


# -- bitwise ---------------------------------------------------------------------------------------
def _bitwise(name, f, doc, unary=False):
    if unary:
        def op(x):
            return f(to_tensor(x))
    else:
        def op(x, y):
            return f(to_tensor(x), operand(y))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc + " (elementwise, integers and bools)."
    return _export(symbolic(op))


bitwise_and = _bitwise("bitwise_and", F.bitwise_and, "x & y")
bitwise_or = _bitwise("bitwise_or", F.bitwise_or, "x | y")
bitwise_xor = _bitwise("bitwise_xor", F.bitwise_xor, "x ^ y")
bitwise_not = _bitwise("bitwise_not", F.bitwise_not, "~x", unary=True)
bitwise_invert = _bitwise("bitwise_invert", F.bitwise_not, "~x", unary=True)
bitwise_left_shift = _bitwise("bitwise_left_shift", F.bitwise_left_shift, "x << y")
left_shift = _bitwise("left_shift", F.bitwise_left_shift, "x << y")
bitwise_right_shift = _bitwise("bitwise_right_shift", F.bitwise_right_shift, "x >> y")
right_shift = _bitwise("right_shift", F.bitwise_right_shift, "x >> y")


# -- real-valued versions of the complex helpers (ember has no complex tensors) --------------------------
@_export
@symbolic
def real(x):
    """The real part: x itself (ember tensors are real)."""
    return to_tensor(x)


@_export
@symbolic
def conj(x):
    """The complex conjugate: x itself (ember tensors are real)."""
    return to_tensor(x)


@_export
@symbolic
def conjugate(x):
    """The complex conjugate: x itself (ember tensors are real)."""
    return to_tensor(x)


@_export
@symbolic
def imag(x):
    """The imaginary part: zeros (ember tensors are real)."""
    x = to_tensor(x)
    return Tensor.wrap(np.zeros(x.shape, x.dtype))


@_export
@symbolic
def isreal(x):
    """True everywhere (ember tensors are real)."""
    return Tensor.wrap(np.ones(to_tensor(x).shape, bool))


@_export
@symbolic
def angle(x):
    """The angle of x in the complex plane: pi for negative numbers, 0 otherwise (float32)."""
    x = float_tensor(x)
    return F.where(F.less(x, 0), Tensor.wrap(np.array(np.pi, x.dtype)), Tensor.wrap(np.zeros((), x.dtype)))


# -- elementwise extras -------------------------------------------------------------------------------
@_export
@symbolic
def divide_no_nan(x1, x2):
    """x1 / x2, and 0 where x2 == 0 (no NaN, no gradient through the zero divisions)."""
    a, b = float_tensor(x1), float_tensor(x2)
    zero = F.equal(b, 0)
    safe = F.where(zero, Tensor.wrap(np.ones((), b.dtype)), b)
    return F.where(zero, Tensor.wrap(np.zeros((), b.dtype)), F.divide(a, safe))


@_export
@symbolic
def fabs(x):
    """|x| as a float (elementwise)."""
    return F.abs(float_tensor(x))


@_export
@symbolic
def fmax(x1, x2):
    """The larger of x1 and x2, ignoring a NaN in one of them (elementwise)."""
    a, b = float_tensor(x1), float_tensor(x2)
    return F.where(F.isnan(a), b, F.where(F.isnan(b), a, F.maximum(a, b)))


@_export
@symbolic
def fmin(x1, x2):
    """The smaller of x1 and x2, ignoring a NaN in one of them (elementwise)."""
    a, b = float_tensor(x1), float_tensor(x2)
    return F.where(F.isnan(a), b, F.where(F.isnan(b), a, F.minimum(a, b)))


@_export
@symbolic
def heaviside(x1, x2):
    """0 for x1 < 0, x2 for x1 == 0, 1 for x1 > 0 (elementwise)."""
    a = float_tensor(x1)
    b = F.broadcast_to(F.cast(to_tensor(x2), a.dtype), tuple(np.broadcast_shapes(
        tuple(a.shape), tuple(to_tensor(x2).shape))))
    step = F.cast(F.greater(a, 0), a.dtype)
    return F.where(F.equal(a, 0), b, step)


@_export
@symbolic
def logaddexp2(x1, x2):
    """log2(2 ** x1 + 2 ** x2), stably (elementwise)."""
    ln2 = np.log(2.0)
    return F.divide(F.logaddexp(F.multiply(float_tensor(x1), ln2), F.multiply(float_tensor(x2), ln2)), ln2)


@_export
@symbolic
def ldexp(x1, x2):
    """x1 * 2 ** x2 (elementwise)."""
    return F.multiply(float_tensor(x1), F.exp2(float_tensor(x2)))


@_export
@symbolic
def sinc(x):
    """sin(pi x) / (pi x), 1 at 0 (elementwise)."""
    x = float_tensor(x)
    zero = F.equal(x, 0)
    px = F.multiply(F.where(zero, Tensor.wrap(np.ones((), x.dtype)), x), np.pi)
    return F.where(zero, Tensor.wrap(np.ones((), x.dtype)), F.divide(F.sin(px), px))


@_export
@symbolic
def isneginf(x):
    """Whether x is -inf (elementwise)."""
    x = to_tensor(x)
    return F.logical_and(F.isinf(x), F.less(x, 0))


@_export
@symbolic
def isposinf(x):
    """Whether x is +inf (elementwise)."""
    x = to_tensor(x)
    return F.logical_and(F.isinf(x), F.greater(x, 0))


def _numpy_op(name, f, doc):
    def op(*args, **kwargs):
        arrays = [to_tensor(a).numpy() for a in args]
        return Tensor.wrap(np.asarray(f(*arrays, **kwargs)))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc + " (no gradient)."
    return _export(symbolic(op))


gcd = _numpy_op("gcd", np.gcd, "The greatest common divisor of x1 and x2 (elementwise)")
lcm = _numpy_op("lcm", np.lcm, "The least common multiple of x1 and x2 (elementwise)")
nextafter = _numpy_op("nextafter", np.nextafter,
                      "The next representable value after x1 towards x2 (elementwise)")
i0 = _numpy_op("i0", lambda x: np.i0(x).astype(x.dtype if x.dtype.kind == "f" else np.float32),
               "The modified Bessel function of the first kind, order 0")


@_export
@symbolic
def isin(x1, x2, assume_unique=False, invert=False):
    """Whether each element of x1 is in x2 (no gradient)."""
    return Tensor.wrap(np.isin(to_tensor(x1).numpy(), to_tensor(x2).numpy(), invert=invert))


@_export
def unravel_index(indices, shape):
    """The coordinates of the flat ``indices`` in ``shape``: a tuple of int32 tensors."""
    flat = to_tensor(indices).numpy().astype(np.int64)
    return tuple(Tensor.wrap(c.astype(np.int32)) for c in np.unravel_index(flat, tuple(shape)))


@_export
@symbolic
def argpartition(x, kth, axis=-1):
    """Indices that put the ``kth`` smallest element in its sorted place along ``axis`` (a
    full argsort, which satisfies the contract), int32."""
    return F.cast(F.argsort(to_tensor(x), axis=axis), np.int32)


@_export
@symbolic
def histogram(x, bins=10, range=None):   # noqa: A002
    """``(counts, bin_edges)`` of the 1-D x (NumPy's histogram; no gradient)."""
    counts, edges = np.histogram(to_tensor(x).numpy(), bins, range)
    return Tensor.wrap(counts.astype(np.int32)), Tensor.wrap(edges.astype(np.float32))


# -- sequences and matrices ---------------------------------------------------------------------------
@_export
@symbolic
def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of y along ``axis`` by the trapezoidal rule (sample points ``x`` or
    spacing ``dx``)."""
    y = float_tensor(y)
    n = y.shape[axis]
    mid = F.multiply(F.add(F.narrow(y, axis, 1, n - 1), F.narrow(y, axis, 0, n - 1)), 0.5)
    if x is None:
        return F.multiply(F.sum(mid, axis), dx)
    x = float_tensor(x)
    xa = axis if x.ndim == y.ndim else -1
    m = x.shape[xa]
    d = F.subtract(F.narrow(x, xa, 1, m - 1), F.narrow(x, xa, 0, m - 1))
    return F.sum(F.multiply(mid, d), axis)


@_export
@symbolic
def vander(x, N=None, increasing=False):   # noqa: N803
    """The Vandermonde matrix of the 1-D x: columns x ** (N-1), ..., x ** 0 (reversed with
    ``increasing=True``)."""
    x = to_tensor(x)
    n = x.shape[0] if N is None else int(N)
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    return F.power(F.expand_dims(x, 1), Tensor.wrap(powers.astype(x.dtype)))


@_export
@symbolic
def corrcoef(x):
    """Pearson correlation coefficients of the rows of x (variables in rows)."""
    x = float_tensor(x)
    if x.ndim == 1:
        x = F.reshape(x, (1, -1))
    d = F.subtract(x, F.mean(x, 1, True))
    cov = F.matmul(d, F.transpose(d, 1, 0))
    s = F.sqrt(F.diagonal(cov, 0, 0, 1))
    return F.divide(F.divide(cov, F.expand_dims(s, 1)), F.expand_dims(s, 0))


@_export
@symbolic
def correlate(x1, x2, mode="valid"):
    """The cross-correlation of the 1-D x1 and x2 (NumPy's ``correlate``; ``mode`` 'valid',
    'same' or 'full')."""
    a, v = float_tensor(x1), float_tensor(x2)
    n, m = a.shape[0], v.shape[0]
    if n < m:      # NumPy swaps and reverses so the longer one slides under the shorter
        out = correlate(v, a, mode)
        return F.flip(out, 0)
    pad = {"valid": (0, 0), "same": (m // 2, m - 1 - m // 2), "full": (m - 1, m - 1)}.get(mode)
    if pad is None:
        raise ValueError(f"keras.ops.correlate: mode={mode!r}; expected 'valid', 'same' or 'full'")
    a = F.pad(a, (pad,))
    return F.reshape(F.conv1d(F.reshape(a, (1, -1, 1)), F.reshape(v, (m, 1, 1))), (-1,))


@_export
def bartlett(x):
    """The Bartlett window of ``x`` points (float32)."""
    return Tensor.wrap(np.bartlett(int(x)).astype(np.float32))


@_export
def blackman(x):
    """The Blackman window of ``x`` points (float32)."""
    return Tensor.wrap(np.blackman(int(x)).astype(np.float32))


@_export
def hamming(x):
    """The Hamming window of ``x`` points (float32)."""
    return Tensor.wrap(np.hamming(int(x)).astype(np.float32))


@_export
def hanning(x):
    """The Hann window of ``x`` points (float32)."""
    return Tensor.wrap(np.hanning(int(x)).astype(np.float32))


@_export
def kaiser(x, beta):
    """The Kaiser window of ``x`` points with shape ``beta`` (float32)."""
    return Tensor.wrap(np.kaiser(int(x), float(beta)).astype(np.float32))
