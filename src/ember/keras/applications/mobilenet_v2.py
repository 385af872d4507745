"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR
2018), as ``keras.applications.MobileNetV2``: same layer names (``Conv1``, ``block_1_expand``,
``expanded_conv_depthwise``, ...), structure, width multiplier ``alpha`` and ImageNet weight
files.  Default input 224x224x3 (ImageNet weights exist for 96, 128, 160, 192, 224); inputs are
preprocessed with ``mobilenet_v2.preprocess_input`` ('tf' mode: scaled to [-1, 1])."""

from ..layers import Add, BatchNormalization, Conv2D, DepthwiseConv2D, ReLU, ZeroPadding2D
from ..keras_tensor import KerasTensor
from . import imagenet_utils as _utils

__all__ = ["MobileNetV2", "preprocess_input", "decode_predictions"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_SIZES = (96, 128, 160, 192, 224)                  # input sizes with ImageNet weights
_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)        # widths with ImageNet weights
# (filters, stride, expansion) of the 17 inverted residual blocks
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6),
           (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6),
           (160, 1, 6), (160, 1, 6), (320, 1, 6))


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to a multiple of ``divisor`` (not below ``min_value``, not 10% below ``v``)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _bn(name):
    return BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=name)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """1x1 expansion (not in block 0) -> 3x3 depthwise (stride) -> linear 1x1 projection, added
    to the input when the shapes agree."""
    in_channels = inputs.shape[-1]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = Conv2D(expansion * in_channels, kernel_size=1, padding="same", use_bias=False,
                   activation=None, name=f"{prefix}expand")(x)
        x = _bn(f"{prefix}expand_BN")(x)
        x = ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        # explicit padding + 'valid' reproduces TensorFlow's asymmetric 'same' padding
        x = ZeroPadding2D(padding=_utils.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                        padding="same" if stride == 1 else "valid", name=f"{prefix}depthwise")(x)
    x = _bn(f"{prefix}depthwise_BN")(x)
    x = ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None,
               name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return Add(name=f"{prefix}add")([inputs, x])
    return x


def _default_size(input_shape, input_tensor):
    """The square input size Keras picks the weights file by (224 unless the input is square and
    of a size with weights)."""
    if input_shape is not None:
        rows, cols = input_shape[0], input_shape[1]
    elif isinstance(input_tensor, KerasTensor):
        rows, cols = input_tensor.shape[1], input_tensor.shape[2]
    else:
        return 224
    return rows if rows == cols and rows in _SIZES else 224


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet",
                input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax",
                name=None):
    """MobileNetV2.

    Args:
        input_shape: ``(height, width, channels)``, at least 32x32 (default 224x224x3 with the
            top, (None, None, 3) without).
        alpha: width multiplier: the filters of every layer are scaled by it (ImageNet weights
            for 0.35, 0.5, 0.75, 1.0, 1.3, 1.4).
        include_top: include GlobalAveragePooling2D + Dense ``predictions``.
        weights: None (random init), ``'imagenet'`` (downloaded from Keras' storage), or the path
            of a weights file.
        input_tensor: a KerasTensor to use as the image input (its width must equal
            ``input_shape[1]`` when both are given).
        pooling: without the top: None (4D output), ``'avg'`` or ``'max'`` (2D output).
        classes: number of classes of the top (1000 with ImageNet weights).
        classifier_activation: the top's activation (None or 'softmax' with pretrained weights).
        name: the model's name (default ``mobilenetv2_{alpha:.2f}_{rows}``).
    Returns: a functional ``keras.Model``."""
    who = "MobileNetV2"
    if input_tensor is not None and not isinstance(input_tensor, KerasTensor):
        raise ValueError(f"input_tensor is not a Keras tensor; Received `input_tensor={input_tensor}`")
    if input_shape is not None and input_tensor is not None and \
            input_tensor.shape[2] != input_shape[1]:
        raise ValueError("input_tensor.shape[2] must equal input_shape[1]; Received "
                         f"`input_tensor.shape={input_tensor.shape}`, `input_shape={input_shape}`")
    input_shape = _utils.checked_input_shape(who, weights, include_top, classes, input_shape,
                                             _default_size(input_shape, input_tensor))
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if alpha not in _ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha must be one of `0.35`, "
                             f"`0.50`, `0.75`, `1.0`, `1.3` or `1.4` only; Received `alpha={alpha}`")
        rows = _utils.weights_rows(rows, cols, _SIZES)
    img_input = _utils.image_input(input_tensor, input_shape, who)
    x = Conv2D(_make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same",
               use_bias=False, name="Conv1")(img_input)
    x = _bn("bn_Conv1")(x)
    x = ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, filters=filters, alpha=alpha, stride=stride,
                                expansion=expansion, block_id=block_id)
    last = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = Conv2D(last, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = _bn("Conv_1_bn")(x)
    x = ReLU(6.0, name="out_relu")(x)
    x = _utils.classifier(x, include_top, pooling, classes, classifier_activation, weights)
    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"
    model = _utils.functional_model(img_input, input_tensor, x, name)
    fname = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
             f"{'' if include_top else '_no_top'}.h5")
    # Keras gives no hash for these files
    return _utils.load_weights(model, weights, fname, BASE_WEIGHT_PATH + fname, None, who)


def preprocess_input(x, data_format=None):
    """'tf' preprocessing (pixels scaled to [-1, 1]); see ``imagenet_utils.preprocess_input``."""
    return _utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """See ``imagenet_utils.decode_predictions``."""
    return _utils.decode_predictions(preds, top=top)
