"""``grid_sample`` and ``affine_grid``, channels-last, with PyTorch's numerics (GridSampler.h).

``grid_sample(x, grid)``: x (N, H, W, C), grid (N, H', W', 2) of (x, y) sampling positions in
[-1, 1] (PyTorch's grid layout, unchanged) -> (N, H', W', C).  Modes 'bilinear' and 'nearest'
(round half to even, as PyTorch), padding 'zeros', 'border' and 'reflection', ``align_corners``.
Gradients flow to x (scatter-add of the weighted gradient) and, for bilinear, to the grid.

``affine_grid(theta, size)``: theta (N, 2, 3), size (N, H, W, C) (ember's channels-last order;
PyTorch's (N, C, H, W) is also accepted when given as a torch.Size-like 4-tuple with
``channels_first=True``) -> grid (N, H, W, 2), built from ember ops (differentiable in theta).
"""
from ..backend import xp
from ._base import as_tensor, make

__all__ = ["grid_sample", "affine_grid"]


def _unnormalize(c, size, align_corners):
    if align_corners:
        return (c + 1) / 2 * (size - 1), (size - 1) / 2
    return ((c + 1) * size - 1) / 2, size / 2


def _clip(c, size):
    grad = ((c > 0) & (c < size - 1)).astype(c.dtype)
    return xp.minimum(xp.maximum(c, 0), size - 1), grad


def _reflect(c, twice_low, twice_high):
    if twice_low == twice_high:
        return xp.zeros_like(c), xp.zeros_like(c)
    lo = twice_low / 2
    span = (twice_high - twice_low) / 2
    sign = xp.where(c < lo, -1, 1).astype(c.dtype)
    a = xp.abs(c - lo)
    extra = xp.fmod(a, span)
    flips = xp.floor(a / span)
    even = (flips % 2) == 0
    return xp.where(even, extra + lo, span - extra + lo).astype(c.dtype), xp.where(even, sign, -sign)


def _coords(c, size, padding_mode, align_corners):
    """Pixel coordinate and its derivative with respect to the normalized grid value."""
    c, mult = _unnormalize(c, size, align_corners)
    grad = xp.full(c.shape, mult, dtype=c.dtype)
    if padding_mode == "border":
        c, g = _clip(c, size)
        grad = grad * g
    elif padding_mode == "reflection":
        c, g = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
        grad = grad * g
        c, g = _clip(c, size)
        grad = grad * g
    return c, grad


def grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    """Sample (N, H, W, C) at the grid's (x, y) positions; see the module docstring."""
    op = "grid_sample"
    x = as_tensor(x, op, "x")
    grid = as_tensor(grid, op, "grid")
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"ember.{op}: mode must be 'bilinear' or 'nearest', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"ember.{op}: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
    if x.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != x.shape[0]:
        raise ValueError(f"ember.{op}: expected x (N, H, W, C) and grid (N, H', W', 2) with the same N, got shapes "
                         f"{tuple(x.shape)} and {tuple(grid.shape)}")
    if x.dtype.kind != "f" or grid.dtype != x.dtype:
        raise TypeError(f"ember.{op}: x and grid must be floating point of one dtype, got {x.dtype} and {grid.dtype}")
    xd, gd = x.data, grid.data
    N, H, W, C = xd.shape
    _, Ho, Wo, _ = gd.shape
    ix, gxm = _coords(gd[..., 0], W, padding_mode, align_corners)
    iy, gym = _coords(gd[..., 1], H, padding_mode, align_corners)
    flat = xd.reshape(N * H * W, C)
    nb = xp.arange(N).reshape(N, 1, 1) * (H * W)

    def corner(yy, xx):
        inside = (xx >= 0) & (xx < W) & (yy >= 0) & (yy < H)
        idx = nb + xp.clip(yy, 0, H - 1) * W + xp.clip(xx, 0, W - 1)
        return idx, inside

    if mode == "nearest":
        idx, inside = corner(xp.rint(iy).astype(xp.int64), xp.rint(ix).astype(xp.int64))
        out = flat[idx] * inside[..., None].astype(xd.dtype)

        def backward_nearest(g):
            gx = xp.zeros((N * H * W, C), dtype=g.dtype)
            xp.add.at(gx, idx[inside], g[inside])
            return gx.reshape(xd.shape), (xp.zeros_like(gd) if grid._rg else None)
        return make(out, (x, grid), backward_nearest)

    x0 = xp.floor(ix)
    y0 = xp.floor(iy)
    x1, y1 = x0 + 1, y0 + 1
    wx1, wy1 = ix - x0, iy - y0          # weight of the +1 corner along each axis
    wx0, wy0 = x1 - ix, y1 - iy
    xi0, yi0 = x0.astype(xp.int64), y0.astype(xp.int64)
    corners = []
    for yy, xx, w in ((yi0, xi0, wy0 * wx0), (yi0, xi0 + 1, wy0 * wx1), (yi0 + 1, xi0, wy1 * wx0),
                      (yi0 + 1, xi0 + 1, wy1 * wx1)):
        idx, inside = corner(yy, xx)
        corners.append((idx, inside, w))
    out = xp.zeros((N, Ho, Wo, C), dtype=xd.dtype)
    vals = []
    for idx, inside, w in corners:
        v = flat[idx] * inside[..., None].astype(xd.dtype)
        vals.append(v)
        out += v * w[..., None]

    def backward(g):
        gx = ggrid = None
        if x._rg:
            gx = xp.zeros((N * H * W, C), dtype=g.dtype)
            for idx, inside, w in corners:
                xp.add.at(gx, idx[inside], (g * w[..., None])[inside])
            gx = gx.reshape(xd.shape)
        if grid._rg:
            vnw, vne, vsw, vse = [(g * v).sum(axis=-1) for v in vals]
            gix = -vnw * wy0 + vne * wy0 - vsw * wy1 + vse * wy1
            giy = -vnw * wx0 - vne * wx1 + vsw * wx0 + vse * wx1
            ggrid = xp.stack([gix * gxm, giy * gym], axis=-1).astype(g.dtype)
        return gx, ggrid
    return make(out, (x, grid), backward)


def affine_grid(theta, size, align_corners=False, channels_first=False):
    """Sampling grid (N, H, W, 2) of the affine maps theta (N, 2, 3) for an output of ``size``
    (N, H, W, C) (or PyTorch's (N, C, H, W) with ``channels_first=True``)."""
    from .linalg import matmul
    op = "affine_grid"
    theta = as_tensor(theta, op, "theta")
    if len(size) != 4:
        raise ValueError(f"ember.{op}: size must be (N, H, W, C) (4-D, spatial 2-D only), got {tuple(size)}")
    N, H, W = (size[0], size[2], size[3]) if channels_first else tuple(size[:3])
    if theta.ndim != 3 or tuple(theta.shape) != (N, 2, 3) or theta.dtype.kind != "f":
        raise ValueError(f"ember.{op}: theta must be a floating (N, 2, 3) = ({N}, 2, 3) tensor for size {tuple(size)}, "
                         f"got shape {tuple(theta.shape)} dtype {theta.dtype}")
    dt = theta.dtype

    def lin(n):
        if n <= 1:
            return xp.zeros(n, dtype=dt)
        v = xp.linspace(-1, 1, n, dtype=dt)
        return v if align_corners else v * dt.type((n - 1) / n)
    base = xp.empty((H, W, 3), dtype=dt)
    base[..., 0] = lin(W).reshape(1, W)
    base[..., 1] = lin(H).reshape(H, 1)
    base[..., 2] = 1
    out = matmul(as_tensor(base.reshape(1, H * W, 3)), theta.swapaxes(1, 2))      # (N, H*W, 2)
    return out.reshape(N, H, W, 2)
