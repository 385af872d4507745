"""Elementwise mathematical functions: trigonometric, hyperbolic, error functions, base-2/10
exponentials and logarithms, and rounding.  Each forward sits beside its local gradient.

Float functions of integer or bool tensors compute in float32 (as PyTorch).  Rounding ops
(``floor``, ``ceil``, ``trunc``, ``round``) keep an integer tensor's dtype and values and, on
floats, have a zero gradient (not none), as PyTorch.  ``-0.0``, nan and +-inf follow IEEE and
PyTorch (``erfinv(+-1) = +-inf``, ``erfinv(|y| > 1) = nan``, ``round`` keeps the sign of zero).

NumPy has no ``erf``: ``erf``/``erfc`` are W. J. Cody's rational Chebyshev approximations
(Math. Comp. 23, 1969; the CALERF routine), accurate to about 1e-16 relative in float64; they
are vectorised (three branches computed with ``where``).  ``erfinv`` starts from M. Giles'
single-precision approximation ("Approximating the erfinv function", GPU Gems 2012) and takes
five refinement steps on Cody's erf (Halley on erf(x) - y for |y| <= 0.5, Newton on
log(erfc(|x|)) - log(1 - |y|) beyond, so the tails keep full precision).
float32 inputs are computed in float64 and rounded once.
"""
import math

from ..backend import xp
from ._base import as_tensor, make
from .elementwise import _unary as _unary_loud


def _unary(x, op, forward, local_grad):
    """``elementwise._unary`` without NumPy's floating-point warnings: nan, +-inf and domain edges
    give IEEE results silently, as in PyTorch."""
    def fwd(a):
        with _quiet():
            return forward(a)

    def grad(g, a, y):
        with _quiet():
            return local_grad(g, a, y)
    return _unary_loud(x, op, fwd, grad)

__all__ = ["tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erf", "erfc",
           "erfinv", "exp2", "log2", "log10", "floor", "ceil", "trunc", "round", "frac",
           "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "fix"]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def _quiet():
    return xp.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore")


# -- trigonometric and hyperbolic ---------------------------------------------------------------
def tan(x):
    """tan(x); d/dx = 1 + tan(x)^2."""
    return _unary(x, "tan", xp.tan, lambda g, x, y: g * (1 + y * y))


def asin(x):
    """arcsin(x) (nan outside [-1, 1]); d/dx = 1 / sqrt(1 - x^2)."""
    return _unary(x, "asin", xp.arcsin, lambda g, x, y: g / xp.sqrt(1 - x * x))


def acos(x):
    """arccos(x) (nan outside [-1, 1]); d/dx = -1 / sqrt(1 - x^2)."""
    return _unary(x, "acos", xp.arccos, lambda g, x, y: -g / xp.sqrt(1 - x * x))


def atan(x):
    """arctan(x); d/dx = 1 / (1 + x^2)."""
    return _unary(x, "atan", xp.arctan, lambda g, x, y: g / (1 + x * x))


def sinh(x):
    return _unary(x, "sinh", xp.sinh, lambda g, x, y: g * xp.cosh(x))


def cosh(x):
    return _unary(x, "cosh", xp.cosh, lambda g, x, y: g * xp.sinh(x))


def asinh(x):
    """arcsinh(x); d/dx = 1 / sqrt(x^2 + 1)."""
    return _unary(x, "asinh", xp.arcsinh, lambda g, x, y: g / xp.sqrt(x * x + 1))


def acosh(x):
    """arccosh(x) (nan below 1); d/dx = 1 / sqrt(x^2 - 1)."""
    return _unary(x, "acosh", xp.arccosh, lambda g, x, y: g / xp.sqrt(x * x - 1))


def atanh(x):
    """arctanh(x) (+-inf at +-1, nan outside); d/dx = 1 / (1 - x^2)."""
    return _unary(x, "atanh", xp.arctanh, lambda g, x, y: g / (1 - x * x))


arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh


# -- error functions (Cody's rational approximations) -------------------------------------------
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)


