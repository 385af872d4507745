"""Keras models: ``Sequential`` (a list of layers, or ``.add``) and ``Model`` (subclass it and
define ``call``), on ``ember.train``'s models.

They are ``ember.train`` models (``fit`` with its progress bar, callbacks, checks before the first
step, ``History.plot``, ``save``...) that speak Keras:

* ``compile(optimizer='rmsprop', loss=None, metrics=None, loss_weights=None)`` takes Keras' names
  ('adam' is Keras' Adam -- epsilon 1e-7 --, 'sparse_categorical_crossentropy', 'accuracy', ...),
  ``keras.optimizers`` / ``keras.losses`` / ``keras.metrics`` objects and Keras-style functions
  ``loss(y_true, y_pred)``;
* ``fit`` / ``evaluate`` / ``predict`` take Keras' positional order and defaults
  (``batch_size=None`` means 32), and, like Keras' data adapter, read a 1-D ``x`` (one number per
  sample) as (N, 1);
* ``model(x)`` runs in inference mode (Dropout off, BatchNormalization on its moving statistics)
  unless called with ``training=True``, as in Keras; it accepts NumPy arrays;
* Keras' names: ``layers``, ``trainable``, ``trainable_variables`` / ``trainable_weights``,
  ``non_trainable_weights``, ``weights``, ``count_params()``, ``get_weights()`` /
  ``set_weights()``, ``summary()``; ``optimizer.apply_gradients`` for GradientTape loops.
"""
import inspect
import os
import warnings

import numpy as np

from .. import functional as F
from .. import train as _train
from ..tensor import Tensor
from ..nn import registry as _registry
from ..nn.module import UnbuiltModuleError
from . import losses as _losses
from . import metrics as _metrics
from . import naming
from . import optimizers as _optimizers
from . import keras_tensor as _kt
from .functional import GraphModel
from .keras_tensor import KerasTensor
from .layers.base import KerasWeights, Layer
from .training import KerasTrainer

__all__ = ["Sequential", "Model", "load_model", "clone_model"]


_CALL_DEPTH = [0]      # models being called right now (a model used as a layer sees > 0)


