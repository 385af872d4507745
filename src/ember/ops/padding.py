"""``pad``: constant, reflect, replicate and circular padding, negative widths crop.

Widths are given either

* PyTorch style, a flat sequence of ints, LAST AXIS FIRST: ``(last_before, last_after,
  second_last_before, second_last_after, ...)``, applied literally to ember's own axes.  ember is
  channels-last, so to pad an image (N, H, W, C) by (left, right, top, bottom) as PyTorch's
  ``F.pad(x_nchw, (left, right, top, bottom))`` does, write ``pad(x, (0, 0, left, right, top,
  bottom))`` (the first pair is C's);
* NumPy style, one (before, after) pair per axis in axis order (or a single pair for all axes);
* an int: that width on both sides of every axis.

Modes (as PyTorch): 'constant' (``value``), 'reflect' (mirror without repeating the edge; the
width must be smaller than the axis), 'replicate' (repeat the edge) and 'circular' (wrap around;
the width must be at most the axis).  A negative width removes that many elements; the crops
happen first, and the other modes then pad the cropped tensor (PyTorch's order).

Non-constant modes gather along each padded axis with an index array (out[i] = x[src(i)]); the
backward adds the gradient of the border positions back onto their sources (``add.at`` over the
few border slabs only; the interior is a plain slice).
"""
import builtins

from ..backend import xp
from ._base import as_tensor, make

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _widths(x, pad, op):
    if isinstance(pad, int) and not isinstance(pad, bool):
        return [(pad, pad)] * x.ndim
    try:
        seq = list(pad)
    except TypeError:
        raise TypeError(f"ember.{op}: pad must be an int, a flat sequence of ints (PyTorch order: last "
                        f"axis first) or (before, after) pairs, got {pad!r}") from None
    if builtins.all(hasattr(p, "__index__") and not hasattr(p, "__len__") for p in seq):
        seq = [int(p) for p in seq]
        if len(seq) % 2 or len(seq) // 2 > x.ndim:
            raise ValueError(f"ember.{op}: flat pad {tuple(pad)} needs an even length <= 2 * ndim "
                             f"({2 * x.ndim}) for an input of shape {tuple(x.shape)}")
        pairs = [(seq[i], seq[i + 1]) for i in range(0, len(seq), 2)]
        return [(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1]
    widths = [tuple(int(v) for v in p) for p in seq]
    if len(widths) == 1:
        widths = widths * x.ndim
    if len(widths) != x.ndim or builtins.any(len(w) != 2 for w in widths):
        raise ValueError(f"ember.{op}: NumPy-style pad needs one (before, after) pair per axis "
                         f"({x.ndim}) for an input of shape {tuple(x.shape)}, got {pad!r}")
    return widths


def _source(n, lo, hi, mode):
    """Source index along an axis of length n for each of the n + lo + hi output positions."""
    j = xp.arange(-lo, n + hi)
    if mode == "reflect":
        j = xp.abs(j)
        j = xp.where(j > n - 1, 2 * (n - 1) - j, j)
    elif mode == "replicate":
        j = xp.clip(j, 0, n - 1)
    else:
        j = j % n
    return j


def pad(x, pad, mode="constant", value=0.0):
    """Pad (or, with negative widths, crop) ``x``; see the module docstring for the width formats
    (PyTorch's flat order is last axis first, on ember's channels-last axes).

    Args:
        x: any tensor.
        pad: int, flat sequence (PyTorch order) or NumPy-style pairs.
        mode: 'constant', 'reflect', 'replicate' or 'circular'.
        value: the fill for 'constant'.
    """
    op = "pad"
    x = as_tensor(x, op)
    if mode not in _MODES:
        raise ValueError(f"ember.{op}: mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
    widths = _widths(x, pad, op)
    shape = x.shape
    for a, ((lo, hi), n) in enumerate(zip(widths, shape)):
        if n + lo + hi < 0 or n + min(lo, 0) + min(hi, 0) < 0:
            raise ValueError(f"ember.{op}: widths {(lo, hi)} crop axis {a} of size {n} below zero")
        n = n + min(lo, 0) + min(hi, 0)         # negative widths crop first (as PyTorch)
        lo, hi = max(lo, 0), max(hi, 0)
        if mode == "reflect" and (lo >= n or hi >= n) and (lo or hi):
            raise ValueError(f"ember.{op}: reflect padding {(lo, hi)} must be smaller than the size {n} of "
                             f"axis {a} (input shape {tuple(shape)}); use mode='replicate' or pad in steps")
        if mode in ("replicate", "circular") and (lo or hi) and n == 0:
            raise ValueError(f"ember.{op}: cannot {mode}-pad the empty axis {a} of shape {tuple(shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"ember.{op}: circular padding {(lo, hi)} must be at most the size {n} of "
                             f"axis {a} (input shape {tuple(shape)})")
    xd = x.data
    if mode == "constant":
        crop = tuple(slice(-lo if lo < 0 else 0, n + hi if hi < 0 else n) for (lo, hi), n in zip(widths, shape))
        grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        cropped = xd[crop]
        out = xp.pad(cropped, grow, mode="constant", constant_values=value) if builtins.any(
            lo or hi for lo, hi in grow) else cropped.copy()
        inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(grow, cropped.shape))

        def backward(g):
            gx = xp.zeros(shape, dtype=g.dtype)
            gx[crop] = g[inner]
            return (gx,)
        return make(out, (x,), backward)

    crop = tuple(slice(-lo if lo < 0 else 0, n + hi if hi < 0 else n) for (lo, hi), n in zip(widths, shape))
    out = xd[crop]
    cshape = out.shape
    axes = [(a, max(lo, 0), max(hi, 0)) for a, (lo, hi) in enumerate(widths) if lo > 0 or hi > 0]
    maps = []
    for a, lo, hi in axes:
        src = _source(cshape[a], lo, hi, mode)
        maps.append(src)
        out = xp.take(out, src, axis=a)
    out = xp.ascontiguousarray(out)

    def backward(g):
        for (a, lo, hi), src in zip(reversed(axes), reversed(maps)):
            n = cshape[a]
            ga = xp.moveaxis(g, a, 0)
            gx = ga[lo:lo + n].copy()             # the interior maps straight onto the input
            border = xp.r_[0:lo, lo + n:ga.shape[0]]
            if border.size:
                xp.add.at(gx, src[border], ga[border])
            g = xp.moveaxis(gx, 0, a)
        gfull = xp.zeros(shape, dtype=g.dtype)
        gfull[crop] = g
        return (gfull,)
    return make(out, (x,), backward)
