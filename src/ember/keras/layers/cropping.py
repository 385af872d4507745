"""Cropping and zero padding of the spatial axes: ``Cropping1D/2D/3D`` and
``ZeroPadding1D/2D/3D`` on (N, T, C), (N, H, W, C), (N, D, H, W, C) (channels last;
``data_format='channels_first'`` also taken, except by Cropping1D, as Keras), with Keras'
arguments: an int (every side), one int per axis (both sides) or one (before, after) pair per axis.
"""
from ... import functional as F
from ._arguments import as_input, check_rank, data_format_arg, pad_pairs, shape_str
from .base import Layer

__all__ = ["Cropping1D", "Cropping2D", "Cropping3D", "ZeroPadding1D", "ZeroPadding2D",
           "ZeroPadding3D"]


class _Spatial(Layer):
    """Shared: the (before, after) pairs of ``rank`` spatial axes and where those axes are."""
    rank = 2
    _what = ""
    _default = None

    def __init__(self, value, data_format=None, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        self.data_format = data_format_arg(data_format, layer)
        self.pairs = pad_pairs(self._default if value is None else value, self.rank, self._what,
                               layer)

    def _spatial_axes(self):
        return range(2, 2 + self.rank) if self.data_format == "channels_first" else \
            range(1, 1 + self.rank)

    def _checked(self, x):
        x = as_input(x)
        check_rank(self, x, self.rank + 2, "(N, *spatial, C)" if self.data_format ==
                   "channels_last" else "(N, C, *spatial)")
        return x

    def _value_config(self):
        return self.pairs[0] if self.rank == 1 else [list(p) for p in self.pairs]

    def get_config(self):
        return {**super().get_config(), self._what: self._value_config(),
                "data_format": self.data_format}


class _Cropping(_Spatial):
    _what = "cropping"

    def call(self, x):
        x = self._checked(x)
        index = [slice(None)] * x.ndim
        for a, (lo, hi) in zip(self._spatial_axes(), self.pairs):
            if lo + hi >= x.shape[a]:
                raise ValueError(f"{type(self).__name__}: cropping {self.pairs} leaves nothing of "
                                 f"axis {a} (size {x.shape[a]}) of an input of shape "
                                 f"{shape_str(x.shape)}; crop less than the axis size")
            index[a] = slice(lo, x.shape[a] - hi)
        return F.getitem(x, tuple(index))

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for a, (lo, hi) in zip(self._spatial_axes(), self.pairs):
            if shape[a] is not None:
                shape[a] -= lo + hi
        return tuple(shape)


class Cropping1D(_Cropping):
    """Crop steps off a sequence (N, T, C) -> (N, T - start - end, C); ``cropping`` an int (both
    ends) or (start, end), default (1, 1)."""
    rank = 1
    _default = (1, 1)

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]           # not an argument of Keras' Cropping1D
        return config


class Cropping2D(_Cropping):
    """Crop rows and columns off images (N, H, W, C): ``cropping`` an int, (h, w) (symmetric) or
    ((top, bottom), (left, right)); default no cropping."""
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format=data_format, **kwargs)


class Cropping3D(_Cropping):
    """Crop volumes (N, D, H, W, C): ``cropping`` an int, (d, h, w) or three (before, after)
    pairs; default 1 everywhere."""
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format=data_format, **kwargs)


class _ZeroPadding(_Spatial):
    _what = "padding"

    def call(self, x):
        x = self._checked(x)
        widths = [(0, 0)] * x.ndim
        for a, pair in zip(self._spatial_axes(), self.pairs):
            widths[a] = pair
        return F.pad(x, tuple(widths))

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for a, (lo, hi) in zip(self._spatial_axes(), self.pairs):
            if shape[a] is not None:
                shape[a] += lo + hi
        return tuple(shape)


class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after the steps of (N, T, C): ``padding`` an int (default 1) or
    (before, after)."""
    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format=data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Rows and columns of zeros around images (N, H, W, C): ``padding`` an int, (h, w) or
    ((top, bottom), (left, right)); default (1, 1)."""
    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format=data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Zeros around volumes (N, D, H, W, C): ``padding`` an int, (d, h, w) or three pairs;
    default 1 everywhere."""
    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format=data_format, **kwargs)
