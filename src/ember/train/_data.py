"""How ``fit`` / ``evaluate`` / ``predict`` walk their input in batches.

Three sources, one interface (``steps``, ``samples``, ``epoch(e)`` yielding ``(x, y)`` batches of
Tensors, ``peek(n)`` for the pre-flight check):

* :class:`ArrayBatches` -- NumPy arrays / Tensors (or a tuple/list/dict of them for a model with
  several inputs).  Each batch is one slice (in order) or one fancy index with a slice of the
  epoch's permutation (shuffled) per array: no per-sample Python work.
* :class:`DatasetBatches` -- a map-style dataset (``len`` + ``__getitem__``).  A TensorDataset (its
  ``arrays``) goes through ArrayBatches; a dataset with ``get_batch(indices)`` gathers each batch
  at once; any other dataset is read sample by sample and stacked (its ``__getitem__`` is Python
  code anyway).
* :class:`LoaderBatches` -- a DataLoader or any re-iterable of batches ``(x, y)``.

Shuffling: epoch ``e``'s order is ``numpy.random.default_rng([seed, e]).permutation(n)``, a pure
function of (seed, epoch) -- the convention of ``ember.data``'s samplers -- so a run resumed with
``initial_epoch`` sees the same orders.  ``seed=None`` draws one seed per ``fit`` from ember's
global generator (so ``ember.manual_seed`` makes runs repeatable).
"""
import math
import numbers

import numpy as np

from .. import random as _random
from ..tensor import Tensor

__all__ = ["ArrayBatches", "DatasetBatches", "LoaderBatches", "make_batches", "as_array",
           "resolve_seed", "Structure"]


def resolve_seed(seed):
    if seed is None:
        return int(_random.default_generator().integers(0, 2**63 - 1))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"fit: seed must be a non-negative int or None, got {seed!r}")
    return int(seed)


def epoch_permutation(seed, epoch, n):
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


def as_array(value):
    """A NumPy array for an array-like input (Tensors give their data, no copy)."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    return np.asarray(value)


def _wrap(array):
    return Tensor._wrap(array)


class Structure:
    """The layout of a model input or target: one array, a tuple/list of arrays (several inputs:
    ``model(*xs)``), or a dict (``model(**xs)``).  ``arrays`` is the flat list; ``pack`` rebuilds
    the structure from a list of batch arrays (wrapped as Tensors)."""

    def __init__(self, value, what):
        self.what = what
        if isinstance(value, dict):
            self.kind, self.keys = "dict", list(value)
            self.arrays = [as_array(v) for v in value.values()]
        elif isinstance(value, (tuple, list)) and value and all(
                isinstance(v, (np.ndarray, Tensor)) for v in value):
            self.kind, self.keys = "tuple", None
            self.arrays = [as_array(v) for v in value]
        else:
            self.kind, self.keys = "array", None
            self.arrays = [as_array(value)]

    def names(self):
        if self.kind == "dict":
            return [f"{self.what}[{k!r}]" for k in self.keys]
        if self.kind == "tuple":
            return [f"{self.what}[{i}]" for i in range(len(self.arrays))]
        return [self.what]

    def pack(self, parts):
        parts = [_wrap(p) for p in parts]
        if self.kind == "array":
            return parts[0]
        if self.kind == "dict":
            return dict(zip(self.keys, parts))
        return tuple(parts)


class ArrayBatches:
    """Batches of in-memory arrays (see the module docstring)."""

    def __init__(self, x, y, batch_size, shuffle=False, seed=None, indices=None):
        self.x = x if isinstance(x, Structure) else Structure(x, "x")
        self.y = None if y is None else (y if isinstance(y, Structure) else Structure(y, "y"))
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        n = len(self.x.arrays[0]) if self.x.arrays[0].ndim else 0
        #: samples in the arrays the user passed (before a validation_split subset): error
        #: messages about a peeked batch quote the user's shape, not the probe's (peek_samples)
        self.given_samples = n
        if indices is not None:
            # a subset (validation_split): take it once, so batches are plain slices again
            self.x = _subset(self.x, indices)
            if self.y is not None:
                self.y = _subset(self.y, indices)
            n = len(self.x.arrays[0])
        self.samples = n
        self.steps = math.ceil(n / self.batch_size) if n else 0

    def set_targets(self, arrays):
        self.y.arrays = list(arrays)

    def peek(self, n):
        n = min(n, self.samples)
        x = self.x.pack([a[:n] for a in self.x.arrays])
        y = None if self.y is None else self.y.pack([a[:n] for a in self.y.arrays])
        return x, y

    def epoch(self, epoch=0):
        xs = self.x.arrays
        ys = self.y.arrays if self.y is not None else None
        pack_x, pack_y = self.x.pack, (self.y.pack if self.y is not None else None)
        bs, n = self.batch_size, self.samples
        order = epoch_permutation(self.seed, epoch, n) if self.shuffle else None
        for start in range(0, n, bs):
            if order is None:
                sl = slice(start, start + bs)
                xb = [a[sl] for a in xs]
                yb = None if ys is None else [a[sl] for a in ys]
            else:
                idx = order[start:start + bs]
                # take() is about twice as fast as fancy indexing for row gathers
                xb = [a.take(idx, axis=0) for a in xs]
                yb = None if ys is None else [a.take(idx, axis=0) for a in ys]
            yield pack_x(xb), (None if yb is None else pack_y(yb))


def _subset(structure, indices):
    out = Structure.__new__(Structure)
    out.what, out.kind, out.keys = structure.what, structure.kind, structure.keys
    out.arrays = [a[indices] for a in structure.arrays]
    return out


def _split_sample(sample):
    """(x, y) from one dataset item or one loader batch: (x, y), (x,), or x alone."""
    if isinstance(sample, (tuple, list)):
        if len(sample) == 2:
            return sample[0], sample[1]
        if len(sample) == 1:
            return sample[0], None
        raise ValueError(f"expected batches of (x, y) or (x,), got a {type(sample).__name__} of "
                         f"{len(sample)} items; extra items such as sample weights are not supported")
    if isinstance(sample, dict) and "x" in sample:
        return sample["x"], sample.get("y")
    return sample, None


def _to_tensors(value):
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        return Tensor._wrap(value)
    if isinstance(value, dict):
        return {k: _to_tensors(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_to_tensors(v) for v in value)
    return Tensor._wrap(np.asarray(value))


def _convert(source, x, y):
    """Apply the source's input / target conversions (found by the pre-flight check), then wrap."""
    if source.transform_x is not None and x is not None and not isinstance(x, (tuple, list, dict)):
        x = source.transform_x(as_array(x))
    if source.transform_y is not None and y is not None:
        y = source.transform_y(as_array(y))
    return _to_tensors(x), _to_tensors(y)


