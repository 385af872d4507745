"""Elementwise ops, each forward beside its local gradient.

Binary ops broadcast as NumPy does; their backward sums the gradient back to each input's shape.
Float ops on integer or bool tensors compute in float32 (as PyTorch does).
"""
import math

from ..backend import xp
from ._base import as_tensor, broadcast_error, make, operands, unbroadcast
from ._parallel import parallel_for


# -- binary arithmetic ------------------------------------------------------------------------
def _binary(a, b, op, fn):
    a, b = operands(a, b, op)
    try:
        out = fn(a.data, b.data)
    except ValueError as e:
        try:
            xp.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise broadcast_error(op, a, b) from None
        raise ValueError(f"ember.{op}: {e} (dtypes {a.dtype} and {b.dtype})") from None
    return a, b, out


def add(a, b):
    """a + b, broadcasting."""
    a, b, out = _binary(a, b, "add", xp.add)
    return make(out, (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)))


def sub(a, b):
    """a - b, broadcasting."""
    a, b, out = _binary(a, b, "sub", xp.subtract)
    return make(out, (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)))


def mul(a, b):
    """a * b, broadcasting."""
    a, b, out = _binary(a, b, "mul", xp.multiply)

    def backward(g):
        return (unbroadcast(g * b.data, a.shape) if a._rg else None,
                unbroadcast(g * a.data, b.shape) if b._rg else None)
    return make(out, (a, b), backward)


def div(a, b):
    """a / b (true division), broadcasting; integer inputs give float32."""
    a, b = operands(a, b, "div")
    if a.data.dtype.kind != "f" and b.data.dtype.kind != "f":
        a, b = _to_float(a), _to_float(b)
    a, b, out = _binary(a, b, "div", xp.true_divide)

    def backward(g):
        gb = g / b.data
        return (unbroadcast(gb, a.shape) if a._rg else None,
                unbroadcast(-gb * out, b.shape) if b._rg else None)
    return make(out, (a, b), backward)


def floor_divide(a, b):
    """a // b (no gradient: piecewise constant)."""
    a, b, out = _binary(a, b, "floor_divide", xp.floor_divide)
    return make(out, (), None)


def remainder(a, b):
    """a % b with NumPy's sign convention; d/da = 1, d/db = -floor(a/b)."""
    a, b, out = _binary(a, b, "remainder", xp.remainder)
    return make(out, (a, b), lambda g: (unbroadcast(g, a.shape),
                                        unbroadcast(-g * xp.floor_divide(a.data, b.data), b.shape)))


def pow(a, b):
    """a ** b, broadcasting.  d/db uses log(a) and is taken as 0 where a == 0."""
    a, b = operands(a, b, "pow")
    a, b, out = _binary(a, b, "pow", xp.power)

    def backward(g):
        ga = gb = None
        if a._rg:
            ga = unbroadcast(g * b.data * xp.power(a.data, b.data - 1), a.shape)
        if b._rg:
            safe = xp.where(a.data > 0, a.data, 1)
            gb = unbroadcast(g * out * xp.log(safe), b.shape)
        return ga, gb
    return make(out, (a, b), backward)


def maximum(a, b):
    """Elementwise max; where a == b the gradient is split equally between a and b."""
    a, b, out = _binary(a, b, "maximum", xp.maximum)
    return make(out, (a, b), _minmax_backward(a, b, xp.greater))


def minimum(a, b):
    """Elementwise min; where a == b the gradient is split equally between a and b."""
    a, b, out = _binary(a, b, "minimum", xp.minimum)
    return make(out, (a, b), _minmax_backward(a, b, xp.less))


def _minmax_backward(a, b, wins):
    def backward(g):
        share = wins(a.data, b.data) + 0.5 * (a.data == b.data)
        share = share.astype(g.dtype, copy=False)
        return (unbroadcast(g * share, a.shape) if a._rg else None,
                unbroadcast(g * (1 - share), b.shape) if b._rg else None)
    return backward


def where(condition, x, y):
    """``x`` where ``condition`` else ``y`` (NumPy's where), differentiable in x and y."""
    cond = as_tensor(condition, "where", "condition").data.astype(bool, copy=False)
    x, y = operands(x, y, "where")
    try:
        out = xp.where(cond, x.data, y.data)
    except ValueError:
        raise broadcast_error("where", as_tensor(condition), x, y) from None

    def backward(g):
        zero = xp.zeros((), dtype=g.dtype)
        return (unbroadcast(xp.where(cond, g, zero), x.shape) if x._rg else None,
                unbroadcast(xp.where(cond, zero, g), y.shape) if y._rg else None)
    return make(out, (x, y), backward)


