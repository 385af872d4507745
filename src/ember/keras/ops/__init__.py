"""``ember.keras.ops``: Keras 3's ``keras.ops`` (``from keras import ops``) on ember.

The NumPy-like ops (``ops.add``, ``ops.mean``, ``ops.reshape``, ``ops.take`` ...), the neural
network ops (``ops.relu``, ``ops.softmax``, ``ops.conv``, ``ops.one_hot``,
``ops.categorical_crossentropy`` ...), the core ops (``ops.convert_to_tensor``, ``ops.cast``,
``ops.shape``, ``ops.scatter``, ``ops.fori_loop`` ...), ``ops.linalg`` and ``ops.image``, with
Keras 3's names, signatures and defaults.  Results are ember Tensors computed by
``ember.functional`` (gradients flow); inputs may be Tensors, NumPy arrays, Python numbers or
lists.  Called with a symbolic ``KerasTensor`` (``keras.Input``), an op records a graph node and
returns a KerasTensor, so ops build functional models as in Keras.
"""
from . import core, image, linalg, math, nn, numpy
from . import arrays as _arrays
from . import numpy_extra as _numpy_extra
from .arrays import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .math import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403
from .numpy import *  # noqa: F401,F403
from .numpy_extra import *  # noqa: F401,F403
from ..keras_tensor import register_operators as _register_operators

__all__ = sorted(set(core.__all__ + _arrays.__all__ + numpy.__all__ + _numpy_extra.__all__
                     + nn.__all__ + math.__all__ + linalg.__all__) | {"image", "linalg", "nn", "numpy"})

_register_operators(globals())
