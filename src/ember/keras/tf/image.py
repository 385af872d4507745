"""``tf.image``: the image functions tutorials use, on ``ember.keras.ops.image``; images are
(H, W, C) or batches (N, H, W, C), as TensorFlow.

``resize`` returns float32 (as TensorFlow) except with ``method='nearest'``, which keeps the
dtype; ``convert_image_dtype`` scales integers to [0, 1] floats (and back), as TensorFlow; the
``random_flip_*`` functions flip each image of a batch independently with probability 1/2.
"""
import numpy as np

from .. import ops
from .. import random as _krandom
from ._base import accept_symbolic, dtype_of, float32, missing_name, t

__all__ = ["resize", "rgb_to_grayscale", "flip_left_right", "flip_up_down",
           "random_flip_left_right", "random_flip_up_down", "convert_image_dtype"]


def resize(images, size, method="bilinear", preserve_aspect_ratio=False, antialias=False,
           name=None):
    """``images`` resized to ``size`` (height, width); ``method`` 'bilinear' (half-pixel
    centres, TensorFlow 2's), 'nearest', 'bicubic' or 'area'."""
    if preserve_aspect_ratio:
        raise NotImplementedError("tf.image.resize: preserve_aspect_ratio=True is not supported by "
                                  "ember; compute the target size yourself")
    x = t(images)
    method = getattr(method, "value", method)
    out = ops.image.resize(x, tuple(int(s) for s in size), interpolation=str(method).lower(),
                           antialias=antialias)
    return out if method == "nearest" else ops.cast(out, float32)


def rgb_to_grayscale(images, name=None):
    """(..., H, W, 3) -> (..., H, W, 1) luminance."""
    return ops.image.rgb_to_grayscale(images)


def flip_left_right(image):
    """``image`` mirrored along its width axis."""
    return ops.flip(image, axis=-2)


def flip_up_down(image):
    """``image`` mirrored along its height axis."""
    return ops.flip(image, axis=-3)


def _random_flip(image, axis, seed):
    x = t(image)
    batch = (x.shape[0],) + (1,) * (x.ndim - 1) if x.ndim == 4 else ()
    flip = ops.less(_krandom.uniform(batch, seed=seed), 0.5)
    return ops.where(flip, ops.flip(x, axis=axis), x)


def random_flip_left_right(image, seed=None):
    """``image`` (or each image of a batch) mirrored left-right with probability 1/2."""
    return _random_flip(image, -2, seed)


def random_flip_up_down(image, seed=None):
    return _random_flip(image, -3, seed)


def convert_image_dtype(image, dtype, saturate=False, name=None):
    """``image`` in ``dtype``: integer -> float divides by the integer type's maximum (so uint8
    becomes [0, 1]); float -> integer multiplies by it (rounded); float -> float casts."""
    x, dt = t(image), dtype_of(dtype)
    if x.dtype == dt:
        return x
    if x.dtype.kind in "iu" and dt.kind == "f":
        return ops.cast(ops.divide(ops.cast(x, dt), float(np.iinfo(x.dtype).max)), dt)
    if x.dtype.kind == "f" and dt.kind in "iu":
        top = float(np.iinfo(dt).max)
        scaled = ops.round(ops.multiply(x, top))
        return ops.cast(ops.clip(scaled, 0.0, top) if saturate else scaled, dt)
    if x.dtype.kind in "iu" and dt.kind in "iu":
        return ops.cast(ops.multiply(ops.cast(x, float32), np.iinfo(dt).max / np.iinfo(x.dtype).max), dt)
    return ops.cast(x, dt)


accept_symbolic(globals(), __all__, skip=())


def __getattr__(name):
    raise missing_name("ember.keras.tf.image", name, __all__,
                       " (augmentation layers: keras.layers.RandomFlip, RandomRotation, ...)")
