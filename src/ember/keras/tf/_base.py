"""What every part of ``ember.keras.tf`` shares: the dtypes, the conversion of arguments to
tensors (``keras.ops``' rules: Python floats and NumPy float64 become float32, Python ints int32,
Tensors pass through so gradients flow), TensorFlow's ``axis`` conventions, and the helpful
``AttributeError`` of a namespace asked for a name ember does not have."""
import difflib

import numpy as np

from ..ops.core import axis_arg, std_dtype, to_tensor

__all__ = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
           "dtype_of", "t", "axis_arg", "missing_name"]

float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int8, int16, int32, int64, uint8 = (np.dtype(n) for n in ("int8", "int16", "int32", "int64", "uint8"))
bool = np.dtype("bool")   # noqa: A001  (TensorFlow's name)


def dtype_of(dtype):
    """A NumPy dtype from a TensorFlow dtype argument (``tf.float32``, 'float32', np.float32;
    None stays None)."""
    return std_dtype(dtype)


def t(x, dtype=None):
    """``x`` as an ember Tensor (``keras.ops``' conversion; ``dtype`` casts differentiably)."""
    return to_tensor(x, dtype)


def missing_name(module, name, names, hint=""):
    """The ``AttributeError`` for ``module.name`` when ember has no such name: it suggests the
    closest names ``module`` has and says where to look."""
    close = difflib.get_close_matches(name, [n for n in names if not n.startswith("_")], n=4)
    near = f" Close names it has: {', '.join(close)}." if close else ""
    return AttributeError(f"module {module!r} has no attribute {name!r}: ember's TensorFlow surface "
                          f"does not provide it.{near}{hint} See dir({module}) for every name it "
                          "has.")
