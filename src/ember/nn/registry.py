"""Named classes and functions for saving, and the safe rebuilding of objects from saved files.

A saved object is described as Keras does: ``{"module", "class_name", "config",
"registered_name"}`` (:func:`serialize_object` writes it, :func:`deserialize_object` rebuilds it;
a function is ``class_name="function"`` with its name as ``config``).  Rebuilding never imports a
module named in a file; it builds only

* classes and functions registered with :func:`register_serializable` (Keras'
  ``register_keras_serializable``), found under ``"package>name"``;
* those given as ``custom_objects`` (``load_model(path, custom_objects={"Name": Name})``) or in an
  enclosing :class:`CustomObjectScope`, found under their registered name or their own name;
* ember's own classes and functions (module ``ember`` or ``ember.*``): looked up in ember's
  modules (only ember's own modules are ever imported) and checked to be of the expected kind.

Loading never runs code taken from a file, so a Python ``lambda`` (which has no name to look up)
cannot be saved: :func:`serialize_object` refuses it at save time and names the fix (a named
function, registered or passed as ``custom_objects``).  ``safe_mode`` (Keras' switch that allows
rebuilding lambdas from their bytecode) is accepted and kept for compatibility; ember is always
safe, whatever its value.

The scope and the safe-mode flag are per thread.
"""
import importlib
import inspect
import json
import re
import sys
import threading
import types

import numpy as np

from .module import Module

__all__ = ["register_serializable", "get_registered_name", "get_registered_object",
           "get_custom_objects", "CustomObjectScope", "custom_object_scope", "SafeModeScope",
           "in_safe_mode", "is_ember_module", "serialize_object", "serialize_value",
           "deserialize_object", "deserialize_value", "is_object_spec", "missing_constructor_args",
           "uses_constructor_from_config"]

_GLOBAL_CUSTOM_OBJECTS = {}      # "package>name" -> class or function
_GLOBAL_CUSTOM_NAMES = {}        # class or function -> "package>name"
_local = threading.local()       # .scope: {name: object}; .safe_mode: bool

_EMBER_MODULE = re.compile(r"ember(\.[A-Za-z_][A-Za-z0-9_]*)*")
_FIX = ("Fix: pass it when loading, e.g. load_model(path, custom_objects={{{key!r}: {name}}}), or "
        "decorate its definition with @ember.keras.saving.register_keras_serializable() and run "
        "that definition before loading")


# -- registration ------------------------------------------------------------------------------------
def register_serializable(package="Custom", name=None):
    """Decorator registering a class or function under ``"package>name"`` (``name`` defaults to
    its ``__name__``), so that files naming it can be loaded without ``custom_objects``: Keras'
    ``keras.saving.register_keras_serializable(package="Custom", name=None)``.  A class must have
    ``get_config()`` (its ``from_config(config)``, default ``cls(**config)``, rebuilds it).
    Registering a name again replaces the previous object (as Keras)."""
    if not isinstance(package, str) or (name is not None and not isinstance(name, str)):
        raise TypeError(f"register_keras_serializable(package={package!r}, name={name!r}): package "
                        "and name must be strings")

    def decorator(arg):
        if not callable(arg):
            raise TypeError(f"register_keras_serializable: can register a class or a function, got "
                            f"{type(arg).__name__}")
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"register_keras_serializable: cannot register class {arg.__name__}: it "
                             "has no get_config() method (define get_config() returning its "
                             "constructor arguments)")
        registered_name = f"{package}>{name if name is not None else arg.__name__}"
        previous = _GLOBAL_CUSTOM_OBJECTS.get(registered_name)
        if previous is not None:
            _GLOBAL_CUSTOM_NAMES.pop(previous, None)
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg
    return decorator


