"""Convolutions, channels-last: ``conv1d`` on (N, L, C_in) and ``conv2d`` on (N, H, W, C_in).

Weights are (k, C_in, C_out) and (kh, kw, C_in, C_out): the layout in which the im2col matrix
(N*H'*W', kh*kw*C_in) times the weight reshaped to (kh*kw*C_in, C_out) is the whole forward.

How it is computed (conv1d is conv2d with H = 1):

* forward: the input is zero-padded once (only when it has padding), then the im2col matrix is
  built with one copy per kernel *row*: with dilation 1, the kw taps of a row are kw*C_in
  consecutive numbers of the padded input, so each row of taps is one overlapping strided view
  copied in chunks of kw*C_in numbers (NumPy's copy costs per contiguous chunk, so bigger chunks
  are faster than one copy per kernel offset).  With few channels (kw*C_in < 16: an image
  model's first layer) the matrix is built transposed instead, one copy per tap and channel along
  output rows (``_im2col_channel_major``).  The copies are split over the batch between threads.
  The bias is fused into the same matrix product as one extra column of ones, so that the
  backward gets the bias gradient from the weight-gradient product for free.
* backward: weight (and bias) gradient = cols.T @ g2d; the input gradient, computed only when the
  input requires grad, is the col2im of g2d @ W.T, done offset by offset as
  ``dx[window of offset] += g2d @ W[i, j].T`` (one small product per kernel offset into a reused
  buffer: it never materialises the (N*H'*W', kh*kw*C_in) matrix).
* ``groups`` > 1: with stride 1 and column dilation 1, forward and both gradients run on the
  shifted grid of ops/conv_grouped.py (kernel-row taps, no im2col).  Otherwise the input is padded
  into a group-major copy (G, N, H, W, C_in/G), the im2col matrix is built per group,
  (G, N*H'*W', kh*kw*C_in/G), by the same row-of-taps copies, and one matrix product per group
  does the rest.  Depthwise (groups == C_in == C_out) skips im2col: cache-tiled broadcast
  multiply-adds, one per kernel offset (ops/conv_depthwise.py).
* ``_conv_forward`` / ``_weight_grad`` / ``_input_grad`` work on arrays and are shared with the
  transposed and 3-D convolutions (ops/conv_transpose.py, ops/conv3d.py); the transposed
  forward is this file's input gradient.
"""
from ..backend import xp
from ._parallel import parallel_for
from ._base import as_tensor, make, wrap
from .arguments import int_tuple
from .conv_depthwise import dw_forward, dw_input_grad, dw_weight_grad
from .conv_pointwise import pointwise_grads
from .conv_grouped import ShiftedGrid, shift_applies, shift_backward, shift_forward, shifted_input

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


def _pointwise(x_shape, out_hw, offsets):
    """Whether the convolution is 1x1 with stride 1 and no padding (output = input positions)."""
    g = offsets.geom
    return g is not None and g[2] == (1, 1) and g[3] == (1, 1) and g[5] == (0, 0) and tuple(out_hw) == tuple(x_shape[1:3])


_COPY_MIN_BYTES = 1 << 18     # split an im2col copy between threads only above this per part


def _window_size(geom):
    """(Hn, Wn): the rows / columns of the zero-padded input that the output reads."""
    _, (Ho, Wo), (kh, kw), (sh, sw), (dh, dw), _ = geom
    return (Ho - 1) * sh + dh * (kh - 1) + 1, (Wo - 1) * sw + dw * (kw - 1) + 1


def _copy_padded(dst, x, geom):
    """x (..., H, W, C) into the zero buffer dst (..., Hn, Wn, C) at the padding offset."""
    (H, W), _, _, _, _, (pt, pl) = geom
    Hn, Wn = _window_size(geom)
    rows, cols = max(0, min(H, Hn - pt)), max(0, min(W, Wn - pl))
    if rows and cols:
        dst[..., pt:pt + rows, pl:pl + cols, :] = x[..., :rows, :cols, :]


