"""A TensorFlow-shaped namespace for programs written against TensorFlow 2 and ``tf.keras``.

``import ember.keras.tf as tf`` (in place of ``import tensorflow as tf``) gives:

* ``tf.keras`` -- ``ember.keras`` (``tf.keras.layers.Dense``, ``tf.keras.Model``,
  ``tf.keras.backend.set_value`` ...; ``from ember.keras.tf.keras.layers import Dense`` imports
  the same classes, for ``from tensorflow.keras.layers import Dense``); ``tf.data`` -- ``Dataset`` pipelines; ``tf.GradientTape``;
  ``tf.function`` (a decorator, with or without arguments, that returns the function unchanged:
  ember runs eagerly); ``tf.Variable``; ``tf.Tensor`` (ember's Tensor, for type hints).
* the tensor functions, with TensorFlow's names, argument orders and dtypes: ``tf.constant``,
  ``tf.zeros(shape, dtype)`` / ``ones`` / ``fill(dims, value)`` / ``zeros_like`` / ``eye`` /
  ``range``, ``tf.cast``, ``tf.reshape``, ``tf.concat(values, axis)``, ``tf.stack`` /
  ``unstack`` / ``split`` / ``tile`` / ``pad`` / ``gather`` / ``gather_nd`` / ``where`` /
  ``shape`` / ``size`` / ``rank`` / ``squeeze`` / ``expand_dims`` / ``transpose`` /
  ``one_hot`` / ``sequence_mask`` / ``sort`` / ``argsort`` / ``clip_by_value`` /
  ``clip_by_norm`` / ``clip_by_global_norm`` / ``norm`` / ``einsum`` / ``matmul``, every
  ``tf.math`` function also at the top level (``tf.reduce_mean``, ``tf.argmax`` ...), and
  ``tf.newaxis``;
* the namespaces ``tf.math``, ``tf.nn``, ``tf.random``, ``tf.linalg``, ``tf.image``,
  ``tf.config`` (device lists; settings accepted as no-ops), ``tf.dtypes``, ``tf.version``;
* the dtypes ``tf.float16`` / ``float32`` / ``float64`` / ``int8`` ... ``int64`` / ``uint8`` /
  ``bool`` (NumPy dtypes).

``tf.__version__`` and ``tf.version.VERSION`` are **ember's** version (``ember.__version__``),
not a TensorFlow version: a program that prints it on its first line shows which ember ran it.

Everything computes with ``ember.keras.ops`` (so gradients flow through ``tf.GradientTape``) and
returns ember Tensors: ``.numpy()`` gives the values, ``f"{loss:.4f}"`` formats a scalar.
What ember does not have -- ``tf.saved_model``, ``tf.distribute``, ``tf.lite``, ``tf.summary``,
``tf.io``, ``tf.Module``, ``tf.compat`` ... -- raises an error naming the ember way to do it;
any other unknown name raises an ``AttributeError`` naming close names that exist.
"""
import contextlib as _contextlib
import sys as _sys
import types as _types

import numpy as _np

from ... import __version__
from ...tensor import Tensor
from ...train.gradient_tape import GradientTape
from ... import keras
from ..variables import Variable as _KerasVariable
from .. import tf_data as data                 # tf.data.Dataset, tf.data.AUTOTUNE
from ..tf_data import TensorSpec
from . import config, image, linalg, math, nn, random, strings
from ._base import (bool, float16, float32, float64, int8, int16, int32, int64,  # noqa: A004
                    uint8)
from ._base import missing_name as _missing_name
from .array_ops import *  # noqa: F401,F403
from .math import *  # noqa: F401,F403
from . import array_ops as _array_ops
from .unsupported import UNSUPPORTED as _UNSUPPORTED, UnsupportedError


def _alias_keras_modules():
    """Make ``from ember.keras.tf.keras.layers import Dense`` (TensorFlow's ``from
    tensorflow.keras.layers import Dense``) import ember.keras' own modules, not copies."""
    prefix = keras.__name__ + "."
    for name, module in list(_sys.modules.items()):
        if name.startswith(prefix) and not name.startswith(__name__) and module is not None \
                and not name.startswith(prefix + "tf_data"):
            _sys.modules.setdefault(f"{__name__}.keras.{name[len(prefix):]}", module)
    _sys.modules.setdefault(f"{__name__}.keras", keras)


