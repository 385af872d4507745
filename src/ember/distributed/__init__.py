"""Data-parallel training across processes and machines on MPI (``mpi4py``).

Start any script with an MPI launcher -- ``mpirun -n 2 python train.py`` -- and::

    import ember.distributed as dist
    model = dist.DistributedDataParallel(model)            # rank 0's weights everywhere
    optimizer = ember.optim.Adam(model.parameters(), lr=1e-3)
    # or: dist.ZeroRedundancyOptimizer(model.parameters(), ember.optim.Adam, lr=1e-3)
    sampler = dist.DistributedSampler(len(dataset), seed=0)  # a disjoint shard per rank
    loader = ember.data.DataLoader(dataset, batch_size=64, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()                                  # gradients averaged over ranks
            optimizer.step()
        if dist.is_main():
            print(...)

``Model.fit`` needs none of this: started under ``mpirun`` with several ranks it trains
data-parallel by itself (``fit.py``; ``fit(..., shard_optimizer_state=True)`` for ZeRO-1).

Without a launcher (or without ``mpi4py``) the same script runs as one process: ``world_size()``
is 1 and every collective is the identity.  Importing this package never imports ``mpi4py``;
:func:`init` (called implicitly by every function that needs the group) does.  See
``docs/distributed.md``.
"""
from .comm import (abort, allgather, allreduce, average_logs, barrier, broadcast, broadcast_arrays,
                   broadcast_object, iallreduce, init, is_initialized, is_main, launched_by_mpi,
                   rank, reduce_scatter, shard_bounds, shard_counts, world_size)
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler
from .zero import ZeroRedundancyOptimizer, is_sharded, optimizer_state_nbytes
from .checkpoint import load_checkpoint, save_checkpoint, unwrap
from .fit import FitSession, wrap_for_fit
from .fit import install as _install_fit_engine

# Model.fit (ember.train) finds this package through the engine it registers.
_install_fit_engine()

#: The former name of :class:`FitSession` (Model.fit's session and wrap_for_fit's are one class).
ModelFitSession = FitSession

#: Short name for :class:`ZeroRedundancyOptimizer` (optimizer-state sharding, ZeRO stage 1).
ShardedOptimizer = ZeroRedundancyOptimizer

__all__ = ["init", "is_initialized", "rank", "world_size", "is_main", "barrier", "abort",
           "allreduce", "iallreduce", "broadcast", "broadcast_arrays", "reduce_scatter",
           "allgather", "broadcast_object", "average_logs", "shard_bounds", "shard_counts",
           "launched_by_mpi", "DistributedDataParallel", "DistributedSampler",
           "ZeroRedundancyOptimizer", "ShardedOptimizer", "is_sharded", "optimizer_state_nbytes",
           "save_checkpoint", "load_checkpoint", "unwrap", "wrap_for_fit", "FitSession",
           "ModelFitSession"]
