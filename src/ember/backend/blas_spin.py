"""Let OpenBLAS's idle worker threads go to sleep soon after a matrix product, so that they do not
take a core away from ember's own threads.

NumPy's OpenBLAS (a pthreads build) keeps its worker threads busy-waiting after every threaded
matrix product -- on x86 a loop of ``nop`` instructions that never yields the core -- for 2^28 CPU
cycles (about 0.1 s) before they sleep.  ember splits memory-bound ops (depthwise convolution,
padding copies, optimizer sweeps) over its own thread pool (``ops/_parallel.py``), and such an op
often follows a product within that 0.1 s: on a 2-core machine the spinning worker then holds one
core and ember's two threads share the other.  Measured (2-core Xeon, 2 threads, forward + backward
of a MobileNet block, depthwise 3x3 + pointwise 1x1 on 32x56x56x64): 73.5 ms with OpenBLAS's
default, 40-43 ms when the workers sleep after 2^20 to 2^23 cycles.  A wait of 2^22 cycles (about
1.7 ms) still keeps them awake between products separated by short copies (transposed
convolution: 6.2 ms, against 6.7 ms with 2^20) and between back-to-back products (MLP, CNN and
LSTM training steps unchanged within noise), while a still shorter one costs a wake-up per
product (2^16: LSTM step 17.9 ms instead of 14.4 ms).

OpenBLAS reads ``OPENBLAS_THREAD_TIMEOUT`` (log2 of the cycles) when it starts its workers, which
NumPy's import already did.  So :func:`tune` sets the variable (child processes inherit it), has
OpenBLAS re-read its environment (``openblas_read_env``) and stops its workers
(``blas_thread_shutdown_``, the call OpenBLAS itself makes before every ``fork``); the next product
starts them again with the new wait.  It runs once, when ember is imported: stopping the workers
while another thread is inside a BLAS call would not be safe.

Nothing is changed when: ``EMBER_BLAS_SPIN_TUNING=0``; the user set ``OPENBLAS_THREAD_TIMEOUT``
(then theirs applies); or NumPy's BLAS is not an OpenBLAS with those two functions (MKL,
Accelerate).  Results never change: only how long idle threads wait, not which kernels compute.
"""
import os

from . import blas

#: log2 of the CPU cycles an idle OpenBLAS worker busy-waits before it sleeps (OpenBLAS: 28).
THREAD_TIMEOUT = 22

#: What ``tune()`` did, for bug reports (``ember.backend.info()["blas"]["thread_timeout"]``).
decision = "not run"


def _functions():
    """OpenBLAS's ``(openblas_read_env, blas_thread_shutdown_)`` via ctypes, or None."""
    import ctypes
    read_env = blas.openblas_function("read_env", [], None)
    shutdown = blas.openblas_function("blas_thread_shutdown_", [], ctypes.c_int, exact=True)
    return (read_env, shutdown) if read_env is not None and shutdown is not None else None


def tune(environ=os.environ, functions=None):
    """Shorten OpenBLAS's idle busy-wait to 2^THREAD_TIMEOUT cycles unless the user chose; returns
    the reason.  ``functions`` (for tests) stands in for ``(openblas_read_env,
    blas_thread_shutdown_)``; by default they are looked up in the OpenBLAS NumPy loaded."""
    global decision
    if environ.get("EMBER_BLAS_SPIN_TUNING", "1") == "0":
        decision = "disabled by EMBER_BLAS_SPIN_TUNING=0"
    elif "OPENBLAS_THREAD_TIMEOUT" in environ:
        decision = f"OPENBLAS_THREAD_TIMEOUT={environ['OPENBLAS_THREAD_TIMEOUT']} set by the environment"
    else:
        if functions is None:
            functions = _functions()
        if functions is None:
            decision = "not OpenBLAS (or no openblas_read_env / blas_thread_shutdown_): left alone"
        else:
            read_env, shutdown = functions
            environ["OPENBLAS_THREAD_TIMEOUT"] = str(THREAD_TIMEOUT)
            read_env()
            shutdown()          # restarted by the next product, reading the new timeout
            decision = f"OPENBLAS_THREAD_TIMEOUT={THREAD_TIMEOUT} (idle workers sleep after ~2^{THREAD_TIMEOUT} cycles)"
    return decision
