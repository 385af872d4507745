"""The data-parallel fit session: one object for ``Model.fit`` and for hand-written loops.

``ember.train`` cannot import this package (a lower floor never imports a higher one), so this
package registers an engine with ``ember.train.parallel`` when it is imported (``import ember``
imports it).  ``Model.fit`` asks that engine for a session; with one process it gets
``ember.train.parallel.LOCAL`` and runs as always.  Started as ``mpirun -n p python train.py``,
it gets a :class:`FitSession`, which implements the same interface
(``ember.train.parallel.LocalSession``):

* ``shared_seed``: every rank gets rank 0's shuffling seed, so all ranks draw the same epoch
  permutations;
* ``shard``: each rank takes its share of every epoch (``sharding.py``);
* ``prepare``: the model is wrapped in a :class:`DistributedDataParallel` (rank 0's weights are
  broadcast) that ``fit`` arms before each training step (``begin_step``; the model's own forward
  runs, so subclasses that override ``_forward``/``__call__`` -- ``ember.keras`` -- work):
  gradients arrive averaged after backward; with gradient accumulation only the last micro-batch
  communicates.  With ``shard_optimizer_state=True`` the compiled optimizer is replaced by a
  :class:`ZeroRedundancyOptimizer` of the same class, options and state;
* ``merged_metrics``: the metric states (the loss tracker included) are summed over ranks for
  the epoch logs, so History, callbacks and checkpoint decisions see the same numbers on every
  rank;
* ``should_stop``: the ranks agree on ``stop_training`` after every step, so a callback that
  stops one rank stops them all at the same step instead of leaving the others waiting in a
  collective;
* ``is_main``: only rank 0 prints progress and writes files.

``batch_size`` is per rank (as in PyTorch DDP and Horovod): the global batch is ``p *
batch_size``, and ``p`` ranks with batch ``B`` train as one process with batch ``p * B`` when ``p
* B`` divides the number of samples (otherwise the last global batch differs by the padding).

A hand-written loop gets the same object from ``wrap_for_fit(module, optimizer)``; its attributes
replace the loop's own objects: ``session.module`` (call it for the forward pass: a
:class:`DistributedDataParallel` wrapper when there are several ranks), ``session.optimizer``
(step it as usual), ``session.sampler(n, ...)`` (the loader's ``sampler=``; None with one rank),
``average_logs`` / ``reduce_metrics``, ``save_checkpoint`` / ``load_checkpoint`` (collective,
world-size independent).  With one process ``wrap_for_fit`` changes nothing (module and optimizer
come back as given), so a loop can call it unconditionally.
"""
import contextlib
import zlib

from ..backend import np
from ..train import parallel as train_parallel
from . import comm
from .checkpoint import load_checkpoint, save_checkpoint
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler
from .sharding import shard_batches
from .zero import ZeroRedundancyOptimizer

__all__ = ["FitSession", "wrap_for_fit", "sum_metric_states", "install"]


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


