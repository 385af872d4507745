"""Pooling over the spatial axes of channels-last inputs, (N, L, C) and (N, H, W, C), with PyTorch
semantics: ``max_pool1d/2d`` (padding, dilation, ceil_mode, return_indices), ``avg_pool1d/2d``
(padding, ceil_mode, count_include_pad, divisor_override), ``global_avg_pool2d``.  Floor mode
drops windows that would run past the padded input; ``ceil_mode=True`` keeps a last partial
window when it starts inside the input or its left padding (PyTorch's rule).

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
order): a masked ``copyto`` is ~10x slower on the random masks ReLU outputs produce.  A NaN wins
its window (the LAST NaN, as PyTorch's ``val > max || isnan(val)``).  ``return_indices`` gives
PyTorch's index: the flat position h * W + w of the maximum in the input's (unpadded) plane.
1-D pools are the 2-D ones with H = 1; ``max_pool3d`` / ``avg_pool3d`` run the same code over
three spatial axes (all helpers take one size per spatial axis).
"""
import itertools
import math

from ..autograd import is_grad_enabled
from ..backend import xp
from ._base import as_tensor, make, wrap
from .arguments import int_tuple, torch_names

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "global_avg_pool2d"]


def _out_size(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:    # the last window must start inside input or left pad
        o -= 1
    return o


def checked_pool_input(x, nd, op):
    """``x`` as a tensor, checked to be a floating channels-last input of ``nd`` spatial axes."""
    x = as_tensor(x, op)
    shown = {1: "(N, L, C)", 2: "(N, H, W, C)", 3: "(N, D, H, W, C)"}[nd]
    if x.ndim != nd + 2:
        raise ValueError(f"ember.{op}: expected a {nd + 2}-D channels-last input {shown}, got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"ember.{op}: expected a floating-point input, got dtype {x.dtype}")
    return x


def _setup(x, kernel_size, stride, padding, dilation, ceil_mode, op, nd=2):
    """Checked arguments as nd-tuples and the output's spatial sizes; a 1-D input is lifted to
    (N, 1, L, C) (a 2-D pool with a height-1 kernel)."""
    x = checked_pool_input(x, nd, op)
    where = f"ember.{op}"
    k = int_tuple(kernel_size, nd, "kernel_size", where, minimum=1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        s = k                                   # PyTorch's default: stride = kernel_size
    else:
        s = int_tuple(stride, nd, "stride", where, minimum=1)
    p = int_tuple(padding, nd, "padding", where, minimum=0)
    d = int_tuple(dilation, nd, "dilation", where, minimum=1)
    if any(2 * pi > ki for pi, ki in zip(p, k)):
        raise ValueError(f"ember.{op}: padding {p if nd > 1 else p[0]} must be at most half of the kernel "
                         f"size {k if nd > 1 else k[0]}")
    shape = tuple(x.shape)
    if nd == 1:
        x = _as2d(x)
        k, s, p, d = (1,) + k, (1,) + s, (0,) + p, (1,) + d
    outs = tuple(_out_size(n, *a, ceil_mode) for n, a in zip(x.shape[1:-1], zip(k, s, p, d)))
    if min(outs) <= 0:
        raise ValueError(f"ember.{op}: input of shape {shape} is too small for kernel {k[-nd:]} with padding "
                         f"{p[-nd:]} and dilation {d[-nd:]}: the output would be empty")
    return x, k, s, p, d, outs


def _as2d(x):
    """(N, L, C) -> (N, 1, L, C), sharing the autograd node of ``x``."""
    from .shape import reshape
    return reshape(x, (x.shape[0], 1, x.shape[1], x.shape[2]))


def _windows(k, s, d, outs):
    """(offset index, index tuple) for every kernel offset (row-major), into the padded input."""
    out = []
    for q, offs in enumerate(itertools.product(*(range(ki) for ki in k))):
        sl = tuple(slice(o * di, o * di + si * (n - 1) + 1, si) for o, si, di, n in zip(offs, s, d, outs))
        out.append((q, (slice(None),) + sl))
    return out


def _pad(xd, p, value, need):
    """``xd`` padded by p before and enough after to hold ``need`` (one size per spatial axis)."""
    sp = xd.shape[1:-1]
    after = tuple(max(ne - n - pi, 0) for ne, n, pi in zip(need, sp, p))
    if not any(p) and not any(after):
        return xd
    out = xp.full((xd.shape[0],) + tuple(n + pi + a for n, pi, a in zip(sp, p, after)) + (xd.shape[-1],),
                  value, dtype=xd.dtype)
    out[(slice(None),) + tuple(slice(pi, pi + n) for pi, n in zip(p, sp))] = xd
    return out


def _crop(gp, p, shape):
    if gp.shape == shape:
        return gp
    return xp.ascontiguousarray(gp[(slice(None),) + tuple(slice(pi, pi + n) for pi, n in zip(p, shape[1:-1]))])


def _need(k, s, d, outs):
    return tuple((o - 1) * si + di * (ki - 1) + 1 for ki, si, di, o in zip(k, s, d, outs))


def _running_max(xd, src, wins, need_idx):
    """(max over the windows, index of each window's first maximum or None): a running max over
    the kernel offsets, where a strict '>' keeps the first maximum on ties."""
    has_nan = need_idx and bool(xp.isnan(xd).any())
    out = src[wins[0][1]].copy()
    idx_dtype = xp.dtype(xp.int8 if len(wins) < 128 else xp.int32)
    idx = xp.zeros(out.shape, dtype=idx_dtype) if need_idx else None
    for q, sl in wins[1:]:
        v = src[sl]
        if need_idx:
            better = xp.greater(v, out)
            if has_nan:
                better |= xp.isnan(v)
            better = better.view(xp.int8) if idx_dtype == xp.int8 else better.astype(idx_dtype)
            better *= idx_dtype.type(q)
            xp.maximum(idx, better, out=idx)
        xp.maximum(out, v, out=out)          # (propagates NaN, as PyTorch)
    return out, idx


def _first_max_of_pairs(src, wins):
    """Windows of 2 or 4 offsets (a 2x2 kernel, the common case): (max, first-max index) as a
    knockout of pairs, ``max(a, b)`` with ``b > a`` picking b, then the same between the pairs'
    winners -- ties keep the earlier offset, so the index is the first maximum in row-major
    order, as PyTorch's.  6 passes over the output instead of the running max's 11 or so.  None
    when a window holds a NaN (PyTorch picks the NaN; the running max handles it)."""
    v = [src[sl] for _, sl in wins]
    if len(v) == 2:
        out = xp.maximum(v[0], v[1])
        if xp.isnan(out).any():
            return None
        return out, xp.greater(v[1], v[0]).view(xp.int8)
    first = xp.maximum(v[0], v[1])
    second = xp.maximum(v[2], v[3])
    in_second = xp.greater(second, first)
    out = xp.maximum(first, second, out=first)
    if xp.isnan(out).any():
        return None
    first_b, second_d = xp.greater(v[1], v[0]), xp.greater(v[3], v[2])
    # the winner within its pair: second_d where in_second, else first_b (boolean arithmetic:
    # NumPy's where on booleans is ~50x slower)
    within = first_b ^ (in_second & (first_b ^ second_d))
    idx = in_second.view(xp.int8) * xp.int8(2)
    idx += within.view(xp.int8)
    return out, idx


def _max_pool(x, k, s, p, d, outs, return_indices):
    xd = x.data
    src = _pad(xd, p, -xp.inf, _need(k, s, d, outs))
    wins = _windows(k, s, d, outs)
    need_idx = return_indices or (x._rg and is_grad_enabled())
    found = _first_max_of_pairs(src, wins) if need_idx and len(wins) in (2, 4) else None
    if found is not None:
        out, idx = found
    else:
        out, idx = _running_max(xd, src, wins, need_idx)

    def backward(g):
        overlap = any(si < (ki - 1) * di + 1 for si, ki, di in zip(s, k, d))
        # stride == kernel tiling the whole input: every element is written exactly once below
        tiles = (src.shape == xd.shape and s == k and all(di == 1 for di in d)
                 and all(n == o * ki for n, o, ki in zip(xd.shape[1:-1], outs, k)))
        gp = (xp.empty if tiles else xp.zeros)(src.shape, dtype=g.dtype)
        for q, sl in wins:
            if overlap:
                gp[sl] += g * (idx == q)
            else:
                xp.multiply(g, idx == q, out=gp[sl])
        return (_crop(gp, p, xd.shape),)

    indices = None
    if return_indices:
        per_axis = xp.unravel_index(idx.astype(xp.int64), k)
        indices = xp.zeros(idx.shape, dtype=xp.int64)
        nd = len(k)
        for a in range(nd):
            shape = [1] * (nd + 2)
            shape[a + 1] = outs[a]
            coord = xp.arange(outs[a]).reshape(shape) * s[a] - p[a] + per_axis[a] * d[a]
            indices = indices * xd.shape[a + 1] + coord
    return make(out, (x,), backward), indices


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over kh x kw windows of (N, H, W, C) -> (N, H', W', C).

    Args:
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw); defaults to kernel_size.
        padding: int or (ph, pw), at most half the kernel; padded positions count as -inf.
        dilation: int or (dh, dw): spacing between the window's taps.
        ceil_mode: round the output size up (a last partial window), as PyTorch.
        return_indices: also return (N, H', W', C) int64 indices, h * W + w of each maximum in
            the input plane (PyTorch's convention; ``max_unpool2d`` takes them).

    H' = (H + 2 ph - dh (kh - 1) - 1) // sh + 1 (floor mode).  The gradient of each window goes
    to one element, its first maximum (row-major), as PyTorch.
    """
    x, k, s, p, d, outs = _setup(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    out, idx = _max_pool(x, k, s, p, d, outs, return_indices)
    return (out, wrap(idx)) if return_indices else out


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of length k of (N, L, C) -> (N, L', C); arguments as ``max_pool2d``
    (indices are positions along L)."""
    x2, k, s, p, d, outs = _setup(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool1d", 1)
    out, idx = _max_pool(x2, k, s, p, d, outs, return_indices)
    out = out.reshape(out.shape[0], outs[1], out.shape[3])
    return (out, wrap(idx.reshape(out.shape))) if return_indices else out


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over kd x kh x kw windows of (N, D, H, W, C) -> (N, D', H', W', C); arguments as
    ``max_pool2d`` (indices are (d * H + h) * W + w)."""
    x, k, s, p, d, outs = _setup(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool3d", 3)
    out, idx = _max_pool(x, k, s, p, d, outs, return_indices)
    return (out, wrap(idx)) if return_indices else out


def _avg_divisor(n, k, s, p, o, count_include_pad):
    """Per-output divisor along one axis (PyTorch's): the window clipped to the padded input, or
    to the input itself without ``count_include_pad``."""
    start = xp.arange(o) * s - p
    end = xp.minimum(start + k, n + p)
    if not count_include_pad:
        start, end = xp.maximum(start, 0), xp.minimum(end, n)
    return end - start


def _avg_pool(x, k, s, p, outs, ceil_mode, count_include_pad, divisor_override, op):
    xd = x.data
    nd = len(k)
    d1 = (1,) * nd
    src = _pad(xd, p, 0, _need(k, s, d1, outs))
    wins = _windows(k, s, d1, outs)
    ksize = math.prod(k)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, int) or divisor_override == 0:
            raise ValueError(f"ember.{op}: divisor_override must be a nonzero int, got {divisor_override!r}")
        scale = xp.asarray(1.0 / divisor_override, dtype=xd.dtype)
    else:
        div = xp.ones((1,) * nd, dtype=xp.int64)
        for a in range(nd):
            shape = [1] * nd
            shape[a] = outs[a]
            div = div * _avg_divisor(xd.shape[a + 1], k[a], s[a], p[a], outs[a], count_include_pad).reshape(shape)
        if (div == ksize).all():
            scale = xp.asarray(1.0 / ksize, dtype=xd.dtype)
        else:
            scale = (1.0 / div).astype(xd.dtype).reshape((1,) + tuple(outs) + (1,))
    out = src[wins[0][1]].copy()
    for _, sl in wins[1:]:
        out += src[sl]
    out *= scale

    def backward(g):
        gs = g * scale
        overlap = any(si < ki for si, ki in zip(s, k))
        gp = xp.zeros(src.shape, dtype=g.dtype)
        for _, sl in wins:
            if overlap:
                gp[sl] += gs
            else:
                gp[sl] = gs
        return (_crop(gp, p, xd.shape),)
    return make(out, (x,), backward)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kh x kw windows of (N, H, W, C) -> (N, H', W', C).

    Args:
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw); defaults to kernel_size.
        padding: int or (ph, pw), at most half the kernel; zero padding.
        ceil_mode: round the output size up, as PyTorch.
        count_include_pad: divide by the window's size including zero padding (default, as
            PyTorch) or only by its count of input elements.  A ceil-mode window running past the
            padding divides by its part inside the padded input (PyTorch's rule).
        divisor_override: divide every window's sum by this int instead.
    """
    op = "avg_pool2d"
    x, k, s, p, _, outs = _setup(x, kernel_size, stride, padding, 1, ceil_mode, op)
    return _avg_pool(x, k, s, p, outs, ceil_mode, count_include_pad, divisor_override, op)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over windows of length k of (N, L, C) -> (N, L', C); arguments as ``avg_pool2d``."""
    op = "avg_pool1d"
    x2, k, s, p, _, outs = _setup(x, kernel_size, stride, padding, 1, ceil_mode, op, 1)
    out = _avg_pool(x2, k, s, p, outs, ceil_mode, count_include_pad, None, op)
    return out.reshape(out.shape[0], outs[1], out.shape[3])


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kd x kh x kw windows of (N, D, H, W, C) -> (N, D', H', W', C); arguments as
    ``avg_pool2d``."""
    op = "avg_pool3d"
    x, k, s, p, _, outs = _setup(x, kernel_size, stride, padding, 1, ceil_mode, op, 3)
    return _avg_pool(x, k, s, p, outs, ceil_mode, count_include_pad, divisor_override, op)


@torch_names
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
