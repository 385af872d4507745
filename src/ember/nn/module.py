"""Module: the base class of every layer and model.

Parameters, buffers and sub-modules assigned as attributes are registered automatically (in
assignment order).  A layer whose input size is not known yet (``Linear(None, 128)``) creates its
weights in ``build(input_shape)`` on its first call, as Keras does.  Every Module records the
arguments it was constructed with, so ``get_config()`` / ``from_config()`` can rebuild it.

The config, in one place: ``Module.__init_subclass__`` wraps each subclass's ``__init__`` so that
the outermost constructor call records its arguments (JSON values and None; other objects are
left out) in ``_config``.  A lazily shaped layer names the argument that ``build`` sizes from its
first input in ``_built_from_input`` (``in_features``, ``in_channels``, ...): when the layer
becomes built, the size found replaces None in the config, so that ``from_config`` rebuilds the
same weight shapes.  A class that holds objects the record leaves out (a regularizer, a child
layer) overrides ``get_config`` to add them.
"""
import inspect
import json
from collections import OrderedDict

import numpy as _np

from ..backend import array_backends as _backends
from ..backend import xp
from ..tensor import Tensor, parse_to_args
from .parameter import Parameter


class StateDictError(KeyError):
    """A state_dict that does not fit the module: lists missing, unexpected and mis-shaped keys."""

    def __str__(self):
        return str(self.args[0])


class UnbuiltModuleError(RuntimeError):
    """Raised when the parameters of a lazily shaped module are asked for before its first call."""


def _jsonable(value):
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def _constructor_config(signature, args):
    """The config recorded from the bound constructor arguments ``args`` (``self`` first): values
    that ``json.dumps`` accepts (tuples included, kept as tuples) and None as they are; other
    objects are left out.  ``**kwargs`` are recorded as the keywords they hold (``from_config``
    passes them back)."""
    config = {}
    for name, p in list(args.items())[1:]:
        var_keyword = signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD
        for key, value in (p.items() if var_keyword else [(name, p)]):
            if value is None or _jsonable(value):
                config[key] = value
            elif isinstance(value, (tuple, list)) and all(_jsonable(i) for i in value):
                config[key] = list(value)
    return config


