"""Keras 3's weights file (``model.weights.h5``, also inside a ``.keras`` zip).

Layout (``keras.src.saving.saving_lib``): ``layers/<path>/vars/<i>`` where ``<path>`` is the
snake-case class name of the layer, made unique by ``_1``, ``_2``... in the order of
``model.layers`` (a Sequential's without its InputLayer, a functional model's with them, in
Keras' depth order); a layer's sublayers sit under their attribute name (``cell`` of a recurrent
layer, ``forward_layer`` / ``backward_layer`` of Bidirectional, ``layer`` of TimeDistributed,
``query_dense``... of MultiHeadAttention).  Each ``vars`` group has the object's ``name`` as an
attribute.
"""
import re

import numpy as np

from .. import naming as _naming

__all__ = ["require_h5py", "keras_layer_order", "keras_operation_order", "layer_vars", "set_layer_vars", "write_weights",
           "read_weights"]

_RECURRENT = ("SimpleRNN", "LSTM", "GRU")


def require_h5py(what):
    try:
        import h5py
    except ImportError as err:       # pragma: no cover - h5py comes with the test oracle
        raise ImportError(f"{what}: Keras' .keras / .h5 files are HDF5 and need h5py. Fix: pip "
                          "install h5py (or pip install 'ember[h5]')") from err
    return h5py


def snake(name):
    """Keras' ``naming.to_snake_case`` (the saving variant: no non-word characters, no leading
    underscore)."""
    s = _naming.snake(re.sub(r"\W+", "", name))
    return s if s[0] != "_" else "private" + s


def unique_paths(layers):
    """``[(path, layer)]``: Keras' names of the layers in a container."""
    used, out = {}, []
    for layer in layers:
        base = snake(type(layer).__name__)
        n = used.get(base, 0)
        used[base] = n + 1
        out.append((base if n == 0 else f"{base}_{n}", layer))
    return out


def keras_layer_order(model):
    """The layers in the order of Keras' ``model.layers`` (``ops.function.map_graph``)."""
    if getattr(model, "_graph", None) is None:
        return [m for m in model.layers if not getattr(m, "is_input_layer", False)]
    return [op for op in keras_operation_order(model) if hasattr(op, "get_weights")]


def keras_operation_order(model):
    """A functional model's operations (layers and ``keras.ops`` calls) in Keras' order."""
    return model._graph.keras_operations()


# -- one layer's variables ----------------------------------------------------------------------------
def _weights(layer):
    keras = getattr(layer, "keras_weights", None)
    return list(keras()) if callable(keras) else list(layer.get_weights())


def is_model(layer):
    """A Sequential or functional model used as a layer."""
    return hasattr(layer, "compile") and hasattr(layer, "layers")


def layer_vars(layer):
    """``{relative path: [arrays]}``: the layer's variables as Keras files them."""
    kind = type(layer).__name__
    if is_model(layer):
        out = {"vars": []}
        for path, sub in unique_paths(keras_layer_order(layer)):
            out.update({f"layers/{path}/{k}": v for k, v in layer_vars(sub).items()})
        return out
    if kind in _RECURRENT:
        return {"vars": [], "cell/vars": _weights(layer)}
    if kind == "Bidirectional":
        out = {"vars": []}
        for side in ("forward_layer", "backward_layer"):
            out.update({f"{side}/{k}": v for k, v in layer_vars(getattr(layer, side)).items()})
        return out
    if kind == "TimeDistributed":
        return {"vars": [], **{f"layer/{k}": v for k, v in layer_vars(layer.layer).items()}}
    if kind == "MultiHeadAttention":
        w = _weights(layer)
        per = len(w) // 4
        out = {"vars": []}
        for i, part in enumerate(("query_dense", "key_dense", "value_dense", "output_dense")):
            out[f"{part}/vars"] = w[i * per:(i + 1) * per]
        return out
    return {"vars": _weights(layer)}


