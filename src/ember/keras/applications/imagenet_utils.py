"""Keras' ``keras.applications.imagenet_utils``: ImageNet input preprocessing, decoding of
predictions, and the checks and weight loading every application model shares.

``preprocess_input(x, mode=...)`` follows Keras exactly: ``'caffe'`` (RGB -> BGR, minus the
ImageNet channel means, no scaling), ``'tf'`` (to [-1, 1]) and ``'torch'`` (to [0, 1], then per
channel ``(x - mean) / std``).  A NumPy array is changed in place when it is floating point, as in
Keras; a tensor or a symbolic ``KerasTensor`` goes through ``keras.ops``.
"""
import json
import os
import warnings

import numpy as np

from .. import activations, backend, ops
from ..keras_tensor import KerasTensor
from ..layers import Dense, GlobalAveragePooling2D, GlobalMaxPooling2D, Input
from ..utils import get_file

__all__ = ["preprocess_input", "decode_predictions", "obtain_input_shape", "correct_pad",
           "validate_activation"]

CLASS_INDEX = None
CLASS_INDEX_PATH = ("https://storage.googleapis.com/download.tensorflow.org/"
                    "data/imagenet_class_index.json")
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

_CAFFE_MEAN = (103.939, 116.779, 123.68)          # BGR order
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def preprocess_input(x, data_format=None, mode="caffe"):
    """Preprocess a batch of images (3D or 4D, 3 colour channels, values in [0, 255]).

    Args:
        x: NumPy array (changed in place when floating point, as Keras), ember tensor or
            KerasTensor.
        data_format: ``'channels_last'`` / ``'channels_first'`` (default:
            ``keras.backend.image_data_format()``).
        mode: ``'caffe'`` (default; RGB -> BGR then minus the ImageNet means), ``'tf'`` (scaled
            to [-1, 1]) or ``'torch'`` (scaled to [0, 1], then normalised per channel).
    Returns: the preprocessed images (float32 unless a float NumPy array of another dtype came in).
    """
    if mode not in {"caffe", "tf", "torch"}:
        raise ValueError("preprocess_input: expected mode to be one of `caffe`, `tf` or `torch`. "
                         f"Received: mode={mode}")
    if data_format is None:
        data_format = backend.image_data_format()
    elif data_format not in {"channels_first", "channels_last"}:
        raise ValueError("preprocess_input: expected data_format to be one of `channels_first` or "
                         f"`channels_last`. Received: data_format={data_format}")
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _channel_shape(ndim, data_format):
    """The shape a per-channel constant broadcasts with (the channel axis last or after batch)."""
    if data_format == "channels_first":
        return (3, 1, 1) if ndim == 3 else (1, 3) + (1,) * (ndim - 2)
    return (1,) * (ndim - 1) + (3,)


