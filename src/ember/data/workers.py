"""Worker processes for ``DataLoader(num_workers=N)``.

Each worker is a real process (``fork`` where the platform has it, else ``spawn``) that reads
``(generation, batch number, indices)`` tasks from its own queue, builds the batch as NumPy arrays
and sends it back.  Arrays of at least ``SHARED_MEMORY_MIN_BYTES`` travel through a
``multiprocessing.shared_memory`` segment (the worker writes the bytes once, the main process
copies them out and unlinks the segment at once); only the small description (name, dtype, shape)
goes through the pipe.  Smaller arrays and non-array values are pickled.

Batch ``k`` of an epoch goes to worker ``k % N`` and batches are handed out in order, so the
stream is the same as with ``num_workers=0``.  Worker ``i`` is seeded with ``base_seed + i``
(Python's ``random``, NumPy's legacy global state and ember's generator), then
``worker_init_fn(i)`` runs; ``get_worker_info()`` describes the worker inside it.

Shutdown: the pool stops (workers told to exit, joined, killed if they do not, every segment of
this pool unlinked, including ones still in flight) when the epoch ends, when an error or
KeyboardInterrupt leaves the loop, and when the iterator is closed or garbage-collected.  With
``persistent_workers=True`` the pool belongs to the loader and lives until the loader is closed
or collected.  Workers ignore SIGINT: a Ctrl-C is handled once, in the main process.
"""
import itertools
import os
import queue
import random
import secrets
import signal
import sys
import time
import traceback
import weakref
from multiprocessing import resource_tracker, shared_memory

import numpy as np

from .. import random as _ember_random

__all__ = ["WorkerInfo", "get_worker_info", "SHARED_MEMORY_MIN_BYTES"]

#: Arrays of at least this many bytes go through shared memory; smaller ones are pickled.
SHARED_MEMORY_MIN_BYTES = 16 * 1024

