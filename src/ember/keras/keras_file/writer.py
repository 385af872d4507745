"""Writing Keras 3's ``.keras`` file (a zip of ``metadata.json``, ``config.json`` and
``model.weights.h5``) and ``.weights.h5`` files from an ember model."""
import datetime
import io
import json
import os
import tempfile
import warnings
import zipfile

import numpy as np

from ...tensor import Tensor
from ..keras_tensor import KerasTensor, flatten
from .config_map import KerasFileError, layer_to_keras
from .h5_weights import (is_model, keras_layer_order, keras_operation_order, require_h5py,
                         write_weights)

__all__ = ["model_to_keras_config", "save_keras", "save_weights_h5"]

KERAS_VERSION = "3.15.1"        # the format version written (Keras reads its own minor versions)


def _shape(shape):
    return [None if d is None else int(d) for d in shape]


def _input_layer(name, shape, dtype):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None] + _shape(shape), "dtype": str(dtype),
                       "sparse": False, "ragged": False, "name": name, "optional": False},
            "registered_name": None}


def _sequential_config(model, where):
    layers = []
    shape = getattr(model, "_input_shape", None)
    if shape is not None:
        name = model.__dict__.get("_input_name") or f"{model.name}_input"
        layers.append(_input_layer(name, shape, getattr(model, "_input_dtype", None) or "float32"))
    layers += [model_to_keras_config(layer, where) if is_model(layer) else layer_to_keras(layer, where)
               for layer in keras_layer_order(model)]
    config = {"name": model.name, "trainable": bool(model.trainable), "layers": layers}
    out = {"module": "keras", "class_name": "Sequential", "config": config,
           "registered_name": None}
    if shape is not None:
        config["build_input_shape"] = [None] + _shape(shape)
        out["build_config"] = {"input_shape": [None] + _shape(shape)}
    return out


def _op_name(op):
    return getattr(op, "op_name", None) or getattr(op, "__name__", type(op).__name__)


def _camel(name):
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _op_module(name, where):
    """Keras' module of the op class (ember.keras.ops mirrors keras.src.ops' files)."""
    from .. import ops as _ops
    module = str(getattr(getattr(_ops, name, None), "__module__", ""))
    family = module.rsplit(".", 1)[-1]
    family = {"numpy_extra": "numpy", "arrays": "numpy"}.get(family, family)
    if family not in ("numpy", "nn", "math", "core", "linalg", "image"):
        raise KerasFileError(f"{where}: cannot name Keras' class of keras.ops.{name}")
    return f"keras.src.ops.{family}"


def _functional_config(model, where):
    graph = model._graph
    node_index = {}            # id(node) -> index among its layer's calls in this model
    per_layer = {}
    for t in graph.input_list:
        node_index[id(t.node)] = 0
    op_names = {}              # id(node) -> Keras name of a keras.ops call (one op per call)
    used = {layer.name for layer in graph.layers}
    for node in graph.nodes:
        op = node.operation
        if not hasattr(op, "get_config"):
            # Keras' op classes take the function's keyword arguments (numbers, flags) as their
            # config and the tensors (and plain numbers) as call arguments
            if not all(isinstance(v, (int, float, bool, str, type(None), list, tuple))
                       for v in node.kwargs.values()) or not all(
                    isinstance(a, (KerasTensor, int, float, bool)) for a in node.args):
                raise KerasFileError(f"{where}: the model calls keras.ops.{_op_name(op)} with "
                                     "arguments other than tensors and numbers; ember writes "
                                     "only such simple op calls into .keras files. Fix: wrap it "
                                     "in a Layer subclass, or save in ember's format (.ember)")
            base, n = _op_name(op), 0
            name = base
            while name in used:
                n += 1
                name = f"{base}_{n}"
            used.add(name)
            op_names[id(node)] = name
            node_index[id(node)] = 0
            continue
        per_layer.setdefault(id(op), []).append(node)
        node_index[id(node)] = len(per_layer[id(op)]) - 1

    def history(t):
        node = t.node
        name = op_names.get(id(node)) or node.operation.name
        return [name, node_index[id(node)], t._history[1]]

    def encode(x):
        if isinstance(x, KerasTensor):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": _shape(x.shape), "dtype": str(x.dtype),
                               "keras_history": history(x)}}
        if isinstance(x, (list, tuple)):
            return [encode(v) for v in x]
        if isinstance(x, dict):
            return {str(k): encode(v) for k, v in x.items()}
        if isinstance(x, (Tensor, np.ndarray)):
            raise KerasFileError(f"{where}: a layer is called with a constant array; ember does "
                                 "not write those into .keras files")
        return x

    layers = []
    op_calls = {}
    for node in graph.nodes:
        if id(node) in op_names:
            op_calls.setdefault(id(node.operation), []).append(node)
    for layer in keras_operation_order(model):
        if not hasattr(layer, "get_config"):          # a keras.ops function: one entry a call
            for n in op_calls.get(id(layer), []):
                name = _op_name(layer)
                layers.append({"module": _op_module(name, where), "class_name": _camel(name),
                               "config": {"name": op_names[id(n)], **encode(dict(n.kwargs))},
                               "registered_name": _camel(name), "name": op_names[id(n)],
                               "inbound_nodes": [{"args": encode(list(n.args)), "kwargs": {}}]})
            continue
        if getattr(layer, "is_input_layer", False):
            t = layer.output
            spec = _input_layer(layer.name, t.shape[1:], t.dtype)
            spec.update(name=layer.name, inbound_nodes=[])
        else:
            spec = model_to_keras_config(layer, where) if is_model(layer) else \
                layer_to_keras(layer, where)
            spec["name"] = layer.name
            spec["inbound_nodes"] = [{"args": encode(list(n.args)), "kwargs": encode(n.kwargs)}
                                     for n in per_layer.get(id(layer), [])]
        layers.append(spec)

    def ends(structure):
        if isinstance(structure, dict):
            return {k: history(v) for k, v in structure.items()}
        if isinstance(structure, KerasTensor):
            return history(structure)
        return [history(t) for t in flatten(structure)]

    config = {"name": model.name, "trainable": bool(model.trainable), "layers": layers,
              "input_layers": ends(graph.inputs), "output_layers": ends(graph.outputs)}
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": config, "registered_name": "Functional",
            "build_config": {"input_shape": None}}


