"""What every part of ``ember.keras.tf`` shares: the dtypes, the conversion of arguments to
tensors (``keras.ops``' rules: Python floats and NumPy float64 become float32, Python ints int32,
Tensors pass through so gradients flow), TensorFlow's ``axis`` conventions, and the helpful
``AttributeError`` of a namespace asked for a name ember does not have."""
import difflib
import functools
import types

import numpy as np

from ..keras_tensor import symbolic
from ..ops.core import axis_arg, std_dtype, to_tensor

__all__ = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
           "dtype_of", "t", "axis_arg", "missing_name", "accept_symbolic"]

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


def accept_symbolic(namespace, names, skip=()):
    """Make the functions ``names`` of a module's ``namespace`` (its ``globals()``) accept
    symbolic KerasTensors, as tf.keras 2 lets TensorFlow functions build functional models
    (``x = tf.reduce_mean(x, axis=1)`` on a ``keras.Input``): called with one, a function records
    a graph node (run on the probe batches; see ``keras_tensor.symbolic``); called with values it
    computes as before.  The node's operation is named ``tf_<name>``, which is not a
    ``keras.ops`` name, so saving such a model says it cannot be saved rather than saving
    TensorFlow's arguments as a Keras op's."""
    for name in names:
        fn = namespace[name]
        if name in skip or not isinstance(fn, types.FunctionType) or hasattr(fn, "operation"):
            continue                # (``hasattr``: already symbolic, imported from a sibling)

        def call(*args, _fn=fn, **kwargs):
            return _fn(*args, **kwargs)
        call.__name__ = call.__qualname__ = f"tf_{name}"
        wrapped = functools.wraps(fn)(symbolic(call))
        wrapped.__wrapped__ = fn
        namespace[name] = wrapped
