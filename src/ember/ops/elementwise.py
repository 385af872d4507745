"""Elementwise ops, each forward beside its local gradient.

Binary ops broadcast as NumPy does; their backward sums the gradient back to each input's shape.
Float ops on integer or bool tensors compute in float32 (as PyTorch does).
"""

from ..backend import xp
from ._base import as_tensor, broadcast_error, make, operands, unbroadcast


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


def div(a, b, rounding_mode=None):
    """a / b, broadcasting.  ``rounding_mode`` None: true division (integer inputs give float32);
    'trunc': rounded toward zero; 'floor': rounded down (Python's //).  The rounded forms keep an
    integer dtype, refuse integer division by zero (as PyTorch) and have zero gradients."""
    if rounding_mode is not None:
        return _rounded_div(a, b, rounding_mode)
    a, b = operands(a, b, "div")
    if a.data.dtype.kind != "f" and b.data.dtype.kind != "f":
        a, b = _to_float(a), _to_float(b)
    a, b, out = _binary(a, b, "div", xp.true_divide)

    def backward(g):
        gb = g / b.data
        return (unbroadcast(gb, a.shape) if a._rg else None,
                unbroadcast(-gb * out, b.shape) if b._rg else None)
    return make(out, (a, b), backward)


def _rounded_div(a, b, mode):
    if mode not in ("trunc", "floor"):
        raise ValueError(f"ember.div: rounding_mode must be None, 'trunc' or 'floor', got {mode!r}")
    a, b = operands(a, b, "div")
    if a.data.dtype.kind in "iub" and b.data.dtype.kind in "iub":
        if a.data.dtype.kind == "b" and b.data.dtype.kind == "b":
            raise TypeError("ember.div: rounded division of two bool tensors is not defined; cast "
                            "them to an integer dtype first")
        if not xp.all(b.data != 0):
            raise ZeroDivisionError(f"ember.div: integer division by zero (rounding_mode={mode!r}, "
                                    f"divisor of shape {b.shape})")
        a, b, q = _binary(a, b, "div", xp.floor_divide)
        if mode == "trunc":      # floor + 1 where the exact quotient is negative and not whole
            q = q + ((xp.remainder(a.data, b.data) != 0) & ((a.data < 0) != (b.data < 0)))
        return make(q, (), None)
    if mode == "trunc":
        a, b, out = _binary(a, b, "div", _quietly(lambda x, y: xp.trunc(xp.true_divide(x, y))))
    else:
        a, b, out = _binary(a, b, "div", _quietly(xp.floor_divide))
    return make(out, (a, b), lambda g: (xp.zeros(a.shape, g.dtype) if a._rg else None,
                                        xp.zeros(b.shape, g.dtype) if b._rg else None))


def floor_divide(a, b):
    """a // b (Python's floor division, NumPy's integer conventions).  Piecewise constant: on
    floats its gradient is zero (not none), as PyTorch's."""
    a, b, out = _binary(a, b, "floor_divide", xp.floor_divide)
    if out.dtype.kind != "f":
        return make(out, (), None)
    return make(out, (a, b), lambda g: (xp.zeros(a.shape, g.dtype) if a._rg else None,
                                        xp.zeros(b.shape, g.dtype) if b._rg else None))


def remainder(a, b):
    """a % b with NumPy's sign convention; d/da = 1, d/db = -floor(a/b)."""
    a, b, out = _binary(a, b, "remainder", xp.remainder)
    return make(out, (a, b), lambda g: (unbroadcast(g, a.shape),
                                        unbroadcast(-g * xp.floor_divide(a.data, b.data), b.shape)))


def pow(a, b):
    """a ** b, broadcasting.  Gradients as PyTorch: d/da is 0 where b == 0 (also at a == 0);
    d/db = a^b log(a) is 0 where a == 0 and b >= 0, -inf-ish where a == 0 and b < 0, and nan
    for negative a (log of a negative number)."""
    a, b = operands(a, b, "pow")
    a, b, out = _binary(a, b, "pow", xp.power)

    def backward(g):
        ga = gb = None
        with xp.errstate(divide="ignore", invalid="ignore"):
            if a._rg:
                if b.data.ndim == 0 and b.data == 0.5:   # the forward was sqrt (NumPy's, PyTorch's
                    da = 0.5 / xp.sqrt(a.data)             # shortcut): its derivative, -0.0 and -inf too
                else:
                    da = xp.where(b.data == 0, 0, b.data * xp.power(a.data, b.data - 1))
                ga = unbroadcast((g * da).astype(g.dtype, copy=False), a.shape)
            if b._rg:
                gb = unbroadcast(xp.where((a.data == 0) & (b.data >= 0), 0, g * out * xp.log(a.data))
                                 .astype(g.dtype, copy=False), b.shape)
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
    # PyTorch's rule: each input gets g unless the other one wins (half each on a tie), so where
    # either is nan (the output is nan) both get the full gradient
    def backward(g):
        keep = 1 - (a.data == b.data) * 0.5
        ga = gb = None
        if a._rg:
            share = xp.where(wins(b.data, a.data), 0, keep).astype(g.dtype, copy=False)
            ga = unbroadcast(g * share, a.shape)
        if b._rg:
            share = xp.where(wins(a.data, b.data), 0, keep).astype(g.dtype, copy=False)
            gb = unbroadcast(g * share, b.shape)
        return ga, gb
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
    """|x|; the gradient is sign(x), taken as 0 at 0 and at nan (as PyTorch)."""
    x = as_tensor(x, "abs")
    xd = x.data
    return make(xp.abs(xd), (x,), lambda g: (g * ((xd > 0).astype(g.dtype) - (xd < 0).astype(g.dtype)),))


