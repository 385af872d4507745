"""Reading Keras 3's ``.keras`` files (and the model part of legacy ``.h5`` files) into ember
models: the config becomes ``ember.keras`` layers in a Sequential or a functional Model."""
import json
import os
import warnings
import zipfile

from ..keras_tensor import flatten
from .config_map import KerasFileError, layer_from_keras
from .h5_weights import read_weights, require_h5py

__all__ = ["model_from_keras_config", "load_keras", "compile_from_config"]


def _is_tensor_ref(x):
    return isinstance(x, dict) and x.get("class_name") == "__keras_tensor__"


def _old_node(node):
    """tf.keras 2's node ``[[name, node_index, tensor_index, kwargs], ...]`` in Keras 3's form."""
    refs = [{"class_name": "__keras_tensor__", "config": {"keras_history": list(r[:3])}}
            for r in node]
    kwargs = node[0][3] if node and len(node[0]) > 3 and isinstance(node[0][3], dict) else {}
    return {"args": [refs[0] if len(refs) == 1 else refs], "kwargs": kwargs}


def _keras_op(spec, where):
    """A ``keras.ops`` call recorded in a functional graph (e.g. ``NotEqual``, the mask of
    ``Embedding(mask_zero=True)``): the ember.keras.ops function of the same name, called with
    the op's config (Keras' op classes take the function's keyword arguments) as keywords."""
    from .. import ops as _ops
    from ..naming import snake as _snake
    name = spec.get("class_name", "")
    snake = _snake(name)
    fn = getattr(_ops, snake, None)
    extra = {k: v for k, v in (spec.get("config") or {}).items() if k != "name"}
    if fn is None or getattr(fn, "operation", None) is None:
        raise KerasFileError(f"{where}: the graph calls the keras.ops operation {name!r}, which "
                             "ember.keras.ops has not got. Fix: wrap it in a Layer subclass")
    if not extra:
        return fn

    def call(*args, **kwargs):
        try:
            return fn(*args, **extra, **kwargs)
        except TypeError as err:
            raise KerasFileError(f"{where}: the keras.ops operation {name!r} with arguments "
                                 f"{extra}: {err}") from err
    return call


def _functional(config, where, custom_objects, safe_mode, classes):
    from ..layers.core import Input
    specs = config["layers"]
    outputs_of = {}         # layer name -> [[flat outputs of node 0], [node 1], ...]
    layers = {}
    pending = []
    for spec in specs:
        name = spec.get("name") or spec["config"]["name"]
        if spec.get("class_name") == "InputLayer":
            c = spec["config"]
            shape = c.get("batch_shape") or c.get("batch_input_shape")
            t = Input(batch_shape=tuple(shape), dtype=c.get("dtype"), name=name)
            outputs_of[name] = [[t]]
            continue
        if spec.get("class_name") in ("Functional", "Sequential", "Model"):
            layer = model_from_keras_config(spec, classes, where, custom_objects, safe_mode)
        elif str(spec.get("module") or "").startswith("keras.src.ops."):
            layer = _keras_op(spec, where)
        else:
            layer = layer_from_keras(spec, where, custom_objects, safe_mode)
        layers[name] = layer
        outputs_of[name] = []
        nodes = spec.get("inbound_nodes") or []
        for node in nodes:
            pending.append((name, node if isinstance(node, dict) else _old_node(node)))

    def ready(x):
        if _is_tensor_ref(x):
            name, index, _ = x["config"]["keras_history"][:3]
            return len(outputs_of.get(name, [])) > index
        if isinstance(x, list):
            return all(ready(v) for v in x)
        if isinstance(x, dict):
            return all(ready(v) for v in x.values())
        return True

    def decode(x):
        if _is_tensor_ref(x):
            name, index, tensor = x["config"]["keras_history"][:3]
            return outputs_of[name][index][tensor]
        if isinstance(x, list):
            return [decode(v) for v in x]
        if isinstance(x, dict):
            return {k: decode(v) for k, v in x.items()}
        return x

    # Keras' order: each layer's nodes in turn, a node waiting until its inputs exist
    while pending:
        progress = False
        for item in list(pending):
            name, node = item
            if not ready(node):
                continue
            # the mode a call was recorded in is not kept: the model's call decides (Keras)
            kwargs = {k: v for k, v in decode(node.get("kwargs") or {}).items()
                      if k != "training" and not (k == "mask" and v is None)}
            out = layers[name](*decode(node.get("args") or []), **kwargs)
            outputs_of[name].append(flatten(out))
            pending.remove(item)
            progress = True
            break
        if not progress:
            raise KerasFileError(f"{where}: the graph in the file cannot be rebuilt: the calls of "
                                 f"{sorted({n for n, _ in pending})} wait for tensors that no layer "
                                 "makes")

    def ends(refs):
        if isinstance(refs, dict):
            return {k: ends(v) for k, v in refs.items()}
        if refs and isinstance(refs[0], str):
            return outputs_of[refs[0]][refs[1]][refs[2]]
        return [ends(r) for r in refs]

    inputs, outputs = ends(config["input_layers"]), ends(config["output_layers"])
    return classes["Model"](inputs=inputs, outputs=outputs, name=config.get("name"))


