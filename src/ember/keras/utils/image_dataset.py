"""``keras.utils.image_dataset_from_directory``: a ``tf.data`` Dataset of image batches read from
a folder tree (one subfolder per class), as Keras.

Files are listed, labelled, shuffled and split as Keras does (``dataset_utils``); each batch's
files are decoded with Pillow only when the batch is read, converted to ``color_mode`` (Keras'
Pillow conversions: 'L', 'RGB', 'RGBA') and resized to ``image_size`` with ember's resampling
(``keras.ops.image.resize``'s numerics: half-pixel bilinear without antialiasing, TensorFlow's
``tf.image.resize``).  Images of the same size are resized together, one call per size.
"""
import numpy as np

from ...tensor import Tensor
from ..backend import image_data_format
from ..layers.preprocessing import _RESIZE_MODES, _resize
from . import dataset_utils

__all__ = ["image_dataset_from_directory", "load_image", "ALLOWLIST_FORMATS"]

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_KERAS_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5",
                         "gaussian", "mitchellcubic")
_CHANNELS = {"rgb": 3, "rgba": 4, "grayscale": 1}
_FN = "image_dataset_from_directory"


def _pillow():
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(f"{_FN} needs Pillow to decode images: pip install Pillow") from error
    return Image


def load_image(path, num_channels):
    """One image file as a float32 (H, W, num_channels) array of 0..255 values (Keras' Pillow
    decoding: animated GIFs give their first frame)."""
    image = _pillow().open(path)
    if num_channels == 1:
        if image.mode not in ("L", "I;16", "I"):
            image = image.convert("L")
    elif num_channels == 4:
        if image.mode != "RGBA":
            image = image.convert("RGBA")
    elif image.mode != "RGB":
        image = image.convert("RGB")
    array = np.asarray(image, dtype=np.float32)
    return array[..., None] if array.ndim == 2 else array


def _resize_batch(images, size, interpolation, crop, pad):
    """``images`` (a list of (h, w, c) arrays) resized to ``size``: one (N, H, W, C) float32
    array; images of equal size go through one resize call."""
    out = np.empty((len(images),) + tuple(size) + (images[0].shape[-1],), np.float32)
    shapes = {}
    for i, image in enumerate(images):
        shapes.setdefault(image.shape, []).append(i)
    for shape, where in shapes.items():
        stack = Tensor.wrap(np.stack([images[i] for i in where]))
        resized = _resize(stack, size[0], size[1], interpolation, crop, pad)
        out[where] = resized.data if isinstance(resized, Tensor) else np.asarray(resized)
    return out


def _loader(image_size, num_channels, interpolation, crop, pad, data_format):
    """The function that decodes one batch of paths (or one path) into images."""
    def load(paths):
        single = paths.ndim == 0
        paths = paths.reshape(-1)
        images = _resize_batch([load_image(str(p), num_channels) for p in paths], image_size,
                               interpolation, crop, pad)
        if data_format == "channels_first":
            images = images.transpose(0, 3, 1, 2)
        return images[0] if single else images
    return load


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256),
                                 shuffle=True, seed=None, validation_split=None, subset=None,
                                 interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                                 data_format=None, verbose=True, format="tf"):
    """A ``tf.data`` Dataset of ``(images, labels)`` batches from the image files under
    ``directory`` (Keras' ``keras.utils.image_dataset_from_directory``; .bmp .gif .jpeg .jpg .png).

    Args:
        directory: with ``labels='inferred'``, one subfolder per class (sorted names give the
            class indices); otherwise the folder structure is ignored.
        labels: 'inferred', None (images only), or a list of integer labels, one per file in
            sorted path order.
        label_mode: 'int' (int32 (N,)), 'categorical' (float32 one-hot (N, classes)), 'binary'
            (float32 (N, 1), exactly two classes) or None (images only).
        class_names: the class folders to use, in this order (default: all, sorted).
        color_mode: 'rgb' (3 channels), 'rgba' (4) or 'grayscale' (1).
        batch_size: images per batch (default 32); None yields single images.
        image_size: ``(height, width)`` the images are resized to (default (256, 256)).
        shuffle / seed: shuffle the files (seeded, as Keras) and each epoch's order (default
            True); with ``validation_split`` a seed is required.
        validation_split / subset: the last ``int(validation_split * n)`` files (of the shuffled
            list) are the validation subset; ``subset``: 'training', 'validation' or 'both'
            (a ``(train, validation)`` pair).
        interpolation: 'bilinear' (default), 'nearest' or 'bicubic'.
        crop_to_aspect_ratio / pad_to_aspect_ratio: keep the aspect ratio by cropping the
            largest centred box (or padding with zeros) before resizing.
        data_format: 'channels_last' (N, H, W, C; ember's default) or 'channels_first'.
        verbose: print how many files and classes were found.

    Returns a Dataset yielding float32 images (0..255) and labels, with ``.class_names`` and
    ``.file_paths``; images are decoded batch by batch as the dataset is read."""
    labels, label_mode = dataset_utils.check_label_args(_FN, labels, label_mode, class_names,
                                                        "image")
    if color_mode not in _CHANNELS:
        raise ValueError(f"{_FN}: color_mode must be 'rgb', 'rgba' or 'grayscale', got "
                         f"{color_mode!r}")
    num_channels = _CHANNELS[color_mode]
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (int(image_size), int(image_size))
    if not isinstance(image_size, (list, tuple)) or len(image_size) != 2 or not all(
            isinstance(s, (int, np.integer)) and s > 0 for s in image_size):
        raise ValueError(f"{_FN}: image_size must be (height, width), two positive ints, got "
                         f"{image_size!r}")
    image_size = tuple(int(s) for s in image_size)
    interpolation = str(interpolation).lower()
    if interpolation not in _KERAS_INTERPOLATIONS:
        raise ValueError(f"{_FN}: interpolation must be one of {_KERAS_INTERPOLATIONS}, got "
                         f"{interpolation!r}")
    if interpolation not in _RESIZE_MODES:
        raise NotImplementedError(f"{_FN}: interpolation={interpolation!r} is not supported by "
                                  f"ember; use one of {tuple(_RESIZE_MODES)}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(f"{_FN}: give at most one of crop_to_aspect_ratio and "
                         "pad_to_aspect_ratio")
    if format != "tf":
        raise ValueError(f"{_FN}: ember returns tf.data datasets only (format='tf'), got "
                         f"format={format!r}")
    data_format = data_format or image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{_FN}: data_format must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    _check_batch_size(batch_size)
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed, _FN)
    if seed is None:
        seed = np.random.randint(1e6)
    paths, labels, class_names = dataset_utils.index_directory(
        _FN, directory, labels, ALLOWLIST_FORMATS, class_names=class_names, shuffle=shuffle,
        seed=seed, follow_links=follow_links, verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"{_FN}: label_mode='binary' needs exactly 2 classes, got "
                         f"class_names={class_names}")
    if labels is not None:
        labels = dataset_utils.encode_labels(labels, label_mode, len(class_names))
    _pillow()
    load = _loader(image_size, num_channels, interpolation, bool(crop_to_aspect_ratio),
                   bool(pad_to_aspect_ratio), data_format)

    return dataset_utils.directory_datasets(
        _FN, directory, f"images (allowed formats: {', '.join(ALLOWLIST_FORMATS)})", paths,
        labels, class_names, load, batch_size, shuffle, seed, validation_split, subset, verbose)


def _check_batch_size(batch_size):
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"{_FN}: batch_size must be a positive int or None, got {batch_size!r}")