def sign(x):
    """-1, 0 or 1 (same dtype); sign(nan) = 0 and sign(-0.0) = 0 as PyTorch; zero gradient."""
    x = as_tensor(x, "sign")
    xd = x.data
    if xd.dtype.kind == "b":
        return make(xd.copy(), (), None)
    out = ((xd > 0).astype(xd.dtype) - (xd < 0).astype(xd.dtype))
    if xd.dtype.kind != "f":
        return make(out, (), None)
    return make(out, (x,), lambda g: (xp.zeros_like(g),))


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



def clip(x, a_min=None, a_max=None, *, min=None, max=None):
    """Limit values to [a_min, a_max] (NumPy's clip); gradient 1 inside, 0 where clipped.

    PyTorch's ``min=``/``max=`` (``clamp``) are accepted too.  At least one bound must be given:
    ``clip(x, None, None)`` raises ValueError, as PyTorch's clamp does."""
    if min is not None or max is not None:
        if (a_min is not None and min is not None) or (a_max is not None and max is not None):
            raise TypeError("ember.clip: give each bound once, as a_min/a_max or min/max (PyTorch's names)")
        a_min = a_min if min is None else min
        a_max = a_max if max is None else max
    if a_min is None and a_max is None:
        raise ValueError("ember.clip: at least one of a_min (min) and a_max (max) must be given")
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


