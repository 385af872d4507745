"""Activation functions, each forward beside its local gradient (``ember.functional.relu``, ...).

Signatures and edge cases follow ``torch.nn.functional``: gradients at kinks are PyTorch's (relu
and hardtanh-style clamps give 0 at the kink and at the boundaries, hardswish/hardsigmoid use
PyTorch's boundary rules), ``softplus`` is linear above ``threshold``, nan propagates.
Integer or bool inputs compute in float32.  Axis arguments take NumPy's ``axis`` or PyTorch's
``dim``.  The Keras facade (``ember.keras.activations``) maps its names onto these functions.
"""
import math

from ..backend import xp
from ._base import as_tensor, make
from ._parallel import parallel_for
from .arguments import axis_or_dim
from .elementwise import _sigmoid, _to_float, _unary, neg
from .elementwise_math import _erf64, _erf_fast
from .softmax import softmax

__all__ = ["relu", "leaky_relu", "elu", "gelu", "silu", "swish", "softplus", "selu", "celu", "relu6",
           "hardtanh", "hardswish", "hardsigmoid", "mish", "softsign", "logsigmoid", "softmin",
           "glu", "quick_gelu", "tanhshrink", "softshrink", "hardshrink"]


def _erf_any(x):
    """erf in the dtype of ``x``: Cody's (~1e-16) in float64, the fast 1.5e-7 form in float32
    (below float32 resolution of gelu's output)."""
    return _erf_fast(x) if x.dtype == xp.float32 else _erf64(x)


def relu(x):
    """max(x, 0); the gradient at 0 is 0; relu(-0.0) = -0.0 and nan passes (as PyTorch)."""
    # maximum(0, x), not maximum(x, 0): on a tie NumPy returns the second operand, so -0.0 stays
    # -0.0 (PyTorch's clamp_min), and nan propagates; 6x faster than a where()
    return _unary(x, "relu", lambda x: xp.maximum(0, x), _relu_grad)


