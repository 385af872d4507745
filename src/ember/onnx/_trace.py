"""Tracing: run a model once with every ``ember.ops`` function wrapped, recording the outermost
op calls (op name, bound arguments, output) and the module whose ``forward`` made each call."""
import inspect
import sys
import types
from dataclasses import dataclass, field

from .. import ops as _ops
from ..nn.module import Module
from ..tensor import Tensor


@dataclass
class Call:
    op: str                 # the op's name in ember.ops ("linear", "add", ...)
    params: dict            # bound arguments, defaults applied
    out: object             # the op's result (a Tensor, or a tuple/list of Tensors)
    module: str             # the dotted path of the module whose forward called it ("" = root)
    index: int = field(default=0)


def _op_functions():
    """{function object: public name} for every function of the ember.ops package (aliases map
    to the name under which the function is defined)."""
    found = {}
    for mod_name, mod in list(sys.modules.items()):
        if not (mod_name == "ember.ops" or mod_name.startswith("ember.ops.")) or mod is None:
            continue
        if mod_name.startswith("ember.ops._"):
            continue
        for name in getattr(mod, "__all__", ()):
            fn = getattr(mod, name, None)
            if isinstance(fn, types.FunctionType) and fn.__module__.startswith("ember.ops"):
                found.setdefault(fn, fn.__name__)
    for name in getattr(_ops, "__all__", ()):
        fn = getattr(_ops, name, None)
        if isinstance(fn, types.FunctionType) and fn.__module__.startswith("ember.ops."):
            found.setdefault(fn, fn.__name__)
    return found


def _rebind_closure(fn, wrappers):
    """A copy of ``fn`` whose closure cells holding op functions hold their wrappers instead, or
    None when its closure holds no op."""
    if not fn.__closure__:
        return None
    cells, changed = [], False
    for cell in fn.__closure__:
        try:
            value = cell.cell_contents
        except ValueError:                  # an empty cell
            cells.append(cell)
            continue
        if isinstance(value, types.FunctionType) and value in wrappers:
            cells.append(types.CellType(wrappers[value]))
            changed = True
        else:
            cells.append(cell)
    if not changed:
        return None
    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, tuple(cells))
    new.__kwdefaults__ = fn.__kwdefaults__
    return new


class Tracer:
    """Context manager: while active, outermost ember op calls are recorded in ``self.calls``."""

    def __init__(self, model=None):
        self.calls = []
        self._depth = 0
        self._stack = []
        self._patched = []          # (owner, attribute, original) to restore
        self._model = model
        self.keep = []              # objects kept alive so that their ids stay unique

    # -- module stack ----------------------------------------------------------------------------
    def module_path(self):
        return self._stack[-1] if self._stack else ""

    def _wrap_forward(self, name, module):
        original = module.forward          # the bound method
        tracer = self

        def forward(*args, **kwargs):
            tracer._stack.append(name or type(module).__name__)
            try:
                return original(*args, **kwargs)
            finally:
                tracer._stack.pop()
        module.__dict__["forward"] = forward
        self._patched.append((module, "forward", None))

    # -- op wrapping -----------------------------------------------------------------------------
    def _wrapper(self, fn, name):
        tracer = self
        sig = inspect.signature(fn)

        def traced(*args, **kwargs):
            if tracer._depth:
                return fn(*args, **kwargs)
            tracer._depth += 1
            try:
                out = fn(*args, **kwargs)
            finally:
                tracer._depth -= 1
            try:
                bound = sig.bind(*args, **kwargs)
                bound.apply_defaults()
                params = dict(bound.arguments)
            except TypeError:
                params = {"args": args, "kwargs": kwargs}
            tracer.keep.append((args, kwargs, out))
            tracer.calls.append(Call(name, params, out, tracer.module_path(), len(tracer.calls)))
            return out
        traced.__wrapped__ = fn
        traced.__name__ = fn.__name__
        return traced

    def __enter__(self):
        originals = _op_functions()
        wrappers = {fn: self._wrapper(fn, name) for fn, name in originals.items()}
        # every ember module attribute (and Tensor class attribute) that is an op: replace it
        for mod_name, mod in list(sys.modules.items()):
            if mod is None or not (mod_name == "ember" or mod_name.startswith("ember.")):
                continue
            if mod_name.startswith("ember.onnx"):
                continue
            d = getattr(mod, "__dict__", None)
            if not d:
                continue
            for attr, value in list(d.items()):
                if isinstance(value, types.FunctionType) and value in wrappers:
                    self._patched.append((mod, attr, value))
                    setattr(mod, attr, wrappers[value])
                elif type(value) is dict and not attr.startswith("__"):
                    # tables of functions (activation names -> ops)
                    for k, v in list(value.items()):
                        if isinstance(v, types.FunctionType) and v in wrappers:
                            self._patched.append((value, k, v))
                            value[k] = wrappers[v]
        for attr, value in list(Tensor.__dict__.items()):
            if not isinstance(value, types.FunctionType):
                continue
            # an op itself (``__add__ = add``) or a closure over one (``__radd__``: a lambda
            # around ``add``, from ``_reflected``)
            replacement = wrappers.get(value) or _rebind_closure(value, wrappers)
            if replacement is not None:
                self._patched.append((Tensor, attr, value))
                setattr(Tensor, attr, replacement)
        if isinstance(self._model, Module):
            for name, m in self._model.named_modules():
                # ops held by instances (``self.activation = F.relu``)
                for attr, value in list(vars(m).items()):
                    if isinstance(value, types.FunctionType) and value in wrappers:
                        self._patched.append((m, attr, value))
                        object.__setattr__(m, attr, wrappers[value])
                self._wrap_forward(name, m)
        return self

    def __exit__(self, *exc):
        for owner, attr, value in reversed(self._patched):
            if value is None:
                owner.__dict__.pop(attr, None)
            elif type(owner) is dict:
                owner[attr] = value
            elif isinstance(owner, Module):
                object.__setattr__(owner, attr, value)
            else:
                setattr(owner, attr, value)
        self._patched.clear()
        return False
