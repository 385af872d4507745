"""What ``Model.save`` writes besides the weights, and how ``load_model`` rebuilds the model.

A model file (safetensors, ``ember.serialization``) holds the weights, the optimizer state and two
JSON metadata entries:

* ``ember.train``: the model's class (``module``, ``class_name``, ``registered_name``), its
  ``get_config()``, the input shape and dtype, and the epoch / step counters;
* ``ember.train.compile`` (format 2): what ``compile`` was given -- the optimizer (a name, an
  object described by its ``get_config()``, or an ``ember.optim`` class whose options come back
  with the saved state), the loss(es), the metrics and ``loss_weights`` -- each object as
  ``ember.nn.registry.serialize_object`` describes it.

Loading rebuilds only ember's own classes, registered classes and ``custom_objects``; it never
imports a module named in the file (see ``ember.nn.registry``).  A file whose compile settings
name something that cannot be built fails with an error saying how to provide it, or how to skip
the compile settings (``compile=False``).
"""
import json
import os
import warnings

from .. import serialization
from ..nn import registry
from ..nn.module import Module
from ..optim import Optimizer
from .metrics import Metric

__all__ = ["read_description", "model_description", "compile_description", "load",
           "restore_compile"]

_COMPILE_FORMAT = 2
_SKIP_COMPILE = "; or load_model(path, compile=False) to load the model without its compile settings"


def read_description(path):
    """The ``ember.train`` metadata entry of a model file, or None."""
    meta = serialization.read_metadata(path)
    desc = meta.get("ember.train") if isinstance(meta, dict) else None
    return desc if isinstance(desc, dict) else None


def model_description(model, fmt, strict):
    """The ``ember.train`` entry for ``model``.  ``strict`` (``save``): a model or layer that could
    not be rebuilt from its config raises TypeError; otherwise (``save_weights``) the config is
    left out (None) instead.  A config that is not JSON is left out (None) in both cases."""
    cls = type(model)
    try:
        config = model.get_config()
        if registry.uses_constructor_from_config(cls):
            missing = registry.missing_constructor_args(cls, config)
            if missing:
                raise TypeError(
                    f"{cls.__name__}.save: cannot save the model: {cls.__name__}(...) needs the "
                    f"argument(s) {', '.join(map(repr, missing))}, which its config {sorted(config)} "
                    "does not hold (arguments that are not plain JSON values are not recorded). Fix: "
                    f"define {cls.__name__}.get_config() returning them as JSON values (and "
                    "from_config if it must rebuild objects), or save the weights only with "
                    "save_weights")
    except (TypeError, ValueError, NotImplementedError):
        if strict:
            raise
        config = None
    try:
        json.dumps(config)
    except (TypeError, ValueError):
        config = None
    return {"format": fmt, "class_name": cls.__name__, "module": cls.__module__,
            "registered_name": registry.get_registered_name(cls), "config": config,
            "input_shape": list(model._input_shape) if model._input_shape is not None else None,
            "input_dtype": model._input_dtype,
            "epoch": int(model.epochs_completed), "step": int(model.steps_completed)}


# -- compile settings ---------------------------------------------------------------------------------
def _optimizer_spec(c, what):
    opt = c.optimizer if c.optimizer is not None else c.optimizer_spec
    if isinstance(opt, str):
        return opt
    if callable(getattr(opt, "get_config", None)) and callable(getattr(type(opt), "from_config", None)):
        return registry.serialize_object(opt, what)
    # An ember.optim optimizer (its options are in its state) or a wrapper that names the class it
    # wraps (ember.distributed's ZeroRedundancyOptimizer, _LazyOptimizer).
    cls = getattr(opt, "optimizer_class", None)
    cls = cls if isinstance(cls, type) else type(opt)
    if not issubclass(cls, Optimizer):
        raise TypeError(f"the optimizer {type(opt).__name__} has no get_config()")
    return {"optimizer_class": registry.serialize_object(cls, what)}


def compile_description(model, what):
    """The ``ember.train.compile`` entry for ``model`` (None when not compiled).  Settings that
    cannot be described (an object without ``get_config``) are left out with a warning: the model
    then loads uncompiled."""
    c = model._compiled
    if c is None:
        return None
    config = getattr(c, "config", None) or {}
    try:
        desc = {"format": _COMPILE_FORMAT, "optimizer": _optimizer_spec(c, what),
                "loss": registry.serialize_value(config.get("loss"), what),
                "metrics": registry.serialize_value(config.get("metrics"), what),
                "loss_weights": registry.serialize_value(config.get("loss_weights"), what)}
        json.dumps(desc)
    except (TypeError, ValueError) as e:
        warnings.warn(f"{what}: the compile settings are not saved ({e}); load_model will return the "
                      "model uncompiled (the optimizer state is saved and applied once you compile "
                      "it again)", UserWarning, stacklevel=4)
        return None
    return desc


class _LazyOptimizer:
    """``compile(optimizer=...)`` helper: builds ``cls(parameters)`` (its options come back with
    the saved state)."""

    def __init__(self, cls):
        self.optimizer_class = cls

    def build(self, parameters):
        return self.optimizer_class(parameters)


def _is_loss_class(cls):
    return issubclass(cls, Module) or any("__call__" in k.__dict__ for k in cls.__mro__[:-1])


