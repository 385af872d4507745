"""Transposed convolutions ("deconvolutions"): ``Conv1DTranspose`` (N, T, C), ``Conv2DTranspose``
(N, H, W, C) and ``Conv3DTranspose`` (N, D, H, W, C), Keras' arguments and output sizes, on
``ember.functional``'s ``conv_transpose1d/2d/3d``.

Kernel (k..., filters, C_in): Keras' layout, which is also the ember ops' (no conversion).

Output size along an axis of size n (kernel k, dilation d, effective kernel e = (k - 1) d + 1,
stride s), as Keras:

* 'valid': (n - 1) s + e + output_padding, output_padding defaulting to max(e, s) - e;
* 'same': n s without ``output_padding``, else (n - 1) s + e % 2 + output_padding.

Computed as Keras computes it on every backend: the full transposed convolution (no padding,
size (n - 1) s + e), then JAX's padding window cut from it -- (e - 1 - left) from the start,
(e - 1 - right) from the end -- with zeros appended where that cut is negative.
"""
from ... import functional as F
from ...ops.arguments import int_tuple
from .. import activations as _activations
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ._arguments import (apply_activation, as_float_input, data_format_arg, from_channels_last,
                         positive_int, to_channels_last, weight_penalty, weight_options)
from .base import Layer
from .convolutional import (add_kernel_and_bias, channels_last_shape, check_spatial_input,
                            conv_common_config, conv_geometry)

__all__ = ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "transpose_crops"]