# -- unary --------------------------------------------------------------------------------
def _to_float(x):
    if x.data.dtype.kind == "f":
        return x
    from ..tensor import Tensor
    return Tensor.wrap(x.data.astype(xp.float32))


def _unary(x, op, forward, local_grad):
    """Apply ``forward`` elementwise; ``local_grad(g, x, y)`` gives the input gradient."""
    x = _to_float(as_tensor(x, op))
    xd = x.data
    out = forward(xd)
    y = make(out, (x,), lambda g: (local_grad(g, xd, out),))
    if y._node is not None:
        y._node.name = op
    return y


def neg(x):
    x = as_tensor(x, "neg")
    return make(-x.data, (x,), lambda g: (-g,))


def exp(x):
    return _unary(x, "exp", xp.exp, lambda g, x, y: g * y)


def log(x):
    return _unary(x, "log", xp.log, lambda g, x, y: g / x)


def log1p(x):
    return _unary(x, "log1p", xp.log1p, lambda g, x, y: g / (1 + x))


def expm1(x):
    return _unary(x, "expm1", xp.expm1, lambda g, x, y: g * (y + 1))


def sqrt(x):
    return _unary(x, "sqrt", xp.sqrt, lambda g, x, y: g / (2 * y))


def rsqrt(x):
    """1 / sqrt(x)."""
    return _unary(x, "rsqrt", lambda x: 1 / xp.sqrt(x), lambda g, x, y: -0.5 * g * y * y * y)


def abs(x):
    """|x|; the gradient at 0 is taken as 0 (sign(0))."""
    x = as_tensor(x, "abs")
    xd = x.data
    return make(xp.abs(xd), (x,), lambda g: (g * xp.sign(xd),))


def sign(x):
    """-1, 0 or 1 (no gradient)."""
    return make(xp.sign(as_tensor(x, "sign").data), (), None)


def sin(x):
    return _unary(x, "sin", xp.sin, lambda g, x, y: g * xp.cos(x))


def cos(x):
    return _unary(x, "cos", xp.cos, lambda g, x, y: -g * xp.sin(x))


def tanh(x):
    return _unary(x, "tanh", xp.tanh, lambda g, x, y: g * (1 - y * y))


def _sigmoid(x):
    # exp of a non-positive number only, so large |x| neither overflows nor warns.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid(x):
    x = _to_float(as_tensor(x, "sigmoid"))
    y = _unary(x, "sigmoid", _sigmoid, lambda g, x, y: g * y * (1 - y))
    y._from_logits = ("sigmoid", x, None)   # lets a binary cross-entropy use the logits (stable)
    return y


def relu(x):
    """max(x, 0); the gradient at 0 is 0 (as PyTorch)."""
    return _unary(x, "relu", lambda x: xp.maximum(x, 0),
                  # dtype= skips the bool->float temporary of g * mask (~1.5x faster)
                  lambda g, x, y: xp.multiply(g, x > 0, dtype=g.dtype))


def leaky_relu(x, negative_slope=0.01):
    s = negative_slope
    return _unary(x, "leaky_relu", lambda x: xp.where(x > 0, x, x * s),
                  lambda g, x, y: xp.where(x > 0, g, g * s))


def elu(x, alpha=1.0):
    return _unary(x, "elu", lambda x: xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))),
                  lambda g, x, y: xp.where(x > 0, g, g * (y + alpha)))


def _erf(x):
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): NumPy has no erf and the core depends on
    # NumPy only; the error is below float32 resolution of gelu's output.
    ax = xp.abs(x)
    t = 1 / (1 + 0.3275911 * ax)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return xp.sign(x) * (1 - poly * xp.exp(-ax * ax))


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SPLIT_MIN = 1 << 16     # gelu: elements per thread below which the work is not split


