"""The array module behind ember's tensors, and the devices arrays live on.

Every device-array call in ``ember.ops`` goes through the handle ``xp`` defined here.  ``xp`` is
NumPy, the default (CPU) module; an array on another device belongs to that device's module,
given by :func:`get_array_module` (CuPy for ``'cuda'`` arrays).  CuPy is imported only when a
``'cuda'`` device is first asked for, so a CPU-only process never touches it.  How ops are to
dispatch on their inputs' device is planned in docs/gpu.md.

:func:`info` (and :func:`describe`, its one-line form) says what computes: the array module and
the BLAS kernels.  ember never changes the kernels NumPy's OpenBLAS picks (``blas.py`` says why and
how to choose them), so every process of a run computes alike whatever its import order.

Names: :class:`Device` (``ember.device``), :func:`device_of`, :func:`to_device`, :func:`to_host`,
:func:`backend_for`, :func:`check_same_device`, and the errors :class:`DeviceError` (unknown
name), :class:`DeviceUnavailableError` (known but not usable here), :class:`DeviceMismatchError`.
"""
from . import blas  # noqa: F401  (reports, never changes, NumPy's BLAS kernels; see blas.py)
from . import malloc_tuning  # noqa: E402

malloc_tuning.tune()        # reuse freed array memory instead of page-faulting; see malloc_tuning.py

import numpy  # noqa: E402

from . import blas_spin  # noqa: E402

blas_spin.tune()            # idle OpenBLAS threads sleep after ~2 ms, not 0.1 s; see blas_spin.py

from . import array_backends as _backends  # noqa: E402
from .array_backends import (ArrayBackend, DeviceMismatchError,  # noqa: E402,F401
                             DeviceUnavailableError, backend_for, backend_of, check_same_device,
                             device_of, get_array_module, on_backends_changed, single_backend,
                             to_device, to_host)
from .device import CPU, Device, DeviceError  # noqa: E402,F401


def _load_cupy():
    from . import cupy_backend
    return cupy_backend.load()


_backends.set_loader("cuda", _load_cupy)

#: The default array module (NumPy, the CPU).  Arrays on other devices: ``get_array_module(a)``.
xp = numpy

#: Host-side NumPy, for code that must talk to the host whatever the device (I/O, conversions).
np = numpy


def as_array(data, dtype=None, device=None):
    """Return ``data`` as a backend array (no copy if it already is one of ``dtype`` on ``device``;
    ``device`` None keeps an array where it is and puts other data on the CPU)."""
    if device is None:
        return get_array_module(data).asarray(data, dtype=dtype)
    if backend_of(data).device_type == "cpu":
        data = numpy.asarray(data)
    arr = to_device(data, device)
    return arr if dtype is None or arr.dtype == dtype else arr.astype(dtype)


def info():
    """What computes here, as a JSON-serialisable dict: ``array_module`` ('numpy'), ``numpy`` (its
    version) and ``blas`` (:func:`ember.backend.blas.info`: the OpenBLAS kernel family in use, the
    ``OPENBLAS_CORETYPE`` that chose it, threads, a hint when faster kernels are available, and
    ``thread_timeout``: what :mod:`ember.backend.blas_spin` did).
    Written into checkpoints' metadata and printed by ``ember demo``."""
    details = blas.info()
    details["thread_timeout"] = blas_spin.decision
    return {"array_module": "numpy", "numpy": numpy.__version__, "blas": details}


def describe(details=None):
    """:func:`info` as one line, e.g. ``NumPy 2.4.6, OpenBLAS SkylakeX kernels, 2 threads,
    OPENBLAS_CORETYPE unset`` (then ``; hint: ...`` when faster kernels are available)."""
    details = info() if details is None else details
    b = details.get("blas") or {}
    kernels = (f"OpenBLAS {b['corename']} kernels" if b.get("corename") else "BLAS kernels unknown "
               "(not NumPy's OpenBLAS)")
    line = f"NumPy {details.get('numpy')}, {kernels}"
    if b.get("threads"):
        line += f", {b['threads']} thread{'s' if b['threads'] != 1 else ''}"
    coretype = b.get("OPENBLAS_CORETYPE")
    line += f", OPENBLAS_CORETYPE={coretype}" if coretype else ", OPENBLAS_CORETYPE unset"
    if b.get("hint"):
        line += f"; hint: {b['hint']}"
    return line