def model_to_keras_config(model, where="save"):
    """Keras' config of an ember Sequential or functional Model (JSON values)."""
    if getattr(model, "_graph", None) is not None:
        return _functional_config(model, where)
    if type(model).__name__ == "Sequential" or hasattr(model, "add"):
        return _sequential_config(model, where)
    raise KerasFileError(f"{where}: {type(model).__name__} is a subclassed model; ember writes "
                         "Keras' .keras / .h5 files for Sequential and functional models only. "
                         "Fix: save in ember's format (model.save('model.ember'))")


# -- compile settings --------------------------------------------------------------------------------
_OPTIMIZER_KEYS = ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "momentum",
                   "nesterov", "rho", "centered", "initial_accumulator_value", "weight_decay",
                   "clipnorm", "clipvalue", "global_clipnorm")


def compile_config(model, where):
    """Keras' ``compile_config`` (optimizer, loss, metrics by name), or ``{}`` with a warning
    when they are objects ember cannot describe to Keras."""
    c = getattr(model, "_compiled", None)
    given = getattr(c, "config", None) if c is not None else None
    if not isinstance(given, dict):
        return {}
    opt = given.get("optimizer")
    try:
        if isinstance(opt, str):
            optimizer = opt
        else:
            cfg = opt.get_config()
            lr = cfg.get("learning_rate")
            if not isinstance(lr, (int, float)):
                raise TypeError("a learning-rate schedule")
            optimizer = {"module": "keras.optimizers", "class_name": type(opt).__name__,
                         "config": {k: cfg[k] for k in _OPTIMIZER_KEYS if k in cfg},
                         "registered_name": None}

        def plain(value):
            if value is None or isinstance(value, str):
                return value
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            module = type(value).__module__
            if module in ("ember.keras.losses", "ember.keras.metrics") and \
                    hasattr(value, "get_config"):     # built-in classes: Keras has the same
                return {"module": module.replace("ember.", ""),
                        "class_name": type(value).__name__, "config": value.get_config(),
                        "registered_name": None}
            raise TypeError(f"{type(value).__name__} object")
        out = {"optimizer": optimizer, "loss": plain(given.get("loss")),
               "loss_weights": given.get("loss_weights"), "metrics": plain(given.get("metrics")),
               "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
               "jit_compile": False}
        json.dumps(out)
        return out
    except (TypeError, AttributeError, ValueError) as err:
        warnings.warn(f"{where}: the compile settings are left out of the .keras file ({err}: "
                      "only names such as 'adam', 'mse', 'accuracy' and built-in optimizers are "
                      "written); the model loads uncompiled", stacklevel=3)
        return {}


# -- files ---------------------------------------------------------------------------------------------
def save_keras(model, path, include_optimizer=True):
    """Write ``model`` to ``path`` in Keras 3's ``.keras`` format (atomic)."""
    where = f"{type(model).__name__}.save({os.fspath(path)!r})"
    h5py = require_h5py(where)
    config = model_to_keras_config(model, where)
    if include_optimizer:
        config["compile_config"] = compile_config(model, where)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        write_weights(model, f)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w") as z:
            z.writestr("metadata.json", json.dumps(metadata))
            z.writestr("config.json", json.dumps(config))
            z.writestr("model.weights.h5", buffer.getvalue())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_weights_h5(model, path):
    """Write the weights to ``path`` (Keras 3's ``.weights.h5`` layout)."""
    h5py = require_h5py(f"{type(model).__name__}.save_weights")
    _ensure_built(model, "save_weights")
    with h5py.File(os.fspath(path), "w") as f:
        write_weights(model, f)


def _ensure_built(model, what):
    if not model.weights and getattr(model, "_input_shape", None) is None and \
            any(not getattr(m, "built", True) for m in model.modules()):
        raise ValueError(f"{type(model).__name__}.{what}: the model has no weights yet (not "
                         "built). Fix: call it on one batch or build(input_shape) first")
