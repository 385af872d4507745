"""Keras layers with Keras' argument names and defaults, as subclasses of ``ember.nn`` layers.

Each class here *is* the ember layer it maps to (``layers.Dense`` is an ``ember.nn.Linear``), with:

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
Weights keep ember's names (``weight``, ``bias``; ``kernel`` is an alias) and layouts, which for
Dense and Conv2D are Keras' own ((in, out) and (kh, kw, C_in, C_out)).

Your own layers subclass :class:`Layer` as in Keras (``build`` with ``add_weight``, ``call``).

Known differences from Keras: ``BatchNormalization`` updates its moving variance with the unbiased
batch variance (PyTorch's rule; Keras uses the biased one -- the difference is a factor
n / (n - 1) on the update); recurrent layers support only their default activations (tanh and
sigmoid; ``SimpleRNN`` also 'relu'), no ``dropout`` / ``recurrent_dropout`` (put a ``Dropout``
layer before), and no masking.
"""
import inspect
import re

import numpy as np

from .. import functional as F
from .. import nn
from ..nn import registry as _registry
from ..tensor import Tensor
from . import activations as _activations
from . import initializers as _initializers
from . import regularizers as _regularizers

__all__ = ["Layer", "InputLayer", "Input", "Dense", "Activation", "Conv1D", "Conv2D",
           "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
           "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "Flatten", "Reshape",
           "Dropout", "BatchNormalization", "LayerNormalization", "Embedding", "SimpleRNN", "LSTM",
           "GRU", "ReLU", "LeakyReLU", "Softmax", "Lambda"]

_name_counts = {}


def _snake(name):
    """Keras' class-name-to-layer-name rule: 'Conv2D' -> 'conv2d', 'SimpleRNN' -> 'simple_rnn'."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique_name(cls_name):
    """Keras-style automatic names: 'dense', 'dense_1', 'dense_2', ..."""
    base = _snake(cls_name)
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _pair(value, what, layer):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    out = tuple(int(v) for v in value)
    if len(out) != 2 or any(v <= 0 for v in out):
        raise ValueError(f"{layer}: {what} must be a positive int or a pair of them, got {value!r}")
    return out


def _padding_arg(padding, layer):
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
    return p


def _channels_last(data_format, layer):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{layer}: data_format={data_format!r} is not supported; ember is "
                         "channels-last (N, H, W, C): transpose the data instead")


def _same_pads(size, k, s, d=1):
    """TensorFlow's 'same' padding of one axis: (before, after), the odd one after."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _no_unsupported(layer, **args):
    for name, value in args.items():
        if value is not None and value is not False:
            raise NotImplementedError(f"{layer}: {name}={value!r} is not supported by ember.keras")


