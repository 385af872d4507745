"""A fake ``'cuda'`` device, so that ember's multi-device bookkeeping can be tested without a GPU.

:class:`FakeCudaBackend` registers through the same ``ember.backend.array_backends.register`` that
the CuPy backend uses.  Its arrays are :class:`FakeCudaArray`, a NumPy subclass that remembers a
device index, so every NumPy op still runs on them (and keeps the subclass), while ember sees a
second device: ``Tensor.device`` says ``cuda:N``, mixing it with CPU tensors is an error, moves
count as transfers (``host_to_device`` / ``device_to_host``).

What this cannot check: real CuPy calls, kernels, and whether an op would silently drop to NumPy
on a real GPU (NumPy ops accept the fake arrays).  tests/gpu/ covers those on a real GPU.
"""
import contextlib

import numpy as np

from ember.backend import array_backends
from ember.backend.array_backends import ArrayBackend
from ember.backend.device import Device


class FakeCudaArray(np.ndarray):
    """A NumPy array living on fake GPU ``device_index``."""

    def __array_finalize__(self, obj):
        self.device_index = getattr(obj, "device_index", 0)


def _on(array, index):
    out = np.asarray(array).view(FakeCudaArray)
    out.device_index = index
    return out


class _FakeModule:
    """NumPy, except that new arrays come back as FakeCudaArrays on the current fake device."""

    def __init__(self, backend):
        self._backend = backend

    def __getattr__(self, name):
        obj = getattr(np, name)
        if not callable(obj) or isinstance(obj, type):
            return obj
        backend = self._backend

        def call(*args, **kwargs):
            out = obj(*args, **kwargs)
            if type(out) is np.ndarray:
                out = _on(out, backend.current)
            return out
        return call


class FakeCudaBackend(ArrayBackend):
    device_type = "cuda"
    array_types = (FakeCudaArray,)

    def __init__(self, count=2):
        self.count = count
        self.current = 0
        self.module = _FakeModule(self)
        self.host_to_device = 0
        self.device_to_host = 0
        self.synchronized = []

    def device_of(self, array):
        return Device("cuda", array.device_index)

    def current_index(self):
        return self.current

    def device_count(self):
        return self.count

    def from_host(self, host_array, index):
        self.host_to_device += 1
        return _on(np.array(host_array, copy=True), index)

    def to_host(self, array):
        self.device_to_host += 1
        return np.array(array, copy=True).view(np.ndarray)

    def move(self, array, index):
        return _on(np.array(array, copy=True), index)

    def full(self, shape, fill_value, dtype, index):
        return _on(np.full(shape, fill_value, dtype=dtype), index)

    def synchronize(self, index):
        self.synchronized.append(index)

    def memory_allocated(self, index):
        return 1000 + index

    def max_memory_allocated(self, index):
        return 2000 + index

    def memory_reserved(self, index):
        return 3000 + index

    def reset_peak_memory_stats(self, index):
        self.synchronized.append(("reset", index))


@contextlib.contextmanager
def fake_cuda(count=2):
    """Register a :class:`FakeCudaBackend` as ``'cuda'`` for the duration (restoring whatever was
    registered before, e.g. a real CuPy backend)."""
    previous = array_backends.loaded_backends().get("cuda")
    backend = array_backends.register(FakeCudaBackend(count))
    try:
        yield backend
    finally:
        if previous is not None:
            array_backends.register(previous)
        else:
            array_backends.unregister("cuda")
