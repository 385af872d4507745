"""Batch transforms: normalisation, one-hot labels and vectorised, seeded image augmentation.

Everything works on whole batches of NumPy arrays (an ember Tensor in gives a Tensor out, not
recorded for autograd: this is data preparation).  Images are channels-last, ``(N, H, W, C)``, or
``(N, H, W)`` without a channel axis.  Augmentations draw one random parameter per image and
apply them all with fancy indexing: no Python loop over images or pixels.

Random transforms take ``seed`` (an int, None to draw one from ember's global generator, or a
``numpy.random.Generator``).  With an int seed, ``set_epoch(e)`` restarts the random stream at
``(seed, e)``; the DataLoader calls it each epoch, so augmentation is reproducible per epoch.
"""
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ops.arguments import int_tuple
from ..tensor import Tensor
from .sampler import as_generator, generator_for

__all__ = ["normalize", "Normalize", "Standardize", "to_categorical", "Rescale", "crop",
           "shift", "horizontal_flip", "RandomCrop", "RandomHorizontalFlip", "RandomShift",
           "Compose"]


def _unwrap(x, owner):
    if isinstance(x, Tensor):
        return x.data, True
    if isinstance(x, np.ndarray):
        return x, False
    try:
        return np.asarray(x), False
    except (ValueError, TypeError) as e:
        raise TypeError(f"{owner}: cannot convert {type(x).__name__} to an array: {e}") from None


def _rewrap(array, was_tensor):
    return Tensor.wrap(array) if was_tensor else array


def _as_float(array):
    return array if array.dtype.kind == "f" and array.dtype != np.float64 else array.astype(np.float32)


def _check_numeric(array, owner):
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: expected numbers, got an array of dtype {array.dtype}")


# -- normalisation ------------------------------------------------------------------------------
def _channel_stats(value, name, x, owner):
    stats = np.asarray(value, dtype=np.float32)
    if stats.ndim > 1 or (stats.ndim == 1 and x.ndim and stats.shape[0] not in (1, x.shape[-1])):
        raise ValueError(f"{owner}: {name} must be a number or one value per channel (last axis of "
                         f"length {x.shape[-1] if x.ndim else 0}), got shape {stats.shape}")
    return stats


def normalize(x, mean, std):
    """``(x - mean) / std`` as float32; ``mean`` and ``std`` are numbers or one value per channel
    (the last axis).  Integer input (e.g. uint8 images) is converted to float32 first."""
    array, was_tensor = _unwrap(x, "normalize")
    _check_numeric(array, "normalize")
    mean = _channel_stats(mean, "mean", array, "normalize")
    std = _channel_stats(std, "std", array, "normalize")
    if np.any(std <= 0):
        raise ValueError(f"normalize: std must be > 0, got {std.tolist()}")
    out = _as_float(array) - mean
    out /= std
    return _rewrap(out.astype(np.float32, copy=False), was_tensor)


class Normalize:
    """``Normalize(mean, std)(x) == normalize(x, mean, std)``."""

    def __init__(self, mean, std):
        self.mean, self.std = mean, std
        if np.any(np.asarray(std, dtype=np.float64) <= 0):
            raise ValueError(f"Normalize: std must be > 0, got {std!r}")

    def __call__(self, x):
        return normalize(x, self.mean, self.std)

    def __repr__(self):
        return f"Normalize(mean={self.mean!r}, std={self.std!r})"


class Rescale:
    """``x * scale + offset`` as float32 (e.g. ``Rescale(1 / 255)`` for uint8 images)."""

    def __init__(self, scale, offset=0.0):
        self.scale, self.offset = float(scale), float(offset)

    def __call__(self, x):
        array, was_tensor = _unwrap(x, "Rescale")
        _check_numeric(array, "Rescale")
        out = array.astype(np.float32) * np.float32(self.scale)
        if self.offset:
            out += np.float32(self.offset)
        return _rewrap(out, was_tensor)


