"""Core layers: ``Input`` / ``InputLayer``, ``Dense``, ``Embedding`` and ``Lambda``."""
import numpy as np

from ... import functional as F
from ... import nn
from ...nn import registry as _registry
from ...tensor import Tensor
from .. import activations as _activations
from .. import initializers as _initializers
from .. import keras_tensor as _kt
from .. import regularizers as _regularizers
from ._arguments import (apply_activation, as_float_input, kernel_regularizer_of, no_unsupported,
                         positive_int, serialize_regularizer, shape_str, weight_penalty, weight_options)
from .base import Layer

__all__ = ["InputLayer", "Input", "Dense", "Embedding", "Lambda", "Masking"]


class InputLayer(Layer):
    """Declares the model's input shape (without the batch axis); passes its input through.
    ``Sequential`` reads the shape from it and does not keep it as a layer (as Keras)."""

    is_input_layer = True

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        batch_shape = kwargs.pop("batch_shape", None)
        if batch_shape is not None:
            batch_size, shape = tuple(batch_shape)[0], tuple(batch_shape)[1:]
        if shape is None:
            shape = input_shape
        if shape is None:
            raise ValueError("Input: give the shape of one sample, e.g. Input(shape=(784,))")
        if str(getattr(dtype, "name", dtype)) in ("string", "str", "bytes", "object"):
            raise TypeError(
                f"Input: dtype={dtype!r}; ember's symbolic inputs hold numbers only, so a "
                "TextVectorization / StringLookup cannot sit inside a functional model. Fix: "
                "vectorize in the data pipeline (dataset.map(lambda x, y: (vectorize_layer(x), "
                "y))) and give the model keras.Input(shape=(sequence_length,), dtype='int64')")
        dtype = "float32" if dtype is None else str(np.dtype(getattr(dtype, "name", dtype)))
        if np.dtype(dtype).kind not in "fiub":
            raise ValueError(f"Input: dtype={dtype!r}; expected a float, int or bool dtype")
        super().__init__(input_shape=shape, batch_size=batch_size, name=name, **kwargs)
        self.input_dtype = dtype
        output = _kt.KerasTensor((batch_size,) + tuple(self.declared_input_shape), dtype,
                                 name=self.name)
        node = _kt.Node(self, (), {}, output)
        output._history = (node, 0)
        output._input_layer = self
        self.__dict__["_inbound_nodes"] = [node]

    @property
    def shape(self):
        """(batch_size, *shape), as a Keras symbolic input's shape."""
        return (self.__dict__.get("_declared_batch_size"),) + tuple(self.declared_input_shape)

    def call(self, x):
        return x

    def get_config(self):
        config = {"name": self.name, "shape": list(self.declared_input_shape)}
        if self.input_dtype != "float32":
            config["dtype"] = self.input_dtype
        if self.__dict__.get("_declared_batch_size") is not None:
            config["batch_size"] = self._declared_batch_size
        return config


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, sparse=False,
          tensor=None, **kwargs):
    """Keras' ``Input``: a symbolic tensor (``KerasTensor``) of ``shape`` (one sample, ``None``
    for a size known only from the data) with a ``None`` batch axis (or ``batch_size``), of
    ``dtype`` (default float32; int32/int64 for token ids).  Call layers on it to build a
    functional model, ``keras.Model(inputs, outputs)``; as the first entry of a ``Sequential`` it
    declares the model's input shape."""
    if sparse:
        raise NotImplementedError("Input: sparse=True is not supported by ember.keras; pass dense "
                                  "arrays")
    if tensor is not None:
        raise NotImplementedError("Input: tensor= is not supported by ember.keras")
    kwargs.pop("ragged", None)
    if kwargs:
        raise TypeError(f"Input: unexpected keyword argument(s) {', '.join(map(repr, kwargs))}")
    if batch_shape is not None:
        batch_shape = tuple(batch_shape)
        batch_size, shape = batch_shape[0], batch_shape[1:]
    if shape is None:
        raise ValueError("Input: give the shape of one sample, e.g. Input(shape=(784,)) "
                         "(None for a variable size, e.g. Input(shape=(None,), dtype='int64') "
                         "for sequences of token ids)")
    shape = (shape,) if isinstance(shape, (int, np.integer)) or shape is None else tuple(shape)
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)
    return layer.output


