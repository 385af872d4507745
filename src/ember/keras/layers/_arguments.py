"""Argument parsing shared by the built-in layers: Keras' values checked and turned into what the
ember ops take, inputs cast as Keras casts them, and the kernel / bias regularizer pair."""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from .. import activations as _activations
from .. import regularizers as _regularizers

__all__ = ["positive_int", "pair", "padding_arg", "channels_last", "same_pads", "no_unsupported",
           "shape_str", "as_float_input", "as_input", "apply_activation", "KernelAndBiasPenalty",
           "weight_penalty", "kernel_regularizer_of", "serialize_regularizer"]


def positive_int(value, what, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {what} must be a positive int, got {value!r}")
    return int(value)


def pair(value, what, layer):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    out = tuple(int(v) for v in value)
    if len(out) != 2 or any(v <= 0 for v in out):
        raise ValueError(f"{layer}: {what} must be a positive int or a pair of them, got {value!r}")
    return out


def padding_arg(padding, layer):
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
    return p


def channels_last(data_format, layer):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{layer}: data_format={data_format!r} is not supported; ember is "
                         "channels-last (N, H, W, C): transpose the data instead")


def same_pads(size, k, s, d=1):
    """TensorFlow's 'same' padding of one axis: (before, after), the odd one after."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def no_unsupported(layer, **args):
    for name, value in args.items():
        if value is not None and value is not False:
            raise NotImplementedError(f"{layer}: {name}={value!r} is not supported by ember.keras")


def shape_str(shape):
    return "(" + ", ".join(str(n) for n in shape) + ")"


def as_float_input(x):
    """NumPy / integer inputs as float32 Tensors (Keras casts inputs to the layer's dtype)."""
    if not isinstance(x, Tensor):
        x = Tensor.wrap(np.asarray(x, dtype=np.float32))
    elif x.data.dtype.kind != "f":
        x = x.astype("float32")
    return x


def as_input(x):
    """A Tensor of ``x`` as it is (any dtype; NumPy arrays are not copied)."""
    return x if isinstance(x, Tensor) else Tensor.wrap(np.asarray(x))


def apply_activation(activation, y):
    return y if activation is _activations.linear else activation(y)


class KernelAndBiasPenalty:
    """A weight regularizer that also penalises the layer's bias (Keras' ``bias_regularizer``):
    ``ember.nn.regularization_loss`` calls it with the weight; the bias is read from the layer."""

    def __init__(self, layer, kernel, bias):
        self.layer, self.kernel, self.bias = layer, kernel, bias

    def __call__(self, weight):
        total = None
        if self.kernel is not None:
            total = self.kernel(weight)
        b = self.layer.bias
        if self.bias is not None and b is not None:
            term = self.bias(b)
            total = term if total is None else total + term
        return total if total is not None else F.sum(weight * 0.0)

    def __repr__(self):
        return f"kernel={self.kernel!r}, bias={self.bias!r}"


def weight_penalty(layer, kernel_regularizer, bias_regularizer):
    """The ``weight_regularizer`` (what ``ember.nn.regularization_loss`` reads) of a layer given
    Keras' ``kernel_regularizer`` and ``bias_regularizer``."""
    k = _regularizers.get(kernel_regularizer)
    b = _regularizers.get(bias_regularizer)
    if b is None:
        return k
    return KernelAndBiasPenalty(layer, k, b)


def kernel_regularizer_of(penalty):
    """The kernel part of what :func:`weight_penalty` returned."""
    return penalty.kernel if isinstance(penalty, KernelAndBiasPenalty) else penalty


def serialize_regularizer(reg):
    try:
        return _regularizers.serialize(reg)
    except TypeError:
        return reg
