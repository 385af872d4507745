"""EfficientNet B0-B7 (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019), as ``keras.applications.EfficientNetB0`` ... ``EfficientNetB7``: same
layer names (``stem_conv``, ``block1a_dwconv``, ``block2b_se_excite``, ``top_conv``, ...),
structure and ImageNet weight files.  The models take raw pixels in [0, 255]: the input
scaling and ImageNet normalisation are layers of the model (``Rescaling`` + ``Normalization``),
so ``efficientnet.preprocess_input`` is the identity, as in Keras."""
import copy
import math

from ..layers import (Activation, BatchNormalization, Conv2D, Dense, DepthwiseConv2D, Dropout,
                      GlobalAveragePooling2D, Normalization, Rescaling, Reshape, ZeroPadding2D,
                      add, multiply)
from . import imagenet_utils as _utils

__all__ = ["EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3",
           "EfficientNetB4", "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
           "preprocess_input", "decode_predictions"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/keras-applications/"
# (file hash with top, file hash without top), Keras' values
WEIGHTS_HASHES = {
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}
# the seven stages of B0: (kernel_size, repeats, filters_in, filters_out, expand_ratio, strides);
# every block has id_skip=True and se_ratio=0.25
_STAGES = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2),
           (3, 3, 40, 80, 6, 2), (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2),
           (3, 1, 192, 320, 6, 1))
DEFAULT_BLOCKS_ARGS = [dict(kernel_size=k, repeats=r, filters_in=fi, filters_out=fo,
                            expand_ratio=e, id_skip=True, strides=s, se_ratio=0.25)
                       for k, r, fi, fo, e, s in _STAGES]
# Keras' initializers (they are part of the saved layer configs)
CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                           "config": {"scale": 2.0, "mode": "fan_out",
                                      "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                            "config": {"scale": 1.0 / 3.0, "mode": "fan_out",
                                       "distribution": "uniform"}}
IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]
# (width coefficient, depth coefficient, default input size, top dropout rate) of B0..B7
_SCALING = {"b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
            "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
            "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5)}


def _round_filters(filters, width_coefficient, divisor):
    """``filters * width_coefficient`` rounded to a multiple of ``divisor`` (not below it, and
    not more than 10% below the scaled value)."""
    filters *= width_coefficient
    new_filters = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if new_filters < 0.9 * filters:
        new_filters += divisor
    return int(new_filters)


def _round_repeats(repeats, depth_coefficient):
    return int(math.ceil(depth_coefficient * repeats))


def _conv(filters, kernel_size, name, **kwargs):
    return Conv2D(filters, kernel_size, kernel_initializer=CONV_KERNEL_INITIALIZER, name=name,
                  **kwargs)


def block(inputs, activation="swish", drop_rate=0.0, name="", filters_in=32, filters_out=16,
          kernel_size=3, strides=1, expand_ratio=1, se_ratio=0.0, id_skip=True):
    """One mobile inverted residual block (MBConv): 1x1 expansion (unless ``expand_ratio`` is 1)
    -> ``kernel_size`` depthwise convolution (``strides``) -> squeeze-and-excitation (when
    ``0 < se_ratio <= 1``) -> linear 1x1 projection to ``filters_out``; added to ``inputs``
    (after drop-connect at ``drop_rate``: whole samples dropped) when the shapes agree.

    Layer names are ``name`` + Keras' suffixes (``expand_conv``, ``dwconv``, ``se_squeeze``,
    ``project_bn``, ``drop``, ``add``, ...).  Returns the block's output tensor."""
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = _conv(filters, 1, f"{name}expand_conv", padding="same", use_bias=False)(x)
        x = BatchNormalization(axis=3, name=f"{name}expand_bn")(x)
        x = Activation(activation, name=f"{name}expand_activation")(x)
    if strides == 2:
        # explicit padding + 'valid' reproduces TensorFlow's asymmetric 'same' padding
        x = ZeroPadding2D(padding=_utils.correct_pad(x, kernel_size), name=f"{name}dwconv_pad")(x)
    x = DepthwiseConv2D(kernel_size, strides=strides, padding="valid" if strides == 2 else "same",
                        use_bias=False, depthwise_initializer=CONV_KERNEL_INITIALIZER,
                        name=f"{name}dwconv")(x)
    x = BatchNormalization(axis=3, name=f"{name}bn")(x)
    x = Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        # squeeze-and-excitation: per-channel gates in (0, 1) from the globally pooled features
        filters_se = max(1, int(filters_in * se_ratio))
        se = GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
        se = Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
        se = _conv(filters_se, 1, f"{name}se_reduce", padding="same", activation=activation)(se)
        se = _conv(filters, 1, f"{name}se_expand", padding="same", activation="sigmoid")(se)
        x = multiply([x, se], name=f"{name}se_excite")
    x = _conv(filters_out, 1, f"{name}project_conv", padding="same", use_bias=False)(x)
    x = BatchNormalization(axis=3, name=f"{name}project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            # drop-connect (stochastic depth): one keep/drop draw per sample
            x = Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = add([x, inputs], name=f"{name}add")
    return x


def EfficientNet(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2,
                 drop_connect_rate=0.2, depth_divisor=8, activation="swish", blocks_args="default",
                 name="efficientnet", include_top=True, weights="imagenet", input_tensor=None,
                 input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
                 weights_name=None):
    """The EfficientNet family's builder (Keras' ``efficientnet.EfficientNet``).

    Args:
        width_coefficient: multiplier of every layer's filters (rounded to ``depth_divisor``).
        depth_coefficient: multiplier of every stage's block count (rounded up).
        default_size: the input size of the ImageNet weights.
        dropout_rate: dropout before the classifier (``top_dropout``; none when 0).
        drop_connect_rate: drop-connect rate of the last block; block ``b`` of ``n`` uses
            ``drop_connect_rate * b / n``.
        depth_divisor: the unit of the network's width.
        activation: the activation of every block (default ``'swish'``).
        blocks_args: ``'default'`` (B0's seven stages) or a list of dicts with ``kernel_size``,
            ``repeats``, ``filters_in``, ``filters_out``, ``expand_ratio``, ``id_skip``,
            ``strides``, ``se_ratio``.
        weights_name: ``'b0'`` ... ``'b7'``: the ImageNet file's hashes (``weights='imagenet'``).
        The other arguments as ``EfficientNetB0``.
    Returns: a functional ``keras.Model``."""
    if blocks_args == "default":
        blocks_args = DEFAULT_BLOCKS_ARGS
    input_shape = _utils.checked_input_shape("EfficientNet", weights, include_top, classes,
                                             input_shape, default_size)
    if weights == "imagenet" and weights_name not in WEIGHTS_HASHES:
        raise ValueError(f"EfficientNet: weights='imagenet' needs weights_name, one of "
                         f"{sorted(WEIGHTS_HASHES)}; Received weights_name={weights_name!r}")
    img_input = _utils.image_input(input_tensor, input_shape, "EfficientNet")

    def round_filters(filters):
        return _round_filters(filters, width_coefficient, depth_divisor)

    # the stem: pixels to [0, 1], then the ImageNet normalisation (mean 0 / variance 1 until
    # weights are loaded).  Keras' ImageNet files hold the standard deviations as the
    # 'variance', so Normalization divides by sqrt(std); the extra Rescaling by 1/sqrt(std)
    # makes it a division by std (Keras adds it only with weights='imagenet')
    x = Rescaling(1.0 / 255.0)(img_input)
    x = Normalization(axis=3)(x)
    if weights == "imagenet":
        x = Rescaling([1.0 / math.sqrt(stddev) for stddev in IMAGENET_STDDEV_RGB])(x)
    x = ZeroPadding2D(padding=_utils.correct_pad(x, 3), name="stem_conv_pad")(x)
    x = _conv(round_filters(32), 3, "stem_conv", strides=2, padding="valid", use_bias=False)(x)
    x = BatchNormalization(axis=3, name="stem_bn")(x)
    x = Activation(activation, name="stem_activation")(x)

    blocks_args = copy.deepcopy(blocks_args)
    total = float(sum(_round_repeats(args["repeats"], depth_coefficient) for args in blocks_args))
    b = 0
    for i, args in enumerate(blocks_args):
        if args["repeats"] <= 0:
            raise ValueError("The number of repeats in `EfficientNet` must be > 0. Received: "
                             f"repeats={args['repeats']}")
        args["filters_in"] = round_filters(args["filters_in"])
        args["filters_out"] = round_filters(args["filters_out"])
        for j in range(_round_repeats(args.pop("repeats"), depth_coefficient)):
            if j > 0:          # only a stage's first block changes stride and width
                args["strides"] = 1
                args["filters_in"] = args["filters_out"]
            x = block(x, activation, drop_connect_rate * b / total,
                      name=f"block{i + 1}{chr(j + 97)}_", **args)
            b += 1

    x = _conv(round_filters(1280), 1, "top_conv", padding="same", use_bias=False)(x)
    x = BatchNormalization(axis=3, name="top_bn")(x)
    x = Activation(activation, name="top_activation")(x)
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = Dropout(dropout_rate, name="top_dropout")(x)
        _utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation,
                  kernel_initializer=DENSE_KERNEL_INITIALIZER, name="predictions")(x)
    else:
        x = _utils.pool(x, pooling, "avg_pool", "max_pool")
    model = _utils.functional_model(img_input, input_tensor, x, name)
    if weights != "imagenet":
        return _utils.load_weights(model, weights, None, None, None, "EfficientNet")
    top = 0 if include_top else 1
    fname = name + (".h5" if include_top else "_notop.h5")
    return _utils.load_weights(model, weights, fname, BASE_WEIGHTS_PATH + fname,
                               WEIGHTS_HASHES[weights_name][top], "EfficientNet")


def _variant(key):
    width, depth, size, dropout = _SCALING[key]
    label = f"EfficientNet{key.upper()}"

    def build(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax",
              name=f"efficientnet{key}"):
        return EfficientNet(width, depth, size, dropout, name=name, include_top=include_top,
                            weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                            pooling=pooling, classes=classes,
                            classifier_activation=classifier_activation, weights_name=key)
    build.__name__ = build.__qualname__ = label
    build.__doc__ = (f"{label}: width x{width}, depth x{depth}, ImageNet input {size}x{size}x3, "
                     f"top dropout {dropout}, drop-connect 0.2.  Inputs are raw pixels in "
                     "[0, 255] (the model rescales and normalises them itself)."
                     + _utils.ARGS_DOC.replace("224x224x3", f"{size}x{size}x3"))
    return build


EfficientNetB0 = _variant("b0")
EfficientNetB1 = _variant("b1")
EfficientNetB2 = _variant("b2")
EfficientNetB3 = _variant("b3")
EfficientNetB4 = _variant("b4")
EfficientNetB5 = _variant("b5")
EfficientNetB6 = _variant("b6")
EfficientNetB7 = _variant("b7")


def preprocess_input(x, data_format=None):
    """The identity (Keras keeps it for compatibility: EfficientNet models rescale and normalise
    their inputs themselves).  Returns ``x`` unchanged."""
    return x


def decode_predictions(preds, top=5):
    """See ``imagenet_utils.decode_predictions``."""
    return _utils.decode_predictions(preds, top=top)