class _KerasModel(KerasTrainer, KerasWeights):
    """Keras' model API on an ember.train model (mixin, first base)."""

    # -- calling --------------------------------------------------------------------------------------
    def __call__(self, *args, training=None, mask=None, **kwargs):
        """``model(x)``: inference mode unless ``training=True`` (Keras); NumPy input accepted.
        On symbolic tensors, the model is used as a layer of a functional graph."""
        if _kt.any_symbolic(args, kwargs):
            if training is not None:
                kwargs["training"] = training
            return _kt.symbolic_call(self, args, kwargs)
        return self._call_on_values(*args, training=training, **kwargs)

    def _call_on_values(self, *args, training=None, mask=None, **kwargs):
        # training=None: inference at the top level; inside another model's call (a model used
        # as a layer), the modes the outer call set are kept (Keras passes its training on).
        if training is None and _CALL_DEPTH[0]:
            return self._nested_call(args, kwargs)
        modes = [(m, m.training) for m in self.modules()]
        self.train(bool(training))
        try:
            return self._nested_call(args, kwargs)
        finally:
            for m, flag in modes:
                m.training = flag

    def _nested_call(self, args, kwargs):
        _CALL_DEPTH[0] += 1
        try:
            return _train.Model.__call__(self, *args, **kwargs)
        finally:
            _CALL_DEPTH[0] -= 1

    def _forward(self, x):
        # fit / evaluate / predict set the modes themselves: call without forcing one
        if isinstance(x, tuple):
            return self._nested_call(x, {})
        if isinstance(x, dict):
            return self._nested_call((), x)
        return self._nested_call((x,), {})

    def build(self, input_shape=None, dtype=None):
        """Keras' ``model.build(input_shape)``: the shape *with* its batch axis, e.g.
        ``model.build((None, 784))`` or ``build((None, 28, 28, 1))``; creates every layer's
        weights by running one zero batch (ember.train's ``build`` takes the shape without the
        batch axis)."""
        if input_shape is not None:
            shape = tuple(input_shape)
            if not shape or any(isinstance(d, (tuple, list)) for d in shape):
                raise ValueError(f"{type(self).__name__}.build: expected one input shape with its "
                                 f"batch axis, e.g. (None, 784); got {input_shape!r}. Fix: for "
                                 "several inputs, call the model on one batch instead")
            input_shape = shape[1:]
        return _train.Model.build(self, input_shape, dtype=dtype)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print the table of layers (output shapes, parameter counts, memory; for a functional
        model, the layers each is connected to)."""
        if getattr(self, "_graph", None) is not None:
            text = self._graph_summary(line_length)
            (print if print_fn is None else print_fn)(text)
            return
        _train.Model.summary(self, print_fn=print if print_fn is None else print_fn,
                             line_length=line_length)

    # -- Keras' names -----------------------------------------------------------------------------------
    def _own_params(self):
        try:
            return list(self.parameters())
        except UnbuiltModuleError:
            return []      # Keras: an unbuilt model has no weights yet

    def _apply_trainable(self):
        """``model.trainable = False`` freezes the whole model (every layer)."""
        value = self.trainable
        for m in self.modules():
            if m is not self and isinstance(m, Layer):
                m.trainable = value
        for p in self._own_params():      # weights created non-trainable stay so
            p.requires_grad_(value and getattr(p, "_keras_trainable", True))

    @property
    def weights(self):
        """Layer by layer (Keras' order): each layer's parameters, then its float state (e.g.
        BatchNormalization's moving statistics)."""
        if not self._own_params() and not list(self.buffers()):
            return []
        out = [p for p in self._parameters.values() if p is not None]   # the model's own
        seen = {id(p) for p in out}
        for layer in self.children():
            for w in list(layer.parameters()) + [b for b in layer.buffers() if b.data.dtype.kind == "f"]:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    # -- files: Keras' formats by file name, ember's safetensors otherwise -----------------------------
    def save(self, filepath, overwrite=True, include_optimizer=True, **kwargs):
        """Save the whole model.  ``*.keras``: Keras 3's format; ``*.h5`` / ``*.hdf5``: tf.keras'
        HDF5 format (Keras 3's "legacy" one, without the optimizer's state).  Real Keras loads
        both; a model ember cannot describe to Keras -- subclassed, keras.ops calls, nested
        models, Lambda -- is written in ember's format under that name, with a warning.  Any
        other name: ember's safetensors format (``ember.train.Model.save``)."""
        from . import keras_file
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{type(self).__name__}.save: {os.fspath(filepath)} exists and "
                                  "overwrite=False")
        kind = keras_file.kind_of_path(filepath)
        if kind in ("keras", "h5"):
            write = keras_file.save_keras if kind == "keras" else keras_file.save_legacy_h5
            try:
                return write(self, filepath, include_optimizer=include_optimizer)
            except keras_file.KerasFileError as err:
                warnings.warn(f"{err} -- written in ember's format instead (ember loads it, real "
                              "Keras does not)", stacklevel=2)
        return _train.Model.save(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """``*.weights.h5``: Keras 3's weights layout (real Keras' ``load_weights`` reads it);
        any other name: ember's safetensors."""
        from . import keras_file
        if keras_file.kind_of_path(filepath) == "weights_h5":
            return keras_file.save_weights_h5(self, filepath)
        return _train.Model.save_weights(self, filepath)

    def load_weights(self, filepath, skip_mismatch=False, strict=True, **kwargs):
        """Weights from ``*.weights.h5`` (Keras 3) or ``*.h5`` (tf.keras 2), matched by position
        as Keras does, else from ember's safetensors files."""
        from . import keras_file
        if keras_file.kind_of_path(filepath) in ("weights_h5", "h5") and \
                not _is_safetensors(filepath):
            return keras_file.load_weights_h5(self, filepath)
        return _train.Model.load_weights(self, filepath, strict=strict)

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at ``index`` in ``model.layers``)."""
        layers = list(getattr(self, "layers", None) or self.children())
        if index is not None:
            return layers[index]
        for layer in layers:
            if getattr(layer, "name", None) == name:
                return layer
        raise ValueError(f"get_layer: no layer named {name!r}; the layers are "
                         f"{[getattr(m, 'name', type(m).__name__) for m in layers]}")


class Sequential(_KerasModel, _train.Sequential):
    """A stack of layers: ``Sequential([Dense(128, activation='relu', input_shape=(784,)),
    Dense(10, activation='softmax')])`` or ``Sequential()`` then ``.add(layer)``.

    The first layer's ``input_shape`` / ``input_dim`` (or an ``Input(shape)`` first) declares
    the input, so ``summary()`` works before any data; otherwise layers size themselves on the
    first batch.  Layers may be ``ember.keras.layers`` or any ``ember.nn`` module.
    """

    def __init__(self, layers=None, trainable=True, name=None, input_shape=None):
        _train.Sequential.__init__(self, layers=layers, input_shape=input_shape,
                                   name=name or naming.unique_name("sequential", "model"))
        if not trainable:
            self.trainable = False

    # -- the symbolic graph of a Sequential with a known input (Keras: model.inputs, layer.output)
    def _symbolic(self):
        layers = tuple(self.layers)
        cached = self.__dict__.get("_symbolic_graph")
        if cached is not None and cached[0] == tuple(map(id, layers)):
            return cached[1], cached[2]
        if self._input_shape is None:
            raise AttributeError(f"Sequential {self.name!r} has no defined input (no Input or "
                                 "input_shape given), so it has no symbolic inputs/outputs yet. Fix: "
                                 "start it with keras.Input(shape=...)")
        from .layers.core import Input
        x = Input(shape=self._input_shape, dtype=self._input_dtype or "float32",
                  name=f"{self.name}_input" if "_input_name" not in self.__dict__ else self._input_name)
        y = x
        for layer in layers:
            y = layer(y)
        self.__dict__["_symbolic_graph"] = (tuple(map(id, layers)), x, y)
        return x, y

    @property
    def inputs(self):
        """``[the symbolic input]`` (a Sequential whose input shape is known)."""
        return [self._symbolic()[0]]

    @property
    def outputs(self):
        return [self._symbolic()[1]]

    @property
    def input(self):
        return self._symbolic()[0]

    @property
    def output(self):
        return self._symbolic()[1]

    def add(self, layer, _build=True):
        """Append ``layer``; ``keras.Input(shape)`` first declares the model's input."""
        if isinstance(layer, KerasTensor):
            source = getattr(layer, "_input_layer", None)
            if source is None:
                raise TypeError("Sequential.add: a symbolic tensor that is not a keras.Input; "
                                "add layers, or build a functional keras.Model(inputs, outputs)")
            layer = source
        if getattr(layer, "is_input_layer", False) and getattr(layer, "input_dtype", "float32") != "float32":
            self._input_dtype = layer.input_dtype
        return _train.Sequential.add(self, layer, _build=_build)

    def get_config(self):
        config = _train.Sequential.get_config(self)
        if not self.trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config):
        model = _train.Sequential.from_config.__func__(cls, {k: v for k, v in config.items()
                                                             if k != "trainable"})
        if config.get("trainable") is False:
            model.trainable = False
        return model