def isinf(x):
    """True where x is +inf or -inf (no gradient)."""
    return make(xp.isinf(as_tensor(x, "isinf").data), (), None)


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol |b| elementwise, broadcasting; infinities are close only to
    themselves; nan is close to nan only with ``equal_nan`` (as PyTorch)."""
    a, b = operands(a, b, "isclose")
    if rtol < 0 or atol < 0:
        raise ValueError(f"ember.isclose: rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    a, b, out = _binary(a, b, "isclose",
                        lambda x, y: xp.isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan))
    return make(out, (), None)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """nan, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (default: the dtype's
    largest and lowest finite values); the gradient is 1 where x is finite, else 0."""
    x = as_tensor(x, "nan_to_num")
    xd = x.data
    if xd.dtype.kind != "f":
        return make(xd.copy(), (), None)
    out = xp.nan_to_num(xd, nan=nan, posinf=posinf, neginf=neginf)
    return make(out, (x,), lambda g: (g * xp.isfinite(xd),))


# -- more binary arithmetic --------------------------------------------------------------------
def _float_operands(a, b, op):
    a, b = operands(a, b, op)
    if a.data.dtype.kind != "f" and b.data.dtype.kind != "f":
        a, b = _to_float(a), _to_float(b)
    return a, b


def _quiet():
    return xp.errstate(divide="ignore", invalid="ignore", over="ignore")


def _quietly(fn):
    """``fn`` without NumPy's floating-point warnings (nan and inf results come silently, as in
    PyTorch)."""
    def quiet(x, y):
        with _quiet():
            return fn(x, y)
    return quiet


def fmod(a, b):
    """C's fmod: the remainder of a / b rounded toward zero, with the sign of ``a`` (``remainder``
    takes the sign of ``b``); d/da = 1, d/db = -trunc(a / b)."""
    a, b, out = _binary(a, b, "fmod", _quietly(xp.fmod))
    if out.dtype.kind != "f":
        return make(out, (), None)

    def backward(g):
        with _quiet():
            return (unbroadcast(g, a.shape) if a._rg else None,
                    unbroadcast(-g * xp.trunc(a.data / b.data), b.shape) if b._rg else None)
    return make(out, (a, b), backward)


def copysign(a, b):
    """|a| with the sign of ``b`` (the sign bit: -0.0 counts as negative); integers give float32.
    d/da = copysign(1, a) * copysign(1, b) (0 where a == 0); ``b`` gets a zero gradient."""
    a, b = _float_operands(a, b, "copysign")
    a, b, out = _binary(a, b, "copysign", _quietly(xp.copysign))

    def backward(g):
        ga = None
        if a._rg:
            with _quiet():
                ratio = xp.where(a.data == 0, 0, out / a.data).astype(g.dtype, copy=False)
            ga = unbroadcast(g * ratio, a.shape)
        return ga, (xp.zeros(b.shape, g.dtype) if b._rg else None)
    return make(out, (a, b), backward)


def atan2(a, b):
    """The angle of the point (b, a) (arctan(a / b) in the right quadrant), in [-pi, pi]."""
    a, b = _float_operands(a, b, "atan2")
    a, b, out = _binary(a, b, "atan2", _quietly(xp.arctan2))

    def backward(g):
        with _quiet():
            d = a.data * a.data + b.data * b.data
            r = g / xp.where(d == 0, xp.inf, d)     # 0 at the origin (PyTorch's), not 0 * inf
            return (unbroadcast(r * b.data, a.shape) if a._rg else None,
                    unbroadcast(-r * a.data, b.shape) if b._rg else None)
    return make(out, (a, b), backward)


arctan2 = atan2


def hypot(a, b):
    """sqrt(a^2 + b^2) without overflow or underflow in the squares."""
    a, b = _float_operands(a, b, "hypot")
    a, b, out = _binary(a, b, "hypot", _quietly(xp.hypot))

    def backward(g):
        with _quiet():
            r = g / out
            return (unbroadcast(r * a.data, a.shape) if a._rg else None,
                    unbroadcast(r * b.data, b.shape) if b._rg else None)
    return make(out, (a, b), backward)


def logaddexp(a, b):
    """log(exp(a) + exp(b)), computed stably; d/da = 1 / (1 + exp(b - a))."""
    a, b = _float_operands(a, b, "logaddexp")
    a, b, out = _binary(a, b, "logaddexp", _quietly(xp.logaddexp))

    def backward(g):
        with _quiet():
            return (unbroadcast(g / (1 + xp.exp(b.data - a.data)), a.shape) if a._rg else None,
                    unbroadcast(g / (1 + xp.exp(a.data - b.data)), b.shape) if b._rg else None)
    return make(out, (a, b), backward)


def _xlogy(x, y):
    with _quiet():
        return xp.where(xp.isnan(y), y, xp.where(x == 0, 0, x * xp.log(y))).astype(x.dtype, copy=False)


def xlogy(a, b):
    """a * log(b), taken as 0 where a == 0 (unless b is nan), as PyTorch (``special.xlogy``);
    d/da = log(b) (0 where a == 0 and b <= 0), d/db = a / b."""
    a, b = _float_operands(a, b, "xlogy")
    a, b, out = _binary(a, b, "xlogy", _xlogy)

    def backward(g):
        ga = gb = None
        if a._rg:     # PyTorch's rule: xlogy(g, b), zeroed where a == 0 and b <= 0
            ga = xp.where((a.data == 0) & (b.data <= 0), 0, _xlogy(g, b.data)).astype(g.dtype, copy=False)
            ga = unbroadcast(ga, a.shape)
        if b._rg:
            with _quiet():
                gb = unbroadcast(g * a.data / b.data, b.shape)
        return ga, gb
    return make(out, (a, b), backward)


def lerp(start, end, weight):
    """start + weight * (end - start), broadcasting all three (``weight`` a number or a tensor),
    computed as PyTorch (from ``end`` where weight >= 0.5, so weight 1 gives ``end`` exactly)."""
    s, e = operands(start, end, "lerp")
    if s.data.dtype.kind != "f" or e.data.dtype.kind != "f":
        raise TypeError(f"ember.lerp: start and end must be floating-point tensors, got dtypes "
                        f"{s.data.dtype} and {e.data.dtype}")
    w = as_tensor(weight, "lerp", "weight") if not isinstance(weight, (int, float)) else None
    wd = xp.asarray(weight, dtype=s.data.dtype) if w is None else w.data.astype(s.data.dtype, copy=False)
    try:
        shape = xp.broadcast_shapes(s.shape, e.shape, wd.shape)
    except ValueError:
        raise broadcast_error("lerp", s, e, w if w is not None else as_tensor(wd)) from None
    diff = e.data - s.data
    out = xp.where(xp.abs(wd) < 0.5, s.data + wd * diff, e.data - diff * (1 - wd))
    out = xp.broadcast_to(out, shape).astype(s.data.dtype, copy=False)
    parents = (s, e) if w is None else (s, e, w)

    def backward(g):
        grads = [unbroadcast(g * (1 - wd), s.shape) if s._rg else None,
                 unbroadcast(g * wd, e.shape) if e._rg else None]
        if w is not None:
            grads.append(unbroadcast(g * diff, w.shape).astype(w.dtype, copy=False) if w._rg else None)
        return tuple(grads)
    return make(out, parents, backward)
