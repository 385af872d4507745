"""DataLoader: iterate a dataset in (shuffled) batches of ember Tensors.

Fast path: a ``TensorDataset`` (a ``Subset`` of one, or any dataset with ``get_batch(indices)``)
is batched with one fancy index per array, never a Python loop over samples.  Other datasets are
read item by item and stacked by ``default_collate`` (or your ``collate_fn``).

Reproducibility: with ``shuffle=True`` the order of epoch ``e`` is a pure function of
``(seed, e)``; ``set_epoch(e)`` selects the epoch (to resume a run exactly where it stopped) and
each iteration otherwise moves on to the next epoch.

Worker processes: ``num_workers=N`` builds batches in N processes (``ember.data.workers``), with
the same batches in the same order as ``num_workers=0``; big arrays come back through shared
memory.  ``get_worker_info()`` works inside workers as in PyTorch.
"""
import numbers
import queue
import threading

import numpy as np

from ..tensor import Tensor
from .dataset import TensorDataset, batch_fetcher
from .sampler import (RandomSampler, SequentialSampler, epoch_indices, generator_for,
                      number_of_batches, resolve_seed, split_batches)
from .workers import MultiProcessIterator, WorkerPool

__all__ = ["DataLoader", "default_collate"]


def default_collate(samples):
    """Stack a list of samples into a batch of NumPy arrays, field by field.

    A sample is an array/number/Tensor (stacked into one array), a tuple or list of them (one
    stacked array per position), a dict (one per key) or a string (kept as a list of strings).
    """
    first = samples[0]
    if isinstance(first, (tuple, list)):
        width = len(first)
        if any(len(s) != width for s in samples):
            raise ValueError(f"default_collate: samples have different numbers of fields "
                             f"({sorted({len(s) for s in samples})}); every sample must have {width}")
        return tuple(default_collate([s[i] for s in samples]) for i in range(width))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, str):
        return list(samples)
    arrays = [s.data if isinstance(s, Tensor) else np.asarray(s) for s in samples]
    try:
        return np.stack(arrays)
    except ValueError:
        shapes = sorted({a.shape for a in arrays}, key=str)
        raise ValueError(f"default_collate: cannot stack samples of different shapes {shapes[:4]}; "
                         "pass collate_fn= to batch variable-size samples (e.g. with padding)") from None


def _to_tensor(value):
    """Wrap a NumPy batch as a Tensor without copying where the dtype already suits ember."""
    if isinstance(value, Tensor) or not isinstance(value, np.ndarray):
        return value
    kind = value.dtype.kind
    if kind == "f":
        if value.dtype == np.float64:   # ember's default float is float32 (as ember.tensor does)
            value = value.astype(np.float32)
    elif kind == "u" and value.dtype != np.uint8:
        value = value.astype(np.int64)   # ember holds uint8 but no wider unsigned ints
    elif kind not in "ib":
        return value   # strings / objects stay NumPy (e.g. raw texts for a tokenizer)
    return Tensor.wrap(value)