def set_layer_vars(layer, arrays_of, where):
    """Set the layer's weights from ``arrays_of(relative path) -> [arrays]`` (Keras' layout)."""
    kind = type(layer).__name__
    if is_model(layer):
        for path, sub in unique_paths(keras_layer_order(layer)):
            set_layer_vars(sub, lambda p, q=path: arrays_of(f"layers/{q}/{p}"), where)
        return
    paths = layer_vars(layer)
    if kind == "Bidirectional":
        for side in ("forward_layer", "backward_layer"):
            sub = getattr(layer, side)
            set_layer_vars(sub, lambda p, s=side: arrays_of(f"{s}/{p}"), where)
        return
    if kind == "TimeDistributed":
        set_layer_vars(layer.layer, lambda p: arrays_of(f"layer/{p}"), where)
        return
    flat = []
    expected = []
    for path, current in paths.items():
        got = arrays_of(path)
        if len(got) != len(current):
            raise ValueError(f"{where}: layer {layer.name!r} ({kind}) expects {len(current)} "
                             f"arrays under {path!r}, the file has {len(got)}")
        flat += got
        expected += current
    for i, (a, b) in enumerate(zip(flat, expected)):
        if tuple(np.shape(a)) != tuple(np.shape(b)):
            raise ValueError(f"{where}: layer {layer.name!r} ({kind}): weight {i} in the file has "
                             f"shape {tuple(np.shape(a))}, the layer's has {tuple(np.shape(b))}. "
                             "Fix: build the same architecture as the saved model")
    if flat and kind in _RECURRENT and hasattr(layer, "_from_keras"):
        # Keras' layout always (a GRU without biases cannot tell the layouts apart by count)
        from ..layers.base import Layer
        Layer.set_weights(layer, layer._from_keras(flat))
    elif flat:
        layer.set_weights(flat)


# -- whole files ----------------------------------------------------------------------------------------
def write_weights(model, h5file):
    """Write the model's weights into an open h5py File (Keras 3's layout)."""
    for path, layer in unique_paths(keras_layer_order(model)):
        for rel, arrays in layer_vars(layer).items():
            group = h5file.require_group(f"layers/{path}/{rel}")
            if rel == "vars":
                group.attrs["name"] = layer.name
            for i, a in enumerate(arrays):
                group.create_dataset(str(i), data=np.asarray(a))
    h5file.require_group("vars").attrs["name"] = model.name


def _group_arrays(h5file, path):
    if path not in h5file:
        return []
    group = h5file[path]
    keys = sorted((k for k in group.keys() if k.isdigit()), key=int)
    return [np.array(group[k]) for k in keys]


def read_weights(model, h5file, where, by_name=False):
    """Set the model's weights from an open h5py File (Keras 3's layout).  ``by_name``: match the
    file's layers by their recorded names first (a model rebuilt from the file's own config),
    else by position (Keras' ``load_weights``)."""
    if "layers" not in h5file:
        raise ValueError(f"{where}: the file has no 'layers' group; it is not a Keras 3 weights "
                         "file (a tf.keras 2 .h5 file is read by load_model / load_weights on a "
                         "name ending in .h5 without '.weights')")
    layers = keras_layer_order(model)
    paths = unique_paths(layers)
    if by_name:
        named = {}
        for key in h5file["layers"].keys():
            vars_group = h5file["layers"][key].get("vars")
            name = None if vars_group is None else vars_group.attrs.get("name")
            if name is not None:
                named[str(name)] = key
        if all(layer.name in named for layer in layers) and len(named) == len(layers):
            paths = [(named[layer.name], layer) for layer in layers]
    known = {p for p, _ in paths}
    extra = sorted(set(h5file["layers"].keys()) - known)
    has_data = [k for k in extra if any(True for _ in _datasets(h5file["layers"][k]))]
    if has_data:
        raise ValueError(f"{where}: the file has weights for layers {has_data} that this model "
                         f"does not have (its layers: {[p for p, _ in paths]}). Fix: build the "
                         "same architecture as the saved model")
    for path, layer in paths:
        set_layer_vars(layer, lambda rel, p=path: _group_arrays(h5file, f"layers/{p}/{rel}"), where)


def _datasets(group):
    for value in group.values():
        if hasattr(value, "shape"):
            yield value
        else:
            yield from _datasets(value)
