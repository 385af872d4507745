"""Differentiable dtype conversion."""
from .. import dtypes as _dt
from ._base import as_tensor, make

__all__ = ["cast"]


def cast(x, dtype):
    """``x`` converted to ``dtype``; the gradient is converted back to the input's dtype."""
    x = as_tensor(x, "astype")
    d = _dt.as_dtype(dtype)
    if x.data.dtype == d:
        return x
    src = x.data.dtype
    out = x.data.astype(d)
    if d.kind != "f":
        return make(out, (), None)
    return make(out, (x,), lambda g: (g.astype(src),))
