"""Containers: Sequential, ModuleList, ModuleDict.

Their ``get_config()`` describes every child (``{"class_name", "module", "config",
"registered_name"}``), so ``from_config`` rebuilds the whole tree.  A child's class is found
safely (``ember.nn.registry``): one of ember's own Module classes, a registered class or one in
``custom_objects`` -- never by importing a module named in the file.
"""
from collections import OrderedDict

from .. import registry
from ..module import Module


def serialize_module(module):
    """A description of ``module`` from which ``deserialize_module`` rebuilds it (fresh weights).

    Raises TypeError when the module could not be rebuilt from it: its class is rebuilt by
    ``cls(**config)`` and ``get_config()`` lacks a required constructor argument (typically one
    that is not a JSON value, such as a layer or an array, which the automatic config leaves out).
    """
    cls = type(module)
    config = module.get_config()
    if registry.uses_constructor_from_config(cls):
        missing = registry.missing_constructor_args(cls, config)
        if missing:
            name = getattr(module, "name", None)
            label = f"layer {name!r} ({cls.__name__})" if isinstance(name, str) else f"layer {cls.__name__}"
            raise TypeError(
                f"save / get_config: cannot save {label}: {cls.__name__}(...) needs the argument(s) "
                f"{', '.join(map(repr, missing))}, which its config {sorted(config)} does not hold "
                "(arguments that are not plain JSON values -- layers, arrays, functions -- are not "
                f"recorded automatically). Fix: define {cls.__name__}.get_config() returning every "
                "constructor argument as JSON values (and from_config(config) if it must rebuild "
                "objects from them)")
    return {"class_name": cls.__name__, "module": cls.__module__, "config": config,
            "registered_name": registry.get_registered_name(cls)}


def deserialize_module(spec, what="deserialize_module"):
    """The module described by ``serialize_module`` (fresh weights).  Its class must be one of
    ember's Module classes, registered (``ember.keras.saving.register_keras_serializable``) or
    given in ``custom_objects`` / a ``CustomObjectScope``; nothing named in ``spec`` is imported."""
    return registry.deserialize_object(spec, kind=Module, kind_name="layer (ember.nn.Module)",
                                       what=what, allow_functions=False)


def _check_module(container, name, module):
    if not isinstance(module, Module):
        raise TypeError(f"{type(container).__name__}: entry {name!r} is a {type(module).__name__}, "
                        "not an ember.nn.Module")


class _ListBase(Module):
    def _items(self):
        return list(self._modules.items())

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def _index(self, idx):
        n = len(self)
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise TypeError(f"{type(self).__name__} indices must be int or slice, got {type(idx).__name__}")
        if not -n <= idx < n:
            raise IndexError(f"{type(self).__name__} index {idx} is out of range (length {n})")
        return idx % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self._from_items(self._items()[idx])
        return self._items()[self._index(idx)][1]

    def __setitem__(self, idx, module):
        name = self._items()[self._index(idx)][0]
        _check_module(self, name, module)
        setattr(self, name, module)

    def __delitem__(self, idx):
        items = self._items()
        if isinstance(idx, slice):
            drop = {k for k, _ in items[idx]}
        else:
            drop = {items[self._index(idx)][0]}
        self._renumber([(k, m) for k, m in items if k not in drop])

    def _renumber(self, items):
        """Re-register ``items``, renaming integer-named entries 0, 1, 2, ... (as PyTorch)."""
        for k, _ in list(self._modules.items()):
            delattr(self, k)
        numbered = all(k.isdigit() for k, _ in items)
        for i, (k, m) in enumerate(items):
            self.add_module(str(i) if numbered else k, m)

    def add_module(self, name, module):
        _check_module(self, name, module)
        super().add_module(str(name), module)

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        _check_module(self, index, module)
        items = self._items()
        n = len(items)
        index = max(0, min(n, index if index >= 0 else n + index))
        items.insert(index, ("__new__", module))
        self._renumber([(str(i), m) for i, (_, m) in enumerate(items)])
        return self

    def _from_items(self, items):
        raise NotImplementedError

    def extra_repr(self):
        return ""


class Sequential(_ListBase):
    """Call modules one after another: ``Sequential(m1, m2, ...)`` (named "0", "1", ...) or
    ``Sequential(OrderedDict([("conv", m1), ("act", m2)]))``.  Supports indexing (a slice gives a
    Sequential), ``len``, iteration, ``append``, ``extend`` and ``insert``."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def _from_items(self, items):
        return Sequential(OrderedDict(items))

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def get_config(self):
        return {"layers": [dict(serialize_module(m), name=k) for k, m in self._modules.items()]}

    @classmethod
    def from_config(cls, config):
        return cls(OrderedDict((spec["name"], deserialize_module(spec, f"{cls.__name__}.from_config"))
                               for spec in config["layers"]))


class ModuleList(_ListBase):
    """A list of modules registered as sub-modules (named "0", "1", ...); no forward of its own."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _from_items(self, items):
        return ModuleList([m for _, m in items])

    def __iadd__(self, modules):
        return self.extend(modules)

    def get_config(self):
        return {"modules": [serialize_module(m) for m in self._modules.values()]}

    @classmethod
    def from_config(cls, config):
        return cls([deserialize_module(spec, f"{cls.__name__}.from_config") for spec in config["modules"]])


class ModuleDict(Module):
    """An ordered dict of modules registered as sub-modules (keys are their names)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        _check_module(self, key, module)
        self.add_module(str(key), module)

    def __delitem__(self, key):
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key):
        m = self._modules[key]
        delattr(self, key)
        return m

    def clear(self):
        for k in list(self._modules):
            delattr(self, k)

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m

    def get_config(self):
        return {"modules": {k: serialize_module(m) for k, m in self._modules.items()}}

    @classmethod
    def from_config(cls, config):
        return cls(OrderedDict((k, deserialize_module(s, f"{cls.__name__}.from_config"))
                               for k, s in config["modules"].items()))

    def extra_repr(self):
        return ""