class Module:
    """Base class for layers and models.  Subclasses define ``forward`` (and ``build`` if lazy)."""

    #: The constructor argument that ``build`` takes from the first input (``in_features`` for
    #: ``Linear``), for a layer whose weights are sized lazily; see the module docstring.
    _built_from_input = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_records_config", False):
            return
        signature = inspect.signature(init)

        def __init__(self, *args, **kw):
            outermost = "_config" not in self.__dict__
            if outermost:              # the outermost constructor of this object records the config
                _setup(self)
                self._config = None
            init(self, *args, **kw)
            if outermost:
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                self._config = _constructor_config(signature, bound.arguments)
        __init__.__wrapped__ = init
        __init__.__signature__ = signature
        __init__.__doc__ = init.__doc__
        __init__._records_config = True
        cls.__init__ = __init__

    def __init__(self):
        if "_parameters" not in self.__dict__:
            _setup(self)

    # -- registration ----------------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            _setup(self)
        params, modules, buffers = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter {name!r} "
                                "(expected an ember.nn.Parameter or None)")
            params[name] = None
        elif name in buffers:
            buffers[name] = value if (value is None or isinstance(value, Tensor)) else Tensor(value)
            value = buffers[name]
        elif name in modules and value is None:
            modules[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for registry in ("_parameters", "_modules", "_buffers"):
            self.__dict__[registry].pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        if param is None:
            self.__dict__["_parameters"][name] = None
            setattr(self, name, None)       # a registered parameter name: stays one, set to None
        else:
            setattr(self, name, param if isinstance(param, Parameter) else Parameter(param))

    def register_buffer(self, name, tensor, persistent=True):
        """Register non-trainable state (e.g. running statistics) saved in ``state_dict``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        self.__dict__["_buffers"][name] = tensor
        if not persistent:
            self.__dict__["_non_persistent"].add(name)
        # not `self.name = tensor`: __setattr__ would register a Parameter given here as a parameter
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        setattr(self, name, module)

    # -- lazy shapes -----------------------------------------------------------------------------
    @property
    def built(self):
        """False for a lazily shaped layer that has not seen an input yet."""
        return self.__dict__.get("_built", True)

    @built.setter
    def built(self, value):
        self._built = bool(value)
        name = type(self)._built_from_input
        config = self.__dict__.get("_config")
        if value and name and config is not None and name in config and config[name] is None:
            size = getattr(self, name)                  # the size build() found
            config[name] = list(size) if isinstance(size, tuple) else size

    def build(self, input_shape):
        """Create the weights from the first input's shape (lazy layers override this)."""
        self.built = True

    # -- calling ---------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if not self.__dict__.get("_built", True):
            first = args[0] if args else next(iter(kwargs.values()))
            self.build(tuple(first.shape))
            self.built = True
        return self.forward(*args, **kwargs)

    # -- traversal -------------------------------------------------------------------------------
    def _check_built(self):
        unbuilt = [n or type(m).__name__ for n, m in self.named_modules() if not m.built]
        if unbuilt:
            raise UnbuiltModuleError(
                f"{type(self).__name__}: the weights of {', '.join(unbuilt)} do not exist yet "
                "(input size not given). Call the model on one batch first, or give the input size "
                "(e.g. Linear(784, 128) instead of Linear(None, 128)).")

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix="", memo=None):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self.named_children():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) pairs; a parameter shared by two modules is listed once.

        Raises UnbuiltModuleError at the call (not at first iteration) while a lazy layer has not
        seen an input yet, so ``opt = Adam(model.parameters())`` fails where the mistake is.
        """
        self._check_built()
        return self._iter_named_parameters(prefix, recurse)

    def _iter_named_parameters(self, prefix, recurse):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{name}" if mname else name), p

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{name}" if mname else name), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) and on self; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- modes and gradients ---------------------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter of this module; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @property
    def trainable(self):
        """Keras' ``layer.trainable``: False when every parameter of this module is frozen.
        Setting it freezes (False) or unfreezes (True) all of them, as ``requires_grad_``."""
        params = [p for _, p in self._iter_named_parameters("", True)]   # works before build too
        return not params or any(p.requires_grad for p in params)

    @trainable.setter
    def trainable(self, value):
        self.requires_grad_(bool(value))

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def num_parameters(self, trainable_only=False):
        """Number of scalar parameters (only those with requires_grad when ``trainable_only``)."""
        return int(sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only))

    def to(self, device=None, dtype=None):
        """Move every parameter and buffer to ``device`` and/or convert the floating ones to
        ``dtype``, in place; returns self.  The first argument may be a device (``'cpu'``,
        ``'cuda'``, ``'cuda:1'``, an ``ember.device``) or a dtype (``model.to("float64")``).

        Parameters stay the same objects (their ``data`` is replaced; gradients move along), so
        references to them remain valid, but an optimizer created before the move keeps its state
        on the old device: create optimizers after ``to()``, as in PyTorch.
        """
        device, dtype = parse_to_args(device, dtype, "Module.to")
        if device is not None and device.type != "cpu":
            _backends.backend_for(device)      # unusable device: fail before changing anything
        if dtype is not None:
            for p in self.parameters():
                if p.data.dtype.kind == "f":
                    p.data = p.data.astype(dtype)
                    p.grad = None
                    p._grad_buffer = None  # a flat optimizer buffer of the old dtype no longer fits
            for m in self.modules():
                for name, b in m._buffers.items():
                    if b is not None and b.data.dtype.kind == "f":
                        b.data = b.data.astype(dtype)
        if device is not None:
            self._move_to(device)
        return self

    def _move_to(self, device):
        for p in self.parameters():
            moved = _backends.to_device(p.data, device)
            if moved is p.data:
                continue
            p.data = moved
            # the flat optimizer gradient buffer (if any) lives on the old device
            p._grad_buffer = None
            if p.grad is not None:
                p.grad = Tensor.wrap(_backends.to_device(p.grad.data, device))
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None:
                    b.data = _backends.to_device(b.data, device)

    # -- state -----------------------------------------------------------------------------------
    def state_dict(self):
        """Ordered mapping from dotted names to Tensors (parameters and persistent buffers)."""
        out = OrderedDict()
        for mname, m in self.named_modules():
            for name, p in m._parameters.items():
                if p is not None:
                    out[f"{mname}.{name}" if mname else name] = p
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[f"{mname}.{name}" if mname else name] = b
        return out

    def _upgraded_state(self, state_dict):
        """``state_dict`` with the keys of older layouts converted, losslessly, by the sub-modules
        that define ``upgrade_state_dict(state_dict, prefix) -> state_dict`` (a layer whose
        weights changed names or count since files were written)."""
        for name, m in self.named_modules():
            upgrade = getattr(type(m), "upgrade_state_dict", None)
            if upgrade is not None:
                state_dict = upgrade(m, state_dict, f"{name}." if name else "")
        return state_dict

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into this module's parameters and buffers (in place).

        With ``strict`` a mismatch raises one error listing every missing key, unexpected key and
        wrongly shaped key; without it, matching keys are loaded and the lists are returned.

        Values are taken in ember's layouts.  PyTorch tensors (recognised by type, without
        importing torch) are refused: ember stores Linear, Conv and RNN weights transposed
        relative to PyTorch, and a square weight would otherwise load silently in the wrong
        layout.  Use ``ember.io.load_torch_state_dict(model, state_dict)``, which converts them,
        or pass NumPy arrays already in ember's layouts.
        """
        torch_keys = [k for k, v in state_dict.items() if _is_torch_tensor(v)]
        if torch_keys:
            raise TypeError(
                f"{type(self).__name__}.load_state_dict got PyTorch tensors (e.g. {torch_keys[0]!r}); "
                "ember's Linear/Conv/RNN weights are laid out differently from PyTorch's, so use "
                "ember.io.load_torch_state_dict(model, state_dict), which converts each layer, or "
                "pass NumPy arrays already in ember's layout")
        state_dict = self._upgraded_state(state_dict)
        own = self.state_dict()
        missing, unexpected, wrong = state_mismatches(own, state_dict, "checkpoint")
        if strict and (missing or unexpected or wrong):
            lines = [f"Error loading state_dict into {type(self).__name__}:"]
            if missing:
                lines.append(f"  missing keys: {', '.join(missing)}")
            if unexpected:
                lines.append(f"  unexpected keys: {', '.join(unexpected)}")
            if wrong:
                lines.append("  wrong shapes: " + "; ".join(wrong))
            raise StateDictError("\n".join(lines))
        bad = {w.split(":")[0] for w in wrong}
        for k, t in own.items():
            if k in state_dict and k not in bad:
                v = state_dict[k]
                arr = v.data if isinstance(v, Tensor) else v
                if _backends.single_backend():
                    t.data[...] = xp.asarray(arr, dtype=t.data.dtype)
                else:   # from any device to this tensor's device
                    if _backends.backend_of(arr).device_type == "cpu":
                        arr = _np.asarray(arr)
                    arr = _backends.to_device(arr, _backends.device_of(t.data))
                    t.data[...] = arr.astype(t.data.dtype, copy=False)
        return {"missing_keys": missing, "unexpected_keys": unexpected, "wrong_shapes": wrong}

    # -- config ----------------------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments this module was built with (JSON-serialisable ones)."""
        return dict(self.__dict__.get("_config") or {})

    @classmethod
    def from_config(cls, config):
        """A new module of this class built from ``get_config()``'s output."""
        return cls(**config)

    from_config.__func__._calls_constructor = True   # see ember.nn.registry (save-time checks)

    # -- printing --------------------------------------------------------------------------------
    def extra_repr(self):
        cfg = self.get_config()
        return ", ".join(f"{k}={v!r}" for k, v in cfg.items())

    def __repr__(self):
        children = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [head]
        for name, m in children:
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return "\n".join(lines) + "\n)"


