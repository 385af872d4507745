"""``grid_sample`` and ``affine_grid``, channels-last, with PyTorch's numerics (GridSampler.h).

``grid_sample(x, grid)``: images x (N, H, W, C) with grid (N, H', W', 2) of (x, y) positions, or
volumes x (N, D, H, W, C) with grid (N, D', H', W', 3) of (x, y, z) positions, each in [-1, 1]
(PyTorch's grid layout, unchanged) -> (N, H', W', C) / (N, D', H', W', C).  Modes 'bilinear'
('trilinear' for volumes, as PyTorch's 5-D 'bilinear'), 'nearest' (round half to even, as PyTorch)
and, for images only, 'bicubic' (cubic convolution, A = -0.75, on the 4x4 neighbourhood); padding
'zeros', 'border' and 'reflection'; ``align_corners``.  Gradients flow to x (a scatter-add of the
weighted output gradient) and, for 'bilinear' / 'bicubic', to the grid.

Non-finite grid positions: 'border' padding clamps +-inf to the border ('bilinear', 'nearest'; the
'bicubic' fraction inf - inf is nan).  Otherwise a nan or infinite position has no pixel and its
taps count as outside, as in PyTorch with 'zeros' padding: images give nan for 'bilinear' /
'bicubic' (a masked zero times a nan weight, like PyTorch's 4-D kernel), volumes and 'nearest' give
0 (PyTorch's 5-D kernel skips such taps).  With 'border' / 'reflection' and nan PyTorch 2.13 has no
consistent answer (its 4-D backward crashes, its 5-D forward clamps nan to a border that its
backward ignores): ember keeps the rule above.

``affine_grid(theta, size)``: theta (N, 2, 3) with size (N, H, W, C) -> grid (N, H, W, 2), or theta
(N, 3, 4) with size (N, D, H, W, C) -> grid (N, D, H, W, 3) (ember's channels-last order; PyTorch's
(N, C, H, W) / (N, C, D, H, W) with ``channels_first=True``), built from ember ops (differentiable
in theta).
"""
import itertools

from ..backend import xp
from ._base import as_tensor, make
from .resample import _cubic_weights

__all__ = ["grid_sample", "affine_grid"]

_MODES = ("bilinear", "nearest", "bicubic")
_PADDINGS = ("zeros", "border", "reflection")
_A = -0.75          # PyTorch's cubic convolution constant (UpSample.h)


def _unnormalize(c, size, align_corners):
    if align_corners:
        return (c + 1) / 2 * (size - 1), (size - 1) / 2
    return ((c + 1) * size - 1) / 2, size / 2


def _clip(c, size):
    # PyTorch's clip_coordinates_set_grad: the borders themselves count as outside (grad 0)
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


def _pad(c, size, padding_mode, align_corners):
    """PyTorch's compute_coordinates: pixel coordinate c moved inside by the padding rule, and its
    derivative (None for 'zeros': the identity)."""
    if padding_mode == "border":
        return _clip(c, size)
    if padding_mode == "reflection":
        c, g = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
        c, g2 = _clip(c, size)
        return c, g * g2
    return c, None


def _coords(c, size, padding_mode, align_corners):
    """Pixel coordinate and its derivative with respect to the normalized grid value."""
    c, mult = _unnormalize(c, size, align_corners)
    c, g = _pad(c, size, padding_mode, align_corners)
    grad = xp.full(c.shape, mult, dtype=c.dtype)
    return c, (grad if g is None else grad * g)


def _cubic_dweights(t, A=_A):
    """d/dt of ``_cubic_weights(t)`` (the weights of the taps at floor - 1 .. floor + 2)."""
    def d1(v):          # derivative of ((A + 2) v - (A + 3)) v^2 + 1
        return (3 * (A + 2) * v - 2 * (A + 3)) * v

    def d2(v):          # derivative of ((A v - 5A) v + 8A) v - 4A
        return (3 * A * v - 10 * A) * v + 8 * A
    return [d2(t + 1), d1(t), -d1(1 - t), -d2(2 - t)]


def _axis_taps(g, size, mode, padding_mode, align_corners):
    """The taps of one spatial axis for grid values g: [(integer-valued float index, weight,
    d weight / d g)] (weight and derivative None for 'nearest')."""
    if mode == "bicubic":
        # PyTorch pads each tap's integer coordinate (not the sample position): with reflection the
        # 4 taps around a border are mirrored one by one.  The padding is piecewise constant in the
        # position, so the grid gradient is the cubic weights' derivative alone.
        c, mult = _unnormalize(g, size, align_corners)
        c0 = xp.floor(c)
        t = c - c0
        taps = []
        for k, (w, dw) in enumerate(zip(_cubic_weights(t, _A), _cubic_dweights(t))):
            i, _ = _pad(c0 + (k - 1), size, padding_mode, align_corners)
            taps.append((i, w, dw * mult))
        return taps
    c, dc = _coords(g, size, padding_mode, align_corners)
    if mode == "nearest":
        return [(xp.rint(c), None, None)]
    c0 = xp.floor(c)
    c1 = c0 + 1
    return [(c0, c1 - c, -dc), (c1, c - c0, dc)]


