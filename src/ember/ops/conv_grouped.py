"""Grouped convolutions with stride 1 and column dilation 1, forward and backward on one grid,
without the im2col matrix.

**The grid.**  Each image is laid out, per group, on a zero-padded grid of Hg x Wg positions
(its H x W pixels top-left, Z zero rows below and Z' zero columns to the right), and the grids
of the batch follow each other in one flat array of rows of C/G numbers.  Position p of the flat
array is pixel (n, y, x) for p = n*Hg*Wg + y*Wg + x.  Positions outside a pixel are zeros, and
the zero rows and columns are shared by the padding after one image (or row) and the padding
before the next: Z = max(top, bottom, top + bottom - dh*(kh-1)) (and likewise for columns) is
enough for no kernel window to reach a neighbour's pixels.  So every quantity of the
convolution is a shifted block of positions of the same grid:

* output (n, y, x) sits at position n*Hg*Wg + (y - top)*Wg + (x - left), and reads the kernel
  row i's taps at positions p + i*step + j (step = dh*Wg, j < kw): kw*C/G *consecutive* numbers.
  So one matrix of kernel-row taps A (one row per position, kw*C/G numbers: a kw-fold copy of
  the input instead of im2col's kh*kw-fold) serves every kernel row as a shifted block of rows:

      out[p] = sum_i A[p + i*step] @ W[i]               (per group; W[i] is (kw*C/G, C_out/G))

* the input gradient is the same sum over the taps of g placed at the output positions, with the
  kernel flipped, at positions n*Hg*Wg + (y - dh*(kh-1))*Wg + (x - (kw-1));
* the weight gradient, sum over positions p of x[p + i*step + j] (x) g[p], is one product per
  group (Q = p + j):  [x[Q], x[Q + step], ...] (one row per Q)  .T @  g's taps at Q - (kw-1),
  whose blocks come out in reversed j order.

The grid's extra positions are computed and dropped (29x29 positions for a 28x28 output with a
3x3 'same' kernel: 7% more rows).  The backward builds g's taps once for both gradients, and keeps
of the forward only the padded input (not its taps).  ``ops/conv.py`` dispatches here.
"""
from ..backend import blas_threads, xp
from ._parallel import parallel_for, parallel_products

__all__ = ["shift_applies", "ShiftedGrid", "shift_forward", "shifted_input", "shift_backward"]


def shift_applies(geom):
    """Stride 1 and column dilation 1 (the taps of a kernel row are consecutive)."""
    return geom[3] == (1, 1) and geom[4][1] == 1


def _gap(before, out, size, reach):
    """Zero rows (or columns) between two images' pixels on the grid: enough that no window of
    one image reaches the other's pixels, for the forward and the input gradient."""
    after = out + reach - size - before
    return max(0, before, after, before + after - reach)


class ShiftedGrid:
    """The flat grid of a stride-1 convolution (see the module docstring) and what the forward
    keeps for the weight gradient: the padded input ``X`` (G, rows, C/G), or None.

    Flat positions are numbered from pixel (0, 0, 0); the forward's outputs start at ``out0``,
    the input gradient's positions at ``dx0``.  ``X`` row r is position ``out0 + r``."""
    __slots__ = ("N", "H", "W", "Ho", "Wo", "kh", "kw", "Hg", "Wg", "L", "step", "out0", "dx0", "X")

    def __init__(self, N, geom):
        (H, W), (Ho, Wo), (kh, kw), _, (dh, _), (pt, pl) = geom
        self.N, self.H, self.W, self.Ho, self.Wo, self.kh, self.kw = N, H, W, Ho, Wo, kh, kw
        self.Hg = H + _gap(pt, Ho, H, dh * (kh - 1))
        self.Wg = W + _gap(pl, Wo, W, kw - 1)
        self.L = N * self.Hg * self.Wg
        self.step = dh * self.Wg
        self.out0 = -(pt * self.Wg + pl)
        self.dx0 = -((kh - 1) * self.step + kw - 1)
        self.X = None

    def rows_read(self):
        """Rows of taps the products read: the grid plus the last kernel row's reach."""
        return self.L + (self.kh - 1) * self.step

    def place(self, buf, first, src, lo, hi, rows, cols):
        """Write groups [lo, hi) of ``src`` (N, rows, cols, C) into ``buf`` (G, R, C/G), pixel
        (n, y, x) at buffer row ``first`` + n*Hg*Wg + y*Wg + x (the rest of ``buf`` stays zero)."""
        Cg = buf.shape[2]
        grid = buf[lo:hi, first:first + self.L].reshape(hi - lo, self.N, self.Hg, self.Wg, Cg)
        grid[:, :, :rows, :cols] = src[..., lo * Cg:hi * Cg].reshape(
            self.N, rows, cols, hi - lo, Cg).transpose(3, 0, 1, 2, 4)


def _taps(buf, q, kw, rows):
    """Group q's kernel-row taps (rows, kw*C/G): row r is buffer rows r .. r+kw-1, one copy of an
    overlapping view."""
    part = buf[q]
    return xp.lib.stride_tricks.as_strided(part, shape=(rows, kw * buf.shape[2]),
                                           strides=(part.strides[0], part.strides[1])).copy()