def _erf_small(x):
    """erf(x) for |x| <= 0.5."""
    z = x * x
    num, den = _A[4] * z, z
    for i in range(3):
        num = (num + _A[i]) * z
        den = (den + _B[i]) * z
    return x * (num + _A[3]) / (den + _B[3])


def _erfc_tail(y):
    """erfc(y) for y >= 0.5 (float64): one rational form up to 4, another beyond."""
    y = xp.minimum(y, 27.5)                   # erfc(27.5) underflows to 0; keeps inf out
    mid = y <= 4
    ym = xp.where(mid, y, 1.0)
    num, den = _C[8] * ym, ym
    for i in range(7):
        num = (num + _C[i]) * ym
        den = (den + _D[i]) * ym
    r_mid = (num + _C[7]) / (den + _D[7])
    yl = xp.where(mid, 4.0, y)
    z = 1 / (yl * yl)
    num, den = _P[5] * z, z
    for i in range(4):
        num = (num + _P[i]) * z
        den = (den + _Q[i]) * z
    r_big = (1 / math.sqrt(math.pi) - z * (num + _P[4]) / (den + _Q[4])) / yl
    r = xp.where(mid, r_mid, r_big)
    ys = xp.trunc(y * 16) / 16                # exp(-y^2) in two parts: no cancellation
    d = (y - ys) * (y + ys)
    with _quiet():
        return xp.exp(-ys * ys) * xp.exp(-d) * r


def _erf64(x):
    ax = xp.abs(x)
    small = ax <= 0.5
    s = _erf_small(xp.where(small, x, 0.0))
    big = xp.copysign(1 - _erfc_tail(xp.where(small, 0.5, ax)), x)
    return xp.where(small, s, xp.where(xp.isnan(x), x, big))


def _erfc64(x):
    ax = xp.abs(x)
    small = ax <= 0.5
    s = 1 - _erf_small(xp.where(small, x, 0.0))
    c = _erfc_tail(xp.where(small, 0.5, ax))
    c = xp.where(x < 0, 2 - c, c)
    return xp.where(small, s, xp.where(xp.isnan(x), x, c))


def _erfinv64(y):
    a = xp.abs(y)
    with _quiet():
        w = -xp.log((1 - a) * (1 + a))
        w1 = w - 2.5
        p1 = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941):
            p1 = c + p1 * w1
        w2 = xp.sqrt(w) - 3
        p2 = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            p2 = c + p2 * w2
        x = xp.where(w < 5, p1, p2) * y
        tail = a > 0.5
        log_rest = xp.log1p(-a)                    # log(1 - |y|), exact for |y| near 1
        for _ in range(5):
            # centre: Halley on erf(x) - y (f'' = -2 x f'); tails: Newton on
            # log(erfc(|x|)) - log(1 - |y|), which is nearly linear in x^2 out there
            xa = xp.abs(x)
            fp = _TWO_OVER_SQRT_PI * xp.exp(-x * x)
            dx = (_erf64(x) - y) / fp
            centre = x - dx / (1 + x * dx)
            ec = _erfc64(xa)
            far = xp.sign(y) * (xa + (xp.log(ec) - log_rest) * ec / fp)
            x = xp.where(tail, far, centre)
    x = xp.where(a == 1, xp.copysign(xp.inf, y), x)
    return xp.where(a > 1, xp.nan, x)


def _erf_fast(x):
    """erf to |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26), ~2.5x faster than Cody's: for
    float32 kernels (gelu) where that is below the dtype's resolution of the result."""
    ax = xp.abs(x)
    t = 1 / (1 + 0.3275911 * ax)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return xp.sign(x) * (1 - poly * xp.exp(-ax * ax))


def _in64(fn):
    """Compute ``fn`` in float64 and round once to the input's dtype."""
    return lambda x: fn(x.astype(xp.float64, copy=False)).astype(x.dtype, copy=False)


