"""Symbolic tensors: what ``keras.Input`` returns and what calling a layer (or a ``keras.ops``
function) on one returns, the edges of a functional model's graph.

A :class:`KerasTensor` has Keras' ``shape`` (``None`` for a size not known until data comes: the
batch axis, a variable sequence length), ``dtype``, ``ndim`` and ``name``; it records the call
that made it (``_history``: the :class:`Node` and which of its outputs it is).

How shapes are found: a symbolic call runs the layer (or op) for real, in inference mode without
gradients, on two small *probe* batches (batch 2 and 3, unknown sizes 64 and 96), and an output
axis whose size differs between the probes is unknown (``None``).  So every layer -- yours
included -- gets its output shape without a ``compute_output_shape`` of its own, and the layer is
built (its weights created) by this first call, as in Keras.  The probe values are kept while a
graph is being built (the next layer's probes start from them) and dropped when a model is made
from the graph; they are recomputed from the inputs when needed again.
"""
import weakref

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["KerasTensor", "Node", "is_symbolic", "any_symbolic", "symbolic_call", "symbolic",
           "flatten", "map_structure", "register_operators", "PROBE_BATCH", "PROBE_SIZE"]

PROBE_BATCH = (2, 3)       # the batch sizes of the two probes
PROBE_SIZE = (64, 96)      # the sizes of an unknown (None) non-batch axis in the two probes


