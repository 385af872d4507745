"""Preprocessing layers: ``Normalization`` (with ``adapt``), ``Rescaling``, ``Resizing`` and
``CenterCrop``, with Keras' arguments and numerics (images channels-last by default; Keras'
``data_format='channels_first'`` is accepted by the image layers).

``Resizing`` is ``ember.functional.interpolate`` with PyTorch's sampling rules, which is what
Keras' torch backend runs: 'bilinear' and 'bicubic' use half-pixel centres
(``align_corners=False``), 'nearest' is 'nearest-exact'.  Keras' TensorFlow backend computes the
same bilinear and nearest values; its 'bicubic' uses Keys' a = -0.5 where PyTorch uses -0.75
(small differences near edges).  ``antialias=True`` and the 'lanczos' / 'area' modes are not
supported (they raise).
"""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ._arguments import (as_float_input, data_format_arg, from_channels_last, positive_int,
                         shape_str, to_channels_last)
from .base import Layer

__all__ = ["Normalization", "Rescaling", "Resizing", "CenterCrop"]

_EPSILON = 1e-7         # Keras' backend.epsilon(): the smallest standard deviation divided by


def _batches(data, layer):
    """``adapt``'s data as (first batch shape, iterator of float32 Tensors, is_single_array)."""
    def tensor(b):
        if isinstance(b, (tuple, list)) and b and not np.isscalar(b[0]):
            b = b[0]                    # (x, y) pairs of a dataset: the inputs
        if isinstance(b, dict):
            raise TypeError(f"{layer}.adapt: batches of dicts are not supported; pass arrays")
        return as_float_input(b.data if isinstance(b, Tensor) else b)
    if hasattr(data, "to_numpy") and not isinstance(data, Tensor):
        data = np.asarray(data.to_numpy())         # a pandas DataFrame / Series
    if isinstance(data, (np.ndarray, Tensor)):
        x = tensor(data)
        return tuple(x.shape), iter([x]), True
    if not hasattr(data, "__iter__"):
        raise TypeError(f"{layer}.adapt: expected a NumPy array, a Tensor or an iterable of batches "
                        f"(a list of arrays, a generator, a DataLoader), got {type(data).__name__}")
    it = iter(data)
    first = next(it, None)
    if first is None:
        raise ValueError(f"{layer}.adapt: the iterable yielded no batches; pass at least one")
    first = tensor(first)

    def rest():
        yield first
        for b in it:
            yield tensor(b)
    return tuple(first.shape), rest(), False