def _tap_rows(cols6, src, geom):
    """cols6 (..., H', W', kh, kw*C) <- the kernel taps of every output position, read from the
    padded input src (..., Hn, Wn, C): one copy per kernel row when the taps of a row are
    contiguous (dilation 1), else one per offset."""
    _, (Ho, Wo), (kh, kw), (sh, sw), (dh, dw), _ = geom
    C = src.shape[-1]
    lead, (sH, sW, item) = src.shape[:-3], src.strides[-3:]
    for i in range(kh):
        if dw == 1:
            rows = src[..., i * dh:, :, :]
            cols6[..., i, :] = xp.lib.stride_tricks.as_strided(
                rows, shape=lead + (Ho, Wo, kw * C), strides=src.strides[:-3] + (sh * sH, sw * sW, item))
        else:
            for j in range(kw):
                cols6[..., i, j * C:(j + 1) * C] = src[..., i * dh:i * dh + sh * (Ho - 1) + 1:sh,
                                                       j * dw:j * dw + sw * (Wo - 1) + 1:sw, :]


def _im2col(xd, geom, cols6, groups=1):
    """Fill cols6 (N, H', W', kh, kw*C), or (G, N, H', W', kh, kw*C/G) with ``groups`` G > 1,
    from xd (N, H, W, C); the batch is split between threads."""
    N, H, W, C = xd.shape
    Hn, Wn = _window_size(geom)
    in_place = groups == 1 and geom[5] == (0, 0) and Hn <= H and Wn <= W and xd.strides[-1] == xd.itemsize
    if not in_place:
        shape = (N, Hn, Wn, C) if groups == 1 else (groups, N, Hn, Wn, C // groups)
        src = xp.zeros(shape, dtype=xd.dtype)

    def fill(lo, hi):
        if in_place:
            _tap_rows(cols6[lo:hi], xd[lo:hi], geom)
        elif groups == 1:
            _copy_padded(src[lo:hi], xd[lo:hi], geom)
            _tap_rows(cols6[lo:hi], src[lo:hi], geom)
        else:
            xg = xd[lo:hi].reshape(hi - lo, H, W, groups, C // groups).transpose(3, 0, 1, 2, 4)
            _copy_padded(src[:, lo:hi], xg, geom)
            _tap_rows(cols6[:, lo:hi], src[:, lo:hi], geom)
    per_image = cols6.nbytes // max(1, N)
    parallel_for(fill, N, max(1, _COPY_MIN_BYTES // max(1, per_image)))


#: Below this many numbers in a kernel row's taps (kw * C_in: the first layers of image models),
#: im2col is built channel-major (_im2col_channel_major), whose copies run along output rows.
CHANNEL_MAJOR_MAX_ROW = 16


def _im2col_channel_major(xd, geom, colsT):
    """Fill colsT (kh*kw*C, N, H', W'): row (i*kw + j)*C + c holds tap (i, j), channel c, of every
    output position, read from xd (N, H, W, C) zero-padded; the batch is split between threads.

    It is the transpose of _im2col's matrix.  With few channels, each of _im2col's copies moves
    kw*C numbers at a time (3 for a grayscale image), which NumPy does at a fraction of copy
    speed; here each copy moves runs of W' numbers (measured 128x28x28x1, 3x3: 0.17 ms vs 0.76)."""
    N, H, W, C = xd.shape
    _, (Ho, Wo), (kh, kw), (sh, sw), (dh, dw), (pt, pl) = geom
    Hn, Wn = _window_size(geom)
    in_place = (pt, pl) == (0, 0) and Hn <= H and Wn <= W
    src = xd if in_place else xp.zeros((N, Hn, Wn, C), dtype=xd.dtype)

    def fill(lo, hi):
        if not in_place:
            _copy_padded(src[lo:hi], xd[lo:hi], geom)
        for i in range(kh):
            for j in range(kw):
                k = (i * kw + j) * C
                colsT[k:k + C, lo:hi] = src[lo:hi, i * dh:i * dh + sh * (Ho - 1) + 1:sh,
                                            j * dw:j * dw + sw * (Wo - 1) + 1:sw, :].transpose(3, 0, 1, 2)
    per_image = colsT.nbytes // max(1, N)
    parallel_for(fill, N, max(1, _COPY_MIN_BYTES // max(1, per_image)))


def _grouped_cols(xd, kernel, out_hw, offsets, groups):
    """im2col laid out per group: (G, N*H'*W', kh*kw*C/G)."""
    N, H, W, C = xd.shape
    kh, kw = kernel
    Ho, Wo = out_hw
    Cg = C // groups
    cols = xp.empty((groups, N, Ho, Wo, kh, kw * Cg), dtype=xd.dtype)
    _im2col(xd, offsets.geom, cols, groups)
    return cols.reshape(groups, N * Ho * Wo, kh * kw * Cg)


def _conv_forward(xd, wd, bd, out_hw, offsets, groups, keep_cols):
    """The forward of a (grouped) convolution on arrays: (out, saved) where ``saved`` is what
    ``_weight_grad`` needs (the im2col matrix, or None when ``keep_cols`` is False)."""
    N, H, W, C = xd.shape
    kh, kw, Cg, O = wd.shape
    Ho, Wo = out_hw
    M = N * Ho * Wo
    dtype = xd.dtype
    if groups == 1 and _pointwise(xd.shape, out_hw, offsets) and xd.flags.c_contiguous:
        # 1x1, stride 1, no padding: the input itself is the im2col matrix (no copy; the bias is
        # added after, and its gradient is the sum of g, see _weight_grad)
        cols = xd.reshape(M, C)
        out = cols @ wd.reshape(C, O)
        if bd is not None:
            out += bd
        return out.reshape(N, Ho, Wo, O), (cols if keep_cols else None)
    if groups == 1:
        # im2col, one kernel offset at a time; an extra column of ones carries the bias.
        K = kh * kw * C
        has_bias = bd is not None
        Kc = K + 1 if has_bias else K
        if kw * C < CHANNEL_MAJOR_MAX_ROW:
            colsT = xp.empty((Kc, N, Ho, Wo), dtype=dtype)
            _im2col_channel_major(xd, offsets.geom, colsT[:K])
            cols = colsT.reshape(Kc, M).T          # (M, Kc), column-major: BLAS takes it as is
        else:
            cols = xp.empty((M, Kc), dtype=dtype)
            _im2col(xd, offsets.geom, (cols[:, :K] if has_bias else cols).reshape(N, Ho, Wo, kh, kw * C))
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
        out = dw_forward(xd, wd, offsets.geom)
        if bd is not None:
            out += bd
        return out, None
    if shift_applies(offsets.geom):
        out, saved = shift_forward(xd, wd, offsets.geom, groups, keep_cols)
        if bd is not None:
            out += bd
        return out, saved
    Og = O // groups
    colsg = _grouped_cols(xd, (kh, kw), out_hw, offsets, groups)
    wg = wd.reshape(kh * kw, Cg, groups, Og).transpose(2, 0, 1, 3).reshape(groups, kh * kw * Cg, Og)
    out = xp.empty((N, Ho, Wo, O), dtype=dtype)
    out2d = out.reshape(M, O)
    # one product per group, written straight into its column block of the output (BLAS takes
    # the row stride); a stacked matmul skips BLAS in NumPy (~10x slower)
    for q in range(groups):
        xp.matmul(colsg[q], wg[q], out=out2d[:, q * Og:(q + 1) * Og])
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
        K = kh * kw * Cg
        if has_bias and gwb.shape[0] == K:      # the 1x1 path: no column of ones in cols
            return gwb.reshape(wshape), g2d.sum(axis=0)
        return gwb[:K].reshape(wshape), (gwb[-1].copy() if has_bias else None)
    gb = g2d.sum(axis=0) if has_bias else None
    if Cg == 1 and O == groups:
        return dw_weight_grad(g, xd, wshape, offsets.geom), gb
    if isinstance(cols, ShiftedGrid) or (cols is None and shift_applies(offsets.geom)):
        grid = cols if cols is not None else shifted_input(xd, offsets.geom, groups)
        return _shifted_grads(g, xd, wshape, grid, offsets, groups)[1], gb
    if cols is None:
        cols = _grouped_cols(xd, (kh, kw), (Ho, Wo), offsets, groups)
    return _grouped_weight_grad(g2d, cols, wshape, groups), gb


def _shifted_grads(g, xd, wshape, grid, offsets, groups, wd=None, need_weight=True):
    """(grad input or None, grad weight or None) of a grouped stride-1 convolution on its shifted
    grid (ops/conv_grouped.py): the input gradient when ``wd`` is given.  A nan / inf input
    reaches the grid's padding positions in the weight gradient (0 * inf); that one is then
    redone from the im2col matrix, which sums real windows only."""
    gx, gw = shift_backward(g, grid, wshape, groups, wd, need_weight)
    if gw is not None and not xp.isfinite(gw).all():
        cols = _grouped_cols(xd, wshape[:2], g.shape[1:3], offsets, groups)
        gw = _grouped_weight_grad(g.reshape(-1, g.shape[3]), cols, wshape, groups)
    return gx, gw


def _grouped_weight_grad(g2d, cols, wshape, groups):
    """grad W (kh, kw, C/G, C_out) from the grouped im2col matrix cols (G, M, kh*kw*C/G)."""
    kh, kw, Cg, O = wshape
    Og = O // groups
    gwg = xp.empty((groups, kh * kw * Cg, Og), dtype=g2d.dtype)
    g2d = xp.ascontiguousarray(g2d)
    for q in range(groups):
        xp.matmul(cols[q].T, g2d[:, q * Og:(q + 1) * Og], out=gwg[q])
    gw = gwg.reshape(groups, kh * kw, Cg, Og).transpose(1, 2, 0, 3).reshape(wshape)
    return xp.ascontiguousarray(gw)


def _swap_roles(wd, groups):
    """(kh, kw, Cg, O) -> (kh, kw, O/G, G*Cg): the weight of the convolution that runs the other
    way (C_out channels to C_in), group by group."""
    kh, kw, Cg, O = wd.shape
    Og = O // groups
    swapped = wd.reshape(kh, kw, Cg, groups, Og).transpose(0, 1, 4, 3, 2)
    return xp.ascontiguousarray(swapped).reshape(kh, kw, Og, groups * Cg)


def _phase_axis(a, size_in, k, s, p):
    """Along one axis, the input positions y = a + s t (t < T) of a strided convolution with
    dilation 1: they receive g through the taps i = r, r + s, ... (n of them, r = (a + p) mod s),
    from g positions t + q - m for the m-th tap, q = (a + p) // s.  Returns (T, n, taps in
    correlation order, g slice start, padding before)."""
    T = (size_in - a + s - 1) // s
    r, q = (a + p) % s, (a + p) // s
    n = max(0, (k - r + s - 1) // s)
    taps = [r + (n - 1 - m) * s for m in range(n)]      # reversed: a correlation over g
    start = q - n + 1                                    # g index the first tap reads at t = 0
    return T, n, taps, max(0, start), max(0, -start)


def _input_grad_by_phases(g, wd, x_shape, geom, groups):
    """Stride s > 1, dilation 1: the input positions split into s*s phases (y mod s, x mod s); each
    phase is an ordinary stride-1 convolution of g with the sub-kernel of the taps that reach it,
    so it runs through the shifted grid's forward instead of adding one strided window per tap."""
    (H, W), (Ho, Wo), (kh, kw), (sh, sw), _, (pt, pl) = geom
    swapped = _swap_roles(wd, groups)          # (kh, kw, O/G, C)
    gx = xp.empty(x_shape, dtype=g.dtype)
    for a in range(sh):
        Ta, na, taps_h, gh0, ph = _phase_axis(a, H, kh, sh, pt)
        if Ta == 0:
            continue
        for b in range(sw):
            Tb, nb, taps_w, gw0, pw = _phase_axis(b, W, kw, sw, pl)
            if Tb == 0:
                continue
            target = gx[:, a::sh, b::sw]
            if na == 0 or nb == 0 or gh0 >= Ho or gw0 >= Wo:
                target[...] = 0                # no tap reaches these positions
                continue
            sub = swapped[taps_h][:, taps_w]
            src = g[:, gh0:, gw0:]
            offs = _offsets(src.shape[1:3], (Ta, Tb), (na, nb), (1, 1), (1, 1), (ph, pw))
            # stride 1: kernel-row taps (ops/conv_grouped.py), a (kw)x copy instead of im2col's
            # (kh*kw)x; measured 0.66 vs 0.79 ms per phase of a 4x4 stride-2 transposed conv
            target[...] = shift_forward(src, sub, offs.geom, groups, False)[0]
    return gx


def _input_grad(g, wd, x_shape, offsets, groups):
    """col2im: the gradient of a convolution's input (also the forward of the transposed one)."""
    N, Ho, Wo, O = g.shape
    kh, kw, Cg, _ = wd.shape
    C = x_shape[-1]
    M = N * Ho * Wo
    dtype = g.dtype
    if Cg == 1 and O == groups and groups > 1:
        return dw_input_grad(g, wd, x_shape, offsets.geom)
    if groups == 1 and _pointwise(x_shape, (Ho, Wo), offsets):
        return (g.reshape(M, O) @ wd.reshape(C, O).T).reshape(x_shape)
    if groups > 1 and shift_applies(offsets.geom):
        return shift_backward(g, ShiftedGrid(N, offsets.geom), wd.shape, groups, wd)[0]
    if offsets.geom[3] != (1, 1) and offsets.geom[4] == (1, 1):
        return _input_grad_by_phases(g, wd, x_shape, offsets.geom, groups)
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
    g2d = xp.ascontiguousarray(g).reshape(M, O)
    # one product per group for all kernel offsets, (M, Og) @ (Og, kh*kw*Cg), then col2im
    wT = xp.ascontiguousarray(wd.reshape(kh * kw, Cg, groups, Og).transpose(2, 3, 0, 1)).reshape(
        groups, Og, kh * kw * Cg)
    gxg = gx.reshape(x_shape[:3] + (groups, Cg)).transpose(3, 0, 1, 2, 4)
    buf = xp.empty((groups, M, kh * kw * Cg), dtype=dtype)
    for q in range(groups):
        xp.matmul(g2d[:, q * Og:(q + 1) * Og], wT[q], out=buf[q])
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
    need_w = weight._rg or (has_bias and bias._rg)
    out, cols = _conv_forward(xd, wd, bias.data if has_bias else None, (Ho, Wo), offsets, groups, need_w)

    def backward(g):
        gx = gw = gb = None
        if need_w and x._rg and weight._rg and groups == 1 and cols is not None \
                and cols.shape[1] == C and _pointwise(xd.shape, (Ho, Wo), offsets):
            # 1x1: both products in one blocked pass over g (ops/conv_pointwise.py)
            g2d = g.reshape(-1, O)
            gx, gw = pointwise_grads(g2d, cols, wd.reshape(C, O))
            gb = g2d.sum(axis=0) if has_bias and bias._rg else None
            return gx.reshape(xd.shape), gw.reshape(wd.shape), gb
        if isinstance(cols, ShiftedGrid):
            # grouped, stride 1: both gradients from one layout of g (ops/conv_grouped.py)
            gx, gw = _shifted_grads(g, xd, wd.shape, cols, offsets, groups, wd if x._rg else None,
                                    weight._rg)
            gb = g.reshape(-1, O).sum(axis=0) if has_bias and bias._rg else None
            return gx, gw, gb
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
