"""Convolutions, channels-last: ``conv1d`` on (N, L, C_in) and ``conv2d`` on (N, H, W, C_in).

Weights are (k, C_in, C_out) and (kh, kw, C_in, C_out): the layout in which the im2col matrix
(N*H'*W', kh*kw*C_in) times the weight reshaped to (kh*kw*C_in, C_out) is the whole forward.

How it is computed (conv1d is conv2d with H = 1):

* forward: the im2col matrix is built by a loop over the kh*kw kernel offsets only, each copying
  one strided slice of the input into its column block (much faster in NumPy than copying a
  6-d strided window view).  Zero padding is never materialised as a padded copy of the input:
  each offset copies only the rectangle that falls inside the input and leaves zeros elsewhere.
  The bias is fused into the same matrix product as one extra column of ones, so that the
  backward gets the bias gradient from the weight-gradient product for free.
* backward: weight (and bias) gradient = cols.T @ g2d; the input gradient, computed only when the
  input requires grad, is the col2im of g2d @ W.T, done offset by offset as
  ``dx[window of offset] += g2d @ W[i, j].T`` (one small product per kernel offset into a reused
  buffer: it never materialises the (N*H'*W', kh*kw*C_in) matrix).
* ``groups`` > 1: the im2col matrix is built per group, (G, N*H'*W', kh*kw*C_in/G), and one
  batched matmul with the weight as (G, kh*kw*C_in/G, C_out/G) does all groups.  Depthwise
  (groups == C_in == C_out) skips im2col: one broadcast multiply-add per kernel offset on a
  zero-padded copy of the input, and one ``einsum`` per offset for the weight gradient.
* ``_conv_forward`` / ``_weight_grad`` / ``_input_grad`` work on arrays and are shared with the
  transposed convolutions (ops/conv_transpose.py), whose forward is this file's input gradient.
"""
from ..backend import xp
from ._base import as_tensor, make, wrap
from .arguments import int_tuple

__all__ = ["conv1d", "conv2d"]


