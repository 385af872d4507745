"""Keras layers with Keras' arguments, defaults and contract, on ``ember.functional``.

Every layer is written as Keras asks of your own (``ember.keras.layers.Layer``): ``__init__``
stores its arguments, ``build(input_shape)`` creates its weights with ``add_weight``, ``call``
computes, ``get_config`` returns what rebuilds it.  With that:

* Keras' arguments: ``Dense(units, activation=None, use_bias=True,
  kernel_initializer='glorot_uniform', bias_initializer='zeros', kernel_regularizer=None, ...)``,
  plus the common keywords ``input_shape``, ``input_dim`` (Dense), ``batch_input_shape``,
  ``name``, ``trainable`` and ``dtype`` ('float32' only);
* Keras' default initialisation (Glorot-uniform kernels, zero biases, orthogonal recurrent
  kernels, U(-0.05, 0.05) embeddings) rather than PyTorch's;
* lazy weights, as Keras: a layer creates its weights from its first input.  ``input_shape`` /
  ``input_dim`` on the FIRST layer of a ``Sequential`` declares the model's input, which builds
  the model at once (so ``model.summary()`` works before any data); on other layers it is
  ignored, as in Keras;
* ``layer.trainable = False`` freezes the layer (a frozen ``BatchNormalization`` also runs in
  inference mode, as in Keras); ``get_config()`` returns Keras' arguments and ``from_config``
  rebuilds the layer; ``get_weights()`` / ``set_weights()`` use NumPy arrays.

Everything is channels-last, as Keras' default: images (N, H, W, C), sequences (N, T, features).
Layers are ``ember.nn`` modules; weights keep ember's names (``weight``, ``bias``; ``kernel`` is
an alias) and layouts, which for Dense and Conv2D are Keras' own ((in, out) and
(kh, kw, C_in, C_out)).

Files by family: ``base`` (Layer), ``core`` (Input, InputLayer, Dense, Embedding, Lambda,
Masking),
``activations``, ``convolutional`` (Conv1D/2D/3D), ``conv_transpose``, ``depthwise`` (depthwise
and separable convolutions), ``pooling``, ``reshaping``, ``cropping`` (and zero padding),
``upsampling``, ``regularization`` (Dropout, SpatialDropout*, GaussianNoise, GaussianDropout,
AlphaDropout, ActivityRegularization), ``normalization`` (Batch, Layer, Group, Unit),
``recurrent`` (SimpleRNN, LSTM, GRU), ``wrappers`` (Bidirectional, TimeDistributed),
``attention`` (MultiHeadAttention, Attention, AdditiveAttention), ``preprocessing``
(Normalization, Rescaling, Resizing, CenterCrop), ``augmentation`` (Random*), ``merging`` (Add,
Concatenate, Dot, ... and ``add``, ``concatenate``, ...), ``lookup`` (StringLookup, IntegerLookup,
CategoryEncoding), ``text_preprocessing`` (TextVectorization, Hashing; strings in, ember tensors
out).

Known differences from Keras: recurrent layers run fused kernels for their default activations
(tanh and sigmoid; ``SimpleRNN`` also 'relu') and a loop over time steps of ember ops for any
other; ``MultiHeadAttention`` only 3-D inputs and the default ``attention_axes``.

Masks (Keras'): ``Embedding(mask_zero=True)`` and ``Masking`` attach a (batch, time) mask to
their output; layers that keep the time axis pass it on (``supports_masking``); recurrent layers,
``Bidirectional`` and the attention layers use it (masked steps skipped, padded keys ignored).
"""
from .activations import Activation, LeakyReLU, ReLU, Softmax
from .base import Layer
from .convolutional import Conv1D, Conv2D
from .core import Dense, Embedding, Input, InputLayer, Lambda
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,
                      GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)
from .recurrent import GRU, LSTM, SimpleRNN
from .regularization import Dropout
from .reshaping import Flatten, Reshape

__all__ = ["Layer", "InputLayer", "Input", "Dense", "Activation", "Conv1D", "Conv2D",
           "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
           "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "Flatten", "Reshape",
           "Dropout", "BatchNormalization", "LayerNormalization", "Embedding", "SimpleRNN", "LSTM",
           "GRU", "ReLU", "LeakyReLU", "Softmax", "Lambda"]