def _preprocess_numpy(x, data_format, mode):
    # Keras' NumPy path works in place on float arrays (its documented behaviour), so a copy is
    # made only for integer images.
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype(backend.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        axis = (0 if x.ndim == 3 else 1) if data_format == "channels_first" else -1
        x = np.flip(x, axis=axis)            # RGB -> BGR (a view, as Keras' x[..., ::-1])
        mean, std = _CAFFE_MEAN, None
    shape = _channel_shape(x.ndim, data_format)
    x -= np.asarray(mean, x.dtype).reshape(shape)
    if std is not None:
        x /= np.asarray(std, x.dtype).reshape(shape)
    return x


def _preprocess_tensor(x, data_format, mode):
    ndim = len(x.shape)
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        x = x / 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        axis = (0 if ndim == 3 else 1) if data_format == "channels_first" else -1
        x = ops.flip(x, axis=axis)
        mean, std = _CAFFE_MEAN, None
    shape = _channel_shape(ndim, data_format)
    x = x - ops.convert_to_tensor(np.asarray(mean, np.float32).reshape(shape))
    if std is not None:
        x = x / ops.convert_to_tensor(np.asarray(std, np.float32).reshape(shape))
    return x


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each prediction: a list (one per sample) of
    ``(class_name, class_description, score)`` tuples, best first.  ``preds``: ``(samples, 1000)``.
    The class index file is downloaded once (``keras.utils.get_file``, Keras' URL and hash)."""
    global CLASS_INDEX
    preds = np.asarray(preds.numpy() if hasattr(preds, "numpy") else preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("decode_predictions expects a batch of predictions (i.e. a 2D array of "
                         f"shape (samples, 1000)). Received array with shape: {preds.shape}")
    if CLASS_INDEX is None:
        path = _download("imagenet_class_index.json", CLASS_INDEX_PATH, CLASS_INDEX_HASH,
                         "decode_predictions", "the ImageNet class index")
        with open(path) as f:
            CLASS_INDEX = json.load(f)
    results = []
    for pred in preds:
        best = pred.argsort()[-top:][::-1]
        result = [tuple(CLASS_INDEX[str(i)]) + (pred[i],) for i in best]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten,
                       weights=None):
    """Keras' check of an application's ``input_shape`` (one image, no batch axis); returns the
    shape to build with (``None`` sizes allowed without a top)."""
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if data_format == "channels_first" else input_shape[-1]
        if channels not in {1, 3}:
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was "
                          f"passed an input_shape with {channels} input channels.", stacklevel=3)
        default_shape = ((channels, default_size, default_size) if data_format == "channels_first"
                         else (default_size, default_size, channels))
    else:
        default_shape = ((3, default_size, default_size) if data_format == "channels_first"
                         else (default_size, default_size, 3))
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, "
                             f"`input_shape` should be {default_shape}.  Received: "
                             f"input_shape={input_shape}")
        return default_shape
    if input_shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers. Received: "
                             f"input_shape={input_shape}")
        channels, sizes = ((input_shape[0], input_shape[1:]) if data_format == "channels_first"
                           else (input_shape[-1], input_shape[:2]))
        if channels != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
        if any(s is not None and s < min_size for s in sizes):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if data_format == "channels_first" else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static `input_shape`. "
                         f"Received: input_shape={input_shape}")
    return input_shape


def correct_pad(inputs, kernel_size):
    """The ``ZeroPadding2D`` padding before a strided ``valid`` convolution that makes it match
    TensorFlow's ``same`` padding: ``((top, bottom), (left, right))``."""
    axis = 2 if backend.image_data_format() == "channels_first" else 1
    size = inputs.shape[axis:axis + 2]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def validate_activation(classifier_activation, weights):
    """With pretrained weights the top's activation may only be None or softmax (as Keras)."""
    if weights is None:
        return
    fn = activations.get(classifier_activation)
    if fn not in {activations.get("softmax"), activations.get(None)}:
        raise ValueError("Only `None` and `softmax` activations are allowed for the "
                         "`classifier_activation` argument when using pretrained weights, with "
                         f"`include_top=True`; Received: classifier_activation={classifier_activation}")


# -- shared by the application builders ----------------------------------------------------------------
# the arguments of the applications with Keras' common signature
ARGS_DOC = """
    Args:
        include_top: include the classifier (GlobalAveragePooling2D ``avg_pool`` + Dense
            ``predictions``); then the input is 224x224x3 with ImageNet weights.
        weights: None (random init), ``'imagenet'`` (downloaded from Keras' storage), or the path
            of a weights file.
        input_tensor: a KerasTensor to use as the image input.
        input_shape: ``(height, width, channels)``, at least 32x32 (default 224x224x3 with the
            top, (None, None, 3) without).
        pooling: without the top: None (4D output), ``'avg'`` or ``'max'`` (2D output).
        classes: number of classes of the top (1000 with ImageNet weights).
        classifier_activation: the top's activation (None or 'softmax' with pretrained weights).
        name: the model's name.
    Returns: a functional ``keras.Model``."""


