"""Both gradients of a 1x1 convolution (stride 1, no padding, one group) in one pass over the
upstream gradient, for ops/conv.py.

On channels-last arrays a 1x1 convolution is one matrix product, ``out = x2d @ w2d`` with
(M, C_in) @ (C_in, C_out) and M = N*H*W, so its backward is two products that both read the large
(M, C_out) gradient: ``gx = g @ w2d.T`` and ``gw = x2d.T @ g``.  Run whole, each streams ``g``
through memory, and OpenBLAS splits ``x2d.T @ g`` -- a reduction over M into a small
(C_in, C_out) matrix -- poorly between threads.  Here the rows are cut into blocks of at least
``BLOCK_ROWS`` rows (at most ``MAX_BLOCKS`` blocks); for each block both products run while the
block of ``g`` is in cache, and ``gw`` is the sum of the blocks' partial products.  Blocks are
split between ember's threads, each product on its own thread (``_parallel.parallel_products``;
with one ember thread the blocks run in turn here).  The partial products are summed in block order
whatever the thread count, so the result does not depend on it.  (Measured, 2 threads,
M = 100352, 64 -> 64 channels: 11.3 ms as two whole products, 8.9 ms blocked.)
"""
from ..backend import xp
from ._parallel import fixed_blocks, parallel_products

__all__ = ["pointwise_grads"]

BLOCK_ROWS = 8192       # rows per block, at least
MAX_BLOCKS = 32         # the partial products take blocks x the weight's memory


def pointwise_grads(g2d, x2d, w2d):
    """(gx (M, C_in), gw (C_in, C_out)) of ``x2d @ w2d`` for the upstream gradient g2d (M, C_out)."""
    M = g2d.shape[0]
    blocks, size = fixed_blocks(M, BLOCK_ROWS, MAX_BLOCKS)
    if blocks < 2:
        return g2d @ w2d.T, x2d.T @ g2d
    g2d = xp.ascontiguousarray(g2d)
    w_t = xp.ascontiguousarray(w2d.T)
    gx = xp.empty((M, x2d.shape[1]), dtype=g2d.dtype)
    partial = xp.empty((blocks,) + w2d.shape, dtype=g2d.dtype)

    def part(lo, hi):
        for b in range(lo, hi):
            rows = slice(b * size, min(M, (b + 1) * size))
            xp.matmul(g2d[rows], w_t, out=gx[rows])
            xp.matmul(x2d[rows].T, g2d[rows], out=partial[b])
    parallel_products(part, blocks)
    return gx, partial.sum(axis=0)
