"""Depthwise and separable convolutions: ``DepthwiseConv1D`` / ``DepthwiseConv2D`` (each input
channel convolved with its own ``depth_multiplier`` filters) and ``SeparableConv1D`` /
``SeparableConv2D`` (a depthwise convolution, then a 1x1 convolution mixing the channels), with
Keras' arguments, weight layouts and TensorFlow's 'same' padding.

Weights, in Keras' layouts and order:

* depthwise: ``weight`` (alias ``kernel``) (k..., C_in, depth_multiplier), ``bias``
  (C_in * depth_multiplier,);
* separable: ``weight`` (alias ``depthwise_kernel``) (k..., C_in, depth_multiplier),
  ``pointwise_kernel`` (1..., C_in * depth_multiplier, filters), ``bias`` (filters,).

The depthwise kernel is the grouped convolution's weight (k..., 1, C_in * depth_multiplier) with
``groups = C_in`` after a free reshape (output channel c * depth_multiplier + m comes from input
channel c, as Keras), so both run on ``ember.functional.conv1d`` / ``conv2d``.
"""
from ... import functional as F
from .. import activations as _activations
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ._arguments import (KernelAndBiasPenalty, apply_activation, as_float_input, data_format_arg,
                         from_channels_last, kernel_regularizer_of, positive_int,
                         serialize_regularizer, to_channels_last, weight_options)
from .base import Layer
from .convolutional import channels_last_shape, check_spatial_input, conv_geometry

__all__ = ["DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"]


class _SeparablePenalty(KernelAndBiasPenalty):
    """Keras' depthwise, pointwise and bias regularizers of a separable convolution, as the one
    ``weight_regularizer`` that ``ember.nn.regularization_loss`` calls with the depthwise kernel."""

    def __init__(self, layer, depthwise, pointwise, bias):
        super().__init__(layer, depthwise, bias)
        self.pointwise = pointwise

    def __call__(self, weight):
        total = super().__call__(weight)
        pw = self.layer.pointwise_kernel
        if self.pointwise is not None and pw is not None:
            total = total + self.pointwise(pw)
        return total

    def __repr__(self):
        return f"depthwise={self.kernel!r}, pointwise={self.pointwise!r}, bias={self.bias!r}"


def _penalty(layer, depthwise, pointwise, bias):
    d, p, b = (_regularizers.get(r) for r in (depthwise, pointwise, bias))
    return d if p is None and b is None else _SeparablePenalty(layer, d, p, b)


