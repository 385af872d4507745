"""Parameter: a leaf Tensor that a Module registers as trainable state."""
from ..backend import xp
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight (``requires_grad=True`` by default).

    ``_grad_buffer`` may hold a preallocated array (a view of an optimizer's flat gradient buffer)
    into which backward writes this parameter's gradient instead of allocating a new one.
    """

    __slots__ = ("_grad_buffer",)

    def __init__(self, data, requires_grad=True, dtype=None):
        self._grad_buffer = None
        super().__init__(data, dtype=dtype, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def is_parameter(x):
    return isinstance(x, Parameter)


def empty_like_array(shape, dtype):
    return xp.empty(shape, dtype=dtype)
