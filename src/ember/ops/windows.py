"""Sliding windows along one axis: ``Tensor.unfold(dimension, size, step)`` (PyTorch's method).

Not to be confused with ``ember.functional.unfold`` (im2col over an image, ``torch.nn.functional.
unfold``): the Tensor method keeps every other axis and cuts one axis into windows.

``x.unfold(d, size, step)`` has x's shape with axis d replaced by the window count
``(x.shape[d] - size) // step + 1`` and a new last axis of length ``size``:
``out[..., i, ..., k] = x[..., i * step + k, ...]``.  The forward is a strided view copied once;
the backward adds each window offset k's gradient into its strided slice (a loop over the
``size`` offsets, each one vectorised).
"""
from ..backend import xp
from ._base import as_tensor, check_axis, make

__all__ = ["tensor_unfold"]


def tensor_unfold(x, dimension, size, step):
    """Windows of ``size`` elements every ``step`` along axis ``dimension``; see the module
    docstring.  ``dim=`` style keywords: (dimension, size, step) as PyTorch's ``Tensor.unfold``."""
    op = "Tensor.unfold"
    x = as_tensor(x, op, "x")
    xd = x.data
    d = check_axis(dimension, xd.ndim, op, "dimension")
    n = xd.shape[d] if xd.ndim else 1
    if isinstance(size, bool) or int(size) != size or size < 0:
        raise ValueError(f"ember.{op}: size must be a non-negative int, got {size!r}")
    if isinstance(step, bool) or int(step) != step or step <= 0:
        raise ValueError(f"ember.{op}: step must be a positive int, got {step!r}")
    size, step = int(size), int(step)
    if size > n:
        raise ValueError(f"ember.{op}: size {size} is larger than dimension {d} of length {n} "
                         f"(shape {tuple(xd.shape)})")
    if xd.ndim == 0:
        out = xd.reshape(1)[:size].copy()
        return make(out, (x,), lambda g: (g.sum().reshape(()).astype(g.dtype),))
    count = (n - size) // step + 1
    shape = xd.shape[:d] + (count,) + xd.shape[d + 1:] + (size,)
    strides = xd.strides[:d] + (xd.strides[d] * step,) + xd.strides[d + 1:] + (xd.strides[d],)
    out = xp.lib.stride_tricks.as_strided(xd, shape=shape, strides=strides).copy()

    def backward(g):
        gx = xp.zeros(xd.shape, dtype=g.dtype)
        lead = (slice(None),) * d
        for k in range(size):
            gx[lead + (slice(k, k + step * (count - 1) + 1, step),)] += g[..., k]
        return (gx,)
    return make(out, (x,), backward)
