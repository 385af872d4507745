"""Activation layers: ``Activation`` (any activation by name or callable), ``ReLU``,
``LeakyReLU`` and ``Softmax``."""
from ... import functional as F
from .. import activations as _activations
from ._arguments import as_float_input
from .base import Layer

__all__ = ["Activation", "ReLU", "LeakyReLU", "Softmax"]


class Activation(Layer):
    """Applies an activation (a name such as 'relu', or a callable)."""
    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activations.get(activation)

    def call(self, x):
        return self.activation(as_float_input(x))

    def get_config(self):
        return {**super().get_config(), "activation": _activations.serialize(self.activation)}


class ReLU(Layer):
    """max(x, 0), with Keras' optional ``max_value``, ``negative_slope`` and ``threshold``."""
    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = max_value
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def call(self, x):
        return _activations.relu(as_float_input(x), self.negative_slope, self.max_value, self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """x for x > 0, negative_slope * x otherwise (Keras' default slope 0.3)."""
    supports_masking = True

    def __init__(self, negative_slope=0.3, **kwargs):
        alpha = kwargs.pop("alpha", None)          # Keras 2's name
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope if alpha is None else alpha)

    def call(self, x):
        return F.leaky_relu(as_float_input(x), self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Softmax(Layer):
    """softmax along ``axis`` (default the last)."""
    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, x):
        return F.softmax(as_float_input(x), self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
