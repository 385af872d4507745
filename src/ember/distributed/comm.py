"""The process group: who am I, how many are we, and collectives over NumPy buffers.

MPI (through ``mpi4py``) is the engine.  It is imported lazily, by :func:`init`, and only when the
program was started by an MPI launcher (``mpirun``/``mpiexec``/``srun``: recognised from the
environment variables they set) or ``EMBER_DISTRIBUTED=1`` asks for it.  Otherwise -- a plain
``python train.py``, or ``mpi4py`` not installed -- ember runs as one process:
``world_size() == 1``, ``rank() == 0``, and every collective returns its input unchanged, so the
same script runs on a laptop and under ``mpirun -n 64``.

Collectives work in place on contiguous NumPy arrays (a contiguous slice of a flat buffer is
fine) and go through MPI's buffer interface: no pickling, one message per call.  Small Python
values (logs, configs) travel as JSON (:func:`broadcast_object`, :func:`average_logs`).

A rank that raises must not leave the others waiting forever in a collective: :func:`init`
installs an ``excepthook`` that prints the traceback (prefixed with the rank) and calls
``MPI_Abort``, which makes the launcher stop every rank.
"""
import json
import os
import sys
import threading
import traceback
import zlib

from ..backend import np, xp
from ..tensor import Tensor

__all__ = ["init", "is_initialized", "rank", "world_size", "is_main", "barrier", "abort",
           "allreduce", "iallreduce", "broadcast", "reduce_scatter", "allgather",
           "broadcast_arrays", "broadcast_object", "average_logs", "shard_bounds", "shard_counts",
           "launched_by_mpi"]