class Dense(Layer, nn.Linear):
    """Fully connected layer on the LAST axis of an input of any rank:
    ``activation(x @ kernel + bias)``, kernel (input_dim, units).

    Keras' defaults: Glorot-uniform kernel, zero bias, no activation.  The kernel is sized from
    the first input's last axis (``input_dim`` / ``input_shape`` declare a model's input).
    ``kernel_regularizer`` / ``bias_regularizer`` add their penalties to the training loss.

    The weights are ``weight`` (alias ``kernel``) and ``bias``, as an ``ember.nn.Linear``'s, and a
    Dense is an ``ember.nn.Linear`` to code that asks (``isinstance``: LoRA, the PyTorch and
    Hugging Face converters); its own methods do everything (``ember.functional.linear``).
    """
    weight = bias = None        # until build
    supports_masking = True     # acts on the last axis: a sequence's mask passes through

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        input_dim = kwargs.pop("input_dim", None)
        if input_dim is not None and kwargs.get("input_shape") is None:
            kwargs["input_shape"] = (int(input_dim),)
        super().__init__(**kwargs)
        weight_options(self, activity_regularizer=activity_regularizer,
                       kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.units = positive_int(units, "units", "Dense")
        self.activation = _activations.get(activation)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self._bias_regularizer = _regularizers.get(bias_regularizer)
        self.use_bias = bool(use_bias)
        self.in_features = None                 # ember.nn.Linear's names: known once built
        self.out_features = self.units
        self.weight_regularizer = weight_penalty(self, kernel_regularizer, bias_regularizer)

    def build(self, input_shape):
        if len(input_shape) == 0:
            raise ValueError(f"{type(self).__name__}: expected an input with at least 1 dimension "
                             "(features on the last axis), got a 0-d tensor")
        self.in_features = int(input_shape[-1])
        self.weight = self.add_weight(name="weight", shape=(self.in_features, self.units),
                                      initializer=self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,),
                                        initializer=self.bias_initializer)
        super().build(input_shape)

    def reset_parameters(self):
        """Keras' initialisation: kernel_initializer on the kernel, bias_initializer on the bias."""
        self.kernel_initializer(self.weight)
        if self.bias is not None:
            self.bias_initializer(self.bias)

    @property
    def kernel(self):
        return self.weight

    @property
    def input_dim(self):
        return self.in_features

    def call(self, inputs):
        x = as_float_input(inputs)
        shape = tuple(x.shape)
        if len(shape) == 0 or shape[-1] != self.in_features:
            got = "a 0-d input" if not shape else \
                f"input of shape {shape_str(shape)} whose last axis is {shape[-1]}"
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}) got {got}, but in_features "
                             f"is {self.in_features} (the layer acts on the last axis)")
        return apply_activation(self.activation, F.linear(x, self.weight, self.bias))

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": _activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "kernel_regularizer": serialize_regularizer(kernel_regularizer_of(self.weight_regularizer)),
                "bias_regularizer": serialize_regularizer(self._bias_regularizer)}

    def extra_repr(self):
        return (f"{self.units}, activation={_activations.serialize(self.activation)!r}, "
                f"input_dim={self.in_features}, name={self.name!r}")


