"""Adaptive pooling, unpooling and power-average pooling, channels-last, with PyTorch semantics.

* ``adaptive_avg_pool1d/2d/3d`` and ``adaptive_max_pool1d/2d/3d``: output bin i along an axis of length
  L covers [floor(i L / out), ceil((i + 1) L / out)) (PyTorch's edges; bins may overlap).  The
  average is separable: one (out, L) averaging matrix per axis, applied with ``tensordot``.  The
  max loops over the (small) largest bin's offsets, gathering one element per bin at each offset
  (clamped to the bin), keeping the first maximum in row-major order (a NaN wins, as PyTorch).
  ``return_indices`` gives the flat h * W + w position, as ``max_pool2d``.
* ``max_unpool1d/2d/3d``: scatter values to the positions ``max_pool`` returned (zeros elsewhere).
* ``lp_pool1d/2d/3d``: (sum over the window of x ** p) ** (1 / p), PyTorch's formula (built from
  ``avg_pool`` and elementwise ops, so it has their gradients; p = +-inf uses ``max_pool``).
"""
import itertools

from ..backend import xp
from ._base import as_tensor, make, wrap
from .arguments import int_tuple
from . import pooling
from .pooling import checked_pool_input

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "adaptive_max_pool3d",
           "max_unpool1d", "max_unpool2d", "max_unpool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d"]


_check = checked_pool_input


def _sizes(output_size, in_sizes, op):
    nd = len(in_sizes)
    if output_size is None or isinstance(output_size, int):
        output_size = (output_size,) * nd
    if len(output_size) != nd:
        raise ValueError(f"ember.{op}: output_size must be an int or {nd} ints, got {output_size!r}")
    out = tuple(n if o is None else o for o, n in zip(output_size, in_sizes))
    return int_tuple(out, nd, "output_size", f"ember.{op}", minimum=1)


def _edges(n, o):
    i = xp.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def _avg_matrix(n, o, dtype):
    start, end = _edges(n, o)
    pos = xp.arange(n)
    m = ((pos >= start[:, None]) & (pos < end[:, None])).astype(dtype)
    return m / (end - start)[:, None].astype(dtype)


def _bin_mean(a, axis, n, o):
    """Mean over each adaptive bin along ``axis``, summing only the bin's own elements (a loop over
    the largest bin's offsets): a NaN / inf reaches only its bins, as PyTorch, where the averaging
    matrix's zeros would carry it to every output."""
    start, end = _edges(n, o)
    count = end - start
    shape = [1] * a.ndim
    shape[axis] = o
    acc = None
    for t in range(int(count.max())):
        v = xp.take(a, xp.minimum(start + t, end - 1), axis=axis)
        v = xp.where((t < count).reshape(shape), v, a.dtype.type(0))
        acc = v if acc is None else acc + v
    return acc / count.reshape(shape).astype(a.dtype)


def _adaptive_avg(x, sizes, op):
    xd = x.data
    axes = tuple(range(1, 1 + len(sizes)))
    mats = [_avg_matrix(xd.shape[a], o, xd.dtype) for a, o in zip(axes, sizes)]
    out = xd
    if bool(xp.isfinite(xd).all()):
        for a, m in zip(axes, mats):
            out = xp.moveaxis(xp.tensordot(m, out, axes=(1, a)), 0, a)
    else:
        for a, o in zip(axes, sizes):
            out = _bin_mean(out, a, out.shape[a], o)

    def backward(g):
        for a, m in zip(axes, mats):
            g = xp.moveaxis(xp.tensordot(m.T, g, axes=(1, a)), 0, a)
        return (xp.ascontiguousarray(g),)
    return make(xp.ascontiguousarray(out), (x,), backward)


def adaptive_avg_pool2d(x, output_size):
    """Mean over PyTorch's adaptive bins: (N, H, W, C) -> (N, oh, ow, C).  ``output_size``: int or
    (oh, ow); None in it keeps that input size."""
    x = _check(x, 2, "adaptive_avg_pool2d")
    return _adaptive_avg(x, _sizes(output_size, x.shape[1:3], "adaptive_avg_pool2d"), "adaptive_avg_pool2d")


def adaptive_avg_pool3d(x, output_size):
    """Mean over PyTorch's adaptive bins: (N, D, H, W, C) -> (N, od, oh, ow, C)."""
    x = _check(x, 3, "adaptive_avg_pool3d")
    return _adaptive_avg(x, _sizes(output_size, x.shape[1:4], "adaptive_avg_pool3d"), "adaptive_avg_pool3d")


