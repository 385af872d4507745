"""Convolution layers: ``Conv1D`` on sequences (N, T, C) and ``Conv2D`` on images (N, H, W, C),
with Keras' arguments, initialisers and TensorFlow's 'same' padding, on ``ember.functional``'s
``conv1d`` / ``conv2d`` (kernels (k..., C_in, filters), Keras' layout)."""
from ... import functional as F
from ...ops.arguments import int_tuple
from .. import activations as _activations
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ._arguments import (apply_activation, as_float_input, channels_last, kernel_regularizer_of,
                         no_unsupported, padding_arg, positive_int, same_pads,
                         serialize_regularizer, weight_penalty)
from ...nn.layers.checks import check_channels_last
from .base import Layer

__all__ = ["Conv1D", "Conv2D"]


class _Conv(Layer):
    """Shared by Conv1D and Conv2D: Keras' arguments, weights (``weight`` alias ``kernel``,
    ``bias``) and 'same' padding -- ember's own at stride 1, TensorFlow's explicit pads (the odd
    one after) before the op otherwise."""
    rank = 0
    _layout = ""
    weight = bias = None        # until build

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        layer, rank = type(self).__name__, self.rank
        channels_last(data_format, layer)
        no_unsupported(layer, activity_regularizer=activity_regularizer,
                       kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        if groups != 1:
            raise NotImplementedError(f"{layer}: groups={groups} is not supported (only 1)")
        self.filters = positive_int(filters, "filters", layer)
        k = (kernel_size,) * rank if isinstance(kernel_size, int) else tuple(kernel_size)
        s = (strides,) * rank if isinstance(strides, int) else tuple(strides)
        d = (dilation_rate,) * rank if isinstance(dilation_rate, int) else tuple(dilation_rate)
        if len(k) != rank or len(s) != rank or len(d) != rank:
            raise ValueError(f"{layer}: kernel_size, strides and dilation_rate must be ints or "
                             f"{rank}-tuples, got {kernel_size!r}, {strides!r}, {dilation_rate!r}")
        self.keras_padding = padding_arg(padding, layer)
        self._pad_explicitly = self.keras_padding == "same" and any(v != 1 for v in s)
        self.activation = _activations.get(activation)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self._bias_regularizer = _regularizers.get(bias_regularizer)
        # what the conv op takes (ember.nn's names, which ember.train's input checks read)
        self.in_channels = None                 # known once built
        self.out_channels = self.filters
        one = (lambda v: v[0]) if rank == 1 else (lambda v: v)       # as the errors quote them
        self.kernel_size = int_tuple(one(k), rank, "kernel_size", layer, minimum=1)
        self.stride = int_tuple(one(s), rank, "stride", layer, minimum=1)
        self.padding = (0,) * rank if self._pad_explicitly else self.keras_padding
        self.dilation = int_tuple(one(d), rank, "dilation", layer, minimum=1)
        self.use_bias = bool(use_bias)
        self.weight_regularizer = weight_penalty(self, kernel_regularizer, bias_regularizer)

    def _check_input(self, shape):
        name = type(self).__name__
        check_channels_last(shape, name, (self.rank + 2,), self._layout, self.in_channels,
                            "in_channels", f"{name}({self.extra_repr()})", spatial=self.rank)

    def build(self, input_shape):
        self._check_input(tuple(input_shape))
        self.in_channels = int(input_shape[-1])
        self.weight = self.add_weight(name="weight",
                                      shape=self.kernel_size + (self.in_channels, self.filters),
                                      initializer=self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                        initializer=self.bias_initializer)
        super().build(input_shape)

    @property
    def kernel(self):
        return self.weight

    def _same_pads(self, x):
        """TensorFlow's 'same' padding of ``x`` for a strided convolution (F.pad's widths)."""
        return ((0, 0),) + tuple(same_pads(x.shape[1 + i], k, s, d) for i, (k, s, d) in enumerate(
            zip(self.kernel_size, self.stride, self.dilation))) + ((0, 0),)

    def call(self, inputs):
        x = as_float_input(inputs)
        if self._pad_explicitly and x.ndim == self.rank + 2:
            x = F.pad(x, self._same_pads(x))
        self._check_input(tuple(x.shape))
        return apply_activation(self.activation, self._convolve(x))

    def get_config(self):
        one = self.rank == 1
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size[0] if one else list(self.kernel_size),
                "strides": self.stride[0] if one else list(self.stride),
                "padding": self.keras_padding,
                "dilation_rate": self.dilation[0] if one else list(self.dilation),
                "activation": _activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "kernel_regularizer": serialize_regularizer(kernel_regularizer_of(self.weight_regularizer)),
                "bias_regularizer": serialize_regularizer(self._bias_regularizer)}


class Conv2D(_Conv):
    """2-D convolution over channels-last images (N, H, W, C) -> (N, H', W', filters).

    Keras' arguments and defaults: ``strides=1`` (or (sh, sw)), ``padding='valid'`` ('same' keeps
    ceil(H / stride), padding as TensorFlow: the odd pixel after), ``dilation_rate=1``,
    Glorot-uniform kernel (kh, kw, C_in, filters), zero bias, no activation.
    """
    rank = 2
    _layout = "(N, H, W, C)"

    def _convolve(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class Conv1D(_Conv):
    """1-D convolution over sequences (N, T, C) -> (N, T', filters), Keras' arguments."""
    rank = 1
    _layout = "(N, L, C)"

    def _convolve(self, x):
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], pad, self.dilation[0])