def gelu(x, approximate="none"):
    """Gaussian error linear unit: x * Phi(x) (``approximate='none'``), or its tanh form
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (``approximate='tanh'``, GPT-2's), as PyTorch.

    Both forms are fused: the forward saves what the backward needs (tanh of the inner term, or
    Phi(x)), both run as a few in-place passes over float buffers (no ``x ** 3``, which NumPy
    computes with the generic power function, ~200x slower than two multiplies), and large
    inputs are split between threads (``ember.ops._parallel``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"ember.gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = _to_float(as_tensor(x, "gelu"))
    xd = x.data
    if not xd.flags.c_contiguous:
        xd = xp.ascontiguousarray(xd)
    xf = xd.reshape(-1)
    n = xf.size
    out = xp.empty_like(xd)
    of = out.reshape(-1)
    saved = xp.empty_like(xd)          # tanh(inner) or Phi(x)
    sf = saved.reshape(-1)
    c = _SQRT_2_OVER_PI
    if approximate == "tanh":
        def forward(lo, hi):
            # inner = sqrt(2/pi) * (x + 0.044715 x^3) = x * (c + c * 0.044715 * x^2)
            xs, th, o = xf[lo:hi], sf[lo:hi], of[lo:hi]
            xp.multiply(xs, xs, out=th)
            th *= c * 0.044715
            th += c
            th *= xs
            xp.tanh(th, out=th)
            xp.add(th, 1, out=o)
            o *= xs
            o *= 0.5

        def derivative(lo, hi, d, gs):
            # d/dx = 0.5 (1 + th) + 0.5 x (1 - th^2) * c (1 + 3 * 0.044715 x^2)
            xs, th = xf[lo:hi], sf[lo:hi]
            xp.multiply(th, th, out=d)
            xp.subtract(1, d, out=d)
            d *= xs
            dinner = xp.multiply(xs, xs)
            dinner *= 3 * 0.044715 * c
            dinner += c
            d *= dinner
            d += th
            d += 1
            d *= 0.5
            d *= gs
    else:
        def forward(lo, hi):
            xs, cdf, o = xf[lo:hi], sf[lo:hi], of[lo:hi]
            cdf[...] = _erf(xs * (1 / math.sqrt(2)))
            cdf += 1
            cdf *= 0.5
            xp.multiply(xs, cdf, out=o)

        def derivative(lo, hi, d, gs):
            # d/dx = Phi(x) + x * phi(x)
            xs, cdf = xf[lo:hi], sf[lo:hi]
            xp.multiply(xs, xs, out=d)
            d *= -0.5
            xp.exp(d, out=d)
            d *= _INV_SQRT_2PI
            d *= xs
            d += cdf
            d *= gs
    parallel_for(forward, n, _SPLIT_MIN)

    def backward(g):
        gf = xp.ascontiguousarray(g).reshape(-1)
        grad = xp.empty_like(gf)

        def part(lo, hi):
            derivative(lo, hi, grad[lo:hi], gf[lo:hi])
        parallel_for(part, n, _SPLIT_MIN)
        return (grad.reshape(xd.shape),)
    y = make(out, (x,), backward)
    if y._node is not None:
        y._node.name = "gelu"
    return y


def silu(x):
    """x * sigmoid(x) (a.k.a. swish)."""
    x = _to_float(as_tensor(x, "silu"))
    xd = x.data
    s = _sigmoid(xd)
    return make(xd * s, (x,), lambda g: (g * s * (1 + xd * (1 - s)),))


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold (as PyTorch)."""
    def forward(x):
        bx = beta * x
        return xp.where(bx > threshold, x, xp.logaddexp(0, bx) / beta)
    return _unary(x, "softplus", forward,
                  lambda g, x, y: xp.where(beta * x > threshold, g, g * _sigmoid(beta * x)))


def clip(x, a_min=None, a_max=None):
    """Limit values to [a_min, a_max] (NumPy's clip); gradient 1 inside, 0 where clipped."""
    x = as_tensor(x, "clip")
    if isinstance(a_min, float) or isinstance(a_max, float):
        x = _to_float(x)     # an integer tensor clipped to float bounds gives float32, not float64
    xd = x.data
    lo = a_min.data if hasattr(a_min, "data") else a_min
    hi = a_max.data if hasattr(a_max, "data") else a_max
    out = xp.clip(xd, lo, hi)

    def backward(g):
        inside = xp.ones(xd.shape, dtype=bool)
        if lo is not None:
            inside &= xd >= lo
        if hi is not None:
            inside &= xd <= hi
        return (g * inside,)
    return make(out, (x,), backward)


# -- comparisons (no gradient) -------------------------------------------------------------------
def _compare(fn, op):
    def compare(a, b):
        a, b, out = _binary(a, b, op, fn)
        return make(out, (), None)
    compare.__name__ = op
    compare.__doc__ = f"Elementwise {op} (a boolean tensor; no gradient)."
    return compare


equal = _compare(xp.equal, "equal")
not_equal = _compare(xp.not_equal, "not_equal")
less = _compare(xp.less, "less")
less_equal = _compare(xp.less_equal, "less_equal")
greater = _compare(xp.greater, "greater")
greater_equal = _compare(xp.greater_equal, "greater_equal")
logical_and = _compare(xp.logical_and, "logical_and")
logical_or = _compare(xp.logical_or, "logical_or")
logical_xor = _compare(xp.logical_xor, "logical_xor")


def logical_not(x):
    return make(xp.logical_not(as_tensor(x, "logical_not").data), (), None)


def isnan(x):
    return make(xp.isnan(as_tensor(x, "isnan").data), (), None)


def isfinite(x):
    return make(xp.isfinite(as_tensor(x, "isfinite").data), (), None)