class Normalization(Layer):
    """Feature-wise normalisation ``(x - mean) / sqrt(variance)`` (``invert=True``: the inverse,
    ``mean + x * sqrt(variance)``), the standard deviation floored at 1e-7.

    ``axis`` (default -1) names the axes that keep their own statistics (an int, a tuple, or
    None: one mean and variance for everything); the statistics are computed over every other
    axis.  Give ``mean`` and ``variance`` (broadcast to the kept axes), or call ``adapt(data)``
    on a NumPy array, a Tensor or an iterable of batches (a list of arrays, a generator, an
    ``ember.data`` loader yielding ``x`` or ``(x, y)``): the population (biased) variance, as
    Keras.  After ``adapt`` the weights are ``[mean, variance, count]`` (non-trainable state, as
    Keras' ``get_weights()``; ``count`` stays 0 as Keras'); with ``mean`` / ``variance`` given
    the layer has no weights.
    """
    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        else:
            axis = tuple(int(a) for a in axis)
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: give both mean and variance, or neither (and call "
                             f"adapt(data)); got mean={mean!r}, variance={variance!r}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"Normalization: mean and variance must have one shape, got "
                                 f"{np.shape(mean)} and {np.shape(variance)}")
            if np.ndim(mean) > len(axis):
                raise ValueError(f"Normalization: mean of shape {np.shape(mean)} has more axes than "
                                 f"axis={axis!r} keeps")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self._constants = None           # (mean, variance) broadcastable, when given

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"Normalization: axis={self.axis!r} is out of range for inputs of "
                             f"shape {shape_str(input_shape)}")
        keep = tuple(sorted(a % ndim for a in self.axis))
        if any(input_shape[d] is None for d in keep):
            raise ValueError(f"Normalization: the kept axes {keep} of inputs "
                             f"{shape_str(input_shape)} must have known sizes")
        self._full_shape = input_shape
        self._keep_axis = keep
        self._reduce_axis = tuple(d for d in range(ndim) if d not in keep)
        self._broadcast_shape = tuple(input_shape[d] if d in keep else 1 for d in range(ndim))
        stats_shape = tuple(input_shape[d] for d in keep)
        if self.input_mean is None:
            self.register_buffer("adapt_mean", Tensor.wrap(np.zeros(stats_shape, np.float32)))
            self.register_buffer("adapt_variance", Tensor.wrap(np.ones(stats_shape, np.float32)))
            self.register_buffer("count", Tensor.wrap(np.zeros((), np.float32)))
        else:
            # the given values fill the kept axes from the last one, as Keras'
            expanded = [1] * ndim
            mean = np.asarray(self.input_mean, np.float32)
            for i in range(1, mean.ndim + 1):
                expanded[keep[-i]] = mean.shape[-i]
            self._constants = tuple(
                Tensor.wrap(np.broadcast_to(np.asarray(v, np.float32).reshape(expanded),
                                            self._broadcast_shape).copy())
                for v in (self.input_mean, self.input_variance))
        super().build(input_shape)

    def adapt(self, data):
        """Compute the mean and variance of ``data`` over every axis but ``axis`` (a NumPy array,
        a Tensor or an iterable of batches), as Keras' ``adapt``."""
        if self.input_mean is not None:
            raise ValueError("Normalization.adapt: this layer was given mean and variance; adapt "
                             "is for a layer built without them")
        shape, batches, single = _batches(data, "Normalization")
        if not self.built:
            self.build(shape)
        elif any(d >= len(shape) or shape[d] != self._full_shape[d] for d in self._keep_axis):
            raise ValueError(f"Normalization.adapt: the layer was built for inputs "
                             f"{shape_str(self._full_shape)}, data has shape {shape_str(shape)}")
        # statistics over every axis of the data but the kept ones (the data may have another
        # rank than the model's input when no axis is kept, e.g. axis=None on a 1-D array)
        red = tuple(d for d in range(len(shape)) if d not in self._keep_axis)
        if single:
            x = next(batches)
            mean, var = F.mean(x, axis=red), F.var(x, axis=red)
        else:
            # Keras' running merge of per-batch statistics (Chan et al.)
            mean = var = None
            count = 0
            for x in batches:
                if len(x.shape) != len(shape) or \
                        any(x.shape[d] != shape[d] for d in self._keep_axis):
                    raise ValueError(f"Normalization.adapt: a batch has shape {shape_str(x.shape)}, "
                                     f"expected {shape_str(shape)} on the kept axes")
                b_mean, b_var = F.mean(x, axis=red), F.var(x, axis=red)
                n = int(np.prod([x.shape[d] for d in red])) if red else 1
                count += n
                w = n / count
                if mean is None:
                    mean, var = b_mean, b_var
                    continue
                new_mean = mean * (1.0 - w) + b_mean * w
                var = (var + (mean - new_mean) ** 2) * (1.0 - w) + \
                    (b_var + (b_mean - new_mean) ** 2) * w
                mean = new_mean
        self.adapt_mean.data[...] = mean.data
        self.adapt_variance.data[...] = var.data

    @property
    def mean(self):
        """The mean, shaped to broadcast against the input (Keras' ``layer.mean``)."""
        return self._stats()[0] if self.built else None

    @property
    def variance(self):
        """The variance, shaped to broadcast against the input (Keras' ``layer.variance``)."""
        return self._stats()[1] if self.built else None

    def _stats(self):
        if self._constants is not None:
            return self._constants
        return (F.reshape(self.adapt_mean, self._broadcast_shape),
                F.reshape(self.adapt_variance, self._broadcast_shape))

    def call(self, x):
        x = as_float_input(x)
        mean, var = self._stats()
        std = F.maximum(F.sqrt(var), Tensor.wrap(np.float32(_EPSILON)))
        if self.invert:
            return mean + x * std
        return (x - mean) / std

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(),
                "variance": np.array(self.input_variance).tolist()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("axis") is not None:
            config["axis"] = tuple(config["axis"]) if isinstance(config["axis"], (list, tuple)) \
                else config["axis"]
        return cls(**config)


class Rescaling(Layer):
    """``x * scale + offset`` (e.g. ``Rescaling(1 / 255)``); ``scale`` / ``offset`` may be
    per-channel lists.  Integer inputs are cast to float32."""
    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset

    def call(self, x):
        x = as_float_input(x)
        scale = Tensor.wrap(np.asarray(self.scale, np.float32))
        offset = Tensor.wrap(np.asarray(self.offset, np.float32))
        return x * scale + offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        def plain(v):
            return np.asarray(v).tolist() if not isinstance(v, (int, float)) else v
        return {**super().get_config(), "scale": plain(self.scale), "offset": plain(self.offset)}


# 'area' (which Keras' torch backend rejects) is PyTorch's: adaptive average pooling bins
_RESIZE_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic", "area": "area"}


