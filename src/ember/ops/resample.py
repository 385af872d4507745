"""Resampling, channels-last: ``interpolate`` / ``upsample`` on (N, W, C), (N, H, W, C) and
(N, D, H, W, C), and ``pixel_shuffle`` / ``pixel_unshuffle``.

``interpolate`` follows PyTorch's sampling rules exactly (``torch.nn.functional.interpolate``):

* 'nearest': src = min(floor(dst * scale), n - 1); 'nearest-exact': floor((dst + 0.5) * scale).
* 'linear' / 'bilinear' / 'trilinear' (2 taps per axis) and 'bicubic' (4 taps, A = -0.75, edge
  indices clamped): src = dst * (n - 1) / (out - 1) with ``align_corners=True``, else
  (dst + 0.5) * scale - 0.5 (clamped at 0 for the linear modes).
* scale = n / out, or 1 / scale_factor when ``scale_factor`` is given (and
  ``recompute_scale_factor`` is not True); out = floor(n * scale_factor).
* 'area' is ``adaptive_avg_pool`` to the output size.

All these are separable: each spatial axis is resampled in turn.  A small axis (out * in <= 16384)
is one BLAS product with its dense (out, in) interpolation matrix, forward and (transposed)
backward; a larger one gathers a few taps (index arrays, one per tap), blends them with
per-position weights, and its backward scatters the gradient back with ``add.reduceat`` (tap
indices are non-decreasing along the output, so each input position receives one contiguous run
of outputs).  No Python loop over pixels.  Non-finite inputs (or gradients) always take the tap
path: the dense product would carry a NaN to every output through the zero entries.
"""
import math

from ..backend import xp
from ._base import as_tensor, make
from .pool_adaptive import _adaptive_avg

__all__ = ["interpolate", "upsample", "pixel_shuffle", "pixel_unshuffle"]

_MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,),
          "bicubic": (2,), "trilinear": (3,), "area": (1, 2, 3)}


def _cubic_weights(t, A=-0.75):
    def c1(v):
        return ((A + 2) * v - (A + 3)) * v * v + 1

    def c2(v):
        return ((A * v - 5 * A) * v + 8 * A) * v - 4 * A
    return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]


def _taps(n, out, mode, align_corners, scale_factor):
    """[(index array (out,), weight array (out,) or None)] for one axis."""
    f32 = xp.float32
    dst = xp.arange(out)
    if mode in ("nearest", "nearest-exact"):
        scale = f32(1.0 / scale_factor) if scale_factor else f32(n) / f32(out)
        pos = (dst.astype(f32) + f32(0.5 if mode == "nearest-exact" else 0.0)) * scale
        return [(xp.minimum(xp.floor(pos).astype(xp.int64), n - 1), None)]
    cubic = mode == "bicubic"
    if align_corners:
        scale = f32(n - 1) / f32(out - 1) if out > 1 else f32(0)
        src = dst.astype(f32) * scale
    else:
        scale = f32(1.0 / scale_factor) if scale_factor else f32(n) / f32(out)
        src = (dst.astype(f32) + f32(0.5)) * scale - f32(0.5)
        if not cubic:
            src = xp.maximum(src, f32(0))
    i0 = xp.floor(src).astype(xp.int64)
    t = (src - i0.astype(f32)).astype(xp.float64)
    if not cubic:
        i0 = xp.minimum(i0, n - 1)
        return [(i0, 1.0 - t), (xp.minimum(i0 + 1, n - 1), t)]
    return [(xp.clip(i0 - 1 + k, 0, n - 1), w) for k, w in enumerate(_cubic_weights(t))]


_DENSE = 1 << 14      # resample an axis with a dense (out, in) matrix product up to this many entries


def _dense(taps, n, dtype):
    out = len(taps[0][0])
    if out * n > _DENSE:
        return None
    m = xp.zeros((out, n), dtype=xp.float64)
    rows = xp.arange(out)
    for idx, w in taps:
        xp.add.at(m, (rows, idx), 1.0 if w is None else w)
    return m.astype(dtype)


def _matmul_axis(m, a, axis):
    """``m`` (out, in) applied along ``axis`` of ``a`` as one (batched) BLAS product."""
    shape = a.shape
    b = 1
    for n in shape[:axis]:
        b *= n
    r = a.reshape(b, shape[axis], -1)
    return xp.matmul(m, r).reshape(shape[:axis] + (m.shape[0],) + shape[axis + 1:])


def _apply(a, axis, taps, dtype, m=None):
    if m is not None:
        return _matmul_axis(m, a, axis)
    out = None
    shape = [1] * a.ndim
    shape[axis] = -1
    for idx, w in taps:
        v = xp.take(a, idx, axis=axis)
        if w is not None:
            v *= w.astype(dtype).reshape(shape)
        out = v if out is None else out + v
    return out


def _apply_t(g, axis, taps, n, dtype, m=None):
    if m is not None:
        return _matmul_axis(xp.ascontiguousarray(m.T), g, axis)
    shape = [1] * g.ndim
    shape[axis] = -1
    gx = None
    for idx, w in taps:
        gw = g if w is None else g * w.astype(dtype).reshape(shape)
        uniq, start = xp.unique(idx, return_index=True)
        sums = xp.add.reduceat(gw, start, axis=axis)
        if gx is None:
            full = list(g.shape)
            full[axis] = n
            gx = xp.zeros(full, dtype=dtype)
        sl = [slice(None)] * g.ndim
        sl[axis] = uniq
        gx[tuple(sl)] += sums
    return gx


