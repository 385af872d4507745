"""PyTorch's everyday ``torch.Tensor`` methods that ember lacked, and their functional forms.

Metadata (``dim``, ``numel``, ``stride``, ``is_contiguous``, ...), matrix products with PyTorch's
shape rules (``mm``, ``bmm``, ``mv``, ``addmm``, ``addmv``, ``baddbmm``), the fused arithmetic
(``addcmul``, ``addcdiv``), comparisons under their short names (``eq``, ``lt``, ...), whole-tensor
tests (``equal``, ``allclose``), ``*_as`` and ``new_*`` constructors, dtype casts (``byte``,
``type``, ...) and small shape/maths ops (``unbind``, ``select``, ``trace``, ``diff``, ``dist``,
``renorm``, ...).  Every differentiable one is composed from ember's own ops, so its gradient is
theirs.  Statistics and indexing (``quantile``, ``nanmedian``, ``bincount``, ``index_put``, ...)
live in :mod:`ember.ops.tensor_stats`.
"""
import numbers
import operator

from .. import dtypes as _dt
from ..backend import array_backends as _backends
from ..backend import xp
from ..tensor import Tensor, to_array
from . import elementwise as E
from . import reduction as R
from . import shape as S
from ._base import AxisError, as_tensor, check_axis, make
from .arguments import axis_or_dim
from .cast import cast
from .linalg import matmul
from .linalg_extra import cross as _linalg_cross
from .linalg_norm import vector_norm

__all__ = ["mm", "bmm", "mv", "addmm", "addmv", "baddbmm", "addcmul", "addcdiv", "allclose",
           "square", "reciprocal", "clamp_min", "clamp_max", "unbind", "select", "trace", "diff",
           "dist", "renorm", "tensor_equal"]


# -- metadata ----------------------------------------------------------------------------------
def _dim(self):
    """The number of dimensions (``ndim``)."""
    return self.data.ndim


def _numel(self):
    """The number of elements."""
    return int(self.data.size)


def _element_size(self):
    """Bytes per element (4 for float32)."""
    return self.data.dtype.itemsize


