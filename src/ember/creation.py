"""Functions that create tensors.  Floats default to float32; every function takes ``dtype`` and
``requires_grad``; random ones draw from ember's seeded generator (``ember.manual_seed``)."""
import numbers as _numbers

import numpy as _np

from . import dtypes as _dt
from . import random as _random
from .backend import xp
from .tensor import Tensor


def _new(array, dtype, requires_grad, default=_dt.float32):
    dtype = _dt.as_dtype(dtype) or default
    t = Tensor._wrap(xp.asarray(array, dtype=dtype))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or a Tensor).

    Python floats and float64 arrays become float32 unless ``dtype`` is given.
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(data, dtype=None):
    """``data`` as a Tensor, sharing memory with a NumPy array when dtypes allow."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == _dt.as_dtype(dtype)):
        return data
    if isinstance(data, _np.ndarray) and (dtype is None or data.dtype == _dt.as_dtype(dtype)) \
            and data.dtype in (_dt.float32, _dt.float16, _dt.int64, _dt.int32, _dt.bool_, _dt.uint8):
        return Tensor._wrap(data)
    return Tensor(data, dtype=dtype)


def zeros(*shape, dtype=None, requires_grad=False):
    return _new(xp.zeros(_shape(shape), dtype=_dt.as_dtype(dtype) or _dt.float32), None, requires_grad,
                _dt.as_dtype(dtype) or _dt.float32)


def ones(*shape, dtype=None, requires_grad=False):
    d = _dt.as_dtype(dtype) or _dt.float32
    return _new(xp.ones(_shape(shape), dtype=d), d, requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if dtype is None:
        dtype = _dt.bool_ if isinstance(fill_value, bool) else (_dt.int64 if isinstance(fill_value, int) else _dt.float32)
    d = _dt.as_dtype(dtype)
    return _new(xp.full(shape, fill_value, dtype=d), d, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    d = _dt.as_dtype(dtype) or _np.asarray(t.data if isinstance(t, Tensor) else t).dtype
    return _new(xp.zeros(_np.shape(t.data if isinstance(t, Tensor) else t), dtype=d), d, requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    d = _dt.as_dtype(dtype) or _np.asarray(t.data if isinstance(t, Tensor) else t).dtype
    return _new(xp.ones(_np.shape(t.data if isinstance(t, Tensor) else t), dtype=d), d, requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False):
    """Evenly spaced values in [start, stop); int64 for integer arguments, else float32."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = _dt.int64 if all(isinstance(v, _numbers.Integral) for v in (start, stop, step)) else _dt.float32
    d = _dt.as_dtype(dtype)
    return _new(xp.arange(start, stop, step, dtype=d), d, requires_grad)


def linspace(start, stop, num=50, endpoint=True, dtype=None, requires_grad=False):
    d = _dt.as_dtype(dtype) or _dt.float32
    return _new(xp.linspace(start, stop, num, endpoint=endpoint, dtype=d), d, requires_grad)


def eye(n, m=None, k=0, dtype=None, requires_grad=False):
    d = _dt.as_dtype(dtype) or _dt.float32
    return _new(xp.eye(n, m, k, dtype=d), d, requires_grad)


def _float_dtype(dtype, fn):
    d = _dt.as_dtype(dtype) or _dt.float32
    if d.kind != "f":
        raise TypeError(f"ember.{fn}: expected a floating-point dtype (float16, float32 or float64), "
                        f"got {d}; use ember.randint for integers")
    return d


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1)."""
    d = _float_dtype(dtype, "rand")
    u = _random.default_generator().random(_shape(shape), dtype=_np.float64).astype(d)
    # float64 samples just below 1 round to 1.0 in float32/float16: keep the interval half-open
    u = xp.minimum(u, xp.nextafter(d.type(1), d.type(0)))
    return _new(u, d, requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal samples."""
    d = _float_dtype(dtype, "randn")
    return _new(_random.default_generator().standard_normal(_shape(shape)).astype(d), d, requires_grad)


def randint(low, high=None, size=(), dtype=None):
    """Integers in [low, high) (or [0, low) when high is None), int64 by default."""
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    d = _dt.as_dtype(dtype) or _dt.int64
    return _new(_random.default_generator().integers(low, high, size=size), d, False, d)