def _padding(padding, n, kernel, stride, dilation, op):
    """PyTorch padding (int, tuple, 'same', 'valid') as n (before, after) pairs."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"ember.{op}: padding='same' is only supported with stride 1, got "
                                 f"stride={stride if n > 1 else stride[0]}")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))   # the extra one after, as PyTorch
            return tuple(pads)
        raise ValueError(f"ember.{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    return tuple((p, p) for p in int_tuple(padding, n, "padding", f"ember.{op}", minimum=0))


def _axis_offsets(size_in, size_out, k, s, d, pad):
    """For each kernel offset i along one axis that reads any input: (i, out slice, in slice),
    the outputs o whose input index o*s + i*d - pad lies inside [0, size_in), and the strided
    slice of the input they read."""
    found = []
    for i in range(k):
        shift = i * d - pad
        o_lo = (-shift + s - 1) // s if shift < 0 else 0
        o_hi = min(size_out, (size_in - 1 - shift) // s + 1)
        if o_hi > o_lo:
            in_lo = o_lo * s + shift
            found.append((i, slice(o_lo, o_hi), slice(in_lo, in_lo + s * (o_hi - o_lo - 1) + 1, s)))
    return found


def _offsets(in_hw, out_hw, kernel, stride, dilation, pad_before):
    """(i, j, out rows, out cols, in rows, in cols) for every kernel offset (i, j) that reads any
    input: the output window it contributes to and the input window it reads (zero padding is
    whatever lies outside)."""
    rows, cols = (_axis_offsets(*a) for a in zip(in_hw, out_hw, kernel, stride, dilation, pad_before))
    found = _Offsets((i, j, oh, ow, ih, iw) for i, oh, ih in rows for j, ow, iw in cols)
    found.geom = (tuple(in_hw), tuple(out_hw), tuple(kernel), tuple(stride), tuple(dilation), tuple(pad_before))
    return found


class _Offsets(list):
    """The kernel offsets, plus ``geom`` = (in_hw, out_hw, kernel, stride, dilation, pad_before)."""
    geom = None


# -- depthwise (groups == C_in == C_out): no im2col, one broadcast multiply-add per kernel offset
#    on a zero-padded copy of the input, so that every offset is one full-size strided view (much
#    faster in NumPy than partial rectangles); the weight gradient is one einsum per offset.
def _dw_views(geom):
    (H, W), (Ho, Wo), (kh, kw), (sh, sw), (dh, dw), (pt, pl) = geom
    Hn, Wn = (Ho - 1) * sh + dh * (kh - 1) + 1, (Wo - 1) * sw + dw * (kw - 1) + 1
    views = [(i, j, slice(i * dh, i * dh + sh * (Ho - 1) + 1, sh), slice(j * dw, j * dw + sw * (Wo - 1) + 1, sw))
             for i in range(kh) for j in range(kw)]
    # padded row p is input row p - pt; the rows both have
    inner = (slice(pt, min(H + pt, Hn)), slice(pl, min(W + pl, Wn)))
    src = (slice(0, min(H + pt, Hn) - pt), slice(0, min(W + pl, Wn) - pl))
    return (Hn, Wn), views, inner, src


def _dw_pad(xd, geom):
    (Hn, Wn), _, inner, src = _dw_views(geom)
    if (Hn, Wn) == xd.shape[1:3] and geom[5] == (0, 0):
        return xd
    out = xp.zeros((xd.shape[0], Hn, Wn, xd.shape[3]), dtype=xd.dtype)
    out[:, inner[0], inner[1]] = xd[:, src[0], src[1]]
    return out


def _dw_forward(xd, wd, geom):
    xpad = _dw_pad(xd, geom)
    _, views, _, _ = _dw_views(geom)
    out = None
    for i, j, hs, ws in views:
        if out is None:
            out = xp.multiply(xpad[:, hs, ws], wd[i, j, 0])
        else:
            out += xpad[:, hs, ws] * wd[i, j, 0]
    return out


def _dw_weight_grad(g, xd, wshape, geom):
    xpad = _dw_pad(xd, geom)
    _, views, _, _ = _dw_views(geom)
    gw = xp.empty(wshape, dtype=g.dtype)
    for i, j, hs, ws in views:
        gw[i, j, 0] = xp.einsum("nhwc,nhwc->c", xpad[:, hs, ws], g)
    return gw


def _dw_input_grad(g, wd, x_shape, geom):
    (Hn, Wn), views, inner, src = _dw_views(geom)
    gpad = xp.zeros((x_shape[0], Hn, Wn, x_shape[3]), dtype=g.dtype)
    for i, j, hs, ws in views:
        gpad[:, hs, ws] += g * wd[i, j, 0]
    if gpad.shape == tuple(x_shape) and geom[5] == (0, 0):
        return gpad
    gx = xp.zeros(x_shape, dtype=g.dtype)
    gx[:, src[0], src[1]] = gpad[:, inner[0], inner[1]]
    return gx


def _pointwise(x_shape, out_hw, offsets):
    """Whether the convolution is 1x1 with stride 1 and no padding (output = input positions)."""
    g = offsets.geom
    return g is not None and g[2] == (1, 1) and g[3] == (1, 1) and g[5] == (0, 0) and tuple(out_hw) == tuple(x_shape[1:3])


def _grouped_cols(xd, kernel, out_hw, offsets, groups, padded):
    """im2col laid out per group: (G, N*H'*W', kh*kw*C/G)."""
    N, H, W, C = xd.shape
    kh, kw = kernel
    Ho, Wo = out_hw
    Cg = C // groups
    cols7 = (xp.zeros if padded else xp.empty)((groups, N, Ho, Wo, kh, kw, Cg), dtype=xd.dtype)
    xg = xd.reshape(N, H, W, groups, Cg).transpose(3, 0, 1, 2, 4)
    for i, j, oh, ow, ih, iw in offsets:
        cols7[:, :, oh, ow, i, j, :] = xg[:, :, ih, iw, :]
    return cols7.reshape(groups, N * Ho * Wo, kh * kw * Cg)


def _conv_forward(xd, wd, bd, out_hw, offsets, groups, padded, keep_cols):
    """The forward of a (grouped) convolution on arrays: (out, saved) where ``saved`` is what
    ``_weight_grad`` needs (the im2col matrix, or None when ``keep_cols`` is False)."""
    N, H, W, C = xd.shape
    kh, kw, Cg, O = wd.shape
    Ho, Wo = out_hw
    M = N * Ho * Wo
    dtype = xd.dtype
    if groups == 1 and bd is None and _pointwise(xd.shape, out_hw, offsets) and xd.flags.c_contiguous:
        # 1x1, stride 1, no padding: the input itself is the im2col matrix (no copy)
        cols = xd.reshape(M, C)
        return (cols @ wd.reshape(C, O)).reshape(N, Ho, Wo, O), (cols if keep_cols else None)
    if groups == 1:
        # im2col, one kernel offset at a time; an extra column of ones carries the bias.
        K = kh * kw * C
        has_bias = bd is not None
        Kc = K + 1 if has_bias else K
        cols = (xp.zeros if padded else xp.empty)((M, Kc), dtype=dtype)
        cols6 = (cols[:, :K] if has_bias else cols).reshape(N, Ho, Wo, kh, kw, C)
        for i, j, oh, ow, ih, iw in offsets:
            cols6[:, oh, ow, i, j, :] = xd[:, ih, iw, :]
        if has_bias:
            cols[:, K] = 1
            wmat = xp.empty((Kc, O), dtype=dtype)
            wmat[:K] = wd.reshape(K, O)
            wmat[K] = bd
        else:
            wmat = wd.reshape(K, O)
        return (cols @ wmat).reshape(N, Ho, Wo, O), (cols if keep_cols else None)
    if Cg == 1 and O == groups:
        # depthwise: one multiply-add per kernel offset, broadcast over the channels
        out = _dw_forward(xd, wd, offsets.geom)
        if bd is not None:
            out += bd
        return out, None
    Og = O // groups
    colsg = _grouped_cols(xd, (kh, kw), out_hw, offsets, groups, padded)
    wg = wd.reshape(kh * kw, Cg, groups, Og).transpose(2, 0, 1, 3).reshape(groups, kh * kw * Cg, Og)
    outg = xp.empty((groups, M, Og), dtype=dtype)
    for q in range(groups):        # (a stacked matmul skips BLAS in NumPy: ~10x slower)
        xp.matmul(colsg[q], wg[q], out=outg[q])
    out = outg.transpose(1, 0, 2).reshape(N, Ho, Wo, O)
    if bd is not None:
        out += bd
    return out, (colsg if keep_cols else None)


def _weight_grad(g, xd, wshape, cols, offsets, groups, has_bias):
    """(grad weight, grad bias) of a convolution of ``xd`` with upstream gradient ``g``."""
    N, Ho, Wo, O = g.shape
    kh, kw, Cg, _ = wshape
    M = N * Ho * Wo
    g2d = g.reshape(M, O)
    if groups == 1:
        gwb = cols.T @ g2d
        return gwb[:kh * kw * Cg].reshape(wshape), (gwb[-1].copy() if has_bias else None)
    gb = g2d.sum(axis=0) if has_bias else None
    if Cg == 1 and O == groups:
        return _dw_weight_grad(g, xd, wshape, offsets.geom), gb
    Og = O // groups
    if cols is None:
        cols = _grouped_cols(xd, (kh, kw), (Ho, Wo), offsets, groups, True)
    gg = xp.ascontiguousarray(g2d.reshape(M, groups, Og).transpose(1, 0, 2))
    gwg = xp.empty((groups, kh * kw * Cg, Og), dtype=g.dtype)
    for q in range(groups):
        xp.matmul(cols[q].T, gg[q], out=gwg[q])
    gw = gwg.reshape(groups, kh * kw, Cg, Og).transpose(1, 2, 0, 3).reshape(wshape)
    return xp.ascontiguousarray(gw), gb


def _input_grad(g, wd, x_shape, offsets, groups):
    """col2im: the gradient of a convolution's input (also the forward of the transposed one)."""
    N, Ho, Wo, O = g.shape
    kh, kw, Cg, _ = wd.shape
    C = x_shape[-1]
    M = N * Ho * Wo
    dtype = g.dtype
    if Cg == 1 and O == groups and groups > 1:
        return _dw_input_grad(g, wd, x_shape, offsets.geom)
    if groups == 1 and _pointwise(x_shape, (Ho, Wo), offsets):
        return (g.reshape(M, O) @ wd.reshape(C, O).T).reshape(x_shape)
    gx = xp.zeros(x_shape, dtype=dtype)
    if groups == 1:
        g2d = g.reshape(M, O)
        buf = xp.empty((M, C), dtype=dtype)
        buf4 = buf.reshape(N, Ho, Wo, C)
        for i, j, oh, ow, ih, iw in offsets:
            xp.matmul(g2d, wd[i, j].T, out=buf)
            gx[:, ih, iw, :] += buf4[:, oh, ow, :]
        return gx
    Og = O // groups
    gg = xp.ascontiguousarray(g.reshape(M, groups, Og).transpose(1, 0, 2))            # (G, M, Og)
    # one product per group for all kernel offsets, (M, Og) @ (Og, kh*kw*Cg), then col2im
    wT = xp.ascontiguousarray(wd.reshape(kh * kw, Cg, groups, Og).transpose(2, 3, 0, 1)).reshape(
        groups, Og, kh * kw * Cg)
    gxg = gx.reshape(x_shape[:3] + (groups, Cg)).transpose(3, 0, 1, 2, 4)
    buf = xp.empty((groups, M, kh * kw * Cg), dtype=dtype)
    for q in range(groups):
        xp.matmul(gg[q], wT[q], out=buf[q])
    buf7 = buf.reshape(groups, N, Ho, Wo, kh, kw, Cg)
    for i, j, oh, ow, ih, iw in offsets:
        gxg[:, :, ih, iw, :] += buf7[:, :, oh, ow, i, j, :]
    return gx


