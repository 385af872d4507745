"""MobileNet v1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
Vision Applications", 2017), as ``keras.applications.MobileNet``: same layer names (``conv1``,
``conv_dw_1``, ``conv_pw_1``, ...), structure, width multiplier ``alpha``, ``depth_multiplier``
and ImageNet weight files.  Default input 224x224x3 (ImageNet weights for 128, 160, 192, 224);
inputs are preprocessed with ``mobilenet.preprocess_input`` ('tf' mode: scaled to [-1, 1])."""

from ..layers import (Activation, BatchNormalization, Conv2D, DepthwiseConv2D, Dropout,
                      GlobalAveragePooling2D, ReLU, Reshape, ZeroPadding2D)
from . import imagenet_utils as _utils

__all__ = ["MobileNet", "preprocess_input", "decode_predictions"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
_SIZES = (128, 160, 192, 224)
_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}    # in the weight file names
# (pointwise filters, stride) of the 13 depthwise-separable blocks
_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
           (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def _conv_block(inputs, filters, alpha, kernel=(3, 3), strides=(1, 1)):
    x = Conv2D(int(filters * alpha), kernel, padding="same", use_bias=False, strides=strides,
               name="conv1")(inputs)
    x = BatchNormalization(axis=-1, name="conv1_bn")(x)
    return ReLU(6.0, name="conv1_relu")(x)


def _depthwise_conv_block(inputs, pointwise_conv_filters, alpha, depth_multiplier=1,
                          strides=(1, 1), block_id=1):
    """3x3 depthwise (stride) -> BN -> ReLU6 -> 1x1 pointwise -> BN -> ReLU6."""
    x = inputs
    if strides != (1, 1):
        # bottom/right padding + 'valid' reproduces TensorFlow's 'same' for stride 2
        x = ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = DepthwiseConv2D((3, 3), padding="same" if strides == (1, 1) else "valid",
                        depth_multiplier=depth_multiplier, strides=strides, use_bias=False,
                        name=f"conv_dw_{block_id}")(x)
    x = BatchNormalization(axis=-1, name=f"conv_dw_{block_id}_bn")(x)
    x = ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = Conv2D(int(pointwise_conv_filters * alpha), (1, 1), padding="same", use_bias=False,
               strides=(1, 1), name=f"conv_pw_{block_id}")(x)
    x = BatchNormalization(axis=-1, name=f"conv_pw_{block_id}_bn")(x)
    return ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True,
              weights="imagenet", input_tensor=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=None):
    """MobileNet (v1).

    Args:
        input_shape: ``(height, width, channels)``, at least 32x32 (default 224x224x3 with the
            top, (None, None, 3) without).
        alpha: width multiplier of every layer's filters (ImageNet weights for 0.25, 0.5, 0.75,
            1.0).
        depth_multiplier: depthwise channel multiplier (1 with ImageNet weights).
        dropout: the top's dropout rate.
        include_top: include the classifier (pooling, Dropout, 1x1 Conv2D ``conv_preds``,
            Reshape, Activation ``predictions``).
        weights: None (random init), ``'imagenet'`` (downloaded from Keras' storage), or the path
            of a weights file.
        input_tensor: a KerasTensor to use as the image input.
        pooling: without the top: None (4D output), ``'avg'`` or ``'max'`` (2D output).
        classes: number of classes of the top (1000 with ImageNet weights).
        classifier_activation: the top's activation (None or 'softmax' with pretrained weights).
        name: the model's name (default ``mobilenet_{alpha:.2f}_{rows}``).
    Returns: a functional ``keras.Model``."""
    who = "MobileNet"
    default_size = 224
    if input_shape is not None and input_shape[0] == input_shape[1] and input_shape[0] in _SIZES:
        default_size = input_shape[0]
    input_shape = _utils.checked_input_shape(who, weights, include_top, classes, input_shape,
                                             default_size)
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError("If imagenet weights are being loaded, depth multiplier must be 1.  "
                             f"Received depth_multiplier={depth_multiplier}")
        if alpha not in _ALPHA_TEXT:
            raise ValueError("If imagenet weights are being loaded, alpha can be one of`0.25`, "
                             f"`0.50`, `0.75` or `1.0` only.  Received alpha={alpha}")
        rows = _utils.weights_rows(rows, cols, _SIZES)
    img_input = _utils.image_input(input_tensor, input_shape, who)
    x = _conv_block(img_input, 32, alpha, strides=(2, 2))
    for block_id, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, strides=(stride, stride),
                                  block_id=block_id)
    if include_top:
        x = GlobalAveragePooling2D(keepdims=True)(x)
        x = Dropout(dropout, name="dropout")(x)
        x = Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = Reshape((classes,), name="reshape_2")(x)
        _utils.validate_activation(classifier_activation, weights)
        x = Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = _utils.pool(x, pooling)
    if name is None:
        name = f"mobilenet_{alpha:0.2f}_{rows}"
    model = _utils.functional_model(img_input, input_tensor, x, name)
    if weights == "imagenet":
        fname = f"mobilenet_{_ALPHA_TEXT[alpha]}_{rows}_tf{'' if include_top else '_no_top'}.h5"
        # Keras gives no hash for these files
        return _utils.load_weights(model, weights, fname, BASE_WEIGHT_PATH + fname, None, who)
    return _utils.load_weights(model, weights, None, None, None, who)


def preprocess_input(x, data_format=None):
    """'tf' preprocessing (pixels scaled to [-1, 1]); see ``imagenet_utils.preprocess_input``."""
    return _utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """See ``imagenet_utils.decode_predictions``."""
    return _utils.decode_predictions(preds, top=top)