class Model(GraphModel, _KerasModel, _train.Model):
    """A Keras model, two ways:

    * functional: ``keras.Model(inputs, outputs, name=None)`` with ``inputs`` / ``outputs`` a
      symbolic tensor (``keras.Input`` and what layers return on it), a list or a dict of them
      (``ember.keras.functional``): ``model.inputs``, ``model.outputs``, ``layers``,
      ``get_layer``, a summary with "Connected to", ``get_config`` / ``from_config``, save/load,
      a model used as a layer;
    * subclassed: subclass and define ``call(self, inputs)``; layers assigned as attributes are
      tracked.  A subclass may also call ``super().__init__(inputs=..., outputs=...)``.
    """

    def __init__(self, *args, name=None, **kwargs):
        trainable = kwargs.pop("trainable", True)
        inputs = kwargs.pop("inputs", None)
        outputs = kwargs.pop("outputs", None)
        if args and inputs is None and _kt.any_symbolic(args[:1]):
            inputs, args = args[0], args[1:]
        if args and outputs is None and inputs is not None:
            outputs, args = args[0], args[1:]
        name = name or naming.unique_name(naming.snake(type(self).__name__), "model")
        _train.Model.__init__(self, *args, name=name, **kwargs)
        if (inputs is None) != (outputs is None):
            raise TypeError(f"{type(self).__name__}: give both inputs and outputs "
                            "(keras.Model(inputs=x, outputs=y)), or neither for a subclassed model")
        if inputs is not None:
            self._init_graph(inputs, outputs)
        if not trainable:
            self.trainable = False

    def call(self, *args, **kwargs):
        if self._graph is not None:
            return self._run_graph(args, kwargs)
        raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs)")

    def get_config(self):
        """Functional: the graph (layers, calls, inputs, outputs).  Subclassed: the constructor
        arguments given (JSON values, recorded automatically) plus, when the constructor accepts
        ``name`` (or ``**kwargs``), the model's ``name`` -- as Keras' config of a subclassed
        model.  Define your own for arguments that are not JSON values."""
        if self._graph is not None and (type(self).get_config is Model.get_config):
            return self._graph_config()
        config = _train.Model.get_config(self)
        config.pop("inputs", None)
        config.pop("outputs", None)
        params = inspect.signature(type(self).__init__).parameters.values()
        if "name" not in config and any(p.kind is p.VAR_KEYWORD or p.name == "name" for p in params):
            config["name"] = self.name
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "calls" in config and "layers" in config:
            return cls._from_graph_config(config, custom_objects)
        if custom_objects:
            with _registry.CustomObjectScope(custom_objects):
                return cls(**config)
        return cls(**config)

    from_config.__func__._calls_constructor = True

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model written by ``model.save(path)`` (ember's safetensors format), compiled as
    it was saved (optimizer with its state, loss, metrics, ``loss_weights``) unless
    ``compile=False``: Keras' ``load_model``.  Keras' own files are read too: ``*.keras``
    (Keras 3's zip, compiled when its settings are names or built-in classes) and ``*.h5``
    (tf.keras 2's HDF5 model files); see ``ember.keras.keras_file``.

    custom_objects: ``{name: class or function}`` for your own layers, losses, metrics,
        optimizers and functions that are not registered with
        ``ember.keras.saving.register_keras_serializable``.  ember's own classes are found
        without it; nothing named in the file is ever imported.
    safe_mode: True (default) refuses Python lambdas saved as bytecode (``Lambda`` layers); pass
        False only for a file you trust.
    """
    from . import keras_file
    kind = keras_file.kind_of_path(filepath)
    if kind is not None and not _is_safetensors(filepath):
        # Keras' own files: .keras (Keras 3's zip), .h5 (tf.keras 2's HDF5)
        return keras_file.load_any(filepath, {"Sequential": Sequential, "Model": Model},
                                   custom_objects=custom_objects, compile=compile,
                                   safe_mode=safe_mode)
    return _train.load_model(filepath, compile=compile, custom_objects=custom_objects,
                             safe_mode=safe_mode)


def _is_safetensors(path):
    """Whether ``path`` is an ember safetensors file (a file under a Keras name written by an
    older ember, or one ember wrote in its own format): Keras' files are zip or HDF5."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return not (head.startswith(b"PK") or head.startswith(b"\x89HDF"))


def clone_model(model):
    """A new model with the same layers (fresh weights) built from ``model.get_config()``.  The
    model's own classes and functions (custom layers, ``Lambda`` functions and lambdas,
    activations) are used as they are: no registration is needed, since nothing comes from a
    file."""
    own = {}
    for m in model.modules():
        for obj in (type(m), getattr(m, "function", None), getattr(m, "activation", None)):
            if obj is not None and (isinstance(obj, type) or callable(obj)) and hasattr(obj, "__name__"):
                if obj.__name__ == "<lambda>":          # named for this clone only
                    own.setdefault(f"_clone_lambda_{id(obj)}", obj)
                    continue
                own.setdefault(obj.__name__, obj)
                own.setdefault(_registry.get_registered_name(obj), obj)
    with _registry.CustomObjectScope(own):
        return type(model).from_config(model.get_config())
