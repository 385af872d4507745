"""Checkpoints that do not depend on the world size that wrote them.

What is saved is what a single process would save: the unwrapped model's ``state_dict()`` and the
*unsharded* optimizer state (a ``ZeroRedundancyOptimizer`` gathers its slices), written by rank 0
only, atomically, with ``ember.save`` (safetensors; no pickle).  Loading under any world size
reads that file (every rank reads it when it can see it; otherwise rank 0 reads it and sends the
bytes) and lets each optimizer keep what it needs (a sharded one keeps its slice).
"""
import os
import tempfile

from ..backend import np
from ..serialization import load, save
from . import comm
from .ddp import DistributedDataParallel

__all__ = ["save_checkpoint", "load_checkpoint", "unwrap"]


def unwrap(model):
    """The model inside a :class:`DistributedDataParallel` wrapper (or ``model`` itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def save_checkpoint(path, model, optimizer=None, extra=None):
    """Write ``{"model": ..., "optimizer": ..., "extra": ...}`` to ``path`` from rank 0.

    Collective: every rank must call it (a sharded optimizer gathers its state).  ``extra`` is a
    dict of anything ``ember.save`` stores (step counts, RNG state, scheduler state...).  Returns
    after the file is complete on rank 0 (a barrier), so any rank may read it next.
    """
    state = {"model": unwrap(model).state_dict()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if extra is not None:
        state["extra"] = extra
    state["world_size"] = comm.world_size()
    error = None
    if comm.is_main():
        try:
            save(state, path)
        except Exception as e:      # report it on every rank instead of hanging the others
            error = e
    failed = np.array([error is not None], dtype=np.int64)
    comm.allreduce(failed, op="max")
    if error is not None:
        raise error
    if failed[0]:
        raise RuntimeError(f"ember.distributed.save_checkpoint: rank 0 could not write {path}")


def _read_everywhere(path):
    """``ember.load(path)`` on every rank, sending the bytes from rank 0 to ranks that cannot see
    the file (no shared file system)."""
    if comm.world_size() == 1:
        return load(path)
    here = os.path.isfile(path)
    # [seen by every rank, seen by rank 0]
    visible = np.array([here, here if comm.is_main() else True], dtype=np.int64)
    comm.allreduce(visible, op="min")
    if not visible[1]:
        raise FileNotFoundError(f"ember.distributed.load_checkpoint: no file {path} on rank 0")
    if visible[0]:
        return load(path)
    if comm.is_main():
        with open(path, "rb") as f:
            payload = np.frombuffer(f.read(), dtype=np.uint8).copy()
        size = np.array([payload.size], dtype=np.int64)
    else:
        size = np.zeros(1, dtype=np.int64)
    comm.broadcast(size)
    if not comm.is_main():
        payload = np.empty(int(size[0]), dtype=np.uint8)
    comm.broadcast(payload)
    if comm.is_main():
        return load(path)
    fd, tmp = tempfile.mkstemp(suffix=".safetensors")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload.tobytes())
        return load(tmp)
    finally:
        os.unlink(tmp)


def load_checkpoint(path, model, optimizer=None):
    """Load a checkpoint written by :func:`save_checkpoint` (under any world size) into ``model``
    (wrapped or not) and ``optimizer`` (plain or sharded); returns the saved ``extra`` (or None).

    Collective: every rank must call it.  The model's values are identical on every rank after it.
    """
    state = _read_everywhere(path)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"ember.distributed.load_checkpoint: {path} was not written by "
                         "save_checkpoint (no 'model' entry)")
    unwrap(model).load_state_dict(state["model"])
    if optimizer is not None:
        if "optimizer" not in state:
            raise ValueError(f"ember.distributed.load_checkpoint: {path} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    return state.get("extra")