def erf(x):
    """The error function 2/sqrt(pi) int_0^x exp(-t^2) dt; d/dx = 2/sqrt(pi) exp(-x^2)."""
    return _unary(x, "erf", _in64(_erf64), lambda g, x, y: g * _TWO_OVER_SQRT_PI * xp.exp(-x * x))


def erfc(x):
    """1 - erf(x), accurate also where it is tiny (x up to ~27); d/dx = -2/sqrt(pi) exp(-x^2)."""
    return _unary(x, "erfc", _in64(_erfc64),
                  lambda g, x, y: -g * _TWO_OVER_SQRT_PI * xp.exp(-x * x))


def erfinv(x):
    """Inverse of erf on [-1, 1] (+-inf at +-1, nan outside); d/dy = sqrt(pi)/2 exp(erfinv(y)^2)."""
    return _unary(x, "erfinv", _in64(_erfinv64),
                  lambda g, x, y: g * (0.5 * math.sqrt(math.pi)) * xp.exp(y * y))


# -- base 2 and 10 ----------------------------------------------------------------------------------
def exp2(x):
    """2 ** x; d/dx = 2^x ln 2."""
    return _unary(x, "exp2", xp.exp2, lambda g, x, y: g * y * _LN2)


def log2(x):
    """log base 2; d/dx = 1 / (x ln 2)."""
    return _unary(x, "log2", xp.log2, lambda g, x, y: g / (x * _LN2))


def log10(x):
    """log base 10; d/dx = 1 / (x ln 10)."""
    return _unary(x, "log10", xp.log10, lambda g, x, y: g / (x * _LN10))


# -- rounding (zero gradient) ---------------------------------------------------------------------
def _rounding(x, op, fn):
    x = as_tensor(x, op)
    if x.data.dtype.kind in "iub":        # integers are already whole: same dtype, no gradient
        if x.data.dtype.kind == "b":
            raise TypeError(f"ember.{op}: not defined for bool tensors (PyTorch refuses too); "
                            "cast first: x.astype('float32')")
        return make(x.data.copy(), (), None)
    y = make(fn(x.data), (x,), lambda g: (xp.zeros_like(g),))
    if y._node is not None:
        y._node.name = op
    return y


def floor(x):
    """Largest integer <= x (same dtype); zero gradient."""
    return _rounding(x, "floor", xp.floor)


def ceil(x):
    """Smallest integer >= x (same dtype); zero gradient."""
    return _rounding(x, "ceil", xp.ceil)


def trunc(x):
    """x rounded toward zero (same dtype); zero gradient."""
    return _rounding(x, "trunc", xp.trunc)


fix = trunc


def round(x, decimals=0):
    """x rounded to ``decimals`` decimal places, halves to even (as PyTorch and NumPy: round(0.5)
    = 0, round(1.5) = 2); zero gradient.  Computes rint(x * 10^d) / 10^d (d >= 0) or
    rint(x / 10^-d) * 10^-d (d < 0) in the input's dtype, as PyTorch."""
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"ember.round: decimals must be an int, got {decimals!r}")
    if decimals == 0:
        return _rounding(x, "round", xp.rint)

    def fn(a):
        p = a.dtype.type(10.0 ** abs(decimals))
        with _quiet():
            return xp.rint(a * p) / p if decimals > 0 else xp.rint(a / p) * p
    x = as_tensor(x, "round")
    if x.data.dtype.kind != "f":
        raise TypeError(f"ember.round: decimals={decimals} needs a floating-point tensor, got dtype "
                        f"{x.data.dtype}; cast first: x.astype('float32')")
    return _rounding(x, "round", fn)


def frac(x):
    """x - trunc(x) (keeps the sign of x); gradient 1."""
    return _unary(x, "frac", lambda a: a - xp.trunc(a), lambda g, x, y: g)
