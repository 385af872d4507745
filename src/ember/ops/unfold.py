"""``unfold`` (im2col) and ``fold`` (col2im, its adjoint), channels-last.

Layout: ``unfold`` of (N, H, W, C) gives **(N, L, kh * kw * C)**, L = H' * W' windows in row-major
order, each window flattened as (kh, kw, C) -- so that ``unfold(x) @ w.reshape(-1, C_out)`` is
``conv2d(x, w)`` for an ember weight (kh, kw, C, C_out).  PyTorch's ``F.unfold`` gives
(N, C * kh * kw, L) with C slowest; convert with ``t.reshape(N, C, kh, kw, L).permute(0, 4, 2, 3,
1).reshape(N, L, -1)``.  ``fold`` takes (N, L, kh * kw * C) and sums overlapping values into
(N, H, W, C).  Both loop over the kernel offsets only (strided slice copies / adds).
"""
from ..backend import xp
from ._base import as_tensor, make
from .arguments import int_tuple
from .conv import _offsets

__all__ = ["unfold", "fold"]


def _params(kernel_size, dilation, padding, stride, op):
    w = f"ember.{op}"
    return (int_tuple(kernel_size, 2, "kernel_size", w, minimum=1), int_tuple(dilation, 2, "dilation", w, minimum=1),
            int_tuple(padding, 2, "padding", w, minimum=0), int_tuple(stride, 2, "stride", w, minimum=1))


def _out_hw(H, W, k, d, p, s):
    return ((H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1, (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1)


def _im2col(xd, k, offsets, out_hw):
    N, C = xd.shape[0], xd.shape[-1]
    cols = xp.zeros((N, out_hw[0], out_hw[1], k[0], k[1], C), dtype=xd.dtype)
    for i, j, oh, ow, ih, iw in offsets:
        cols[:, oh, ow, i, j, :] = xd[:, ih, iw, :]
    return cols.reshape(N, out_hw[0] * out_hw[1], k[0] * k[1] * C)


def _col2im(gd, k, offsets, out_hw, x_shape):
    N, C = x_shape[0], x_shape[-1]
    g6 = gd.reshape(N, out_hw[0], out_hw[1], k[0], k[1], C)
    gx = xp.zeros(x_shape, dtype=gd.dtype)
    for i, j, oh, ow, ih, iw in offsets:
        gx[:, ih, iw, :] += g6[:, oh, ow, i, j, :]
    return gx


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding windows of (N, H, W, C) -> (N, L, kh * kw * C) (see the module docstring)."""
    op = "unfold"
    x = as_tensor(x, op)
    if x.ndim != 4:
        raise ValueError(f"ember.{op}: expected a 4-D channels-last input (N, H, W, C), got shape {tuple(x.shape)}")
    k, d, p, s = _params(kernel_size, dilation, padding, stride, op)
    N, H, W, C = x.shape
    out_hw = _out_hw(H, W, k, d, p, s)
    if out_hw[0] <= 0 or out_hw[1] <= 0:
        raise ValueError(f"ember.{op}: input of shape {tuple(x.shape)} is too small for kernel {k} with dilation "
                         f"{d} and padding {p}: there would be no window")
    offsets = _offsets((H, W), out_hw, k, s, d, p)
    out = _im2col(x.data, k, offsets, out_hw)
    return make(out, (x,), lambda g: (_col2im(g, k, offsets, out_hw, x.shape),))


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding-window values (N, L, kh * kw * C) back into (N, H, W, C), ``output_size`` =
    (H, W); the adjoint of ``unfold`` (overlaps add up)."""
    op = "fold"
    x = as_tensor(x, op)
    k, d, p, s = _params(kernel_size, dilation, padding, stride, op)
    H, W = int_tuple(output_size, 2, "output_size", f"ember.{op}", minimum=1)
    out_hw = _out_hw(H, W, k, d, p, s)
    L = out_hw[0] * out_hw[1]
    if x.ndim != 3 or x.shape[1] != L or x.shape[2] % (k[0] * k[1]):
        raise ValueError(f"ember.{op}: expected (N, L, kh * kw * C) with L = {L} windows for output_size {(H, W)}, "
                         f"kernel {k}, dilation {d}, padding {p}, stride {s}, and the last axis a multiple of "
                         f"{k[0] * k[1]}; got shape {tuple(x.shape)}")
    N = x.shape[0]
    C = x.shape[2] // (k[0] * k[1])
    offsets = _offsets((H, W), out_hw, k, s, d, p)
    out = _col2im(x.data, k, offsets, out_hw, (N, H, W, C))
    return make(out, (x,), lambda g: (_im2col(g, k, offsets, out_hw),))
