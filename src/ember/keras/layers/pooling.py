"""Pooling layers, channels-last (``data_format='channels_first'`` also taken: moved last and
back), Keras' arguments and TensorFlow's 'same' padding:

* windows: ``MaxPooling1D/2D/3D``, ``AveragePooling1D/2D/3D`` on (N, T, C), (N, H, W, C),
  (N, D, H, W, C);
* global: ``GlobalAveragePooling1D/2D/3D`` (1-D: the masked mean over time when a mask comes with
  the input), ``GlobalMaxPooling1D/2D/3D``, all with ``keepdims``;
* Keras' short names ``MaxPool1D``, ``AvgPool2D``, ``GlobalAvgPool1D``, ``GlobalMaxPool3D``, ...

Average pooling with ``padding='same'`` divides a border window by its count of real elements, as
Keras' TensorFlow and JAX backends do.  (Keras' torch backend differs where the total padding of
an axis is odd: it pads by repeating the edge values, which then count in the mean.)
"""
import numpy as np

from ... import functional as F
from ...ops.arguments import int_tuple
from ._arguments import (as_float_input, as_input, check_rank, data_format_arg,
                         from_channels_last, padding_arg, same_pads, to_channels_last)
from .base import Layer

__all__ = ["MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
           "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
           "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
           "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
           "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
           "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D"]

_LAYOUTS = {1: "(N, T, C)", 2: "(N, H, W, C)", 3: "(N, D, H, W, C)"}
_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _layout(rank, data_format):
    shown = _LAYOUTS[rank]
    return shown + " (channels last)" if data_format == "channels_last" else \
        shown.replace(", C)", ")").replace("(N, ", "(N, C, ") + " (channels first)"


class _Pool(Layer):
    """Window pooling over ``rank`` spatial axes: ``pool_size`` (default 2 per axis),
    ``strides`` (default ``pool_size``), ``padding`` 'valid' or 'same' (TensorFlow's pads, the odd
    one after; ceil(size / stride) outputs)."""
    rank = 2

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        self.data_format = data_format_arg(data_format, layer)
        self.pool_size = int_tuple(pool_size, self.rank, "pool_size", layer, minimum=1)
        self.strides = self.pool_size if strides is None else \
            int_tuple(strides, self.rank, "strides", layer, minimum=1)
        self.padding = padding_arg(padding, layer)

    def call(self, x):
        x = as_float_input(x)
        check_rank(self, x, self.rank + 2, _layout(self.rank, self.data_format))
        x = to_channels_last(x, self.data_format)
        pads = ((0, 0),) * self.rank
        if self.padding == "same":
            pads = tuple(same_pads(x.shape[1 + i], k, s)
                         for i, (k, s) in enumerate(zip(self.pool_size, self.strides)))
        widths = ((0, 0),) + pads + ((0, 0),)
        return from_channels_last(self._pool(x, widths, any(p for pair in pads for p in pair)),
                                  self.data_format)

    def _window(self, op, x):
        k, s = self.pool_size, self.strides
        return op(x, k[0], s[0]) if self.rank == 1 else op(x, k, s)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format}


class MaxPooling2D(_Pool):
    """Max over ``pool_size`` windows (default (2, 2)) of (N, H, W, C), ``strides`` defaulting to
    ``pool_size``; ``padding='same'`` pads (ignored by the max) to ceil(H / stride) outputs."""

    def _pool(self, x, widths, padded):
        if padded:
            x = F.pad(x, widths, value=-np.inf)
        return self._window(_MAX[self.rank], x)


class AveragePooling2D(_Pool):
    """Mean over ``pool_size`` windows of (N, H, W, C); with ``padding='same'`` the mean of a
    border window counts only the real pixels (as Keras)."""

    def _pool(self, x, widths, padded):
        op = _AVG[self.rank]
        if not padded:
            return self._window(op, x)
        # a border window's divisor is its count of real pixels: pool a padded plane of ones
        ones = np.ones((1,) + tuple(x.shape[1:-1]) + (1,), dtype=x.data.dtype)
        count = self._window(op, F.pad(as_input(ones), widths))
        return self._window(op, F.pad(x, widths)) / count


