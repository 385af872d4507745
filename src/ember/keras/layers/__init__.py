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

Files by family: ``base`` (Layer), ``core`` (Input, InputLayer, Dense, Embedding, Lambda),
``activations``, ``convolutional``, ``pooling``, ``reshaping``, ``regularization`` (Dropout),
``normalization``, ``recurrent``.

Known differences from Keras: ``BatchNormalization`` updates its moving variance with the unbiased
batch variance (PyTorch's rule; Keras uses the biased one -- the difference is a factor
n / (n - 1) on the update); recurrent layers support only their default activations (tanh and
sigmoid; ``SimpleRNN`` also 'relu'), no ``dropout`` / ``recurrent_dropout`` (put a ``Dropout``
layer before), and no masking.
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

# Saved models name a layer's class by its public module, as Keras names 'keras.layers': files
# read "ember.keras.layers", whichever file of this package defines the class.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