def _stride(self, dim=None):
    """Strides in elements (not bytes), as PyTorch: a tuple, or one int with ``dim``.  A NumPy view
    can have negative strides (``flip``), which PyTorch never has: they are returned as they are."""
    st = tuple(s // self.data.dtype.itemsize for s in self.data.strides)
    if dim is None:
        return st
    return st[check_axis(dim, self.data.ndim, "Tensor.stride", "dim")]


def _address(a):
    if hasattr(a, "__array_interface__"):
        return a.__array_interface__["data"][0]
    return a.data.ptr          # CuPy


def _storage_offset(self):
    """Elements from the start of the underlying buffer to this view's first element (0 for a
    tensor that owns its data)."""
    a, base = self.data, self.data
    while getattr(base, "base", None) is not None and hasattr(base.base, "dtype"):
        base = base.base
    if base is a:
        return 0
    return (_address(a) - _address(base)) // a.dtype.itemsize


def _is_contiguous(self, memory_format=None):
    """True when the data is laid out row-major without gaps (C-contiguous)."""
    return bool(self.data.flags.c_contiguous)


def _contiguous(self, memory_format=None):
    """``self`` when C-contiguous, else a contiguous copy (recorded in the graph)."""
    if self.data.flags.c_contiguous:
        return self
    return make(xp.ascontiguousarray(self.data), (self,), lambda g: (g,))


def _t(self):
    """Transpose of a tensor with at most 2 dimensions (0-d and 1-d come back unchanged)."""
    if self.ndim > 2:
        raise ValueError(f"ember: Tensor.t() expects a tensor with <= 2 dimensions, but this one "
                           f"is {self.ndim}-D (shape {self.shape}); use transpose(x, d0, d1) or x.mT")
    return S.transpose(self) if self.ndim == 2 else self


# -- matrix products ----------------------------------------------------------------------------
def _check_mat(op, a, b, nd_a, nd_b):
    a, b = as_tensor(a, op, "input"), as_tensor(b, op, "mat2")
    if a.ndim != nd_a or b.ndim != nd_b:
        raise ValueError(f"ember.{op}: expected {nd_a}-D and {nd_b}-D tensors, got shapes "
                           f"{a.shape} and {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"ember.{op}: expected both operands to have the same dtype, got "
                           f"{a.dtype} and {b.dtype}; cast one, e.g. b.to(a.dtype)")
    inner_b = b.shape[-2] if nd_b >= 2 else b.shape[0]
    if a.shape[-1] != inner_b or (nd_a == 3 and a.shape[0] != b.shape[0]):
        raise ValueError(f"ember.{op}: shapes {a.shape} and {b.shape} cannot be multiplied")
    return a, b


def mm(input, mat2):
    """Matrix product of 2-D ``input`` (n, m) and ``mat2`` (m, p): (n, p).  No broadcasting
    (use ``matmul`` for that); both operands must have one dtype, as in PyTorch."""
    return matmul(*_check_mat("mm", input, mat2, 2, 2))


def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p): (b, n, p).  No broadcasting."""
    return matmul(*_check_mat("bmm", input, mat2, 3, 3))


def mv(input, vec):
    """Matrix-vector product of (n, m) and (m,): (n,)."""
    return matmul(*_check_mat("mv", input, vec, 2, 1))


def _add_product(op, input, prod, beta, alpha):
    """``beta * input + alpha * prod``; ``input`` must broadcast to ``prod``'s shape.  With
    ``beta=0`` the input is ignored (its nan/inf do not propagate; its gradient is 0), as PyTorch."""
    input = as_tensor(input, op, "input")
    try:
        shape = xp.broadcast_shapes(input.shape, prod.shape)
    except ValueError:
        shape = None
    if shape != prod.shape:
        raise ValueError(f"ember.{op}: input of shape {input.shape} cannot be broadcast to the "
                           f"product's shape {prod.shape}")
    if alpha != 1:
        prod = E.mul(prod, alpha)
    if beta == 0:
        # where(False, input, prod): prod's values, and a zero gradient for input (as PyTorch)
        return E.where(xp.zeros((), dtype=bool), input, prod)
    return E.add(input if beta == 1 else E.mul(input, beta), prod)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``: mat1 (n, m), mat2 (m, p), input broadcastable to
    (n, p).  ``beta=0`` ignores ``input`` (nan in it does not propagate)."""
    return _add_product("addmm", input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``: mat (n, m), vec (m,), input broadcastable to (n,)."""
    return _add_product("addmv", input, mv(mat, vec), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * bmm(batch1, batch2)``: (b, n, m) and (b, m, p), input
    broadcastable to (b, n, p)."""
    return _add_product("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2`` (all three broadcast)."""
    prod = E.mul(tensor1, tensor2) if value == 1 else E.mul(E.mul(tensor1, value), tensor2)
    return E.add(input, prod)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2`` (all three broadcast).  Integer tensor1 and tensor2
    raise, as PyTorch (whether true or floor division was meant is ambiguous)."""
    t1, t2 = as_tensor(tensor1, "addcdiv", "tensor1"), as_tensor(tensor2, "addcdiv", "tensor2")
    if t1.dtype.kind in "iub" and t2.dtype.kind in "iub":
        raise TypeError("ember.addcdiv: integer division of tensor1 and tensor2 is not supported "
                           f"(dtypes {t1.dtype} and {t2.dtype}); write input + value * (t1 / t2) "
                           "for true division or use floor_divide")
    q = E.div(t1, t2) if value == 1 else E.mul(E.div(t1, t2), value)
    return E.add(input, q)


# -- whole-tensor comparisons -----------------------------------------------------------------
def tensor_equal(input, other):
    """PyTorch's ``torch.equal``: True when both have the same shape and equal elements (nan is
    never equal), as a Python bool.  (``ember.functional.equal`` is the elementwise ``==``.)"""
    a, b = as_tensor(input, "equal"), as_tensor(other, "equal")
    return a.shape == b.shape and bool(xp.all(a.data == b.data))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when ``isclose(input, other, rtol, atol, equal_nan)`` holds everywhere (a Python bool)."""
    return bool(xp.all(E.isclose(input, other, rtol=rtol, atol=atol, equal_nan=equal_nan).data))


# -- *_as, new_*, dtype -----------------------------------------------------------------------------
def _expand_as(self, other):
    """``self`` broadcast to ``other``'s shape."""
    return S.broadcast_to(self, tuple(other.shape))


def _reshape_as(self, other):
    """``self`` reshaped to ``other``'s shape."""
    return S.reshape(self, tuple(other.shape))


def _type_as(self, other):
    """``self`` cast to ``other``'s dtype."""
    return cast(self, other.dtype)


# PyTorch's legacy tensor-type names, so that code written for ``x.type('torch.FloatTensor')`` runs
_LEGACY = {"torch.FloatTensor": "float32", "torch.DoubleTensor": "float64",
           "torch.HalfTensor": "float16", "torch.LongTensor": "int64", "torch.IntTensor": "int32",
           "torch.ShortTensor": "int16", "torch.CharTensor": "int8", "torch.ByteTensor": "uint8",
           "torch.BoolTensor": "bool"}


def _type(self, dtype=None, non_blocking=False, **kwargs):
    """Without ``dtype``: the type as a string, ``'ember.float32'`` (PyTorch's would be
    ``'torch.FloatTensor'``).  With one (a dtype, ``'float64'``, ``'ember.float64'`` or a
    legacy name such as ``'torch.DoubleTensor'``): ``self`` cast to it (``self`` if unchanged)."""
    if dtype is None:
        return f"ember.{self.data.dtype.name}"
    if isinstance(dtype, str):
        if dtype in ("torch.BFloat16Tensor", "bfloat16", "ember.bfloat16"):
            return _bfloat16(self)
        dtype = _LEGACY.get(dtype, dtype[6:] if dtype.startswith("ember.") else dtype)
    return cast(self, dtype)


def _bfloat16(self, memory_format=None):
    raise TypeError("ember: bfloat16 is not supported (NumPy has no bfloat16 dtype); use "
                    "x.half() (float16) for a 16-bit float, or x.float() (float32)")


def _size_arg(size, op):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(n, numbers.Integral) and n >= 0 for n in size):
        raise ValueError(f"ember: Tensor.{op}: size must be non-negative ints, got {size!r}")
    return tuple(int(n) for n in size)


