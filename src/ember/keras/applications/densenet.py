"""DenseNet121, DenseNet169 and DenseNet201 (Huang et al., "Densely Connected Convolutional
Networks", CVPR 2017), as ``keras.applications.DenseNet121`` / ``169`` / ``201``: same layer
names (``conv2_block1_0_bn``, ``pool2_conv``, ...), structure and ImageNet weight files.
Default input 224x224x3 (at least 32x32 without the top); inputs are preprocessed with
``densenet.preprocess_input`` ('torch' mode: [0, 1] then per-channel ImageNet mean / std)."""
from ..layers import (Activation, AveragePooling2D, BatchNormalization, Concatenate, Conv2D,
                      MaxPooling2D, ZeroPadding2D)
from . import imagenet_utils as _utils

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "preprocess_input", "decode_predictions"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
_EPS = 1.001e-5
# blocks per dense block; (file hash with top, without top), Keras' values
_ARCHS = {"densenet121": ((6, 12, 24, 16), ("9d60b8095a5708f2dcce2bca79d332c7",
                                            "30ee3e1110167f948a6b9946edeeb738")),
          "densenet169": ((6, 12, 32, 32), ("d699b8f76981ab1b30698df4c175e90b",
                                            "b8c4d4c20dd625c148057b9ff1c1176b")),
          "densenet201": ((6, 12, 48, 32), ("1ceb130c1ea1b78c3bf6114dbdfd8807",
                                            "c13680b51ded0fb44dff2d8f86ac8bb1"))}


def conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 (4*growth) -> BN-ReLU-3x3 (growth), concatenated to the input's channels."""
    x1 = BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_0_bn")(x)
    x1 = Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_1_bn")(x1)
    x1 = Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(x1)
    return Concatenate(axis=3, name=f"{name}_concat")([x, x1])


def dense_block(x, blocks, name):
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BN-ReLU-1x1 (channels * reduction) -> 2x2 average pooling."""
    x = BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_bn")(x)
    x = Activation("relu", name=f"{name}_relu")(x)
    x = Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def _densenet(arch, include_top, weights, input_tensor, input_shape, pooling, classes,
              classifier_activation, name):
    who = arch.replace("densenet", "DenseNet")
    blocks, hashes = _ARCHS[arch]
    input_shape = _utils.checked_input_shape(who, weights, include_top, classes, input_shape)
    img_input = _utils.image_input(input_tensor, input_shape, who)
    x = ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = BatchNormalization(axis=3, epsilon=_EPS, name="conv1_bn")(x)
    x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = MaxPooling2D(3, strides=2, name="pool1")(x)
    for i, n in enumerate(blocks):
        x = dense_block(x, n, name=f"conv{i + 2}")
        if i < 3:
            x = transition_block(x, 0.5, name=f"pool{i + 2}")
    x = BatchNormalization(axis=3, epsilon=_EPS, name="bn")(x)
    x = Activation("relu", name="relu")(x)
    x = _utils.classifier(x, include_top, pooling, classes, classifier_activation, weights,
                          avg_name="avg_pool", max_name="max_pool")
    model = _utils.functional_model(img_input, input_tensor, x, name)
    fname = f"{arch}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return _utils.load_weights(model, weights, fname, BASE_WEIGHTS_PATH + fname,
                               hashes[0 if include_top else 1], who)


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax", name="densenet121"):
    return _densenet("densenet121", include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, name)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax", name="densenet169"):
    return _densenet("densenet169", include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, name)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax", name="densenet201"):
    return _densenet("densenet201", include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, name)


DenseNet121.__doc__ = "DenseNet121: dense blocks of 6, 12, 24, 16 layers.\n" + _utils.ARGS_DOC
DenseNet169.__doc__ = "DenseNet169: dense blocks of 6, 12, 32, 32 layers.\n" + _utils.ARGS_DOC
DenseNet201.__doc__ = "DenseNet201: dense blocks of 6, 12, 48, 32 layers.\n" + _utils.ARGS_DOC


def preprocess_input(x, data_format=None):
    """'torch' preprocessing (pixels scaled to [0, 1], then normalised per channel with the
    ImageNet mean and std); see ``imagenet_utils.preprocess_input``."""
    return _utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    """See ``imagenet_utils.decode_predictions``."""
    return _utils.decode_predictions(preds, top=top)
