"""ember's dtypes and its one promotion rule.

dtypes are NumPy dtypes: ``ember.float32 is numpy.dtype('float32')``.

Promotion rule (documented once, used by every op):

* Tensor with Tensor: the wider dtype of the same kind (float32 + float64 -> float64,
  float16 + float32 -> float32, int32 + int64 -> int64); integer or bool with float gives that
  float dtype (int64 + float32 -> float32, where NumPy alone would give float64).
* Tensor with a Python number: the number is "weak" and takes the tensor's dtype, except that a
  Python float with an integer or bool tensor gives float32 (the default float), and a Python int
  with a bool tensor gives int64.
* New data (``ember.tensor``, NumPy arrays passed to ops): Python floats and float64 NumPy arrays
  become float32 unless a dtype is given; integers stay int64, bools stay bool.
"""
import numbers as _numbers

import numpy as _np

float16 = _np.dtype("float16")
float32 = _np.dtype("float32")
float64 = _np.dtype("float64")
int8 = _np.dtype("int8")
int16 = _np.dtype("int16")
int32 = _np.dtype("int32")
int64 = _np.dtype("int64")
uint8 = _np.dtype("uint8")
bool_ = _np.dtype("bool")
half, double, long = float16, float64, int64

default_float = float32

_NAMES = {
    "float16": float16, "half": float16, "float32": float32, "float": float32, "float64": float64,
    "double": float64, "int8": int8, "int16": int16, "int32": int32, "int64": int64, "long": int64,
    "int": int64, "uint8": uint8, "bool": bool_,
}
_SUPPORTED = frozenset(_NAMES.values())


def as_dtype(dtype):
    """Turn a dtype-like (``'float32'``, ``numpy.float32``, ``float``, an ember dtype) into a dtype.

    Raises TypeError naming the value when it is not one ember tensors can hold.
    """
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype in _NAMES:
        return _NAMES[dtype]
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    try:
        d = _np.dtype(dtype)
    except TypeError:
        d = None
    if d is None or d not in _SUPPORTED:
        raise TypeError(
            f"ember: cannot use dtype {dtype!r}; expected one of "
            "float16, float32, float64, int8, int16, int32, int64, uint8, bool")
    return d


def is_floating(dtype):
    """True for float16/32/64."""
    return dtype.kind == "f"


def default_dtype_for(array):
    """The dtype ember gives to new data of NumPy dtype ``array.dtype`` when none is asked for."""
    kind = array.dtype.kind
    if kind == "f":
        return float32 if array.dtype == float64 else array.dtype
    if kind in "iu":
        return array.dtype
    if kind == "b":
        return bool_
    raise TypeError(
        f"ember.tensor: cannot convert data of NumPy dtype {array.dtype} ({array.dtype.kind!r}); "
        "expected numbers or booleans (float, int or bool), not strings or Python objects")


def scalar_dtype(tensor_dtype, value):
    """The dtype a Python number takes when combined with a tensor of ``tensor_dtype``."""
    if isinstance(value, (bool, _np.bool_)):
        return tensor_dtype
    if isinstance(value, _numbers.Integral):
        return int64 if tensor_dtype == bool_ else tensor_dtype
    if isinstance(value, _numbers.Real):   # Python floats and NumPy float scalars
        return tensor_dtype if tensor_dtype.kind in "fc" else float32
    raise TypeError(f"ember: cannot combine a tensor with {type(value).__name__} {value!r}; "
                    "expected a real number (float, int or bool)")
