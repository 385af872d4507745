"""The one entry point a training loop (``ember.train.Model.fit``) needs for data parallelism.

``session = wrap_for_fit(module, optimizer, shard_optimizer_state=False)`` returns a
:class:`FitSession` whose attributes replace the loop's own objects:

* ``session.module``: call it for the forward pass (a :class:`DistributedDataParallel` wrapper
  when there are several ranks: gradients arrive averaged after ``backward()``);
* ``session.optimizer``: step it as usual (a :class:`ZeroRedundancyOptimizer` when sharding);
* ``session.sampler(n, shuffle=..., seed=..., drop_last=...)``: the loader's ``sampler=`` (None
  with one rank: keep the loop's own);
* ``session.average_logs(logs, weight)`` / ``session.reduce_metrics(metrics)``: the epoch's
  losses and metric states combined over ranks (collective);
* ``session.is_main``: only this rank prints progress and writes files;
* ``session.save_checkpoint(path, extra)`` / ``session.load_checkpoint(path)``: collective,
  world-size independent checkpoints.

With one process ``wrap_for_fit`` changes nothing (module and optimizer come back as given), so a
loop can call it unconditionally.
"""
from . import comm
from .checkpoint import load_checkpoint, save_checkpoint
from .ddp import DistributedDataParallel
from .model_fit import sum_metric_states
from .sampler import DistributedSampler
from .zero import ZeroRedundancyOptimizer

__all__ = ["FitSession", "wrap_for_fit"]


class FitSession:
    """Data-parallel replacements for a training loop's model, optimizer, sampler and logging."""

    def __init__(self, module, optimizer, inner_module):
        self.module = module
        self.optimizer = optimizer
        self.inner_module = inner_module
        self.world_size = comm.world_size()
        self.rank = comm.rank()
        self.is_main = self.rank == 0

    @property
    def distributed(self):
        """True with more than one rank."""
        return self.world_size > 1

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
    :class:`FitSession`.

    With several ranks: ``module`` is wrapped in :class:`DistributedDataParallel` (rank 0's weights
    are broadcast now) and, with ``shard_optimizer_state=True``, the optimizer is replaced by a
    :class:`ZeroRedundancyOptimizer` of the same class, groups, options and state (the original
    must not be used afterwards).  With one process both come back unchanged.
    """
    comm.init()
    if comm.world_size() == 1:
        return FitSession(module, optimizer, module)
    wrapped = DistributedDataParallel(module, bucket_size_mb=bucket_size_mb,
                                      broadcast_buffers=broadcast_buffers)
    if shard_optimizer_state:
        optimizer = ZeroRedundancyOptimizer.from_optimizer(optimizer)
    return FitSession(wrapped, optimizer, module)