def _is_torch_tensor(value):
    """True for a torch.Tensor or torch.nn.Parameter, by type name (torch is not imported)."""
    return any(c.__module__.split(".")[0] == "torch" and c.__name__ in ("Tensor", "Parameter")
               for c in type(value).__mro__)


def state_mismatches(own, given, label, order=None):
    """How the tensors ``given`` (a checkpoint's) fail to fit a model's ``own`` (both mappings of
    name to anything with a ``shape``): ``(missing, unexpected, wrong)``, the names of ``own`` that
    ``given`` lacks, the names of ``given`` that ``own`` lacks, and ``"name: <label> (shape) vs
    model (shape)"`` for each name whose shapes differ, in the order of ``order`` (default
    ``own``)."""
    missing = [k for k in own if k not in given]
    unexpected = [k for k in given if k not in own]
    wrong = []
    for k in (own if order is None else order):
        if k in own and k in given:
            shape, model_shape = tuple(given[k].shape), tuple(own[k].shape)
            if shape != model_shape:
                wrong.append(f"{k}: {label} {shape} vs model {model_shape}")
    return missing, unexpected, wrong


def _setup(module):
    d = module.__dict__
    d.setdefault("_parameters", OrderedDict())
    d.setdefault("_modules", OrderedDict())
    d.setdefault("_buffers", OrderedDict())
    d.setdefault("_non_persistent", set())
    d.setdefault("training", True)