def _conv2d_core(x, weight, bias, stride, pads, dilation, op, squeeze_h, groups=1):
    """The shared implementation.  x: (N, H, W, C) array-backed Tensor, weight (kh, kw, C/G, O)."""
    xd, wd = x.data, weight.data
    N, H, W, C = xd.shape
    kh, kw, _, O = wd.shape
    (sh, sw), (dh, dw) = stride, dilation
    (pt, pb), (pl, pr) = pads
    Ho = (H + pt + pb - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + pl + pr - dw * (kw - 1) - 1) // sw + 1
    if Ho <= 0 or Wo <= 0:
        shown = (N, W, C) if squeeze_h else (N, H, W, C)
        kshown = (kw,) if squeeze_h else (kh, kw)
        raise ValueError(f"ember.{op}: input of shape {shown} is too small for kernel {kshown} with "
                         f"dilation {(dw,) if squeeze_h else (dh, dw)} and padding "
                         f"{pads[1:] if squeeze_h else pads}: the output would be empty")
    has_bias = bias is not None
    offsets = _offsets((H, W), (Ho, Wo), (kh, kw), stride, dilation, (pt, pl))
    padded = any(p for pair in pads for p in pair)
    need_w = weight._rg or (has_bias and bias._rg)
    out, cols = _conv_forward(xd, wd, bias.data if has_bias else None, (Ho, Wo), offsets, groups,
                              padded, need_w)

    def backward(g):
        gx = gw = gb = None
        if need_w:
            gw, gb = _weight_grad(g, xd, wd.shape, cols, offsets, groups, has_bias)
            gw = gw if weight._rg else None
            gb = gb if (has_bias and bias._rg) else None
        if x._rg:
            gx = _input_grad(g, wd, xd.shape, offsets, groups)
        return gx, gw, gb

    return out, backward