def _padded_input(xd, grid, groups):
    """The zero (G, rows, C/G) buffer for the input, with ``fill(lo, hi)`` placing groups [lo, hi)."""
    rows = max(grid.rows_read() + grid.kw - 1, grid.L - grid.out0)
    X = xp.zeros((groups, rows, xd.shape[3] // groups), dtype=xd.dtype)
    return X, lambda lo, hi: grid.place(X, -grid.out0, xd, lo, hi, grid.H, grid.W)


def shifted_input(xd, geom, groups):
    """The ShiftedGrid of xd (N, H, W, C) with its padded input, for a weight gradient."""
    grid = ShiftedGrid(xd.shape[0], geom)
    grid.X, fill = _padded_input(xd, grid, groups)
    parallel_for(fill, groups)
    return grid


def _sum_kernel_rows(A, first, w, grid, q, n_out):
    """(grid.L, n_out): sum over kernel rows i of A[first + i*step : ... + L] @ w[i, :, q]."""
    L, step = grid.L, grid.step
    acc = xp.empty((L, n_out), dtype=A.dtype)
    tmp = xp.empty((L, n_out), dtype=A.dtype) if grid.kh > 1 else None
    for i in range(grid.kh):
        start = first + i * step
        xp.matmul(A[start:start + L], w[i, :, q], out=acc if i == 0 else tmp)
        if i:
            acc += tmp
    return acc


def _by_groups(part, groups):
    """``part(lo, hi)`` over groups side by side on ember's threads (a group's taps are still in
    cache for its products), every product on one OpenBLAS thread -- even when ember runs one
    thread, since OpenBLAS's own split of a product changes its last bits with the thread count
    (seen with the Haswell kernels)."""
    with blas_threads.single_threaded():
        parallel_products(part, groups)


def shift_forward(xd, wd, geom, groups, keep):
    """(out (N, H', W', C_out), the ShiftedGrid with its padded input when ``keep``) of a grouped
    stride-1 convolution of xd (N, H, W, C) with wd (kh, kw, C/G, C_out)."""
    kh, kw, Cg, O = wd.shape
    Og = O // groups
    grid = ShiftedGrid(xd.shape[0], geom)
    X, fill = _padded_input(xd, grid, groups)
    w = wd.reshape(kh, kw * Cg, groups, Og)
    out = xp.empty((grid.N, grid.Ho, grid.Wo, O), dtype=xd.dtype)

    def part(lo, hi):      # groups [lo, hi): their padding, taps, products, sums, output columns
        fill(lo, hi)
        for q in range(lo, hi):
            A = _taps(X, q, kw, grid.rows_read())
            acc = _sum_kernel_rows(A, 0, w, grid, q, Og)
            del A
            out[..., q * Og:(q + 1) * Og] = acc.reshape(grid.N, grid.Hg, grid.Wg, Og)[:, :grid.Ho, :grid.Wo]
    _by_groups(part, groups)
    if keep:
        grid.X = X
    return out, (grid if keep else None)


def shift_backward(g, grid, wshape, groups, wd=None, need_weight=True):
    """(grad input (N, H, W, C) or None, grad weight (kh, kw, C/G, C_out) or None) of a grouped
    stride-1 convolution, from the upstream gradient g (N, H', W', C_out) and the forward's
    ShiftedGrid.  The input gradient is computed when the weight ``wd`` is given; the weight
    gradient when ``need_weight`` and the grid holds its padded input ``grid.X``.

    Per group, g is placed on the grid once and its kernel-row taps serve both gradients."""
    kh, kw, Cg, O = wshape
    N, Ho, Wo, _ = g.shape
    X = grid.X
    need_input, need_weight = wd is not None, need_weight and X is not None
    Og = O // groups
    L, step = grid.L, grid.step
    Lq = L + kw - 1                       # weight gradient: positions Q = p + j
    g_first = min(grid.dx0, grid.out0 - (kw - 1))   # position of the g buffer's row 0
    dx_row = grid.dx0 - g_first                      # g taps' row of the first dx position
    wq_row = grid.out0 - (kw - 1) - g_first          # g taps' row of the first Q
    taps_rows = max(dx_row + grid.rows_read(), wq_row + Lq)
    G = xp.zeros((groups, taps_rows + kw - 1, Og), dtype=g.dtype)
    # the input gradient's weights: kernel flipped, channel roles swapped, (kh, kw*Og, G, Cg)
    w_flip = (xp.ascontiguousarray(wd[::-1, ::-1].reshape(kh, kw, Cg, groups, Og).transpose(0, 1, 4, 3, 2))
              .reshape(kh, kw * Og, groups, Cg)) if need_input else None
    gx = xp.empty((N, grid.H, grid.W, groups * Cg), dtype=g.dtype) if need_input else None
    dW = xp.empty((groups, kh * Cg, kw * Og), dtype=g.dtype) if need_weight else None

    def part(lo, hi):
        grid.place(G, wq_row + (kw - 1), g, lo, hi, Ho, Wo)
        for q in range(lo, hi):
            A = _taps(G, q, kw, taps_rows)
            if need_input:
                acc = _sum_kernel_rows(A, dx_row, w_flip, grid, q, Cg)
                gx[..., q * Cg:(q + 1) * Cg] = acc.reshape(N, grid.Hg, grid.Wg, Cg)[:, :grid.H, :grid.W]
                del acc
            if need_weight:
                # rows Q of [x[Q], x[Q + step], ...]: one copy of an overlapping view
                xq = X[q]
                stacked = xp.lib.stride_tricks.as_strided(
                    xq, shape=(Lq, kh, Cg), strides=(xq.strides[0], step * xq.strides[0], xq.strides[1]))
                xp.matmul(stacked.reshape(Lq, kh * Cg).T, A[wq_row:wq_row + Lq], out=dW[q])
    _by_groups(part, groups)
    gw = None
    if need_weight:
        # dW[q][(i, c), (kw-1-j, o)] -> gw[i, j, c, q*Og + o]
        gw = xp.ascontiguousarray(dW.reshape(groups, kh, Cg, kw, Og)[:, :, :, ::-1].transpose(1, 3, 2, 0, 4)
                                  ).reshape(kh, kw, Cg, O)
    return gx, gw
