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
from .keras_tensor import KerasTensor
from .layers.base import KerasWeights, Layer

__all__ = ["Sequential", "Model", "load_model", "clone_model"]


class _KerasModel(KerasWeights):
    """Keras' model API on an ember.train model (mixin, first base)."""

    # -- calling --------------------------------------------------------------------------------------
    def __call__(self, *args, training=None, mask=None, **kwargs):
        """``model(x)``: inference mode unless ``training=True`` (Keras); NumPy input accepted."""
        modes = [(m, m.training) for m in self.modules()]
        self.train(bool(training))
        try:
            return _train.Model.__call__(self, *args, **kwargs)
        finally:
            for m, flag in modes:
                m.training = flag

    def _forward(self, x):
        # fit / evaluate / predict set the modes themselves: call without forcing one
        if isinstance(x, tuple):
            return _train.Model.__call__(self, *x)
        if isinstance(x, dict):
            return _train.Model.__call__(self, **x)
        return _train.Model.__call__(self, x)

    # -- compile / fit / evaluate / predict -------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=None, steps_per_execution=1, jit_compile=None,
                auto_scale_loss=True, **kwargs):
        """Keras' compile: optimizer names give Keras' optimizers (with Keras' defaults), loss
        names Keras' losses (stable cross-entropies from softmax/sigmoid outputs), metric names
        Keras' metrics.  ``weighted_metrics`` is not supported."""
        if weighted_metrics:
            raise NotImplementedError("compile: weighted_metrics is not supported by ember.keras")
        if kwargs:
            raise TypeError(f"compile: unexpected keyword argument(s) {', '.join(map(repr, kwargs))}")
        if isinstance(optimizer, (str, dict)):
            optimizer = _optimizers.get(optimizer)
        given = {"optimizer": optimizer, "loss": loss, "metrics": metrics,
                 "loss_weights": loss_weights}      # what save() describes (Keras' compile config)
        if isinstance(loss, dict):
            loss = {k: _losses.to_ember_loss(v) for k, v in loss.items()}
        elif isinstance(loss, (list, tuple)):
            loss = [_losses.to_ember_loss(v) for v in loss]
        elif loss is not None:
            loss = _losses.to_ember_loss(loss)
        if metrics is not None:
            if isinstance(metrics, dict):
                raise NotImplementedError("compile: a dict of metrics per output is not supported; "
                                          "pass a list")
            items = [metrics] if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)) \
                else metrics
            metrics = [_metrics.to_ember_metric(m) for m in items]
        _train.Model.compile(self, optimizer=optimizer, loss=loss, metrics=metrics,
                             loss_weights=loss_weights)
        self._compiled.config = given
        return self

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Keras' fit (its argument order); returns a History (``history.history`` maps 'loss',
        'val_loss' and every metric to per-epoch lists; ``history.plot(path)`` draws them)."""
        _unsupported("fit", class_weight=class_weight, sample_weight=sample_weight,
                     steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                     validation_batch_size=validation_batch_size)
        if validation_freq != 1:
            raise NotImplementedError("fit: validation_freq other than 1 is not supported")
        x = _expand_1d(x)
        if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
            validation_data = (_expand_1d(validation_data[0]), validation_data[1])
        return _train.Model.fit(self, x, y, batch_size=32 if batch_size is None else batch_size,
                                epochs=epochs, validation_data=validation_data,
                                validation_split=validation_split, shuffle=shuffle,
                                callbacks=callbacks, verbose=verbose, initial_epoch=initial_epoch)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Keras' evaluate: the loss, or ``[loss, metric, ...]`` (``return_dict``: a dict)."""
        _unsupported("evaluate", sample_weight=sample_weight, steps=steps)
        return _train.Model.evaluate(self, _expand_1d(x), y,
                                     batch_size=32 if batch_size is None else batch_size,
                                     verbose=verbose, return_dict=return_dict, callbacks=callbacks)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Keras' predict: the outputs as a NumPy array, computed in batches (inference mode)."""
        _unsupported("predict", steps=steps)
        return _train.Model.predict(self, _expand_1d(x),
                                    batch_size=32 if batch_size is None else batch_size,
                                    verbose=verbose, callbacks=callbacks)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print the table of layers (output shapes, parameter counts, memory)."""
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
        for p in self._own_params():
            p.requires_grad_(value)

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

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at ``index``)."""
        layers = list(self.children())
        if index is not None:
            return layers[index]
        for layer in layers:
            if getattr(layer, "name", None) == name:
                return layer
        raise ValueError(f"get_layer: no layer named {name!r}; the layers are "
                         f"{[getattr(m, 'name', type(m).__name__) for m in layers]}")


def _expand_1d(x):
    """Keras' data adapter: a 1-D input array (one number per sample) becomes (N, 1)."""
    if isinstance(x, np.ndarray) and x.ndim == 1:
        return x[:, None]
    if isinstance(x, Tensor) and x.ndim == 1:
        return F.expand_dims(x, -1)
    return x


def _unsupported(fn, **args):
    for name, value in args.items():
        if value is not None:
            raise NotImplementedError(f"{fn}: {name} is not supported by ember.keras")


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


class Model(_KerasModel, _train.Model):
    """Subclass and define ``call(self, inputs)`` (Keras' subclassing API); layers assigned as
    attributes are tracked.  (The functional API ``Model(inputs, outputs)`` is not supported.)"""

    def __init__(self, *args, name=None, **kwargs):
        kwargs.pop("trainable", None)
        name = name or naming.unique_name(naming.snake(type(self).__name__), "model")
        _train.Model.__init__(self, *args, name=name, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs)")

    def get_config(self):
        """The constructor arguments given (JSON values, recorded automatically) plus, when the
        constructor accepts ``name`` (or ``**kwargs``), the model's ``name`` -- as Keras' config of
        a subclassed model.  Define your own for arguments that are not JSON values."""
        config = _train.Model.get_config(self)
        params = inspect.signature(type(self).__init__).parameters.values()
        if "name" not in config and any(p.kind is p.VAR_KEYWORD or p.name == "name" for p in params):
            config["name"] = self.name
        return config

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model written by ``model.save(path)`` (ember's safetensors format), compiled as
    it was saved (optimizer with its state, loss, metrics, ``loss_weights``) unless
    ``compile=False``: Keras' ``load_model``.

    custom_objects: ``{name: class or function}`` for your own layers, losses, metrics,
        optimizers and functions that are not registered with
        ``ember.keras.saving.register_keras_serializable``.  ember's own classes are found
        without it; nothing named in the file is ever imported.
    safe_mode: True (default) refuses Python lambdas saved as bytecode (``Lambda`` layers); pass
        False only for a file you trust.
    """
    return _train.load_model(filepath, compile=compile, custom_objects=custom_objects,
                             safe_mode=safe_mode)


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