class MaxPooling1D(MaxPooling2D):
    """Max over windows of ``pool_size`` steps (default 2) of (N, T, C) -> (N, T', C)."""
    rank = 1


class MaxPooling3D(MaxPooling2D):
    """Max over ``pool_size`` windows (default (2, 2, 2)) of (N, D, H, W, C)."""
    rank = 3


class AveragePooling1D(AveragePooling2D):
    """Mean over windows of ``pool_size`` steps (default 2) of (N, T, C) -> (N, T', C)."""
    rank = 1


class AveragePooling3D(AveragePooling2D):
    """Mean over ``pool_size`` windows (default (2, 2, 2)) of (N, D, H, W, C)."""
    rank = 3


class _GlobalPool(Layer):
    rank = 2

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def _checked(self, x):
        x = as_float_input(x)
        check_rank(self, x, self.rank + 2, _layout(self.rank, self.data_format))
        return x

    def _axes(self):
        first = self.data_format == "channels_first"
        return tuple(range(2, 2 + self.rank)) if first else tuple(range(1, 1 + self.rank))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPool):
    """Mean over H and W: (N, H, W, C) -> (N, C) (``keepdims=True``: (N, 1, 1, C))."""

    def call(self, x):
        x = self._checked(x)
        if self.rank == 2 and self.data_format == "channels_last":
            return F.global_avg_pool2d(x, keepdims=self.keepdims)
        return F.mean(x, axis=self._axes(), keepdims=self.keepdims)


class GlobalAveragePooling3D(GlobalAveragePooling2D):
    """Mean over D, H and W: (N, D, H, W, C) -> (N, C) (``keepdims=True``: (N, 1, 1, 1, C))."""
    rank = 3


class GlobalAveragePooling1D(_GlobalPool):
    """Mean over time: (N, T, C) -> (N, C) (``keepdims=True``: (N, 1, C)).

    With a mask (N, T) -- given as ``mask=`` or coming with the input from
    ``Embedding(mask_zero=True)`` / ``Masking`` -- the mean is over the unmasked steps only (a
    sample with every step masked gives NaN, as Keras).  The output carries no mask."""
    rank = 1
    supports_masking = True

    def call(self, x, mask=None):
        x = self._checked(x)
        axis = self._axes()[0]
        if mask is None:
            return F.mean(x, axis=axis, keepdims=self.keepdims)
        m = as_input(mask)
        if tuple(m.shape) != (x.shape[0], x.shape[axis]):
            raise ValueError(f"{type(self).__name__}: the mask must be (N, T) = "
                             f"({x.shape[0]}, {x.shape[axis]}) for an input of shape "
                             f"{tuple(x.shape)}, got {tuple(m.shape)}")
        m = (m if m.data.dtype == np.bool_ else m != 0).astype(x.data.dtype)
        m = F.expand_dims(m, 2 if axis == 1 else 1)
        total = F.sum(F.where(m > 0, x, 0.0), axis=axis, keepdims=self.keepdims)
        return total / F.sum(m, axis=axis, keepdims=self.keepdims)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalMaxPooling2D(_GlobalPool):
    """Max over H and W: (N, H, W, C) -> (N, C) (``keepdims=True``: (N, 1, 1, C))."""

    def call(self, x):
        return F.max(self._checked(x), axis=self._axes(), keepdims=self.keepdims)


class GlobalMaxPooling1D(GlobalMaxPooling2D):
    """Max over time: (N, T, C) -> (N, C) (``keepdims=True``: (N, 1, C)); masks are ignored, as
    Keras."""
    rank = 1


class GlobalMaxPooling3D(GlobalMaxPooling2D):
    """Max over D, H and W: (N, D, H, W, C) -> (N, C)."""
    rank = 3


MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (GlobalAveragePooling1D,
                                                     GlobalAveragePooling2D, GlobalAveragePooling3D)
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (GlobalMaxPooling1D, GlobalMaxPooling2D,
                                                     GlobalMaxPooling3D)
