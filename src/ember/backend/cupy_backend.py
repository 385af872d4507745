"""The ``'cuda'`` device: CuPy arrays on NVIDIA GPUs.

Nothing here imports CuPy at ``import ember`` time: :func:`load` runs the first time a ``'cuda'``
device is asked for (``ember.tensor(..., device="cuda")``, ``Tensor.to("cuda")``,
``ember.cuda.is_available()``, ...).  When CuPy is missing or no GPU is visible it raises
:class:`~ember.backend.array_backends.DeviceUnavailableError` saying which, and how to fix it;
the reason is remembered so that later attempts fail fast with the same message.

GPU verification status: this file was written on a machine without a GPU; its code paths are
exercised by ``tests/gpu/`` on a machine that has one (see docs/gpu.md).
"""
import threading

from .array_backends import ArrayBackend, DeviceUnavailableError
from .device import Device

INSTALL_HINT = ("install the CuPy wheel matching your CUDA toolkit: pip install cupy-cuda12x "
                "(CUDA 12; cupy-cuda11x for CUDA 11)")

_failure = None       # the DeviceUnavailableError of the first failed load (re-raised later)
_lock = threading.Lock()


class CupyBackend(ArrayBackend):
    """CuPy arrays; device ``index`` is the CUDA device number."""

    device_type = "cuda"

    def __init__(self, cupy):
        self.cupy = cupy
        self.module = cupy
        self.array_types = (cupy.ndarray,)
        self._peak = _PeakTracker(cupy)

    def device_of(self, array):
        return Device("cuda", array.device.id)

    def current_index(self):
        return self.cupy.cuda.runtime.getDevice()

    def device_count(self):
        return self.cupy.cuda.runtime.getDeviceCount()

    def from_host(self, host_array, index):
        with self.cupy.cuda.Device(index):
            return self.cupy.array(host_array, copy=True)

    def to_host(self, array):
        return self.cupy.asnumpy(array)

    def move(self, array, index):
        with self.cupy.cuda.Device(index):
            return self.cupy.array(array, copy=True)     # device-to-device (peer) copy

    def full(self, shape, fill_value, dtype, index):
        with self.cupy.cuda.Device(index):
            return self.cupy.full(shape, fill_value, dtype=dtype)

    def synchronize(self, index):
        self.cupy.cuda.Device(index).synchronize()

    def memory_allocated(self, index):
        with self.cupy.cuda.Device(index):
            return int(self.cupy.get_default_memory_pool().used_bytes())

    def memory_reserved(self, index):
        with self.cupy.cuda.Device(index):
            return int(self.cupy.get_default_memory_pool().total_bytes())

    def max_memory_allocated(self, index):
        return max(self._peak.peak.get(index, 0), self.memory_allocated(index))

    def reset_peak_memory_stats(self, index):
        self._peak.peak[index] = self.memory_allocated(index)


class _PeakTracker:
    """Keeps the high-water mark of bytes handed out by CuPy's memory pool, per device.

    CuPy's pool reports the bytes in use now (``used_bytes``) but no peak; a
    ``cupy.cuda.MemoryHook`` sees every allocation from and release to the pool.  CuPy's hooks are
    per thread: this one is installed on the thread that loaded the backend (the training thread
    in ordinary use); allocations made by other threads are counted in ``memory_allocated`` (the
    pool's own count) but can be missed by the peak.
    """

    def __init__(self, cupy):
        self.peak = {}
        self.used = {}
        tracker = self

        class Hook(cupy.cuda.MemoryHook):
            name = "ember_peak_memory"

            def malloc_postprocess(self, device_id, size, mem_size, mem_ptr, pmem_id):
                used = tracker.used.get(device_id, 0) + mem_size
                tracker.used[device_id] = used
                if used > tracker.peak.get(device_id, 0):
                    tracker.peak[device_id] = used

            def free_postprocess(self, device_id, mem_size, mem_ptr, pmem_id):
                tracker.used[device_id] = tracker.used.get(device_id, 0) - mem_size

        self.hook = Hook()
        try:
            self.hook.__enter__()
        except Exception:   # an older CuPy without hooks: peak falls back to the current use
            self.hook = None


def load():
    """Import CuPy and check that a GPU is visible; returns the backend or raises (clearly)."""
    global _failure
    with _lock:
        if _failure is not None:
            raise DeviceUnavailableError(str(_failure))
        try:
            try:
                import cupy
            except ImportError as e:
                raise DeviceUnavailableError(
                    f"ember: device 'cuda' needs CuPy, which is not installed here ({e}); "
                    f"{INSTALL_HINT}") from None
            except Exception as e:       # installed but broken (missing CUDA libraries, ...)
                raise DeviceUnavailableError(
                    f"ember: device 'cuda' needs CuPy, which failed to import: {type(e).__name__}: "
                    f"{e}; check that the CuPy wheel matches the CUDA version ({INSTALL_HINT})") from None
            try:
                count = cupy.cuda.runtime.getDeviceCount()
            except Exception as e:   # CUDARuntimeError: no driver, no device, driver too old
                raise DeviceUnavailableError(
                    f"ember: CuPy {cupy.__version__} is installed but CUDA cannot be used: "
                    f"{type(e).__name__}: {e} (is an NVIDIA driver installed and a GPU visible? "
                    "check nvidia-smi and CUDA_VISIBLE_DEVICES)") from None
            if count == 0:
                raise DeviceUnavailableError(
                    f"ember: CuPy {cupy.__version__} is installed but no CUDA GPU is visible "
                    "(check nvidia-smi and CUDA_VISIBLE_DEVICES)")
            return CupyBackend(cupy)
        except DeviceUnavailableError as e:
            _failure = e
            raise


def forget_failure():
    """Let the next ``load()`` try again (after installing CuPy in a running process; tests)."""
    global _failure
    _failure = None
