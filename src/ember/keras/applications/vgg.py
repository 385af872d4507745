"""VGG16 and VGG19 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015), as ``keras.applications.VGG16`` / ``VGG19``: same layer names,
structure and ImageNet weight files.  Default input 224x224x3 (at least 32x32 without the top);
inputs are preprocessed with ``vgg16.preprocess_input`` ('caffe' mode: BGR, mean-centred)."""
from ..layers import Conv2D, Dense, Flatten, MaxPooling2D
from . import imagenet_utils as _utils

__all__ = ["VGG16", "VGG19", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"
# (file hash with top, file hash without top), Keras' values
_HASHES = {"vgg16": ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
           "vgg19": ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6")}
_CONVS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}      # convolutions per block


def _vgg(arch, include_top, weights, input_tensor, input_shape, pooling, classes,
         classifier_activation, name):
    who = arch.upper()
    input_shape = _utils.checked_input_shape(who, weights, include_top, classes, input_shape)
    img_input = _utils.image_input(input_tensor, input_shape, who)
    x = img_input
    for block, (n, filters) in enumerate(zip(_CONVS[arch], (64, 128, 256, 512, 512)), start=1):
        for i in range(1, n + 1):
            x = Conv2D(filters, (3, 3), activation="relu", padding="same",
                       name=f"block{block}_conv{i}")(x)
        x = MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="fc1")(x)
        x = Dense(4096, activation="relu", name="fc2")(x)
        _utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _utils.pool(x, pooling)
    model = _utils.functional_model(img_input, input_tensor, x, name)
    fname = f"{arch}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return _utils.load_weights(model, weights, fname, f"{_BASE}{arch}/{fname}",
                               _HASHES[arch][0 if include_top else 1], who)


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", name="vgg16"):
    """VGG16: 13 3x3 convolutions in 5 blocks, then (``include_top``) Flatten and Dense 4096,
    4096, ``classes``.

    Args:
        include_top: include the 3 fully-connected layers (then the input must be 224x224x3
            with ImageNet weights, or a static ``input_shape``).
        weights: None (random init), ``'imagenet'`` (downloaded from Keras' storage), or the path
            of a weights file.
        input_tensor: a KerasTensor to use as the image input.
        input_shape: ``(height, width, channels)`` (only without the top, or a static shape);
            at least 32x32.
        pooling: without the top: None (4D output), ``'avg'`` or ``'max'`` (2D output).
        classes: number of classes of the top (1000 with ImageNet weights).
        classifier_activation: the top's activation (None or 'softmax' with pretrained weights).
        name: the model's name.
    Returns: a functional ``keras.Model``."""
    return _vgg("vgg16", include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation, name)


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", name="vgg19"):
    """VGG19: 16 3x3 convolutions in 5 blocks, then (``include_top``) Flatten and Dense 4096,
    4096, ``classes``.  Arguments as :func:`VGG16`."""
    return _vgg("vgg19", include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation, name)


def preprocess_input(x, data_format=None):
    """'caffe' preprocessing (RGB -> BGR, minus the ImageNet channel means, no scaling); see
    ``imagenet_utils.preprocess_input``."""
    return _utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """See ``imagenet_utils.decode_predictions``."""
    return _utils.decode_predictions(preds, top=top)
