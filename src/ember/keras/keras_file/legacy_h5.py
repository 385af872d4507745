"""tf.keras 2's HDF5 files (``model.save('m.h5')``): read only.

A full-model file has the JSON ``model_config`` attribute at its root (tf.keras 2's or Keras 3's
config: both are read, old-style ``inbound_nodes`` included) and the ``model_weights`` group;
a weights-only file (``save_weights('w.h5')``) has the layer groups at its root.  Each layer
group lists its arrays in ``weight_names`` (Keras' order and layout), the groups are listed in
the ``layer_names`` attribute.
"""
import json
import os

import numpy as np

from .h5_weights import keras_layer_order, require_h5py
from .reader import compile_from_config, model_from_keras_config

__all__ = ["load_legacy_h5", "read_legacy_weights"]


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
