"""``ember.cuda``: is a GPU usable here, wait for it, and how much memory ember's arrays use on it.

The names and the behaviour without a GPU follow ``torch.cuda``: ``is_available()`` is False and
``device_count()`` 0 (never an error); the memory statistics are 0 and
``reset_peak_memory_stats()`` does nothing (there is nothing to measure); ``synchronize()`` and
``current_device()`` raise :class:`~ember.backend.DeviceUnavailableError` (a RuntimeError) naming
what is missing -- CuPy (``pip install cupy-cuda12x``) or a visible GPU -- because a program that
waits for a GPU it does not have has a bug worth reporting.

Memory is counted in CuPy's memory pool, which holds every ember array on a GPU: ``memory_allocated``
is the bytes handed out now, ``max_memory_allocated`` the high-water mark since start or the last
``reset_peak_memory_stats``, ``memory_reserved`` what the pool holds from the driver (allocated plus
cached free blocks).  ``device`` may be None (the current GPU), an int, ``'cuda:N'`` or an
``ember.device``.
"""
from .backend import array_backends as _backends
from .backend.device import Device, DeviceError

__all__ = ["is_available", "device_count", "current_device", "synchronize", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "reset_peak_memory_stats"]


def is_available():
    """True when ember can put tensors on a GPU here (CuPy imports and a GPU is visible)."""
    return _backends.is_available("cuda")


def device_count():
    """The number of visible GPUs (0 without CuPy or a GPU)."""
    if not is_available():
        return 0
    return _backends.backend_for("cuda").device_count()


def _parse(device, fn):
    """``device`` (None, int, 'cuda:N', ember.device) as a CUDA Device; bad names raise even
    without a GPU."""
    if device is None:
        dev = Device("cuda")
    elif isinstance(device, int) and not isinstance(device, bool):
        dev = Device("cuda", device)
    else:
        dev = Device(device)
    if dev.type != "cuda":
        raise DeviceError(f"ember.cuda.{fn}: expected a CUDA device (None, an int, 'cuda:N'), got {str(dev)!r}")
    return dev


def _backend_and_index(device, fn):
    dev = _parse(device, fn)
    backend = _backends.backend_for(dev)          # raises DeviceUnavailableError, naming what is missing
    return backend, (backend.current_index() if dev.index is None else dev.index)


def current_device():
    """The index of the current GPU; raises DeviceUnavailableError without one."""
    backend, index = _backend_and_index(None, "current_device")
    return index


def synchronize(device=None):
    """Block until every kernel queued on ``device`` (default: the current GPU) has finished.

    Time GPU work with it (kernels run asynchronously).  Raises DeviceUnavailableError, naming what
    is missing, when there is no usable GPU.
    """
    backend, index = _backend_and_index(device, "synchronize")
    backend.synchronize(index)


def _stat(device, fn, name):
    if not is_available():
        _parse(device, fn)
        return 0
    backend, index = _backend_and_index(device, fn)
    return int(getattr(backend, name)(index))


def memory_allocated(device=None):
    """Bytes of GPU memory held by arrays now (0 without a GPU)."""
    return _stat(device, "memory_allocated", "memory_allocated")


def max_memory_allocated(device=None):
    """Peak bytes held by arrays since start or the last ``reset_peak_memory_stats`` (0 without a
    GPU)."""
    return _stat(device, "max_memory_allocated", "max_memory_allocated")


def memory_reserved(device=None):
    """Bytes the memory pool holds from the driver: in use plus cached (0 without a GPU)."""
    return _stat(device, "memory_reserved", "memory_reserved")


def reset_peak_memory_stats(device=None):
    """Start measuring ``max_memory_allocated`` afresh from now (nothing to do without a GPU)."""
    if not is_available():
        _parse(device, "reset_peak_memory_stats")
        return
    backend, index = _backend_and_index(device, "reset_peak_memory_stats")
    backend.reset_peak_memory_stats(index)
