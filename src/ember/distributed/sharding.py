"""This rank's share of ``Model.fit``'s batch sources (``ember.train.data_adapters``), for the
data-parallel fit session (``fit.py``).

* arrays and map-style datasets: each epoch's permutation (the one fit draws with the shared seed)
  dealt out round-robin, as :class:`DistributedSampler` does -- the training data padded by
  repeating its first samples, so that every rank takes the same number of steps; validation data
  split without padding (so validation metrics equal single-process ones);
* a data loader that is not sharded already: batches ``r, r + p, ...`` of its epoch.
"""
import math

from ..backend import np
from ..train import data_adapters as adapters
from . import comm
from .sampler import DistributedSampler

__all__ = ["shard_batches"]


class _ShardedSamples:
    """This rank's share of an in-memory array source or a map-style dataset source (same
    interface as the sources of ``ember.train.data_adapters``: ``steps``, ``samples``,
    ``epoch(e)``, ``peek(n)``)."""

    def __init__(self, source, pad):
        self.source = source
        self.batch_size = source.batch_size
        n = source.samples
        p, r = comm.world_size(), comm.rank()
        if pad:
            # Training: the DistributedSampler's order (epoch_permutation(seed, e), padded,
            # round-robin), so every rank has ceil(n / p) samples and the same number of steps.
            self.sampler = DistributedSampler(n, p, r, shuffle=source.shuffle,
                                              seed=source.seed if source.shuffle else 0)
            self.samples = len(self.sampler)
        else:
            self.sampler = None
            self._positions = np.arange(r, n, p)
            self.samples = len(self._positions)
        self.steps = math.ceil(self.samples / self.batch_size) if self.samples else 0

    def peek(self, n):
        return self.source.peek(n)

    def positions(self, epoch):
        """This rank's sample positions (in the source's order) for epoch ``epoch``."""
        if self.sampler is None:
            return self._positions
        self.sampler.set_epoch(epoch)
        return self.sampler.indices()

    def epoch(self, epoch=0):
        mine = self.positions(epoch)
        bs = self.batch_size
        for start in range(0, len(mine), bs):
            yield self.source.take(mine[start:start + bs])


class _RoundRobinBatches:
    """This rank's share of a data loader that is not sharded already: batches ``r, r + p, ...``
    of the loader's epoch (every rank reads the whole loader).  For training, only the first
    ``p * (len // p)`` batches are used so that every rank takes the same number of steps."""

    def __init__(self, source, training):
        self.source = source
        self.batch_size = source.batch_size
        p = comm.world_size()
        total = source.steps
        if total is None:
            raise TypeError("Model.fit: with several ranks the data loader must have a len() so "
                            "that every rank takes the same number of steps; pass a Dataset or "
                            "arrays, or a DataLoader with sampler=ember.distributed."
                            "DistributedSampler(dataset)")
        if training:
            self.steps = total // p
            if self.steps == 0:
                raise ValueError(f"Model.fit: the data loader has {total} batches, fewer than the "
                                 f"{p} ranks; every rank needs at least one")
            self._limit = self.steps * p
        else:
            self.steps = len(range(comm.rank(), total, p))
            self._limit = total
        self.samples = source.samples

    def peek(self, n):
        return self.source.peek(n)

    def epoch(self, epoch=0):
        p, r = comm.world_size(), comm.rank()
        for i, batch in enumerate(self.source.epoch(epoch)):
            if i >= self._limit:
                break
            if i % p == r:
                yield batch


def _check_loader_order(loader):
    """Every rank must read the same batches in the same order from a loader it shards by batch:
    compare the loaders' shuffling seeds (a mismatch raises on every rank)."""
    seed = getattr(loader, "seed", None) if getattr(loader, "shuffle", False) else None
    root = comm.broadcast_object(seed if isinstance(seed, (int, type(None))) else repr(seed))
    differs = np.array([root != (seed if isinstance(seed, (int, type(None))) else repr(seed))],
                       dtype=np.int64)
    comm.allreduce(differs, op="max")
    if differs[0]:
        raise ValueError("Model.fit: the shuffling DataLoader has a different seed on each rank, "
                         "so the ranks would not split one epoch between them. Fix: "
                         "DataLoader(..., shuffle=True, seed=0), or "
                         "sampler=ember.distributed.DistributedSampler(dataset)")


def shard_batches(source, training=True):
    """This rank's share of one of ``Model.fit``'s batch sources (see the module docstring)."""
    if source is None or comm.world_size() == 1:
        return source
    if isinstance(source, (adapters.ArrayBatches, adapters.DatasetBatches)):
        return _ShardedSamples(source, pad=training)
    if isinstance(source, adapters.LoaderBatches):
        sampler = getattr(source.loader, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            return source        # the user sharded it already
        _check_loader_order(source.loader)
        return _RoundRobinBatches(source, training)
    raise TypeError(f"ember.distributed: cannot split a {type(source).__name__} between ranks")