def adaptive_avg_pool1d(x, output_size):
    """Mean over PyTorch's adaptive bins: (N, L, C) -> (N, output_size, C)."""
    x = _check(x, 1, "adaptive_avg_pool1d")
    return _adaptive_avg(x, _sizes(output_size, x.shape[1:2], "adaptive_avg_pool1d"), "adaptive_avg_pool1d")


def _adaptive_max(x, sizes, return_indices):
    """x (N, *spatial, C) array-backed Tensor; ``sizes`` one output size per spatial axis."""
    xd = x.data
    N, C = xd.shape[0], xd.shape[-1]
    sp = xd.shape[1:-1]
    nd = len(sp)
    edges = [_edges(n, o) for n, o in zip(sp, sizes)]
    kmax = [int((e - st).max()) for st, e in edges]
    has_nan = bool(xp.isnan(xd).any())
    out = idx = None
    # offsets in row-major order over the largest bin; each bin's index is clamped to the bin
    for offs in itertools.product(*(range(k) for k in kmax)):
        v = xd
        flat = xp.zeros((1,) * (nd + 2), dtype=xp.int64)
        for a, (t, (st, e)) in enumerate(zip(offs, edges)):
            pos = xp.minimum(st + t, e - 1)
            v = xp.take(v, pos, axis=a + 1)
            shape = [1] * (nd + 2)
            shape[a + 1] = len(pos)
            flat = flat * sp[a] + pos.reshape(shape)
        if out is None:
            out = xp.ascontiguousarray(v)
            idx = xp.broadcast_to(flat, out.shape).copy()
            continue
        better = xp.greater(v, out)
        if has_nan:
            better &= ~xp.isnan(out)
            better |= xp.isnan(v) & (flat > idx)      # PyTorch keeps the last NaN
        xp.copyto(idx, xp.broadcast_to(flat, idx.shape), where=better)
        xp.copyto(out, v, where=better)
    P = 1
    for n in sp:
        P *= n

    def backward(g):
        base = (xp.arange(N).reshape((N,) + (1,) * (nd + 1)) * P + idx) * C + xp.arange(C)
        gx = xp.bincount(base.ravel(), weights=g.ravel(), minlength=N * P * C)
        return (gx.astype(g.dtype).reshape(xd.shape),)
    out_t = make(out, (x,), backward)
    return (out_t, wrap(idx)) if return_indices else out_t


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins: (N, H, W, C) -> (N, oh, ow, C); with ``return_indices``
    also the int64 flat positions h * W + w of the maxima (for ``max_unpool2d``)."""
    x = _check(x, 2, "adaptive_max_pool2d")
    return _adaptive_max(x, _sizes(output_size, x.shape[1:3], "adaptive_max_pool2d"), return_indices)


def adaptive_max_pool3d(x, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins: (N, D, H, W, C) -> (N, od, oh, ow, C); indices
    (d * H + h) * W + w (for ``max_unpool3d``)."""
    x = _check(x, 3, "adaptive_max_pool3d")
    return _adaptive_max(x, _sizes(output_size, x.shape[1:4], "adaptive_max_pool3d"), return_indices)


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins: (N, L, C) -> (N, output_size, C) (indices along L)."""
    x = _check(x, 1, "adaptive_max_pool1d")
    (o,) = _sizes(output_size, x.shape[1:2], "adaptive_max_pool1d")
    N, L, C = x.shape
    res = _adaptive_max(x.reshape(N, 1, L, C), (1, o), return_indices)
    if return_indices:
        return res[0].reshape(N, o, C), wrap(res[1].data.reshape(N, o, C))
    return res.reshape(N, o, C)


def _unpool(x, indices, out_hw, op):
    xd = x.data
    idx = as_tensor(indices, op, "indices").data
    if idx.shape != xd.shape:
        raise ValueError(f"ember.{op}: indices shape {tuple(idx.shape)} must equal the input shape {tuple(xd.shape)}")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"ember.{op}: indices must be integers (from max_pool with return_indices=True), "
                        f"got dtype {idx.dtype}")
    N, C = xd.shape[0], xd.shape[-1]
    P = 1
    for n in out_hw:
        P *= n
    if idx.size and (idx.min() < 0 or idx.max() >= P):
        raise ValueError(f"ember.{op}: indices must lie in [0, {P}) for the output size {out_hw}, "
                         f"got values in [{int(idx.min())}, {int(idx.max())}]; pass output_size")
    idx3 = idx.reshape(N, -1, C).astype(xp.intp)
    out = xp.zeros((N, P, C), dtype=xd.dtype)
    xp.put_along_axis(out, idx3, xd.reshape(N, -1, C), axis=1)

    def backward(g):
        return (xp.take_along_axis(g.reshape(N, P, C), idx3, axis=1).reshape(xd.shape),)
    return make(out.reshape((N,) + tuple(out_hw) + (C,)), (x,), backward)


def _unpool_size(in_sizes, k, s, p, output_size, op):
    default = tuple((i - 1) * si - 2 * pi + ki for i, ki, si, pi in zip(in_sizes, k, s, p))
    if output_size is None:
        return default
    size = tuple(output_size)[-len(in_sizes):]
    return int_tuple(size, len(in_sizes), "output_size", f"ember.{op}", minimum=1)


def _unpool_args(x, nd, kernel_size, stride, padding, op):
    """The checked input and the pooling's kernel, stride (default: the kernel) and padding."""
    x = _check(x, nd, op)
    k = int_tuple(kernel_size, nd, "kernel_size", f"ember.{op}", minimum=1)
    s = k if stride is None else int_tuple(stride, nd, "stride", f"ember.{op}", minimum=1)
    p = int_tuple(padding, nd, "padding", f"ember.{op}", minimum=0)
    return x, k, s, p


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool2d``: (N, H', W', C) values and the pool's indices ->
    (N, H, W, C), zeros except at the indexed positions.  H defaults to (H' - 1) sh - 2 ph + kh;
    ``output_size`` (H, W) (or a longer shape ending in them) overrides it."""
    op = "max_unpool2d"
    x, k, s, p = _unpool_args(x, 2, kernel_size, stride, padding, op)
    return _unpool(x, indices, _unpool_size(x.shape[1:3], k, s, p, output_size, op), op)


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``max_unpool2d`` for (N, D', H', W', C) -> (N, D, H, W, C), indices from ``max_pool3d``."""
    op = "max_unpool3d"
    x, k, s, p = _unpool_args(x, 3, kernel_size, stride, padding, op)
    return _unpool(x, indices, _unpool_size(x.shape[1:4], k, s, p, output_size, op), op)


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``max_unpool2d`` for (N, L', C) -> (N, L, C)."""
    op = "max_unpool1d"
    x, k, s, p = _unpool_args(x, 1, kernel_size, stride, padding, op)
    (L,) = _unpool_size(x.shape[1:2], k, s, p, output_size, op)
    N, Lp, C = x.shape
    ind = as_tensor(indices, op, "indices")
    out = _unpool(x.reshape(N, 1, Lp, C), wrap(ind.data.reshape(N, 1, Lp, C)), (1, L), op)
    return out.reshape(N, L, C)


def _lp(x, norm_type, kernel_size, stride, ceil_mode, nd, op):
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)) or norm_type == 0 or norm_type != norm_type:
        raise ValueError(f"ember.{op}: norm_type must be a nonzero number (inf for max pooling), got {norm_type!r}")
    x = _check(x, nd, op)
    k = int_tuple(kernel_size, nd, "kernel_size", f"ember.{op}", minimum=1)
    if norm_type in (float("inf"), -float("inf")):
        # PyTorch's limits: the max of |x| (inf), minus the max of -|x| (-inf)
        pool = (pooling.max_pool1d, pooling.max_pool2d, pooling.max_pool3d)[nd - 1]
        a = x.abs()
        return pool(a, k, stride, 0, 1, ceil_mode) if norm_type > 0 else -pool(-a, k, stride, 0, 1, ceil_mode)
    pool = (pooling.avg_pool1d, pooling.avg_pool2d, pooling.avg_pool3d)[nd - 1]
    out = pool(x ** norm_type, k, stride, 0, ceil_mode)
    count = 1
    for n in k:
        count *= n
    return ((out.sign() * out.abs().relu()) * count) ** (1.0 / norm_type)


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling of (N, H, W, C): (sum over each window of x ** p) ** (1 / p)."""
    return _lp(x, norm_type, kernel_size, stride, ceil_mode, 2, "lp_pool2d")


def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling of (N, L, C): (sum over each window of x ** p) ** (1 / p)."""
    return _lp(x, norm_type, kernel_size, stride, ceil_mode, 1, "lp_pool1d")


def lp_pool3d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling of (N, D, H, W, C) -> (N, D', H', W', C): (sum over each kd x kh x kw
    window of x ** p) ** (1 / p), PyTorch's formula (``stride`` defaults to the kernel; with
    ``ceil_mode`` a window cut by the border is the mean over its inside times the full window
    size, as PyTorch; p = inf is the max of |x|)."""
    return _lp(x, norm_type, kernel_size, stride, ceil_mode, 3, "lp_pool3d")