def get_registered_name(obj):
    """The name ``obj`` is registered under (``"package>name"``), else its ``__name__``."""
    try:
        return _GLOBAL_CUSTOM_NAMES[obj]
    except (KeyError, TypeError):
        return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The class or function known as ``name``: looked up in the enclosing
    :class:`CustomObjectScope`, the registered objects, ``custom_objects`` and ``module_objects``,
    in this order (Keras' order); None when none has it."""
    scope = getattr(_local, "scope", None) or {}
    for table in (scope, _GLOBAL_CUSTOM_OBJECTS, custom_objects or {}, module_objects or {}):
        if name in table:
            return table[name]
    return None


def get_custom_objects():
    """The live dict of registered objects (``"package>name"`` -> object); objects of a
    :class:`CustomObjectScope` are not in it."""
    return _GLOBAL_CUSTOM_OBJECTS


class CustomObjectScope:
    """``with CustomObjectScope({"Name": obj, ...}):`` makes those classes and functions loadable by
    name inside the block (several dicts may be given; an enclosing scope's objects stay visible,
    the inner ones win).  ``custom_object_scope`` is the same class."""

    def __init__(self, *custom_objects):
        merged = {}
        for i, objects in enumerate(custom_objects):
            if objects is None:
                continue
            if not isinstance(objects, dict):
                raise TypeError(f"CustomObjectScope: argument {i} must be a dict of name -> class or "
                                f"function, got {type(objects).__name__}")
            merged.update(objects)
        self.custom_objects = merged
        self._backup = None

    def __enter__(self):
        self._backup = getattr(_local, "scope", None)
        _local.scope = {**(self._backup or {}), **self.custom_objects}
        return self

    def __exit__(self, *exc):
        _local.scope = self._backup


custom_object_scope = CustomObjectScope


class SafeModeScope:
    """Keras' ``SafeModeScope``, accepted for compatibility: inside ``SafeModeScope(False)``
    :func:`in_safe_mode` is False, but ember never rebuilds code from a file in either mode."""

    def __init__(self, safe_mode=True):
        self.safe_mode = bool(safe_mode)
        self._backup = None

    def __enter__(self):
        self._backup = getattr(_local, "safe_mode", None)
        _local.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc):
        _local.safe_mode = self._backup


def in_safe_mode():
    """True unless an enclosing ``SafeModeScope(False)`` (or ``load_model(safe_mode=False)``)."""
    value = getattr(_local, "safe_mode", None)
    return True if value is None else value


def is_ember_module(name):
    """True for ``"ember"`` and ``"ember.<...>"`` module names."""
    return isinstance(name, str) and (name == "ember" or name.startswith("ember."))


# -- writing -------------------------------------------------------------------------------------------
def serialize_object(obj, what="save"):
    """A JSON description of ``obj`` from which :func:`deserialize_object` rebuilds it:

    * an object with ``get_config()`` -> ``{"module", "class_name", "config", "registered_name"}``
      (objects inside the config are described the same way);
    * a named function -> ``{"module", "class_name": "function", "config": its name,
      "registered_name"}`` (loaded by reference, never from its code);
    * a class -> ``{"module", "class_name": "__class__", "config": its name, "registered_name"}``;

    ``what`` names the caller in errors.  Raises TypeError for an object without ``get_config``
    and for a ``lambda`` (loading never runs code from a file, and a lambda has no name).
    """
    if isinstance(obj, types.FunctionType):
        if obj.__name__ == "<lambda>":
            # In memory only (clone_model): a lambda the enclosing scope names is referred to by
            # that name, and the same scope resolves it back; nothing of it reaches a file.
            for key, value in (getattr(_local, "scope", None) or {}).items():
                if value is obj:
                    return {"module": obj.__module__, "class_name": "function", "config": key,
                            "registered_name": None}
            raise TypeError(
                f"{what}: cannot save a Python lambda: ember saves functions by name and never "
                "stores code in a file (loading it would run that code). Fix: define it with def, "
                "decorate it with @ember.keras.saving.register_keras_serializable() (or pass it "
                "as load_model(..., custom_objects={'name': function})), or write a Layer "
                "subclass with get_config()")
        return {"module": obj.__module__, "class_name": "function", "config": obj.__name__,
                "registered_name": get_registered_name(obj)}
    if isinstance(obj, type):
        return {"module": obj.__module__, "class_name": "__class__", "config": obj.__name__,
                "registered_name": get_registered_name(obj)}
    get_config = getattr(obj, "get_config", None)
    if not callable(get_config):
        raise TypeError(f"{what}: cannot save {type(obj).__name__} object {obj!r:.80}: it has no "
                        "get_config(). Fix: give its class get_config() (returning its constructor "
                        "arguments) and register it with "
                        "@ember.keras.saving.register_keras_serializable()")
    config = get_config()
    if not isinstance(config, dict):
        raise TypeError(f"{what}: {type(obj).__name__}.get_config() must return a dict, got "
                        f"{type(config).__name__}")
    cls = type(obj)
    return {"module": cls.__module__, "class_name": cls.__name__,
            "config": serialize_value(config, what), "registered_name": get_registered_name(cls)}


