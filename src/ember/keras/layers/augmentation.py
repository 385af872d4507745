"""Image augmentation layers: ``RandomFlip``, ``RandomRotation``, ``RandomZoom``,
``RandomTranslation``, ``RandomContrast``, ``RandomBrightness`` and ``RandomCrop``, with Keras 3's
arguments, parameter draws and resampling.

Modes, as Keras: a layer called on its own augments (Keras' ``call(..., training=True)``
default); inside a model it augments in training (``fit``, ``model(x, training=True)``) and is the
identity in ``predict`` / ``evaluate`` / ``model(x)``; ``layer(x, training=False)`` is the
identity.  Inputs are images (N, H, W, C) or one image (H, W, C), channels-last by default
(``data_format='channels_first'`` accepted).

Randomness: one draw per image (RandomCrop: one crop box per batch, as Keras), from ember's
generator (``ember.manual_seed``) or, with ``seed=``, from the layer's own generator (a seeded
layer repeats its sequence from run to run; the numbers are not TensorFlow's or PyTorch's).

Geometry (rotation, zoom, translation) is Keras' ``affine_transform``: a per-image 2 x 3 matrix
maps each output pixel (x, y) to the input position it samples (pixel centres at integers), and
all images are resampled at once with ``ember.functional.grid_sample``.
``interpolation`` 'bilinear' or 'nearest'; ``fill_mode`` for positions outside the image:
'reflect' (d c b a | a b c d | d c b a, the default), 'nearest' (edge pixel), 'wrap'
(a b c d | a b c d) and 'constant' (``fill_value``), with Keras' per-tap rules: the outputs
equal Keras' (torch backend) for the same draws (to float32 rounding).
"""
import math

import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ._arguments import data_format_arg, positive_int
from .base import Layer
from .preprocessing import _center_crop, _image_batch, _image_out, _resize
from .regularization import random_generator

__all__ = ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
           "RandomBrightness", "RandomCrop"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("bilinear", "nearest")
_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def _factor_range(factor, what, layer, low=-1.0, high=1.0, closed_low=True):
    """Keras' factor argument: a number f -> (-f, f) (clamped at ``low``), a pair -> sorted."""
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v > high or v < low or \
                (not closed_low and v == low):
            raise ValueError(f"{layer}: {what} must be a number or a pair of numbers in "
                             f"[{low:g}, {high:g}], got {factor!r}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(f"{layer}: {what} must be a number or a pair of numbers, got "
                             f"{factor!r}")
        for v in factor:
            check(v)
        return tuple(float(v) for v in sorted(factor))
    check(factor)
    f = abs(float(factor))
    return max(-f, low), f


