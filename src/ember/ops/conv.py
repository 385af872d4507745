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
    return [(i, j, oh, ow, ih, iw) for i, oh, ih in rows for j, ow, iw in cols]


def _conv2d_core(x, weight, bias, stride, pads, dilation, op, squeeze_h):
    """The shared implementation.  x: (N, H, W, C) array-backed Tensor, weight (kh, kw, C, O)."""
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
    K = kh * kw * C
    M = N * Ho * Wo
    dtype = xd.dtype
    has_bias = bias is not None
    offsets = _offsets((H, W), (Ho, Wo), (kh, kw), stride, dilation, (pt, pl))
    padded = any(p for pair in pads for p in pair)

    # im2col, one kernel offset at a time; an extra column of ones carries the bias.
    Kc = K + 1 if has_bias else K
    cols = (xp.zeros if padded else xp.empty)((M, Kc), dtype=dtype)
    cols6 = cols[:, :K].reshape(N, Ho, Wo, kh, kw, C) if has_bias else cols.reshape(N, Ho, Wo, kh, kw, C)
    for i, j, oh, ow, ih, iw in offsets:
        cols6[:, oh, ow, i, j, :] = xd[:, ih, iw, :]
    if has_bias:
        cols[:, K] = 1
        wmat = xp.empty((Kc, O), dtype=dtype)
        wmat[:K] = wd.reshape(K, O)
        wmat[K] = bias.data
    else:
        wmat = wd.reshape(K, O)
    out = (cols @ wmat).reshape(N, Ho, Wo, O)
    if not (weight._rg or (has_bias and bias._rg)):
        cols = None                      # only the weight/bias gradient needs the im2col matrix

    def backward(g):
        g2d = g.reshape(M, O)
        gx = gw = gb = None
        if weight._rg or (has_bias and bias._rg):
            gwb = cols.T @ g2d
            if weight._rg:
                gw = gwb[:K].reshape(wd.shape)
            if has_bias and bias._rg:
                gb = gwb[K].copy()
        if x._rg:
            gx = xp.zeros(xd.shape, dtype=dtype)
            buf = xp.empty((M, C), dtype=dtype)
            buf4 = buf.reshape(N, Ho, Wo, C)
            for i, j, oh, ow, ih, iw in offsets:
                xp.matmul(g2d, wd[i, j].T, out=buf)
                gx[:, ih, iw, :] += buf4[:, oh, ow, :]
        return gx, gw, gb

    return out, backward


def _check(x, weight, bias, nd, op):
    x = as_tensor(x, op, "x")
    weight = as_tensor(weight, op, "weight")
    if bias is not None:
        bias = as_tensor(bias, op, "bias")
    xs = "(N, L, C_in)" if nd == 1 else "(N, H, W, C_in)"
    ws = "(k, C_in, C_out)" if nd == 1 else "(kh, kw, C_in, C_out)"
    if x.ndim != nd + 2:
        raise ValueError(f"ember.{op}: expected a {nd + 2}-D channels-last input {xs}, got shape {tuple(x.shape)}")
    if weight.ndim != nd + 2:
        raise ValueError(f"ember.{op}: expected a {nd + 2}-D weight {ws}, got shape {tuple(weight.shape)}")
    for t, name in ((x, "x"), (weight, "weight")) + (((bias, "bias"),) if bias is not None else ()):
        if t.dtype.kind != "f":
            raise TypeError(f"ember.{op}: {name} must be floating point, got dtype {t.dtype}")
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        got = f"x {x.dtype}, weight {weight.dtype}" + (f", bias {bias.dtype}" if bias is not None else "")
        raise TypeError(f"ember.{op}: x, weight and bias must have the same dtype, got {got}")
    if x.shape[-1] != weight.shape[-2]:
        raise ValueError(f"ember.{op}: input has C_in={x.shape[-1]} channels (last axis of shape "
                         f"{tuple(x.shape)}) but the weight {ws} of shape {tuple(weight.shape)} "
                         f"expects C_in={weight.shape[-2]}")
    if bias is not None and tuple(bias.shape) != (weight.shape[-1],):
        raise ValueError(f"ember.{op}: bias must have shape (C_out,) = ({weight.shape[-1]},), "
                         f"got {tuple(bias.shape)}")
    if any(s == 0 for s in weight.shape[:nd]):
        raise ValueError(f"ember.{op}: kernel size must be positive, got weight shape {tuple(weight.shape)}")
    return x, weight, bias


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation, as every framework), channels-last.

    Args:
        x: (N, H, W, C_in).
        weight: (kh, kw, C_in, C_out).
        bias: (C_out,) or None.
        stride, dilation: int or (sh, sw) / (dh, dw); default 1.
        padding: int, (ph, pw), ``'valid'`` (= 0) or ``'same'`` (stride 1 only; an odd total
            padding puts the extra row/column at the bottom/right, as PyTorch).  Zero padding.

    Returns (N, H', W', C_out) with H' = (H + 2 ph - dh (kh - 1) - 1) // sh + 1 (same for W').
    """
    op = "conv2d"
    x, weight, bias = _check(x, weight, bias, 2, op)
    stride = int_tuple(stride, 2, "stride", f"ember.{op}", minimum=1)
    dilation = int_tuple(dilation, 2, "dilation", f"ember.{op}", minimum=1)
    pads = _padding(padding, 2, weight.shape[:2], stride, dilation, op)
    out, backward = _conv2d_core(x, weight, bias, stride, pads, dilation, op, False)
    parents = (x, weight) if bias is None else (x, weight, bias)
    if bias is None:
        return make(out, parents, lambda g: backward(g)[:2])
    return make(out, parents, backward)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """1-D convolution (cross-correlation), channels-last.

    Args:
        x: (N, L, C_in).
        weight: (k, C_in, C_out).
        bias: (C_out,) or None.
        stride, dilation: int (or 1-tuple); default 1.
        padding: int, ``'valid'`` (= 0) or ``'same'`` (stride 1 only; extra pad on the right).

    Returns (N, L', C_out) with L' = (L + 2 p - d (k - 1) - 1) // s + 1.
    """
    op = "conv1d"
    x, weight, bias = _check(x, weight, bias, 1, op)
    (s,) = int_tuple(stride, 1, "stride", f"ember.{op}", minimum=1)
    (d,) = int_tuple(dilation, 1, "dilation", f"ember.{op}", minimum=1)
    (p,) = _padding(padding, 1, weight.shape[:1], (s,), (d,), op)
    N, L, C = x.shape
    k, _, O = weight.shape
    x4 = wrap(x.data.reshape(N, 1, L, C))
    w4 = wrap(weight.data.reshape(1, k, C, O))
    x4._rg, w4._rg = x._rg, weight._rg
    out, backward = _conv2d_core(x4, w4, bias, (1, s), ((0, 0), p), (1, d), op, True)
    out = out.reshape(out.shape[0], out.shape[2], O)

    def backward1d(g):
        gx, gw, gb = backward(g.reshape(g.shape[0], 1, g.shape[1], O))
        gx = None if gx is None else gx.reshape(x.shape)
        gw = None if gw is None else gw.reshape(weight.shape)
        return (gx, gw) if bias is None else (gx, gw, gb)
    parents = (x, weight) if bias is None else (x, weight, bias)
    return make(out, parents, backward1d)
