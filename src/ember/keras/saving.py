"""Keras' ``keras.saving``: saving and loading models, and making your own classes loadable.

``load_model(path, custom_objects=None, compile=True, safe_mode=True)`` rebuilds a model written
by ``model.save(path)`` / ``save_model(model, path)``, compiled as it was saved.  Only ember's own
classes, classes and functions registered with :func:`register_keras_serializable` and those
given in ``custom_objects`` (or in a :class:`CustomObjectScope`) are built; a module named in a
file is never imported.  ``safe_mode=True`` refuses Python lambdas saved as bytecode.

Your own layer, loss, metric or optimizer::

    @ember.keras.saving.register_keras_serializable(package="MyProject")
    class Scale(ember.keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor
        def call(self, x):
            return x * self.factor
        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = ember.keras.models.load_model("model.safetensors")   # finds "MyProject>Scale"
    # or, without the decorator:
    model = ember.keras.models.load_model("model.safetensors", custom_objects={"Scale": Scale})
"""
import os

from ..nn import registry as _registry
from .models import load_model

__all__ = ["load_model", "save_model", "register_keras_serializable", "get_registered_name",
           "get_registered_object", "get_custom_objects", "custom_object_scope",
           "CustomObjectScope", "SafeModeScope", "serialize_keras_object",
           "deserialize_keras_object"]

register_keras_serializable = _registry.register_serializable
get_registered_name = _registry.get_registered_name
get_registered_object = _registry.get_registered_object
get_custom_objects = _registry.get_custom_objects
CustomObjectScope = _registry.CustomObjectScope
custom_object_scope = _registry.custom_object_scope
SafeModeScope = _registry.SafeModeScope


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """``model.save(filepath)`` (Keras' ``save_model``); ``overwrite=False`` refuses to replace an
    existing file (FileExistsError)."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save_model: {os.fspath(filepath)} exists and overwrite=False")
    model.save(filepath, include_optimizer=include_optimizer)


def serialize_keras_object(obj):
    """A JSON description of ``obj`` (an object with ``get_config``, a function, or plain values):
    ``{"module", "class_name", "config", "registered_name"}`` for objects."""
    return _registry.serialize_value(obj, "serialize_keras_object")


def deserialize_keras_object(config, custom_objects=None, safe_mode=True):
    """Rebuild what :func:`serialize_keras_object` described (ember's, registered or
    ``custom_objects`` classes and functions only; lambdas only with ``safe_mode=False``)."""
    with _registry.CustomObjectScope(custom_objects), _registry.SafeModeScope(safe_mode):
        return _registry.deserialize_value(config, what="deserialize_keras_object")