class FitSession(train_parallel.LocalSession):
    """Data-parallel training over the MPI ranks (see the module docstring): the session
    ``Model.fit`` gets under ``mpirun``, and what :func:`wrap_for_fit` returns."""

    def __init__(self, shard_optimizer_state=False, bucket_size_mb=25, broadcast_buffers=True):
        self.world_size = comm.world_size()
        self.rank = comm.rank()
        self.shard_optimizer_state = bool(shard_optimizer_state)
        self.bucket_size_mb = bucket_size_mb
        self.broadcast_buffers = broadcast_buffers
        self.module = None          # what to call for the forward pass (after prepare)
        self.inner_module = None    # the model itself
        self.optimizer = None       # the optimizer to step (after prepare)

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def distributed(self):
        """True with more than one rank."""
        return self.world_size > 1

    # -- the session interface (ember.train.parallel.LocalSession) ---------------------------------
    def shared_seed(self, seed):
        """Rank 0's shuffling seed, on every rank."""
        return comm.broadcast_object(int(seed))

    def shard(self, source, training=True):
        return shard_batches(source, training)

    def prepare(self, model, optimizer):
        """With several ranks: wrap ``model`` (rank 0's weights are broadcast now) and, when
        sharding, replace ``optimizer`` by a :class:`ZeroRedundancyOptimizer` of the same class,
        groups, options and state (the given one must not be used afterwards).  With one process
        both stay as given.  Returns the optimizer to step."""
        self.inner_module = self.module = model
        if self.distributed:
            self.module = DistributedDataParallel(model, bucket_size_mb=self.bucket_size_mb,
                                                  broadcast_buffers=self.broadcast_buffers)
            if self.shard_optimizer_state:
                optimizer = ZeroRedundancyOptimizer.from_optimizer(optimizer)
        self.optimizer = optimizer
        return optimizer

    def begin_step(self, sync=True):
        """Call before each training forward that does not go through ``self.module``: the next
        backward averages the gradients across ranks (``sync=False``: keeps them local -- every
        micro-batch of a gradient-accumulation group but the last)."""
        if self.distributed:
            self.module.before_forward(sync)

    @contextlib.contextmanager
    def merged_metrics(self, metrics):
        """Within the block each metric holds its state summed over ranks (collective); the local
        states come back after."""
        saved = [m.get_state() for m in metrics]
        sum_metric_states(metrics)
        try:
            yield
        finally:
            for m, st in zip(metrics, saved):
                m.set_state(st)

    def should_stop(self, stop):
        """True on every rank when any rank asked to stop (collective, one small message)."""
        flag = np.array([1 if stop else 0], dtype=np.int64)
        comm.allreduce(flag, op="max")
        return bool(flag[0])

    def close(self):
        if isinstance(self.module, DistributedDataParallel):
            self.module._disarm()

    # -- for hand-written loops --------------------------------------------------------------------
    def sampler(self, dataset_or_length, shuffle=True, seed=0, drop_last=False):
        """A :class:`DistributedSampler` for this rank, or None with one rank."""
        if not self.distributed:
            return None
        return DistributedSampler(dataset_or_length, shuffle=shuffle, seed=seed,
                                  drop_last=drop_last)

    def average_logs(self, logs, weight=1.0):
        """Weighted mean over ranks of a dict of numbers (see ``comm.average_logs``)."""
        return comm.average_logs(logs, weight)

    def reduce_metrics(self, metrics):
        """Replace each streaming metric's state (``get_state()``: dict of arrays of sums) by the
        sum over ranks; one message for all of them.  Call before ``result()``."""
        if self.distributed:
            sum_metric_states(metrics)

    def save_checkpoint(self, path, extra=None):
        """Collective: rank 0 writes the unsharded model/optimizer state (see checkpoint.py)."""
        save_checkpoint(path, self.inner_module, self.optimizer, extra=extra)

    def load_checkpoint(self, path):
        """Collective: load a checkpoint written under any world size; returns its ``extra``."""
        return load_checkpoint(path, self.inner_module, self.optimizer)

    def barrier(self):
        comm.barrier()


def wrap_for_fit(module, optimizer, *, shard_optimizer_state=False, bucket_size_mb=25,
                 broadcast_buffers=True):
    """Prepare ``module`` and ``optimizer`` (an ember optimizer over ``module.parameters()``,
    built after the module's weights exist) for data-parallel training; returns a
    :class:`FitSession` (``session.module``, ``session.optimizer``, ...).

    With several ranks: ``module`` is wrapped in :class:`DistributedDataParallel` (rank 0's weights
    are broadcast now) and, with ``shard_optimizer_state=True``, the optimizer is replaced by a
    :class:`ZeroRedundancyOptimizer` of the same class, groups, options and state (the original
    must not be used afterwards).  With one process both come back unchanged.
    """
    comm.init()
    session = FitSession(shard_optimizer_state, bucket_size_mb=bucket_size_mb,
                         broadcast_buffers=broadcast_buffers)
    session.prepare(module, optimizer)
    return session


class _Engine:
    """Registered with ``ember.train.parallel``: rank queries and fit sessions."""

    def is_main(self):
        return comm.is_main()

    def barrier(self):
        comm.barrier()

    def fit_session(self, model, shard_optimizer_state=False):
        if comm.world_size() == 1:
            return None
        return FitSession(shard_optimizer_state)


def install():
    """Register this package's engine with ``ember.train`` (done on import)."""
    if not isinstance(train_parallel.get_engine(), _Engine):
        train_parallel.set_engine(_Engine())