def serialize_value(value, what="save"):
    """``value`` as JSON: plain values as they are, lists / tuples / dicts (string keys) item by
    item, NumPy scalars as numbers, anything else through :func:`serialize_object`."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [serialize_value(v, what) for v in value]
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise TypeError(f"{what}: cannot save a dict with the non-string key {k!r}")
        return {k: serialize_value(v, what) for k, v in value.items()}
    return serialize_object(value, what)


def is_object_spec(value):
    """True for a dict written by :func:`serialize_object` (it has 'class_name' and 'config')."""
    return isinstance(value, dict) and "class_name" in value and "config" in value


# -- constructor checks (at save time) ----------------------------------------------------------------
def uses_constructor_from_config(cls):
    """True when ``cls.from_config(config)`` is ``cls(**config)``: the nearest ``from_config`` in
    the class's MRO is marked ``_calls_constructor = True`` (Module's and Keras layers' are)."""
    for klass in cls.__mro__:
        if "from_config" in klass.__dict__:
            fn = klass.__dict__["from_config"]
            fn = getattr(fn, "__func__", fn)
            return bool(getattr(fn, "_calls_constructor", False))
    return False


def missing_constructor_args(cls, config):
    """The required constructor parameters of ``cls`` (no default) that ``config`` lacks."""
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return []
    missing = []
    for i, (name, p) in enumerate(signature.parameters.items()):
        if i == 0 or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            continue
        if name not in config:
            missing.append(name)
    return missing


# -- reading -------------------------------------------------------------------------------------------
def _fail_lookup(spec, what, kind_name, hint):
    class_name, module = spec.get("class_name"), spec.get("module")
    is_fn = class_name == "function"
    name = spec.get("config") if is_fn or class_name == "__class__" else class_name
    registered = spec.get("registered_name")
    label = f"{'function' if is_fn else kind_name + ' class'} {name!r}"
    where = f" (module {module!r}" + (f", registered as {registered!r})" if registered and
                                       registered != name else ")")
    why = "it is not one of ember's, not registered and not in custom_objects"
    if module == "__main__":
        why += (", and it was defined in the script that saved the file: define it (or import it) "
                "in the loading script too")
    else:
        why += ", and loading never imports a module named in a file"
    fix = _FIX.format(key=name, name=name)
    if registered and registered != name:
        fix += f" (it must be registered under {registered!r} again)"
    raise ValueError(f"{what}: cannot rebuild {label}{where}: {why}. {fix}{hint}.")


def _ember_attribute(module, name):
    """``module.name`` for an ember module, importing only ember's own modules; None if absent."""
    if not _EMBER_MODULE.fullmatch(module) or any(
            part.startswith("__") for part in module.split(".")):
        return None
    mod = sys.modules.get(module)
    if mod is None:
        try:
            mod = importlib.import_module(module)   # inside ember's package, never elsewhere
        except ImportError:
            return None
    if getattr(mod, "__name__", None) != module:
        return None
    obj = vars(mod).get(name)
    if obj is None or not is_ember_module(getattr(obj, "__module__", None)):
        return None
    return obj


def _lookup(spec, what, kind_name, hint, custom_objects):
    class_name = spec.get("class_name")
    module = spec.get("module")
    name = spec.get("config") if class_name in ("function", "__class__") else class_name
    registered = spec.get("registered_name")
    if not isinstance(name, str) or not name.isidentifier() or not (
            module is None or isinstance(module, str)) or not (
            registered is None or isinstance(registered, str)):
        raise ValueError(f"{what}: malformed object description in the file: {json.dumps(spec)[:200]}")
    for key in dict.fromkeys(k for k in (registered, name) if k):
        obj = get_registered_object(key, custom_objects)
        if obj is not None:
            return obj
    if module is not None and is_ember_module(module):
        obj = _ember_attribute(module, name)
        if obj is not None:
            return obj
    _fail_lookup(spec, what, kind_name, hint)