def _relu_grad(g, x, y):
    # g * (not x <= 0): nan passes the gradient, as PyTorch; dtype= skips the bool->float
    # temporary of g * mask (~1.5x faster), the mask is inverted in place
    keep = x <= 0
    xp.logical_not(keep, out=keep)
    return xp.multiply(g, keep, dtype=g.dtype)


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, negative_slope * x otherwise."""
    s = negative_slope
    return _unary(x, "leaky_relu", lambda x: xp.where(x > 0, x, x * s),
                  lambda g, x, y: xp.where(x > 0, g, g * s))


def _nonpositive(x):
    """min(x, 0) keeping -0.0 and nan (NumPy's minimum turns -0.0 into 0.0)."""
    return xp.where(x > 0, 0, x).astype(x.dtype, copy=False)


def elu(x, alpha=1.0):
    """x for x > 0, alpha (exp(x) - 1) otherwise; nan passes the gradient (as PyTorch)."""
    return _unary(x, "elu", lambda x: xp.where(x > 0, x, alpha * xp.expm1(_nonpositive(x))),
                  lambda g, x, y: xp.where(x <= 0, g * (y + alpha), g))


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
            cdf[...] = _erf_any(xs * (1 / math.sqrt(2)))
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


swish = silu


# -- bounded and piecewise-linear ---------------------------------------------------------------
def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clamped to [min_val, max_val]; gradient 0 at and beyond the bounds (as PyTorch)."""
    if not min_val <= max_val:
        raise ValueError(f"ember.hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return _unary(x, "hardtanh",   # (where, not clip: keeps -0.0 and nan as PyTorch)
                  lambda x: xp.where(x < min_val, min_val, xp.where(x > max_val, max_val, x))
                  .astype(x.dtype, copy=False),
                  lambda g, x, y: xp.where((x > min_val) & (x < max_val), g, 0).astype(g.dtype))


def relu6(x):
    """min(max(x, 0), 6) = hardtanh(x, 0, 6); gradient 0 at 0 and 6."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x):
    """relu6(x + 3) / 6; gradient 1/6 on (-3, 3), else 0."""
    return _unary(x, "hardsigmoid", lambda x: xp.clip(x + 3, 0, 6) / 6,
                  lambda g, x, y: xp.where((x > -3) & (x < 3), g / 6, 0).astype(g.dtype))


def hardswish(x):
    """x * relu6(x + 3) / 6; gradient 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3 (PyTorch's)."""
    return _unary(x, "hardswish", lambda x: x * xp.clip(x + 3, 0, 6) / 6,
                  lambda g, x, y: xp.where(x <= -3, 0, xp.where(x < 3, g * (x / 3 + 0.5), g))
                  .astype(g.dtype))


def softshrink(x, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""
    if lambd < 0:
        raise ValueError(f"ember.softshrink: lambd must be >= 0, got {lambd}")
    return _unary(x, "softshrink",
                  # x - clamp(x, -lambd, lambd): PyTorch's (vectorised) result, signed zeros too
                  lambda x: x - xp.where(x > lambd, lambd, xp.where(x < -lambd, -lambd, x)),
                  lambda g, x, y: xp.where(xp.abs(x) > lambd, g, 0).astype(g.dtype))


def hardshrink(x, lambd=0.5):
    """x where |x| > lambd, else 0."""
    return _unary(x, "hardshrink", lambda x: xp.where((x >= -lambd) & (x <= lambd), 0, x),
                  lambda g, x, y: xp.where(xp.abs(x) > lambd, g, 0).astype(g.dtype))


# -- smooth -------------------------------------------------------------------------------------
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """scale * elu(x, alpha) with the self-normalising constants (Klambauer et al. 2017)."""
    a, s = _SELU_ALPHA, _SELU_SCALE
    return _unary(x, "selu", lambda x: s * xp.where(x > 0, x, a * xp.expm1(_nonpositive(x))),
                  lambda g, x, y: xp.where(x <= 0, g * (y + s * a), g * s))


def celu(x, alpha=1.0):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)); gradient exp(x / alpha) for x <= 0."""
    if alpha == 0:
        raise ValueError("ember.celu: alpha must be nonzero (the negative part divides by it)")
    return _unary(x, "celu",
                  lambda x: xp.where(x > 0, x, alpha * xp.expm1(_nonpositive(x) / alpha)),
                  lambda g, x, y: xp.where(x <= 0, g * xp.exp(_nonpositive(x) / alpha), g))


def mish(x):
    """x * tanh(softplus(x)) (Misra 2019)."""
    x = _to_float(as_tensor(x, "mish"))
    xd = x.data
    t = xp.tanh(xp.logaddexp(0, xd))
    return make(xd * t, (x,), lambda g: (g * (t + xd * _sigmoid(xd) * (1 - t * t)),))


def softsign(x):
    """x / (1 + |x|); gradient 1 / (1 + |x|)^2, computed as PyTorch's composite (so nan at
    +-inf, where both forms are inf / inf)."""
    def grad(g, x, y):
        d = 1 + xp.abs(x)
        sgn = (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)
        with xp.errstate(invalid="ignore"):
            return g / d - g * x * sgn / (d * d)
    with xp.errstate(invalid="ignore"):
        return _unary(x, "softsign", lambda x: x / (1 + xp.abs(x)), grad)


def tanhshrink(x):
    """x - tanh(x)."""
    x = _to_float(as_tensor(x, "tanhshrink"))
    t = xp.tanh(x.data)
    return make(x.data - t, (x,), lambda g: (g * t * t,))


def logsigmoid(x):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for large |x|; gradient
    sigmoid(-x)."""
    return _unary(x, "logsigmoid",
                  lambda x: xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x))),
                  lambda g, x, y: g * _sigmoid(-x))


def quick_gelu(x):
    """x * sigmoid(1.702 x): the sigmoid approximation of gelu (CLIP's QuickGELU)."""
    x = _to_float(as_tensor(x, "quick_gelu"))
    xd = x.data
    s = _sigmoid(1.702 * xd)
    return make(xd * s, (x,), lambda g: (g * (s + 1.702 * xd * s * (1 - s)),))


# -- along an axis ------------------------------------------------------------------------------
def softmin(x, axis=None, *, dim=None):
    """softmax(-x) along ``axis`` (PyTorch's ``dim``; default the last axis)."""
    return softmax(neg(_to_float(as_tensor(x, "softmin"))),
                   axis_or_dim(axis, dim, -1, "ember.softmin"))


def glu(x, axis=None, *, dim=None):
    """Gated linear unit: a * sigmoid(b), where a and b are the two halves of ``x`` along
    ``axis`` (PyTorch's ``dim``; default the last axis), whose size must be even."""
    x = _to_float(as_tensor(x, "glu"))
    ax = axis_or_dim(axis, dim, -1, "ember.glu")
    if x.ndim == 0:
        raise ValueError("ember.glu: needs at least 1 dimension, got a 0-d tensor")
    if not -x.ndim <= ax < x.ndim:
        raise ValueError(f"ember.glu: axis {ax} is out of range for shape {x.shape}")
    ax %= x.ndim
    n = x.shape[ax]
    if n % 2:
        raise ValueError(f"ember.glu: the size of axis {ax} must be even to split it in halves, "
                         f"got shape {x.shape}")
    a, b = xp.split(x.data, 2, axis=ax)
    s = _sigmoid(b)
    return make(a * s, (x,), lambda g: (xp.concatenate([g * s, g * a * s * (1 - s)], axis=ax),))