from .wrappers import Bidirectional, TimeDistributed  # noqa: E402
from .core import Masking  # noqa: E402
from .attention import AdditiveAttention, Attention, MultiHeadAttention  # noqa: E402
from .normalization import GroupNormalization, UnitNormalization  # noqa: E402

__all__ += ["Bidirectional", "TimeDistributed", "Masking", "MultiHeadAttention", "Attention", "AdditiveAttention",
            "GroupNormalization", "UnitNormalization"]

from .convolutional import Conv3D  # noqa: E402
from .conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose  # noqa: E402
from .depthwise import (DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D,  # noqa: E402
                        SeparableConv2D)
from .pooling import (AveragePooling1D, AveragePooling3D, AvgPool1D, AvgPool3D,  # noqa: E402
                      GlobalAveragePooling1D, GlobalAveragePooling3D, GlobalAvgPool1D,
                      GlobalAvgPool3D, GlobalMaxPool1D, GlobalMaxPool3D, GlobalMaxPooling1D,
                      GlobalMaxPooling3D, MaxPool1D, MaxPool3D, MaxPooling1D, MaxPooling3D)
from .reshaping import Permute, RepeatVector  # noqa: E402
from .cropping import (Cropping1D, Cropping2D, Cropping3D, ZeroPadding1D,  # noqa: E402
                       ZeroPadding2D, ZeroPadding3D)
from .upsampling import UpSampling1D, UpSampling2D, UpSampling3D  # noqa: E402

__all__ += ["Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
            "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
            "MaxPooling1D", "MaxPooling3D", "AveragePooling1D", "AveragePooling3D",
            "GlobalAveragePooling1D", "GlobalAveragePooling3D", "GlobalMaxPooling1D",
            "GlobalMaxPooling3D", "MaxPool1D", "MaxPool3D", "AvgPool1D", "AvgPool3D",
            "GlobalAvgPool1D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool3D",
            "Permute", "RepeatVector", "Cropping1D", "Cropping2D", "Cropping3D", "ZeroPadding1D",
            "ZeroPadding2D", "ZeroPadding3D", "UpSampling1D", "UpSampling2D", "UpSampling3D"]

from .preprocessing import CenterCrop, Normalization, Rescaling, Resizing  # noqa: E402
from .augmentation import (RandomBrightness, RandomContrast, RandomCrop,  # noqa: E402
                           RandomFlip, RandomRotation, RandomTranslation, RandomZoom)
from .merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply,  # noqa: E402
                      Subtract, add, average, concatenate, dot, maximum, minimum, multiply,
                      subtract)
from .regularization import (ActivityRegularization, AlphaDropout,  # noqa: E402
                             GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D,
                             SpatialDropout3D)

__all__ += ["Normalization", "Rescaling", "Resizing", "CenterCrop", "RandomFlip",
            "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
            "RandomBrightness", "RandomCrop", "Add", "Subtract", "Multiply", "Average", "Maximum",
            "Minimum", "Concatenate", "Dot", "add", "subtract", "multiply", "average", "maximum",
            "minimum", "concatenate", "dot", "SpatialDropout1D", "SpatialDropout2D",
            "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
            "ActivityRegularization"]

from .lookup import CategoryEncoding, IntegerLookup, StringLookup  # noqa: E402
from .text_preprocessing import Hashing, TextVectorization  # noqa: E402

__all__ += ["StringLookup", "IntegerLookup", "CategoryEncoding", "TextVectorization", "Hashing"]

# tf.keras 2.x's home of the preprocessing layers (``layers.experimental.preprocessing.RandomFlip``)
import types as _types  # noqa: E402

experimental = _types.SimpleNamespace(preprocessing=_types.SimpleNamespace(
    Normalization=Normalization, Rescaling=Rescaling, Resizing=Resizing, CenterCrop=CenterCrop,
    RandomFlip=RandomFlip, RandomRotation=RandomRotation, RandomZoom=RandomZoom,
    RandomTranslation=RandomTranslation, RandomContrast=RandomContrast,
    RandomBrightness=RandomBrightness, RandomCrop=RandomCrop, StringLookup=StringLookup,
    IntegerLookup=IntegerLookup, CategoryEncoding=CategoryEncoding,
    TextVectorization=TextVectorization, Hashing=Hashing))
del _types

# Saved models name a layer's class by its public module, as Keras names 'keras.layers': files
# read "ember.keras.layers", whichever file of this package defines the class.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