# Environment variables that MPI launchers set in the processes they start, with the number of
# processes (the first one present wins).  PMIX_RANK alone (OpenMPI 5 / srun --mpi=pmix) says
# "launched" without a size.
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK_ONLY_VARIABLES = ("PMIX_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "MPI_LOCALNRANKS")

_lock = threading.Lock()


class _World:
    """The state of this process's group (one instance: ``_world``)."""

    __slots__ = ("initialized", "comm", "MPI", "rank", "size", "excepthook_installed")

    def __init__(self):
        self.initialized = False
        self.comm = None          # mpi4py COMM_WORLD, or None when running as one process
        self.MPI = None           # the mpi4py.MPI module, or None
        self.rank = 0
        self.size = 1
        self.excepthook_installed = False


_world = _World()


def launched_by_mpi(environ=None):
    """The number of processes an MPI launcher reports for this job (``-1`` when launched but the
    size is unknown), or ``None`` when this process was not started by a launcher.

    ``EMBER_DISTRIBUTED=0`` forces ``None`` (run as one process even under ``mpirun``);
    ``EMBER_DISTRIBUTED=1`` forces MPI initialisation (returns ``-1`` if no size is known).
    """
    env = os.environ if environ is None else environ
    forced = env.get("EMBER_DISTRIBUTED", "").strip()
    if forced == "0":
        return None
    for name in _SIZE_VARIABLES:
        value = env.get(name)
        if value:
            try:
                return int(value)
            except ValueError:
                return -1
    if forced == "1" or any(env.get(name) for name in _RANK_ONLY_VARIABLES):
        return -1
    return None


def init():
    """Join the process group (idempotent); returns ``world_size()``.

    Under an MPI launcher this imports ``mpi4py`` (which initialises MPI) and installs the
    abort-on-exception hook when there is more than one rank.  Without a launcher, or with a
    launcher that started a single process and no ``mpi4py`` installed, the world is this process
    alone.  Launched with several processes but without ``mpi4py``: a RuntimeError, because every
    process would otherwise train alone and silently repeat the others' work.
    """
    if _world.initialized:
        return _world.size
    with _lock:
        if _world.initialized:
            return _world.size
        launched = launched_by_mpi()
        if launched is not None:
            try:
                from mpi4py import MPI
            except ImportError:
                if launched > 1 or launched == -1:
                    how = f"with {launched} processes" if launched > 0 else "or EMBER_DISTRIBUTED=1"
                    raise RuntimeError(
                        f"ember.distributed.init: this process was started by an MPI launcher "
                        f"({how}) but mpi4py is not installed, so the processes cannot talk to "
                        "each other. Install it (Debian/Ubuntu: apt-get install openmpi-bin "
                        "libopenmpi-dev && pip install mpi4py), or run one process without "
                        "mpirun (or set EMBER_DISTRIBUTED=0).") from None
                MPI = None
            if MPI is not None:
                comm = MPI.COMM_WORLD
                _world.MPI = MPI
                _world.comm = comm
                _world.rank = comm.Get_rank()
                _world.size = comm.Get_size()
                if launched > 0 and _world.size != launched:
                    raise RuntimeError(
                        f"ember.distributed.init: the launcher started {launched} processes but "
                        f"MPI sees a world of {_world.size}: mpirun and the MPI library mpi4py "
                        f"loaded ({MPI.Get_library_version().splitlines()[0].strip()}) are "
                        "different MPI implementations. Use the mpirun that belongs to the "
                        "library (or reinstall mpi4py against it).")
                if _world.size > 1:
                    _install_excepthook()
        _world.initialized = True
        return _world.size


def is_initialized():
    """True once :func:`init` ran (it runs implicitly on the first call of any function here)."""
    return _world.initialized


def rank():
    """This process's index in the group, ``0 .. world_size() - 1`` (0 without MPI)."""
    if not _world.initialized:
        init()
    return _world.rank


def world_size():
    """Number of processes in the group (1 without MPI)."""
    if not _world.initialized:
        init()
    return _world.size


def is_main():
    """True on rank 0: the process that prints progress and writes files."""
    return rank() == 0


def barrier():
    """Wait until every rank reaches this call (no-op for one process)."""
    if world_size() > 1:
        _world.comm.Barrier()


def abort(code=1):
    """Stop every rank of the job now (``MPI_Abort``); for one process, ``os._exit(code)``."""
    sys.stdout.flush()
    sys.stderr.flush()
    if _world.comm is not None:
        _world.comm.Abort(code)
    os._exit(code)


# -- failure propagation ---------------------------------------------------------------------------
def _abort_on_exception(exc_type, exc, tb, previous=None):
    """Print the traceback with the rank, then abort the job so the other ranks do not hang."""
    try:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        prefix = f"[ember.distributed rank {_world.rank}/{_world.size}] "
        sys.stderr.write(prefix + "uncaught exception; aborting all ranks\n")
        sys.stderr.write("".join(prefix + line + "\n" for line in text.rstrip("\n").split("\n")))
        sys.stderr.flush()
    finally:
        if exc_type is KeyboardInterrupt and previous is not None:
            previous(exc_type, exc, tb)
        abort(1)


def _install_excepthook():
    if _world.excepthook_installed:
        return
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        _abort_on_exception(exc_type, exc, tb, previous)

    def thread_hook(args):
        if args.exc_type is SystemExit:
            return
        _abort_on_exception(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
    _world.excepthook_installed = True


# -- collectives over NumPy buffers ----------------------------------------------------------------
_OPS = ("sum", "mean", "max", "min", "prod")


def _op(name, fn):
    if name not in _OPS:
        raise ValueError(f"ember.distributed.{fn}: op must be one of {', '.join(_OPS)}, "
                         f"got {name!r}")
    MPI = _world.MPI
    return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "prod": MPI.PROD}[name]


def _array(x, fn, arg="array"):
    """The NumPy array behind ``x`` (a Tensor or an array)."""
    if isinstance(x, xp.ndarray):
        return x
    data = x.data if isinstance(x, Tensor) else None
    if not isinstance(data, xp.ndarray):
        raise TypeError(f"ember.distributed.{fn}: {arg} must be a NumPy array or a Tensor, got "
                        f"{type(x).__name__}")
    return data


def allreduce(array, op="sum"):
    """Combine ``array`` element-wise across ranks, in place; returns it.

    ``op``: ``"sum"``, ``"mean"`` (sum divided by the number of ranks), ``"max"``, ``"min"``,
    ``"prod"``.  A non-contiguous array is reduced through a contiguous copy and written back.
    """
    a = _array(array, "allreduce")
    n = world_size()
    if n == 1:
        _op_check(op, "allreduce")
        return array
    _op_check(op, "allreduce")
    mpi_op = _op(op, "allreduce")
    if op == "mean" and a.dtype.kind not in "fc":
        raise TypeError(f"ember.distributed.allreduce: op='mean' needs a floating-point array, got "
                        f"{a.dtype}; use op='sum' and divide")
    work = a if a.flags.c_contiguous else xp.ascontiguousarray(a)
    _world.comm.Allreduce(_world.MPI.IN_PLACE, work, op=mpi_op)
    if op == "mean":
        work *= work.dtype.type(1.0 / n)
    if work is not a:
        a[...] = work
    return array


def _op_check(op, fn):
    if op not in _OPS:
        raise ValueError(f"ember.distributed.{fn}: op must be one of {', '.join(_OPS)}, got {op!r}")


class _Done:
    """The request of a collective that had nothing to wait for (one process)."""

    __slots__ = ()

    def wait(self):
        return None

    def test(self):
        return True


class Request:
    """A non-blocking collective in flight: ``wait()`` blocks until it completed, ``test()``
    drives MPI's progress engine and says whether it completed."""

    __slots__ = ("_request",)

    def __init__(self, request):
        self._request = request

    def wait(self):
        self._request.Wait()

    def test(self):
        return self._request.Test()


def iallreduce(array, op="sum"):
    """Start an in-place sum (or max/min/prod) of a contiguous array across ranks; returns a
    request with ``wait()``.  The array must not be touched until ``wait()`` returned.
    (``"mean"`` is not offered: scale before or after.)"""
    a = _array(array, "iallreduce")
    if world_size() == 1:
        _op_check(op, "iallreduce")
        return _Done()
    if op == "mean":
        raise ValueError("ember.distributed.iallreduce: op='mean' is not available for the "
                         "non-blocking form; scale the array by 1/world_size() and use op='sum'")
    if not a.flags.c_contiguous:
        raise ValueError(f"ember.distributed.iallreduce: the array (shape {a.shape}) must be "
                         "contiguous, because MPI reads and writes it after this call returns")
    return Request(_world.comm.Iallreduce(_world.MPI.IN_PLACE, a, op=_op(op, "iallreduce")))


def broadcast(array, root=0):
    """Overwrite ``array`` on every rank with rank ``root``'s values (in place); returns it."""
    a = _array(array, "broadcast")
    if world_size() == 1:
        return array
    work = a if a.flags.c_contiguous else xp.ascontiguousarray(a)
    _world.comm.Bcast(work, root=root)
    if work is not a:
        a[...] = work
    return array


def shard_counts(n, parts=None):
    """Sizes of the ``parts`` (default ``world_size()``) consecutive pieces of ``n`` items that
    :func:`shard_bounds` gives: piece ``r`` is ``[n*r//parts, n*(r+1)//parts)``, so sizes differ by
    at most one."""
    parts = world_size() if parts is None else int(parts)
    return [n * (r + 1) // parts - n * r // parts for r in range(parts)]


def shard_bounds(n, parts=None, index=None):
    """``(start, stop)`` of piece ``index`` (default: this rank) when ``n`` items are cut into
    ``parts`` (default ``world_size()``) near-equal consecutive pieces."""
    parts = world_size() if parts is None else int(parts)
    index = rank() if index is None else int(index)
    return n * index // parts, n * (index + 1) // parts


def reduce_scatter(array, out=None, op="sum"):
    """Reduce the 1-D ``array`` across ranks and give each rank its piece (see
    :func:`shard_bounds`): rank ``r`` gets elements ``[n*r//p, n*(r+1)//p)`` of the reduction,
    written into ``out`` (allocated when None) and returned.  ``op="mean"`` divides by ``p``."""
    a = _array(array, "reduce_scatter")
    if a.ndim != 1 or not a.flags.c_contiguous:
        raise ValueError(f"ember.distributed.reduce_scatter: array must be 1-D and contiguous, got "
                         f"shape {a.shape}; pass a flat buffer (e.g. array.reshape(-1))")
    n = a.size
    p = world_size()
    lo, hi = shard_bounds(n)
    if out is None:
        out = xp.empty(hi - lo, dtype=a.dtype)
    o = _array(out, "reduce_scatter", "out")
    if o.shape != (hi - lo,) or o.dtype != a.dtype:
        raise ValueError(f"ember.distributed.reduce_scatter: out must have shape ({hi - lo},) and "
                         f"dtype {a.dtype} on rank {rank()}, got {o.shape} {o.dtype}")
    if p == 1:
        _op_check(op, "reduce_scatter")
        o[...] = a
        return out
    _world.comm.Reduce_scatter(a, o, recvcounts=shard_counts(n), op=_op(op, "reduce_scatter"))
    if op == "mean":
        o *= o.dtype.type(1.0 / p) if o.dtype.kind == "f" else 1
    return out


def allgather(piece, out=None, total=None):
    """Concatenate every rank's 1-D ``piece`` in rank order into ``out`` and return it.

    With ``total`` (or ``out``, of that length) the pieces must be the :func:`shard_bounds` pieces
    of ``total`` elements and no sizes are exchanged; with neither, pieces may have any lengths (one
    small extra message exchanges them) and ``out`` is allocated."""
    a = _array(piece, "allgather", "piece")
    if a.ndim != 1:
        raise ValueError(f"ember.distributed.allgather: piece must be 1-D, got shape {a.shape}")
    a = a if a.flags.c_contiguous else xp.ascontiguousarray(a)
    p = world_size()
    if total is None and out is not None:
        total = _array(out, "allgather", "out").size
    if total is not None:
        counts = shard_counts(total)
        if a.size != counts[rank()]:
            raise ValueError(f"ember.distributed.allgather: with total={total} the piece of rank "
                             f"{rank()} must have {counts[rank()]} elements (shard_bounds), got "
                             f"{a.size}; for pieces of other sizes pass neither total nor out")
    else:
        if p == 1:
            counts = [a.size]
        else:
            sizes = np.empty(p, dtype=np.int64)
            _world.comm.Allgather(np.array([a.size], dtype=np.int64), sizes)
            counts = [int(c) for c in sizes]
    total = sum(counts)
    if out is None:
        out = xp.empty(total, dtype=a.dtype)
    o = _array(out, "allgather", "out")
    if o.shape != (total,) or o.dtype != a.dtype or not o.flags.c_contiguous:
        raise ValueError(f"ember.distributed.allgather: out must be contiguous with shape "
                         f"({total},) and dtype {a.dtype}, got {o.shape} {o.dtype}")
    if p == 1:
        o[...] = a
        return out
    displs = [0]
    for c in counts[:-1]:
        displs.append(displs[-1] + c)
    _world.comm.Allgatherv(a, [o, (counts, displs)])
    return out


def broadcast_object(obj, root=0):
    """Rank ``root``'s ``obj`` on every rank; ``obj`` must be JSON-serialisable (no pickling)."""
    if world_size() == 1:
        return obj
    comm = _world.comm
    if rank() == root:
        payload = np.frombuffer(json.dumps(obj).encode("utf-8"), dtype=np.uint8)
        size = np.array([payload.size], dtype=np.int64)
    else:
        payload = None
        size = np.zeros(1, dtype=np.int64)
    comm.Bcast(size, root=root)
    if payload is None:
        payload = np.empty(int(size[0]), dtype=np.uint8)
    else:
        payload = payload.copy()
    comm.Bcast(payload, root=root)
    return json.loads(payload.tobytes().decode("utf-8"))


def average_logs(logs, weight=1.0):
    """Weighted mean across ranks of a dict of numbers (losses, metrics); one small message.

    Each rank passes its own values and a ``weight`` (e.g. the number of samples they cover);
    every rank gets ``sum_r(weight_r * logs_r[k]) / sum_r(weight_r)`` for each key.  All ranks must
    pass the same keys (checked: a mismatch raises instead of mixing up values).
    """
    if world_size() == 1:
        return {k: float(v) for k, v in logs.items()}
    keys = sorted(logs)
    # str hashes differ between processes (PYTHONHASHSEED): use a checksum of the key list.
    signature = np.array([len(keys), zlib.crc32(json.dumps(keys).encode("utf-8"))], dtype=np.int64)
    both = np.concatenate([signature, -signature])
    _world.comm.Allreduce(_world.MPI.IN_PLACE, both, op=_world.MPI.MAX)
    if not (both[:2] == signature).all() or not (-both[2:] == signature).all():
        raise ValueError(f"ember.distributed.average_logs: ranks passed different keys; rank "
                         f"{rank()} has {keys}")
    w = float(weight)
    values = np.array([w * float(logs[k]) for k in keys] + [w], dtype=np.float64)
    _world.comm.Allreduce(_world.MPI.IN_PLACE, values, op=_world.MPI.SUM)
    total = values[-1]
    if total == 0:
        raise ValueError("ember.distributed.average_logs: the weights sum to zero on all ranks")
    return {k: float(values[i] / total) for i, k in enumerate(keys)}


def broadcast_arrays(arrays, root=0):
    """Overwrite each array in ``arrays`` (NumPy arrays or Tensors) with rank ``root``'s values.

    Arrays of one dtype travel packed in one message (a model's weights are one or two messages,
    not one per tensor).  Shapes must agree across ranks (checked by the caller's construction).
    """
    arrays = [_array(a, "broadcast_arrays", "arrays[i]") for a in arrays]
    if world_size() == 1 or not arrays:
        return
    by_dtype = {}
    for a in arrays:
        by_dtype.setdefault(a.dtype.str, []).append(a)
    for key in sorted(by_dtype):
        group = by_dtype[key]
        packed = xp.concatenate([a.reshape(-1) for a in group]) if len(group) > 1 else \
            xp.ascontiguousarray(group[0]).reshape(-1).copy()
        _world.comm.Bcast(packed, root=root)
        start = 0
        for a in group:
            a[...] = packed[start:start + a.size].reshape(a.shape)
            start += a.size
