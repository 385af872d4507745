"""Split memory-bound or small-matrix work of one op or optimizer sweep between a few threads.

NumPy runs elementwise ufuncs on one core, and OpenBLAS runs a small matrix product (such as one
head's 64 x 64 attention scores) on one core too, while the large products of a model use every
BLAS thread: on a 2-core machine, an op made of such calls leaves half the machine idle.  NumPy
releases the GIL inside its loops and BLAS calls, so cutting the op's leading axis into parts and
running one part per thread uses the idle cores.  The parts are disjoint slices of the same
arrays, computed by the same calls as the whole, so the result does not depend on the split.

``parallel_for(fn, n, min_size)`` calls ``fn(lo, hi)`` on consecutive ranges covering [0, n) --
one range in this thread and the others in a small pool -- when ``n`` is at least
``min_size`` per thread; otherwise it calls ``fn(0, n)`` directly.  ``split_count`` and
``run_parts`` are its two halves, for callers that prepare per-part buffers first (the optimizers'
flat-buffer sweep, ``ember.optim.optimizer``).  This is ember's only thread pool, and
``set_num_threads`` (also ``ember.optim.set_num_threads``) its only setting: ``set_num_threads(1)``
(or ``EMBER_NUM_THREADS=1``) turns the splitting off.  The default is the BLAS thread count the
environment asks for (``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS``), else the number of cores,
at most 4.
"""
import os
import threading

__all__ = ["parallel_for", "parallel_products", "fixed_blocks", "split_count", "run_parts", "set_num_threads",
           "get_num_threads"]


def _default_threads():
    for var in ("EMBER_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var)
        if value:
            try:
                return max(1, min(8, int(value)))
            except ValueError:
                pass
    return max(1, min(4, os.cpu_count() or 1))


_num_threads = _default_threads()
_pool = None
_lock = threading.Lock()


def _forget_pool():
    # A forked child (a data-loader worker) inherits the pool object but not its threads.
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def set_num_threads(n):
    """Threads used to split one op's work or one optimizer sweep (1 = no splitting)."""
    global _num_threads
    _num_threads = max(1, int(n))


def get_num_threads():
    """The thread count set by :func:`set_num_threads` (default: see the module docstring)."""
    return _num_threads


def _get_pool():
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers < _num_threads - 1:
            from concurrent.futures import ThreadPoolExecutor
            _pool = ThreadPoolExecutor(max_workers=max(1, _num_threads - 1),
                                       thread_name_prefix="ember-ops")
        return _pool


def split_count(n, min_size=1):
    """Into how many ranges to cut ``n`` items: at most ``get_num_threads()``, each at least
    ``min_size`` long, and 1 when called from a pool thread (a nested split runs serially)."""
    k = min(_num_threads, n // max(1, min_size))
    if k <= 1 or threading.current_thread().name.startswith("ember-ops"):
        return 1
    return k


def run_parts(fn, k):
    """Call ``fn(0), ..., fn(k - 1)`` at once -- part 0 in this thread, the others in the pool --
    and return when all are done; an exception from any part is re-raised here."""
    if k <= 1:
        fn(0)
        return
    pool = _get_pool()
    futures = [pool.submit(fn, i) for i in range(1, k)]
    try:
        fn(0)
    finally:
        for f in futures:
            f.result()


def parallel_for(fn, n, min_size=1):
    """Call ``fn(lo, hi)`` over consecutive ranges covering ``[0, n)``, in parallel.

    At most ``get_num_threads()`` ranges, each at least ``min_size`` long; this thread runs the
    first range.  ``fn`` must only write to disjoint parts of its outputs for different ranges.
    Exceptions from any range are re-raised here.  Called from a pool thread (a nested op), it
    runs everything in that thread.
    """
    k = split_count(n, min_size)
    if k == 1:
        fn(0, n)
        return
    bounds = [n * i // k for i in range(k + 1)]
    run_parts(lambda i: fn(bounds[i], bounds[i + 1]), k)


def parallel_products(fn, n):
    """``parallel_for(fn, n)`` for parts made of matrix products, each product on one OpenBLAS
    thread (``backend.blas_threads.single_threaded``: threads that each asked OpenBLAS for its
    whole team would oversubscribe the cores).  With one ember thread, or where OpenBLAS's thread
    count cannot be set, ``fn(0, n)`` runs here with OpenBLAS as it is.  For long reductions into
    small matrices (weight gradients), which OpenBLAS splits poorly between its own threads, cut
    into ``fixed_blocks`` whose partial products the caller sums in block order, so that the
    result does not depend on the thread count."""
    from ..backend import blas_threads
    if split_count(n) < 2 or not blas_threads.available():
        fn(0, n)
        return
    with blas_threads.single_threaded():
        parallel_for(fn, n)


def fixed_blocks(n, min_rows, max_blocks):
    """``(blocks, rows)``: ``n`` rows cut into blocks of at least ``min_rows`` rows (the last one
    shorter), at most ``max_blocks`` of them (a caller keeps one partial result per block).  It
    depends on ``n`` only, never on the thread count."""
    blocks = max(1, min(-(-n // min_rows), max_blocks))
    return blocks, -(-n // blocks)