def _new(array, device, requires_grad):
    t = Tensor.wrap(array)
    if device is not None:
        t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _new_filled(op, fill):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kwargs):
        mod = _backends.get_array_module(self.data)
        d = self.data.dtype if dtype is None else _dt.as_dtype(dtype)
        return _new(fill(mod, _size_arg(size, op), d), device, requires_grad)
    method.__name__ = op
    method.__doc__ = (f"A new tensor of ``size`` (ints or one tuple) {op[4:]} with this tensor's "
                      "dtype and device unless ``dtype``/``device`` are given.")
    return method


_new_zeros = _new_filled("new_zeros", lambda m, s, d: m.zeros(s, dtype=d))
_new_ones = _new_filled("new_ones", lambda m, s, d: m.ones(s, dtype=d))
_new_empty = _new_filled("new_empty", lambda m, s, d: m.empty(s, dtype=d))


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, **kwargs):
    """A new tensor of ``size`` filled with ``fill_value``, this tensor's dtype and device unless
    ``dtype``/``device`` are given."""
    mod = _backends.get_array_module(self.data)
    d = self.data.dtype if dtype is None else _dt.as_dtype(dtype)
    return _new(mod.full(_size_arg((size,), "new_full"), fill_value, dtype=d), device, requires_grad)


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False, **kwargs):
    """A new tensor holding a copy of ``data``, with this tensor's dtype (unless ``dtype``) and
    device (unless ``device``), cut from any graph."""
    src = data.data if isinstance(data, Tensor) else data
    d = self.data.dtype if dtype is None else _dt.as_dtype(dtype)
    arr = to_array(src, d, self.device if device is None else device)
    if arr is src:
        arr = arr.copy()
    t = Tensor.wrap(arr)
    return t.requires_grad_(True) if requires_grad else t


# -- small maths ------------------------------------------------------------------------------------
def square(x):
    """``x * x`` (integer stays integer; bool gives int64, as PyTorch)."""
    x = as_tensor(x, "square")
    if x.dtype.kind == "b":
        x = cast(x, "int64")
    return E.mul(x, x)


