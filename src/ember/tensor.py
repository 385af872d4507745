"""The Tensor: an n-dimensional array plus what reverse-mode autodiff needs to know about it.

Arithmetic, reductions and the other array methods are attached by ``ember.ops`` (one floor up),
so that every differentiable op is defined once, beside its backward, in ``ember/ops``.
"""
import operator as _operator

import numpy as _np

from . import dtypes as _dt
from .autograd import anomaly as _anomaly
from .autograd import engine as _engine
from .autograd.graph import Node as _Node
from .autograd.graph import is_grad_enabled as _is_grad_enabled
from .autograd.graph import op_name as _op_name
from .backend import array_backends as _backends
from .backend import xp
from .backend.device import CPU as _CPU
from .backend.device import Device as _Device
from .backend.device import DeviceError as _DeviceError

# True once a second array backend (CuPy, or a test's fake device) is loaded; until then every
# device question below is answered without looking at the arrays.
_multi = False


def _set_single(single):
    global _multi
    _multi = not single


_backends.on_backends_changed(_set_single)


def to_array(data, dtype, device=None):
    """Convert user data to a fresh backend array following ember's dtype defaults, on ``device``
    (None: where ``data`` is -- the CPU for lists, numbers and NumPy arrays)."""
    if isinstance(data, Tensor):
        arr = data.data
    elif _multi and _backends.backend_of(data).device_type != "cpu":
        arr = data
    else:
        try:
            arr = xp.asarray(data)
        except (ValueError, TypeError) as e:
            raise TypeError(f"ember.tensor: cannot convert {type(data).__name__} to a tensor: {e}") from None
    if dtype is None:
        dtype = _dt.default_dtype_for(arr)
    else:
        dtype = _dt.as_dtype(dtype)
        if arr.dtype.kind not in "biuf":
            _dt.default_dtype_for(arr)  # raises the clear error (complex, strings, objects, ...)
    if device is not None:
        dev = _Device(device)
        if dev.type != "cpu" or (_multi and _backends.device_of(arr).type != "cpu"):
            if _backends.backend_of(arr).device_type == "cpu":
                arr = xp.asarray(arr, dtype=dtype)      # convert on the host: fewer bytes to send
            moved = _backends.to_device(arr, dev)
            if moved is not arr:
                return moved.astype(dtype, copy=False)
    if _multi:
        return _backends.get_array_module(arr).array(arr, dtype=dtype, copy=True)
    return xp.array(arr, dtype=dtype, copy=True)


def parse_to_args(device, dtype, fn):
    """``(Device or None, dtype or None)`` from ``to()``'s arguments: the first may be a device or
    a dtype (``x.to("cuda")``, ``x.to("float16")``, ``x.to(ember.float64)``)."""
    if device is None or isinstance(device, _Device):
        return device, _dt.as_dtype(dtype)
    if isinstance(device, (str, int)) and not isinstance(device, bool):
        try:
            return _Device(device), _dt.as_dtype(dtype)
        except _DeviceError:
            if dtype is None and isinstance(device, str):
                try:
                    return None, _dt.as_dtype(device)
                except TypeError:
                    pass
            raise _DeviceError(
                f"{fn}: {device!r} is neither a device ('cpu', 'cuda', 'cuda:N') nor a dtype "
                "('float32', 'float16', 'int64', ...)") from None
    if dtype is not None:
        raise TypeError(f"{fn}: expected a device ('cpu', 'cuda', 'cuda:N') as the first argument, "
                        f"got {device!r}")
    return None, _dt.as_dtype(device)          # a dtype object given positionally


def copy_to(t, device):
    """``t`` on ``device``: ``t`` itself when it is already there, else a copy recorded in the
    graph (its gradient is moved back to ``t``'s device)."""
    arr = _backends.to_device(t.data, device)
    if arr is t.data:
        return t
    source = _backends.device_of(t.data)

    def backward(g):
        return (_backends.to_device(g, source),)
    return Tensor._make(arr, (t,), backward)