def _sequential(config, where, custom_objects, safe_mode, classes):
    from ..layers.core import Input
    Sequential = classes["Sequential"]
    specs = config["layers"] if isinstance(config, dict) else config
    model = Sequential(name=config.get("name") if isinstance(config, dict) else None)
    for i, spec in enumerate(specs):
        if spec.get("class_name") == "InputLayer":
            c = spec["config"]
            shape = c.get("batch_shape") or c.get("batch_input_shape")
            model.add(Input(batch_shape=tuple(shape), dtype=c.get("dtype"), name=c.get("name")))
            continue
        if spec.get("class_name") in ("Functional", "Sequential", "Model"):
            layer = model_from_keras_config(spec, classes, where, custom_objects, safe_mode)
        else:
            spec = dict(spec)
            c = dict(spec.get("config") or {})
            shape = c.pop("batch_input_shape", None)      # tf.keras 2: the first layer's input
            spec["config"] = c
            layer = layer_from_keras(spec, where, custom_objects, safe_mode)
            if shape is not None and i == 0:
                model.add(Input(batch_shape=tuple(shape)))
        model.add(layer)
    build = (config.get("build_input_shape") if isinstance(config, dict) else None)
    if model._input_shape is None and build is not None and all(d is not None for d in build[1:]):
        model.build(tuple(build))
    elif model._input_shape is None and model.layers and \
            hasattr(model.layers[0], "_sample_input"):
        # a text layer first (TextVectorization, StringLookup): no input shape is recorded for
        # string inputs; one sample text builds the layers after it
        model(model.layers[0]._sample_input())
    return model


def model_from_keras_config(spec, classes, where="load_model", custom_objects=None,
                            safe_mode=True):
    """An ember model (weights not loaded) from Keras' model config.  ``classes``:
    ``{"Sequential": ..., "Model": ...}`` (ember.keras.models' classes, given by the caller)."""
    name = spec.get("class_name")
    config = spec.get("config") or {}
    if name == "Sequential":
        model = _sequential(config, where, custom_objects, safe_mode, classes)
    elif name in ("Functional", "Model") and isinstance(config, dict) and "layers" in config:
        model = _functional(config, where, custom_objects, safe_mode, classes)
    else:
        raise KerasFileError(f"{where}: the file holds a {name!r} model (a subclassed model): its "
                             "architecture is Python code, not a config ember can rebuild. Fix: "
                             "rebuild the model in code and load_weights the .weights.h5 file")
    if isinstance(config, dict) and config.get("trainable") is False:
        model.trainable = False
    return model