class KerasTensor:
    """A symbolic tensor: ``shape`` (a tuple, ``None`` for unknown sizes), ``dtype`` (a string),
    ``ndim``, ``name``.  It has no values: use it to build a model, ``keras.Model(inputs,
    outputs)``, then call the model on data."""

    __array_priority__ = 1000       # NumPy defers to our reflected operators

    def __init__(self, shape, dtype="float32", name=None, probes=None, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = str(np.dtype(dtype))
        self.name = name
        self._probes = probes       # (Tensor, Tensor): the values on the two probe batches
        self._history = history     # (Node, index) of the call that made it; None for an Input
        self._keras_mask = None     # a KerasTensor mask, when the producing layer gives one

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def node(self):
        return None if self._history is None else self._history[0]

    @property
    def sparse(self):
        return False

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    # -- values, recomputed from the graph when they were dropped ------------------------------------
    def probe(self, k):
        """The value of this tensor on probe batch ``k`` (0 or 1)."""
        if self._probes is None:
            if self._history is None or getattr(self._history[0].operation, "is_input_layer", False):
                self._probes = tuple(_input_probe(self.shape, self.dtype, j) for j in (0, 1))
            else:
                node, _ = self._history
                node.recompute()
        return self._probes[k]

    def _drop_probes(self):
        if self._history is not None:
            self._probes = None

    # -- what a symbolic tensor cannot do -------------------------------------------------------------
    def _no_value(self, what):
        raise TypeError(f"{what} of a symbolic KerasTensor (shape {self.shape}, name {self.name!r}): "
                        "it has no value while the model is being defined. Fix: build the model, "
                        "keras.Model(inputs, outputs), then call it on data; use keras.ops "
                        "functions (not NumPy) on symbolic tensors")

    def __array__(self, dtype=None, copy=None):
        self._no_value("NumPy conversion")

    def __bool__(self):
        self._no_value("The truth value")

    def numpy(self):
        self._no_value("numpy()")

    def __len__(self):
        if self.shape and self.shape[0] is not None:
            return self.shape[0]
        self._no_value("len() (unknown batch size)")

    def __iter__(self):
        self._no_value("Iterating")

    __hash__ = object.__hash__

    # -- operators: keras.ops calls ------------------------------------------------------------------
    def _op(self, name, *args):
        op = _OPERATORS.get(name)
        if op is None:
            raise TypeError(f"KerasTensor operator: keras.ops.{name} is not available (import "
                            "ember.keras.ops first)")
        return op(*args)

    def __add__(self, o): return self._op("add", self, o)
    def __radd__(self, o): return self._op("add", o, self)
    def __sub__(self, o): return self._op("subtract", self, o)
    def __rsub__(self, o): return self._op("subtract", o, self)
    def __mul__(self, o): return self._op("multiply", self, o)
    def __rmul__(self, o): return self._op("multiply", o, self)
    def __truediv__(self, o): return self._op("divide", self, o)
    def __rtruediv__(self, o): return self._op("divide", o, self)
    def __floordiv__(self, o): return self._op("floor_divide", self, o)
    def __rfloordiv__(self, o): return self._op("floor_divide", o, self)
    def __mod__(self, o): return self._op("mod", self, o)
    def __pow__(self, o): return self._op("power", self, o)
    def __rpow__(self, o): return self._op("power", o, self)
    def __matmul__(self, o): return self._op("matmul", self, o)
    def __rmatmul__(self, o): return self._op("matmul", o, self)
    def __neg__(self): return self._op("negative", self)
    def __pos__(self): return self
    def __abs__(self): return self._op("absolute", self)
    def __lt__(self, o): return self._op("less", self, o)
    def __le__(self, o): return self._op("less_equal", self, o)
    def __gt__(self, o): return self._op("greater", self, o)
    def __ge__(self, o): return self._op("greater_equal", self, o)
    def __and__(self, o): return self._op("logical_and", self, o)
    def __or__(self, o): return self._op("logical_or", self, o)
    def __invert__(self): return self._op("logical_not", self)
    def __getitem__(self, index): return self._op("get_item", self, index)


#: The ``keras.ops`` functions KerasTensor operators call, filled by ``ember.keras.ops`` through
#: :func:`register_operators` (ops imports this module, so this module cannot import ops).
_OPERATORS = {}


def register_operators(namespace):
    """Give KerasTensor's operators (``+``, ``@``, ``[]`` ...) their ``keras.ops`` functions, taken
    from ``namespace`` (a dict of name -> function)."""
    _OPERATORS.update({k: v for k, v in namespace.items() if callable(v)})


def _input_probe(shape, dtype, k):
    size = tuple(PROBE_BATCH[k] if i == 0 and d is None else (PROBE_SIZE[k] if d is None else d)
                 for i, d in enumerate(shape))
    return Tensor.wrap(np.zeros(size, dtype=dtype))


# -- structures (nested lists, tuples, dicts) --------------------------------------------------------
def flatten(obj):
    """The leaves of a nested list / tuple / dict structure, in order (dicts by insertion)."""
    if isinstance(obj, (list, tuple)):
        return [leaf for o in obj for leaf in flatten(o)]
    if isinstance(obj, dict):
        return [leaf for o in obj.values() for leaf in flatten(o)]
    return [obj]


def map_structure(fn, obj):
    """The same structure with every leaf ``x`` replaced by ``fn(x)``."""
    if isinstance(obj, list):
        return [map_structure(fn, o) for o in obj]
    if isinstance(obj, tuple):
        values = [map_structure(fn, o) for o in obj]
        return type(obj)(*values) if hasattr(obj, "_fields") else tuple(values)
    if isinstance(obj, dict):
        return {k: map_structure(fn, v) for k, v in obj.items()}
    return fn(obj)


def is_symbolic(x):
    return isinstance(x, KerasTensor)


def any_symbolic(args, kwargs=None):
    """True when a KerasTensor is among ``args`` / ``kwargs`` (nested one level in lists,
    tuples and dicts, as layers take them)."""
    for a in args:
        if isinstance(a, KerasTensor):
            return True
        if isinstance(a, (list, tuple)) and any(isinstance(b, KerasTensor) for b in flatten(a)):
            return True
        if isinstance(a, dict) and any(isinstance(b, KerasTensor) for b in flatten(a)):
            return True
    if kwargs:
        return any_symbolic(list(kwargs.values()))
    return False


# -- the graph ----------------------------------------------------------------------------------------
class Node:
    """One call in a graph: ``operation(*args, **kwargs)`` where ``args`` / ``kwargs`` hold
    KerasTensors (and constants), giving ``outputs`` (a structure of KerasTensors).
    ``operation`` is a Keras layer, a functional model or an :class:`ember.keras.ops` op."""

    def __init__(self, operation, args, kwargs, outputs):
        self.operation = operation
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in flatten((args, kwargs)) if isinstance(t, KerasTensor)]
        self.output_tensors = flatten(outputs)
        # the common call, layer(tensor, constants...): arguments looked up without walking
        # structures at every run
        self._flat = None
        if not kwargs and isinstance(args, tuple) and not any(
                isinstance(a, (list, tuple, dict)) for a in args):
            self._flat = [(id(a), None) if isinstance(a, KerasTensor) else (None, a) for a in args]

    @property
    def parent_nodes(self):
        return [t.node for t in self.input_tensors if t.node is not None]

    def run(self, values, training=None):
        """Call the operation on real tensors: ``values`` maps ``id(KerasTensor)`` to a Tensor.
        Returns the outputs in the node's structure."""
        if self._flat is not None and training is None:
            return _call_real(self.operation,
                              [values[k] if k is not None else a for k, a in self._flat], {})

        def real(x):
            return values[id(x)] if isinstance(x, KerasTensor) else x
        args = map_structure(real, self.args)
        kwargs = map_structure(real, self.kwargs)
        if training is not None and _accepts(self.operation, "training") and "training" not in kwargs:
            kwargs["training"] = training
        return _call_real(self.operation, args, kwargs)

    def recompute(self):
        """Recompute the probe values of this node's outputs from its inputs' (which are
        recomputed in turn when needed)."""
        outs = []
        for k in (0, 1):
            values = {id(t): t.probe(k) for t in self.input_tensors}
            outs.append(flatten(_probe_call(lambda: self.run(values))))
        for i, t in enumerate(self.output_tensors):
            t._probes = (outs[0][i], outs[1][i])