class _RandomImageLayer(Layer):
    """Augments in training only; the layer's own mode starts in training (Keras' default)."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.data_format = data_format_arg(data_format, type(self).__name__)
        self.training = True        # Keras: called on its own, an augmentation layer augments

    def _uniform(self, low, high, n):
        """(n,) uniform draws in [low, high), as a float32 Tensor."""
        return Tensor.wrap(random_generator(self).uniform(low, high, size=n).astype(np.float32))

    def call(self, x):
        x, single = _image_batch(self, x, self.data_format)
        if self.training:
            x = self._augment(x)
        return _image_out(x, single, self.data_format)

    def _augment(self, x):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


class RandomFlip(_RandomImageLayer):
    """Flip each image with probability 1/2: ``mode`` 'horizontal' (left-right), 'vertical'
    (up-down) or 'horizontal_and_vertical' (default; one draw flips both axes, as Keras)."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in _FLIP_MODES:
            raise ValueError(f"RandomFlip: mode must be one of {', '.join(map(repr, _FLIP_MODES))}, "
                             f"got {mode!r}")
        self.mode = mode

    def _augment(self, x):
        n = x.shape[0]
        flips = Tensor.wrap((random_generator(self).random(n) <= 0.5).reshape(n, 1, 1, 1))
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            x = F.where(flips, F.flip(x, axis=2), x)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            x = F.where(flips, F.flip(x, axis=1), x)
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def affine_transform(x, rows, interpolation="bilinear", fill_mode="reflect", fill_value=0.0):
    """Keras' ``ops.image.affine_transform`` of images (N, H, W, C): ``rows`` = (a0, a1, a2, b0,
    b1, b2), six (N,) arrays, map output pixel (x, y) to input position (a0 x + a1 y + a2,
    b0 x + b1 y + b2); positions outside the image follow ``fill_mode`` (see the module
    docstring)."""
    n, h, w, _ = x.shape
    a0, a1, a2, b0, b1, b2 = (r if isinstance(r, Tensor) else Tensor.wrap(np.full(n, r, np.float32))
                              for r in rows)
    # the input position of every output pixel, computed as Keras does (pixel centres at integers)
    xs = Tensor.wrap(np.arange(w, dtype=np.float32).reshape(1, 1, w))
    ys = Tensor.wrap(np.arange(h, dtype=np.float32).reshape(1, h, 1))
    col = [F.reshape(r, (n, 1, 1)) for r in (a0, a1, a2, b0, b1, b2)]
    grid = F.stack([col[0] * xs + col[1] * ys + col[2], col[3] * xs + col[4] * ys + col[5]],
                   axis=-1)                              # (N, H, W, 2): input (x, y) in pixels
    size = Tensor.wrap(np.array([w, h], np.float32))
    if interpolation == "nearest":
        # Keras rounds the position first (half to even), then applies the fill rule; rounding
        # here keeps exact .5 positions from drifting through the normalisation below
        grid = F.round(grid)
    if fill_mode == "wrap":
        # each tap's index modulo the size (Keras'): wrap the position into [0, size) and append
        # the first row and column, which the taps at position size - 1 + t reach
        grid = F.remainder(grid, size)
        x = F.pad(x, (0, 0, 0, 1, 0, 1), mode="circular")
        size = size + 1.0
    padding = {"reflect": "reflection", "nearest": "border", "wrap": "border",
               "constant": "zeros"}[fill_mode]
    grid = (grid * 2.0 + 1.0) / size - 1.0
    out = F.grid_sample(x, grid, mode=interpolation, padding_mode=padding, align_corners=False)
    if fill_mode == "constant" and fill_value:
        # Keras gives each tap outside the image the value fill_value: the weight of those taps
        # is 1 - (the resampled all-ones image)
        ones = Tensor.wrap(np.ones((n, x.shape[1], x.shape[2], 1), np.float32))
        inside = F.grid_sample(ones, grid, mode=interpolation, padding_mode="zeros",
                               align_corners=False)
        out = out + (1.0 - inside) * float(fill_value)
    return out


class _RandomAffine(_RandomImageLayer):
    """Shared by the geometric layers: ``fill_mode``, ``interpolation``, ``fill_value``."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        layer = type(self).__name__
        if fill_mode not in _FILL_MODES:
            raise NotImplementedError(f"{layer}: fill_mode must be one of "
                                      f"{', '.join(map(repr, _FILL_MODES))}, got {fill_mode!r}")
        if interpolation not in _INTERPOLATIONS:
            raise NotImplementedError(f"{layer}: interpolation must be 'bilinear' or 'nearest', "
                                      f"got {interpolation!r}")
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = float(fill_value)

    def _augment(self, x):
        return affine_transform(x, self._rows(x.shape[0], x.shape[1], x.shape[2]),
                                self.interpolation, self.fill_mode, self.fill_value)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomRotation(_RandomAffine):
    """Rotate each image about its centre by an angle drawn uniformly from ``factor`` turns:
    a number f draws from [-f, f] x 360 degrees, a pair (lo, hi) from [lo, hi] x 360 (positive:
    counter-clockwise).  ``factor=(0.25, 0.25)`` always turns by 90 degrees."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomRotation")

    def _rows(self, n, h, w):
        angle = self._uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, n)
        angle = angle * (math.pi / 180.0)
        cos, sin = F.cos(angle), F.sin(angle)
        cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
        # Keras' _compute_affine_matrix with scale 1, no shear and no translation
        return (cos, -sin, cx - cx * cos + cy * sin, sin, cos, cy - cx * sin - cy * cos)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomZoom(_RandomAffine):
    """Zoom each image about its centre by 1 + a factor drawn from ``height_factor`` (a number
    f: [-f, f]; a pair: [lo, hi]; in (-1, 1]); positive values zoom OUT (Keras').
    ``width_factor`` draws the width's zoom separately; None (default) keeps the aspect ratio."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self._h = _factor_range(height_factor, "height_factor", "RandomZoom", closed_low=False)
        self._w = None if width_factor is None else \
            _factor_range(width_factor, "width_factor", "RandomZoom", closed_low=False)

    def _rows(self, n, h, w):
        zh = self._uniform(1.0 + self._h[0], 1.0 + self._h[1], n)
        zw = zh if self._w is None else self._uniform(1.0 + self._w[0], 1.0 + self._w[1], n)
        return (zw, 0.0, (1.0 - zw) * ((w - 1) / 2.0), 0.0, zh, (1.0 - zh) * ((h - 1) / 2.0))

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(_RandomAffine):
    """Shift each image by a fraction of its height drawn from ``height_factor`` and of its width
    from ``width_factor`` (a number f: [-f, f]; a pair: [lo, hi]; in [-1, 1]); positive shifts
    move the content down / right."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _factor_range(height_factor, "height_factor", "RandomTranslation")
        self._w = _factor_range(width_factor, "width_factor", "RandomTranslation")

    def _rows(self, n, h, w):
        th = self._uniform(*self._h, n) * float(h)
        tw = self._uniform(*self._w, n) * float(w)
        return (1.0, 0.0, -tw, 0.0, 1.0, -th)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