def _jax_pads(k, s, d, padding, output_padding):
    """Keras' (left, right) padding of the dilated input for one axis (its JAX rule)."""
    e = (k - 1) * d + 1
    if padding == "valid":
        op = max(e, s) - e if output_padding is None else output_padding
        return e - 1, e - 1 + op
    pad_len = s + e - 2 if output_padding is None else e + e % 2 - 2 + output_padding
    left = min(pad_len // 2 + pad_len % 2, e - 1)
    return left, pad_len - left


def transpose_crops(kernel_size, strides, dilation, padding, output_padding):
    """Per spatial axis, (cut at the start, cut at the end) of the full transposed convolution
    that gives Keras' output; a negative cut appends that many zeros."""
    out = []
    for i, (k, s, d) in enumerate(zip(kernel_size, strides, dilation)):
        op = None if output_padding is None else output_padding[i]
        left, right = _jax_pads(k, s, d, padding, op)
        e = (k - 1) * d + 1
        out.append((e - 1 - left, e - 1 - right))
    return tuple(out)


class _ConvTranspose(Layer):
    """Shared by the transposed convolutions: Keras' arguments, the weights (``weight`` alias
    ``kernel`` (k..., filters, C_in), ``bias`` (filters,)), Keras' output window."""
    rank = 0
    _layout = ""
    weight = bias = None        # until build

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        layer, rank = type(self).__name__, self.rank
        self.data_format = data_format_arg(data_format, layer)
        weight_options(self, activity_regularizer=activity_regularizer,
                       kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.filters = positive_int(filters, "filters", layer)
        self.geometry = g = conv_geometry(rank, kernel_size, strides, padding, dilation_rate, layer)
        self.kernel_size, self.stride, self.dilation = g.kernel_size, g.stride, g.dilation
        if max(self.stride) > 1 and max(self.dilation) > 1:
            raise ValueError(f"{layer}: strides > 1 together with dilation_rate > 1 is not "
                             f"supported (as in Keras), got strides={strides!r}, "
                             f"dilation_rate={dilation_rate!r}")
        self.output_padding = None if output_padding is None else \
            int_tuple(output_padding, rank, "output_padding", layer, minimum=0)
        if self.output_padding is not None and any(
                o >= s for o, s in zip(self.output_padding, self.stride)):
            raise ValueError(f"{layer}: each output_padding must be smaller than its stride, got "
                             f"output_padding={output_padding!r}, strides={strides!r}")
        self.crops = transpose_crops(self.kernel_size, self.stride, self.dilation,
                                     g.keras_padding, self.output_padding)
        self.activation = _activations.get(activation)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self._bias_regularizer = _regularizers.get(bias_regularizer)
        self.use_bias = bool(use_bias)
        self.in_channels, self.out_channels = None, self.filters
        self.weight_regularizer = weight_penalty(self, kernel_regularizer, bias_regularizer)

    def _check_input(self, shape):
        check_spatial_input(self, shape)

    def build(self, input_shape):
        shape = channels_last_shape(input_shape, self.data_format)
        self._check_input(shape)
        self.in_channels = int(shape[-1])
        add_kernel_and_bias(self, self.kernel_size + (self.filters, self.in_channels))
        super().build(input_shape)

    @property
    def kernel(self):
        return self.weight

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        first = self.data_format == "channels_first"
        axes = range(2, 2 + self.rank) if first else range(1, 1 + self.rank)
        for a, k, s, d, (c0, c1) in zip(axes, self.kernel_size, self.stride, self.dilation,
                                        self.crops):
            if shape[a] is not None:
                shape[a] = (shape[a] - 1) * s + (k - 1) * d + 1 - c0 - c1
        shape[1 if first else -1] = self.filters
        return tuple(shape)

    def call(self, inputs):
        x = to_channels_last(as_float_input(inputs), self.data_format)
        self._check_input(tuple(x.shape))
        crops = self.crops
        grows = any(c < 0 for pair in crops for c in pair)
        # the bias goes into the op unless zeros are appended (Keras adds it after, to them too)
        y = self._transpose(x, None if grows else self.bias)
        cut = tuple(slice(max(c0, 0), y.shape[1 + i] - max(c1, 0)) for i, (c0, c1) in enumerate(crops))
        if any(c > 0 for pair in crops for c in pair):
            y = F.getitem(y, (slice(None),) + cut + (slice(None),))
        if grows:
            y = F.pad(y, ((0, 0),) + tuple((max(-c0, 0), max(-c1, 0)) for c0, c1 in crops) + ((0, 0),))
            if self.bias is not None:
                y = y + self.bias
        return from_channels_last(apply_activation(self.activation, y), self.data_format)

    def get_config(self):
        op = self.output_padding
        return {**super().get_config(), "filters": self.filters, **self.geometry.config(),
                "output_padding": None if op is None else (op[0] if self.rank == 1 else list(op)),
                "data_format": self.data_format, **conv_common_config(self)}


class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution of images (N, H, W, C) -> (N, H', W', filters).

    Keras' arguments and defaults: ``strides=1``, ``padding='valid'`` ('same': H' = H * stride),
    ``output_padding=None``, ``dilation_rate=1``, Glorot-uniform kernel (kh, kw, filters, C_in),
    zero bias, no activation; ``data_format='channels_first'`` takes (N, C, H, W)."""
    rank = 2
    _layout = "(N, H, W, C)"

    def _transpose(self, x, bias):
        return F.conv_transpose2d(x, self.weight, bias, self.stride, 0, 0, dilation=self.dilation)


class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution of sequences (N, T, C) -> (N, T', filters), kernel
    (k, filters, C_in); arguments as ``Conv2DTranspose``."""
    rank = 1
    _layout = "(N, L, C)"

    def _transpose(self, x, bias):
        return F.conv_transpose1d(x, self.weight, bias, self.stride[0], 0, 0,
                                  dilation=self.dilation[0])


class Conv3DTranspose(_ConvTranspose):
    """3-D transposed convolution of volumes (N, D, H, W, C) -> (N, D', H', W', filters), kernel
    (kd, kh, kw, filters, C_in); arguments as ``Conv2DTranspose``."""
    rank = 3
    _layout = "(N, D, H, W, C)"

    def _transpose(self, x, bias):
        return F.conv_transpose3d(x, self.weight, bias, self.stride, 0, 0, dilation=self.dilation)
