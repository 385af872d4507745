"""DLPack: tensors shared without a copy with NumPy, PyTorch, CuPy, JAX and other array libraries.

Export: ``Tensor.__dlpack__`` / ``Tensor.__dlpack_device__`` (in ``tensor.py``), so that
``torch.from_dlpack(t)``, ``np.from_dlpack(t)`` and ``cupy.from_dlpack(t)`` see ``t``'s memory.
Import: :func:`from_dlpack` (``ember.from_dlpack``), here.

DLPack carries memory -- a pointer, shape, strides, dtype and device -- not autograd history: an
imported tensor never requires grad, and an exported one is exported as its data (as
``t.detach()``).  What is shared is the memory: a write on either side is seen by the other.
"""
import ctypes

import numpy as _np

from .backend import array_backends as _backends
from .backend.device import Device as _Device
from .tensor import Tensor

__all__ = ["from_dlpack"]

#: DLPack device types (``DLDeviceType`` in dlpack.h) whose memory only a GPU backend can hold.
#: ROCm builds of CuPy report kDLROCM (10) for their arrays; ember's ``'cuda'`` device is CuPy.
_GPU_DEVICE_TYPES = {2: "kDLCUDA", 10: "kDLROCM"}


def from_dlpack(x, *, copy=None):
    """A tensor sharing the memory of ``x`` (no copy), through the DLPack protocol.

    ``x``: any object with ``__dlpack__`` -- a NumPy array, a ``torch.Tensor``, a CuPy or JAX
    array, an ember Tensor -- or a DLPack capsule (the legacy ``torch.utils.dlpack.to_dlpack``
    form; each capsule can be imported once).  The result has the same shape, dtype and values
    (strides too: a transposed or sliced source stays a view), and ``requires_grad=False`` whatever
    the source: DLPack carries memory, not autograd history.  A write through the result (``t[0] =
    5``, ``t += 1``) is seen by the source and vice versa.

    ``copy``: None (default) shares the memory; True imports a copy; False shares or raises.

    Where the memory lives decides where the tensor lives: host memory (DLPack CPU device)
    becomes a NumPy-backed CPU tensor (through ``np.from_dlpack``); CUDA memory becomes a
    ``'cuda'`` tensor through ember's CuPy backend, which raises
    :class:`~ember.backend.DeviceUnavailableError` (saying what is missing) where CuPy or a GPU
    is not available -- copy to the host on the producer's side then (``torch_tensor.cpu()``).

    Limits: dtypes are those NumPy understands and ember computes with (float16/32/64, signed and
    unsigned integers, bool); bfloat16 and complex raise (cast on the producer's side first).  A
    read-only source (a NumPy array with ``writeable=False``) gives a read-only tensor: in-place
    ops on it raise; ask for ``copy=True`` to get a writable one.
    """
    if isinstance(x, Tensor):
        return Tensor.wrap(x.data.copy() if copy else x.data)
    if type(x).__name__ == "PyCapsule":
        x = _Capsule(x)
    elif not hasattr(x, "__dlpack__"):
        raise TypeError(f"ember.from_dlpack: expected an object with __dlpack__ (a NumPy array, a "
                        f"torch.Tensor, a CuPy or JAX array) or a DLPack capsule, got "
                        f"{type(x).__name__}; for other data use ember.tensor(data)")
    device_type, device_id = _dlpack_device(x)
    what = f"this {type(x).__name__} (DLPack device ({device_type}, {device_id}))"
    if device_type in _GPU_DEVICE_TYPES:
        try:
            backend = _backends.backend_for(_Device("cuda", device_id))
        except _backends.DeviceUnavailableError as e:
            raise _backends.DeviceUnavailableError(
                f"ember.from_dlpack: {what} lives in GPU memory ({_GPU_DEVICE_TYPES[device_type]}), "
                f"which needs ember's 'cuda' device: {e}. Or copy it to the host on its side first "
                "(e.g. torch_tensor.cpu())") from None
        module = backend.module
    else:
        module = _np
    try:
        if isinstance(x, _Capsule):     # a capsule cannot be asked for a copy: copy afterwards
            arr = module.from_dlpack(x)
            if copy:
                arr = arr.copy()
        else:
            arr = module.from_dlpack(x) if copy is None else module.from_dlpack(x, copy=copy)
    except (BufferError, RuntimeError) as e:   # unsupported dtype or device, read-only export...
        raise BufferError(f"ember.from_dlpack: cannot import {what}: {e}") from e
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"ember.from_dlpack: {what} has dtype {arr.dtype}, which ember tensors do not "
                        "hold (float, int, uint or bool); cast it on its side first")
    return Tensor.wrap(arr)


def _dlpack_device(x):
    """``(device type, index)`` of a DLPack producer, as ints (PyTorch answers with an enum; a
    producer without ``__dlpack_device__`` is taken to be on the CPU)."""
    get = getattr(x, "__dlpack_device__", None)
    if get is None:
        return 1, 0
    device_type, device_id = get()
    return int(device_type), int(device_id)


# -- legacy capsules: read the device from the C structs of dlpack.h, then import like an object --
class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLTensorHead(ctypes.Structure):          # DLTensor, up to its device
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice)]


class _DLManagedTensorVersionedHead(ctypes.Structure):   # DLPack >= 1.0, up to the tensor's device
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32),
                ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p),
                ("flags", ctypes.c_uint64), ("dl_tensor", _DLTensorHead)]


# Private prototypes (setting argtypes on ctypes.pythonapi's shared functions could clash with
# other code doing the same).
_capsule_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(
    ("PyCapsule_GetName", ctypes.pythonapi))
_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))


class _Capsule:
    """A DLPack capsule dressed as a producer (``__dlpack__`` hands it over once), so that the
    ``from_dlpack`` of NumPy or CuPy can import it."""

    def __init__(self, capsule):
        name = _capsule_name(capsule)
        if name == b"dltensor":
            head = _DLTensorHead.from_address(_capsule_pointer(capsule, name))
        elif name == b"dltensor_versioned":
            head = _DLManagedTensorVersionedHead.from_address(_capsule_pointer(capsule, name)).dl_tensor
        else:
            raise ValueError(f"ember.from_dlpack: a capsule named {name!r} is not an unused DLPack "
                             "tensor ('dltensor'); a DLPack capsule can be imported only once")
        self.capsule = capsule
        self.device = (int(head.device.device_type), int(head.device.device_id))

    def __dlpack__(self, stream=None):
        return self.capsule

    def __dlpack_device__(self):
        return self.device