class _Depthwise(Layer):
    """Shared by the depthwise and separable layers: Keras' window arguments, the depthwise
    kernel, channels-first inputs moved to channels last and back."""
    rank = 0
    _layout = ""
    weight = bias = pointwise_kernel = None        # until build

    def _setup(self, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
               activation, use_bias, depthwise_initializer, bias_initializer, **unsupported):
        layer = type(self).__name__
        self.data_format = data_format_arg(data_format, layer)
        weight_options(self, **unsupported)
        self.geometry = g = conv_geometry(self.rank, kernel_size, strides, padding, dilation_rate,
                                          layer)
        self.kernel_size, self.stride, self.dilation = g.kernel_size, g.stride, g.dilation
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", layer)
        self.activation = _activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = _initializers.get(depthwise_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.in_channels = None

    def _check_input(self, shape):
        check_spatial_input(self, shape)

    def _last_shape(self, input_shape):
        shape = channels_last_shape(input_shape, self.data_format)
        self._check_input(shape)
        return shape

    def _build_depthwise(self, shape):
        self.in_channels = int(shape[-1])
        self.weight = self.add_weight(
            name="weight", shape=self.kernel_size + (self.in_channels, self.depth_multiplier),
            initializer=self.depthwise_initializer)

    def _depthwise(self, x, bias):
        """The depthwise convolution of a channels-last ``x`` (already padded as Keras pads)."""
        k = self.kernel_size
        w = F.reshape(self.weight, k + (1, self.in_channels * self.depth_multiplier))
        pad = self.geometry.op_padding
        if self.rank == 1:
            return F.conv1d(x, w, bias, self.stride[0], pad if isinstance(pad, str) else pad[0],
                            self.dilation[0], groups=self.in_channels)
        return F.conv2d(x, w, bias, self.stride, pad, self.dilation, groups=self.in_channels)

    def call(self, inputs):
        x = to_channels_last(as_float_input(inputs), self.data_format)
        self._check_input(tuple(x.shape))
        y = self._forward(self.geometry.pad(x))
        return from_channels_last(apply_activation(self.activation, y), self.data_format)

    def _common_config(self):
        return {**super().get_config(), **self.geometry.config(),
                "data_format": self.data_format, "depth_multiplier": self.depth_multiplier,
                "activation": _activations.serialize(self.activation), "use_bias": self.use_bias,
                "depthwise_initializer": _initializers.serialize(self.depthwise_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer)}


class DepthwiseConv2D(_Depthwise):
    """Depthwise 2-D convolution of images (N, H, W, C) -> (N, H', W', C * depth_multiplier):
    each channel is convolved with its own ``depth_multiplier`` filters.

    Keras' arguments and defaults: ``kernel_size``, ``strides=1``, ``padding='valid'`` ('same' as
    TensorFlow), ``depth_multiplier=1``, ``dilation_rate=1``, Glorot-uniform kernel
    (kh, kw, C, depth_multiplier), zero bias, no activation, ``data_format`` (channels_last)."""
    rank = 2
    _layout = "(N, H, W, C)"

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._setup(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                    activation, use_bias, depthwise_initializer, bias_initializer,
                    activity_regularizer=activity_regularizer,
                    depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint)
        self._bias_regularizer = _regularizers.get(bias_regularizer)
        self.weight_regularizer = _penalty(self, depthwise_regularizer, None, bias_regularizer)

    @property
    def kernel(self):
        return self.weight

    def build(self, input_shape):
        shape = self._last_shape(input_shape)
        self._build_depthwise(shape)
        if self.use_bias:
            self.bias = self.add_weight(name="bias",
                                        shape=(self.in_channels * self.depth_multiplier,),
                                        initializer=self.bias_initializer)
        super().build(input_shape)

    def _forward(self, x):
        return self._depthwise(x, self.bias)

    def get_config(self):
        return {**self._common_config(),
                "depthwise_regularizer": serialize_regularizer(kernel_regularizer_of(self.weight_regularizer)),
                "bias_regularizer": serialize_regularizer(self._bias_regularizer)}


class DepthwiseConv1D(DepthwiseConv2D):
    """Depthwise 1-D convolution of sequences (N, T, C) -> (N, T', C * depth_multiplier), kernel
    (k, C, depth_multiplier); arguments as ``DepthwiseConv2D``."""
    rank = 1
    _layout = "(N, L, C)"


class SeparableConv2D(_Depthwise):
    """Depthwise-separable 2-D convolution (N, H, W, C) -> (N, H', W', filters): a depthwise
    convolution (``depth_multiplier`` filters per channel, no bias), then a 1x1 convolution to
    ``filters`` channels with the bias.

    Keras' arguments and defaults (as ``DepthwiseConv2D``, plus ``filters``,
    ``pointwise_initializer='glorot_uniform'``, ``pointwise_regularizer``); weights
    ``depthwise_kernel`` (kh, kw, C, depth_multiplier), ``pointwise_kernel``
    (1, 1, C * depth_multiplier, filters), ``bias`` (filters,)."""
    rank = 2
    _layout = "(N, H, W, C)"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._setup(kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                    activation, use_bias, depthwise_initializer, bias_initializer,
                    activity_regularizer=activity_regularizer,
                    depthwise_constraint=depthwise_constraint,
                    pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint)
        self.filters = positive_int(filters, "filters", type(self).__name__)
        self.pointwise_initializer = _initializers.get(pointwise_initializer)
        self._regularizers = tuple(_regularizers.get(r) for r in (
            depthwise_regularizer, pointwise_regularizer, bias_regularizer))
        self.weight_regularizer = _penalty(self, *self._regularizers)

    @property
    def depthwise_kernel(self):
        return self.weight

    def build(self, input_shape):
        shape = self._last_shape(input_shape)
        self._build_depthwise(shape)
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel",
            shape=(1,) * self.rank + (self.in_channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                        initializer=self.bias_initializer)
        super().build(input_shape)

    def _forward(self, x):
        y = self._depthwise(x, None)
        if self.rank == 1:
            return F.conv1d(y, self.pointwise_kernel, self.bias)
        return F.conv2d(y, self.pointwise_kernel, self.bias)

    def get_config(self):
        d, p, b = (serialize_regularizer(r) for r in self._regularizers)
        return {**self._common_config(), "filters": self.filters,
                "pointwise_initializer": _initializers.serialize(self.pointwise_initializer),
                "depthwise_regularizer": d, "pointwise_regularizer": p, "bias_regularizer": b}


class SeparableConv1D(SeparableConv2D):
    """Depthwise-separable 1-D convolution (N, T, C) -> (N, T', filters); weights
    ``depthwise_kernel`` (k, C, depth_multiplier), ``pointwise_kernel``
    (1, C * depth_multiplier, filters), ``bias``; arguments as ``SeparableConv2D``."""
    rank = 1
    _layout = "(N, L, C)"
