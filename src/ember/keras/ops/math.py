"""Keras 3's ``keras.ops`` maths family (``segment_sum``, ``segment_max``, ``extract_sequences``,
``logdet``; ``top_k``, ``in_top_k``, ``logsumexp``, ``erf``, ``rsqrt`` live with the NumPy ops),
computed by ``ember.functional``."""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ..keras_tensor import symbolic
from .core import float_tensor, to_tensor

__all__ = ["segment_sum", "segment_max", "segment_min", "segment_prod", "extract_sequences",
           "logdet", "cdist"]


def _segments(data, segment_ids, num_segments, reduce, where):
    x = to_tensor(data)
    ids = to_tensor(segment_ids).numpy().astype(np.int64).reshape(-1)
    if ids.shape[0] != x.shape[0]:
        raise ValueError(f"keras.ops.{where}: segment_ids has {ids.shape[0]} entries for data of "
                         f"shape {tuple(x.shape)}; expected one id per row of data")
    n = int(ids.max(initial=-1) + 1) if num_segments is None else int(num_segments)
    keep = (ids >= 0) & (ids < n)                  # id -1 (and out of range): dropped, as Keras
    x, ids = F.take(x, np.nonzero(keep)[0], axis=0), ids[keep]
    index = Tensor.wrap(np.broadcast_to(ids.reshape((-1,) + (1,) * (x.ndim - 1)), x.shape).copy())
    if reduce == "sum":
        return F.scatter_add(Tensor.wrap(np.zeros((n,) + tuple(x.shape[1:]), x.dtype)), 0, index, x)
    init = {"amax": -np.inf, "amin": np.inf, "prod": 1}[reduce]
    if x.dtype.kind != "f" and reduce != "prod":
        init = (np.iinfo(x.dtype).min if reduce == "amax" else np.iinfo(x.dtype).max)
    base = Tensor.wrap(np.full((n,) + tuple(x.shape[1:]), init, x.dtype))
    return F.scatter_reduce(base, 0, index, x, reduce, include_self=True)


@symbolic
def segment_sum(data, segment_ids, num_segments=None, sorted=False):   # noqa: A002
    """The sum of the rows of ``data`` sharing each id in ``segment_ids`` (one id per row;
    ``num_segments`` defaults to max id + 1; empty segments are 0)."""
    return _segments(data, segment_ids, num_segments, "sum", "segment_sum")


@symbolic
def segment_max(data, segment_ids, num_segments=None, sorted=False):   # noqa: A002
    """The maximum of the rows of ``data`` sharing each id (empty segments: -inf)."""
    return _segments(data, segment_ids, num_segments, "amax", "segment_max")


@symbolic
def segment_min(data, segment_ids, num_segments=None, sorted=False):   # noqa: A002
    """The minimum of the rows of ``data`` sharing each id (empty segments: +inf)."""
    return _segments(data, segment_ids, num_segments, "amin", "segment_min")


@symbolic
def segment_prod(data, segment_ids, num_segments=None, sorted=False):   # noqa: A002
    """The product of the rows of ``data`` sharing each id (empty segments: 1)."""
    return _segments(data, segment_ids, num_segments, "prod", "segment_prod")


@symbolic
def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``sequence_length`` samples every ``sequence_stride`` along the last axis:
    (..., T) -> (..., num_frames, sequence_length)."""
    x = to_tensor(x)
    t = x.shape[-1]
    n = 1 + (t - sequence_length) // sequence_stride
    idx = (np.arange(n)[:, None] * sequence_stride + np.arange(sequence_length)).reshape(-1)
    out = F.take(x, idx, axis=-1)
    return F.reshape(out, tuple(x.shape[:-1]) + (n, sequence_length))


@symbolic
def logdet(x):
    """log(det(x)) of (batches of) positive-definite matrices."""
    return F.logdet(to_tensor(x))


@symbolic
def cdist(x, y):
    """Euclidean distances between the rows of x (..., N, D) and y (..., M, D): (..., N, M)."""
    a, b = float_tensor(x), float_tensor(y)
    d = F.subtract(F.expand_dims(a, -2), F.expand_dims(b, -3))
    return F.sqrt(F.sum(F.multiply(d, d), -1))
