"""3-D convolutions, channels-last: ``conv3d`` on (N, D, H, W, C_in) with weight
(kd, kh, kw, C_in / groups, C_out), and ``conv_transpose3d`` with weight
(kd, kh, kw, C_out / groups, C_in) (the layouts of the 2-D ops with a leading depth axis).

Both loop over the kd depth taps only: tap a pairs a strided block of input depths with a block of
output depths, and the 2-D machinery of ops/conv.py (im2col + matmul, grouped, depthwise) runs on
that block with depth folded into the batch.
"""
from ..backend import xp
from ._base import make
from .arguments import int_tuple
from .conv import _axis_offsets, _conv_forward, _input_grad, _offsets, _padding, _weight_grad
from .conv import _check as _check_conv

__all__ = ["conv3d", "conv_transpose3d"]


def _fold(a):
    """(N, n, H, W, C) -> (N * n, H, W, C)."""
    return a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:])


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of (N, D, H, W, C_in) with weight (kd, kh, kw, C_in / groups, C_out) ->
    (N, D', H', W', C_out); arguments as ``conv2d`` (padding int, triple, 'valid' or 'same')."""
    op = "conv3d"
    x, weight, bias = _check_conv(x, weight, bias, 3, op, groups)
    w = f"ember.{op}"
    s = int_tuple(stride, 3, "stride", w, minimum=1)
    d = int_tuple(dilation, 3, "dilation", w, minimum=1)
    pads = _padding(padding, 3, weight.shape[:3], s, d, op)
    xd, wd = x.data, weight.data
    N, D, H, W, C = xd.shape
    kd, kh, kw, Cg, O = wd.shape
    sizes = [(n + p0 + p1 - dd * (k - 1) - 1) // ss + 1 for n, (p0, p1), dd, k, ss in zip((D, H, W), pads, d, (kd, kh, kw), s)]
    if min(sizes) <= 0:
        raise ValueError(f"ember.{op}: input of shape {tuple(xd.shape)} is too small for kernel {(kd, kh, kw)} with "
                         f"dilation {d} and padding {pads}: the output would be empty")
    Do, Ho, Wo = sizes
    off2 = _offsets((H, W), (Ho, Wo), (kh, kw), s[1:], d[1:], (pads[1][0], pads[2][0]))
    taps = _axis_offsets(D, Do, kd, s[0], d[0], pads[0][0])
    need_w = weight._rg or (bias is not None and bias._rg)
    out = xp.zeros((N, Do, Ho, Wo, O), dtype=xd.dtype)
    saved = []
    for a, os_, is_ in taps:
        xa = _fold(xd[:, is_])
        o, cols = _conv_forward(xa, wd[a], None, (Ho, Wo), off2, groups, need_w)
        out[:, os_] += o.reshape((N, -1) + o.shape[1:])
        saved.append(cols)
    if bias is not None:
        out += bias.data

    def backward(g):
        gx = xp.zeros(xd.shape, dtype=g.dtype) if x._rg else None
        gw = xp.zeros(wd.shape, dtype=g.dtype) if weight._rg else None
        for (a, os_, is_), cols in zip(taps, saved):
            ga = _fold(g[:, os_])
            if weight._rg:
                gw[a] += _weight_grad(ga, _fold(xd[:, is_]), wd[a].shape, cols, off2, groups, False)[0]
            if x._rg:
                gi = _input_grad(ga, wd[a], (ga.shape[0], H, W, C), off2, groups)
                gx[:, is_] += gi.reshape((N, -1) + gi.shape[1:])
        gb = g.reshape(-1, O).sum(axis=0) if bias is not None and bias._rg else None
        return (gx, gw) if bias is None else (gx, gw, gb)
    return make(out, (x, weight) if bias is None else (x, weight, bias), backward)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution of (N, D, H, W, C_in) with weight (kd, kh, kw, C_out / groups,
    C_in) -> (N, D', H', W', C_out), D' = (D - 1) sd - 2 pd + dd (kd - 1) + output_padding + 1."""
    from .conv_transpose import _validate
    op = "conv_transpose3d"
    x, weight, bias = _validate(x, weight, bias, groups, 3, op)
    w = f"ember.{op}"
    s = int_tuple(stride, 3, "stride", w, minimum=1)
    p = int_tuple(padding, 3, "padding", w, minimum=0)
    op_ = int_tuple(output_padding, 3, "output_padding", w, minimum=0)
    d = int_tuple(dilation, 3, "dilation", w, minimum=1)
    if any(o >= ss and o >= dd for o, ss, dd in zip(op_, s, d)):
        raise ValueError(f"ember.{op}: output_padding {op_} must be smaller than either the stride or the "
                         f"dilation (stride {s}, dilation {d})")
    xd, wd = x.data, weight.data
    N, D, H, W, C = xd.shape
    kd, kh, kw, Og, _ = wd.shape
    O = Og * groups
    sizes = [(n - 1) * ss - 2 * pp + dd * (k - 1) + oo + 1 for n, ss, pp, dd, k, oo in zip((D, H, W), s, p, d, (kd, kh, kw), op_)]
    if min(sizes) <= 0:
        raise ValueError(f"ember.{op}: input of shape {tuple(xd.shape)} with padding {p} gives an empty output "
                         f"{tuple(sizes)}; reduce the padding")
    Do, Ho, Wo = sizes
    off2 = _offsets((Ho, Wo), (H, W), (kh, kw), s[1:], d[1:], p[1:])
    taps = _axis_offsets(Do, D, kd, s[0], d[0], p[0])    # (a, x depths, output depths)
    out = xp.zeros((N, Do, Ho, Wo, O), dtype=xd.dtype)
    for a, xs_, os_ in taps:
        xa = _fold(xd[:, xs_])
        o = _input_grad(xa, wd[a], (xa.shape[0], Ho, Wo, O), off2, groups)
        out[:, os_] += o.reshape((N, -1) + o.shape[1:])
    if bias is not None:
        out += bias.data

    def backward(g):
        gx = xp.zeros(xd.shape, dtype=g.dtype) if x._rg else None
        gw = xp.zeros(wd.shape, dtype=g.dtype) if weight._rg else None
        for a, xs_, os_ in taps:
            ga = _fold(g[:, os_])
            cols = None
            if x._rg:
                gi, cols = _conv_forward(ga, wd[a], None, (H, W), off2, groups, weight._rg)
                gx[:, xs_] += gi.reshape((N, -1) + gi.shape[1:])
            if weight._rg:
                if cols is None and groups == 1:
                    cols = _conv_forward(ga, wd[a], None, (H, W), off2, 1, True)[1]
                gw[a] += _weight_grad(_fold(xd[:, xs_]), ga, wd[a].shape, cols, off2, groups, False)[0]
        gb = g.reshape(-1, O).sum(axis=0) if bias is not None and bias._rg else None
        return (gx, gw) if bias is None else (gx, gw, gb)
    return make(out, (x, weight) if bias is None else (x, weight, bias), backward)