# -- the common part of every layer ---------------------------------------------------------------
class Layer(nn.Module):
    """What every Keras layer adds to its ember module: a name, ``trainable``, a declared input
    shape, Keras' config, and Keras' weight accessors.

    Your own layers subclass it as in Keras: ``__init__(**kwargs)`` calling
    ``super().__init__(**kwargs)``, an optional ``build(input_shape)`` creating weights with
    ``self.add_weight(shape=..., initializer=...)`` (called on the first input), and
    ``call(inputs)``.  (The built-in layers call ``_keras_init(kwargs)`` and their ember base's
    ``__init__`` instead, and define ``_layer_config()``.)
    """

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        nn.Module.__init__(self)
        self._keras_init(dict(kwargs, trainable=trainable, name=name, dtype=dtype))
        if type(self).build is not Layer.build:
            self.built = False          # a subclass's build(input_shape) runs on the first call

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs)")

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def add_weight(self, name=None, shape=None, initializer="glorot_uniform", dtype=None,
                   trainable=True, regularizer=None, **kwargs):
        """Create, initialise and register a weight (a Parameter) of ``shape``: Keras'
        ``add_weight``.  ``regularizer`` is not supported."""
        if regularizer is not None:
            raise NotImplementedError("add_weight: regularizer is not supported by ember.keras")
        if dtype not in (None, "float32", np.float32):
            raise ValueError(f"add_weight: dtype={dtype!r} is not supported (float32 only)")
        shape = () if shape is None else tuple(int(n) for n in shape)
        count = len(self._parameters)
        attr = name or f"weight_{count}"
        if attr in self._parameters or attr in self.__dict__:
            attr = f"{attr}_{count}"
        w = nn.Parameter(np.zeros(shape, dtype=np.float32))
        _initializers.get(initializer)(w)
        if not trainable or not self.trainable:
            w.requires_grad_(False)
        setattr(self, attr, w)
        return w

    def _keras_init(self, kwargs, input_dim=None):
        layer = type(self).__name__
        name = kwargs.pop("name", None)
        trainable = kwargs.pop("trainable", True)
        dtype = kwargs.pop("dtype", None)
        input_shape = kwargs.pop("input_shape", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("autocast", None)
        kwargs.pop("input_length", None) if layer != "Embedding" else None
        if kwargs:
            raise TypeError(f"{layer}: unexpected keyword argument(s) {', '.join(map(repr, kwargs))}")
        if dtype not in (None, "float32", np.float32) and str(dtype) != "float32":
            raise ValueError(f"{layer}: dtype={dtype!r} is not supported; ember.keras layers compute "
                             "in float32")
        shape = None
        if batch_input_shape is not None:
            shape = tuple(batch_input_shape)[1:]
            batch_size = tuple(batch_input_shape)[0]
        elif input_shape is not None:
            shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
        elif input_dim is not None:
            shape = (int(input_dim),)
        if shape is not None and any(not (n is None or (isinstance(n, (int, np.integer)) and n > 0))
                                     for n in shape):
            raise ValueError(f"{layer}: input_shape must be a tuple of positive ints (None for a "
                             f"variable size), without the batch axis, got {shape!r}")
        object.__setattr__(self, "name", name or _unique_name(layer))
        object.__setattr__(self, "_trainable", bool(trainable))
        object.__setattr__(self, "_declared_input_shape", None if shape is None else
                           tuple(None if n is None else int(n) for n in shape))
        object.__setattr__(self, "_declared_batch_size", batch_size)

    # -- shape declared at construction ---------------------------------------------------------------
    @property
    def declared_input_shape(self):
        """The input shape (without the batch axis) given by input_shape / input_dim, or None."""
        return self.__dict__.get("_declared_input_shape")

    @property
    def input_shape(self):
        """The declared input shape (one sample, no batch axis), or None when not declared or
        when it has a variable (None) size -- what ``Sequential`` reads from its first layer."""
        shape = self.declared_input_shape
        if shape is None or any(n is None for n in shape):
            return None
        return shape

    # -- trainable ------------------------------------------------------------------------------------
    @property
    def trainable(self):
        """False freezes every weight of the layer (Keras' ``layer.trainable = False``)."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value):
        object.__setattr__(self, "_trainable", bool(value))
        self._apply_trainable()

    def _apply_trainable(self):
        if not self.built:
            return            # applied by build() once the weights exist
        for _, m in self.named_modules():
            for p in m._parameters.values():
                if p is not None:
                    p.requires_grad_(self.trainable)

    def build(self, input_shape):
        super().build(input_shape)
        object.__setattr__(self, "_built_input_shape", tuple(input_shape)[1:])
        self.built = True
        if not self.trainable:
            self._apply_trainable()

    # -- Keras' weight accessors ---------------------------------------------------------------------
    def _own_params(self):
        if not self.built:
            return []
        return [p for p in self.parameters()]

    @property
    def trainable_weights(self):
        return [p for p in self._own_params() if p.requires_grad]

    @property
    def non_trainable_weights(self):
        frozen = [p for p in self._own_params() if not p.requires_grad]
        return frozen + [b for b in self.buffers() if b.data.dtype.kind == "f"]

    @property
    def weights(self):
        """Parameters, then float state (e.g. BatchNormalization's moving statistics)."""
        return self._own_params() + [b for b in self.buffers() if b.data.dtype.kind == "f"]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self):
        """The weights as a list of NumPy arrays (copies), in ``weights`` order."""
        return [np.array(w.data) for w in self.weights]

    def set_weights(self, weights):
        """Copy NumPy arrays (in ``weights`` order, shapes must match) into the weights."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(f"{type(self).__name__}.set_weights: got {len(weights)} arrays for "
                             f"{len(own)} weights (shapes {[tuple(w.shape) for w in own]})")
        for i, (w, v) in enumerate(zip(own, weights)):
            v = np.asarray(getattr(v, "data", v))
            if v.shape != tuple(w.shape):
                raise ValueError(f"{type(self).__name__}.set_weights: array {i} has shape {v.shape}, "
                                 f"the weight has shape {tuple(w.shape)}")
            w.data[...] = v

    def count_params(self):
        """The number of scalar parameters (raises while the layer has no weights yet)."""
        if not self.built:
            raise ValueError(f"{type(self).__name__} {self.name!r}: count_params() before the layer "
                             "is built; give input_shape or call the model on data first")
        return self.num_parameters()

    # -- config ---------------------------------------------------------------------------------------
    def _layer_config(self):
        return {}

    def _user_config(self):
        """The recorded (JSON) constructor arguments of a layer class defined outside ember --
        Keras' automatic config for a subclass without ``get_config`` (its ``**kwargs`` go to the
        base layer, whose own config covers them)."""
        owner = next((k for k in type(self).__mro__ if "__init__" in k.__dict__), None)
        if owner is None or _registry.is_ember_module(owner.__module__):
            return {}
        params = inspect.signature(owner.__init__).parameters
        named = {n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        return {k: v for k, v in (self.__dict__.get("_config") or {}).items() if k in named}

    def get_config(self):
        """Keras' config: the layer's arguments (built-in initializers, regularizers and
        activations by name), ``name``, ``trainable`` and the input shape when known.  For your
        own subclass without ``get_config``, its constructor arguments that are JSON values are
        included (as Keras does); others make ``model.save`` fail, asking for ``get_config``."""
        cfg = {"name": self.name, "trainable": self.trainable}
        cfg.update(self._user_config())
        cfg.update(self._layer_config())
        shape = self.__dict__.get("_built_input_shape") or self.declared_input_shape
        if shape is not None:
            cfg["input_shape"] = list(shape)
        return cfg

    @classmethod
    def from_config(cls, config):
        """``cls(**config)``."""
        return cls(**config)

    from_config.__func__._calls_constructor = True

    def extra_repr(self):
        return f"name={self.name!r}"


def _activation_config(fn):
    return _activations.serialize(fn)


def _with_activation(layer, y):
    act = layer.activation
    return y if act is _activations.linear else act(y)


class _KernelAndBiasPenalty:
    """A weight regularizer that also penalises the layer's bias (Keras' ``bias_regularizer``):
    ``ember.nn.regularization_loss`` calls it with the weight; the bias is read from the layer."""

    def __init__(self, layer, kernel, bias):
        self.layer, self.kernel, self.bias = layer, kernel, bias

    def __call__(self, weight):
        total = None
        if self.kernel is not None:
            total = self.kernel(weight)
        b = self.layer._parameters.get("bias")
        if self.bias is not None and b is not None:
            term = self.bias(b)
            total = term if total is None else total + term
        return total if total is not None else F.sum(weight * 0.0)

    def __repr__(self):
        return f"kernel={self.kernel!r}, bias={self.bias!r}"


def _weight_penalty(layer, kernel_regularizer, bias_regularizer):
    k = _regularizers.get(kernel_regularizer)
    b = _regularizers.get(bias_regularizer)
    if b is None:
        return k
    return _KernelAndBiasPenalty(layer, k, b)


def _serialize_regularizer(reg):
    try:
        return _regularizers.serialize(reg)
    except TypeError:
        return reg


def _as_float_input(x):
    """NumPy / integer inputs as float32 Tensors (Keras casts inputs to the layer's dtype)."""
    if not isinstance(x, Tensor):
        x = Tensor._wrap(np.asarray(x, dtype=np.float32))
    elif x.data.dtype.kind != "f":
        x = x.astype("float32")
    return x


# -- input --------------------------------------------------------------------------------------
class InputLayer(Layer):
    """Declares the model's input shape (without the batch axis); passes its input through.
    ``Sequential`` reads the shape from it and does not keep it as a layer (as Keras)."""

    is_input_layer = True

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        if shape is None:
            shape = kwargs.pop("input_shape", None)
        if shape is None:
            raise ValueError("Input: give the shape of one sample, e.g. Input(shape=(784,))")
        nn.Module.__init__(self)
        self._keras_init(dict(kwargs, input_shape=shape, batch_size=batch_size, dtype=dtype,
                              name=name))

    @property
    def shape(self):
        """(batch_size, *shape), as a Keras symbolic input's shape."""
        return (self.__dict__.get("_declared_batch_size"),) + tuple(self.declared_input_shape)

    def forward(self, x):
        return x

    def _layer_config(self):
        return {"shape": list(self.declared_input_shape)}

    def get_config(self):
        return {"name": self.name, "shape": list(self.declared_input_shape)}


def Input(shape=None, batch_size=None, dtype=None, name=None, **kwargs):
    """Keras' ``Input(shape=...)``: here an :class:`InputLayer` (put it first in a
    ``Sequential``; ember.keras has no functional API)."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, **kwargs)


# -- dense ----------------------------------------------------------------------------------------
class Dense(Layer, nn.Linear):
    """Fully connected layer on the LAST axis of an input of any rank:
    ``activation(x @ kernel + bias)``, kernel (input_dim, units).

    Keras' defaults: Glorot-uniform kernel, zero bias, no activation.  The kernel is sized from
    the first input's last axis (``input_dim`` / ``input_shape`` declare a model's input).
    ``kernel_regularizer`` / ``bias_regularizer`` add their penalties to the training loss.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        input_dim = kwargs.pop("input_dim", None)
        self._keras_init(kwargs, input_dim=input_dim)
        _no_unsupported("Dense", activity_regularizer=activity_regularizer,
                        kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = _activations.get(activation)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self._bias_regularizer = _regularizers.get(bias_regularizer)
        nn.Linear.__init__(self, None, self.units, bias=use_bias)
        self.weight_regularizer = _weight_penalty(self, kernel_regularizer, bias_regularizer)

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

    def forward(self, x):
        return _with_activation(self, nn.Linear.forward(self, _as_float_input(x)))

    def _layer_config(self):
        reg = self.weight_regularizer
        kernel_reg = reg.kernel if isinstance(reg, _KernelAndBiasPenalty) else reg
        return {"units": self.units, "activation": _activation_config(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _serialize_regularizer(kernel_reg),
                "bias_regularizer": _serialize_regularizer(self._bias_regularizer)}

    def extra_repr(self):
        return (f"{self.units}, activation={_activation_config(self.activation)!r}, "
                f"input_dim={self.in_features}, name={self.name!r}")


class Activation(Layer):
    """Applies an activation (a name such as 'relu', or a callable)."""

    def __init__(self, activation, **kwargs):
        nn.Module.__init__(self)
        self._keras_init(kwargs)
        self.activation = _activations.get(activation)

    def forward(self, x):
        return self.activation(_as_float_input(x))

    def _layer_config(self):
        return {"activation": _activation_config(self.activation)}


class Lambda(Layer):
    """Wraps a function as a layer: ``Lambda(function, arguments=None)`` computes
    ``function(inputs, **arguments)`` (Keras' ``Lambda``; ``output_shape`` is accepted and not
    needed, since ember finds shapes by running the layer; ``mask`` is not supported).

    Saving (``model.save``): a named function is saved by reference -- ember's own, or one
    registered with ``ember.keras.saving.register_keras_serializable()`` or passed to
    ``load_model(..., custom_objects=...)``.  A Python ``lambda`` cannot be saved (ember never
    stores code in a file): ``save`` raises and names the fix; ``clone_model`` copies it.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        nn.Module.__init__(self)
        self._keras_init(kwargs)
        _no_unsupported("Lambda", mask=mask)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got {type(function).__name__}")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: arguments must be a dict of keyword arguments, got "
                            f"{type(arguments).__name__}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = None if output_shape is None or callable(output_shape) \
            else list(output_shape)

    def forward(self, x):
        return self.function(x, **self.arguments)

    def _layer_config(self):
        what = f"Lambda {self.name!r}"
        return {"function": _registry.serialize_object(self.function, what),
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


class ReLU(Layer):
    """max(x, 0), with Keras' optional ``max_value``, ``negative_slope`` and ``threshold``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        nn.Module.__init__(self)
        self._keras_init(kwargs)
        self.max_value = max_value
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def forward(self, x):
        return _activations.relu(_as_float_input(x), self.negative_slope, self.max_value, self.threshold)

    def _layer_config(self):
        return {"max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """x for x > 0, negative_slope * x otherwise (Keras' default slope 0.3)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        alpha = kwargs.pop("alpha", None)          # Keras 2's name
        nn.Module.__init__(self)
        self._keras_init(kwargs)
        self.negative_slope = float(negative_slope if alpha is None else alpha)

    def forward(self, x):
        return F.leaky_relu(_as_float_input(x), self.negative_slope)

    def _layer_config(self):
        return {"negative_slope": self.negative_slope}


class Softmax(Layer):
    """softmax along ``axis`` (default the last)."""

    def __init__(self, axis=-1, **kwargs):
        nn.Module.__init__(self)
        self._keras_init(kwargs)
        self.axis = int(axis)

    def forward(self, x):
        return F.softmax(_as_float_input(x), self.axis)

    def _layer_config(self):
        return {"axis": self.axis}


# -- convolution ------------------------------------------------------------------------------------
class _KerasConv:
    """Shared by Conv1D and Conv2D: Keras' arguments, initialisers and 'same' padding."""

    def _conv_setup(self, rank, filters, kernel_size, strides, padding, data_format, dilation_rate,
                    groups, activation, use_bias, kernel_initializer, bias_initializer,
                    kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
                    bias_constraint, kwargs):
        layer = type(self).__name__
        self._keras_init(kwargs)
        _channels_last(data_format, layer)
        _no_unsupported(layer, activity_regularizer=activity_regularizer,
                        kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        if groups != 1:
            raise NotImplementedError(f"{layer}: groups={groups} is not supported (only 1)")
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"{layer}: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        k = (kernel_size,) * rank if isinstance(kernel_size, int) else tuple(kernel_size)
        s = (strides,) * rank if isinstance(strides, int) else tuple(strides)
        d = (dilation_rate,) * rank if isinstance(dilation_rate, int) else tuple(dilation_rate)
        if len(k) != rank or len(s) != rank or len(d) != rank:
            raise ValueError(f"{layer}: kernel_size, strides and dilation_rate must be ints or "
                             f"{rank}-tuples, got {kernel_size!r}, {strides!r}, {dilation_rate!r}")
        self.keras_padding = _padding_arg(padding, layer)
        # stride 1 'same' is ember's own 'same'; with strides the input is padded explicitly
        self._pad_explicitly = self.keras_padding == "same" and any(v != 1 for v in s)
        ember_padding = self.keras_padding if not self._pad_explicitly else 0
        self.activation = _activations.get(activation)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self._bias_regularizer = _regularizers.get(bias_regularizer)
        return k, s, d, ember_padding

    def reset_parameters(self):
        self.kernel_initializer(self.weight)
        if self.bias is not None:
            self.bias_initializer(self.bias)

    @property
    def kernel(self):
        return self.weight

    def _conv_config(self):
        reg = self.weight_regularizer
        kernel_reg = reg.kernel if isinstance(reg, _KernelAndBiasPenalty) else reg
        one = len(self.kernel_size) == 1
        return {"filters": self.filters,
                "kernel_size": self.kernel_size[0] if one else list(self.kernel_size),
                "strides": self.stride[0] if one else list(self.stride),
                "padding": self.keras_padding,
                "dilation_rate": self.dilation[0] if one else list(self.dilation),
                "activation": _activation_config(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _serialize_regularizer(kernel_reg),
                "bias_regularizer": _serialize_regularizer(self._bias_regularizer)}


class Conv2D(_KerasConv, Layer, nn.Conv2d):
    """2-D convolution over channels-last images (N, H, W, C) -> (N, H', W', filters).

    Keras' arguments and defaults: ``strides=(1, 1)``, ``padding='valid'`` ('same' keeps
    ceil(H / stride), padding as TensorFlow: the odd pixel after), ``dilation_rate=(1, 1)``,
    Glorot-uniform kernel (kh, kw, C_in, filters), zero bias, no activation.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        k, s, d, pad = self._conv_setup(2, filters, kernel_size, strides, padding, data_format,
                                        dilation_rate, groups, activation, use_bias,
                                        kernel_initializer, bias_initializer, kernel_regularizer,
                                        bias_regularizer, activity_regularizer, kernel_constraint,
                                        bias_constraint, kwargs)
        nn.Conv2d.__init__(self, None, self.filters, k, stride=s, padding=pad,
                           dilation=d, bias=use_bias)
        self.weight_regularizer = _weight_penalty(self, kernel_regularizer, bias_regularizer)

    def forward(self, x):
        x = _as_float_input(x)
        if self._pad_explicitly and x.ndim == 4:
            (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
            x = F.pad(x, ((0, 0), _same_pads(x.shape[1], kh, sh, dh), _same_pads(x.shape[2], kw, sw, dw),
                          (0, 0)))
        return _with_activation(self, nn.Conv2d.forward(self, x))

    def _layer_config(self):
        return self._conv_config()


class Conv1D(_KerasConv, Layer, nn.Conv1d):
    """1-D convolution over sequences (N, T, C) -> (N, T', filters), Keras' arguments."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        k, s, d, pad = self._conv_setup(1, filters, kernel_size, strides, padding, data_format,
                                        dilation_rate, groups, activation, use_bias,
                                        kernel_initializer, bias_initializer, kernel_regularizer,
                                        bias_regularizer, activity_regularizer, kernel_constraint,
                                        bias_constraint, kwargs)
        nn.Conv1d.__init__(self, None, self.filters, k[0], stride=s[0],
                           padding=pad, dilation=d[0], bias=use_bias)
        self.weight_regularizer = _weight_penalty(self, kernel_regularizer, bias_regularizer)

    def forward(self, x):
        x = _as_float_input(x)
        if self._pad_explicitly and x.ndim == 3:
            x = F.pad(x, ((0, 0), _same_pads(x.shape[1], self.kernel_size[0], self.stride[0],
                                              self.dilation[0]), (0, 0)))
        return _with_activation(self, nn.Conv1d.forward(self, x))

    def _layer_config(self):
        return self._conv_config()


# -- pooling ------------------------------------------------------------------------------------
class _KerasPool2D(Layer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        nn.Module.__init__(self)
        layer = type(self).__name__
        self._keras_init(kwargs)
        _channels_last(data_format, layer)
        self.pool_size = _pair(pool_size, "pool_size", layer)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides", layer)
        self.padding = _padding_arg(padding, layer)

    def _pads(self, x):
        return (_same_pads(x.shape[1], self.pool_size[0], self.strides[0]),
                _same_pads(x.shape[2], self.pool_size[1], self.strides[1]))

    def _check(self, x):
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects a 4-D input (N, H, W, C) (channels last), "
                             f"got shape {tuple(x.shape)}")

    def _layer_config(self):
        return {"pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


class MaxPooling2D(_KerasPool2D):
    """Max over ``pool_size`` windows (default (2, 2)), ``strides`` defaulting to ``pool_size``;
    ``padding='same'`` pads (ignored by the max) to ceil(H / stride) outputs."""

    def forward(self, x):
        x = _as_float_input(x)
        self._check(x)
        if self.padding == "same":
            ph, pw = self._pads(x)
            if any(ph) or any(pw):
                x = F.pad(x, ((0, 0), ph, pw, (0, 0)), value=-np.inf)
        return F.max_pool2d(x, self.pool_size, self.strides)


class AveragePooling2D(_KerasPool2D):
    """Mean over ``pool_size`` windows; with ``padding='same'`` the mean of a border window
    counts only the real pixels (as Keras)."""

    def forward(self, x):
        x = _as_float_input(x)
        self._check(x)
        if self.padding == "same":
            ph, pw = self._pads(x)
            if any(ph) or any(pw):
                widths = ((0, 0), ph, pw, (0, 0))
                ones = np.ones((1,) + tuple(x.shape[1:3]) + (1,), dtype=x.data.dtype)
                count = F.avg_pool2d(F.pad(Tensor._wrap(ones), widths), self.pool_size, self.strides)
                return F.avg_pool2d(F.pad(x, widths), self.pool_size, self.strides) / count
        return F.avg_pool2d(x, self.pool_size, self.strides)


class GlobalAveragePooling2D(Layer):
    """Mean over H and W: (N, H, W, C) -> (N, C) (``keepdims=True``: (N, 1, 1, C))."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        nn.Module.__init__(self)
        self._keras_init(kwargs)
        _channels_last(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def forward(self, x):
        x = _as_float_input(x)
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects a 4-D input (N, H, W, C), got shape "
                             f"{tuple(x.shape)}")
        return F.global_avg_pool2d(x, keepdims=self.keepdims)

    def _layer_config(self):
        return {"keepdims": self.keepdims}


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    """Max over H and W: (N, H, W, C) -> (N, C) (``keepdims=True``: (N, 1, 1, C))."""

    def forward(self, x):
        x = _as_float_input(x)
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects a 4-D input (N, H, W, C), got shape "
                             f"{tuple(x.shape)}")
        return F.max(x, axis=(1, 2), keepdims=self.keepdims)


MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D


# -- reshaping ----------------------------------------------------------------------------------------
class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...); images flatten in H, W, C order (as Keras)."""

    def __init__(self, data_format=None, **kwargs):
        nn.Module.__init__(self)
        self._keras_init(kwargs)
        _channels_last(data_format, "Flatten")

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))
        if x.ndim == 0:
            raise ValueError("Flatten: expected a batched input (N, ...), got a 0-d tensor")
        return F.reshape(x, (x.shape[0], -1) if x.shape[0] else (0, int(np.prod(x.shape[1:]))))


class Reshape(Layer, nn.Reshape):
    """Reshape each sample to ``target_shape`` (one entry may be -1): (N, ...) -> (N, *target_shape)."""

    def __init__(self, target_shape, **kwargs):
        self._keras_init(kwargs)
        target_shape = (target_shape,) if isinstance(target_shape, int) else tuple(target_shape)
        nn.Reshape.__init__(self, *target_shape)
        self.target_shape = self.shape

    def forward(self, x):
        return nn.Reshape.forward(self, x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x)))

    def _layer_config(self):
        return {"target_shape": list(self.target_shape)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Dropout(Layer, nn.Dropout):
    """Zero each element with probability ``rate`` in training (scaling the rest by
    1 / (1 - rate)); the identity in evaluation and prediction."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        self._keras_init(kwargs)
        _no_unsupported("Dropout", noise_shape=noise_shape)
        nn.Dropout.__init__(self, p=rate)
        self.rate = self.p
        self.seed = seed

    def forward(self, x):
        return nn.Dropout.forward(self, _as_float_input(x))

    def _layer_config(self):
        return {"rate": self.rate, "seed": self.seed}


# -- normalisation ------------------------------------------------------------------------------------
class BatchNormalization(Layer, nn.BatchNorm1d):
    """Batch normalisation over every axis but the last (channels), for inputs of rank 2 to 5.

    Keras' arguments: ``momentum=0.99`` is the weight of the OLD moving statistics
    (``moving = momentum * moving + (1 - momentum) * batch``; PyTorch's momentum is 1 - that),
    ``epsilon=1e-3``, ``center`` (beta) and ``scale`` (gamma).  ``trainable = False`` freezes
    gamma and beta and makes the layer use its moving statistics even in training (Keras').
    """
    _ndims = (2, 3, 4, 5)
    _layout = "(N, ..., C)"

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, **kwargs):
        self._keras_init(kwargs)
        _no_unsupported("BatchNormalization", beta_regularizer=beta_regularizer,
                        gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
                        gamma_constraint=gamma_constraint, synchronized=synchronized)
        if axis not in (-1, [-1], (-1,)):
            raise ValueError(f"BatchNormalization: axis={axis!r} is not supported; ember normalises "
                             "the last (channels) axis, axis=-1")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        self.keras_momentum = float(momentum)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self.moving_mean_initializer = _initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = _initializers.get(moving_variance_initializer)
        nn.BatchNorm1d.__init__(self, None, eps=float(epsilon),
                                momentum=1.0 - self.keras_momentum, affine=True)

    def _create(self, c):
        nn.BatchNorm1d._create(self, c)
        if self.scale:
            self.gamma_initializer(self.weight)
        else:
            self.weight = None
        if self.center:
            self.beta_initializer(self.bias)
        else:
            self.bias = None
        self.moving_mean_initializer(self.running_mean)
        self.moving_variance_initializer(self.running_var)

    @property
    def gamma(self):
        return self.weight

    @property
    def beta(self):
        return self.bias

    @property
    def moving_mean(self):
        return self.running_mean

    @property
    def moving_variance(self):
        return self.running_var

    @property
    def epsilon(self):
        return self.eps

    def forward(self, x):
        x = _as_float_input(x)
        if self.training and not self.trainable:
            object.__setattr__(self, "training", False)
            try:
                return nn.BatchNorm1d.forward(self, x)
            finally:
                object.__setattr__(self, "training", True)
        return nn.BatchNorm1d.forward(self, x)

    def _layer_config(self):
        return {"axis": -1, "momentum": self.keras_momentum, "epsilon": self.eps,
                "center": self.center, "scale": self.scale,
                "beta_initializer": _initializers.serialize(self.beta_initializer),
                "gamma_initializer": _initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": _initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": _initializers.serialize(self.moving_variance_initializer)}

    def extra_repr(self):
        return (f"{self.num_features}, momentum={self.keras_momentum}, epsilon={self.eps}, "
                f"name={self.name!r}")


class LayerNormalization(Layer, nn.LayerNorm):
    """Normalise each sample over its last axis: (x - mean) / sqrt(var + epsilon) * gamma + beta,
    Keras' ``epsilon=1e-3``; ``center`` / ``scale`` switch beta / gamma off."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, rms_scaling=False, **kwargs):
        self._keras_init(kwargs)
        _no_unsupported("LayerNormalization", beta_regularizer=beta_regularizer,
                        gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
                        gamma_constraint=gamma_constraint, rms_scaling=rms_scaling)
        if axis not in (-1, [-1], (-1,)):
            raise ValueError(f"LayerNormalization: axis={axis!r} is not supported; ember normalises "
                             "the last axis, axis=-1")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        nn.LayerNorm.__init__(self, None, eps=float(epsilon),
                              elementwise_affine=self.center or self.scale, bias=self.center)

    def _create(self, shape):
        nn.LayerNorm._create(self, shape)
        if self.weight is not None:
            if self.scale:
                self.gamma_initializer(self.weight)
            else:
                self.weight = None
        if self.bias is not None:
            self.beta_initializer(self.bias)

    @property
    def gamma(self):
        return self.weight

    @property
    def beta(self):
        return self.bias

    @property
    def epsilon(self):
        return self.eps

    def forward(self, x):
        return nn.LayerNorm.forward(self, _as_float_input(x))

    def _layer_config(self):
        return {"axis": -1, "epsilon": self.eps, "center": self.center, "scale": self.scale,
                "beta_initializer": _initializers.serialize(self.beta_initializer),
                "gamma_initializer": _initializers.serialize(self.gamma_initializer)}


# -- embedding ------------------------------------------------------------------------------------
class Embedding(Layer, nn.Embedding):
    """Integer ids (N, ...) -> vectors (N, ..., output_dim) from a table (input_dim, output_dim).

    Keras' default initialisation U(-0.05, 0.05) ('uniform').  Float ids holding whole numbers are
    accepted (Keras casts them).  ``mask_zero`` is not supported.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, activity_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, **kwargs):
        input_length = kwargs.pop("input_length", None)
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        self._keras_init(kwargs)
        _no_unsupported("Embedding", activity_regularizer=activity_regularizer,
                        embeddings_constraint=embeddings_constraint, mask_zero=mask_zero)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = _initializers.get(embeddings_initializer)
        nn.Embedding.__init__(self, self.input_dim, self.output_dim,
                              weight_regularizer=_regularizers.get(embeddings_regularizer))

    def reset_parameters(self):
        self.embeddings_initializer(self.weight)

    @property
    def embeddings(self):
        return self.weight

    def forward(self, ids):
        data = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        if data.dtype.kind == "f":
            if data.size and not np.array_equal(data, np.floor(data)):
                raise TypeError(f"Embedding {self.name!r}: ids must be whole numbers, got float values "
                                "with fractions")
            ids = Tensor._wrap(data.astype(np.int64))
        return nn.Embedding.forward(self, ids)

    def _layer_config(self):
        return {"input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": _initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": _serialize_regularizer(self.weight_regularizer)}


# -- recurrent ---------------------------------------------------------------------------------
class _KerasRecurrent(Layer):
    """Keras' recurrent-layer arguments on ember's fused RNN / LSTM / GRU (one layer, batch-first).

    ``return_sequences`` returns every step (N, T, units) instead of the last (N, units);
    ``return_state`` also returns the final state(s) (a list: [output, h] or, for LSTM,
    [output, h, c]); ``go_backwards`` reads the sequence in reverse (and returns the reversed
    sequence, as Keras).  Keras' initialisation: Glorot-uniform input kernel, orthogonal recurrent
    kernel, zero biases (LSTM: the forget gate's bias starts at 1, ``unit_forget_bias``).
    """
    _ember = None

    def _recurrent_setup(self, units, activation, recurrent_activation, use_bias,
                         kernel_initializer, recurrent_initializer, bias_initializer,
                         return_sequences, return_state, go_backwards, stateful, dropout,
                         recurrent_dropout, unroll, kwargs, allowed_activations=("tanh",)):
        layer = type(self).__name__
        for key in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                    "activity_regularizer", "kernel_constraint", "recurrent_constraint",
                    "bias_constraint", "seed", "use_cudnn", "time_major", "zero_output_for_mask"):
            value = kwargs.pop(key, None)
            if key in ("seed", "use_cudnn", "zero_output_for_mask", "time_major"):
                continue
            _no_unsupported(layer, **{key: value})
        self._keras_init(kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{layer}: units must be a positive int, got {units!r}")
        act = _activations.serialize(_activations.get(activation))
        if act not in allowed_activations:
            raise NotImplementedError(f"{layer}: activation={activation!r} is not supported; ember's "
                                      f"fused {layer} computes with {' or '.join(allowed_activations)}")
        if recurrent_activation is not None and \
                _activations.serialize(_activations.get(recurrent_activation)) != "sigmoid":
            raise NotImplementedError(f"{layer}: recurrent_activation={recurrent_activation!r} is not "
                                      "supported (only 'sigmoid')")
        if dropout or recurrent_dropout:
            raise NotImplementedError(f"{layer}: dropout / recurrent_dropout are not supported; put a "
                                      "Dropout layer before the recurrent layer instead")
        _no_unsupported(layer, stateful=stateful)
        self.units = int(units)
        self.activation_name = act
        self.use_bias = bool(use_bias)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.unroll = bool(unroll)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.recurrent_initializer = _initializers.get(recurrent_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        return act

    def _create(self, input_size):
        type(self)._ember._create(self, input_size)
        self.kernel_initializer(self.weight_ih_l0)
        self.recurrent_initializer(self.weight_hh_l0)
        if self.bias:
            self._init_biases()

    def _init_biases(self):
        self.bias_initializer(self.bias_ih_l0)
        self.bias_hh_l0.data[...] = 0

    @property
    def kernel(self):
        return self.weight_ih_l0

    @property
    def recurrent_kernel(self):
        return self.weight_hh_l0

    def forward(self, x, initial_state=None):
        x = _as_float_input(x)
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects a 3-D input (batch, "
                             f"timesteps, features), got shape {tuple(x.shape)}")
        if self.go_backwards:
            x = F.flip(x, axis=1)
        y, states = self._run_ember(x, initial_state)
        out = y if self.return_sequences else y[:, -1, :]
        if not self.return_state:
            return out
        return [out] + [s[0] for s in states]

    def _recurrent_config(self):
        return {"units": self.units, "activation": self.activation_name,
                "use_bias": self.use_bias, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": _initializers.serialize(self.recurrent_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer)}

    def extra_repr(self):
        return f"{self.units}, return_sequences={self.return_sequences}, name={self.name!r}"


def _initial(state, n=1):
    """Keras' initial_state (a tensor or a list of them, each (N, units)) as ember's
    (1, N, units) state(s)."""
    if state is None:
        return None
    states = list(state) if isinstance(state, (list, tuple)) else [state]
    out = [F.expand_dims(s if isinstance(s, Tensor) else Tensor._wrap(np.asarray(s, dtype=np.float32)), 0)
           for s in states]
    return out[0] if n == 1 else tuple(out)


class SimpleRNN(_KerasRecurrent, nn.RNN):
    """Fully connected RNN: ``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + b)``
    (activation 'tanh' or 'relu')."""
    _ember = nn.RNN

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        act = self._recurrent_setup(units, activation, None, use_bias, kernel_initializer,
                                    recurrent_initializer, bias_initializer, return_sequences,
                                    return_state, go_backwards, stateful, dropout,
                                    recurrent_dropout, unroll, kwargs, ("tanh", "relu"))
        nn.RNN.__init__(self, None, self.units, nonlinearity=act, bias=use_bias)

    def _run_ember(self, x, initial_state):
        y, h = nn.RNN.forward(self, x, _initial(initial_state))
        return y, [h]

    def _layer_config(self):
        return self._recurrent_config()


class LSTM(_KerasRecurrent, nn.LSTM):
    """Long short-term memory (gates i, f, c, o; activation tanh, recurrent activation sigmoid)."""
    _ember = nn.LSTM

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        self._recurrent_setup(units, activation, recurrent_activation, use_bias, kernel_initializer,
                              recurrent_initializer, bias_initializer, return_sequences,
                              return_state, go_backwards, stateful, dropout, recurrent_dropout,
                              unroll, kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        nn.LSTM.__init__(self, None, self.units, bias=use_bias)

    def _init_biases(self):
        super()._init_biases()
        if self.unit_forget_bias:
            H = self.units
            self.bias_ih_l0.data[H:2 * H] = 1.0     # gate order i, f, g, o: the forget block

    def _run_ember(self, x, initial_state):
        state = _initial(initial_state, 2)
        y, (h, c) = nn.LSTM.forward(self, x, state)
        return y, [h, c]

    def _layer_config(self):
        cfg = self._recurrent_config()
        cfg.update({"recurrent_activation": "sigmoid", "unit_forget_bias": self.unit_forget_bias})
        return cfg


class GRU(_KerasRecurrent, nn.GRU):
    """Gated recurrent unit in Keras' default ``reset_after=True`` form (which is PyTorch's, with
    separate input and recurrent biases)."""
    _ember = nn.GRU

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, reset_after=True, **kwargs):
        if not reset_after:
            raise NotImplementedError("GRU: reset_after=False is not supported (ember's GRU is the "
                                      "reset_after=True form, Keras' default)")
        self._recurrent_setup(units, activation, recurrent_activation, use_bias, kernel_initializer,
                              recurrent_initializer, bias_initializer, return_sequences,
                              return_state, go_backwards, stateful, dropout, recurrent_dropout,
                              unroll, kwargs)
        nn.GRU.__init__(self, None, self.units, bias=use_bias)

    def _init_biases(self):
        # Keras' GRU bias (2, 3 * units) holds both the input and the recurrent bias
        self.bias_initializer(self.bias_ih_l0)
        self.bias_initializer(self.bias_hh_l0)

    def _run_ember(self, x, initial_state):
        y, h = nn.GRU.forward(self, x, _initial(initial_state))
        return y, [h]

    def _layer_config(self):
        cfg = self._recurrent_config()
        cfg.update({"recurrent_activation": "sigmoid", "reset_after": True})
        return cfg