def _groups(groups, C, O, op):
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"ember.{op}: groups must be a positive int, got {groups!r}")
    if C % groups or O % groups:
        raise ValueError(f"ember.{op}: groups={groups} must divide both the input channels "
                         f"C_in={C} and the output channels C_out={O}")
    return groups


def checked_conv_args(x, weight, bias, nd, op, weight_layout):
    """``x``, ``weight``, ``bias`` as tensors, checked: a floating channels-last input with ``nd``
    spatial axes, an (nd + 2)-D weight (``weight_layout`` names its axes in errors), one dtype."""
    x = as_tensor(x, op, "x")
    weight = as_tensor(weight, op, "weight")
    bias = None if bias is None else as_tensor(bias, op, "bias")
    xs = {1: "(N, L, C_in)", 2: "(N, H, W, C_in)", 3: "(N, D, H, W, C_in)"}[nd]
    if x.ndim != nd + 2:
        raise ValueError(f"ember.{op}: expected a {nd + 2}-D channels-last input {xs}, got shape {tuple(x.shape)}")
    if weight.ndim != nd + 2:
        raise ValueError(f"ember.{op}: expected a {nd + 2}-D weight {weight_layout}, got shape "
                         f"{tuple(weight.shape)}")
    for t, name in ((x, "x"), (weight, "weight")) + (((bias, "bias"),) if bias is not None else ()):
        if t.dtype.kind != "f":
            raise TypeError(f"ember.{op}: {name} must be floating point, got dtype {t.dtype}")
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        got = f"x {x.dtype}, weight {weight.dtype}" + (f", bias {bias.dtype}" if bias is not None else "")
        raise TypeError(f"ember.{op}: x, weight and bias must have the same dtype, got {got}")
    return x, weight, bias


