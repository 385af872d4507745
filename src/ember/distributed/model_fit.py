"""How ``Model.fit`` trains on several MPI ranks.

``ember.train`` cannot import this package (a lower floor never imports a higher one), so this
package registers an engine with ``ember.train.parallel`` when it is imported (``import ember``
imports it).  ``Model.fit`` asks that engine for a session; with one process it gets None and runs
as always.  Started as ``mpirun -n p python train.py``, it gets a :class:`ModelFitSession`, which

* gives every rank rank 0's shuffling seed, so all ranks draw the same epoch permutations;
* deals each epoch's permutation out round-robin (as :class:`DistributedSampler`): the training
  data padded by repeating its first samples, so that every rank takes the same number of steps;
  validation data split without padding (so validation metrics equal single-process ones);
* wraps the model in a :class:`DistributedDataParallel` that ``fit`` arms before each training
  step (:meth:`ModelFitSession.begin_step`; the model's own forward runs, so subclasses that
  override ``_forward``/``__call__`` -- ``ember.keras`` -- work): gradients arrive averaged
  after backward; with gradient accumulation only the last micro-batch communicates
  and, with ``shard_optimizer_state=True``, replaces the compiled optimizer by a
  :class:`ZeroRedundancyOptimizer` of the same class, options and state;
* sums the metric states (the loss tracker included) over ranks for the epoch logs, so History,
  callbacks and checkpoint decisions see the same numbers on every rank;
* makes the ranks agree on ``stop_training`` after every step, so a callback that stops one rank
  stops them all at the same step instead of leaving the others waiting in a collective.

``batch_size`` is per rank (as in PyTorch DDP and Horovod): the global batch is ``p *
batch_size``, and ``p`` ranks with batch ``B`` train as one process with batch ``p * B`` when ``p
* B`` divides the number of samples (otherwise the last global batch differs by the padding).
"""
import math
import zlib

from ..backend import np
from ..train import _data
from ..train import parallel as _train_parallel
from . import comm
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler
from .zero import ZeroRedundancyOptimizer

__all__ = ["ModelFitSession", "sum_metric_states", "shard_batches", "install"]


def sum_metric_states(metrics):
    """Replace each streaming metric's state (``get_state()``: a dict of arrays of sums) by the
    sum over ranks, in one message.  Collective.  Raises ValueError, on every rank, when the ranks'
    metrics do not have the same state layout."""
    if comm.world_size() == 1:
        return
    states = [m.get_state() for m in metrics]
    keyed = [(i, k) for i, st in enumerate(states) for k in sorted(st)]
    arrays = [np.asarray(states[i][k]) for i, k in keyed]
    layout = repr([(i, k, a.shape) for (i, k), a in zip(keyed, arrays)]).encode("utf-8")
    signature = np.array([zlib.crc32(layout), -zlib.crc32(layout)], dtype=np.int64)
    comm.allreduce(signature, op="max")
    if signature[0] != -signature[1]:
        raise ValueError(f"ember.distributed: the metric states differ in layout between ranks "
                         f"(rank {comm.rank()}: {layout.decode()}); every rank must compile the "
                         "same metrics and see at least one batch")
    if not arrays:
        return
    packed = np.concatenate([a.astype(np.float64).reshape(-1) for a in arrays])
    comm.allreduce(packed, op="sum")
    start = 0
    for (i, k), a in zip(keyed, arrays):
        part = packed[start:start + a.size].reshape(a.shape)
        states[i][k] = np.rint(part).astype(a.dtype) if a.dtype.kind in "iub" else part
        start += a.size
    for m, st in zip(metrics, states):
        m.set_state(st)


# -- this rank's share of fit's batch sources ------------------------------------------------------
class _ShardedSamples:
    """This rank's share of an in-memory array source or a map-style dataset source (same
    interface as ``ember.train._data``'s sources: ``steps``, ``samples``, ``epoch(e)``,
    ``peek(n)``)."""

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

    def _fetch(self, positions):
        s = self.source
        if isinstance(s, _data.ArrayBatches):
            xb = [a.take(positions, axis=0) for a in s.x.arrays]
            if s.y is None:
                return s.x.pack(xb), None
            return s.x.pack(xb), s.y.pack([a.take(positions, axis=0) for a in s.y.arrays])
        return s._fetch(s.indices[positions])

    def epoch(self, epoch=0):
        mine = self.positions(epoch)
        bs = self.batch_size
        for start in range(0, len(mine), bs):
            yield self._fetch(mine[start:start + bs])


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
    if isinstance(source, (_data.ArrayBatches, _data.DatasetBatches)):
        return _ShardedSamples(source, pad=training)
    if isinstance(source, _data.LoaderBatches):
        sampler = getattr(source.loader, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            return source        # the user sharded it already
        _check_loader_order(source.loader)
        return _RoundRobinBatches(source, training)
    raise TypeError(f"ember.distributed: cannot split a {type(source).__name__} between ranks")


# -- the session -----------------------------------------------------------------------------------
class ModelFitSession:
    """What ``Model.fit`` uses on several ranks (see the module docstring).  Created by the
    engine for each ``fit`` call; ``close()`` at the end."""

    def __init__(self, shard_optimizer_state=False):
        self.world_size = comm.world_size()
        self.rank = comm.rank()
        self.is_main = self.rank == 0
        self.shard_optimizer_state = bool(shard_optimizer_state)
        self.module = None

    def shared_seed(self, seed):
        """Rank 0's shuffling seed, on every rank."""
        return comm.broadcast_object(int(seed))

    def shard(self, source, training=True):
        return shard_batches(source, training)

    def prepare(self, model, optimizer):
        """Wrap ``model`` (rank 0's weights are broadcast now) and return the optimizer to step (a
        ZeroRedundancyOptimizer when sharding; the given one must not be used afterwards)."""
        self.module = DistributedDataParallel(model)
        if self.shard_optimizer_state:
            optimizer = ZeroRedundancyOptimizer.from_optimizer(optimizer)
        return optimizer

    def begin_step(self, sync=True):
        """Call before each training forward: the next backward averages the gradients across
        ranks (``sync=False``: keeps them local -- every micro-batch of a gradient-accumulation
        group but the last)."""
        self.module.before_forward(sync)

    def should_stop(self, stop):
        """True on every rank when any rank asked to stop (collective, one small message)."""
        flag = np.array([1 if stop else 0], dtype=np.int64)
        comm.allreduce(flag, op="max")
        return bool(flag[0])

    def reduce_logs(self, model):
        """The epoch logs of ``model``'s metrics summed over ranks (collective).  The metrics keep
        their local states afterwards."""
        metrics = model.metrics
        saved = [m.get_state() for m in metrics]
        sum_metric_states(metrics)
        try:
            return model._reduce_logs()
        finally:
            for m, st in zip(metrics, saved):
                m.set_state(st)

    def close(self):
        if self.module is not None:
            self.module._disarm()


class _Engine:
    """Registered with ``ember.train.parallel``: rank queries and fit sessions."""

    def is_main(self):
        return comm.is_main()

    def barrier(self):
        comm.barrier()

    def fit_session(self, model, shard_optimizer_state=False):
        if comm.world_size() == 1:
            return None
        return ModelFitSession(shard_optimizer_state)


def install():
    """Register this package's engine with ``ember.train`` (done on import)."""
    if not isinstance(_train_parallel.get_engine(), _Engine):
        _train_parallel.set_engine(_Engine())