_alias_keras_modules()

version = _types.SimpleNamespace(VERSION=__version__, GIT_VERSION="ember", COMPILER_VERSION="",
                                GRAPH_DEF_VERSION=0)
DType = _np.dtype
Tensor = Tensor


def as_dtype(type_value):
    """A NumPy dtype from a dtype name, NumPy type or dtype (``tf.as_dtype('float32')``)."""
    return _np.dtype(type_value)


dtypes = _types.SimpleNamespace(float16=float16, float32=float32, float64=float64, int8=int8,
                               int16=int16, int32=int32, int64=int64, uint8=uint8, bool=bool,
                               cast=cast, as_dtype=as_dtype, DType=DType)  # noqa: F405


def function(func=None, input_signature=None, autograph=True, jit_compile=None,
             reduce_retracing=False, experimental_compile=None, **kwargs):
    """``@tf.function`` / ``@tf.function(jit_compile=True, ...)`` / ``tf.function(f)``: ember
    runs eagerly, so the function is returned unchanged (its arguments are accepted and
    ignored)."""
    if func is None:
        return lambda f: f
    return func


class Variable(_KerasVariable):
    """``tf.Variable(initial_value, trainable=True, dtype=None, name=None)``: a
    ``keras.Variable`` (an ``ember.nn.Parameter``; ``trainable=False`` or an integer dtype: no
    gradient).  Update it with ``v.assign(x)``, ``v.assign_add(x)``, ``v.assign_sub(x)``."""

    def __init__(self, initial_value=None, trainable=True, validate_shape=True, caching_device=None,
                 name=None, variable_def=None, dtype=None, import_scope=None, constraint=None,
                 synchronization="auto", aggregation="none", shape=None):
        if initial_value is None:
            raise ValueError("tf.Variable: initial_value is required")
        if callable(initial_value) and not isinstance(initial_value, Tensor):
            initial_value = initial_value()       # TensorFlow accepts a function of no arguments
        super().__init__(initial_value, dtype=dtype, trainable=trainable, name=name,
                         constraint=constraint, aggregation=aggregation,
                         synchronization=synchronization)


def executing_eagerly():
    """True: ember always runs eagerly."""
    return True


@_contextlib.contextmanager
def name_scope(name):
    """``with tf.name_scope('block'):`` -- accepted; names nothing (ember has no graph)."""
    yield name


@_contextlib.contextmanager
def device(device_name):
    """``with tf.device('/GPU:0'):`` -- accepted and ignored: ember computes where the tensors
    are (move them with ``.to('cuda')``)."""
    yield


def print(*inputs, output_stream=None, summarize=None, sep=" ", end="\n", name=None):  # noqa: A001
    """``tf.print``: prints tensors by their values (NumPy style), like ``print``."""
    stream = _sys.stderr if output_stream is None else output_stream
    if not hasattr(stream, "write"):          # TensorFlow's names for the streams, e.g. 'stdout'
        stream = _sys.stdout
    values = [v.numpy() if isinstance(v, Tensor) else v for v in inputs]
    stream.write(sep.join(str(v) for v in values) + end)


def __getattr__(name):
    if name in _UNSUPPORTED:
        raise UnsupportedError(f"tf.{name}: {_UNSUPPORTED[name]}")
    raise _missing_name("ember.keras.tf", name, list(globals()),
                       " Namespaces: tf.keras, tf.data, tf.math, tf.nn, tf.random, tf.linalg, "
                       "tf.image, tf.config, tf.dtypes, tf.strings.")


__all__ = sorted(["keras", "data", "config", "image", "linalg", "math", "nn", "random", "strings", "version",
                  "dtypes", "GradientTape", "Variable", "Tensor", "TensorSpec", "DType", "function",
                  "as_dtype", "executing_eagerly", "name_scope", "device", "print", "__version__",
                  "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                  "bool", "newaxis"]
                 + _array_ops.__all__ + math.__all__)