def _check_kind(obj, kind, kind_name, what, label):
    if kind is None:
        return
    ok = issubclass(obj, kind) if isinstance(kind, (type, tuple)) else kind(obj)
    if not ok:
        raise TypeError(f"{what}: {label} is not a {kind_name} class; the file names the wrong "
                        "class (it was damaged, or not written by ember)")


def deserialize_object(spec, kind=None, kind_name="saved", what="load", custom_objects=None,
                       allow_functions=True, hint=""):
    """Rebuild what :func:`serialize_object` described (see the module docstring for which classes
    and functions may be built).

    kind: the expected kind of class: a class or tuple of classes (``issubclass``), a predicate
        ``kind(cls) -> bool``, or None (any class with ``from_config``); ``kind_name`` names it in
        errors ('layer', 'loss', ...).
    allow_functions: whether a (named or lambda) function may stand here.
    hint: appended to the "cannot find" error (e.g. how to skip this part of the file).
    Objects inside the config of a class that is not an ``ember.nn.Module`` are rebuilt first
    (a Module's ``from_config`` rebuilds its own parts).  Raises ValueError for a class or function
    that may not be built, TypeError for one of the wrong kind.
    """
    if not is_object_spec(spec):
        raise ValueError(f"{what}: malformed object description in the file (expected a dict with "
                         f"'class_name' and 'config'): {json.dumps(spec, default=repr)[:200]}")
    class_name = spec["class_name"]
    if class_name == "__lambda__":
        raise ValueError(f"{what}: the file holds a Python lambda as code; ember never runs code "
                         "taken from a file. Replace the lambda by a named function registered "
                         "with @ember.keras.saving.register_keras_serializable() and save again")
    with CustomObjectScope(custom_objects):
        obj = _lookup(spec, what, kind_name, hint, None)
        label = f"{spec.get('module')}.{spec['config'] if class_name in ('function', '__class__') else class_name}"
        if class_name == "function":
            if not allow_functions:
                raise TypeError(f"{what}: the file has the function {label} where a {kind_name} "
                                "object is expected (a damaged file)")
            if isinstance(obj, type) or not callable(obj):
                raise TypeError(f"{what}: {label} resolves to a {type(obj).__name__}, not a function "
                                "(a wrong custom_objects entry, or a damaged file)")
            return obj
        if not isinstance(obj, type):
            raise TypeError(f"{what}: {label} resolves to a {type(obj).__name__}, not a {kind_name} "
                            "class (a wrong custom_objects entry, or a damaged file)")
        _check_kind(obj, kind, kind_name, what, label)
        if class_name == "__class__":
            return obj
        if not callable(getattr(obj, "from_config", None)):
            raise TypeError(f"{what}: {label} has no from_config(); cannot rebuild it")
        config = spec.get("config") or {}
        if not isinstance(config, dict):
            raise ValueError(f"{what}: malformed config for {label} in the file (expected a dict, "
                             f"got {type(config).__name__})")
        if not issubclass(obj, Module):
            config = deserialize_value(config, what=what)
        try:
            return obj.from_config(config)
        except TypeError as e:
            raise TypeError(f"{what}: {obj.__name__}.from_config could not rebuild the object from "
                            f"its saved config {json.dumps(config, default=repr)[:200]}: {e}. Fix: make "
                            f"{obj.__name__}.get_config() return every constructor argument (and "
                            "from_config() rebuild any object among them)") from e


def deserialize_value(value, kind=None, kind_name="saved", what="load", allow_functions=True,
                      hint=""):
    """Undo :func:`serialize_value`: object descriptions (at any depth) are rebuilt with
    :func:`deserialize_object` (``kind`` etc. as there); other values come back as they are."""
    if is_object_spec(value):
        return deserialize_object(value, kind, kind_name, what, allow_functions=allow_functions,
                                  hint=hint)
    if isinstance(value, list):
        return [deserialize_value(v, kind, kind_name, what, allow_functions, hint) for v in value]
    if isinstance(value, dict):
        return {k: deserialize_value(v, kind, kind_name, what, allow_functions, hint)
                for k, v in value.items()}
    return value