def check_weights_arg(weights, include_top, classes):
    """Keras' two argument checks: ``weights`` is None, 'imagenet' or an existing file; an
    ImageNet top has 1000 classes."""
    if not (weights in {"imagenet", None} or
            (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError("The `weights` argument should be either `None` (random initialization), "
                         "'imagenet' (pre-training on ImageNet), or the path to the weights file to "
                         f"be loaded.  Received: weights={weights}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` should "
                         f"be 1000.  Received classes={classes}")


def channels_last_only(name):
    if backend.image_data_format() != "channels_last":
        raise NotImplementedError(f"keras.applications.{name}: ember builds the application models "
                                  "channels-last only. Fix: keras.backend.set_image_data_format("
                                  "'channels_last') and feed (batch, height, width, channels) images")


def weights_rows(rows, cols, sizes):
    """The input size whose ImageNet weights a MobileNet loads: ``rows`` when the input is square
    and one of ``sizes``, else 224 with Keras' warning."""
    if rows == cols and rows in sizes:
        return rows
    warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in "
                  f"[{', '.join(str(n) for n in sizes)}]. Weights for input shape (224, 224) will be "
                  "loaded as the default.", stacklevel=3)
    return 224


def image_input(input_tensor, input_shape, name):
    """The model's image input: a new ``Input(shape=input_shape)`` or ``input_tensor`` (a
    KerasTensor, e.g. the output of ``keras.Input`` or of layers applied to one)."""
    if input_tensor is None:
        return Input(shape=input_shape)
    if not isinstance(input_tensor, KerasTensor):
        raise ValueError(f"keras.applications.{name}: input_tensor must be a Keras tensor (the "
                         f"output of keras.Input or of layers called on one); got "
                         f"{type(input_tensor).__name__}. Fix: pass input_shape= instead, or "
                         "input_tensor=keras.Input(shape=...)")
    return input_tensor


def source_inputs(tensor):
    """The model inputs (``keras.Input`` tensors) ``tensor`` is computed from (Keras'
    ``operation_utils.get_source_inputs``), in the order first met."""
    found, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        node = t.node
        if node is None or getattr(node.operation, "is_input_layer", False) or \
                not node.input_tensors:
            if id(t) not in seen:
                seen.add(id(t))
                found.append(t)
            continue
        stack.extend(reversed(node.input_tensors))
    return found[0] if len(found) == 1 else found


def checked_input_shape(who, weights, include_top, classes, input_shape, default_size=224):
    """The argument checks every application starts with (channels-last data, ``weights`` and
    ``classes``, ``input_shape``); returns the input shape to build with."""
    channels_last_only(who)
    check_weights_arg(weights, include_top, classes)
    return obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                              data_format="channels_last", require_flatten=include_top,
                              weights=weights)


def functional_model(img_input, input_tensor, outputs, name):
    """The ``keras.Model``: from the image input, or from the ``keras.Input`` tensors a given
    ``input_tensor`` is computed from."""
    from ..models import Model
    inputs = img_input if input_tensor is None else source_inputs(input_tensor)
    return Model(inputs, outputs, name=name)


def classifier(x, include_top, pooling, classes, classifier_activation, weights, avg_name=None,
               max_name=None):
    """The usual head: global average pooling + Dense ``predictions`` (``include_top``), else
    ``pooling``."""
    if not include_top:
        return pool(x, pooling, avg_name, max_name)
    x = GlobalAveragePooling2D(name=avg_name)(x)
    validate_activation(classifier_activation, weights)
    return Dense(classes, activation=classifier_activation, name="predictions")(x)


def pool(x, pooling, avg_name=None, max_name=None):
    """``pooling`` for a model without top: None (the 4D feature map), 'avg' or 'max'."""
    if pooling == "avg":
        return GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return GlobalMaxPooling2D(name=max_name)(x)
    return x


def _download(fname, origin, file_hash, who, what):
    try:
        return get_file(fname, origin, cache_subdir="models", file_hash=file_hash)
    except (OSError, ValueError) as err:
        raise OSError(f"{who}: could not download {what} from {origin} ({err}). Fix: connect to "
                      "the internet (the file is cached in ~/.ember/models after one download), "
                      "or copy the file there, or pass weights=None (random initialisation) or "
                      "weights='/path/to/weights.h5' (a local file)") from err


def load_weights(model, weights, fname, origin, file_hash, who):
    """Set ``model``'s weights: downloaded Keras ImageNet weights (``weights='imagenet'``: the
    ``.h5`` file at ``origin``, checked against ``file_hash``), a local file (a path), or none
    (``weights=None``: the layers' random initialisation)."""
    if weights == "imagenet":
        path = _download(fname, origin, file_hash, who, "the ImageNet weights")
        model.load_weights(path)
    elif weights is not None:
        model.load_weights(weights)
    return model
