"""ResNet50, ResNet101 and ResNet152 (v1; He et al., "Deep Residual Learning for Image
Recognition", CVPR 2015), as ``keras.applications.ResNet50`` / ``ResNet101`` / ``ResNet152``:
same layer names (``conv1_conv``, ``conv2_block1_0_conv``, ...), structure and ImageNet weight
files.  Default input 224x224x3 (at least 32x32 without the top); inputs are preprocessed with
``resnet.preprocess_input`` ('caffe' mode: BGR, mean-centred)."""
from ..layers import Activation, Add, BatchNormalization, Conv2D, MaxPooling2D, ZeroPadding2D
from . import imagenet_utils as _utils

__all__ = ["ResNet50", "ResNet101", "ResNet152", "preprocess_input", "decode_predictions"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# (file hash with top, file hash without top), Keras' values
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}
# residual blocks in the stages conv2..conv5
_BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3), "resnet152": (3, 8, 36, 3)}
_EPS = 1.001e-5            # Keras' (the epsilon of the original Caffe weights)


def _bn(name):
    return BatchNormalization(axis=3, epsilon=_EPS, name=name)


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """A bottleneck block: 1x1 (stride) -> 3x3 -> 1x1 with 4*filters channels, added to the
    shortcut (a strided 1x1 projection when ``conv_shortcut``, else the input), then ReLU."""
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _bn(f"{name}_1_bn")(x)
    x = Activation("relu", name=f"{name}_1_relu")(x)
    x = Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = Activation("relu", name=f"{name}_2_relu")(x)
    x = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(f"{name}_3_bn")(x)
    x = Add(name=f"{name}_add")([shortcut, x])
    return Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """``blocks`` residual blocks; the first projects the shortcut and has stride ``stride1``."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def _resnet(arch, include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, name):
    who = arch.replace("resnet", "ResNet")
    input_shape = _utils.checked_input_shape(who, weights, include_top, classes, input_shape)
    img_input = _utils.image_input(input_tensor, input_shape, who)
    x = ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = _bn("conv1_bn")(x)
    x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (blocks, filters) in enumerate(zip(_BLOCKS[arch], (64, 128, 256, 512)), start=2):
        x = stack_residual_blocks_v1(x, filters, blocks, stride1=1 if stage == 2 else 2,
                                     name=f"conv{stage}")
    x = _utils.classifier(x, include_top, pooling, classes, classifier_activation, weights,
                          avg_name="avg_pool", max_name="max_pool")
    model = _utils.functional_model(img_input, input_tensor, x, name)
    fname = f"{arch}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return _utils.load_weights(model, weights, fname, f"{BASE_WEIGHTS_PATH}{fname}",
                               WEIGHTS_HASHES[arch][0 if include_top else 1], who)


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="resnet50"):
    return _resnet("resnet50", include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="resnet101"):
    return _resnet("resnet101", include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="resnet152"):
    return _resnet("resnet152", include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)


ResNet50.__doc__ = "ResNet50 (v1): bottleneck stages of 3, 4, 6, 3 blocks.\n" + _utils.ARGS_DOC
ResNet101.__doc__ = "ResNet101 (v1): bottleneck stages of 3, 4, 23, 3 blocks.\n" + _utils.ARGS_DOC
ResNet152.__doc__ = "ResNet152 (v1): bottleneck stages of 3, 8, 36, 3 blocks.\n" + _utils.ARGS_DOC


def preprocess_input(x, data_format=None):
    """'caffe' preprocessing (RGB -> BGR, minus the ImageNet channel means, no scaling); see
    ``imagenet_utils.preprocess_input``."""
    return _utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """See ``imagenet_utils.decode_predictions``."""
    return _utils.decode_predictions(preds, top=top)
