"""Up-sampling by whole factors: ``UpSampling1D`` (N, T, C), ``UpSampling2D`` (N, H, W, C) and
``UpSampling3D`` (N, D, H, W, C), Keras' arguments (``data_format='channels_first'`` also taken).

'nearest' (the default) repeats every step / pixel ``size`` times along each axis: one broadcast
and one reshape (no gather; the gradient sums over the broadcast axes).  ``UpSampling2D`` also
resizes with interpolation='bilinear' or 'bicubic' through ``ember.functional.interpolate``
(half-pixel centres, align_corners=False: what Keras' image resize does).
"""
from ... import functional as F
from ...ops.arguments import int_tuple
from ._arguments import (as_float_input, check_rank, data_format_arg, from_channels_last,
                         to_channels_last)
from .base import Layer

__all__ = ["UpSampling1D", "UpSampling2D", "UpSampling3D"]

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


def repeat_spatial(x, size):
    """Channels-last ``x`` (N, *spatial, C) with each spatial axis i repeated ``size[i]`` times
    element-wise (NumPy's ``repeat``): a broadcast over new unit axes and a reshape."""
    n = len(size)
    spatial = tuple(x.shape[1:1 + n])
    expanded, target, out = [x.shape[0]], [x.shape[0]], [x.shape[0]]
    for d, s in zip(spatial, size):
        expanded += [d, 1]
        target += [d, s]
        out.append(d * s)
    c = x.shape[-1]
    y = F.broadcast_to(F.reshape(x, tuple(expanded) + (c,)), tuple(target) + (c,))
    return F.reshape(y, tuple(out) + (c,))


class _UpSampling(Layer):
    rank = 2

    def __init__(self, size=2, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        self.data_format = data_format_arg(data_format, layer)
        self.size = int_tuple(size, self.rank, "size", layer, minimum=1)
        self.interpolation = str(interpolation).lower()
        allowed = _INTERPOLATIONS if self.rank == 2 else ("nearest",)
        if self.interpolation not in allowed:
            raise ValueError(f"{layer}: interpolation must be one of {', '.join(map(repr, allowed))}"
                             f", got {interpolation!r}")

    def call(self, x):
        x = as_float_input(x)
        layout = {1: "(N, T, C)", 2: "(N, H, W, C)", 3: "(N, D, H, W, C)"}[self.rank]
        check_rank(self, x, self.rank + 2, layout if self.data_format == "channels_last"
                   else "(N, C, *spatial) (channels first)")
        x = to_channels_last(x, self.data_format)
        if self.interpolation == "nearest":
            y = repeat_spatial(x, self.size)
        else:
            out = tuple(n * s for n, s in zip(x.shape[1:-1], self.size))
            y = F.interpolate(x, size=out, mode=self.interpolation, align_corners=False)
        return from_channels_last(y, self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        first = self.data_format == "channels_first"
        for i, s in enumerate(self.size):
            a = i + (2 if first else 1)
            if shape[a] is not None:
                shape[a] *= s
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format}


class UpSampling1D(_UpSampling):
    """Repeat each step ``size`` times (default 2): (N, T, C) -> (N, T * size, C)."""
    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(size, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size[0]
        del config["data_format"]           # not an argument of Keras' UpSampling1D
        return config


class UpSampling2D(_UpSampling):
    """Up-sample images by ``size`` = (rows, cols) (default (2, 2)): (N, H, W, C) ->
    (N, H * rows, W * cols, C); ``interpolation`` 'nearest' (repeat, default), 'bilinear' or
    'bicubic'."""
    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size, data_format, interpolation, **kwargs)

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}


class UpSampling3D(_UpSampling):
    """Repeat each voxel ``size`` = (d, h, w) times (default (2, 2, 2)): (N, D, H, W, C) ->
    (N, D * d, H * h, W * w, C)."""
    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format, **kwargs)
