"""Keras' backend functions (``keras.backend`` / ``tf.keras.backend``): ``epsilon()``,
``floatx()``, ``image_data_format()``, ``clear_session()``, and tf.keras 2's value helpers
``get_value`` / ``set_value`` / ``batch_get_value`` / ``batch_set_value``, ``int_shape``,
``ndim``, ``count_params``, ``cast_to_floatx``.

``set_value(model.optimizer.learning_rate, 1e-4)`` (or ``.lr``, tf.keras 2's name) changes the
optimizer's learning rate: the optimizer's ``learning_rate`` is a :class:`LearningRate`, a float
that knows its optimizer, so this and Keras 3's ``optimizer.learning_rate.assign(1e-4)`` reach it.
``set_value(variable, array)`` writes a variable in place.
"""
import weakref

import numpy as np

from ..ops.probability_losses import EPSILON as _EPSILON
from ..tensor import Tensor
from . import naming
from .keras_tensor import KerasTensor

__all__ = ["epsilon", "floatx", "set_floatx", "image_data_format", "set_image_data_format",
           "clear_session", "backend", "get_value", "set_value", "batch_get_value",
           "batch_set_value", "int_shape", "ndim", "count_params", "cast_to_floatx",
           "is_keras_tensor", "LearningRate"]


def epsilon():
    """The fuzz factor Keras clips probabilities with (1e-7)."""
    return _EPSILON


def floatx():
    """'float32': ember's float type."""
    return "float32"


def set_floatx(value):
    """Accepts 'float32' only (ember computes in float32; use mixed precision through
    ``ember.amp`` instead of a global float16)."""
    if str(value) != "float32":
        raise ValueError(f"keras.backend.set_floatx({value!r}): ember.keras computes in float32; "
                         "only 'float32' is accepted")


def image_data_format():
    """ember is channels-last, Keras' default."""
    return "channels_last"


def set_image_data_format(data_format):
    """Accepts 'channels_last' only (ember's layers are channels-last; transpose the data)."""
    if data_format != "channels_last":
        raise ValueError(f"keras.backend.set_image_data_format({data_format!r}): ember.keras is "
                         "channels-last only; transpose channels-first data "
                         "(e.g. np.transpose(x, (0, 2, 3, 1)))")


def backend():
    return "ember"


def clear_session(free_memory=True):
    """Reset the automatic layer and model names (Keras' ``clear_session``); models are ordinary
    objects."""
    naming.clear()


class LearningRate(float):
    """An optimizer's learning rate as its ``learning_rate`` attribute gives it: the number
    itself (arithmetic, comparisons, formatting, JSON behave as a float) that also knows its
    optimizer, so that Keras' variable-style updates change the optimizer's rate:
    ``assign(value)``, ``keras.backend.set_value(opt.learning_rate, value)``; ``numpy()`` gives
    it as float32 (Keras' variable).  Copies and pickles are plain floats."""

    __slots__ = ("_owner",)

    def __new__(cls, value, optimizer):
        self = super().__new__(cls, value)
        self._owner = weakref.ref(optimizer)
        return self

    def assign(self, value):
        """Set the optimizer's learning rate to ``value`` (a number or a schedule)."""
        optimizer = self._owner()
        if optimizer is None:
            raise RuntimeError("learning_rate.assign: the optimizer this rate belonged to is gone")
        optimizer.learning_rate = value.item() if isinstance(value, Tensor) else value
        return optimizer.learning_rate

    def numpy(self):
        return np.float32(self)

    def __reduce__(self):
        return (float, (float(self),))

    def __copy__(self):
        return float(self)

    def __deepcopy__(self, memo):
        return float(self)

    __repr__ = float.__repr__


def get_value(x):
    """The value of ``x`` as NumPy: a variable's or tensor's array, a learning rate's float32; a
    plain number or array is returned as given."""
    if isinstance(x, (Tensor, LearningRate)) or hasattr(x, "numpy"):
        return x.numpy()
    return x


def set_value(x, value):
    """Write ``value`` into ``x``: a variable (same shape, in place), or an optimizer's learning
    rate (``set_value(model.optimizer.learning_rate, 1e-4)``)."""
    if isinstance(value, Tensor):
        value = value.numpy()
    if hasattr(x, "assign"):
        x.assign(value)
        return
    if isinstance(x, Tensor):
        x.data[...] = np.asarray(value, dtype=x.dtype)
        return
    raise TypeError(f"keras.backend.set_value: cannot write into a {type(x).__name__} ({x!r}); "
                    "expected a variable or an optimizer's learning_rate. To change a learning "
                    "rate, pass model.optimizer.learning_rate itself, or set "
                    "model.optimizer.learning_rate = value")


def batch_get_value(tensors):
    """``[get_value(x) for x in tensors]``."""
    return [get_value(x) for x in tensors]


def batch_set_value(tuples):
    """``set_value(x, value)`` for each ``(x, value)`` pair."""
    for x, value in tuples:
        set_value(x, value)


def int_shape(x):
    """The shape of ``x`` as a tuple of ints (None for unknown sizes of a symbolic input)."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def ndim(x):
    return len(x.shape)


def count_params(x):
    """The number of entries of a variable or tensor."""
    return int(np.prod(x.shape, dtype=np.int64))


def cast_to_floatx(x):
    """``x`` as a float32 NumPy array."""
    return np.asarray(x.numpy() if isinstance(x, Tensor) else x, dtype=np.float32)


def is_keras_tensor(x):
    """Whether ``x`` is a symbolic KerasTensor (the output of ``keras.Input`` and the layers
    called on it)."""
    return isinstance(x, KerasTensor)
