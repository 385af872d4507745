"""Which BLAS kernels NumPy runs, reported rather than chosen.

The rule: **ember never changes the BLAS kernels.**  NumPy's bundled OpenBLAS picks its kernel
family once, when NumPy is first imported, from the CPU and the environment variable
``OPENBLAS_CORETYPE``.  ember leaves that choice alone, so the kernels of a process depend only on
its machine and its environment -- never on whether ``import numpy`` or ``import ember`` came
first -- and every process of one run (the ranks of an MPI launch, a later ``--resume``) computes
with the same kernels when they share the environment.

To choose the kernels, set the variable before Python starts, for every process of the run::

    OPENBLAS_CORETYPE=SKYLAKEX python3 train.py       # AVX-512 kernels
    OPENBLAS_CORETYPE=Haswell  python3 train.py       # AVX2 kernels

:func:`info` says what is in use; it is printed by ``ember demo`` and written into every
checkpoint's metadata (key ``"ember.backend"``).  When OpenBLAS runs its AVX2 "Haswell" kernels on
an AMD CPU that has the AVX-512 subsets of its "SkylakeX" kernels (OpenBLAS does not select them
there, and virtual machines that hide the CPU model fall back the same way), ``info()["hint"]``
names the variable: the SkylakeX kernels are 1.4-2x faster on float32 matrix products there
(measured: 2048^3 85 -> 173 GFLOP/s, 128x784x128 207 -> 330 GFLOP/s on 2 threads).  Some
machines preset ``OPENBLAS_CORETYPE=Haswell`` on purpose (older OpenBLAS builds misbehave on their
CPUs); the hint is only a hint.

This module must not import NumPy at import time: :func:`cpu` reads ``/proc/cpuinfo`` only.
"""
import ctypes
import os
import sys

#: The AVX-512 subsets OpenBLAS's SkylakeX kernels use.
SKYLAKEX_FLAGS = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})

# Symbol names of OpenBLAS's query functions, plain and as NumPy's scipy-openblas builds prefix
# and suffix them.
_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "")


def cpu(cpuinfo="/proc/cpuinfo"):
    """``(vendor, flags)`` of the first processor listed in ``cpuinfo`` ('' and an empty set when
    it cannot be read)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            text = f.read(1 << 16)
    except OSError:
        return "", frozenset()
    flags, vendor = frozenset(), ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "flags" and not flags:
            flags = frozenset(value.split())
        elif key == "vendor_id" and not vendor:
            vendor = value.strip()
        if flags and vendor:
            break
    return vendor, flags


def _loaded_openblas(maps="/proc/self/maps"):
    """Paths of the OpenBLAS libraries mapped into this process (NumPy's first)."""
    try:
        with open(maps, encoding="utf-8", errors="replace") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return []
    return sorted(paths, key=lambda p: ("numpy" not in p, p))


def _symbol(lib, name):
    """OpenBLAS function ``name`` of ``lib``, plain or as NumPy's scipy-openblas builds prefix and
    suffix it (``openblas_get_corename``, ``scipy_openblas_get_corename64_``), or None."""
    for prefix in _PREFIXES:
        for suffix in _SUFFIXES:
            fn = getattr(lib, f"{prefix}{name}{suffix}", None)
            if fn is not None:
                return fn
    return None


def _query(lib, name, restype):
    fn = _symbol(lib, name)
    if fn is None:
        return None
    fn.restype = restype
    fn.argtypes = []
    return fn()


def _numpy_openblas():
    """``(ctypes library, path)`` of the OpenBLAS NumPy loaded, or None (NumPy not imported yet,
    or not built on OpenBLAS)."""
    if "numpy" not in sys.modules:
        return None
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if _symbol(lib, "get_corename") is not None:
            return lib, path
    return None


def openblas_function(name, argtypes, restype, exact=False):
    """A function of NumPy's OpenBLAS through ctypes, or None where there is none: ``name`` as
    OpenBLAS's API spells it without its ``openblas_`` prefix (``"set_num_threads"``), or with
    ``exact`` the symbol itself (``"blas_thread_shutdown_"``)."""
    found = _numpy_openblas()
    if found is None:
        return None
    lib = found[0]
    fn = getattr(lib, name, None) if exact else _symbol(lib, name)
    if fn is not None:
        fn.argtypes, fn.restype = argtypes, restype
    return fn


def openblas():
    """``{"library", "corename", "config", "threads"}`` of the OpenBLAS NumPy loaded, or None when
    NumPy is not imported yet or does not use OpenBLAS (e.g. an MKL or Accelerate build)."""
    found = _numpy_openblas()
    if found is None:
        return None
    lib, path = found
    corename = _query(lib, "get_corename", ctypes.c_char_p)
    config = _query(lib, "get_config", ctypes.c_char_p)
    return {"library": os.path.basename(path), "corename": corename.decode(),
            "config": config.decode().strip() if config else None,
            "threads": _query(lib, "get_num_threads", ctypes.c_int)}


def hint(corename, vendor, flags, environ=os.environ):
    """A suggestion when faster kernels are one environment variable away, else None."""
    if corename is None or corename.lower() != "haswell" or vendor != "AuthenticAMD":
        return None
    if not SKYLAKEX_FLAGS <= flags:
        return None
    preset = environ.get("OPENBLAS_CORETYPE")
    why = f"OPENBLAS_CORETYPE={preset} is set" if preset else "OpenBLAS did not select them"
    return ("this AMD CPU has AVX-512 but OpenBLAS runs its AVX2 'Haswell' kernels (" + why +
            "); OPENBLAS_CORETYPE=SKYLAKEX in the environment of every process of a run selects "
            "the AVX-512 kernels (1.4-2x faster float32 matrix products), if this machine's "
            "OpenBLAS is known to be sound on it")


def info(environ=os.environ, cpuinfo="/proc/cpuinfo"):
    """What runs the matrix products: a JSON-serialisable dict with ``OPENBLAS_CORETYPE`` (the
    environment's, or None), ``corename`` (the kernel family OpenBLAS chose, e.g. 'Haswell',
    'SkylakeX'; None when not OpenBLAS), ``library``, ``config``, ``threads``, ``cpu_vendor``,
    ``avx512`` (the CPU has SkylakeX's subsets) and ``hint`` (None, or how to get faster kernels)."""
    vendor, flags = cpu(cpuinfo)
    blas = openblas() or {}
    corename = blas.get("corename")
    return {"OPENBLAS_CORETYPE": environ.get("OPENBLAS_CORETYPE"),
            "corename": corename, "library": blas.get("library"), "config": blas.get("config"),
            "threads": blas.get("threads"), "cpu_vendor": vendor or None,
            "avx512": SKYLAKEX_FLAGS <= flags,
            "hint": hint(corename, vendor, flags, environ)}