def reciprocal(x):
    """``1 / x`` (integer and bool inputs give float32, as PyTorch)."""
    x = as_tensor(x, "reciprocal")
    if x.dtype.kind != "f":
        x = cast(x, _dt.default_float)
    with E._quiet():     # 1 / 0 = inf silently, as PyTorch
        return E.div(1.0, x)


def clamp_min(x, min):
    """``max(x, min)`` elementwise (``clamp(x, min=min)``); gradient 1 where x >= min."""
    return E.clip(x, min=min)


def clamp_max(x, max):
    """``min(x, max)`` elementwise (``clamp(x, max=max)``); gradient 1 where x <= max."""
    return E.clip(x, max=max)


def select(x, dim=None, index=None, *, axis=None):
    """The slice ``index`` along ``dim``: one dimension fewer (PyTorch's ``select``)."""
    x = as_tensor(x, "select")
    if x.ndim == 0:
        raise AxisError("ember.select: cannot select from a 0-d tensor")
    a = check_axis(axis_or_dim(axis, dim, None, "ember.select"), x.ndim, "select", "dim")
    n = x.shape[a]
    try:
        index = operator.index(index)        # an int, or a 0-d integer tensor
    except TypeError:
        raise TypeError(f"ember.select: index must be an int, got {type(index).__name__}") from None
    if not -n <= index < n:
        raise AxisError(f"ember.select: index {index!r} is out of range for dimension {a} of size "
                        f"{n} (tensor shape {x.shape})")
    return S.getitem(x, (slice(None),) * a + (int(index),))


def unbind(x, dim=0, *, axis=None):
    """The slices along ``dim`` (default 0), as a tuple of tensors with that dimension removed."""
    x = as_tensor(x, "unbind")
    a = check_axis(axis_or_dim(axis, dim, 0, "ember.unbind"), x.ndim, "unbind", "dim")
    return tuple(S.getitem(x, (slice(None),) * a + (i,)) for i in range(x.shape[a]))


def trace(x):
    """Sum of the main diagonal of a 2-D tensor (integer inputs sum to int64, as PyTorch)."""
    x = as_tensor(x, "trace")
    if x.ndim != 2:
        raise ValueError(f"ember.trace: expected a matrix (2-D), got shape {x.shape}")
    from .shape_extra import diagonal
    d = diagonal(x)
    if x.dtype.kind in "iub":
        d = cast(d, "int64")
    return R.sum(d)


def _as_diff_part(v, x, a, op):
    v = as_tensor(v, "diff", op)
    if v.ndim != x.ndim:
        raise ValueError(f"ember.diff: {op} must have the same number of dimensions as the input "
                           f"({x.ndim}), got shape {v.shape}")
    return v


def diff(x, n=1, dim=-1, prepend=None, append=None, *, axis=None):
    """The ``n``-th forward difference ``x[i+1] - x[i]`` along ``dim`` (default -1), after
    concatenating ``prepend`` / ``append`` (same number of dimensions, same shape except along
    ``dim``).  Bool inputs give ``x[i+1] != x[i]``, as PyTorch."""
    x = as_tensor(x, "diff")
    if x.ndim == 0:
        raise ValueError("ember.diff: expected a tensor with at least 1 dimension, got a 0-d one")
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"ember.diff: order n must be a non-negative int, got {n!r}")
    a = check_axis(axis_or_dim(axis, dim, -1, "ember.diff"), x.ndim, "diff", "dim")
    parts = ([_as_diff_part(prepend, x, a, "prepend")] if prepend is not None else []) + [x] + \
            ([_as_diff_part(append, x, a, "append")] if append is not None else [])
    if len(parts) > 1:
        x = S.concatenate(parts, axis=a)
    lead = (slice(None),) * a
    for _ in range(n):
        m = x.shape[a]
        if m == 0:
            break
        hi, lo = S.getitem(x, lead + (slice(1, m),)), S.getitem(x, lead + (slice(0, m - 1),))
        x = E.not_equal(hi, lo) if x.dtype.kind == "b" else E.sub(hi, lo)
    return x


