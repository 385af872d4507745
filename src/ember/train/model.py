"""Model: a Module that can ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``, ``save``.

Subclass :class:`Model` and define ``forward`` (as for any Module), or stack layers in a
:class:`~ember.train.sequential.Sequential`::

    model = ember.Sequential([nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(None, 128), nn.ReLU(), nn.Linear(128, 10)],
                             input_shape=(28, 28, 1))
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=128, epochs=3, validation_split=0.1)
    test_loss, test_accuracy = model.evaluate(x_test, y_test)

This module holds what a model is (calling it, building its lazy layers, its summary, saving and
loading it); the training API is :class:`~ember.train.trainer.Trainer`'s.
"""
import warnings

import numpy as np

from .. import serialization
from ..autograd import no_grad
from ..nn.module import Module
from ..tensor import Tensor
from . import _checks
from . import data_adapters as adapters
from . import parallel
from . import saving as _saving
from .summary import ModuleTrace, count_params, format_summary
from .trainer import Trainer

__all__ = ["Model", "load_model"]

_FORMAT = 1


def _dummy_batch(shape, dtype):
    return Tensor.wrap(np.zeros((1,) + tuple(shape), dtype=dtype))


class Model(Trainer, Module):
    """A Module with a training API (see the module docstring and
    :class:`~ember.train.trainer.Trainer`).

    State after ``fit``: ``history`` (the last History), ``stop_training`` (set it True from a
    callback to stop), ``epochs_completed`` and ``steps_completed`` (optimizer steps), both
    restored by ``load``.
    """

    # Class-level defaults, so a subclass that forgets super().__init__() still works.
    _input_shape = None
    _input_dtype = None

    def __init__(self, *args, name=None, **kwargs):
        super().__init__()
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments (the Keras functional API "
                            "Model(inputs, outputs) is not supported: subclass Model and define "
                            "forward, or use Sequential)")
        if name is not None:
            self.name = str(name)

    # -- calling -----------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if args:
            first = args[0]
            if isinstance(first, np.ndarray):
                # A model is callable on NumPy arrays, as in Keras (float64 becomes float32).
                args = tuple(adapters.to_tensors(a) if isinstance(a, np.ndarray) else a for a in args)
                first = args[0]
            if self._input_shape is None and isinstance(first, Tensor) and first.ndim:
                self._input_shape = tuple(first.shape[1:])
                self._input_dtype = str(first.dtype)
        return super().__call__(*args, **kwargs)

    def _forward(self, x):
        """Call the model on a batch: one input, a tuple (several inputs) or a dict (keywords)."""
        if isinstance(x, tuple):
            return self(*x)
        if isinstance(x, dict):
            return self(**x)
        return self(x)

    @property
    def built(self):
        """True when every layer has its weights (no lazy layer waits for its first input)."""
        return all(m.__dict__.get("_built", True) for m in self.modules())

    @built.setter
    def built(self, value):
        self._built = bool(value)

    @property
    def input_shape(self):
        """The shape of one input sample (without the batch axis), once declared or seen."""
        return self._input_shape

    def build(self, input_shape=None, dtype=None):
        """Create every lazy layer's weights by running one zero batch of samples shaped
        ``input_shape`` (without the batch axis) through the model, in eval mode without
        gradients.  Returns ``{id(module): output shape}`` for every sub-module."""
        if input_shape is not None:
            self._input_shape = tuple(int(d) for d in input_shape)
        if dtype is not None:
            self._input_dtype = str(np.dtype(dtype))
        if self._input_shape is None:
            raise ValueError(f"{type(self).__name__}.build: the input shape is unknown; pass it, "
                             "e.g. model.build((28, 28, 1)) for 28x28 grey images")
        return self._trace_dummy(raise_errors=True)

    def _trace_dummy(self, raise_errors=False):
        """Run a zero batch of one sample; returns the output shape of every sub-module."""
        dtypes = [self._input_dtype] if self._input_dtype else ["float32", "int64"]
        modes = _checks.save_modes(self)
        error = None
        try:
            self.eval()
            for dtype in dtypes:
                trace = ModuleTrace(self.named_modules())
                try:
                    with no_grad(), trace:
                        self(_dummy_batch(self._input_shape, dtype))
                    return trace.outputs
                except Exception as e:   # noqa: BLE001 -- reported below with the layer's name
                    error = error or (e, trace)      # the float32 attempt's error is the telling one
        finally:
            _checks.restore_modes(modes)
        if raise_errors and error is not None:
            e, trace = error
            where = ""
            if trace.failed is not None:
                name, module, shapes = trace.failed
                where = f" at layer {name!r} ({type(module).__name__}, input {', '.join(map(str, shapes))})"
            raise ValueError(f"{type(self).__name__}: the layers do not fit samples of shape "
                             f"{self._input_shape}{where}: {type(e).__name__}: {e}") from e
        return {}

    # -- summary -----------------------------------------------------------------------------------
    def _summary_rows(self):
        return list(self.named_children())

    def summary(self, print_fn=print, line_length=None):
        """Print (with ``print_fn``; None prints nothing) and return a table of the layers: name
        and type, output shape (when the input shape is known), parameter count; then the total,
        trainable and non-trainable parameter counts and their memory."""
        shapes = self._trace_dummy() if self._input_shape is not None else {}
        text = format_summary(self, self._summary_rows(), shapes,
                              title=getattr(self, "name", None) or type(self).__name__,
                              line_length=line_length)
        if print_fn is not None:
            print_fn(text)
        return text

    def count_params(self):
        """Number of scalar parameters (0 for layers not built yet)."""
        return count_params(self)

    # -- saving ------------------------------------------------------------------------------------
    def _model_description(self, strict=False):
        return _saving.model_description(self, _FORMAT, strict)

    def _compile_description(self):
        return _saving.compile_description(self, f"{type(self).__name__}.save")

    def save_weights(self, path):
        """Save the parameters and buffers to ``path`` (safetensors, atomic)."""
        meta = {"ember.train": self._model_description()}
        if parallel.is_main():       # data-parallel runs: rank 0 writes (replicas are equal)
            serialization.save({"model": self.state_dict()}, path, metadata=meta)

    def load_weights(self, path, strict=True):
        """Load parameters and buffers saved by ``save_weights`` / ``save`` (or a plain
        safetensors state dict) into this model, in place."""
        data = serialization.load(path)
        state = data["model"] if isinstance(data, dict) and isinstance(data.get("model"), dict) else data
        if not self.built:
            meta = _saving.read_description(path)
            shape = (meta or {}).get("input_shape") or self._input_shape
            if shape is None:
                raise ValueError(f"{type(self).__name__}.load_weights: some layers have no weights "
                                 "yet (their input size is unknown). Fix: build the model first, "
                                 "e.g. model.build(input_shape) or call it on one batch")
            # this class' build (the shape without batch axis), not a subclass' Keras-style one
            Model.build(self, shape, dtype=(meta or {}).get("input_dtype"))
        return self.load_state_dict(state, strict=strict)

    def save(self, path, include_optimizer=True):
        """Save the whole model to ``path`` (safetensors, atomic, no pickle): weights, buffers,
        optimizer state, the model's class and config (so :func:`load_model` rebuilds it), the
        compile settings (optimizer, loss, metrics, loss_weights: names, or objects described by
        their ``get_config()``; see ``ember.train.saving``) and the epoch / step counters.

        Raises TypeError when a layer (or the model) could not be rebuilt from its config (a
        required constructor argument missing from ``get_config()``).  Compile settings that
        cannot be described are left out with a warning (the model then loads uncompiled)."""
        obj = {"model": self.state_dict()}
        c = self._compiled
        if include_optimizer and c is not None and c.optimizer is not None:
            obj["optimizer"] = c.optimizer.state_dict()
        elif include_optimizer and self.__dict__.get("_pending_optimizer_state") is not None:
            obj["optimizer"] = self.__dict__["_pending_optimizer_state"]   # loaded, not built yet
        desc = self._model_description(strict=True)
        if desc["config"] is None:
            warnings.warn(f"{type(self).__name__}.save: the model's config is not JSON-serialisable, "
                          "so load_model cannot rebuild it; the weights are saved (load them with "
                          "load_weights into a model you build yourself)", stacklevel=2)
        meta = {"ember.train": desc, "ember.train.compile": self._compile_description()}
        # Data-parallel runs: every rank computes the state (a sharded optimizer gathers its
        # slices, a collective), rank 0 writes.
        if parallel.is_main():
            serialization.save(obj, path, metadata=meta)

    @classmethod
    def load(cls, path, compile=True, custom_objects=None, safe_mode=True):
        """Rebuild a model saved by :meth:`save`: weights, buffers, counters and (``compile``)
        the compile settings with the optimizer state.

        custom_objects: ``{name: class or function}`` for classes and functions that are neither
            ember's nor registered (``ember.keras.saving.register_keras_serializable``), keyed by
            their name (or registered name).  Nothing named in the file is ever imported.
        safe_mode: True (default) refuses Python lambdas saved as bytecode (``Lambda`` layers,
            lambda losses); pass False only for a file you trust."""
        return _saving.load(cls, Model, path, compile=compile, custom_objects=custom_objects,
                            safe_mode=safe_mode)

    def get_config(self):
        config = super().get_config()
        for key in ("args", "kwargs"):       # Model.__init__'s catch-alls (always empty)
            if not config.get(key):
                config.pop(key, None)
        if config.get("name", 0) is None:
            config.pop("name")
        return config


def load_model(path, compile=True, custom_objects=None, safe_mode=True):
    """Rebuild a model saved by ``Model.save`` (see :meth:`Model.load`): ``custom_objects`` for
    your own classes and functions that are not registered, ``safe_mode=False`` only for a trusted
    file holding lambdas."""
    return _saving.load(Model, Model, path, compile=compile, custom_objects=custom_objects,
                        safe_mode=safe_mode, what="load_model")
