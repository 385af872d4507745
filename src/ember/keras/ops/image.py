"""Keras 3's ``keras.ops.image`` (channels-last images (N, H, W, C) or (H, W, C)): ``resize``,
``rgb_to_grayscale``, ``pad_images``, ``crop_images``, ``extract_patches``, computed by
``ember.functional``."""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ..keras_tensor import symbolic
from .core import to_tensor
from .nn import _same

__all__ = ["resize", "rgb_to_grayscale", "rgb_to_hsv", "hsv_to_rgb", "pad_images", "crop_images",
           "extract_patches", "gaussian_blur", "sobel_edges"]

_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic",
          "area": "area"}


def _images(images, where, data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"keras.ops.image.{where}: data_format={data_format!r}; ember is "
                         "channels-last (N, H, W, C): transpose the images instead")
    x = to_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"keras.ops.image.{where}: images must be (H, W, C) or (N, H, W, C), "
                         f"got shape {tuple(x.shape)}")
    return (F.expand_dims(x, 0), True) if x.ndim == 3 else (x, False)


def _out(x, unbatched):
    return F.squeeze(x, 0) if unbatched else x


@symbolic
def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Images resized to ``size`` (height, width) with ``interpolation`` 'bilinear' (half-pixel
    centres), 'nearest', 'bicubic' or 'area' (Keras' torch-backend numerics; 'area', which that
    backend rejects, is PyTorch's: adaptive average pooling).  ``antialias=True`` low-pass filters
    'bilinear' / 'bicubic' as ``interpolate(..., antialias=True)`` (PIL's filters; bicubic uses
    Keys' A = -0.5 also when enlarging) and, as Keras, is ignored for the other modes."""
    if crop_to_aspect_ratio or pad_to_aspect_ratio:
        raise NotImplementedError("keras.ops.image.resize: crop_to_aspect_ratio / "
                                  "pad_to_aspect_ratio are not supported by ember.keras")
    if interpolation in ("lanczos3", "lanczos5"):
        raise ValueError(f"keras.ops.image.resize: interpolation={interpolation!r} is not supported "
                         "(as Keras' torch backend); use 'bicubic' with antialias=True")
    if interpolation not in _MODES:
        raise ValueError(f"keras.ops.image.resize: interpolation={interpolation!r}; expected one "
                         f"of {sorted(_MODES)}")
    x, unbatched = _images(images, "resize", data_format)
    dtype = x.dtype
    if dtype.kind != "f":
        x = F.cast(x, np.float32)
    mode = _MODES[interpolation]
    size = tuple(int(s) for s in size)
    aa = bool(antialias) and mode in ("bilinear", "bicubic")
    out = F.interpolate(x, size=size, mode=mode,
                        align_corners=False if mode in ("bilinear", "bicubic") else None, antialias=aa)
    if dtype.kind != "f":
        if mode == "bicubic" and dtype == np.uint8:
            out = F.clip(out, 0, 255)      # Keras clamps uint8 bicubic (its overshoot) before the cast
        out = F.cast(F.round(out), dtype)
    return _out(out, unbatched)


@symbolic
def rgb_to_grayscale(images, data_format=None):
    """0.2989 R + 0.587 G + 0.114 B, keeping a channel axis of 1."""
    x, unbatched = _images(images, "rgb_to_grayscale", data_format)
    w = np.array([0.2989, 0.587, 0.114], np.float32).reshape(3, 1)
    out = F.matmul(F.cast(x, np.float32), w)
    return _out(F.cast(out, x.dtype) if x.dtype.kind == "f" else out, unbatched)


def _sides(h, w, top, left, bottom, right, th, tw, where):
    if top is None and bottom is None:
        if th is None:
            raise ValueError(f"keras.ops.image.{where}: give top/bottom or target_height")
        top, bottom = (0, th - h) if where == "pad_images" else (0, h - th)
    top = top if top is not None else (th - h - bottom if where == "pad_images" else h - th - bottom)
    bottom = bottom if bottom is not None else (th - h - top if where == "pad_images" else h - th - top)
    if left is None and right is None:
        if tw is None:
            raise ValueError(f"keras.ops.image.{where}: give left/right or target_width")
        left, right = (0, tw - w) if where == "pad_images" else (0, w - tw)
    left = left if left is not None else (tw - w - right if where == "pad_images" else w - tw - right)
    right = right if right is not None else (tw - w - left if where == "pad_images" else w - tw - left)
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"keras.ops.image.{where}: the sizes give a negative border "
                         f"({top}, {bottom}, {left}, {right}) for images {h}x{w}")
    return top, left, bottom, right


@symbolic
def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None,
               right_padding=None, target_height=None, target_width=None, data_format=None):
    """Images zero-padded by the given borders (or to target_height x target_width)."""
    x, unbatched = _images(images, "pad_images", data_format)
    t, l_, b, r = _sides(x.shape[1], x.shape[2], top_padding, left_padding, bottom_padding,
                         right_padding, target_height, target_width, "pad_images")
    return _out(F.pad(x, ((0, 0), (t, b), (l_, r), (0, 0))), unbatched)


@symbolic
def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None,
                right_cropping=None, target_height=None, target_width=None, data_format=None):
    """Images with the given borders cut off (or cropped to target_height x target_width)."""
    x, unbatched = _images(images, "crop_images", data_format)
    h, w = x.shape[1], x.shape[2]
    t, l_, b, r = _sides(h, w, top_cropping, left_cropping, bottom_cropping, right_cropping,
                         target_height, target_width, "crop_images")
    return _out(x[:, t:h - b, l_:w - r, :], unbatched)


