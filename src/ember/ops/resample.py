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
* ``antialias=True`` ('bilinear', 'bicubic', 'lanczos'; (N, H, W, C) only, as PyTorch): PIL's
  filters (triangle, Keys cubic with A = -0.5, Lanczos-3) centred on scale (dst + 0.5), widened by
  the scale when shrinking, weights renormalised per output pixel (see ``_aa_taps``).  An axis
  whose size is kept is copied.  'lanczos' exists only with ``antialias=True``.

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
          "bicubic": (2,), "trilinear": (3,), "area": (1, 2, 3), "lanczos": (2,)}


def _cubic1(v, A):
    """Keys' cubic convolution kernel for |x| = v in [0, 1]."""
    return ((A + 2) * v - (A + 3)) * v * v + 1


def _cubic2(v, A):
    """... and for |x| = v in [1, 2]."""
    return ((A * v - 5 * A) * v + 8 * A) * v - 4 * A


def _cubic_weights(t, A=-0.75):
    return [_cubic2(t + 1, A), _cubic1(t, A), _cubic1(1 - t, A), _cubic2(2 - t, A)]


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


def _sinc(x):
    safe = xp.where(x == 0, 1, x * math.pi)
    return xp.where(x == 0, 1, xp.sin(safe) / safe)


def _fma32(a, b, c):
    """float32 a * b + c rounded once, as a fused multiply-add (the product is exact in float64)."""
    return (xp.asarray(a, dtype=xp.float64) * b + c).astype(xp.float32)


def _aa_cubic(x):
    """Keys' cubic with A = -0.5 (PIL's) at |x|.  In float32 it is evaluated as PyTorch's compiled
    kernel is, with fused multiply-adds: its zeros at |x| = 1 and 2 then come out as tiny numbers
    whose sign (which decides +inf, -inf or nan where an infinite input meets them) plain float32
    arithmetic would not reproduce."""
    A = -0.5
    if x.dtype != xp.float32:
        return xp.where(x < 1, _cubic1(x, A), xp.where(x < 2, _cubic2(x, A), 0.0))
    c1 = _fma32(_fma32(x, A + 2, -(A + 3)) * x, x, 1.0)
    c2 = _fma32(_fma32(_fma32(x, A, -5 * A), x, 8 * A), x, -4 * A)
    return xp.where(x < 1, c1, xp.where(x < 2, c2, xp.float32(0)))


# antialiased filters (PIL's, as PyTorch): |x| -> weight (in x's precision, as PyTorch's scalar_t:
# Lanczos rounds pi x before the sine), and their half-width (support) at scale 1
_AA_FILTERS = {
    "bilinear": (1.0, lambda x: xp.maximum(1 - x, 0)),
    "bicubic": (2.0, _aa_cubic),
    "lanczos": (3.0, lambda x: xp.where(x < 3, _sinc(x) * _sinc(x / 3.0), 0)),
}


def _aa_taps(n, out, mode, align_corners, scale_factor, dtype):
    """[(index (out,), weight (out,), valid (out,) bool)] for one axis: PyTorch's antialiased
    (PIL-style) resampling (``_compute_indices_min_size_weights_aa``).  Output i is centred on
    c = scale (i + 0.5); a shrink (scale >= 1) widens the filter by the scale; the input positions
    [trunc(c - support + 0.5), trunc(c + support + 0.5)) that fall in the image are weighted by
    filter((j - c + 0.5) / max(scale, 1)) and renormalised to sum 1.  ``align_corners`` only
    changes the scale to (n - 1) / (out - 1), as PyTorch.  Tap k is the k-th position of each
    output's window; ``valid`` is False past the window's end (PyTorch reads nothing there, so a
    NaN must not leak in through a zero weight)."""
    ft = dtype.type
    f64 = xp.float64
    # the scale, centres and window bounds in the input's precision, as PyTorch's scalar_t
    if align_corners:
        scale = ft(n - 1) / ft(out - 1) if out > 1 else ft(0)
    else:
        scale = ft(1.0 / scale_factor) if scale_factor else ft(n) / ft(out)
    half, filt = _AA_FILTERS[mode]
    support = ft(half * f64(scale)) if scale >= 1 else ft(half)
    invscale = ft(1.0 / f64(scale)) if scale >= 1 else ft(1)
    taps = int(math.ceil(support)) * 2 + 1
    center = (f64(scale) * (xp.arange(out) + 0.5)).astype(ft)
    lo = xp.maximum(((center - support).astype(f64) + 0.5).astype(xp.int64), 0)
    hi = xp.minimum(((center + support).astype(f64) + 0.5).astype(xp.int64), n)
    size = xp.clip(hi - lo, 0, taps)
    pos = lo[:, None] + xp.arange(taps)
    valid = xp.arange(taps) < size[:, None]
    arg = ((pos.astype(ft) - center[:, None]).astype(f64) + 0.5) * f64(invscale)
    w = xp.where(valid, filt(xp.abs(arg.astype(ft))).astype(f64), 0.0)
    total = w.sum(axis=1, keepdims=True)
    w = w / xp.where(total == 0, 1.0, total)        # PyTorch leaves an all-zero window unscaled
    idx = xp.minimum(pos, n - 1)
    return [(idx[:, k], w[:, k], valid[:, k]) for k in range(taps)]


