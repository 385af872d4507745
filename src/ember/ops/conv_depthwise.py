"""Depthwise convolution kernels (groups == C_in == C_out) on channels-last arrays, for ops/conv.py.

A depthwise convolution is kh*kw broadcast multiply-adds, one per kernel offset; it is bound by
memory traffic, not arithmetic.  Four things make it fast in NumPy:

* **One pass per tile.**  With column stride 1, an output row for kernel offset (i, j) reads W'*C
  consecutive numbers of a padded input row, so all offsets' windows form one strided view whose
  last axis is a whole row (``_row_windows``), and one ``einsum`` sums the kh*kw products into each
  output number: one read of each window and one write of the output, with long inner loops, in
  a single C call per tile (so threads do not queue for the GIL between calls).  Other strides
  run a multiply and an add per offset.

* **Cache tiles.**  The batch is cut into tiles of whole images, or of row blocks of one image,
  of about ``TILE_BYTES``; each tile's zero-padded input, output (and temporary) stay in cache
  while all kh*kw offsets run over them, instead of streaming the whole batch through memory
  once per offset.  (Smaller tiles pay NumPy's per-call cost more often: a few MB measured best.)
* **Full-row weights.**  The per-channel weight of an offset is pre-broadcast to a whole output
  row (W', C), so that every product runs over rows of W'*C contiguous numbers; broadcasting a
  (C,) vector makes NumPy's inner loop only C long.
* **Threads.**  Tiles are independent, so they run in parallel (``_parallel.parallel_for``).  The
  tiling does not depend on the thread count and the weight gradient sums per-tile partial sums in
  tile order, so results are the same for any number of threads.

The weight gradient is one ``einsum`` per tile over a strided view of all offsets' windows (a
sum of products in one pass).

Geometry ``geom`` = (in_hw, out_hw, kernel, stride, dilation, pad_before) as in ops/conv.py.  The
input gradient of a stride-1 convolution is itself a depthwise convolution of the gradient with the
flipped kernel, so it runs through the same tiled forward; with a stride it scatters, image by
image.
"""
from ..backend import xp
from ._parallel import parallel_for

TILE_BYTES = 1 << 22    # a tile's padded input, output and temporary: a few MB (measured best on 2 cores)


def _padded_size(geom):
    """(Hn, Wn): the zero-padded input rows/columns the output reads."""
    _, (Ho, Wo), (kh, kw), (sh, sw), (dh, dw), _ = geom
    return (Ho - 1) * sh + dh * (kh - 1) + 1, (Wo - 1) * sw + dw * (kw - 1) + 1