def _check_int(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"DataLoader: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


_BATCH, _END, _ERROR = 0, 1, 2


class DataLoader:
    """Iterate ``dataset`` in batches of ember Tensors.

    Args:
        dataset: a Dataset (``len`` + indexing); a NumPy array or Tensor is also accepted and then
            batches are single Tensors.
        batch_size: samples per batch (default 1).
        shuffle: visit samples in a random order that is a pure function of ``(seed, epoch)``.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        collate_fn: ``list of samples -> batch``; disables the one-gather fast path.
        sampler: an iterable of indices (e.g. a ``DistributedSampler``); excludes ``shuffle``.
            ``set_epoch`` is forwarded to it, and if you call ``sampler.set_epoch(e)`` yourself
            (the PyTorch idiom) the loader follows that epoch.
        seed: int seed for shuffling; None draws one from ember's global generator now, so
            ``ember.manual_seed`` makes runs reproducible.
        transform: callable applied to the whole first field of each batch (a NumPy array, e.g.
            images (N, H, W, C)) before it becomes a Tensor; its ``set_epoch`` is called each epoch
            when it has one, so seeded augmentation is reproducible per epoch too.
        prefetch: if > 0, prepare up to this many batches ahead in one background thread
            (``num_workers=0`` only).
        num_workers: build batches in this many worker processes (0: in the main process).
            Batch ``k`` goes to worker ``k % num_workers`` and batches come back in order, so an
            epoch is the same as with ``num_workers=0``.  Arrays of 16 KiB or more come back
            through shared memory.  With ``fork`` (Linux) the dataset is inherited; with
            ``spawn`` it must be picklable.  ``transform`` still runs in the main process, so its
            seeded random stream matches ``num_workers=0``; put per-sample work that should run
            in parallel in the dataset's ``__getitem__`` or in ``collate_fn``.
        pin_memory: accepted for PyTorch compatibility; a no-op (ember's arrays live in
            ordinary host memory and there is no separate device copy to speed up).
        persistent_workers: keep the worker processes between epochs (until ``close()`` or the
            loader is garbage-collected) instead of starting them each epoch.
        worker_init_fn: ``worker_init_fn(worker_id)`` runs in each worker after seeding.
        prefetch_factor: batches each worker prepares ahead (default 2; needs num_workers > 0).
        timeout: if > 0, seconds to wait for a batch from the workers before raising.
        multiprocessing_context: ``'fork'``, ``'spawn'``, ``'forkserver'`` or a context; default
            ``fork`` where available.

    Worker seeds: each start of the workers (every epoch; once with ``persistent_workers``) draws
    a base seed (from ``(seed, epoch)`` when ``seed`` is given, else from ember's global
    generator); worker ``i`` seeds Python's ``random``, NumPy's global state and ember's generator
    with ``base_seed + i``.  An error in a worker is raised again in
    the main process, naming the worker and the sample index; workers and their shared memory are
    released when the epoch ends, on an error or KeyboardInterrupt, and when the iterator is
    dropped.

    Iterating yields a tuple of Tensors, one per dataset field (a single Tensor when the dataset's
    samples are single arrays); float64 data becomes float32.  ``len(loader)`` is the number of
    batches per epoch.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
                 sampler=None, seed=None, transform=None, prefetch=0, num_workers=0,
                 pin_memory=False, persistent_workers=False, worker_init_fn=None,
                 prefetch_factor=None, timeout=0, multiprocessing_context=None):
        self._single_field = False
        if isinstance(dataset, (np.ndarray, Tensor)):
            dataset = TensorDataset(dataset)
            self._single_field = True
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__ (a Dataset, "
                            f"TensorDataset or array), got {type(dataset).__name__}")
        if len(dataset) == 0:
            raise ValueError("DataLoader: dataset is empty (0 samples); check how it was built "
                             "(an empty file, a split with size 0, a filter that removed everything)")
        self.dataset = dataset
        self.batch_size = _check_int(batch_size, "batch_size", 1)
        self.drop_last = bool(drop_last)
        self.prefetch = _check_int(prefetch, "prefetch", 0)
        self.num_workers = _check_int(num_workers, "num_workers", 0)
        self.pin_memory = bool(pin_memory)   # no-op: see the class docstring
        if self.num_workers == 0 and (persistent_workers or prefetch_factor is not None):
            raise ValueError("DataLoader: persistent_workers and prefetch_factor need "
                             "num_workers > 0 (they configure worker processes)")
        if self.num_workers and self.prefetch:
            raise ValueError("DataLoader: prefetch= (a background thread) is for num_workers=0; "
                             "with worker processes use prefetch_factor=")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be callable, got "
                            f"{type(worker_init_fn).__name__}")
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(f"DataLoader: timeout must be a number >= 0, got {timeout!r}")
        self.persistent_workers = bool(persistent_workers)
        self.prefetch_factor = 2 if prefetch_factor is None else _check_int(prefetch_factor,
                                                                            "prefetch_factor", 1)
        self.worker_init_fn = worker_init_fn
        self.timeout = float(timeout)
        self.multiprocessing_context = multiprocessing_context
        self._pool = None
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")
        self.collate_fn = collate_fn
        self.transform = transform
        self.shuffle = bool(shuffle)
        if sampler is not None:
            if self.shuffle:
                raise ValueError("DataLoader: pass either shuffle=True or sampler=, not both "
                                 "(the sampler decides the order)")
            self.seed = None if seed is None else resolve_seed(seed, "DataLoader")
            self.sampler = sampler
        elif self.shuffle:
            self.seed = resolve_seed(seed, "DataLoader")
            self.sampler = RandomSampler(len(dataset), seed=self.seed)
        else:
            self.seed = None if seed is None else resolve_seed(seed, "DataLoader")
            self.sampler = SequentialSampler(len(dataset))
        self._fetch = batch_fetcher(dataset) if collate_fn is None else None
        # Start from the sampler's own epoch, so that `sampler.set_epoch(e)` called before or
        # after building the loader (the PyTorch idiom) is honoured.
        sampler_epoch = getattr(self.sampler, "epoch", None) if hasattr(self.sampler, "set_epoch") else None
        self._epoch = int(sampler_epoch) if isinstance(sampler_epoch, numbers.Integral) else 0
        self._forwarded_epoch = self._epoch if sampler_epoch is not None else None
        if self.drop_last and len(self) == 0:
            raise ValueError(f"DataLoader: drop_last=True with batch_size={self.batch_size} larger "
                             f"than the {len(self.sampler)} samples leaves no batch; lower batch_size")

    # -- epochs --------------------------------------------------------------------------------
    @property
    def epoch(self):
        """The epoch the next iteration will produce."""
        return self._epoch

    def set_epoch(self, epoch):
        """Make the next iteration produce epoch ``epoch`` (later iterations continue from it)."""
        if isinstance(epoch, (bool, np.bool_)) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise TypeError(f"DataLoader.set_epoch: epoch must be a non-negative int, got {epoch!r}")
        self._epoch = int(epoch)
        self._forward_epoch(self._epoch)

    def _forward_epoch(self, epoch):
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
            self._forwarded_epoch = epoch

    def _begin_epoch(self):
        epoch = self._epoch
        sampler_epoch = getattr(self.sampler, "epoch", None)
        if self._forwarded_epoch is not None and sampler_epoch is not None \
                and sampler_epoch != self._forwarded_epoch:
            epoch = int(sampler_epoch)   # the user called sampler.set_epoch directly: follow it
        self._forward_epoch(epoch)
        if self.transform is not None and hasattr(self.transform, "set_epoch"):
            self.transform.set_epoch(epoch)
        self._epoch = epoch + 1
        return epoch

    def state_dict(self):
        """``{'seed', 'epoch'}``: enough to rebuild the same loader and resume at the next epoch."""
        return {"seed": self.seed, "epoch": self._epoch}

    def load_state_dict(self, state):
        if self.shuffle and state.get("seed") is not None and state["seed"] != self.seed:
            self.seed = resolve_seed(state["seed"], "DataLoader.load_state_dict")
            self.sampler = RandomSampler(len(self.dataset), seed=self.seed)
            self._forwarded_epoch = None
        self.set_epoch(state["epoch"])

    # -- iteration -----------------------------------------------------------------------------
    def __len__(self):
        return number_of_batches(len(self.sampler), self.batch_size, self.drop_last)

    def __iter__(self):
        epoch = self._begin_epoch()
        batches = split_batches(epoch_indices(self.sampler), self.batch_size, self.drop_last)
        if self.num_workers:
            return self._iterate_workers(batches, epoch)
        if self.prefetch:
            return self._iterate_prefetching(batches)
        return (self._make_batch(indices) for indices in batches)

    def _iterate_workers(self, batches, epoch):
        if self.seed is not None:
            base_seed = int(generator_for(self.seed, epoch, 0x3D).integers(0, 2**62))
        else:
            base_seed = resolve_seed(None, "DataLoader")
        if self.persistent_workers:
            if self._pool is None or self._pool.closed:
                self._pool = WorkerPool(self, self.num_workers, base_seed, self.worker_init_fn,
                                        self.multiprocessing_context)
            pool, own = self._pool, False
        else:
            pool, own = WorkerPool(self, self.num_workers, base_seed, self.worker_init_fn,
                                   self.multiprocessing_context), True
        return MultiProcessIterator(self, pool, batches, self.prefetch_factor, own, self.timeout)

    def close(self):
        """Stop the persistent worker processes, if any (also done when the loader is collected)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __getstate__(self):   # a loader pickled (e.g. for spawn workers) travels without its pool
        state = dict(self.__dict__)
        state["_pool"] = None
        return state

    def _make_batch(self, indices):
        return self._finish_batch(self._fetch_batch(indices))

    def _fetch_batch(self, indices, samples=None):
        """The batch at ``indices`` as NumPy arrays (the part a worker process does)."""
        if self._fetch is not None:
            batch = self._fetch(indices)
        else:
            if samples is None:
                samples = [self.dataset[i] for i in indices.tolist()]
            batch = (self.collate_fn or default_collate)(samples)
        if self._single_field:
            batch = batch[0]
        if isinstance(batch, list) and batch and not isinstance(batch[0], str):
            batch = tuple(batch)
        return batch

    def _finish_batch(self, batch):
        """Apply ``transform`` and wrap the arrays as Tensors (always in the main process)."""
        if self.transform is not None:
            if isinstance(batch, tuple):
                batch = (self.transform(batch[0]),) + batch[1:]
            elif isinstance(batch, (np.ndarray, Tensor)):
                batch = self.transform(batch)
            else:
                raise TypeError(f"DataLoader: transform needs batches that are arrays or tuples of "
                                f"arrays, got {type(batch).__name__}; apply it in collate_fn instead")
        if isinstance(batch, tuple):
            return tuple(_to_tensor(field) for field in batch)
        if isinstance(batch, dict):
            return {key: _to_tensor(field) for key, field in batch.items()}
        return _to_tensor(batch)

    def _iterate_prefetching(self, batches):
        """Prepare batches in one background thread, at most ``prefetch`` ahead.

        A generator: the thread starts at the first ``next()`` and is stopped and joined when the
        loop ends, raises, or is abandoned (``break`` closes the generator)."""
        pending = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def put(item):
            while not stop.is_set():   # wake up regularly so an abandoned loop can end the thread
                try:
                    pending.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def produce():
            try:
                for indices in batches:
                    if not put((_BATCH, self._make_batch(indices))):
                        return
                put((_END, None))
            except BaseException as error:   # handed to the consuming thread and re-raised there
                put((_ERROR, error))

        worker = threading.Thread(target=produce, name="ember-DataLoader-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = pending.get()
                if kind == _END:
                    return
                if kind == _ERROR:
                    raise value
                yield value
        finally:
            stop.set()
            while worker.is_alive():   # drain so a producer blocked in put() sees the stop flag
                try:
                    pending.get_nowait()
                except queue.Empty:
                    pass
                worker.join(timeout=0.05)

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, batches={len(self)})")
