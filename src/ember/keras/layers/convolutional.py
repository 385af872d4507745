"""Convolution layers: ``Conv1D`` on sequences (N, T, C), ``Conv2D`` on images (N, H, W, C) and
``Conv3D`` on volumes (N, D, H, W, C), with Keras' arguments (``groups``, Conv1D's 'causal'
padding), initialisers and TensorFlow's 'same' padding, on ``ember.functional``'s ``conv1d`` /
``conv2d`` / ``conv3d`` (kernels (k..., C_in / groups, filters), Keras' layout).

``conv_geometry`` (kernel_size / strides / dilation_rate / padding parsing and TensorFlow's
'same' pads) is shared with the transposed, depthwise and separable convolutions."""
from ... import functional as F
from ...ops.arguments import int_tuple
from .. import activations as _activations
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ._arguments import (apply_activation, as_float_input, channels_last, kernel_regularizer_of,
                         padding_arg, positive_int, same_pads,
                         serialize_regularizer, shape_str, weight_penalty, weight_options)
from ...nn.layers.checks import check_channels_last
from .base import Layer

__all__ = ["Conv1D", "Conv2D", "Conv3D", "conv_geometry", "ConvGeometry", "conv_common_config",
           "check_spatial_input", "channels_last_shape", "add_kernel_and_bias"]


class ConvGeometry:
    """The window arguments of a convolution layer with ``rank`` spatial axes, parsed and checked
    once: ``kernel_size``, ``stride``, ``dilation`` (rank-tuples), ``keras_padding`` ('valid',
    'same' or, with ``causal_ok``, 'causal') and what the op gets.  The op's own 'same' (stride 1)
    and TensorFlow's agree; a strided 'same' or a 'causal' padding is padded explicitly first."""

    def __init__(self, rank, kernel_size, strides, padding, dilation_rate, layer, causal_ok=False):
        where = layer
        self.rank = rank
        self.kernel_size = int_tuple(kernel_size, rank, "kernel_size", where, minimum=1)
        self.stride = int_tuple(strides, rank, "strides", where, minimum=1)
        self.dilation = int_tuple(dilation_rate, rank, "dilation_rate", where, minimum=1)
        if causal_ok and str(padding).lower() == "causal":
            self.keras_padding = "causal"
        else:
            self.keras_padding = padding_arg(padding, layer)
        self.explicit = self.keras_padding == "causal" or (
            self.keras_padding == "same" and any(v != 1 for v in self.stride))
        self.op_padding = (0,) * rank if self.explicit else self.keras_padding

    def pad(self, x):
        """``x`` (N, *spatial, C) padded as Keras pads it before a strided 'same' or a 'causal'
        convolution (TensorFlow's rule: the odd pixel after; causal: all (k - 1) d before)."""
        if not self.explicit or x.ndim != self.rank + 2:
            return x
        if self.keras_padding == "causal":
            pads = tuple(((k - 1) * d, 0) for k, d in zip(self.kernel_size, self.dilation))
        else:
            pads = tuple(same_pads(x.shape[1 + i], k, s, d) for i, (k, s, d) in enumerate(
                zip(self.kernel_size, self.stride, self.dilation)))
        return F.pad(x, ((0, 0),) + pads + ((0, 0),))

    def config(self):
        """Keras' config entries (ints for 1-D, lists otherwise)."""
        one = (lambda v: v[0]) if self.rank == 1 else list
        return {"kernel_size": one(self.kernel_size), "strides": one(self.stride),
                "padding": self.keras_padding, "dilation_rate": one(self.dilation)}


def conv_geometry(rank, kernel_size, strides, padding, dilation_rate, layer, causal_ok=False):
    """A :class:`ConvGeometry`."""
    return ConvGeometry(rank, kernel_size, strides, padding, dilation_rate, layer, causal_ok)


def conv_common_config(layer):
    """Keras' activation, bias, initializer and regularizer config entries of a convolution layer
    (attributes ``activation``, ``use_bias``, ``kernel_initializer``, ``bias_initializer``,
    ``weight_regularizer`` (kernel + bias penalty), ``_bias_regularizer``)."""
    return {"activation": _activations.serialize(layer.activation), "use_bias": layer.use_bias,
            "kernel_initializer": _initializers.serialize(layer.kernel_initializer),
            "bias_initializer": _initializers.serialize(layer.bias_initializer),
            "kernel_regularizer": serialize_regularizer(kernel_regularizer_of(layer.weight_regularizer)),
            "bias_regularizer": serialize_regularizer(layer._bias_regularizer)}


def add_kernel_and_bias(layer, kernel_shape):
    """Create ``layer.weight`` (the kernel) of ``kernel_shape`` and, with ``use_bias``,
    ``layer.bias`` (filters,), with the layer's initializers."""
    layer.weight = layer.add_weight(name="weight", shape=kernel_shape,
                                    initializer=layer.kernel_initializer)
    if layer.use_bias:
        layer.bias = layer.add_weight(name="bias", shape=(layer.filters,),
                                      initializer=layer.bias_initializer)