def _tiles(N, Ho, row_bytes):
    """(n0, n1, r0, r1): several whole images, or one image's block of output rows."""
    rows = max(1, TILE_BYTES // max(1, row_bytes))
    if rows >= Ho:
        per = max(1, rows // Ho)
        return [(n, min(N, n + per), 0, Ho) for n in range(0, N, per)]
    return [(n, n + 1, r, min(Ho, r + rows)) for n in range(N) for r in range(0, Ho, rows)]


_ROW_WEIGHTS_MAX_BYTES = 1 << 22


def _row_weights(wd, Wo):
    """(kh, kw, Wo, C): each offset's channel weights repeated along an output row (a broadcast
    view instead when that copy would be large: long 1-D signals, big kernels)."""
    kh, kw, _, C = wd.shape
    rows = xp.broadcast_to(wd[:, :, 0, None, :], (kh, kw, Wo, C))
    return rows if rows.size * rows.itemsize > _ROW_WEIGHTS_MAX_BYTES else xp.ascontiguousarray(rows)


class _Padder:
    """Copies the input rows a tile reads into a reused zero-padded buffer (one per thread)."""

    def __init__(self, xd, geom, max_images, max_rows):
        (self.H, self.W), _, _, (self.sh, _), _, (self.pt, self.pl) = geom
        _, Wn = _padded_size(geom)
        self.xd = xd
        self.cols = min(self.W, Wn - self.pl)          # input columns that are ever read
        self.buf = xp.zeros((max_images, max_rows, Wn, xd.shape[3]), dtype=xd.dtype)

    def fill(self, n0, n1, p0, p1):
        """The padded rows [p0, p1) of images [n0, n1) as (n1 - n0, p1 - p0, Wn, C)."""
        buf = self.buf[:n1 - n0, :p1 - p0]
        lo, hi = max(0, p0 - self.pt), min(self.H, p1 - self.pt)       # input rows inside
        b_lo, b_hi = lo - (p0 - self.pt), hi - (p0 - self.pt)
        if b_lo > 0:
            buf[:, :b_lo] = 0
        if b_hi < buf.shape[1]:
            buf[:, max(b_hi, 0):] = 0
        if hi > lo:
            buf[:, b_lo:b_hi, self.pl:self.pl + self.cols] = self.xd[n0:n1, lo:hi, :self.cols]
        return buf


def _views(buf, geom, rows):
    """For each offset (i, j): the (.., rows, W', C) window of a padded tile it multiplies."""
    _, (_, Wo), (kh, kw), (sh, sw), (dh, dw), _ = geom
    return [(i, j, buf[:, i * dh:i * dh + sh * (rows - 1) + 1:sh, j * dw:j * dw + sw * (Wo - 1) + 1:sw])
            for i in range(kh) for j in range(kw)]


def _windows(buf, geom, rows):
    """All offsets' windows of a padded tile at once, without a copy: (n, rows, kh, kw, W', C) with
    ``[n, r, i, j, x, c] = buf[n, r*sh + i*dh, x*sw + j*dw, c]`` (the weight gradient's one einsum
    reads every tap in one pass)."""
    _, (_, Wo), (kh, kw), (sh, sw), (dh, dw), _ = geom
    sN, sH, sW, item = buf.strides
    return xp.lib.stride_tricks.as_strided(buf, shape=(buf.shape[0], rows, kh, kw, Wo, buf.shape[3]),
                                           strides=(sN, sh * sH, dh * sH, dw * sW, sw * sW, item))


def _row_windows(buf, geom, rows):
    """With column stride 1, an output row's W'*C numbers for offset (i, j) are consecutive in the
    padded row, starting j*dw*C numbers in: all offsets' windows as (n, rows, kh, kw, W'*C) with
    ``[n, r, i, j, m] = buf.flat-row(r*sh + i*dh)[j*dw*C + m]``.  One einsum over this view sums
    the kh*kw products into each output number in one pass with whole rows as its inner loop
    (measured 0.23 ms per 56x56x64 image, against 0.50 ms for a multiply and an add per offset and
    0.62 ms for the same einsum over the six-axis ``_windows`` view, whose column and offset axes
    NumPy cannot merge)."""
    _, (_, Wo), (kh, kw), (sh, _), (dh, dw), _ = geom
    sN, sH, sW, item = buf.strides
    return xp.lib.stride_tricks.as_strided(buf, shape=(buf.shape[0], rows, kh, kw, Wo * buf.shape[3]),
                                           strides=(sN, sh * sH, dh * sH, dw * sW, item))


def _tile_plan(xd, geom):
    N, C = xd.shape[0], xd.shape[3]
    _, (Ho, Wo), (kh, _), (sh, _), (dh, _), _ = geom
    _, Wn = _padded_size(geom)
    tiles = _tiles(N, Ho, Wn * C * xd.itemsize * (sh + 2))
    max_images = max(t[1] - t[0] for t in tiles)
    max_out_rows = max(t[3] - t[2] for t in tiles)
    reach = dh * (kh - 1) + 1                # padded rows one output row reads
    return tiles, max_images, max_out_rows, reach, (max_out_rows - 1) * sh + reach


def dw_forward(xd, wd, geom):
    """out[n, y, x, c] = sum_ij xpad[n, y*sh + i*dh, x*sw + j*dw, c] * w[i, j, 0, c]."""
    N, C = xd.shape[0], xd.shape[3]
    _, (Ho, Wo), _, (sh, _), _, _ = geom
    out = xp.empty((N, Ho, Wo, C), dtype=xd.dtype)
    wt = _row_weights(wd, Wo)
    tiles, max_images, max_rows, reach, max_prows = _tile_plan(xd, geom)

    kh, kw = geom[2]
    # column stride 1: one einsum per tile over _row_windows; else a multiply and an add per offset
    merged = geom[3][1] == 1 and wt.flags.c_contiguous
    wm = wt.reshape(kh, kw, Wo * C) if merged else None

    def part(lo, hi):
        pad = _Padder(xd, geom, max_images, max_prows)
        tmp = None if merged else xp.empty((max_images, max_rows, Wo, C), dtype=xd.dtype)
        for n0, n1, r0, r1 in tiles[lo:hi]:
            rows = r1 - r0
            buf = pad.fill(n0, n1, r0 * sh, (r1 - 1) * sh + reach)
            o = out[n0:n1, r0:r1]
            if merged:
                xp.einsum("nrijm,ijm->nrm", _row_windows(buf, geom, rows), wm,
                          out=o.reshape(n1 - n0, rows, Wo * C))
                continue
            t = tmp[:n1 - n0, :rows]
            for k, (i, j, v) in enumerate(_views(buf, geom, rows)):
                if k == 0:
                    xp.multiply(v, wt[i, j], out=o)
                else:
                    xp.multiply(v, wt[i, j], out=t)
                    o += t
    parallel_for(part, len(tiles))
    return out


def dw_weight_grad(g, xd, wshape, geom):
    """grad w[i, j, 0, c] = sum over n, y, x of xpad[n, y*sh + i*dh, x*sw + j*dw, c] * g[n, y, x, c]."""
    N, Ho, Wo, C = g.shape
    _, _, (kh, kw), (sh, _), _, _ = geom
    tiles, max_images, max_rows, reach, max_prows = _tile_plan(xd, geom)
    partial = xp.empty((len(tiles), kh, kw, C), dtype=g.dtype)

    def part(lo, hi):
        pad = _Padder(xd, geom, max_images, max_prows)
        for k in range(lo, hi):
            n0, n1, r0, r1 = tiles[k]
            rows = r1 - r0
            buf = pad.fill(n0, n1, r0 * sh, (r1 - 1) * sh + reach)
            # keeping the W' axis makes einsum's inner loop whole rows (W'*C numbers)
            partial[k] = xp.einsum("nrijwc,nrwc->ijwc", _windows(buf, geom, rows), g[n0:n1, r0:r1]).sum(axis=2)
    parallel_for(part, len(tiles))
    return partial.sum(axis=0).reshape(wshape)


def dw_input_grad(g, wd, x_shape, geom):
    """The gradient of a depthwise convolution's input (also a depthwise transposed convolution)."""
    (H, W), (Ho, Wo), (kh, kw), (sh, sw), (dh, dw), (pt, pl) = geom
    full_h, full_w = dh * (kh - 1), dw * (kw - 1)
    if (sh, sw) == (1, 1) and pt <= full_h and pl <= full_w:
        # correlation of the gradient with the flipped kernel, padded by d (k - 1) - p before
        back = ((Ho, Wo), (H, W), (kh, kw), (1, 1), (dh, dw), (full_h - pt, full_w - pl))
        return dw_forward(g, wd[::-1, ::-1], back)
    return _dw_input_grad_scatter(g, wd, x_shape, geom)


def _dw_input_grad_scatter(g, wd, x_shape, geom):
    """Strided case: each offset adds g * w into its window of a padded gradient, image by image
    (windows of neighbouring output rows overlap, so a tile is whole images)."""
    N, Ho, Wo, C = g.shape
    (H, W), _, _, (sh, sw), (dh, dw), (pt, pl) = geom
    Hn, Wn = _padded_size(geom)
    gx = xp.empty(x_shape, dtype=g.dtype)
    wt = _row_weights(wd, Wo)
    per = max(1, TILE_BYTES // max(1, Hn * Wn * C * g.itemsize))
    tiles = [(n, min(N, n + per)) for n in range(0, N, per)]
    rows_in, cols_in = min(H, Hn - pt), min(W, Wn - pl)

    def part(lo, hi):
        buf = xp.empty((per, Hn, Wn, C), dtype=g.dtype)
        tmp = xp.empty((per, Ho, Wo, C), dtype=g.dtype)
        for n0, n1 in tiles[lo:hi]:
            b = buf[:n1 - n0]
            b[...] = 0
            gt, t = g[n0:n1], tmp[:n1 - n0]
            for i, j, v in _views(b, geom, Ho):
                xp.multiply(gt, wt[i, j], out=t)
                v += t
            gx[n0:n1, :rows_in, :cols_in] = b[:, pt:pt + rows_in, pl:pl + cols_in]
            if rows_in < H:
                gx[n0:n1, rows_in:] = 0     # input rows no output reads
            if cols_in < W:
                gx[n0:n1, :, cols_in:] = 0
    parallel_for(part, len(tiles))
    return gx