def _stack(items):
    first = items[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_stack([it[i] for it in items]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _stack([it[k] for it in items]) for k in first}
    return np.stack([as_array(it) for it in items])


def _batch_fetcher(dataset):
    """``indices -> batch`` for datasets that gather many samples at once (``get_batch``, or a
    Subset of such a dataset), else None."""
    try:
        from ..data.dataset import batch_fetcher
    except ImportError:   # ember.data is optional for this module
        get_batch = getattr(dataset, "get_batch", None)
        return get_batch if callable(get_batch) else None
    return batch_fetcher(dataset)


class DatasetBatches:
    """Batches of a map-style dataset (see the module docstring)."""

    def __init__(self, dataset, batch_size, shuffle=False, seed=None, indices=None):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.indices = np.arange(len(dataset)) if indices is None else np.asarray(indices)
        self.samples = len(self.indices)
        self.given_samples = len(dataset)
        self.steps = math.ceil(self.samples / self.batch_size) if self.samples else 0
        self._get_batch = _batch_fetcher(dataset)
        self.transform_x = None
        self.transform_y = None

    def _fetch(self, idx):
        if self._get_batch is not None:
            batch = self._get_batch(idx)
        else:
            batch = _stack([self.dataset[int(i)] for i in idx])
        x, y = _split_sample(batch)
        return _convert(self, x, y)

    def peek(self, n):
        return self._fetch(self.indices[:min(n, self.samples)])

    def epoch(self, epoch=0):
        order = self.indices
        if self.shuffle:
            order = order[epoch_permutation(self.seed, epoch, self.samples)]
        for start in range(0, self.samples, self.batch_size):
            yield self._fetch(order[start:start + self.batch_size])


class LoaderBatches:
    """Batches from a DataLoader or any re-iterable of ``(x, y)`` batches."""

    def __init__(self, loader):
        self.loader = loader
        try:
            self.steps = len(loader)
        except TypeError:
            self.steps = None
        dataset = getattr(loader, "dataset", None)
        try:
            self.samples = len(dataset) if dataset is not None else None
        except TypeError:
            self.samples = None
        self.batch_size = getattr(loader, "batch_size", None)
        self.transform_x = None
        self.transform_y = None
        self._one_shot = iter(loader) is loader      # a generator: only one pass

    def peek(self, n):
        if self._one_shot:
            raise TypeError("fit: x is a one-shot iterator (a generator); pass a DataLoader, a "
                            "Dataset or arrays, which can be read once per epoch")
        for batch in self.loader:
            x, y = _split_sample(batch)
            return self._convert(x, y)
        return None

    def _convert(self, x, y):
        return _convert(self, x, y)

    def epoch(self, epoch=0):
        set_epoch = getattr(self.loader, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
        for batch in self.loader:
            x, y = _split_sample(batch)
            yield self._convert(x, y)


def _is_array_like(value):
    if isinstance(value, (np.ndarray, Tensor, numbers.Number)):
        return True
    if isinstance(value, (list, tuple)):
        return True
    return hasattr(value, "__array__")


def is_dataset(value):
    return (not _is_array_like(value) and not isinstance(value, dict)
            and hasattr(value, "__getitem__") and hasattr(value, "__len__"))


def is_loader(value):
    return (not _is_array_like(value) and not isinstance(value, dict)
            and not is_dataset(value) and hasattr(value, "__iter__"))


def make_batches(x, y, batch_size, shuffle, seed, fn):
    """The batch source for ``x`` / ``y`` (arrays, Dataset or DataLoader); ``fn`` names the
    calling method in errors."""
    if is_loader(x) or is_dataset(x):
        if y is not None:
            raise ValueError(f"{fn}: x is a {type(x).__name__}, which yields its own targets, so y "
                             "must be None; put the targets in the dataset instead")
        if is_loader(x):
            return LoaderBatches(x)
        arrays = getattr(x, "arrays", None)
        if isinstance(arrays, tuple) and arrays and all(isinstance(a, np.ndarray) for a in arrays):
            if len(arrays) > 2:
                raise ValueError(f"{fn}: the dataset has {len(arrays)} arrays per sample; fit "
                                 "expects (x, y) or (x,)")
            return ArrayBatches(arrays[0], arrays[1] if len(arrays) == 2 else None, batch_size,
                                shuffle, seed)
        return DatasetBatches(x, batch_size, shuffle, seed)
    return ArrayBatches(x, y, batch_size, shuffle, seed)