def _call_real(operation, args, kwargs):
    call = getattr(operation, "_call_on_values", None)
    if call is not None:
        return call(*args, **kwargs)
    return operation(*args, **kwargs)


_accepts_cache = weakref.WeakKeyDictionary()


def _accepts(operation, name):
    """Whether ``operation``'s call takes the keyword ``name`` (a layer's ``call``, an op)."""
    target = getattr(operation, "_keyword_owner", None) or type(operation)
    try:
        known = _accepts_cache.get(target)
    except TypeError:
        known = None
    if known is None:
        import inspect
        fn = getattr(operation, "call", None) or operation
        try:
            params = inspect.signature(fn).parameters.values()
            known = ({p.name for p in params}, any(p.kind is p.VAR_KEYWORD for p in params))
        except (TypeError, ValueError):
            known = (set(), True)
        try:
            _accepts_cache[target] = known
        except TypeError:
            pass
    return name in known[0]


def _probe_call(fn):
    """Run ``fn`` as a probe: inference mode is the caller's, no gradients, and no lasting
    effect on the layers (variable updates are undone, added losses dropped)."""
    from . import variables as _variables
    with no_grad(), _variables.probing():
        return fn()


def _as_tensor(x):
    if isinstance(x, Tensor):
        return x
    return Tensor.wrap(np.asarray(x))


def _shape_from_probes(a, b, where):
    if a.ndim != b.ndim:
        raise ValueError(f"{where}: the output's rank depends on the batch size or on an unknown "
                         f"input size ({a.shape} vs {b.shape}); give the input a fixed shape")
    return tuple(x if x == y else None for x, y in zip(a.shape, b.shape))


def symbolic_call(operation, args, kwargs, name=None):
    """Call ``operation`` (a layer, a model, an op) on arguments holding KerasTensors: run it on
    both probe batches, record a :class:`Node` and return KerasTensors in the structure of the
    outputs."""
    where = getattr(operation, "name", None) or getattr(operation, "__name__", type(operation).__name__)
    inputs = [t for t in flatten((args, kwargs)) if isinstance(t, KerasTensor)]
    _check_one_graph(where, inputs)
    results = []
    modes = _eval_modes(operation)
    try:
        for k in (0, 1):
            values = {id(t): t.probe(k) for t in inputs}

            def real(x, values=values):
                return values[id(x)] if isinstance(x, KerasTensor) else x
            results.append(_probe_call(lambda: _call_real(
                operation, map_structure(real, args), map_structure(real, kwargs))))
    finally:
        for m, flag in modes:
            m.training = flag
    first, second = results
    flat0, flat1 = flatten(first), flatten(second)
    outs = []
    base = name or where
    for i, (a, b) in enumerate(zip(flat0, flat1)):
        a, b = _as_tensor(a), _as_tensor(b)
        shape = _shape_from_probes(a, b, where)
        outs.append(KerasTensor(shape, a.dtype, name=base if len(flat0) == 1 else f"{base}_{i}",
                                probes=(a, b)))
    it = iter(outs)
    structure = map_structure(lambda _: next(it), first)
    node = Node(operation, args, kwargs, structure)
    for i, t in enumerate(outs):
        t._history = (node, i)
    if hasattr(operation, "__dict__"):      # layers and models: Keras' layer.input / output
        operation.__dict__.setdefault("_inbound_nodes", []).append(node)
    return structure


def _eval_modes(operation):
    """Put ``operation`` (a module) in inference mode for the probes; returns what to restore."""
    modules = getattr(operation, "modules", None)
    if modules is None:
        return []
    saved = [(m, m.training) for m in modules()]
    for m, _ in saved:
        m.training = False
    return saved


def _check_one_graph(where, inputs):
    # A KerasTensor always belongs to the graph of the Inputs it came from; nothing to check
    # beyond the types (two graphs meet only in a model whose inputs include both: checked there).
    for t in inputs:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"{where}: expected KerasTensors, got {type(t).__name__}")


def symbolic(fn):
    """Decorator for a ``keras.ops`` function: called with a KerasTensor among its arguments it
    records a graph node (see :func:`symbolic_call`); otherwise it computes."""
    import functools

    class _Op:
        """A ``keras.ops`` function as a graph operation (named for saving)."""
        __slots__ = ()
        name = fn.__name__
        __name__ = fn.__name__
        op_name = fn.__name__

        def __call__(self, *args, **kwargs):
            return fn(*args, **kwargs)

        def __repr__(self):
            return f"<keras.ops.{fn.__name__}>"

    operation = _Op()

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if any_symbolic(args, kwargs):
            return symbolic_call(operation, args, kwargs, name=fn.__name__)
        return fn(*args, **kwargs)

    wrapper.operation = operation
    return wrapper