def channels_last_shape(shape, data_format):
    """An input shape (N, C, *spatial) as (N, *spatial, C) when ``data_format`` is
    'channels_first' (what ``build`` sizes the weights from)."""
    shape = tuple(shape)
    if data_format == "channels_first" and len(shape) > 2:
        shape = (shape[0],) + shape[2:] + (shape[1],)
    return shape


def check_spatial_input(layer, shape):
    """Raise naming ``layer`` unless ``shape`` (channels last) has ``layer.rank`` spatial axes
    and, once built, ``layer.in_channels`` channels."""
    name = type(layer).__name__
    if len(shape) != layer.rank + 2:
        raise ValueError(f"{name} expects a {layer.rank + 2}-D input {layer._layout} (channels "
                         f"last), got shape {shape_str(shape)}")
    if layer.in_channels is not None and shape[-1] != layer.in_channels:
        raise ValueError(f"{name} was built for {layer.in_channels} input channels (last axis), "
                         f"got an input of shape {shape_str(shape)}")


class _Conv(Layer):
    """Shared by Conv1D, Conv2D and Conv3D: Keras' arguments, weights (``weight`` alias
    ``kernel``, ``bias``) and 'same' padding -- ember's own at stride 1, TensorFlow's explicit
    pads (the odd one after) before the op otherwise."""
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
        weight_options(self, activity_regularizer=activity_regularizer,
                       kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.filters = positive_int(filters, "filters", layer)
        self.groups = positive_int(groups, "groups", layer)
        if self.filters % self.groups:
            raise ValueError(f"{layer}: filters={filters} must be divisible by groups={groups}")
        self.geometry = conv_geometry(rank, kernel_size, strides, padding, dilation_rate, layer,
                                      causal_ok=rank == 1)
        self.keras_padding = self.geometry.keras_padding
        self.activation = _activations.get(activation)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self._bias_regularizer = _regularizers.get(bias_regularizer)
        # what the conv op takes (ember.nn's names, which ember.train's input checks read)
        self.in_channels = None                 # known once built
        self.out_channels = self.filters
        g = self.geometry
        self.kernel_size, self.stride, self.dilation = g.kernel_size, g.stride, g.dilation
        self.padding = g.op_padding
        self.use_bias = bool(use_bias)
        self.weight_regularizer = weight_penalty(self, kernel_regularizer, bias_regularizer)

    def _check_input(self, shape):
        name = type(self).__name__
        check_channels_last(shape, name, (self.rank + 2,), self._layout, self.in_channels,
                            "in_channels", f"{name}({self.extra_repr()})",
                            spatial=self.rank if self.rank < 3 else None)

    def build(self, input_shape):
        self._check_input(tuple(input_shape))
        self.in_channels = int(input_shape[-1])
        if self.in_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: the input has {self.in_channels} channels, "
                             f"not divisible by groups={self.groups}")
        add_kernel_and_bias(self, self.kernel_size + (self.in_channels // self.groups, self.filters))
        super().build(input_shape)

    @property
    def kernel(self):
        return self.weight

    def call(self, inputs):
        x = self.geometry.pad(as_float_input(inputs))
        self._check_input(tuple(x.shape))
        return apply_activation(self.activation, self._convolve(x))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self.geometry.config(),
                "groups": self.groups, **conv_common_config(self)}


class Conv2D(_Conv):
    """2-D convolution over channels-last images (N, H, W, C) -> (N, H', W', filters).

    Keras' arguments and defaults: ``strides=1`` (or (sh, sw)), ``padding='valid'`` ('same' keeps
    ceil(H / stride), padding as TensorFlow: the odd pixel after), ``dilation_rate=1``,
    ``groups=1`` (C and filters split into independent groups), Glorot-uniform kernel
    (kh, kw, C_in / groups, filters), zero bias, no activation.
    """
    rank = 2
    _layout = "(N, H, W, C)"

    def _convolve(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        groups=self.groups)


class Conv1D(_Conv):
    """1-D convolution over sequences (N, T, C) -> (N, T', filters), Keras' arguments; also
    ``padding='causal'`` (output t sees inputs up to t only: (k - 1) * dilation zeros before)."""
    rank = 1
    _layout = "(N, L, C)"

    def _convolve(self, x):
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], pad, self.dilation[0],
                        groups=self.groups)


class Conv3D(_Conv):
    """3-D convolution over channels-last volumes (N, D, H, W, C) -> (N, D', H', W', filters),
    Keras' arguments as ``Conv2D`` (kernel (kd, kh, kw, C_in / groups, filters))."""
    rank = 3
    _layout = "(N, D, H, W, C)"

    def _convolve(self, x):
        return F.conv3d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        groups=self.groups)