def _aspect_box(height, width, target_h, target_w):
    """Keras' centred crop box of the target aspect ratio: (h0, w0, crop_h, crop_w)."""
    crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
    crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def _image_batch(layer, x, data_format):
    """(N, H, W, C) float32 Tensor of an image or a batch of them, and whether it was one."""
    x = as_float_input(x)
    if x.ndim not in (3, 4):
        layout = "(H, W, C)" if data_format == "channels_last" else "(C, H, W)"
        raise ValueError(f"{type(layer).__name__} expects images {layout} or a batch of them, got "
                         f"shape {shape_str(x.shape)}")
    single = x.ndim == 3
    if single:
        x = F.expand_dims(x, 0)
    return to_channels_last(x, data_format), single


def _image_out(y, single, data_format):
    y = from_channels_last(y, data_format)
    return F.squeeze(y, 0) if single else y


def _resize(x, height, width, mode="bilinear", crop=False, pad=False, fill_value=0.0, antialias=False):
    """Keras' ``ops.image.resize`` of (N, H, W, C) to (N, height, width, C); ``antialias`` applies
    to 'bilinear' / 'bicubic' only (ignored otherwise, as Keras)."""
    antialias = bool(antialias) and mode in ("bilinear", "bicubic")
    h, w = x.shape[1], x.shape[2]
    if crop:
        h0, w0, ch, cw = _aspect_box(h, w, height, width)
        x = x[:, h0:h0 + ch, w0:w0 + cw, :]
    elif pad:
        ph = max(h, int(float(w * height) / width))
        pw = max(w, int(float(h * width) / height))
        top, left = int(float(ph - h) / 2), int(float(pw - w) / 2)
        if top or left:
            # Keras pads the same amount on both sides (an odd remainder is not filled)
            x = F.pad(x, (0, 0, left, left, top, top), value=float(fill_value))
    if tuple(x.shape[1:3]) == (height, width) and (mode != "bicubic" or antialias):
        return x
    align = False if mode in ("bilinear", "bicubic") else None
    return F.interpolate(x, size=(height, width), mode=_RESIZE_MODES[mode], align_corners=align,
                         antialias=antialias)


def _center_crop(x, height, width):
    """Keras' ``CenterCrop`` of (N, H, W, C): the centred box, or ``smart_resize`` when the image
    is smaller than it."""
    h, w = x.shape[1], x.shape[2]
    if h >= height and w >= width:
        h0, w0 = (h - height) // 2, (w - width) // 2
        return x[:, h0:h0 + height, w0:w0 + width, :]
    return _resize(x, height, width, crop=True)


class Resizing(Layer):
    """Resize images (N, H, W, C) (or one image (H, W, C)) to (N, height, width, C).

    ``interpolation``: 'bilinear' (default), 'nearest', 'bicubic' or 'area' (PyTorch's adaptive
    average pooling; Keras' torch backend has none).  ``antialias=True`` low-pass filters a
    'bilinear' / 'bicubic' shrink (PIL's filters, as ``ops.image.resize``; bicubic then uses
    A = -0.5 also when enlarging) and is ignored for the other modes.  ``crop_to_aspect_ratio``
    first crops the largest centred box of the target aspect ratio; ``pad_to_aspect_ratio`` pads
    (with ``fill_value``) to it instead.  See the module docstring for the numerics."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = positive_int(height, "height", "Resizing")
        self.width = positive_int(width, "width", "Resizing")
        if interpolation not in _RESIZE_MODES:
            extra = (" (lanczos is not supported, as Keras' torch backend; use 'bicubic' with "
                     "antialias=True)" if interpolation in ("lanczos3", "lanczos5") else "")
            raise ValueError(f"Resizing: interpolation must be one of {', '.join(map(repr, _RESIZE_MODES))}"
                             f" (ember), got {interpolation!r}{extra}")
        if fill_mode != "constant":
            raise ValueError(f"Resizing: fill_mode must be 'constant', got {fill_mode!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: give at most one of crop_to_aspect_ratio and "
                             "pad_to_aspect_ratio")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode, self.fill_value = fill_mode, float(fill_value)
        self.antialias = bool(antialias)
        self.data_format = data_format_arg(data_format, "Resizing")

    def call(self, x):
        x, single = _image_batch(self, x, self.data_format)
        y = _resize(x, self.height, self.width, self.interpolation, self.crop_to_aspect_ratio,
                    self.pad_to_aspect_ratio, self.fill_value, self.antialias)
        return _image_out(y, single, self.data_format)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias,
                "data_format": self.data_format}


class CenterCrop(Layer):
    """Crop the centre (height, width) of images (N, H, W, C) (or one image (H, W, C)); an
    image smaller than that is resized to it instead (Keras' ``smart_resize``: crop to the target
    aspect ratio, then bilinear)."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = positive_int(height, "height", "CenterCrop")
        self.width = positive_int(width, "width", "CenterCrop")
        self.data_format = data_format_arg(data_format, "CenterCrop")

    def call(self, x):
        x, single = _image_batch(self, x, self.data_format)
        return _image_out(_center_crop(x, self.height, self.width), single, self.data_format)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "data_format": self.data_format}