@symbolic
def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid",
                    data_format=None):
    """Non-overlapping (or ``strides``-spaced) ``size`` patches: (N, H, W, C) ->
    (N, H', W', ph * pw * C), each patch flattened row-major (h, w, c)."""
    x, unbatched = _images(images, "extract_patches", data_format)
    ph, pw = (size, size) if isinstance(size, int) else tuple(size)
    sh, sw = (ph, pw) if strides is None else ((strides,) * 2 if isinstance(strides, int)
                                               else tuple(strides))
    d = (dilation_rate,) * 2 if isinstance(dilation_rate, int) else tuple(dilation_rate)
    x = _same(x, (ph, pw), (sh, sw), d, padding, "image.extract_patches")
    c = x.shape[-1]
    eye = np.eye(ph * pw * c, dtype=x.dtype).reshape(ph, pw, c, ph * pw * c)
    out = F.conv2d(x, Tensor.wrap(eye), None, (sh, sw), 0, d)
    return _out(out, unbatched)


def _float_images(images, where, data_format):
    x, unbatched = _images(images, where, data_format)
    if x.dtype.kind != "f":
        raise ValueError(f"keras.ops.image.{where}: images must have a float dtype, got {x.dtype}")
    if x.shape[-1] != 3:
        raise ValueError(f"keras.ops.image.{where}: images must have 3 channels (last axis), got "
                         f"shape {tuple(x.shape)}")
    return x, unbatched


def _planes(x):
    return [x[..., i] for i in range(3)]


def _scalar(v, dtype):
    return Tensor.wrap(np.array(v, dtype))


@symbolic
def rgb_to_hsv(images, data_format=None):
    """RGB images (values in [0, 1]) to HSV (hue, saturation, value each in [0, 1]), Keras'
    formulas."""
    x, unbatched = _float_images(images, "rgb_to_hsv", data_format)
    dt = x.dtype
    x = F.where(F.less(F.abs(x), np.finfo(dt).eps), _scalar(0, dt), x)
    r, g, b = _planes(x)
    value = F.maximum(F.maximum(r, g), b)
    rng = F.subtract(value, F.minimum(F.minimum(r, g), b))
    safe_value = F.where(F.greater(value, 0), value, _scalar(1, dt))
    safe_range = F.where(F.greater(rng, 0), rng, _scalar(1, dt))
    saturation = F.where(F.greater(value, 0), F.divide(rng, safe_value), _scalar(0, dt))
    norm = F.divide(1.0, F.multiply(safe_range, 6.0))
    hue = F.where(F.equal(value, g), F.add(F.multiply(norm, F.subtract(b, r)), 2.0 / 6.0),
                  F.add(F.multiply(norm, F.subtract(r, g)), 4.0 / 6.0))
    hue = F.where(F.equal(value, r), F.multiply(norm, F.subtract(g, b)), hue)
    hue = F.add(F.where(F.greater(rng, 0), hue, _scalar(0, dt)), F.cast(F.less(hue, 0), dt))
    return _out(F.stack([hue, saturation, value], -1), unbatched)


@symbolic
def hsv_to_rgb(images, data_format=None):
    """HSV images (each channel in [0, 1]) to RGB, Keras' formulas."""
    x, unbatched = _float_images(images, "hsv_to_rgb", data_format)
    hue, saturation, value = _planes(x)
    dh = F.multiply(F.remainder(hue, 1.0), 6.0)
    dr = F.clip(F.subtract(F.abs(F.subtract(dh, 3.0)), 1.0), 0.0, 1.0)
    dg = F.clip(F.subtract(2.0, F.abs(F.subtract(dh, 2.0))), 0.0, 1.0)
    db = F.clip(F.subtract(2.0, F.abs(F.subtract(dh, 4.0))), 0.0, 1.0)
    keep = F.subtract(1.0, saturation)
    rgb = [F.multiply(value, F.add(keep, F.multiply(saturation, d))) for d in (dr, dg, db)]
    return _out(F.stack(rgb, -1), unbatched)


def _depthwise(x, kernel2d, pad):
    """Each channel of x convolved with the same 2-D ``kernel2d``, zero padding ``pad``."""
    c = x.shape[-1]
    k = np.repeat(kernel2d.astype(x.dtype)[:, :, None, None], c, axis=3)
    return F.conv2d(x, Tensor.wrap(k), None, 1, pad, 1, c)


@symbolic
def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Images blurred channel by channel with a normalised Gaussian of ``kernel_size`` and
    ``sigma`` (zero padding kernel_size // 2: the size is kept for odd kernels)."""
    x, unbatched = _images(images, "gaussian_blur", data_format)
    if x.dtype.kind != "f":
        x = F.cast(x, np.float32)
    ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    sg = (sigma, sigma) if isinstance(sigma, (int, float)) else tuple(sigma)

    def g1(n, s):
        t = np.exp(-0.5 * ((np.arange(n) - (n - 1) / 2) / s) ** 2)
        return t / t.sum()
    # Keras' kernel: outer(g(ks[1]), g(ks[0])) laid out as (ks[0], ks[1])
    kernel = np.outer(g1(ks[1], sg[1]), g1(ks[0], sg[0])).reshape(ks[0], ks[1])
    return _out(_depthwise(x, kernel, (ks[0] // 2, ks[0] // 2)), unbatched)


@symbolic
def sobel_edges(images, data_format=None):
    """The Sobel gradients of each channel: (N, H, W, C) -> (N, H, W, C, 2), (dy, dx) on the
    last axis (zero padding)."""
    x, unbatched = _images(images, "sobel_edges", data_format)
    if x.dtype.kind != "f":
        x = F.cast(x, np.float32)
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float64)
    out = F.stack([_depthwise(x, sx.T, 1), _depthwise(x, sx, 1)], -1)
    return _out(out, unbatched)