_DENSE = 1 << 14      # resample an axis with a dense (out, in) matrix product up to this many entries
# antialiased windows hold 2 ceil(support) + 1 taps, and each gathered tap costs far more than the
# BLAS product's extra zeros: measured faster dense up to 1024 -> 256 (9 taps); cap the matrix at 16 MiB
_DENSE_AA = 1 << 22


def _dense(taps, n, dtype):
    out = len(taps[0][0])
    if out * n > (_DENSE_AA if len(taps[0]) == 3 else _DENSE):
        return None
    m = xp.zeros((out, n), dtype=xp.float64)
    rows = xp.arange(out)
    for idx, w, *_ in taps:      # an antialiased tap past its window has weight 0 there
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
    for idx, w, *valid in taps:
        v = xp.take(a, idx, axis=axis)
        if w is not None:
            v *= w.astype(dtype).reshape(shape)
        if valid:       # antialiased taps: drop the positions past the window (0 * nan is nan)
            v = xp.where(valid[0].reshape(shape), v, dtype.type(0))
        out = v if out is None else out + v
    return out


def _apply_t(g, axis, taps, n, dtype, m=None):
    if m is not None:
        return _matmul_axis(xp.ascontiguousarray(m.T), g, axis)
    shape = [1] * g.ndim
    shape[axis] = -1
    gx = None
    for idx, w, *valid in taps:
        gw = g if w is None else g * w.astype(dtype).reshape(shape)
        if valid:
            gw = xp.where(valid[0].reshape(shape), gw, dtype.type(0))
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
    (number or tuple).  ``align_corners`` only for the linear / bicubic modes (default False).
    ``antialias`` (default False): low-pass filter when shrinking ('bilinear', 'bicubic' and
    'lanczos' on (N, H, W, C) only, as PyTorch; bicubic's kernel is then Keys' A = -0.5 also when
    enlarging).  Where PyTorch's antialiased backward disagrees with its own forward (an axis whose
    size is kept under a scale_factor != 1: the forward copies it, the backward resamples it), the
    gradient here is the forward's true one (the identity)."""
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
    antialias = bool(antialias)
    if antialias and not (mode in _AA_FILTERS and nd == 2):
        raise ValueError(f"ember.{op}: antialias=True is restricted to the 'bilinear', 'bicubic' and 'lanczos' "
                         f"modes on a 4-D (N, H, W, C) input (as PyTorch), got mode {mode!r} and shape "
                         f"{tuple(x.shape)}; pass antialias=False")
    if mode == "lanczos" and not antialias:
        raise ValueError(f"ember.{op}: mode 'lanczos' requires antialias=True (as PyTorch)")
    if align_corners is not None and mode in ("nearest", "nearest-exact", "area"):
        raise ValueError(f"ember.{op}: align_corners only applies to the linear, bilinear, bicubic and trilinear "
                         f"modes, not {mode!r}; leave it None")
    align_corners = bool(align_corners)
    if mode == "lanczos" and align_corners:
        raise ValueError(f"ember.{op}: mode 'lanczos' does not support align_corners=True (as PyTorch)")
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
    if antialias:
        # PyTorch's separable antialiased kernel copies an axis whose size is kept (whatever the scale)
        plan = [(1 + a, _aa_taps(n, o, mode, align_corners, s, xd.dtype), n)
                for a, (n, o, s) in enumerate(zip(in_sizes, out_sizes, scales)) if n != o]
    else:
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
