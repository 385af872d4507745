"""``keras.utils.PyDataset`` (Keras 3) and ``keras.utils.Sequence`` (tf.keras): a dataset written
in Python whose ``__getitem__(index)`` returns a whole batch, with ``pack_x_y_sample_weight`` /
``unpack_x_y_sample_weight``.

    class Batches(keras.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)          # workers, use_multiprocessing, max_queue_size
            self.x, self.y, self.batch_size = x, y, batch_size
        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)
        def __getitem__(self, index):
            sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
            return self.x[sl], self.y[sl]

    model.fit(Batches(x, y, 64, workers=4, use_multiprocessing=True), epochs=5)

``fit`` / ``evaluate`` / ``predict`` read it through ``ember.train.data_adapters.SequenceBatches``,
which calls ``on_epoch_begin()`` before and ``on_epoch_end()`` after every epoch and asks
:meth:`PyDataset._ember_iterate` for the epoch's batches:

* ``workers > 1`` without multiprocessing: a thread pool calls ``__getitem__``, at most
  ``max_queue_size`` batches ahead;
* ``use_multiprocessing=True``: worker processes (``ember.data.workers``, the machinery of
  ``DataLoader(num_workers=N)``: forked where the platform allows, batch ``k`` built by worker
  ``k % workers``, big arrays handed back through shared memory) started for each epoch, so each
  epoch's workers see the dataset as ``on_epoch_end`` left it (Keras re-sends it too);
* otherwise batches are built in the calling thread.

Either way the batches come back in order, the same values as a single-process run.
"""
import concurrent.futures
import itertools
import math

import numpy as np

from ... import random as _random
from ...data.workers import MultiProcessIterator, WorkerPool
from ...tensor import Tensor

__all__ = ["PyDataset", "Sequence", "pack_x_y_sample_weight", "unpack_x_y_sample_weight"]


def _positive_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"PyDataset: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _numpy_leaves(value):
    """A batch with ember Tensors replaced by their NumPy arrays (what crosses a process)."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, tuple):
        return tuple(_numpy_leaves(v) for v in value)
    if isinstance(value, list):
        return [_numpy_leaves(v) for v in value]
    if isinstance(value, dict):
        return {k: _numpy_leaves(v) for k, v in value.items()}
    return value


class _BatchReader:
    """What ``ember.data.workers`` needs of a loader, for a PyDataset: ``dataset`` (the worker's
    copy), ``_fetch_batch(indices)`` = batch ``indices[0]``, ``_finish_batch`` (none here: the
    fit adapter converts batches)."""

    _fetch = True          # tells the worker to call _fetch_batch(indices) directly

    def __init__(self, dataset):
        self.dataset = dataset

    def _fetch_batch(self, indices, samples=None):
        return _numpy_leaves(self.dataset[int(indices[0])])

    @staticmethod
    def _finish_batch(batch):
        return batch


class PyDataset:
    """Base class of a dataset of batches written in Python (Keras 3's ``keras.utils.PyDataset``).

    Subclasses implement ``__len__`` (the number of batches; or the ``num_batches`` property,
    ``None`` for an endless dataset) and ``__getitem__(index)``, which returns batch ``index`` as
    ``(x, y)``, ``(x, y, sample_weight)``, ``(x,)`` or ``x``; optionally ``on_epoch_begin()`` /
    ``on_epoch_end()`` (called by ``fit`` around each epoch, e.g. to reshuffle).

    Args:
        workers: how many threads (or processes) build batches in parallel (default 1: in the
            calling thread).
        use_multiprocessing: build batches in ``workers`` worker processes instead of threads
            (for CPU-heavy Python code; the dataset is copied into each process, forked).
        max_queue_size: how many batches may be prepared ahead of the one being used (default
            10).
    """

    #: read by ``fit``: ``__getitem__(i)`` is batch ``i``, not a sample
    yields_batches = True

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = _positive_int(workers, "workers", 0)
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = _positive_int(max_queue_size, "max_queue_size", 1)

    # Keras' properties; a subclass that forgot super().__init__() gets the defaults (Keras
    # warns; ember just uses them).
    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @workers.setter
    def workers(self, value):
        self._workers = _positive_int(value, "workers", 0)

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = _positive_int(value, "max_queue_size", 1)

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: a PyDataset must implement "
                                  "__getitem__(index), returning batch `index` as (x, y)")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__}: a PyDataset must implement __len__ "
                                  "(the number of batches) or the num_batches property")

    def __iter__(self):
        try:
            n = self.num_batches
        except NotImplementedError:
            n = None
        for index in (itertools.count() if n is None else range(n)):
            yield self[index]

    def on_epoch_begin(self):
        """Called by ``fit`` at the start of every epoch."""

    def on_epoch_end(self):
        """Called by ``fit`` at the end of every epoch."""

    # -- what fit uses ---------------------------------------------------------------------------
    def _ember_iterate(self, order):
        """The batches at the indices of ``order`` (an iterable, possibly endless), in that order,
        built as the module docstring says."""
        workers = self.workers
        if self.use_multiprocessing and workers >= 1:
            return _in_processes(self, order, workers, self.max_queue_size)
        if workers > 1:
            return _in_threads(self, order, workers, self.max_queue_size)
        return (self[int(i)] for i in order)


def _in_threads(dataset, order, workers, max_queue_size):
    """Batches built by ``workers`` threads, at most ``max_queue_size`` ahead, yielded in order."""
    pending = []
    order = iter(order)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                               thread_name_prefix="ember-PyDataset") as pool:
        try:
            for index in itertools.islice(order, max_queue_size):
                pending.append(pool.submit(dataset.__getitem__, int(index)))
            while pending:
                batch = pending.pop(0).result()
                nxt = next(order, None)
                if nxt is not None:
                    pending.append(pool.submit(dataset.__getitem__, int(nxt)))
                yield batch
        finally:   # an abandoned epoch: drop what was not started yet
            for future in pending:
                future.cancel()


def _in_processes(dataset, order, workers, max_queue_size):
    """Batches built in ``workers`` processes (``ember.data.workers``), yielded in order; the pool
    lives for this pass and is stopped when it ends or is abandoned."""
    base_seed = int(_random.default_generator().integers(0, 2**62))
    reader = _BatchReader(dataset)
    pool = WorkerPool(reader, workers, base_seed, None, None)
    ahead = max(1, math.ceil(max_queue_size / workers))
    batches = MultiProcessIterator(reader, pool,
                                   (np.array([int(i)]) for i in order), ahead, True, 0)
    try:
        yield from batches
    finally:
        batches.close()


#: tf.keras' ``keras.utils.Sequence``: Keras 3 made it the same class as PyDataset
#: (``workers`` / ``use_multiprocessing`` / ``max_queue_size`` go to ``__init__``).
Sequence = PyDataset


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` of ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``
    (missing parts None), as Keras; for a custom ``train_step``."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) in (1, 2, 3):
        return tuple(data) + (None,) * (3 - len(data))
    raise ValueError(f"unpack_x_y_sample_weight: data must be x, (x,), (x, y) or "
                     f"(x, y, sample_weight), got a tuple of {len(data)} items")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The tuple ``fit`` uses: ``x`` alone (``(x,)`` when ``x`` is a tuple/list, so it is not
    read as ``(x, y)``), ``(x, y)`` or ``(x, y, sample_weight)``, as Keras."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)