def _tuple(v, nd, name, op):
    if isinstance(v, (tuple, list)):
        if len(v) != nd:
            raise ValueError(f"ember.{op}: {name} must be one value or {nd} (one per spatial axis), got {v!r}")
        return tuple(v)
    return (v,) * nd


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample the spatial axes of a channels-last input (N, W, C), (N, H, W, C) or
    (N, D, H, W, C) -> same layout with spatial ``size``; PyTorch's arguments and numerics (see
    the module docstring).  Give exactly one of ``size`` (int or tuple) and ``scale_factor``
    (number or tuple).  ``align_corners`` only for the linear / bicubic modes (default False)."""
    op = "interpolate"
    x = as_tensor(x, op)
    if mode not in _MODES:
        raise ValueError(f"ember.{op}: mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
    nd = x.ndim - 2
    if nd not in _MODES[mode]:
        want = " or ".join(f"{d + 2}-D" for d in _MODES[mode])
        raise ValueError(f"ember.{op}: mode {mode!r} needs a {want} channels-last input ((N, W, C), (N, H, W, C) "
                         f"or (N, D, H, W, C)), got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"ember.{op}: expected a floating-point input, got dtype {x.dtype}")
    if antialias:
        raise ValueError(f"ember.{op}: antialias=True is not supported; pass antialias=False")
    linearish = mode in ("linear", "bilinear", "bicubic", "trilinear")
    if align_corners is not None and not linearish:
        raise ValueError(f"ember.{op}: align_corners only applies to the linear, bilinear, bicubic and trilinear "
                         f"modes, not {mode!r}; leave it None")
    align_corners = bool(align_corners)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"ember.{op}: give exactly one of size and scale_factor")
    in_sizes = tuple(x.shape[1:-1])
    if size is not None:
        out_sizes = tuple(int(s) for s in _tuple(size, nd, "size", op))
        scales = (None,) * nd
    else:
        factors = tuple(float(f) for f in _tuple(scale_factor, nd, "scale_factor", op))
        if any(not f > 0 for f in factors):
            raise ValueError(f"ember.{op}: scale_factor must be positive, got {scale_factor!r}")
        out_sizes = tuple(int(math.floor(n * f)) for n, f in zip(in_sizes, factors))
        scales = (None,) * nd if recompute_scale_factor else factors
    if any(o <= 0 for o in out_sizes):
        raise ValueError(f"ember.{op}: output size {out_sizes} must be positive (input spatial size {in_sizes})")
    if mode == "area":
        return _adaptive_avg(x, out_sizes, op)
    xd = x.data
    # an axis kept at its size with scale 1 is the identity and skipped (so a NaN does not reach
    # its neighbours through a zero-weight tap), as PyTorch; bicubic always runs all 4 taps
    plan = [(1 + a, _taps(n, o, mode, align_corners, s), n)
            for a, (n, o, s) in enumerate(zip(in_sizes, out_sizes, scales))
            if mode == "bicubic" or not (n == o and s in (None, 1.0))]
    # the dense product would carry a NaN / inf through every zero entry: gather when not finite
    finite = bool(xp.isfinite(xd).all())
    plan = [(axis, taps, n, _dense(taps, n, xd.dtype) if finite else None) for axis, taps, n in plan]
    out = xd
    for axis, taps, _, m in plan:
        out = _apply(out, axis, taps, xd.dtype, m)
    out = out.copy() if out is xd else out

    def backward(g):
        ok = bool(xp.isfinite(g).all())
        for axis, taps, n, m in reversed(plan):
            g = _apply_t(g, axis, taps, n, g.dtype, m if ok else None)
        return (xp.ascontiguousarray(g),)
    return make(out, (x,), backward)


def upsample(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """``interpolate`` (PyTorch's deprecated alias)."""
    return interpolate(x, size, scale_factor, mode, align_corners)


def pixel_shuffle(x, upscale_factor):
    """(N, H, W, C r^2) -> (N, H r, W r, C), channels-last.  Channel c r^2 + i r + j goes to
    output channel c at offset (i, j) in the r x r block: PyTorch's order once both sides are
    transposed to NCHW (so weights trained with PyTorch's layout carry over)."""
    op = "pixel_shuffle"
    x = as_tensor(x, op)
    r = int(upscale_factor)
    if x.ndim != 4 or r < 1 or x.shape[-1] % (r * r):
        raise ValueError(f"ember.{op}: expected (N, H, W, C * r^2) with r = upscale_factor = {upscale_factor}, "
                         f"got shape {tuple(x.shape)} (channels must be divisible by {r * r})")
    N, H, W, Cr = x.shape
    C = Cr // (r * r)
    return x.reshape(N, H, W, C, r, r).permute(0, 1, 4, 2, 5, 3).reshape(N, H * r, W * r, C)


def pixel_unshuffle(x, downscale_factor):
    """(N, H r, W r, C) -> (N, H, W, C r^2), channels-last: the inverse of ``pixel_shuffle``."""
    op = "pixel_unshuffle"
    x = as_tensor(x, op)
    r = int(downscale_factor)
    if x.ndim != 4 or r < 1 or x.shape[1] % r or x.shape[2] % r:
        raise ValueError(f"ember.{op}: expected (N, H * r, W * r, C) with r = downscale_factor = {downscale_factor}, "
                         f"got shape {tuple(x.shape)} (H and W must be divisible by {r})")
    N, Hr, Wr, C = x.shape
    H, W = Hr // r, Wr // r
    return x.reshape(N, H, r, W, r, C).permute(0, 1, 3, 5, 2, 4).reshape(N, H, W, C * r * r)
