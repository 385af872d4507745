"""Layer configs between ember and Keras 3's ``.keras`` files.

ember's layers take Keras' constructor arguments and names, so a layer's config maps 1:1 to
Keras' with three translations:

* nested objects (initializers, regularizers, constraints, wrapped layers) carry Keras' module
  names (``keras.initializers``...) in files ember writes, so Keras finds its own classes and
  never imports ember;
* Keras keys ember has no argument for are dropped only when their value is one ember already
  honours (``kernel_constraint=None``, ``data_format='channels_last'``, a float32 ``dtype``
  policy, ``seed``, ``unroll``...); any other value is an error naming the layer and the key;
* classes are looked up by name among ``ember.keras.layers`` (for Keras' own modules), then in
  ``custom_objects`` and the registered classes.  Nothing named in a file is ever imported, and
  Keras' ``Lambda`` bytecode is never run.
"""
import inspect

from ...nn import registry as _registry

__all__ = ["layer_to_keras", "layer_from_keras", "keras_value", "KerasFileError"]


class KerasFileError(ValueError):
    """A Keras file asks for something ember cannot honour (the message says what and the fix)."""


#: Keras' argument -> test of a value ember honours without that argument.
_HARMLESS = {
    "quantization_config": lambda v: v is None,
    "data_format": lambda v: v in (None, "channels_last"),
    "seed": lambda v: True,                  # only the random streams (dropout, init) differ
    "noise_shape": lambda v: v is None,
    "stateful": lambda v: not v,
    "unroll": lambda v: True,                # the same maths, unrolled or not
    "renorm": lambda v: not v,
    "renorm_clipping": lambda v: v is None,
    "renorm_momentum": lambda v: True,       # used only with renorm=True
    "synchronized": lambda v: True,          # one device: the same statistics
    "sparse": lambda v: not v,
    "ragged": lambda v: not v,
    "optional": lambda v: not v,
    "lora_rank": lambda v: v is None,
    "lora_alpha": lambda v: True,
    "activity_regularizer": lambda v: v is None,
    "time_major": lambda v: not v,
    "implementation": lambda v: True,        # Keras 2's RNN kernel choice: the same maths
}
_HARMLESS_SUFFIX = {"_constraint": lambda v: v is None, "_regularizer": lambda v: v is None}

_MODULE_OF_KEY = (("initializer", "keras.initializers"), ("regularizer", "keras.regularizers"),
                  ("constraint", "keras.constraints"))
_LAYER_KEYS = ("layer", "backward_layer", "cell")


def _accepted_args(cls):
    """The keyword arguments ``cls(...)`` accepts (following ``**kwargs`` up the bases)."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names.update(p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    # ember.keras.layers.Layer's own **kwargs
    names.update({"input_shape", "batch_input_shape", "batch_size", "activity_regularizer"})
    return names


# -- ember -> Keras --------------------------------------------------------------------------------
def keras_value(value, key=""):
    """``value`` (a piece of an ember config) as Keras writes it: nested object specs carry
    Keras' module names."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        if key in _LAYER_KEYS:
            return layer_spec_to_keras(value)
        module = next((m for part, m in _MODULE_OF_KEY if key.endswith(part)), None)
        out = {"module": module or "keras", "class_name": value["class_name"],
               "config": {k: keras_value(v, k) for k, v in (value.get("config") or {}).items()},
               "registered_name": None}
        registered = value.get("registered_name")
        if registered and ">" in str(registered):
            out["registered_name"] = registered
        return out
    if isinstance(value, dict):
        return {k: keras_value(v, k) for k, v in value.items()}
    if isinstance(value, tuple):
        return [keras_value(v, key) for v in value]
    if isinstance(value, list):
        return [keras_value(v, key) for v in value]
    return value


def layer_spec_to_keras(spec):
    """An ember layer spec (``serialize_object``) in Keras' form."""
    registered = spec.get("registered_name")
    own = str(spec.get("module") or "").startswith("ember")
    return {"module": "keras.layers" if own else spec.get("module"),
            "class_name": spec["class_name"],
            "config": {k: keras_value(v, k) for k, v in spec["config"].items()},
            "registered_name": None if own else (registered or spec["class_name"])}


def layer_to_keras(layer, where="save"):
    """Keras' ``{"module", "class_name", "config", "registered_name"}`` of an ember layer."""
    if type(layer).__name__ == "Lambda":
        raise KerasFileError(f"{where}: layer {layer.name!r} is a Lambda; a .keras file would hold "
                             "its Python bytecode, which ember never writes. Fix: write a Layer "
                             "subclass with get_config(), or save in ember's format (.ember)")
    spec = layer_spec_to_keras(_registry.serialize_object(layer, where))
    if type(layer).__name__.startswith("SpatialDropout") and layer.trainable:
        spec["config"].pop("trainable", None)   # Keras 3.15's SpatialDropout*D do not take it
    # Keras 3 builds a loaded model's layers by calling them (an InputLayer leads every model
    # ember writes); an input_shape in a layer's config only makes it warn "Do not pass an
    # `input_shape`" for every layer it loads
    spec["config"].pop("input_shape", None)
    return spec


