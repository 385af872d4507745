"""tf.keras 2's HDF5 files (``model.save('m.h5')``, the "legacy" format Keras 3 still writes and
reads for a name ending in ``.h5``): read, and written for Sequential and functional models.

A full-model file has the JSON ``model_config`` attribute at its root (tf.keras 2's or Keras 3's
config: both are read, old-style ``inbound_nodes`` included) and the ``model_weights`` group;
a weights-only file (``save_weights('w.h5')``) has the layer groups at its root.  Each layer
group lists its arrays in ``weight_names`` (Keras' order and layout), the groups are listed in
the ``layer_names`` attribute.
"""
import json
import os
import tempfile

import numpy as np

from .h5_weights import keras_layer_order, layer_vars, require_h5py
from .reader import compile_from_config, model_from_keras_config
from .writer import KERAS_VERSION, compile_config, model_to_keras_config

__all__ = ["load_legacy_h5", "read_legacy_weights", "save_legacy_h5"]


def _text(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _layer_arrays(group):
    names = [_text(n) for n in group.attrs.get("weight_names", [])]
    return [np.array(group[n]) for n in names]


def read_legacy_weights(model, f, where, by_name=False):
    """Set ``model``'s weights from tf.keras 2's weight groups: by layer name (``by_name``, a model
    rebuilt from the file's own config) or, as tf.keras, the layers that have weights in order."""
    root = f["model_weights"] if "model_weights" in f else f
    names = [_text(n) for n in root.attrs.get("layer_names", [])]
    saved = [(n, _layer_arrays(root[n])) for n in names]
    saved = [(n, a) for n, a in saved if a]
    layers = [layer for layer in keras_layer_order(model) if layer.weights]
    if by_name:
        by = {layer.name: layer for layer in layers}
        missing = [n for n, _ in saved if n not in by]
        if missing:
            raise ValueError(f"{where}: the file has weights for layers {missing} that the model "
                             f"has not got (its layers: {sorted(by)})")
        pairs = [(by[n], a) for n, a in saved]
    else:
        if len(saved) != len(layers):
            raise ValueError(f"{where}: the file has weights for {len(saved)} layers "
                             f"({[n for n, _ in saved]}), the model has {len(layers)} layers with "
                             "weights. Fix: build the same architecture as the saved model")
        pairs = [(layer, a) for layer, (_, a) in zip(layers, saved)]
    for layer, arrays in pairs:
        try:
            layer.set_weights(arrays)
        except ValueError as err:
            raise ValueError(f"{where}: layer {layer.name!r}: {err}") from err


def load_legacy_h5(path, classes, custom_objects=None, compile=True, safe_mode=True):
    """An ember model from a tf.keras 2 full-model ``.h5`` file."""
    path = os.fspath(path)
    where = f"load_model({path!r})"
    h5py = require_h5py(where)
    with h5py.File(path, "r") as f:
        config = f.attrs.get("model_config")
        if config is None:
            raise ValueError(f"{where}: the HDF5 file has no model_config attribute: it holds "
                             "weights only. Fix: build the model in code and call "
                             "model.load_weights(path)")
        spec = json.loads(_text(config))
        model = model_from_keras_config(spec, classes, where, custom_objects, safe_mode)
        read_legacy_weights(model, f, where, by_name=True)
        training = f.attrs.get("training_config")
    if compile and training is not None:
        training = json.loads(_text(training))
        training = {"optimizer": (training.get("optimizer_config") or {}), **training}
        opt = training["optimizer"]
        if isinstance(opt, dict) and "class_name" in opt:
            training["optimizer"] = {"class_name": opt["class_name"],
                                     "config": opt.get("config") or {}}
        compile_from_config(model, training, where)
    return model


# -- writing -------------------------------------------------------------------------------------------
def _legacy_arrays(layer):
    """A layer's arrays in the order tf.keras' ``load_weights`` sets them (what
    ``read_legacy_weights`` reads back): a nested model's sublayers one after the other."""
    return [a for arrays in layer_vars(layer).values() for a in arrays]


def _training_config(model, where):
    """The ``training_config`` attribute (Keras' ``saving_utils.model_metadata``): the compile
    settings with the optimizer as ``optimizer_config``; None when not compiled or not
    describable (the model then loads uncompiled, as Keras does)."""
    config = compile_config(model, where) if getattr(model, "_compiled", None) is not None else {}
    if not config:
        return None
    opt = config.pop("optimizer")
    config["optimizer_config"] = ({"class_name": opt, "config": {}} if isinstance(opt, str) else
                                  {"class_name": opt["class_name"], "config": opt["config"]})
    return config


def save_legacy_h5(model, path, include_optimizer=True):
    """Write ``model`` as tf.keras' HDF5 model file (Keras 3's ``legacy_h5_format``): root
    attributes ``keras_version``, ``backend``, ``model_config`` (JSON) and ``training_config``;
    the ``model_weights`` group lists ``layer_names`` and holds one group per layer, whose
    ``weight_names`` attribute orders its arrays.  Real Keras 3's ``load_model`` reads it; the
    optimizer's state (moments, step count) is not written: a loaded model compiles with a fresh
    optimizer."""
    path = os.fspath(path)
    where = f"{type(model).__name__}.save({path!r})"
    h5py = require_h5py(where)
    spec = model_to_keras_config(model, where)
    training = _training_config(model, where) if include_optimizer else None
    layers = keras_layer_order(model)       # Keras' reader skips the layers without weights
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    os.close(fd)
    try:
        _write_legacy(h5py, tmp, model, spec, training, layers)
        os.replace(tmp, path)              # atomic: a reader never sees half a file
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_legacy(h5py, path, model, spec, training, layers):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = "ember"
        f.attrs["model_config"] = json.dumps({"class_name": spec["class_name"],
                                              "config": spec["config"]})
        if training is not None:
            f.attrs["training_config"] = json.dumps(training)
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [layer.name.encode("utf8") for layer in layers]
        group.attrs["backend"] = b"ember"
        group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
        for layer in sorted(layers, key=lambda x: x.name):
            sub = group.create_group(layer.name)
            arrays = _legacy_arrays(layer)
            names = [f"{model.name}/{layer.name}/{i}".encode("utf8") for i in range(len(arrays))]
            sub.attrs["weight_names"] = names
            for name, a in zip(names, arrays):
                sub.create_dataset(name, data=np.asarray(a))
        group.create_group("top_level_model_weights").attrs["weight_names"] = []