class Standardize:
    """Per-feature standardisation fitted on training data, as scikit-learn's ``StandardScaler``.

    ``fit(x_train)`` learns the mean and (population) standard deviation over ``axis`` (default 0,
    the samples: every other position is a feature; ``axis=(0, 1, 2)`` on (N, H, W, C) images gives
    per-channel statistics); ``transform(x)`` returns ``(x - mean_) / scale_`` as float32.  Features
    with zero variance get ``scale_ = 1``, as scikit-learn does.  Statistics are accumulated in
    float64.
    """

    def __init__(self, axis=0):
        self.axis = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
        self.mean_ = None
        self.scale_ = None

    def _axes(self, array, owner):
        if array.ndim == 0 or any(not -array.ndim <= a < array.ndim for a in self.axis):
            raise ValueError(f"{owner}: axis={self.axis} does not fit an array of shape {array.shape}")
        return tuple(sorted({a % array.ndim for a in self.axis}))

    def fit(self, x):
        """Learn ``mean_`` and ``scale_`` from ``x``; returns self."""
        array, _ = _unwrap(x, "Standardize.fit")
        _check_numeric(array, "Standardize.fit")
        axes = self._axes(array, "Standardize.fit")
        if any(array.shape[a] == 0 for a in axes):
            raise ValueError(f"Standardize.fit: no samples to fit on (shape {array.shape})")
        mean = array.mean(axis=axes, dtype=np.float64, keepdims=True)
        std = np.sqrt(((array - mean) ** 2).mean(axis=axes, keepdims=True))
        std[std == 0] = 1.0
        self._axes_fitted = axes
        self._feature_shape = tuple(d for i, d in enumerate(array.shape) if i not in axes)
        self._mean = mean
        self._scale = std
        self.mean_ = np.squeeze(mean, axis=axes).astype(np.float32)
        self.scale_ = np.squeeze(std, axis=axes).astype(np.float32)
        return self

    def _check(self, array, owner):
        if self.mean_ is None:
            raise RuntimeError(f"{owner}: call fit(x_train) (or fit_transform) before transform")
        if array.ndim != len(self._axes_fitted) + len(self._feature_shape):
            fitted_ndim = len(self._axes_fitted) + len(self._feature_shape)
            raise ValueError(f"{owner}: fitted on arrays with {fitted_ndim} dims but got shape "
                             f"{array.shape}")
        shape = tuple(d for i, d in enumerate(array.shape) if i not in self._axes_fitted)
        if shape != self._feature_shape:
            raise ValueError(f"{owner}: fitted on features of shape {self._feature_shape}, got an "
                             f"array of shape {array.shape} (features {shape})")

    def transform(self, x):
        """``(x - mean_) / scale_`` as float32."""
        array, was_tensor = _unwrap(x, "Standardize.transform")
        _check_numeric(array, "Standardize.transform")
        self._check(array, "Standardize.transform")
        out = (array - self._mean) / self._scale
        return _rewrap(out.astype(np.float32), was_tensor)

    __call__ = transform

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def inverse_transform(self, x):
        """``x * scale_ + mean_``: undoes ``transform``."""
        array, was_tensor = _unwrap(x, "Standardize.inverse_transform")
        self._check(array, "Standardize.inverse_transform")
        return _rewrap((array * self._scale + self._mean).astype(np.float32), was_tensor)


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer class labels, with Keras' semantics.

    ``y`` of shape ``S`` gives shape ``S + (num_classes,)``; a trailing axis of length 1 is
    dropped first (labels (N, 1) give (N, num_classes)).  ``num_classes`` defaults to
    ``max(y) + 1``.  Labels must be integers in ``[0, num_classes)`` (float arrays holding whole
    numbers are accepted).
    """
    labels, _ = _unwrap(y, "to_categorical")
    _check_numeric(labels, "to_categorical")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.floor(labels)):
            raise ValueError("to_categorical: y must hold integer class labels, got non-integer "
                             "floats; if y is already one-hot, use it as it is")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if not num_classes:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    num_classes = int(num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}) for "
                         f"num_classes={num_classes}, got values from {labels.min()} to "
                         f"{labels.max()}; raise num_classes or fix the labels")
    out = np.zeros((labels.size, num_classes), dtype=np.dtype(dtype))
    out[np.arange(labels.size), labels] = 1
    return out.reshape(shape + (num_classes,))


# -- deterministic image operations (the random transforms draw parameters and call these) -----
def _check_images(array, owner):
    if array.ndim not in (3, 4):
        raise ValueError(f"{owner}: expected a batch of images (N, H, W, C) or (N, H, W), got "
                         f"shape {array.shape}; add a batch axis for a single image (x[None])")


def crop(x, top, left, size, padding=0, fill=0):
    """Crop window ``size = (h, w)`` at per-image offsets from a batch padded by ``padding``.

    ``top`` and ``left`` are int arrays of length N (or ints) indexing the padded image; the
    result has shape (N, h, w, ...), the input's dtype.  One fancy index, no loop.
    """
    array, was_tensor = _unwrap(x, "crop")
    _check_images(array, "crop")
    h, w = int_tuple(size, 2, "size", "crop", minimum=0)
    pad_h, pad_w = int_tuple(padding, 2, "padding", "crop", minimum=0)
    if pad_h or pad_w:
        widths = ((0, 0), (pad_h, pad_h), (pad_w, pad_w)) + ((0, 0),) * (array.ndim - 3)
        array = np.pad(array, widths, constant_values=fill)
    n, height, width = array.shape[:3]
    top = np.broadcast_to(np.asarray(top, dtype=np.int64), (n,))
    left = np.broadcast_to(np.asarray(left, dtype=np.int64), (n,))
    if n and (top.min() < 0 or left.min() < 0 or top.max() + h > height or left.max() + w > width):
        raise ValueError(f"crop: window {h}x{w} at the given offsets falls outside the padded "
                         f"{height}x{width} images")
    # A strided view of every h x w window (no copy), then one fancy index picks each image's
    # window: NumPy copies whole (h, w, C) blocks, several times faster than indexing by pixel.
    windows = sliding_window_view(array, (h, w), axis=(1, 2))    # (N, H-h+1, W-w+1, [C,] h, w)
    out = windows[np.arange(n), top, left]                          # (N, [C,] h, w)
    if out.ndim == 4:
        out = np.ascontiguousarray(np.moveaxis(out, 1, -1))          # back to channels-last
    return _rewrap(out, was_tensor)


def shift(x, dx, dy, fill=0):
    """Translate each image by whole pixels: ``dx`` to the right, ``dy`` down (negative: left/up),
    per image (arrays of length N) or for all (ints); uncovered pixels get ``fill``."""
    array, was_tensor = _unwrap(x, "shift")
    _check_images(array, "shift")
    n, height, width = array.shape[:3]
    dx = np.broadcast_to(np.asarray(dx, dtype=np.int64), (n,))
    dy = np.broadcast_to(np.asarray(dy, dtype=np.int64), (n,))
    pad_w = int(np.abs(dx).max()) if n else 0
    pad_h = int(np.abs(dy).max()) if n else 0
    # out[y, x] = in[y - dy, x - dx] = padded[y - dy + pad_h, x - dx + pad_w]
    out = crop(array, pad_h - dy, pad_w - dx, (height, width), (pad_h, pad_w), fill)
    return _rewrap(out, was_tensor)


def _whole_pixels(array):
    """(N, H, W, C) seen as (N, H, W) items of C values (``numpy.void``), so that moving pixels
    copies C values at a time: 2-4x faster flips than letting NumPy move single values."""
    n, h, w, c = array.shape
    items = np.ascontiguousarray(array).reshape(n, h, w * c)
    return items.view(np.dtype((np.void, c * array.itemsize)))


def horizontal_flip(x, mask=None):
    """Mirror images left-right (the width axis); only those where ``mask`` is True if given."""
    array, was_tensor = _unwrap(x, "horizontal_flip")
    _check_images(array, "horizontal_flip")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != array.shape[:1]:
            raise ValueError(f"horizontal_flip: mask must have shape ({array.shape[0]},), got {mask.shape}")
    items = _whole_pixels(array) if array.ndim == 4 and array.shape[3] > 1 else array
    if mask is None:
        out = items[:, :, ::-1].copy()
    else:
        chosen = np.flatnonzero(mask)
        out = items.copy()
        out[chosen] = items[chosen, :, ::-1]
    if out is not items and out.dtype != array.dtype:
        out = out.view(array.dtype).reshape(array.shape)
    return _rewrap(out, was_tensor)


# -- random augmentation -------------------------------------------------------------------------
class _RandomTransform:
    def __init__(self, seed):
        rng, self.seed = as_generator(seed, type(self).__name__)
        self._rng = generator_for(self.seed, 0) if self.seed is not None else rng

    def set_epoch(self, epoch):
        """Restart the random stream at ``(seed, epoch)`` (no effect when built from a Generator)."""
        if self.seed is not None:
            self._rng = generator_for(self.seed, epoch)


class RandomCrop(_RandomTransform):
    """Pad each image by ``padding`` pixels (with ``fill``) and crop a random ``size`` window.

    ``size``: int or (h, w); ``padding``: int or (pad_h, pad_w) on each side.  The classic CIFAR
    augmentation is ``RandomCrop(32, padding=4)``.  Keeps the dtype.
    """

    def __init__(self, size, padding=0, fill=0, seed=None):
        self.size = int_tuple(size, 2, "size", "RandomCrop", minimum=0)
        self.padding = int_tuple(padding, 2, "padding", "RandomCrop", minimum=0)
        self.fill = fill
        super().__init__(seed)

    def __call__(self, x):
        array, was_tensor = _unwrap(x, "RandomCrop")
        _check_images(array, "RandomCrop")
        n = array.shape[0]
        room_h = array.shape[1] + 2 * self.padding[0] - self.size[0]
        room_w = array.shape[2] + 2 * self.padding[1] - self.size[1]
        if room_h < 0 or room_w < 0:
            raise ValueError(f"RandomCrop: size {self.size} is larger than the padded images "
                             f"({array.shape[1]}x{array.shape[2]} + padding {self.padding})")
        top = self._rng.integers(0, room_h + 1, size=n)
        left = self._rng.integers(0, room_w + 1, size=n)
        return _rewrap(crop(array, top, left, self.size, self.padding, self.fill), was_tensor)


class RandomHorizontalFlip(_RandomTransform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p=0.5, seed=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must lie in [0, 1], got {p}")
        self.p = float(p)
        super().__init__(seed)

    def __call__(self, x):
        array, was_tensor = _unwrap(x, "RandomHorizontalFlip")
        _check_images(array, "RandomHorizontalFlip")
        mask = self._rng.random(array.shape[0]) < self.p
        return _rewrap(horizontal_flip(array, mask), was_tensor)


def _max_pixels(value, extent, name):
    if isinstance(value, numbers.Integral):
        pixels = int(value)
    elif isinstance(value, numbers.Real) and 0 <= value < 1:
        pixels = int(round(value * extent))   # a fraction of the image size, as Keras' *_shift_range
    else:
        raise ValueError(f"RandomShift: {name} must be an int number of pixels or a fraction in "
                         f"[0, 1) of the image size, got {value!r}")
    if pixels < 0:
        raise ValueError(f"RandomShift: {name} must be >= 0, got {value!r}")
    return pixels


class RandomShift(_RandomTransform):
    """Translate each image by a random whole number of pixels in ``[-max_dx, max_dx]`` across and
    ``[-max_dy, max_dy]`` down; ints are pixels, floats in [0, 1) fractions of the width/height.
    Uncovered pixels get ``fill``.  Keeps the dtype."""

    def __init__(self, max_dx, max_dy, fill=0, seed=None):
        for name, value in (("max_dx", max_dx), ("max_dy", max_dy)):
            _max_pixels(value, 1, name)   # validate early
        self.max_dx, self.max_dy, self.fill = max_dx, max_dy, fill
        super().__init__(seed)

    def __call__(self, x):
        array, was_tensor = _unwrap(x, "RandomShift")
        _check_images(array, "RandomShift")
        n, height, width = array.shape[:3]
        mx = _max_pixels(self.max_dx, width, "max_dx")
        my = _max_pixels(self.max_dy, height, "max_dy")
        dx = self._rng.integers(-mx, mx + 1, size=n)
        dy = self._rng.integers(-my, my + 1, size=n)
        return _rewrap(shift(array, dx, dy, self.fill), was_tensor)


class Compose:
    """Apply transforms in order: ``Compose([RandomCrop(28, 2), Rescale(1 / 255)])``.
    ``set_epoch`` is passed on to every transform that has one."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def set_epoch(self, epoch):
        for t in self.transforms:
            if hasattr(t, "set_epoch"):
                t.set_epoch(epoch)

    def __repr__(self):
        return f"Compose({self.transforms!r})"