# -- Keras -> ember ----------------------------------------------------------------------------------
def _refuse_lambda(spec, where, safe_mode):
    raise KerasFileError(
        f"{where}: layer {spec.get('config', {}).get('name')!r} is a Lambda holding Python bytecode. "
        + ("Loading it would run code taken from the file, which is refused in safe mode. "
           if safe_mode else "ember never runs bytecode from a file, even with safe_mode=False. ")
        + "Fix: replace the Lambda by a registered Layer subclass (or a named function passed "
        "as custom_objects) and save the model again")


def _find_class(spec, where, custom_objects):
    """The layer class a Keras spec names: custom / registered first, then ember.keras.layers
    for Keras' own modules.  Never imports."""
    from .. import layers as _layers
    name = spec.get("class_name")
    registered = spec.get("registered_name")
    module = str(spec.get("module") or "")
    scope = dict(custom_objects or {})
    for key in (registered, name):
        if key and key in scope:
            return scope[key]
        if key:
            found = _registry.get_registered_object(key)
            if found is not None:
                return found
    # no module: tf.keras 2 and legacy .h5 configs name Keras' classes by class name alone
    own = not module or module == "keras" or module.startswith("keras.") or \
        module.startswith("ember")
    if own and (registered in (None, name) or str(registered).startswith("keras")):
        cls = getattr(_layers, name, None)
        if isinstance(cls, type):
            return cls
        raise KerasFileError(f"{where}: the file uses Keras' layer {name!r}, which ember.keras has "
                             "not got. Fix: rebuild the model without it, or pass your own "
                             f"implementation as custom_objects={{{name!r}: YourLayer}}")
    key = registered or name
    raise KerasFileError(f"{where}: the file names the class {key!r} (module {module!r}), which is "
                         "neither an ember.keras layer nor registered. Nothing named in a file is "
                         f"ever imported. Fix: load_model(path, custom_objects={{{key!r}: {name}}}), "
                         "or decorate its definition with "
                         "@ember.keras.saving.register_keras_serializable()")


def _dtype_name(value):
    if isinstance(value, dict):
        return (value.get("config") or {}).get("name")
    return value


def _nested_from_keras(value, key, where, custom_objects, safe_mode):
    """A nested value of a Keras config as ember takes it."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        if key in _LAYER_KEYS:
            return layer_from_keras(value, where, custom_objects, safe_mode)
        if value["class_name"] == "__lambda__":
            _refuse_lambda({"config": {"name": key}}, where, safe_mode)
        config = {k: _nested_from_keras(v, k, where, custom_objects, safe_mode)
                  for k, v in (value.get("config") or {}).items()
                  if not (v is None and key.endswith("initializer"))}
        return {"class_name": value["class_name"], "config": config}
    if isinstance(value, list):
        return [_nested_from_keras(v, key, where, custom_objects, safe_mode) for v in value]
    return value


def layer_from_keras(spec, where="load_model", custom_objects=None, safe_mode=True):
    """An ember layer (not yet called) from Keras' spec of a layer."""
    name = spec.get("class_name")
    config = dict(spec.get("config") or {})
    label = f"{where}: layer {config.get('name')!r} ({name})"
    if name == "Lambda" or (isinstance(config.get("function"), dict)
                            and config["function"].get("class_name") == "__lambda__"):
        _refuse_lambda(spec, where, safe_mode)
    cls = _find_class(spec, where, custom_objects)
    if "dtype" in config:
        dtype = _dtype_name(config["dtype"])
        if name == "InputLayer":
            config["dtype"] = dtype
        # (Keras' Hashing records its int output dtype as its policy; ember's gives int64)
        elif dtype not in (None, "float32") and not (name == "Hashing" and dtype in ("int32",
                                                                               "int64")):
            raise KerasFileError(f"{label}: dtype policy {dtype!r}; ember.keras layers compute in "
                                 "float32. Fix: save the model with the float32 policy")
        else:
            config.pop("dtype")
    if not str(getattr(cls, "__module__", "")).startswith("ember"):
        # a user's class: its own from_config reads its own config (Keras' contract)
        with _registry.CustomObjectScope(custom_objects or {}):
            return cls.from_config(config)
    accepted = _accepted_args(cls)
    out = {}
    for key, value in config.items():
        if key not in accepted:
            test = _HARMLESS.get(key) or next((t for s, t in _HARMLESS_SUFFIX.items()
                                               if key.endswith(s)), None)
            if test is not None and test(value):
                continue            # deliberately dropped: ember behaves the same without it
            # else passed on: a layer reading it from **kwargs honours it, any other refuses it
            # (the error below names the layer and the key)
        out[key] = _nested_from_keras(value, key, where, custom_objects, safe_mode)
    try:
        with _registry.CustomObjectScope(custom_objects or {}):
            return cls.from_config(out)
    except (TypeError, ValueError, NotImplementedError) as err:
        raise KerasFileError(f"{label}: ember cannot build it from the file's config: {err}") \
            from err
