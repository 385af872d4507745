"""Image utilities (Keras' ``keras.utils``): ``array_to_img``, ``img_to_array``, ``load_img``,
``save_img``.  They need Pillow (``pip install Pillow``, or ember's ``image`` extra), imported when
first used; arrays are channels-last ``(height, width, channels)`` unless
``data_format='channels_first'``.
"""
import io
import pathlib

import numpy as np

from .. import backend

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil(function):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"keras.utils.{function} needs Pillow, which is not installed: "
                          "pip install Pillow (or pip install 'ember[image]')") from None
    return Image


def _data_format(data_format, function):
    data_format = backend.image_data_format() if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"keras.utils.{function}: data_format={data_format!r}; expected "
                         "'channels_last' or 'channels_first'")
    return data_format


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A PIL image from a rank-3 array ``(H, W, C)`` (or ``(C, H, W)`` channels-first) with
    1 (grayscale), 3 (RGB) or 4 (RGBA) channels.  ``scale`` maps the array's [min, max] to
    [0, 255] first; ``dtype`` (default float32) is the working dtype."""
    image = _pil("array_to_img")
    data_format = _data_format(data_format, "array_to_img")
    x = np.array(x, dtype=dtype or backend.floatx())
    if x.ndim != 3:
        raise ValueError(f"keras.utils.array_to_img: expected one image of rank 3 "
                         f"(height, width, channels), got shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x /= top
        x *= 255
    channels = x.shape[2]
    if channels in (3, 4):
        return image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if np.max(x) > 255:          # wider than 8 bits: PIL's 32-bit integer grayscale
            return image.fromarray(x[:, :, 0].astype("int32"), "I")
        return image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"keras.utils.array_to_img: {channels} channels (shape {x.shape}); "
                     "expected 1, 3 or 4")


def img_to_array(img, data_format=None, dtype=None):
    """The PIL image (or array-like) ``img`` as a rank-3 array ``(H, W, C)`` (``(C, H, W)``
    channels-first) of ``dtype`` (default float32); grayscale images get one channel."""
    data_format = _data_format(data_format, "img_to_array")
    x = np.asarray(img, dtype=dtype or backend.floatx())
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"keras.utils.img_to_array: unsupported image shape {x.shape}; expected "
                         "(height, width) or (height, width, channels)")
    return x.transpose(2, 0, 1) if data_format == "channels_first" else x


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save the array ``x`` (see :func:`array_to_img`) as an image file; the format comes from
    ``file_format`` or ``path``'s extension (RGBA is converted to RGB for JPEG)."""
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower() or None
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Load an image file as a PIL image.

    Args:
        path: a path or a ``BytesIO``.
        color_mode: ``'rgb'``, ``'rgba'`` or ``'grayscale'`` (8-, 16- and 32-bit grayscale files
            stay as they are; others become 8-bit).
        target_size: ``(height, width)`` to resize to, or None.
        interpolation: the resampling filter: one of ``INTERPOLATIONS``.
        keep_aspect_ratio: crop the centre to the target's aspect ratio before resizing.
    """
    image = _pil("load_img")
    if color_mode not in ("grayscale", "rgb", "rgba"):
        raise ValueError(f"keras.utils.load_img: color_mode={color_mode!r}; expected "
                         "'grayscale', 'rgb' or 'rgba'")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"keras.utils.load_img: interpolation={interpolation!r}; expected one "
                         f"of {', '.join(INTERPOLATIONS)}")
    if isinstance(path, io.BytesIO):
        img = image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        with open(path, "rb") as f:
            img = image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"keras.utils.load_img: path must be a path or io.BytesIO, not "
                        f"{type(path).__name__}")
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif img.mode != color_mode.upper():
        img = img.convert(color_mode.upper())
    if target_size is not None:
        size = (target_size[1], target_size[0])      # PIL sizes are (width, height)
        if img.size != size:
            resample = getattr(image.Resampling, interpolation.upper())
            box = None
            if keep_aspect_ratio:
                width, height = img.size
                crop_height = min(height, (width * size[1]) // size[0])
                crop_width = min(width, (height * size[0]) // size[1])
                top, left = (height - crop_height) // 2, (width - crop_width) // 2
                box = [left, top, left + crop_width, top + crop_height]
            img = img.resize(size, resample, box=box)
    return img
