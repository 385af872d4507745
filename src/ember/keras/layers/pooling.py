"""Pooling layers over channels-last images (N, H, W, C): ``MaxPooling2D``, ``AveragePooling2D``
(TensorFlow's 'same' padding), ``GlobalAveragePooling2D``, ``GlobalMaxPooling2D``, and Keras'
short names ``MaxPool2D``, ``AvgPool2D``, ``GlobalAvgPool2D``, ``GlobalMaxPool2D``."""
import numpy as np

from ... import functional as F
from ._arguments import as_float_input, as_input, channels_last, padding_arg, pair, same_pads
from .base import Layer

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
           "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D"]


def _check_images(layer, x, what="(N, H, W, C) (channels last)"):
    if x.ndim != 4:
        raise ValueError(f"{type(layer).__name__} expects a 4-D input {what}, got shape "
                         f"{tuple(x.shape)}")


class _Pool2D(Layer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        channels_last(data_format, layer)
        self.pool_size = pair(pool_size, "pool_size", layer)
        self.strides = self.pool_size if strides is None else pair(strides, "strides", layer)
        self.padding = padding_arg(padding, layer)

    def call(self, x):
        x = as_float_input(x)
        _check_images(self, x)
        pads = ((0, 0), (0, 0))
        if self.padding == "same":
            pads = (same_pads(x.shape[1], self.pool_size[0], self.strides[0]),
                    same_pads(x.shape[2], self.pool_size[1], self.strides[1]))
        return self._pool(x, pads)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


class MaxPooling2D(_Pool2D):
    """Max over ``pool_size`` windows (default (2, 2)), ``strides`` defaulting to ``pool_size``;
    ``padding='same'`` pads (ignored by the max) to ceil(H / stride) outputs."""

    def _pool(self, x, pads):
        ph, pw = pads
        if any(ph) or any(pw):
            x = F.pad(x, ((0, 0), ph, pw, (0, 0)), value=-np.inf)
        return F.max_pool2d(x, self.pool_size, self.strides)


class AveragePooling2D(_Pool2D):
    """Mean over ``pool_size`` windows; with ``padding='same'`` the mean of a border window
    counts only the real pixels (as Keras)."""

    def _pool(self, x, pads):
        ph, pw = pads
        if any(ph) or any(pw):
            widths = ((0, 0), ph, pw, (0, 0))
            ones = np.ones((1,) + tuple(x.shape[1:3]) + (1,), dtype=x.data.dtype)
            count = F.avg_pool2d(F.pad(as_input(ones), widths), self.pool_size, self.strides)
            return F.avg_pool2d(F.pad(x, widths), self.pool_size, self.strides) / count
        return F.avg_pool2d(x, self.pool_size, self.strides)


class GlobalAveragePooling2D(Layer):
    """Mean over H and W: (N, H, W, C) -> (N, C) (``keepdims=True``: (N, 1, 1, C))."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        channels_last(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def call(self, x):
        x = as_float_input(x)
        _check_images(self, x, "(N, H, W, C)")
        return self._pool(x)

    def _pool(self, x):
        return F.global_avg_pool2d(x, keepdims=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    """Max over H and W: (N, H, W, C) -> (N, C) (``keepdims=True``: (N, 1, 1, C))."""

    def _pool(self, x):
        return F.max(x, axis=(1, 2), keepdims=self.keepdims)


MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D
