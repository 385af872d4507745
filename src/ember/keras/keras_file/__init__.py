"""Keras' own files, read and written by ember (h5py needed: ``pip install h5py``):

* ``model.save("m.keras")`` writes Keras 3's ``.keras`` zip (``config.json``, ``metadata.json``,
  ``model.weights.h5``) that real Keras 3 loads, for Sequential and functional models of layers
  both have; ``load_model("m.keras")`` reads one Keras 3 wrote;
* ``save_weights("w.weights.h5")`` / ``load_weights`` use Keras 3's weights layout (matched by
  position, as Keras);
* ``load_model("m.h5")`` / ``load_weights("w.h5")`` read tf.keras 2's HDF5 files;
  ``model.save("m.h5")`` writes one (Keras 3's legacy HDF5 format, which real Keras loads).

Other file names keep ember's own safetensors format.  Loading never imports a module named in a
file and never runs a ``Lambda``'s bytecode; classes that are not ember.keras layers need
``custom_objects`` or registration.
"""
import os

from .config_map import KerasFileError
from .legacy_h5 import load_legacy_h5, read_legacy_weights, save_legacy_h5
from .reader import load_keras, model_from_keras_config
from .writer import model_to_keras_config, save_keras, save_weights_h5

__all__ = ["kind_of_path", "save_keras", "load_keras", "save_weights_h5", "load_weights_h5",
           "load_legacy_h5", "save_legacy_h5", "model_to_keras_config", "model_from_keras_config", "load_any",
           "KerasFileError"]


def kind_of_path(path):
    """'keras' (``.keras``), 'weights_h5' (``.weights.h5``), 'h5' (``.h5`` / ``.hdf5``) or None
    (ember's own format)."""
    if not isinstance(path, (str, os.PathLike)):
        return None
    name = os.fspath(path).lower()
    if name.endswith(".keras"):
        return "keras"
    if name.endswith(".weights.h5"):
        return "weights_h5"
    if name.endswith((".h5", ".hdf5")):
        return "h5"
    return None


def load_any(path, classes, custom_objects=None, compile=True, safe_mode=True):
    """``load_model`` for Keras' files (``.keras``, legacy ``.h5``); ``classes``:
    ``{"Sequential": ..., "Model": ...}``, the model classes to build."""
    kind = kind_of_path(path)
    if kind == "keras":
        return load_keras(path, classes, custom_objects=custom_objects, compile=compile,
                          safe_mode=safe_mode)
    if kind == "weights_h5":
        raise ValueError(f"load_model({os.fspath(path)!r}): a .weights.h5 file holds weights only. "
                         "Fix: build the model in code, then model.load_weights(path)")
    return load_legacy_h5(path, classes, custom_objects=custom_objects, compile=compile,
                          safe_mode=safe_mode)


def load_weights_h5(model, path):
    """Set ``model``'s weights from a Keras 3 ``.weights.h5`` file (matched by position, as
    Keras)."""
    path = os.fspath(path)
    where = f"{type(model).__name__}.load_weights({path!r})"
    from .h5_weights import read_weights, require_h5py
    h5py = require_h5py(where)
    with h5py.File(path, "r") as f:
        if "layers" not in f and "model_weights" in f or "layer_names" in f.attrs:
            read_legacy_weights(model, f, where)
        else:
            read_weights(model, f, where)
