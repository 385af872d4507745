"""``keras.utils.timeseries_dataset_from_array``: a ``tf.data`` Dataset of sliding windows over a
timeseries, with Keras' exact semantics (window starts, targets, seeded shuffle of the starts).

Each batch is gathered in one NumPy fancy index (``starts[:, None] + steps``) when it is read,
so the windows are never all materialised.
"""
import numbers

import numpy as np

from ...tensor import Tensor
from .dataset_utils import lazy_batches

__all__ = ["timeseries_dataset_from_array"]

_FN = "timeseries_dataset_from_array"


def _int(value, name, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (
            minimum is not None and value < minimum):
        limit = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{_FN}: {name} must be an int{limit}"
                         f"{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def _array(value, name):
    value = value.data if isinstance(value, Tensor) else np.asarray(value)
    if value.ndim == 0:
        raise ValueError(f"{_FN}: {name} must have a first (time) axis, got a scalar")
    return value


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None, format="tf"):
    """A ``tf.data`` Dataset of windows over ``data`` (Keras'
    ``keras.utils.timeseries_dataset_from_array``).

    Window ``i`` holds the timesteps ``s_i, s_i + sampling_rate, ...`` (``sequence_length`` of
    them) of ``data[start_index:end_index]``, with ``s_i = i * sequence_stride``; there are as
    many windows as fit (and, with ``targets``, at most ``len(targets)``).  The target of the
    window starting at ``data[j]`` is ``targets[j]``.

    Args:
        data: an array (or Tensor) of timesteps along axis 0: (T, ...).
        targets: an array with the target of each start timestep (T', ...), or None (the dataset
            yields windows only).
        sequence_length: timesteps per window.
        sequence_stride: start offset between consecutive windows (default 1).
        sampling_rate: step between the timesteps of a window (default 1).
        batch_size: windows per batch (default 128); None yields single windows.
        shuffle / seed: shuffle the window starts (``numpy.random.RandomState(seed)``, as Keras)
            and each epoch's order (a buffer of ``8 * batch_size``; default False).
        start_index / end_index: only ``data[start_index:end_index]`` is used (defaults: all).

    Returns a Dataset of ``(windows, targets)`` batches, windows of shape
    (batch, sequence_length, ...), or windows alone when ``targets`` is None."""
    data = _array(data, "data")
    n = len(data)
    sequence_length = _int(sequence_length, "sequence_length", 1)
    sequence_stride = _int(sequence_stride, "sequence_stride")
    sampling_rate = _int(sampling_rate, "sampling_rate")
    start_index = _int(start_index, "start_index", allow_none=True)
    end_index = _int(end_index, "end_index", allow_none=True)
    if batch_size is not None:
        batch_size = _int(batch_size, "batch_size", 1)
    if format != "tf":
        raise ValueError(f"{_FN}: ember returns tf.data datasets only (format='tf'), got "
                         f"format={format!r}")
    # Keras' checks, in its order ("if start_index:" -- 0 and None are not checked)
    if start_index:
        if start_index < 0:
            raise ValueError(f"{_FN}: start_index must be 0 or greater, got {start_index}")
        if start_index >= n:
            raise ValueError(f"{_FN}: start_index must be lower than the length of the data "
                             f"({n}), got {start_index}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"{_FN}: end_index must be higher than start_index, got "
                             f"start_index={start_index}, end_index={end_index}")
        if end_index >= n:
            raise ValueError(f"{_FN}: end_index must be lower than the length of the data "
                             f"({n}), got {end_index}")
        if end_index <= 0:
            raise ValueError(f"{_FN}: end_index must be higher than 0, got {end_index}")
    for value, name in ((sampling_rate, "sampling_rate"), (sequence_stride, "sequence_stride")):
        if value <= 0:
            raise ValueError(f"{_FN}: {name} must be higher than 0, got {value}")
        if value >= n:
            raise ValueError(f"{_FN}: {name} must be lower than the length of the data ({n}), "
                             f"got {value}")
    start_index = 0 if start_index is None else start_index
    end_index = n if end_index is None else end_index
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = _array(targets, "targets")
        num_seqs = min(num_seqs, len(targets))
    starts = np.arange(0, max(num_seqs, 0), sequence_stride,
                       dtype=np.int32 if num_seqs < 2**31 - 1 else np.int64)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(starts)
    steps = np.arange(sequence_length) * sampling_rate
    series = data[start_index:end_index]
    labels = None if targets is None else targets[start_index:]

    def windows(positions):
        return series[positions[..., None] + steps]

    if labels is None:
        return lazy_batches(starts, None, windows, batch_size, shuffle, seed)
    return lazy_batches(starts, None, lambda p: (windows(p), labels[p]), batch_size, shuffle,
                        seed)