def _plan(gd, spatial, mode, padding_mode, align_corners):
    """Every tap of the sampling, in PyTorch's corner order (last spatial axis fastest):
    [(row index into x viewed as (N * prod(spatial) + 1, C), per-axis taps)].  A tap outside x
    points at the extra last row, which holds zeros: the gather then needs no mask."""
    k = len(spatial)
    N = gd.shape[0]
    total = N
    strides = []
    for n in reversed(spatial):
        strides.insert(0, total // N)
        total *= n
    axes = []
    for a, (n, s) in enumerate(zip(spatial, strides)):
        taps = []
        for f, w, dw in _axis_taps(gd[..., k - 1 - a], n, mode, padding_mode, align_corners):
            # bounds tested on the float index (nan is outside, huge values never reach the int
            # cast, whose result for them is platform-defined)
            ok = (f > -1) & (f < n)
            taps.append((xp.where(ok, f, 0).astype(xp.int64) * s, ok, w, dw))
        axes.append(taps)
    base = xp.arange(N).reshape((N,) + (1,) * (gd.ndim - 2)) * (total // N)
    plan = []
    for combo in itertools.product(*axes):
        idx = base + combo[0][0]
        inside = combo[0][1]
        for off, ok, _, _ in combo[1:]:
            idx = idx + off
            inside = inside & ok
        if k == 3 and mode != "nearest":
            # PyTorch's 5-D kernel skips a corner outside the volume altogether (a nan/inf position
            # samples 0 there), its 4-D kernel multiplies a masked zero by the weight (nan stays):
            # zero the weights of outside taps for volumes only
            combo = tuple((off, ok, xp.where(inside, w, 0), xp.where(inside, dw, 0)) for off, ok, w, dw in combo)
        plan.append((xp.where(inside, idx, total), combo))
    return plan, total


def _weight(combo, skip=None):
    """The product of the per-axis weights of one tap (leaving out axis ``skip``)."""
    w = None
    for a, (_, _, wa, _) in enumerate(combo):
        if a != skip:
            w = wa if w is None else w * wa
    return w


def _check(op, x, grid, mode, padding_mode):
    if mode not in _MODES:
        raise ValueError(f"ember.{op}: mode must be 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if padding_mode not in _PADDINGS:
        raise ValueError(f"ember.{op}: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
    if x.ndim not in (4, 5) or grid.ndim != x.ndim or grid.shape[-1] != x.ndim - 2 or grid.shape[0] != x.shape[0]:
        raise ValueError(f"ember.{op}: expected x (N, H, W, C) with grid (N, H', W', 2), or x (N, D, H, W, C) with "
                         f"grid (N, D', H', W', 3), with the same N; got shapes {tuple(x.shape)} and "
                         f"{tuple(grid.shape)}")
    if mode == "bicubic" and x.ndim == 5:
        raise ValueError(f"ember.{op}: mode='bicubic' supports only 4-D input (N, H, W, C), as PyTorch; got 5-D x "
                         f"{tuple(x.shape)}: use mode='bilinear' (trilinear) or 'nearest' for volumes")
    if x.dtype.kind != "f" or grid.dtype != x.dtype:
        raise TypeError(f"ember.{op}: x and grid must be floating point of one dtype, got {x.dtype} and {grid.dtype}")
    if any(n == 0 for n in x.shape[1:-1]):
        raise ValueError(f"ember.{op}: x must have non-empty spatial dimensions, got shape {tuple(x.shape)}")


def grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    """Sample x at the grid's positions (PyTorch's ``grid_sample``, channels-last).

    x (N, H, W, C) with grid (N, H', W', 2) of (x, y) -> (N, H', W', C); or x (N, D, H, W, C) with
    grid (N, D', H', W', 3) of (x, y, z) -> (N, D', H', W', C).  Grid values are normalized to
    [-1, 1] (the corner pixels' centres with ``align_corners=True``, their outer edges otherwise).
    ``mode``: 'bilinear' (default; trilinear for volumes), 'nearest' or 'bicubic' (images only).
    ``padding_mode``: 'zeros' (default), 'border' or 'reflection'.
    """
    op = "grid_sample"
    x = as_tensor(x, op, "x")
    grid = as_tensor(grid, op, "grid")
    _check(op, x, grid, mode, padding_mode)
    xd, gd = x.data, grid.data
    N, C = xd.shape[0], xd.shape[-1]
    spatial = tuple(xd.shape[1:-1])
    plan, total = _plan(gd, spatial, mode, padding_mode, align_corners)
    # one zero row after x's rows: the row every outside tap reads
    flat = xp.concatenate([xd.reshape(total, C), xp.zeros((1, C), dtype=xd.dtype)])
    out_shape = gd.shape[:-1] + (C,)
    if mode == "nearest":
        weights = [None]
        out = xp.take(flat, plan[0][0], axis=0)
    else:
        weights = [_weight(combo)[..., None] for _, combo in plan]
        out = None
        for (idx, _), w in zip(plan, weights):
            term = xp.take(flat, idx, axis=0)
            term *= w
            out = term if out is None else xp.add(out, term, out=out)

    def backward(g):
        gx = ggrid = None
        if x._rg:
            # the scatter-add of all taps in one bincount over (row, channel) pairs, accumulated in
            # float64; the (tap, point, channel) indices and weighted gradients are written in place
            lin = xp.empty((len(plan),) + g.shape, dtype=xp.int64)
            vals = xp.empty((len(plan),) + g.shape, dtype=xp.float64)
            channels = xp.arange(C)
            for t, ((idx, _), w) in enumerate(zip(plan, weights)):
                xp.add((idx * C)[..., None], channels, out=lin[t])
                if w is None:
                    vals[t] = g
                else:
                    xp.multiply(g, w, out=vals[t])
            gx = xp.bincount(lin.reshape(-1), weights=vals.reshape(-1), minlength=(total + 1) * C)[:total * C]
            gx = gx.astype(g.dtype).reshape(xd.shape)
        if grid._rg:
            if mode == "nearest":
                ggrid = xp.zeros_like(gd)
            else:
                k = len(spatial)
                acc = [None] * k
                for idx, combo in plan:
                    gv = xp.einsum("...c,...c->...", xp.take(flat, idx, axis=0), g)
                    for a in range(k):
                        rest = _weight(combo, skip=a)
                        term = gv * combo[a][3] * (1 if rest is None else rest)
                        acc[a] = term if acc[a] is None else acc[a] + term
                # grid component j is the coordinate along spatial axis k - 1 - j
                ggrid = xp.stack(acc[::-1], axis=-1).astype(g.dtype)
        return gx, ggrid
    return make(out.reshape(out_shape), (x, grid), backward)


def _linspace(n, align_corners, dt):
    """PyTorch's linspace_from_neg_one: the normalized centres of n pixels."""
    if n <= 1:
        return xp.zeros(n, dtype=dt)
    v = xp.linspace(-1, 1, n, dtype=dt)
    return v if align_corners else v * dt.type((n - 1) / n)


def affine_grid(theta, size, align_corners=False, channels_first=False):
    """Sampling grid of the affine maps theta for an output of ``size`` (PyTorch's ``affine_grid``).

    theta (N, 2, 3) with size (N, H, W, C) -> grid (N, H, W, 2) of (x, y); theta (N, 3, 4) with size
    (N, D, H, W, C) -> grid (N, D, H, W, 3) of (x, y, z).  ``channels_first=True`` reads size in
    PyTorch's order, (N, C, H, W) / (N, C, D, H, W).  ``align_corners`` default False, as PyTorch.
    """
    from .linalg import matmul
    op = "affine_grid"
    theta = as_tensor(theta, op, "theta")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise ValueError(f"ember.{op}: size must be (N, H, W, C) or (N, D, H, W, C) (4-D or 5-D; with "
                         f"channels_first=True (N, C, H, W) or (N, C, D, H, W)), got {size}")
    k = len(size) - 2
    N = size[0]
    spatial = size[2:] if channels_first else size[1:-1]
    if theta.ndim != 3 or tuple(theta.shape) != (N, k, k + 1) or theta.dtype.kind != "f":
        raise ValueError(f"ember.{op}: theta must be a floating (N, {k}, {k + 1}) = ({N}, {k}, {k + 1}) tensor for "
                         f"size {size}, got shape {tuple(theta.shape)} dtype {theta.dtype}")
    if any(n <= 0 for n in spatial):
        raise ValueError(f"ember.{op}: size must have positive spatial sizes, got {size}")
    dt = theta.dtype
    base = xp.empty(spatial + (k + 1,), dtype=dt)
    for j in range(k):
        # component j (x, y, z) varies along spatial axis k - 1 - j (W, H, D)
        shape = [1] * k
        shape[k - 1 - j] = spatial[k - 1 - j]
        base[..., j] = _linspace(spatial[k - 1 - j], align_corners, dt).reshape(shape)
    base[..., k] = 1
    P = 1
    for n in spatial:
        P *= n
    out = matmul(as_tensor(base.reshape(1, P, k + 1)), theta.swapaxes(1, 2))      # (N, P, k)
    return out.reshape((N,) + spatial + (k,))
