"""Helpers shared by the layer files: argument checks, lazily sized weights, the
weight-regularizer base class.  (int-or-tuple arguments such as kernel_size:
``ember.ops.arguments.int_tuple``.)"""
import math

from ...backend import xp
from .. import init
from .. import regularizers as _reg
from ..module import Module
from ..parameter import Parameter


def positive_int(value, what, layer, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        lazy = " (or None, to take it from the first input)" if allow_none else ""
        raise ValueError(f"{layer}: {what} must be a positive int{lazy}, got {value!r}")
    return value


def shape_str(shape):
    return "(" + ", ".join(str(n) for n in shape) + ")"


def create_or_defer(layer, size, parameters=(), buffers=()):
    """The end of the constructor of a layer whose weights are sized by ``size`` (in_features,
    num_features, ...): registers ``parameters`` and ``buffers`` as None, then creates them now
    (``layer._create(size)``) or, when ``size`` is None, leaves the layer unbuilt: its ``build``
    creates them from the first input (and the size found goes into its config, see
    ``Module._built_from_input``)."""
    for name in parameters:
        layer.register_parameter(name, None)
    for name in buffers:
        layer.register_buffer(name, None)
    if size is None:
        layer.built = False
    else:
        layer._create(size)


class WeightLayer(Module):
    """A layer with a ``weight`` that may carry a ``weight_regularizer`` (alias
    ``kernel_regularizer``); ``ember.nn.regularization_loss(model)`` sums the penalties."""

    weight_regularizer = None

    def _init_weights(self, in_size, bias, weight_regularizer):
        """The end of the constructor of a layer whose weight shape depends on its input size:
        records ``use_bias`` and the regularizer, then creates the parameters
        (``self._create(in_size)``), or leaves the layer lazy -- built from its first input --
        when ``in_size`` is None."""
        self.use_bias = bool(bias)
        self.weight_regularizer = _reg.get(weight_regularizer)
        create_or_defer(self, in_size, ("weight", "bias"))

    def _new_parameters(self, weight_shape):
        """A fresh float32 ``weight`` of ``weight_shape`` (..., in, out) and, with ``use_bias``,
        ``bias`` (out,); then ``reset_parameters()``."""
        self.weight = Parameter(xp.empty(weight_shape, dtype=xp.float32))
        if self.use_bias:
            self.bias = Parameter(xp.empty(tuple(weight_shape[-1:]), dtype=xp.float32))
        self.reset_parameters()

    def _reset_fan_in_uniform(self):
        """PyTorch's default initialisation of Linear and convolution layers:
        ``kaiming_uniform_(a=sqrt(5))`` for the weight, i.e. U(+-1/sqrt(fan_in)) with fan_in the
        inputs per output (in_features, or C_in * the kernel window), and U(+-1/sqrt(fan_in)) for
        the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    @property
    def kernel_regularizer(self):
        return self.weight_regularizer

    @kernel_regularizer.setter
    def kernel_regularizer(self, value):
        self.weight_regularizer = _reg.get(value)

    def get_config(self):
        """The recorded constructor arguments, with the regularizer (an object, which the record
        leaves out) described by ``ember.nn.regularizers.serialize``."""
        cfg = super().get_config()
        reg = self.weight_regularizer
        try:
            cfg["weight_regularizer"] = _reg.serialize(reg)
        except TypeError:
            cfg["weight_regularizer"] = reg   # a custom callable: kept as is (not JSON-able)
        return cfg

