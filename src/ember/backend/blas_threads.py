"""Run a stretch of code with OpenBLAS single-threaded, for ops that split matrix products over
ember's own threads.

Some products are better cut by ember than by OpenBLAS: the backward of a 1x1 convolution
computes ``g @ W.T`` and ``x.T @ g`` block by block so that each block of ``g`` is read once for
both, and ``x.T @ g`` (a long reduction into a small matrix) is summed from per-block partial
products that ember's threads compute side by side.  Each block's product must then run on the
calling thread only: two threads each asking OpenBLAS for its full team would oversubscribe the
cores.  :func:`single_threaded` sets OpenBLAS's thread count to 1 for the ``with`` block and
restores it after (nested and concurrent uses restore it once, when the last one leaves).  While
it is held, a product started by another thread also runs on one thread.

Without an OpenBLAS that exports ``openblas_set_num_threads`` (MKL, Accelerate) it does nothing:
``available()`` says so, and callers keep their unsplit products.
"""
import ctypes
import threading
from contextlib import contextmanager

from . import blas

_lock = threading.Lock()
_holders = 0
_saved = None
_functions = None       # (set, get), False when not found, None before the first look


def _lookup():
    global _functions
    if _functions is None:
        setter = blas.openblas_function("set_num_threads", [ctypes.c_int], None)
        getter = blas.openblas_function("get_num_threads", [], ctypes.c_int)
        _functions = (setter, getter) if setter is not None and getter is not None else False
    return _functions or None


def available():
    """Whether OpenBLAS's thread count can be set here."""
    return _lookup() is not None


def blas_threads():
    """OpenBLAS's current thread count (None when it cannot be read)."""
    functions = _lookup()
    return functions[1]() if functions else None


@contextmanager
def single_threaded():
    """OpenBLAS runs each product on its calling thread inside the ``with`` block."""
    global _holders, _saved
    functions = _lookup()
    if functions is None:
        yield
        return
    setter, getter = functions
    with _lock:
        if _holders == 0:
            _saved = getter()
            if _saved != 1:
                setter(1)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved not in (None, 1):
                setter(_saved)
