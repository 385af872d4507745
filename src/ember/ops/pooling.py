"""Pooling over the spatial axes of channels-last images (N, H, W, C), with PyTorch semantics
(floor mode: windows that would run past the padded input are dropped).

Both pools loop over the kh*kw kernel offsets only (never over batch or pixels): offset (i, j)
reads one strided slice of the (padded) input, x[:, i::sh, j::sw], and folds it into the output
with one in-place NumPy call.  When stride >= kernel (the usual 2x2/stride-2 case) the windows do
not overlap and the backward writes each slice of the input gradient once instead of adding.
(Measured: reducing a free (N, H/k, k, W/k, k, C) reshape with ``max(axis=(2, 4))`` is ~10x
slower in NumPy than these k*k contiguous-inner-axis passes, so that form is not used.)

``max_pool2d`` records, once in the forward and only when the input needs a gradient, which kernel
offset won each window (an int8 index; ties go to the FIRST offset in row-major window order, as
PyTorch), and its backward routes the gradient through it.  The index is updated branch-free
(``idx = max(idx, q * (v > running_max))``, valid because offsets are visited in increasing
order): a masked ``copyto`` is ~10x slower on the random masks ReLU outputs produce.
"""
from ..autograd import is_grad_enabled
from ..backend import xp
from ._base import as_tensor, make
from .arguments import int_tuple

__all__ = ["max_pool2d", "avg_pool2d", "global_avg_pool2d"]


def _setup(x, kernel_size, stride, padding, op):
    x = as_tensor(x, op)
    if x.ndim != 4:
        raise ValueError(f"ember.{op}: expected a 4-D channels-last input (N, H, W, C), got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"ember.{op}: expected a floating-point input, got dtype {x.dtype}")
    where = f"ember.{op}"
    k = int_tuple(kernel_size, 2, "kernel_size", where, minimum=1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        s = k                                   # PyTorch's default: stride = kernel_size
    else:
        s = int_tuple(stride, 2, "stride", where, minimum=1)
    p = int_tuple(padding, 2, "padding", where, minimum=0)
    if any(2 * pi > ki for pi, ki in zip(p, k)):
        raise ValueError(f"ember.{op}: padding {p} must be at most half of the kernel size {k}")
    N, H, W, C = x.shape
    Ho = (H + 2 * p[0] - k[0]) // s[0] + 1
    Wo = (W + 2 * p[1] - k[1]) // s[1] + 1
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"ember.{op}: input of shape {tuple(x.shape)} is too small for kernel {k} "
                         f"with padding {p}: the output would be empty")
    return x, k, s, p, Ho, Wo


def _windows(k, s, Ho, Wo):
    """(offset index, row slice, column slice) for every kernel offset, into the padded input."""
    out = []
    for i in range(k[0]):
        hs = slice(i, i + s[0] * (Ho - 1) + 1, s[0])
        for j in range(k[1]):
            out.append((i * k[1] + j, hs, slice(j, j + s[1] * (Wo - 1) + 1, s[1])))
    return out


def _pad(xd, p, value):
    if not (p[0] or p[1]):
        return xd
    N, H, W, C = xd.shape
    out = xp.full((N, H + 2 * p[0], W + 2 * p[1], C), value, dtype=xd.dtype)
    out[:, p[0]:p[0] + H, p[1]:p[1] + W] = xd
    return out


def _crop(gp, p, shape):
    if not (p[0] or p[1]):
        return gp
    return xp.ascontiguousarray(gp[:, p[0]:p[0] + shape[1], p[1]:p[1] + shape[2]])


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over kh x kw windows of (N, H, W, C) -> (N, H', W', C).

    Args:
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw); defaults to kernel_size.
        padding: int or (ph, pw), at most half the kernel; padded positions count as -inf.

    H' = (H + 2 ph - kh) // sh + 1 (same for W').  The gradient of each window goes to one
    element, its first maximum (row-major), as PyTorch.
    """
    x, k, s, p, Ho, Wo = _setup(x, kernel_size, stride, padding, "max_pool2d")
    xd = x.data
    N, H, W, C = xd.shape
    src = _pad(xd, p, -xp.inf)
    wins = _windows(k, s, Ho, Wo)
    need_idx = x._rg and is_grad_enabled()
    # Running max over the kernel offsets; strict '>' keeps the first maximum on ties.
    _, hs, ws = wins[0]
    out = src[:, hs, ws].copy()
    idx_dtype = xp.dtype(xp.int8 if len(wins) < 128 else xp.int32)
    idx = xp.zeros(out.shape, dtype=idx_dtype) if need_idx else None
    for q, hs, ws in wins[1:]:
        v = src[:, hs, ws]
        if need_idx:
            better = xp.greater(v, out)
            better = better.view(xp.int8) if idx_dtype == xp.int8 else better.astype(idx_dtype)
            better *= idx_dtype.type(q)
            xp.maximum(idx, better, out=idx)
        xp.maximum(out, v, out=out)          # (propagates NaN, as PyTorch)

    def backward(g):
        overlap = s[0] < k[0] or s[1] < k[1]
        # stride == kernel tiling the whole input: every element is written exactly once below
        tiles = s == k and p == (0, 0) and H == Ho * k[0] and W == Wo * k[1]
        gp = (xp.empty if tiles else xp.zeros)(src.shape, dtype=g.dtype)
        for q, hs, ws in wins:
            if overlap:
                gp[:, hs, ws] += g * (idx == q)
            else:
                xp.multiply(g, idx == q, out=gp[:, hs, ws])
        return (_crop(gp, p, xd.shape),)
    return make(out, (x,), backward)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over kh x kw windows of (N, H, W, C) -> (N, H', W', C).

    Args:
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw); defaults to kernel_size.
        padding: int or (ph, pw), at most half the kernel; zero padding that counts in the
            divisor (``count_include_pad=True``, PyTorch's default): every window divides by kh*kw.
    """
    x, k, s, p, Ho, Wo = _setup(x, kernel_size, stride, padding, "avg_pool2d")
    xd = x.data
    N, H, W, C = xd.shape
    inv = 1.0 / (k[0] * k[1])
    src = _pad(xd, p, 0)
    wins = _windows(k, s, Ho, Wo)
    _, hs, ws = wins[0]
    out = src[:, hs, ws].copy()
    for _, hs, ws in wins[1:]:
        out += src[:, hs, ws]
    out *= inv

    def backward(g):
        gs = g * inv
        overlap = s[0] < k[0] or s[1] < k[1]
        gp = xp.zeros(src.shape, dtype=g.dtype)
        for _, hs, ws in wins:
            if overlap:
                gp[:, hs, ws] += gs
            else:
                gp[:, hs, ws] = gs
        return (_crop(gp, p, xd.shape),)
    return make(out, (x,), backward)


def global_avg_pool2d(x, keepdims=False):
    """Mean over H and W: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with ``keepdims=True``."""
    x = as_tensor(x, "global_avg_pool2d")
    if x.ndim != 4:
        raise ValueError(f"ember.global_avg_pool2d: expected a 4-D channels-last input (N, H, W, C), "
                         f"got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"ember.global_avg_pool2d: expected a floating-point input, got dtype {x.dtype}")
    xd = x.data
    N, H, W, C = xd.shape
    inv = 1.0 / (H * W)
    out = xd.sum(axis=(1, 2), keepdims=keepdims)
    out *= inv

    def backward(g):
        gs = (g * inv).reshape(N, 1, 1, C)
        return (xp.broadcast_to(gs, xd.shape).copy(),)
    return make(out, (x,), backward)