def _check(x, weight, bias, nd, op, groups=1):
    ws = {1: "(k, C_in, C_out)", 2: "(kh, kw, C_in, C_out)", 3: "(kd, kh, kw, C_in, C_out)"}[nd]
    x, weight, bias = checked_conv_args(x, weight, bias, nd, op, ws)
    _groups(groups, x.shape[-1], weight.shape[-1], op)
    if x.shape[-1] != weight.shape[-2] * groups:
        ws = ws.replace("C_in", "C_in/groups") if groups > 1 else ws
        raise ValueError(f"ember.{op}: input has C_in={x.shape[-1]} channels (last axis of shape "
                         f"{tuple(x.shape)}) but the weight {ws} of shape {tuple(weight.shape)} "
                         f"with groups={groups} expects C_in={weight.shape[-2] * groups}")
    if bias is not None and tuple(bias.shape) != (weight.shape[-1],):
        raise ValueError(f"ember.{op}: bias must have shape (C_out,) = ({weight.shape[-1]},), "
                         f"got {tuple(bias.shape)}")
    if any(s == 0 for s in weight.shape[:nd]):
        raise ValueError(f"ember.{op}: kernel size must be positive, got weight shape {tuple(weight.shape)}")
    return x, weight, bias


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as every framework), channels-last.

    Args:
        x: (N, H, W, C_in).
        weight: (kh, kw, C_in / groups, C_out).  With ``groups`` G, input channels
            [g*C_in/G, (g+1)*C_in/G) feed output channels [g*C_out/G, (g+1)*C_out/G), as PyTorch;
            ``groups == C_in`` is a depthwise convolution (weight (kh, kw, 1, C_in * multiplier)).
        bias: (C_out,) or None.
        stride, dilation: int or (sh, sw) / (dh, dw); default 1.
        padding: int, (ph, pw), ``'valid'`` (= 0) or ``'same'`` (stride 1 only; an odd total
            padding puts the extra row/column at the bottom/right, as PyTorch).  Zero padding.

    Returns (N, H', W', C_out) with H' = (H + 2 ph - dh (kh - 1) - 1) // sh + 1 (same for W').
    """
    op = "conv2d"
    x, weight, bias = _check(x, weight, bias, 2, op, groups)
    stride = int_tuple(stride, 2, "stride", f"ember.{op}", minimum=1)
    dilation = int_tuple(dilation, 2, "dilation", f"ember.{op}", minimum=1)
    pads = _padding(padding, 2, weight.shape[:2], stride, dilation, op)
    out, backward = _conv2d_core(x, weight, bias, stride, pads, dilation, op, False, groups)
    parents = (x, weight) if bias is None else (x, weight, bias)
    if bias is None:
        return make(out, parents, lambda g: backward(g)[:2])
    return make(out, parents, backward)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation), channels-last.

    Args:
        x: (N, L, C_in).
        weight: (k, C_in / groups, C_out); ``groups`` as in ``conv2d``.
        bias: (C_out,) or None.
        stride, dilation: int (or 1-tuple); default 1.
        padding: int, ``'valid'`` (= 0) or ``'same'`` (stride 1 only; extra pad on the right).

    Returns (N, L', C_out) with L' = (L + 2 p - d (k - 1) - 1) // s + 1.
    """
    op = "conv1d"
    x, weight, bias = _check(x, weight, bias, 1, op, groups)
    (s,) = int_tuple(stride, 1, "stride", f"ember.{op}", minimum=1)
    (d,) = int_tuple(dilation, 1, "dilation", f"ember.{op}", minimum=1)
    (p,) = _padding(padding, 1, weight.shape[:1], (s,), (d,), op)
    N, L, C = x.shape
    k, Cg, O = weight.shape
    x4 = wrap(x.data.reshape(N, 1, L, C))
    w4 = wrap(weight.data.reshape(1, k, Cg, O))
    x4._rg, w4._rg = x._rg, weight._rg
    out, backward = _conv2d_core(x4, w4, bias, (1, s), ((0, 0), p), (1, d), op, True, groups)
    out = out.reshape(out.shape[0], out.shape[2], O)

    def backward1d(g):
        gx, gw, gb = backward(g.reshape(g.shape[0], 1, g.shape[1], O))
        gx = None if gx is None else gx.reshape(x.shape)
        gw = None if gw is None else gw.reshape(weight.shape)
        return (gx, gw) if bias is None else (gx, gw, gb)
    parents = (x, weight) if bias is None else (x, weight, bias)
    return make(out, parents, backward1d)