_SHM_DIR = "/dev/shm"
_OK, _FAILED = 0, 1
_POLL_S = 0.1
_JOIN_S = 1.0


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed`` and
    ``dataset`` (this worker's copy), as in PyTorch."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """The ``WorkerInfo`` of the current DataLoader worker process, or None in the main process.

    Use it in ``worker_init_fn`` or in a dataset to split work between workers (e.g. an iterable
    source reading every ``num_workers``-th shard from shard ``id``)."""
    return _worker_info


# -- moving batches -------------------------------------------------------------------------------
def _pack(value, names):
    """Replace big numeric arrays in a batch (nested tuples/lists/dicts) by shared segments."""
    if isinstance(value, tuple):
        return tuple(_pack(v, names) for v in value)
    if isinstance(value, list):
        return [_pack(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _pack(v, names) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc" \
            and value.nbytes >= SHARED_MEMORY_MIN_BYTES:
        name = next(names)
        segment = shared_memory.SharedMemory(name=name, create=True, size=value.nbytes)
        # The main process owns the segment from now on (it unlinks it, or the pool's sweep does).
        resource_tracker.unregister(segment._name, "shared_memory")
        np.ndarray(value.shape, value.dtype, buffer=segment.buf)[...] = value
        segment.close()
        return _Shared(name, value.dtype.str, value.shape)
    return value


class _Shared:
    __slots__ = ("name", "dtype", "shape")

    def __init__(self, name, dtype, shape):
        self.name, self.dtype, self.shape = name, dtype, shape

    def __reduce__(self):
        return _Shared, (self.name, self.dtype, self.shape)


def _unpack(value):
    if isinstance(value, tuple):
        return tuple(_unpack(v) for v in value)
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    if isinstance(value, dict):
        return {k: _unpack(v) for k, v in value.items()}
    if isinstance(value, _Shared):
        segment = shared_memory.SharedMemory(name=value.name)
        try:
            array = np.ndarray(value.shape, np.dtype(value.dtype), buffer=segment.buf).copy()
        finally:
            segment.close()
            segment.unlink()
        return array
    return value


def _discard(value):
    """Unlink the segments of a batch that will not be used."""
    if isinstance(value, (tuple, list)):
        for v in value:
            _discard(v)
    elif isinstance(value, dict):
        for v in value.values():
            _discard(v)
    elif isinstance(value, _Shared):
        _unlink(value.name)


def _unlink(name):
    try:
        segment = shared_memory.SharedMemory(name=name)
    except FileNotFoundError:
        return
    segment.close()
    segment.unlink()


# -- the worker -----------------------------------------------------------------------------------
def _seed_worker(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _ember_random.manual_seed(seed)


def _build(loader, indices):
    """Build one batch of NumPy arrays; on failure, raise ``_SampleError`` naming the sample."""
    if loader._fetch is not None:
        try:
            return loader._fetch_batch(indices)
        except Exception as error:
            raise _SampleError(f"one of sample indices {indices.tolist()[:16]}", error) from error
    samples = []
    for i in indices.tolist():
        try:
            samples.append(loader.dataset[i])
        except Exception as error:
            raise _SampleError(f"sample index {i}", error) from error
    try:
        return loader._fetch_batch(indices, samples)
    except Exception as error:
        raise _SampleError(f"collating sample indices {indices.tolist()[:16]}", error) from error


class _SampleError(Exception):
    def __init__(self, where, error):
        super().__init__(where, error)
        self.where, self.error = where, error


def _worker_loop(worker_id, num_workers, seed, loader, tasks, results, init_fn, prefix):
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, loader.dataset)
    _seed_worker(seed)
    names = (f"{prefix}_{worker_id}_{n}" for n in itertools.count())
    try:
        if init_fn is not None:
            init_fn(worker_id)
    except Exception as error:
        results.put((None, None, _FAILED, _describe(worker_id, "worker_init_fn", error)))
        return
    while True:
        task = tasks.get()
        if task is None:
            return
        generation, number, indices = task
        try:
            payload = _pack(_build(loader, indices), names)
            results.put((generation, number, _OK, payload))
        except _SampleError as failure:
            results.put((generation, number, _FAILED,
                         _describe(worker_id, failure.where, failure.error)))
        except Exception as error:
            results.put((generation, number, _FAILED, _describe(worker_id, f"batch {number}", error)))


def _describe(worker_id, where, error):
    kind = (type(error).__module__, type(error).__qualname__)   # resolved again in the main process
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    message = (f"DataLoader worker {worker_id} failed on {where}: {type(error).__name__}: {error}\n"
               f"Traceback in the worker process:\n{text}")
    return kind, message


def _exception_class(module, qualname):
    """The exception class named ``module.qualname`` if that module is loaded here, else None."""
    found = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) and issubclass(found, Exception) else None


def _raise_failure(described):
    (module, qualname), message = described
    try:
        kind = _exception_class(module, qualname)
        error = kind(message) if kind is not None else None
    except Exception:
        error = None
    raise error if isinstance(error, Exception) else RuntimeError(message)


# -- the pool -------------------------------------------------------------------------------------
def _context(name):
    import multiprocessing
    if name is None:
        name = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(name) if isinstance(name, str) else name


class WorkerPool:
    """``num_workers`` processes building batches of ``loader``; see the module docstring."""

    def __init__(self, loader, num_workers, base_seed, worker_init_fn, context):
        ctx = _context(context)
        resource_tracker.ensure_running()   # one tracker shared by the workers, not one each
        self.num_workers = num_workers
        self.prefix = f"ember_{os.getpid()}_{secrets.token_hex(3)}"   # short: macOS allows 30
        self.results = ctx.Queue()
        self.tasks = [ctx.Queue() for _ in range(num_workers)]
        self.generation = 0
        self.processes = []
        self.closed = False
        for worker_id in range(num_workers):
            process = ctx.Process(
                target=_worker_loop, name=f"ember-DataLoader-worker-{worker_id}", daemon=True,
                args=(worker_id, num_workers, base_seed + worker_id, loader, self.tasks[worker_id],
                      self.results, worker_init_fn, self.prefix))
            process.start()
            # The child has its copy; drop ours so the pool does not keep the loader alive.
            process._args, process._kwargs = (), {}
            self.processes.append(process)
        self._finalizer = weakref.finalize(self, _shutdown, self.processes, self.tasks,
                                           self.results, self.prefix)

    def pids(self):
        return [p.pid for p in self.processes]

    def close(self):
        self.closed = True
        self._finalizer()

    def check_alive(self):
        for worker_id, process in enumerate(self.processes):
            if not process.is_alive():
                code = process.exitcode
                self.close()
                raise RuntimeError(f"DataLoader worker {worker_id} (pid {process.pid}) exited "
                                   f"unexpectedly with exit code {code}; if it was killed "
                                   "(e.g. out of memory), use fewer workers or smaller batches")


def _shutdown(processes, tasks, results, prefix):
    for q in tasks:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + _JOIN_S   # one grace period for all, then kill the stragglers
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(timeout=5.0)
    while True:   # unlink the segments of batches nobody will read
        try:
            _, _, status, payload = results.get(timeout=0.01)
        except (queue.Empty, OSError, ValueError, EOFError):
            break
        if status == _OK:
            _discard(payload)
    for q in tasks:   # never block on a pipe that a dead worker no longer reads
        q.cancel_join_thread()
        q.close()
    results.close()
    if os.path.isdir(_SHM_DIR):   # a worker killed mid-batch may have left a segment behind
        for name in os.listdir(_SHM_DIR):
            if name.startswith(prefix + "_"):
                _unlink(name)


class MultiProcessIterator:
    """One epoch of batches from a ``WorkerPool``, in order, ``prefetch_factor`` per worker ahead."""

    def __init__(self, loader, pool, batches, prefetch_factor, own_pool, timeout):
        self.loader, self.pool, self.own_pool, self.timeout = loader, pool, own_pool, timeout
        pool.generation += 1
        self.generation = pool.generation
        self.batches = enumerate(batches)
        self.outstanding = 0
        self.limit = prefetch_factor * pool.num_workers
        self.ready = {}
        self.next_number = 0
        self.exhausted = False
        self.finished = False
        self._fill()

    def _fill(self):
        while not self.exhausted and self.outstanding < self.limit:
            try:
                number, indices = next(self.batches)
            except StopIteration:
                self.exhausted = True
                return
            self.pool.tasks[number % self.pool.num_workers].put((self.generation, number, indices))
            self.outstanding += 1

    def __iter__(self):
        return self

    def __next__(self):
        if self.finished:
            raise StopIteration
        if self.pool.generation != self.generation:
            self._finish()
            raise RuntimeError("DataLoader: this iterator was superseded: a newer iteration of the "
                               "same loader (persistent_workers=True) took over its workers; finish "
                               "one epoch before starting the next")
        try:
            if self.outstanding == 0 and self.exhausted:
                self._finish()
                raise StopIteration
            while self.next_number not in self.ready:
                self._receive()
            status, payload = self.ready.pop(self.next_number)
            self.next_number += 1
            self.outstanding -= 1
            if status == _FAILED:   # raised in batch order, as the batches themselves come
                _raise_failure(payload)
            self._fill()
            batch = _unpack(payload)
        except StopIteration:
            raise
        except BaseException:   # errors, KeyboardInterrupt: stop the workers before leaving
            self._finish()
            raise
        return self.loader._finish_batch(batch)

    def _receive(self):
        waited = 0.0
        while True:
            try:
                generation, number, status, payload = self.pool.results.get(timeout=_POLL_S)
                break
            except queue.Empty:
                self.pool.check_alive()
                waited += _POLL_S
                if self.timeout and waited >= self.timeout:
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} s waiting "
                                       f"for batch {self.next_number} from the workers")
        if generation is not None and generation != self.generation:
            if status == _OK:   # left over from an abandoned epoch
                _discard(payload)
            return
        if generation is None:   # worker_init_fn failed: no batch will come from that worker
            _raise_failure(payload)
        self.ready[number] = (status, payload)

    def _finish(self):
        if self.finished:
            return
        self.finished = True
        if self.own_pool:
            self.pool.close()
        else:   # persistent workers: drop this epoch's batches still in flight
            for status, payload in self.ready.values():
                if status == _OK:
                    _discard(payload)
            self.ready.clear()

    close = _finish

    def __del__(self):
        try:
            self._finish()
        except Exception:
            pass