class Embedding(Layer):
    """Integer ids (N, ...) -> vectors (N, ..., output_dim) from a table (input_dim, output_dim).

    Keras' default initialisation U(-0.05, 0.05) ('uniform').  Float ids holding whole numbers are
    accepted (Keras casts them).  ``mask_zero=True`` makes id 0 padding: the output carries the
    mask ``ids != 0`` (N, ...), which the layers after it (recurrent layers, Bidirectional,
    attention, pooling) use (Keras' masking); id 0 still looks up row 0 of the table.  The table
    (``embeddings``) is created with the layer, its size being known.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, activity_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, **kwargs):
        input_length = kwargs.pop("input_length", None)
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        weight_options(self, activity_regularizer=activity_regularizer,
                       embeddings_constraint=embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.input_dim = positive_int(int(input_dim), "num_embeddings", "Embedding")
        self.output_dim = positive_int(int(output_dim), "embedding_dim", "Embedding")
        self.embeddings_initializer = _initializers.get(embeddings_initializer)
        self.weight_regularizer = _regularizers.get(embeddings_regularizer)
        self.build()

    def build(self, input_shape=None):
        self.weight = self.add_weight(name="weight", shape=(self.input_dim, self.output_dim),
                                      initializer=self.embeddings_initializer)
        self.built = True

    @property
    def embeddings(self):
        return self.weight

    def call(self, ids):
        data = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        if data.dtype.kind == "f":
            if data.size and not np.array_equal(data, np.floor(data)):
                raise TypeError(f"Embedding {self.name!r}: ids must be whole numbers, got float values "
                                "with fractions")
            ids = Tensor.wrap(data.astype(np.int64))
        elif data.dtype.kind not in "iu":
            raise TypeError(f"{type(self).__name__}({self.extra_repr()}) expects integer ids, got dtype "
                            f"{data.dtype} (convert with ids.long())")
        return F.embedding(ids, self.weight)   # (which checks the id range)

    def compute_mask(self, inputs, mask=None):
        """``ids != 0`` with ``mask_zero=True`` (padding), else None."""
        if not self.mask_zero:
            return None
        ids = inputs if isinstance(inputs, Tensor) else Tensor.wrap(np.asarray(inputs))
        return F.not_equal(ids, 0)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": _initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": serialize_regularizer(self.weight_regularizer)}


class Lambda(Layer):
    """Wraps a function as a layer: ``Lambda(function, arguments=None)`` computes
    ``function(inputs, **arguments)`` (Keras' ``Lambda``; ``output_shape`` is accepted and not
    needed, since ember finds shapes by running the layer; an input's mask passes through, as
    Keras; ``mask=`` (a fixed mask or a function making one) is not supported).

    Saving (``model.save``): a named function is saved by reference -- ember's own, or one
    registered with ``ember.keras.saving.register_keras_serializable()`` or passed to
    ``load_model(..., custom_objects=...)``.  A Python ``lambda`` cannot be saved (ember never
    stores code in a file): ``save`` raises and names the fix; ``clone_model`` copies it.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        no_unsupported("Lambda", mask=mask)
        self.supports_masking = True
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got {type(function).__name__}")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: arguments must be a dict of keyword arguments, got "
                            f"{type(arguments).__name__}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = None if output_shape is None or callable(output_shape) \
            else list(output_shape)

    def call(self, x):
        return self.function(x, **self.arguments)

    def get_config(self):
        what = f"Lambda {self.name!r}"
        return {**super().get_config(),
                "function": _registry.serialize_object(self.function, what),
                "output_shape": self._output_shape,
                "arguments": _registry.serialize_value(self.arguments, what)}

    @classmethod
    def from_config(cls, config):
        """Rebuild the function by reference (registered, ``custom_objects``, or ember's own)."""
        config = dict(config)
        what = f"Lambda.from_config ({config.get('name')!r})"
        config["function"] = _registry.deserialize_object(config["function"], what=what,
                                                          kind_name="function")
        config["arguments"] = _registry.deserialize_value(config.get("arguments"), what=what)
        return cls(**config)

    def extra_repr(self):
        return f"{getattr(self.function, '__name__', self.function)!r}, name={self.name!r}"


class Masking(Layer):
    """Marks padded time steps: a step whose features all equal ``mask_value`` (default 0.0) is
    masked.  Input (N, T, ...) float; the output is the input with masked steps zeroed, carrying the
    mask (N, T) ``any(x != mask_value, axis=-1)`` for the layers after it (Keras' ``Masking``)."""

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def _mask(self, x):
        return F.any(F.not_equal(x, self.mask_value), axis=-1)

    def call(self, inputs):
        x = as_float_input(inputs)
        if x.ndim < 2:
            raise ValueError(f"Masking {self.name!r} expects an input (batch, timesteps, ...) with "
                             f"features on the last axis, got shape {tuple(x.shape)}")
        keep = F.cast(F.any(F.not_equal(x, self.mask_value), axis=-1, keepdims=True), "float32")
        return x * keep

    def compute_mask(self, inputs, mask=None):
        return self._mask(as_float_input(inputs))

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
