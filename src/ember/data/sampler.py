"""Samplers: which dataset indices an epoch visits, and in what order.

Every random order is a pure function of ``(seed, epoch)``: ``RandomSampler(n, seed=7)`` set to
epoch 3 gives the same permutation in any process, which is what makes a resumed run repeat the
epoch it stopped in.  A seed of ``None`` is drawn once from ember's global generator, so
``ember.manual_seed`` makes shuffles reproducible without passing seeds around.

Samplers iterate Python ints (the PyTorch protocol) and also offer ``indices()``, the whole epoch
as one int64 array, which the DataLoader uses to gather batches without a per-item loop.
"""
import numbers

import numpy as np

from .. import random as _random

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "BatchSampler"]


# -- seeds (shared by samplers, splits and the random transforms) ---------------------------------
def resolve_seed(seed, owner):
    """An integer seed: ``seed`` itself, or one drawn from ember's global generator if None."""
    if seed is None:
        return int(_random.default_generator().integers(0, 2**63 - 1))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"{owner}: seed must be a non-negative int or None, got {seed!r}")
    return int(seed)


def generator_for(seed, *stream):
    """A fresh ``numpy.random.Generator`` for ``(seed, *stream)``: same inputs, same numbers."""
    return np.random.default_rng([int(seed), *[int(s) for s in stream]])


def as_generator(seed, owner):
    """``(generator, integer seed or None)`` from an int, None or a ``numpy.random.Generator``.

    A Generator passed in is used as is; its seed is unknown, so ``set_epoch`` cannot reseed it.
    """
    if isinstance(seed, np.random.Generator):
        return seed, None
    seed = resolve_seed(seed, owner)
    return generator_for(seed), seed


def _length_of(data_source, owner):
    if isinstance(data_source, numbers.Integral) and not isinstance(data_source, bool):
        n = int(data_source)
    else:
        try:
            n = len(data_source)
        except TypeError:
            raise TypeError(f"{owner}: data_source must be a dataset with len() or an int, "
                            f"got {type(data_source).__name__}") from None
    if n < 0:
        raise ValueError(f"{owner}: data_source length must be >= 0, got {n}")
    return n


def _check_epoch(epoch, owner):
    if isinstance(epoch, (bool, np.bool_)) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise TypeError(f"{owner}.set_epoch: epoch must be a non-negative int, got {epoch!r}")
    return int(epoch)


# -- samplers ----------------------------------------------------------------------------------
class Sampler:
    """Base class: an iterable of dataset indices for one epoch.

    Subclasses define ``__iter__`` and ``__len__``; ``indices()`` (the epoch as an int64 array)
    defaults to collecting ``__iter__``; ``set_epoch(epoch)`` stores ``self.epoch``.
    """

    epoch = 0

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def indices(self):
        """The indices of the current epoch as a 1-D int64 NumPy array."""
        return np.fromiter(iter(self), dtype=np.int64)

    def set_epoch(self, epoch):
        """Select the epoch whose order the next iteration produces."""
        self.epoch = _check_epoch(epoch, type(self).__name__)


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., n-1`` in order, every epoch.

    ``data_source`` is a dataset (anything with ``len``) or the number of items.
    """

    def __init__(self, data_source):
        self.num_samples = _length_of(data_source, "SequentialSampler")

    def indices(self):
        return np.arange(self.num_samples, dtype=np.int64)

    def __iter__(self):
        return iter(range(self.num_samples))

    def __len__(self):
        return self.num_samples


class RandomSampler(Sampler):
    """A random order of ``0..n-1`` that is a pure function of ``(seed, epoch)``.

    Args:
        data_source: a dataset (anything with ``len``) or the number of items.
        seed: int, or None to draw one from ember's global generator now (``ember.manual_seed``).
        replacement: draw ``num_samples`` indices with replacement instead of a permutation.
        num_samples: how many indices per epoch (default ``n``; only with ``replacement=True``
            may it exceed ``n``).

    ``set_epoch(e)`` selects epoch ``e``; the sampler never advances on its own (the DataLoader
    advances it), so iterating twice without ``set_epoch`` repeats the same order.
    """

    def __init__(self, data_source, seed=None, replacement=False, num_samples=None):
        self.n = _length_of(data_source, "RandomSampler")
        self.seed = resolve_seed(seed, "RandomSampler")
        self.replacement = bool(replacement)
        if num_samples is None:
            num_samples = self.n
        if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or num_samples < 0:
            raise ValueError(f"RandomSampler: num_samples must be a non-negative int, got {num_samples!r}")
        if not self.replacement and num_samples > self.n:
            raise ValueError(
                f"RandomSampler: num_samples={num_samples} exceeds the {self.n} items; "
                "pass replacement=True to draw with replacement")
        if self.replacement and num_samples > 0 and self.n == 0:
            raise ValueError("RandomSampler: cannot draw with replacement from an empty dataset")
        self.num_samples = int(num_samples)
        self.epoch = 0

    def indices(self):
        rng = generator_for(self.seed, self.epoch)
        if self.replacement:
            return rng.integers(0, self.n, size=self.num_samples, dtype=np.int64)
        order = rng.permutation(self.n).astype(np.int64, copy=False)
        return order[:self.num_samples] if self.num_samples < self.n else order

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples

    def __repr__(self):
        return f"RandomSampler(n={self.n}, seed={self.seed}, epoch={self.epoch})"


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into int64 arrays of ``batch_size`` (the last one shorter
    unless ``drop_last``).  ``set_epoch`` is forwarded to the wrapped sampler."""

    def __init__(self, sampler, batch_size, drop_last=False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"BatchSampler: batch_size must be a positive int, got {batch_size!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)

    def set_epoch(self, epoch):
        super().set_epoch(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __iter__(self):
        order = epoch_indices(self.sampler)
        return iter(split_batches(order, self.batch_size, self.drop_last))

    def __len__(self):
        return number_of_batches(len(self.sampler), self.batch_size, self.drop_last)


# -- helpers used by the DataLoader --------------------------------------------------------------
def epoch_indices(sampler):
    """The epoch's indices from any sampler, as an int64 array (``indices()`` when it has one)."""
    if hasattr(sampler, "indices") and callable(sampler.indices):
        order = np.asarray(sampler.indices())
    else:   # a plain iterable of ints (e.g. a list, or a third-party sampler)
        order = np.fromiter(iter(sampler), dtype=np.int64)
    if order.ndim != 1 or (order.size and order.dtype.kind not in "iu"):
        raise TypeError(f"sampler {type(sampler).__name__} must produce integer indices, "
                        f"got an array of dtype {order.dtype} and shape {order.shape}")
    return order.astype(np.int64, copy=False)


def number_of_batches(n, batch_size, drop_last):
    return n // batch_size if drop_last else -(-n // batch_size)


def split_batches(order, batch_size, drop_last):
    """Views of ``order`` cut into consecutive batches (slices, no copies, no per-item loop)."""
    count = number_of_batches(len(order), batch_size, drop_last)
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(count)]