def _value_range(value_range, layer):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"{layer}: value_range must be a pair (low, high), e.g. (0, 255), got "
                         f"{value_range!r}")
    return sorted(float(v) if isinstance(v, float) else v for v in value_range)


class RandomContrast(_RandomImageLayer):
    """Scale each image's deviation from its per-channel mean by a factor drawn uniformly from
    [1 - lo, 1 + hi], then clip to ``value_range`` (default (0, 255)).  ``factor``: a number f
    gives (lo, hi) = (0, f) (Keras 3's rule), a pair (lo, hi) as given; in [0, 1]."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomContrast", low=0.0)
        self.value_range = _value_range(value_range, "RandomContrast")

    def _augment(self, x):
        n = x.shape[0]
        f = F.reshape(self._uniform(1.0 - self.factor[0], 1.0 + self.factor[1], n), (n, 1, 1, 1))
        mean = F.mean(x, axis=(1, 2), keepdims=True)
        return F.clip((x - mean) * f + mean, *self.value_range)

    def get_config(self):
        config = {**super().get_config(), "factor": self.factor, "value_range": self.value_range}
        config.pop("data_format")       # Keras' RandomContrast has none
        return config


class RandomBrightness(_RandomImageLayer):
    """Add to each image a value drawn uniformly from ``factor`` x (value range width) (a number
    f: [-f, f]; a pair: [lo, hi]; in [-1, 1]), then clip to ``value_range`` (default (0, 255))."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor_range(factor, "factor", "RandomBrightness")
        self.value_range = _value_range(value_range, "RandomBrightness")

    def _augment(self, x):
        n = x.shape[0]
        lo, hi = self.value_range
        delta = self._uniform(self.factor[0], self.factor[1], n) * float(hi - lo)
        return F.clip(x + F.reshape(delta, (n, 1, 1, 1)), lo, hi)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomCrop(_RandomImageLayer):
    """Crop a random (height, width) box (one box for the whole batch, as Keras) in training; an
    image not larger than that on both axes is cropped to the target aspect ratio and resized
    instead.  In inference it crops the centre (``CenterCrop``), as tf.keras 2 did, so that the
    output has one shape in training and inference (Keras 3 passes the input through unchanged
    in inference, which breaks the layers after it)."""

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = positive_int(height, "height", "RandomCrop")
        self.width = positive_int(width, "width", "RandomCrop")

    def _augment(self, x):
        h, w = x.shape[1], x.shape[2]
        if h > self.height and w > self.width:
            rng = random_generator(self)
            h0 = int(rng.uniform(0, h - self.height + 1))
            w0 = int(rng.uniform(0, w - self.width + 1))
            return x[:, h0:h0 + self.height, w0:w0 + self.width, :]
        return _resize(x, self.height, self.width, crop=True)

    def call(self, x):
        if self.training:
            return super().call(x)
        x, single = _image_batch(self, x, self.data_format)
        return _image_out(_center_crop(x, self.height, self.width), single, self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        first = self.data_format == "channels_first"
        shape[-2 if first else -3], shape[-1 if first else -2] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
