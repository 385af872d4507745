"""Grouped convolutions with stride 1 and column dilation 1, without the full im2col matrix.

The output is computed on the zero-padded input's grid: position r = (n, y, x) of the flattened
grid (N * Hp * Wp rows) reads, for kernel row i, the kw*C/G numbers that start at row
r + i*dh*Wp of the group's padded input, and those numbers are consecutive.  So one matrix of
kernel-row taps A (one row per grid position, kw*C/G numbers: a 3x expansion of the input for a
3-wide kernel instead of im2col's 9x) serves every kernel row as a shifted block of rows:

    out[r] = sum_i A[r + i*dh*Wp] @ W[i]        (per group; W[i] is (kw*C/G, C_out/G))

and the weight gradient is ``A[i*dh*Wp : ...].T @ g`` with g placed on the same grid (zeros where
the grid has no output).  The grid's extra (padding) positions are computed and dropped: about
(Hp*Wp) / (H'*W') - 1 more rows than the outputs (15% for 28x28 with a 3x3 kernel), cheaper than
the six extra copies of im2col.  ``ops/conv.py`` dispatches here.
"""
from ..backend import xp
from ._parallel import fixed_blocks, parallel_for, parallel_products

__all__ = ["shift_applies", "shift_taps", "shift_forward", "shift_weight_grad", "ShiftedTaps"]


def shift_applies(geom):
    """Stride 1 and column dilation 1 (the taps of a kernel row are consecutive)."""
    return geom[3] == (1, 1) and geom[4][1] == 1


class ShiftedTaps:
    """What the forward keeps for the weight gradient: A (G, R, kw*C/G) and the grid."""
    __slots__ = ("A", "N", "Hp", "Wp", "L", "step")

    def __init__(self, A, N, Hp, Wp, step):
        self.A, self.N, self.Hp, self.Wp, self.step = A, N, Hp, Wp, step
        self.L = N * Hp * Wp


def _tap_layout(xd, geom, groups):
    """(ShiftedTaps with A allocated, fill): ``fill(lo, hi)`` writes groups [lo, hi) of A."""
    (H, W), (Ho, Wo), (kh, kw), _, (dh, _), (pt, pl) = geom
    N, C = xd.shape[0], xd.shape[3]
    Cg = C // groups
    Hp, Wp = Ho + dh * (kh - 1), Wo + kw - 1
    step = dh * Wp
    L = N * Hp * Wp
    R = L + (kh - 1) * step                        # the rows kernel row kh-1 still reads
    padded = xp.zeros((groups, R + kw - 1, Cg), dtype=xd.dtype)
    rows, cols = max(0, min(H, Hp - pt)), max(0, min(W, Wp - pl))
    A = xp.empty((groups, R, kw * Cg), dtype=xd.dtype)
    sG, sR, item = padded.strides

    def fill(lo, hi):       # groups [lo, hi): their padded grid, then their rows of A
        if rows and cols:
            grid = padded[lo:hi, :L].reshape(hi - lo, N, Hp, Wp, Cg)
            grid[:, :, pt:pt + rows, pl:pl + cols] = xd[:, :rows, :cols, lo * Cg:hi * Cg].reshape(
                N, rows, cols, hi - lo, Cg).transpose(3, 0, 1, 2, 4)
        # row r of A: padded rows r .. r+kw-1 of the group, one overlapping view
        A[lo:hi] = xp.lib.stride_tricks.as_strided(padded[lo:hi], shape=(hi - lo, R, kw * Cg),
                                                   strides=(sG, sR, item))
    return ShiftedTaps(A, N, Hp, Wp, step), fill


def shift_taps(xd, geom, groups):
    """The ShiftedTaps of xd (N, H, W, C) for the geometry."""
    taps, fill = _tap_layout(xd, geom, groups)
    parallel_for(fill, groups)
    return taps


def shift_forward(xd, wd, geom, groups, keep):
    """(out (N, H', W', C_out), the ShiftedTaps when ``keep``) of a grouped convolution."""
    (_, (Ho, Wo), (kh, kw), _, _, _) = geom
    Cg, O = wd.shape[2], wd.shape[3]
    Og = O // groups
    taps, fill = _tap_layout(xd, geom, groups)
    A, L, step = taps.A, taps.L, taps.step
    w = wd.reshape(kh, kw * Cg, groups, Og)
    out = xp.empty((taps.N, Ho, Wo, O), dtype=xd.dtype)

    def part(lo, hi):      # groups [lo, hi): their taps, products, row sums and output columns
        fill(lo, hi)
        acc = xp.empty((L, Og), dtype=xd.dtype)
        tmp = xp.empty((L, Og), dtype=xd.dtype) if kh > 1 else None
        for q in range(lo, hi):
            for i in range(kh):
                xp.matmul(A[q, i * step:i * step + L], w[i, :, q], out=acc if i == 0 else tmp)
                if i:
                    acc += tmp
            out[..., q * Og:(q + 1) * Og] = acc.reshape(taps.N, taps.Hp, taps.Wp, Og)[:, :Ho, :Wo]
    # groups side by side on ember's threads (measured 16x28x28x64, groups 4: 2.5 ms instead of
    # 3.0 with OpenBLAS threading each product: the taps, sums and copies are split too, and a
    # group's taps are still in cache for its products)
    parallel_products(part, groups)
    return out, (taps if keep else None)


#: Rows of the grid per block of the weight gradient's partial products (at least), and the most
#: blocks (the partial products take blocks x the weight's memory).
WEIGHT_GRAD_BLOCK_ROWS = 2048
WEIGHT_GRAD_MAX_BLOCKS = 16


def shift_weight_grad(g, taps, wshape):
    """grad W (kh, kw, C_in/G, C_out) from the upstream gradient g (N, H', W', C_out).

    Each kernel row's gradient is a long reduction over the grid into a small (kw*C/G, C_out/G)
    matrix, which OpenBLAS splits poorly between its threads; the grid is cut into blocks of
    ``WEIGHT_GRAD_BLOCK_ROWS`` rows or more (at most ``WEIGHT_GRAD_MAX_BLOCKS`` blocks), whose
    partial products ember's threads compute side by side and which are summed in block order
    (measured 16x28x28x64, groups 4: 2.5 ms instead of 3.5)."""
    kh, kw, Cg, O = wshape
    groups = taps.A.shape[0]
    Og = O // groups
    N, Ho, Wo, _ = g.shape
    on_grid = xp.zeros((taps.L, O), dtype=g.dtype)
    on_grid.reshape(N, taps.Hp, taps.Wp, O)[:, :Ho, :Wo] = g
    A, L, step = taps.A, taps.L, taps.step
    blocks, size = fixed_blocks(L, WEIGHT_GRAD_BLOCK_ROWS, WEIGHT_GRAD_MAX_BLOCKS)
    partial = xp.empty((blocks, kh, kw * Cg, groups, Og), dtype=g.dtype)

    def part(lo, hi):
        for b in range(lo, hi):
            r0, r1 = b * size, min(L, (b + 1) * size)
            for q in range(groups):
                gq = on_grid[r0:r1, q * Og:(q + 1) * Og]
                for i in range(kh):
                    xp.matmul(A[q, i * step + r0:i * step + r1].T, gq, out=partial[b, i, :, q])
    parallel_products(part, blocks)
    return partial.sum(axis=0).reshape(wshape)
