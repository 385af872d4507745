"""Pick OpenBLAS's AVX-512 kernels on AMD CPUs that have AVX-512 but are detected as Haswell.

NumPy's bundled OpenBLAS chooses its kernels from the CPU at load time.  On AMD Zen 4/5 (and on
virtual machines that hide the CPU model, like the one ember is benchmarked on) it falls back to
its AVX2 "Haswell" kernels although the CPU runs AVX-512; its "SkylakeX" kernels are then
1.4-2x faster on float32 matrix products (measured: 2048^3 85 -> 173 GFLOP/s, 128x784x128
207 -> 330 GFLOP/s on 2 threads).  The choice can only be made through the environment variable
``OPENBLAS_CORETYPE`` before NumPy is first imported, so this module must not import NumPy.

Nothing is changed when: NumPy is already imported (too late), ``OPENBLAS_CORETYPE`` is already
set (the user chose), ``EMBER_BLAS_TUNING=0``, the CPU is not AMD, or it lacks any of the AVX-512
subsets the SkylakeX kernels use.  Intel CPUs are left alone: OpenBLAS detects them correctly.
"""
import os
import sys

_SKYLAKEX_FLAGS = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}

#: What ``tune()`` did, for ``ember.backend.info()`` and bug reports.
decision = "not run"


def _cpu_flags_and_vendor(path="/proc/cpuinfo"):
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read(1 << 16)
    except OSError:
        return set(), ""
    flags, vendor = set(), ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "flags" and not flags:
            flags = set(value.split())
        elif key == "vendor_id" and not vendor:
            vendor = value.strip()
        if flags and vendor:
            break
    return flags, vendor


def tune(environ=os.environ, modules=sys.modules, cpuinfo="/proc/cpuinfo"):
    """Set ``OPENBLAS_CORETYPE=SKYLAKEX`` when it helps and is still possible; returns the reason."""
    global decision
    if environ.get("EMBER_BLAS_TUNING", "1") == "0":
        decision = "disabled by EMBER_BLAS_TUNING=0"
    elif "OPENBLAS_CORETYPE" in environ:
        decision = f"OPENBLAS_CORETYPE={environ['OPENBLAS_CORETYPE']} set by the user"
    elif "numpy" in modules:
        decision = "numpy was imported before ember: OpenBLAS kernels already chosen"
    else:
        flags, vendor = _cpu_flags_and_vendor(cpuinfo)
        if vendor != "AuthenticAMD":
            decision = f"CPU vendor {vendor or 'unknown'}: left to OpenBLAS"
        elif not _SKYLAKEX_FLAGS <= flags:
            decision = "AMD CPU without AVX-512: left to OpenBLAS"
        else:
            environ["OPENBLAS_CORETYPE"] = "SKYLAKEX"
            decision = "AMD CPU with AVX-512: OPENBLAS_CORETYPE=SKYLAKEX"
    return decision