def _is_optimizer_class(cls):
    return issubclass(cls, Optimizer) or callable(getattr(cls, "build", None))


def _custom_compile(model):
    for klass in type(model).__mro__:
        if "compile" in klass.__dict__:
            return not registry.is_ember_module(klass.__module__)
    return False


def _restore_legacy(model, desc, what):
    """Files written before format 2: only names were saved (objects made the model load
    uncompiled); the optimizer is an ember.optim class built lazily."""
    opt_desc = desc.get("optimizer") or {}
    optimizer = None
    if "class_name" in opt_desc:
        cls = registry.deserialize_object(
            {"module": opt_desc.get("module"), "class_name": "__class__",
             "config": opt_desc["class_name"], "registered_name": None},
            kind=_is_optimizer_class, kind_name="optimizer", what=what, hint=_SKIP_COMPILE)
        for klass in cls.__mro__:   # the class itself, or the ember.optim class it extends
            if klass.__module__.startswith("ember.optim") and klass is not Optimizer:
                cls = klass
                break
        optimizer = _LazyOptimizer(cls)
    elif "name" in opt_desc:
        optimizer = opt_desc["name"]
    if desc.get("loss") is None or optimizer is None:
        return
    model.compile(optimizer=optimizer, loss=desc["loss"], metrics=desc.get("metrics") or None,
                  loss_weights=desc.get("loss_weights"))


def restore_compile(model, desc, optimizer_state, what):
    """Compile the loaded ``model`` as it was saved (``desc``: the ``ember.train.compile`` entry)
    and give it the saved optimizer state (applied when the optimizer is built)."""
    if optimizer_state is not None:
        model._pending_optimizer_state = optimizer_state
    if not isinstance(desc, dict):
        return
    if desc.get("format") != _COMPILE_FORMAT:
        _restore_legacy(model, desc, what)
        return
    spec = desc.get("optimizer")
    if isinstance(spec, dict) and "optimizer_class" in spec:
        optimizer = _LazyOptimizer(registry.deserialize_object(
            spec["optimizer_class"], kind=Optimizer, kind_name="optimizer (ember.optim.Optimizer)",
            what=what, allow_functions=False, hint=_SKIP_COMPILE))
    elif isinstance(spec, str):
        optimizer = spec
    else:
        optimizer = registry.deserialize_object(spec, kind=_is_optimizer_class, kind_name="optimizer",
                                                what=what, allow_functions=False, hint=_SKIP_COMPILE)
    loss = registry.deserialize_value(desc.get("loss"), kind=_is_loss_class, kind_name="loss",
                                      what=what, hint=_SKIP_COMPILE)
    metrics = registry.deserialize_value(desc.get("metrics"), kind=Metric,
                                         kind_name="metric (ember.train.metrics.Metric)", what=what,
                                         hint=_SKIP_COMPILE)
    if _custom_compile(model):
        warnings.warn(f"{what}: compile() was not called on the loaded model because "
                      f"{type(model).__name__}.compile is its own; call model.compile(...) yourself "
                      "(the saved optimizer state is applied when the optimizer is built)",
                      UserWarning, stacklevel=4)
        return
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                  loss_weights=desc.get("loss_weights"))


# -- loading -------------------------------------------------------------------------------------------
def load(cls, base, path, compile=True, custom_objects=None, safe_mode=True, what=None):
    """Rebuild the model saved at ``path`` (see ``Model.load``).  ``cls``: the class ``load`` was
    called on; ``base``: ``ember.train.Model`` (the saved class must derive from it)."""
    what = what or f"{cls.__name__}.load"
    desc = read_description(path)
    if desc is None:
        raise ValueError(f"{what}: {os.fspath(path)} was not written by Model.save (no model "
                         "description); use load_weights")
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"{what}: custom_objects must be a dict of name -> class or function, got "
                        f"{type(custom_objects).__name__}")
    with registry.CustomObjectScope(custom_objects), registry.SafeModeScope(safe_mode):
        saved_cls = registry.deserialize_object(
            {"module": desc.get("module"), "class_name": "__class__", "config": desc.get("class_name"),
             "registered_name": desc.get("registered_name")},
            kind=base, kind_name="model (ember.train.Model)", what=what)
        target = saved_cls if (cls is base or issubclass(saved_cls, cls)) else cls
        if desc.get("config") is None:
            raise ValueError(f"{what}: the file has no model config (it was not JSON-serialisable); "
                             "build the model yourself and use load_weights")
        model = target.from_config(desc["config"])
        if desc.get("input_shape") is not None and model._input_shape is None:
            model._input_shape = tuple(desc["input_shape"])
            model._input_dtype = desc.get("input_dtype")
        if not model.built:
            if model._input_shape is None:
                raise ValueError(f"{what}: the model has lazy layers and the file records no input "
                                 "shape, so its weights cannot be placed")
            model.build()
        data = serialization.load(path)
        model.load_state_dict(data["model"])
        model.epochs_completed = int(desc.get("epoch") or 0)
        model.steps_completed = int(desc.get("step") or 0)
        if compile:
            meta = serialization.read_metadata(path)
            restore_compile(model, meta.get("ember.train.compile"), data.get("optimizer"), what)
    return model