def _wrap_array(cls, array):
    """A ``cls`` around ``array`` as it is (no copy, no conversion), outside the graph:
    ``Tensor.wrap``, and the start of ``Tensor._make`` (called as a function: no method lookup
    on the path of every op)."""
    t = object.__new__(cls)
    t.data = array
    t.grad = None
    t._rg = False
    t._node = None
    t._retains_grad = False
    return t


class Tensor:
    """An n-dimensional array with optional gradient tracking.

    Create one with :func:`ember.tensor`.  ``data`` holds the backend array; ``grad`` is a Tensor of
    the same shape once a backward pass reached this tensor (leaves, or ``retain_grad()``).
    """

    # ``_from_logits`` is set only on the outputs of softmax and sigmoid: ("softmax", logits, axis)
    # or ("sigmoid", logits, None), so that a cross-entropy of those probabilities can be computed
    # stably from the logits (ember.ops.probability_losses).  Read it with getattr(t, "_from_logits",
    # None): other tensors leave the slot unset, which costs nothing at creation.
    # ``_hooks`` / ``_post_hooks`` are set only on tensors with gradient hooks (register_hook).
    __slots__ = ("data", "grad", "_rg", "_node", "_retains_grad", "_from_logits", "_hooks", "_post_hooks",
                 "__weakref__")
    # NumPy must hand binary operators with a Tensor on the right back to us (array + tensor).
    __array_ufunc__ = None

    def __init__(self, data, dtype=None, requires_grad=False, device=None):
        self.data = to_array(data, dtype, device)
        self.grad = None
        self._rg = False
        self._node = None
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # -- construction helpers used by ops (no checks, no copies) ------------------------------
    #: ``Tensor.wrap(array)``: a Tensor around ``array`` as it is (no copy, no conversion), outside
    #: the graph.  ``_wrap`` is its old name.
    wrap = _wrap = classmethod(_wrap_array)

    @classmethod
    def _make(cls, array, parents, backward):
        """The output of an op: records a graph node when grad mode is on and a parent needs grad."""
        t = _wrap_array(cls, array)
        if _is_grad_enabled():
            for p in parents:
                if p._rg:
                    t._rg = True
                    t._node = _Node(backward, parents)
                    break
        if _anomaly.enabled:     # ember.autograd.detect_anomaly(): check the output, record the call
            _anomaly.check_forward(t, parents)
        return t

    # -- attributes ------------------------------------------------------------------------------
    # The array's own, read through (a C getter: faster than a property written out in Python).
    shape = property(_operator.attrgetter("data.shape"), doc="The shape (a tuple of ints).")
    dtype = property(_operator.attrgetter("data.dtype"), doc="The dtype (a NumPy dtype).")
    ndim = property(_operator.attrgetter("data.ndim"), doc="The number of dimensions.")
    size = property(_operator.attrgetter("data.size"),
                    doc="The number of elements (NumPy's ``size``, a property; PyTorch's "
                        "``size()`` method returns the shape: use ``shape`` for that).")

    @property
    def device(self):
        """The :class:`ember.device` holding the data (``device('cpu')``, ``device('cuda:0')``)."""
        if _multi:
            return _backends.device_of(self.data)
        return _CPU

    @property
    def is_cuda(self):
        return _multi and _backends.device_of(self.data).type == "cuda"

    def to(self, device=None, dtype=None, copy=False):
        """This tensor on ``device`` and/or of ``dtype``: ``self`` when nothing changes (unless
        ``copy``), else a new tensor recorded in the graph (as ``torch.Tensor.to``).

        The first argument may be a device (``'cpu'``, ``'cuda'``, ``'cuda:1'``, an
        :class:`ember.device`) or a dtype (``'float16'``, ``ember.float64``).
        """
        device, dtype = parse_to_args(device, dtype, "Tensor.to")
        t = self
        if dtype is not None:
            t = t.astype(dtype)                       # a differentiable cast (ember.ops.cast)
        if device is not None:
            t = copy_to(t, device)
        if copy and t is self:
            t = Tensor._make(self.data.copy(), (self,), lambda g: (g,))
        return t

    def cpu(self):
        """This tensor on the host (``self`` if it is already there)."""
        return copy_to(self, _CPU)

    def cuda(self, device=None):
        """This tensor on the GPU (``'cuda'``: the current one, or ``cuda:device``)."""
        return copy_to(self, _Device("cuda", device) if device is not None else _Device("cuda"))

    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded op (user-created tensors, parameters)."""
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    def requires_grad_(self, requires_grad=True):
        """Set whether gradients are tracked for this tensor (in place; returns self)."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"ember: only floating-point tensors can require gradients; this tensor has dtype "
                f"{self.data.dtype}. Convert it first, e.g. t.astype('float32').requires_grad_()")
        if not requires_grad and self._node is not None:
            raise RuntimeError("ember: requires_grad_(False) on a non-leaf tensor; use .detach()")
        self._rg = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self._rg:
            raise RuntimeError("ember: retain_grad() on a tensor that does not require grad")
        self._retains_grad = True
        return self

    def register_hook(self, hook):
        """Run ``hook(grad) -> Tensor or None`` on this tensor's gradient in every backward pass;
        what it returns (same shape) replaces the gradient.  Returns a handle with ``remove()``.

        On a tensor computed by an op, the hook sees the gradient summed over its uses, before
        ``retain_grad()`` keeps it and before it flows on.  On a leaf (a parameter, a tensor you
        created), it sees the leaf's gradient of the pass summed over its uses, before it
        accumulates into ``.grad``.  As PyTorch, also in ``ember.autograd.grad``."""
        if not self._rg:
            raise RuntimeError("ember: cannot register a hook on a tensor that does not require grad")
        if self._node is not None and self._node.backward is None:
            raise RuntimeError("ember: register_hook on a tensor whose graph was already freed by backward()")
        return _engine.add_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Run ``hook(tensor)`` on this leaf after each backward pass has accumulated its ``.grad``
        (e.g. to step an optimizer per parameter during backward).  Returns a handle with
        ``remove()``.  Leaves only, as PyTorch."""
        if self._node is not None:
            raise RuntimeError("ember: register_post_accumulate_grad_hook only works on leaf tensors "
                               "(a parameter, a tensor you created)")
        if not self._rg:
            raise RuntimeError("ember: cannot register a hook on a tensor that does not require grad")
        return _engine.add_hook(self, hook, post=True)

    def zero_grad(self):
        """Drop the accumulated gradient (sets ``.grad`` to None)."""
        self.grad = None

    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) * grad into the ``.grad`` of every leaf that requires grad.

        ``grad`` defaults to 1 and may be omitted only for a tensor with one element.  The graph is
        freed afterwards unless ``retain_graph=True``.
        """
        if not self._rg:
            raise RuntimeError(
                "ember: backward() on a tensor that does not require grad (no input had "
                "requires_grad=True, or it was computed under no_grad())")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"ember: backward() without a gradient needs a scalar (one-element) tensor, "
                    f"but this one has shape {self.shape}; pass grad= of that shape, or reduce "
                    "first (e.g. loss.sum() or loss.mean())")
            mod = _backends.get_array_module(self.data) if _multi else xp
            g = mod.ones(self.data.shape, dtype=self.data.dtype)
        else:
            if isinstance(grad, Tensor):
                g = grad.data
            else:
                mod = _backends.get_array_module(self.data) if _multi else xp
                g = mod.asarray(grad, dtype=self.data.dtype)
            if _multi:
                _backends.check_same_device("backward", self.data, g, names=("tensor", "grad"))
            if g.shape != self.data.shape:
                raise ValueError(f"ember: backward() got grad of shape {g.shape} for a tensor of shape {self.shape}")
            g = g.astype(self.data.dtype, copy=False)
        _engine.run_backward(self, g, retain_graph)

    # -- conversions -------------------------------------------------------------------------------
    def numpy(self):
        """The data as a NumPy array (shares memory on CPU; detach first if you will modify it).

        A tensor on a GPU must be copied to the host explicitly first (``t.cpu().numpy()``), so
        that no training step copies to the host without saying so."""
        if _multi:
            self._require_host("numpy()")
        return _np.asarray(self.data)

    def _require_host(self, what):
        dev = _backends.device_of(self.data)
        if dev.type != "cpu":
            raise TypeError(f"ember: {what} of a tensor on {dev}: copy it to the host first, e.g. "
                            f"t.cpu().numpy() (or t.to('cpu'))")

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"ember: item() needs a one-element tensor, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self):
        """A new tensor sharing the data, cut from the graph (requires_grad=False)."""
        return Tensor.wrap(self.data)

    def clone(self):
        """A copy of the data (not recorded in the graph; use ``x * 1`` for a differentiable copy)."""
        return Tensor.wrap(self.data.copy())

    def __array__(self, dtype=None, copy=None):
        if _multi:
            self._require_host("numpy.asarray()")
        a = _np.asarray(self.data)
        return a if dtype is None else a.astype(dtype)

    # -- DLPack: zero-copy exchange with NumPy, PyTorch, CuPy, JAX (import side: ember.from_dlpack)
    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """This tensor's memory as a DLPack capsule, for another library's ``from_dlpack``
        (``torch.from_dlpack(t)``, ``np.from_dlpack(t)``, ``cupy.from_dlpack(t)``).

        The Python array API signature; every keyword given is passed to the underlying array's
        own ``__dlpack__`` (NumPy's on the CPU, CuPy's on a GPU), which does the export:
        ``stream`` (must be None on the CPU), ``max_version`` (the newest DLPack version the
        consumer understands), ``dl_device`` (NumPy accepts only the CPU) and ``copy`` (None:
        share when possible, True: export a copy, False: share or raise).  Consumers call this;
        users call their library's ``from_dlpack``.

        Zero copy: the consumer sees the same memory, shape and strides (views and transposes
        included), so a write on either side shows on the other.  DLPack carries memory, not
        autograd history: a tensor that requires grad is exported as its data, as
        ``t.detach()`` would be (unlike PyTorch, which refuses; ``t.numpy()`` shares a tensor
        that requires grad in the same way), and writes through the consumer bypass autograd.
        Limits, raised by NumPy as ``BufferError``: non-native byte order (convert first:
        ``t.astype(t.dtype.newbyteorder('='))``); a read-only array goes only to consumers that
        ask for DLPack >= 1.0 (NumPy 2, PyTorch), flagged read-only (PyTorch ignores the flag).
        A tensor holding a NumPy scalar (some reductions) is exported as a 0-d copy.
        """
        arr = self.data
        if isinstance(arr, _np.generic):   # a NumPy scalar (immutable): a 0-d array holding it
            arr = _np.asarray(arr)
        elif not hasattr(arr, "__dlpack__"):
            raise TypeError(f"ember: Tensor.__dlpack__: this tensor's {type(arr).__name__} array "
                            f"(on {self.device}) cannot be exported through DLPack")
        kwargs = {}
        for name, value in (("stream", stream), ("max_version", max_version),
                            ("dl_device", dl_device), ("copy", copy)):
            if value is not None:       # pass on only what was given: older producers lack some
                kwargs[name] = value
        return arr.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        """``(DLPack device type, device index)`` of the data: ``(1, 0)`` on the CPU, ``(2, N)``
        for ``cuda:N`` (CuPy's answer)."""
        arr = self.data
        if isinstance(arr, _np.generic):
            return (1, 0)
        if not hasattr(arr, "__dlpack_device__"):
            raise TypeError(f"ember: Tensor.__dlpack_device__: this tensor's {type(arr).__name__} "
                            "array does not support DLPack")
        return arr.__dlpack_device__()

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("ember: len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("ember: iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"ember: the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __format__(self, format_spec):
        """``f"{loss:.4f}"``: a 0-d tensor formats as its value (NumPy's scalar, so an empty
        spec prints ``1.5``, as TensorFlow); other tensors format as ``str(t)`` with an empty
        spec and raise TypeError for any other spec, as PyTorch and NumPy do."""
        if self.data.ndim == 0:
            return _np.asarray(_backends.to_host(self.data))[()].__format__(format_spec)
        if format_spec:
            raise TypeError(f"ember: format spec {format_spec!r} needs a 0-d tensor, got shape "
                            f"{self.shape}; format a value (f'{{t.item():{format_spec}}}' for a "
                            "one-element tensor) or the array (t.numpy())")
        return str(self)

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("ember: only one-element integer tensors can be used as an index")
        return int(self.data)

    def __hash__(self):
        return id(self)

    def __setitem__(self, index, value):
        if self._rg and _is_grad_enabled():
            raise RuntimeError(
                "ember: in-place assignment into a tensor that requires grad would corrupt its "
                "gradient; do it under `with ember.no_grad():`, or on a .detach()ed copy")
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        self.data[index] = value.data if isinstance(value, Tensor) else value

    # In-place arithmetic changes ``data`` (parameter updates, buffers).  While a graph is being
    # recorded through a tensor that requires grad it would corrupt the gradient, so:
    # * a computed tensor (``x -= mean`` inside a layer's call) is updated OUT of place: the
    #   statement rebinds the name to ``x - mean``, with exact gradients -- TensorFlow's and JAX's
    #   semantics (their tensors are immutable); other references keep the old value;
    # * a leaf that requires grad (a parameter) refuses, as in PyTorch.
    def _inplace(self, other, fn, op):
        if self._rg and _is_grad_enabled():
            if self._node is not None:
                return _OUT_OF_PLACE[op](self, other)
            raise RuntimeError(
                f"ember: in-place {op} on a tensor that requires grad would corrupt its gradient; "
                "do it under `with ember.no_grad():` (e.g. a parameter update)")
        if _multi and isinstance(other, Tensor):
            _backends.check_same_device(op, self.data, other.data)
        fn(self.data, other.data if isinstance(other, Tensor) else other, out=self.data, casting="same_kind")
        return self

    def __iadd__(self, other):
        return self._inplace(other, xp.add, "+=")

    def __isub__(self, other):
        return self._inplace(other, xp.subtract, "-=")

    def __imul__(self, other):
        return self._inplace(other, xp.multiply, "*=")

    def __itruediv__(self, other):
        return self._inplace(other, xp.true_divide, "/=")

    def __repr__(self):
        body = _np.array2string(_backends.to_host(self.data), separator=", ", prefix="tensor(", precision=4,
                                threshold=200, edgeitems=3)
        extra = ""
        if _multi and _backends.device_of(self.data).type != "cpu":
            extra += f", device='{_backends.device_of(self.data)}'"
        if self.data.dtype != _dt.float32:
            extra += f", dtype={self.data.dtype}"
        if self._node is not None:
            extra += f", grad_fn={self._node.name or _op_name(self._node.backward)}"
        elif self._rg:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"


# (the operators are attached by ember.ops, which imports this module)
_OUT_OF_PLACE = {"+=": lambda a, b: a + b, "-=": lambda a, b: a - b, "*=": lambda a, b: a * b,
                 "/=": lambda a, b: a / b}

# The backward engine makes its gradient tensors with this class (it cannot import this module,
# which imports it).
_engine.set_tensor_class(Tensor)

#: ``make(array, parents, backward)``: an op's output (``Tensor._make``), for other packages.
make = Tensor._make
# The old private names of ``to_array`` and ``parse_to_args``, still imported elsewhere.
_to_array = to_array
_parse_to_args = parse_to_args
