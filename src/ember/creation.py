"""Functions that create tensors.  Floats default to float32; every function takes ``dtype``,
``requires_grad`` and ``device``; random ones draw from ember's seeded generator
(``ember.manual_seed``).

``device`` (``'cpu'``, ``'cuda'``, ``'cuda:N'`` or an ``ember.device``; default the CPU, or for
``*_like`` the input's device) is checked before any work.  Constant fills (``zeros``, ``ones``,
``full`` and their ``*_like``) are made on the device; the others are computed on the host and
copied once, so that a seed gives the same random numbers on every device.
"""
import numbers as _numbers

import numpy as _np

from . import dtypes as _dt
from . import random as _random
from .backend import array_backends as _backends
from .backend import xp
from .backend.device import Device as _Device
from .tensor import Tensor


def _device(device):
    """``device`` as a Device (None stays None), after checking that it can be used here."""
    if device is None:
        return None
    dev = _Device(device)
    if dev.type != "cpu":
        _backends.backend_for(dev)     # DeviceUnavailableError now, not after the work
    return dev


def _new(array, dtype, requires_grad, default=_dt.float32, device=None):
    dtype = _dt.as_dtype(dtype) or default
    array = xp.asarray(array, dtype=dtype)
    if device is not None:
        array = _backends.to_device(array, device)
    t = Tensor.wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _filled(shape, value, dtype, requires_grad, device):
    """A constant tensor made directly on ``device`` (no host array, no copy)."""
    if device is None or (device.type == "cpu" and _backends.single_backend()):
        # zeros: calloc'd pages (faster than filling for big arrays)
        array = xp.zeros(shape, dtype=dtype) if value == 0 else xp.full(shape, value, dtype=dtype)
        return _new(array, dtype, requires_grad)
    t = Tensor.wrap(_backends.full(shape, value, dtype, device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or a Tensor), on
    ``device`` (default: where ``data`` is; the CPU for lists, numbers and NumPy arrays).

    Python floats and float64 arrays become float32 unless ``dtype`` is given.
    """
    if device is None:
        return Tensor(data, dtype, requires_grad)
    return Tensor(data, dtype, requires_grad, _device(device))


def as_tensor(data, dtype=None, device=None):
    """``data`` as a Tensor, sharing memory with a NumPy array (or a Tensor) when dtype and device
    allow; otherwise a converted copy."""
    dev = _device(device)
    if dev is not None and _backends.device_of(data.data if isinstance(data, Tensor) else data) != dev:
        return Tensor(data, dtype=dtype, device=dev)
    if isinstance(data, Tensor) and (dtype is None or data.dtype == _dt.as_dtype(dtype)):
        return data
    if isinstance(data, _np.ndarray) and (dtype is None or data.dtype == _dt.as_dtype(dtype)) \
            and data.dtype in (_dt.float32, _dt.float16, _dt.int64, _dt.int32, _dt.bool_, _dt.uint8):
        return Tensor.wrap(data)
    return Tensor(data, dtype=dtype)


def zeros(*shape, dtype=None, requires_grad=False, device=None):
    d = _dt.as_dtype(dtype) or _dt.float32
    if device is None:
        return _new(xp.zeros(_shape(shape), dtype=d), None, requires_grad, d)
    return _filled(_shape(shape), 0, d, requires_grad, _device(device))


def ones(*shape, dtype=None, requires_grad=False, device=None):
    d = _dt.as_dtype(dtype) or _dt.float32
    if device is None:
        return _new(xp.ones(_shape(shape), dtype=d), d, requires_grad)
    return _filled(_shape(shape), 1, d, requires_grad, _device(device))


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if dtype is None:
        dtype = _dt.bool_ if isinstance(fill_value, bool) else (_dt.int64 if isinstance(fill_value, int) else _dt.float32)
    d = _dt.as_dtype(dtype)
    return _filled(shape, fill_value, d, requires_grad, _device(device))


def _like(t, value, dtype, requires_grad, device):
    src = t.data if isinstance(t, Tensor) else t
    if not _backends.single_backend() and _backends.backend_of(src).device_type != "cpu":
        shape, src_dtype = src.shape, src.dtype          # a device array: no host conversion
    else:
        src = _np.asarray(src)
        shape, src_dtype = src.shape, src.dtype
    d = _dt.as_dtype(dtype) or src_dtype
    dev = _device(device) if device is not None else _backends.device_of(src)
    return _filled(shape, value, d, requires_grad, dev)


def zeros_like(t, dtype=None, requires_grad=False, device=None):
    """Zeros shaped like ``t``, of its dtype and on its device unless given."""
    return _like(t, 0, dtype, requires_grad, device)


def ones_like(t, dtype=None, requires_grad=False, device=None):
    """Ones shaped like ``t``, of its dtype and on its device unless given."""
    return _like(t, 1, dtype, requires_grad, device)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, device=None):
    """Evenly spaced values in [start, stop); int64 for integer arguments, else float32."""
    device = _device(device)
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = _dt.int64 if all(isinstance(v, _numbers.Integral) for v in (start, stop, step)) else _dt.float32
    d = _dt.as_dtype(dtype)
    return _new(xp.arange(start, stop, step, dtype=d), d, requires_grad, device=device)


def _spaced(start, stop, steps, d, op):
    """PyTorch's range kernel: values from ``start`` (the first half, by ``step * i``) and back from
    ``stop`` (the second half), in double, truncated toward zero for integer dtypes (whose
    ``start``/``stop`` are first converted to integers too).  Floats may differ from PyTorch's
    (computed in the dtype itself) in the last bit."""
    steps = int(steps)
    if steps < 0:
        raise ValueError(f"ember.{op}: number of steps must be non-negative, got {steps}")
    work = _np.dtype(_np.float64)
    if d.kind in "iub":
        start, stop = int(start), int(stop)
    elif d.kind != "f":
        raise TypeError(f"ember.{op}: unsupported dtype {d}")
    start, stop = work.type(start), work.type(stop)
    if steps == 1:
        return _np.full(1, start, dtype=work)
    step = (stop - start) / work.type(steps - 1)
    i = _np.arange(steps, dtype=work)
    half = steps // 2
    return _np.where(i < half, start + step * i, stop - step * (steps - 1 - i)).astype(work)


def linspace(start, stop, num=50, endpoint=True, dtype=None, requires_grad=False, device=None, *,
             steps=None):
    """``num`` (PyTorch: ``steps``) evenly spaced values from ``start`` to ``stop``.  With the
    default ``endpoint=True`` the values are PyTorch's (exactly for integer dtypes: truncated
    toward zero (``linspace(0, 10, 7, dtype=int64)`` is
    ``[0, 1, 3, 5, 6, 8, 10]``)."""
    device = _device(device)
    d = _dt.as_dtype(dtype) or _dt.float32
    num = num if steps is None else steps
    if not endpoint:
        return _new(xp.linspace(start, stop, num, endpoint=False).astype(d), d, requires_grad, device=device)
    return _new(_spaced(start, stop, num, d, "linspace").astype(d), d, requires_grad, device=device)


def logspace(start, stop, num=50, base=10.0, dtype=None, requires_grad=False, device=None, *,
             steps=None):
    """``base ** linspace(start, stop, num)`` (PyTorch's ``steps``), as torch.logspace: for integer
    dtypes the exponents are PyTorch's (in double, integer ends) and the powers truncated."""
    device = _device(device)
    d = _dt.as_dtype(dtype) or _dt.float32
    num = num if steps is None else steps
    exps = _spaced(start, stop, num, d, "logspace")
    with _np.errstate(over="ignore", invalid="ignore"):     # out of the dtype's range: as C casts
        vals = _np.power(exps.dtype.type(base), exps).astype(d)
    return _new(vals, d, requires_grad, device=device)


def eye(n, m=None, k=0, dtype=None, requires_grad=False, device=None):
    """The n x m (default n x n) identity; ``k`` shifts the diagonal of ones (NumPy's ``k``)."""
    device = _device(device)
    d = _dt.as_dtype(dtype) or _dt.float32
    for name, v in (("n", n), ("m", m)):
        if v is not None and (not isinstance(v, _numbers.Integral) or v < 0):
            raise ValueError(f"ember.eye: {name} must be a non-negative integer, got {v!r}")
    return _new(xp.eye(n, m, k, dtype=d), d, requires_grad, device=device)


def empty(*shape, dtype=None, requires_grad=False, device=None):
    """A tensor of ``shape`` with unspecified values (ember fills it with zeros: NumPy's
    uninitialised memory would make runs irreproducible)."""
    return zeros(*shape, dtype=dtype, requires_grad=requires_grad, device=device)


def empty_like(t, dtype=None, requires_grad=False, device=None):
    """``empty`` shaped like ``t`` (zeros; see ``empty``)."""
    return _like(t, 0, dtype, requires_grad, device)


def full_like(t, fill_value, dtype=None, requires_grad=False, device=None):
    """``fill_value`` everywhere, shaped like ``t``, of its dtype and on its device unless given."""
    return _like(t, fill_value, dtype, requires_grad, device)


def _float_dtype(dtype, fn):
    d = _dt.as_dtype(dtype) or _dt.float32
    if d.kind != "f":
        raise TypeError(f"ember.{fn}: expected a floating-point dtype (float16, float32 or float64), "
                        f"got {d}; use ember.randint for integers")
    return d


def rand(*shape, dtype=None, requires_grad=False, device=None):
    """Uniform samples in [0, 1)."""
    device = _device(device)
    d = _float_dtype(dtype, "rand")
    u = _random.default_generator().random(_shape(shape), dtype=_np.float64).astype(d)
    # float64 samples just below 1 round to 1.0 in float32/float16: keep the interval half-open
    u = xp.minimum(u, xp.nextafter(d.type(1), d.type(0)))
    return _new(u, d, requires_grad, device=device)


def randn(*shape, dtype=None, requires_grad=False, device=None):
    """Standard normal samples."""
    device = _device(device)
    d = _float_dtype(dtype, "randn")
    return _new(_random.default_generator().standard_normal(_shape(shape)).astype(d), d, requires_grad,
                device=device)


def randint(low, high=None, size=(), dtype=None, device=None):
    """Integers in [low, high) (or [0, low) when high is None), int64 by default."""
    device = _device(device)
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    d = _dt.as_dtype(dtype) or _dt.int64
    return _new(_random.default_generator().integers(low, high, size=size), d, False, d, device=device)
