"""Bitwise ops on integer tensors (logical on bool tensors), as PyTorch: ``&``, ``|``, ``^``, ``~``,
``<<``, ``>>`` and their reflected forms.  None has a gradient.  Floating-point operands are
refused with an error that names the op, the dtypes and the fix.  ``>>`` of a negative signed
integer is arithmetic (rounds toward -inf), as in PyTorch and NumPy."""
from ..backend import xp
from ._base import as_tensor, make
from .elementwise import _binary

__all__ = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
           "bitwise_right_shift"]


def _check(op, symbol, *tensors, shift=False):
    bad = [t for t in tensors if t.data.dtype.kind not in ("iu" if shift else "iub")]
    if bad:
        kinds = "integer" if shift else "integer or bool"
        dts = " and ".join(str(t.data.dtype) for t in tensors)
        raise TypeError(f"ember.{op} ({symbol}): needs {kinds} tensors, got dtype {dts}; "
                        + ("for a boolean mask use comparisons (x > 0) first; "
                           if not shift else "")
                        + "cast with x.astype('int64')" + ("" if shift else " or x.astype('bool')"))


def _bitwise(fn, op, symbol, shift=False):
    def bitwise(a, b):
        ta = as_tensor(a, op, "a") if not isinstance(a, (bool, int)) else None
        tb = as_tensor(b, op, "b") if not isinstance(b, (bool, int)) else None
        _check(op, symbol, *[t for t in (ta, tb) if t is not None], shift=shift)
        for v in (a, b):
            if isinstance(v, float):
                raise TypeError(f"ember.{op} ({symbol}): needs integer operands, got the float {v!r}")
        a2, b2, out = _binary(a if ta is None else ta, b if tb is None else tb, op, fn)
        return make(out, (), None)
    bitwise.__name__ = op
    bitwise.__doc__ = (f"Elementwise ``a {symbol} b`` on integer tensors"
                       + ("" if shift else " (logical on bool tensors)")
                       + ", broadcasting; no gradient.")
    return bitwise


bitwise_and = _bitwise(xp.bitwise_and, "bitwise_and", "&")
bitwise_or = _bitwise(xp.bitwise_or, "bitwise_or", "|")
bitwise_xor = _bitwise(xp.bitwise_xor, "bitwise_xor", "^")
bitwise_left_shift = _bitwise(xp.left_shift, "bitwise_left_shift", "<<", shift=True)
bitwise_right_shift = _bitwise(xp.right_shift, "bitwise_right_shift", ">>", shift=True)


def bitwise_not(x):
    """``~x``: bitwise NOT of an integer tensor, logical NOT of a bool tensor; no gradient."""
    x = as_tensor(x, "bitwise_not")
    _check("bitwise_not", "~", x)
    return make(xp.invert(x.data), (), None)