# -- compile settings --------------------------------------------------------------------------------
def compile_from_config(model, config, where):
    """Compile ``model`` as Keras' ``compile_config`` says (names and built-in optimizers); else
    warn and leave it uncompiled."""
    if not config:
        return
    from .. import optimizers as _optimizers
    try:
        opt = config.get("optimizer")
        if isinstance(opt, dict):
            cls = getattr(_optimizers, opt.get("class_name", ""), None)
            if not isinstance(cls, type):
                raise ValueError(f"optimizer {opt.get('class_name')!r} is not in ember.keras")
            cfg = dict(opt.get("config") or {})
            lr = cfg.get("learning_rate")
            if isinstance(lr, dict):
                raise ValueError("a learning-rate schedule")
            from .config_map import _accepted_args
            accepted = _accepted_args(cls)
            opt = cls(**{k: v for k, v in cfg.items() if k in accepted and k != "name"})

        def plain(value, what):
            if value is None or isinstance(value, str):
                return value
            if isinstance(value, list):
                return [plain(v, what) for v in value]
            if isinstance(value, dict) and "class_name" not in value:
                return {k: plain(v, what) for k, v in value.items()}
            return _compile_object(value, what)
        model.compile(optimizer=opt, loss=plain(config.get("loss"), "loss"),
                      metrics=plain(config.get("metrics"), "metrics"),
                      loss_weights=config.get("loss_weights"))
    except (ValueError, TypeError) as err:
        warnings.warn(f"{where}: the model is loaded uncompiled: its compile settings could not be "
                      f"restored ({err}). Fix: compile it yourself", stacklevel=3)


def _compile_object(spec, what):
    """A built-in loss or metric from Keras' spec (``keras.losses`` / ``keras.metrics``)."""
    from .. import losses as _losses
    from .. import metrics as _metrics
    from .config_map import _accepted_args
    module = spec.get("module")
    if module is None:       # tf.keras' HDF5 training_config names no module: the argument's
        module = "keras.losses" if what == "loss" else "keras.metrics"
    family = {"keras.losses": _losses, "keras.metrics": _metrics}.get(module)
    cls = getattr(family, str(spec.get("class_name")), None) if family else None
    if not isinstance(cls, type):
        raise ValueError(f"{what} {spec.get('class_name')!r} (module {spec.get('module')!r}) is not "
                         "a built-in ember.keras class")
    accepted = _accepted_args(cls)
    config = {}
    for key, value in (spec.get("config") or {}).items():
        if key in accepted:
            config[key] = value
        elif not (value is None or key in ("dtype", "reduction", "name")):
            raise ValueError(f"{what} {spec['class_name']}: argument {key}={value!r} is not "
                             "supported by ember")
    return cls(**config)


# -- files ---------------------------------------------------------------------------------------------
def load_keras(path, classes, custom_objects=None, compile=True, safe_mode=True):
    """An ember model from a Keras 3 ``.keras`` file."""
    import io
    path = os.fspath(path)
    where = f"load_model({path!r})"
    h5py = require_h5py(where)
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise ValueError(f"{where}: not a .keras file (a zip archive): {err}") from err
    with z:
        names = set(z.namelist())
        if "config.json" not in names:
            raise ValueError(f"{where}: the archive has no config.json; not a Keras 3 .keras file")
        spec = json.loads(z.read("config.json"))
        weights = z.read("model.weights.h5") if "model.weights.h5" in names else None
    model = model_from_keras_config(spec, classes, where, custom_objects, safe_mode)
    if weights is not None:
        with h5py.File(io.BytesIO(weights), "r") as f:
            read_weights(model, f, where, by_name=True)
    elif any(True for _ in model.parameters()):
        raise ValueError(f"{where}: the archive has no model.weights.h5 (sharded or npz weights "
                         "are not supported by ember)")
    if compile:
        compile_from_config(model, spec.get("compile_config"), where)
    return model