def _cross(self, other, dim=None):
    """Cross product with ``other`` along ``dim``; ``dim=None`` takes the first dimension of size 3
    (``torch.cross``'s default; ``ember.linalg.cross`` defaults to -1)."""
    if dim is None:
        shape = xp.broadcast_shapes(self.shape, tuple(as_tensor(other).shape))
        sizes = [i for i, s in enumerate(shape) if s == 3]
        if not sizes:
            raise ValueError(f"ember: Tensor.cross: no dimension of size 3 in shape {shape}")
        dim = sizes[0]
    return _linalg_cross(self, other, dim=dim)


def dist(input, other, p=2):
    """The ``p``-norm of ``input - other`` (broadcast), as a 0-d tensor."""
    return vector_norm(E.sub(input, other), ord=p)


def renorm(x, p, dim, maxnorm):
    """Each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to norm
    ``maxnorm`` (PyTorch's ``renorm``: the scale is ``maxnorm / (norm + 1e-7)``)."""
    x = as_tensor(x, "renorm")
    if x.dtype.kind != "f":
        raise TypeError(f"ember.renorm: expected a floating-point tensor, got dtype {x.dtype}")
    if p <= 0:
        raise ValueError(f"ember.renorm: non-positive norm p={p} is not supported")
    if maxnorm < 0:
        raise ValueError(f"ember.renorm: expected maxnorm >= 0, got {maxnorm}")
    a = check_axis(dim, x.ndim, "renorm", "dim")
    others = tuple(i for i in range(x.ndim) if i != a)
    big = xp.greater(vector_norm(x.detach(), ord=p, dim=others, keepdim=True).data, maxnorm)
    # the norm of the slices left alone is taken of zeros, so that their nan/inf cannot reach the
    # gradient through the branch where() does not pick (PyTorch's backward computes it only there)
    norm = vector_norm(E.where(big, x, 0.0), ord=p, dim=others, keepdim=True)
    return E.mul(x, E.where(big, E.div(maxnorm, E.add(norm, 1e-7)), 1.0))


def _where(self, condition, other):
    """``self`` where ``condition`` else ``other`` (``torch.where(condition, self, other)``)."""
    return E.where(condition, self, other)


def _bind():
    T = Tensor
    T.dim = T.ndimension = _dim
    T.numel = T.nelement = _numel
    T.element_size, T.stride, T.storage_offset = _element_size, _stride, _storage_offset
    T.is_contiguous, T.contiguous, T.t = _is_contiguous, _contiguous, _t
    T.is_floating_point = lambda self: self.data.dtype.kind == "f"
    T.is_complex = lambda self: self.data.dtype.kind == "c"
    T.mm, T.bmm, T.mv, T.addmm, T.addmv, T.baddbmm = mm, bmm, mv, addmm, addmv, baddbmm
    T.addcmul, T.addcdiv = addcmul, addcdiv
    T.eq, T.ne, T.lt, T.le, T.gt, T.ge = (E.equal, E.not_equal, E.less, E.less_equal, E.greater,
                                          E.greater_equal)
    T.equal, T.allclose = tensor_equal, allclose
    T.logical_and, T.logical_or, T.logical_not = E.logical_and, E.logical_or, E.logical_not
    T.where = _where
    T.expand_as, T.view_as, T.reshape_as, T.type_as, T.type = (_expand_as, _reshape_as,
                                                               _reshape_as, _type_as, _type)
    T.new_zeros, T.new_ones, T.new_empty = _new_zeros, _new_ones, _new_empty
    T.new_full, T.new_tensor = _new_full, _new_tensor
    T.byte = lambda self, memory_format=None: cast(self, "uint8")
    T.char = lambda self, memory_format=None: cast(self, "int8")
    T.short = lambda self, memory_format=None: cast(self, "int16")
    T.bfloat16 = _bfloat16
    T.square, T.reciprocal, T.clamp_min, T.clamp_max = square, reciprocal, clamp_min, clamp_max
    T.unbind, T.select, T.trace, T.diff, T.dist, T.renorm = unbind, select, trace, diff, dist, renorm
    T.cross = _cross


_bind()
from .tensor_stats import *  # noqa: E402,F401,F403  (the statistics and indexing half)
from .tensor_stats import __all__ as _stats_all  # noqa: E402
__all__ += _stats_all
