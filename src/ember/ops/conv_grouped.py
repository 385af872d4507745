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
from ._parallel import parallel_for

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


def shift_taps(xd, geom, groups):
    """The ShiftedTaps of xd (N, H, W, C) for the geometry."""
    (H, W), (Ho, Wo), (kh, kw), _, (dh, _), (pt, pl) = geom
    N, C = xd.shape[0], xd.shape[3]
    Cg = C // groups
    Hp, Wp = Ho + dh * (kh - 1), Wo + kw - 1
    step = dh * Wp
    L = N * Hp * Wp
    R = L + (kh - 1) * step                        # the rows kernel row kh-1 still reads
    padded = xp.zeros((groups, R + kw - 1, Cg), dtype=xd.dtype)
    rows, cols = max(0, min(H, Hp - pt)), max(0, min(W, Wp - pl))
    if rows and cols:
        grid = padded[:, :L].reshape(groups, N, Hp, Wp, Cg)
        grid[:, :, pt:pt + rows, pl:pl + cols] = \
            xd[:, :rows, :cols].reshape(N, rows, cols, groups, Cg).transpose(3, 0, 1, 2, 4)
    A = xp.empty((groups, R, kw * Cg), dtype=xd.dtype)
    sG, sR, item = padded.strides

    def fill(lo, hi):       # row r of A: padded rows r .. r+kw-1 of the group, one overlapping view
        A[lo:hi] = xp.lib.stride_tricks.as_strided(padded[lo:hi], shape=(hi - lo, R, kw * Cg),
                                                   strides=(sG, sR, item))
    parallel_for(fill, groups)
    return ShiftedTaps(A, N, Hp, Wp, step)


def shift_forward(xd, wd, geom, groups, keep):
    """(out (N, H', W', C_out), the ShiftedTaps when ``keep``) of a grouped convolution."""
    (_, (Ho, Wo), (kh, kw), _, _, _) = geom
    Cg, O = wd.shape[2], wd.shape[3]
    Og = O // groups
    taps = shift_taps(xd, geom, groups)
    A, L, step = taps.A, taps.L, taps.step
    w = wd.reshape(kh, kw * Cg, groups, Og)
    out = xp.empty((taps.N, Ho, Wo, O), dtype=xd.dtype)
    acc = xp.empty((L, Og), dtype=xd.dtype)
    tmp = xp.empty((L, Og), dtype=xd.dtype) if kh > 1 else None
    for q in range(groups):
        for i in range(kh):
            xp.matmul(A[q, i * step:i * step + L], w[i, :, q], out=acc if i == 0 else tmp)
            if i:
                acc += tmp
        out[..., q * Og:(q + 1) * Og] = acc.reshape(taps.N, taps.Hp, taps.Wp, Og)[:, :Ho, :Wo]
    return out, (taps if keep else None)


def shift_weight_grad(g, taps, wshape):
    """grad W (kh, kw, C_in/G, C_out) from the upstream gradient g (N, H', W', C_out)."""
    kh, kw, Cg, O = wshape
    groups = taps.A.shape[0]
    Og = O // groups
    N, Ho, Wo, _ = g.shape
    on_grid = xp.zeros((taps.L, O), dtype=g.dtype)
    on_grid.reshape(N, taps.Hp, taps.Wp, O)[:, :Ho, :Wo] = g
    gw = xp.empty((kh, kw * Cg, groups, Og), dtype=g.dtype)
    A, L, step = taps.A, taps.L, taps.step
    for q in range(groups):
        for i in range(kh):
            xp.matmul(A[q, i * step:i * step + L].T, on_grid[:, q * Og:(q + 1) * Og], out=gw[i, :, q])
    return gw.reshape(wshape)
