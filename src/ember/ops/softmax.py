"""softmax and log_softmax over one axis, numerically stable (the max is subtracted first), and the
row-softmax kernel that they, the cross-entropy losses and attention share.

The kernel works on the rows of a 2-D array (R, C).  Row maxima are taken by argmax and a gather,
and row sums as one matrix-vector product with ones: NumPy's max and sum along short contiguous
rows run element by element, several times slower than either (max over (3072, 64) float32
costs 2.5x the argmax and gather, sum 6x the product); for very wide rows max wins again.
"""
import math

from ..backend import xp
from ._base import as_tensor, make, normalize_axis
from .arguments import torch_names
from .elementwise import _to_float

_ARGMAX_MAX_COLUMNS = 4096


def row_max(x2):
    """The maximum of each row of the 2-D array ``x2`` (R, C), as an (R, 1) array."""
    R, C = x2.shape
    if C <= _ARGMAX_MAX_COLUMNS and R:
        return x2[xp.arange(R), x2.argmax(axis=1)].reshape(R, 1)
    return x2.max(axis=1, keepdims=True)


def row_sum(x2):
    """The sum of each row of the 2-D array ``x2`` (R, C), as an (R, 1) array."""
    return (x2 @ xp.ones(x2.shape[1], dtype=x2.dtype)).reshape(x2.shape[0], 1)


def shifted_exp(x2, out=None, keep_shifted=False, masked_rows=False):
    """The parts of a row softmax of the 2-D array ``x2`` (R, C): ``(sh, e, s)`` with
    ``sh = x2 - row max``, ``e = exp(sh)`` and ``s`` the row sums of ``e``, (R, 1).

    out: where ``sh`` is written (``x2`` itself: in place); default a new array.
    keep_shifted: keep ``sh`` (then ``e`` is a new array); otherwise ``e`` overwrites it and
        ``sh`` is returned as None.
    masked_rows: rows whose every entry is -inf get a shift of 0 rather than -inf (their ``e``
        is then 0 and ``s`` is 0, where -inf - -inf would make NaN).
    """
    m = row_max(x2)
    if masked_rows:
        m[m == -xp.inf] = 0
    sh = xp.subtract(x2, m, out=out)
    if keep_shifted:
        e = xp.exp(sh)
    else:
        e = xp.exp(sh, out=sh)
        sh = None
    return sh, e, row_sum(e)


def softmax_rows(x, out=None, masked_rows=False):
    """Softmax over the last axis of the array ``x`` (any rank >= 1), written into ``out``
    (``x`` itself, C-contiguous: in place; default a new array), which is returned.
    ``masked_rows``: rows whose every entry is -inf come out as zeros (PyTorch's "safe softmax")
    instead of NaN."""
    C = x.shape[-1]
    _, e, s = shifted_exp(x.reshape(-1, C), None if out is None else out.reshape(-1, C),
                          masked_rows=masked_rows)
    if masked_rows:
        s[s == 0] = 1
    xp.reciprocal(s, out=s)
    e *= s
    return e.reshape(x.shape)


def softmax_rows_backward(g, y, out=None):
    """The input gradient of a row softmax, ``y * (g - sum(y * g))`` over the last axis, for the
    softmax output ``y`` and its gradient ``g`` (same shape, any rank); written into ``out``
    (``g`` itself, C-contiguous: in place; default a new array), which is returned."""
    C = y.shape[-1]
    gy = xp.multiply(g, y, out=out)
    if out is None:
        gy = xp.ascontiguousarray(gy)       # so that the row view below is a view
    gy2 = gy.reshape(-1, C)
    gy2 -= y.reshape(-1, C) * row_sum(gy2)
    return gy


class _Rows:
    """The layout in which a softmax over ``axis`` (an int or a tuple) of an array of ``shape``
    is a row softmax: the softmax axes moved last and flattened into rows of C entries.  No copy
    when they already are the last axes of a C-contiguous array."""

    def __init__(self, shape, axis, op):
        ndim = len(shape)
        axes = normalize_axis(axis, ndim, op)
        rest = [i for i in range(ndim) if i not in axes]
        self.perm = None if rest + list(axes) == list(range(ndim)) else tuple(rest + list(axes))
        self.moved_shape = tuple(shape[i] for i in (self.perm or range(ndim)))
        self.C = math.prod(shape[i] for i in axes)

    def to_rows(self, a):
        if self.perm is not None:
            a = a.transpose(self.perm)
        return a.reshape(-1, self.C)

    def from_rows(self, a2):
        a = a2.reshape(self.moved_shape)
        return a if self.perm is None else a.transpose(xp.argsort(self.perm))


@torch_names
def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis`` (an int or a tuple of ints; default the last axis).
    Returns the shape of ``x``."""
    op = "softmax"
    x = _to_float(as_tensor(x, op))
    rows = _Rows(x.shape, axis, op)
    y2 = softmax_rows(rows.to_rows(x.data))

    def backward(g):
        return (rows.from_rows(softmax_rows_backward(rows.to_rows(g), y2)),)
    out = make(rows.from_rows(y2), (x,), backward)
    out._from_logits = ("softmax", x, axis)   # lets a cross-entropy use the logits (stable)
    return out


@torch_names
def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis`` (an int or a tuple of ints; default the last axis).
    Returns the shape of ``x``."""
    op = "log_softmax"
    x = _to_float(as_tensor(x, op))
    rows = _Rows(x.shape, axis, op)
    y2, _, s = shifted_exp(rows.to_rows(x.data), keep_shifted=True)
    y2 -= xp.log(s)

    def backward(g):
        g2 = rows.to_rows(g)
        return (rows.from_rows(g2 - xp.exp(y2) * row_sum(g2)),)
    return make(rows.from_rows(y2), (x,), backward)
