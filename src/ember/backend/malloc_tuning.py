"""Keep freed array memory in the process (glibc), so that a training step does not page-fault.

A training step allocates and frees the same few dozen activation and gradient arrays every step,
most between 128 KiB and a few MiB.  With glibc's defaults such arrays are served by ``mmap`` (or
from the top of a heap that ``free`` trims), so every step hands the pages back to the kernel and
the next step takes a page fault on every 4 KiB it touches again: measured on the GPT ``baby``
step, ~7,000 faults per step and 46 ms instead of 32 ms.  Raising glibc's mmap threshold to 32 MiB
(its maximum) and its trim threshold to 256 MiB keeps those arrays in the heap and their pages
mapped; the same addresses are then reused step after step (~0 faults per step).  The cost: up to
256 MiB of freed memory per malloc arena stays with the process instead of returning to the OS,
and arrays above 32 MiB keep glibc's behaviour.

Nothing is changed when: ``EMBER_MALLOC_TUNING=0``; the user already chose (glibc's
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` variables, or ``glibc.malloc`` tunables in
``GLIBC_TUNABLES``); or the C library is not glibc (macOS, Windows, musl).
"""
import os
import sys

#: Arrays up to this size come from the heap (glibc's largest allowed value on 64-bit).
MMAP_THRESHOLD = 32 << 20
#: Free memory at the top of a heap is returned to the OS only beyond this.
TRIM_THRESHOLD = 256 << 20

_M_TRIM_THRESHOLD = -1      # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3

#: What ``tune()`` did, for bug reports.
decision = "not run"


def _glibc():
    """glibc's ``mallopt`` through ctypes, or None when the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version        # only glibc has it
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def tune(environ=os.environ, mallopt=None):
    """Raise glibc's mmap and trim thresholds unless the user chose otherwise; returns the reason.

    ``mallopt`` (for tests) stands in for glibc's; by default it is looked up with ctypes."""
    global decision
    if environ.get("EMBER_MALLOC_TUNING", "1") == "0":
        decision = "disabled by EMBER_MALLOC_TUNING=0"
    elif any(v in environ for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")) \
            or "glibc.malloc" in environ.get("GLIBC_TUNABLES", ""):
        decision = "malloc thresholds set by the user's environment"
    else:
        if mallopt is None:
            mallopt = _glibc()
        if mallopt is None:
            decision = "not glibc: left alone"
        elif mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD):
            decision = (f"glibc: mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim threshold "
                        f"{TRIM_THRESHOLD >> 20} MiB")
        else:
            decision = "glibc refused the thresholds: left alone"
    return decision
