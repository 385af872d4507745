"""Shape and movement ops: views and copies that rearrange elements; gradients rearrange back."""
import builtins

from ..autograd.indexed import IndexedGrad
from ..backend import xp
from ..tensor import Tensor
from ._base import AxisError, as_tensor, check_axis, make, normalize_axis
from .arguments import torch_names


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x, *shape):
    """Same elements in a new shape (one dimension may be -1)."""
    x = as_tensor(x, "reshape")
    shape = _shape_arg(shape)
    try:
        out = x.data.reshape(shape)
    except ValueError:
        raise ValueError(f"ember.reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.size} elements) into shape {shape}") from None
    old = x.shape
    return make(out, (x,), lambda g: (g.reshape(old),))


@torch_names(start_dim="start_axis", end_dim="end_axis")
def flatten(x, start_axis=0, end_axis=-1):
    """Merge axes ``start_axis..end_axis`` into one (all of them by default)."""
    x = as_tensor(x, "flatten")
    s = check_axis(start_axis, x.ndim, "flatten", "start_axis")
    e = check_axis(end_axis, x.ndim, "flatten", "end_axis")
    if x.ndim == 0:
        return reshape(x, 1)
    if s > e:
        raise ValueError(f"ember.flatten: start_axis {start_axis} comes after end_axis {end_axis} "
                         f"for a tensor of shape {x.shape}")
    shape = x.shape[:s] + (-1,) + x.shape[e + 1:]
    return reshape(x, shape)


def transpose(x, *axes):
    """Permute axes as NumPy: no argument reverses them, else ``axes`` is the new order.

    NumPy's meaning, not PyTorch's: ``torch.transpose(x, d0, d1)`` swaps two axes, which is
    ``ember.swapaxes(x, d0, d1)`` here (``transpose(x, (1, 0, 2))`` is ``permute``)."""
    x = as_tensor(x, "transpose")
    axes = _shape_arg(axes) if axes else tuple(reversed(range(x.ndim)))
    for a in axes:
        check_axis(a, x.ndim, "transpose")
    if len(axes) != x.ndim or builtins.any(not -x.ndim <= a < x.ndim for a in axes) \
            or sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
        raise ValueError(f"ember.transpose: axes {axes} are not a permutation of the "
                         f"{x.ndim} axes of a tensor of shape {x.shape}")
    inverse = tuple(xp.argsort([a % x.ndim for a in axes]).tolist())
    return make(x.data.transpose(axes), (x,), lambda g: (g.transpose(inverse),))


permute = transpose


@torch_names(dim0="axis1", dim1="axis2")
def swapaxes(x, axis1, axis2):
    """Exchange two axes (PyTorch's ``transpose(x, dim0, dim1)``)."""
    x = as_tensor(x, "swapaxes")
    axis1 = check_axis(axis1, x.ndim, "swapaxes", "axis1")
    axis2 = check_axis(axis2, x.ndim, "swapaxes", "axis2")
    return make(xp.swapaxes(x.data, axis1, axis2), (x,), lambda g: (xp.swapaxes(g, axis1, axis2),))


def moveaxis(x, source, destination):
    x = as_tensor(x, "moveaxis")
    return make(xp.moveaxis(x.data, source, destination), (x,),
                lambda g: (xp.moveaxis(g, destination, source),))


@torch_names
def squeeze(x, axis=None):
    """Remove size-1 axes (all of them, or those in ``axis``)."""
    x = as_tensor(x, "squeeze")
    if axis is not None:
        axis = normalize_axis(axis, x.ndim, "squeeze")
        for a in axis:
            if x.shape[a] != 1:
                raise ValueError(f"ember.squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
    return reshape(x, xp.squeeze(x.data, axis=axis).shape)


@torch_names
def expand_dims(x, axis):
    """Insert a size-1 axis at ``axis`` (an int or a tuple, as NumPy)."""
    x = as_tensor(x, "expand_dims")
    for a in (axis if isinstance(axis, (tuple, list)) else (axis,)):
        check_axis(a, x.ndim + (len(axis) if isinstance(axis, (tuple, list)) else 1), "expand_dims")
    return reshape(x, xp.expand_dims(x.data, axis).shape)


unsqueeze = expand_dims


def broadcast_to(x, shape):
    """Broadcast to ``shape`` (a read-only view); gradients are summed back."""
    from ._base import unbroadcast
    x = as_tensor(x, "broadcast_to")
    shape = tuple(shape)
    try:
        out = xp.broadcast_to(x.data, shape)
    except ValueError:
        raise ValueError(f"ember.broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    old = x.shape
    return make(out, (x,), lambda g: (unbroadcast(g, old),))


@torch_names
def concatenate(tensors, axis=0):
    """Join tensors along an existing axis; all other dimensions must match."""
    ts = _promote([as_tensor(t, "concatenate") for t in tensors])
    if not ts:
        raise ValueError("ember.concatenate: needs at least one tensor")
    if ts[0].ndim == 0 or not -ts[0].ndim <= axis < ts[0].ndim:
        raise AxisError(f"ember.concatenate: axis {axis} is out of range for tensors of shape "
                         f"{ts[0].shape} (0-d tensors cannot be concatenated; use stack)")
    try:
        out = xp.concatenate([t.data for t in ts], axis=axis)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(f"ember.concatenate: shapes {shapes} must agree on every axis except "
                         f"axis={axis} (and have the same number of dimensions)") from None
    a = axis % ts[0].ndim
    bounds = xp.cumsum([t.shape[a] for t in ts])[:-1].tolist()
    return make(out, tuple(ts), lambda g: tuple(xp.split(g, bounds, axis=a)))


cat = concatenate


def _promote(ts):
    """Cast a list of tensors to one dtype by ember's promotion rule (see ``ember.dtypes``):
    NumPy's result type, except that integers or bools with floats give the widest float present."""
    dtypes = {t.data.dtype for t in ts}
    if len(dtypes) < 2:
        return ts
    floats = [d for d in dtypes if d.kind == "f"]
    target = xp.result_type(*floats) if floats else xp.result_type(*dtypes)
    return [t if t.data.dtype == target else _cast(t, target) for t in ts]


def _cast(t, dtype):
    from .cast import cast
    return cast(t, dtype)


@torch_names
def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis."""
    ts = _promote([as_tensor(t, "stack") for t in tensors])
    if not ts:
        raise ValueError("ember.stack: needs at least one tensor")
    if builtins.any(t.shape != ts[0].shape for t in ts):
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(f"ember.stack: all tensors must have the same shape, got {shapes}")
    if not -(ts[0].ndim + 1) <= axis <= ts[0].ndim:
        raise AxisError(f"ember.stack: axis {axis} is out of range for stacking tensors of shape "
                         f"{ts[0].shape} (new axis must be in [{-(ts[0].ndim + 1)}, {ts[0].ndim}])")
    out = xp.stack([t.data for t in ts], axis=axis)
    a = axis % out.ndim
    return make(out, tuple(ts), lambda g: tuple(xp.take(g, i, axis=a) for i in range(len(ts))))


@torch_names
def split(x, indices_or_sections, axis=0):
    """Split into pieces as NumPy's ``split``: a number of equal sections, or split indices.

    NumPy's meaning: an int is the number of sections; PyTorch's ``split(x, size)`` takes the
    size of each piece, which is ``chunk``-like here (``split(x, list(range(size, n, size)))``)."""
    x = as_tensor(x, "split")
    a = check_axis(axis, x.ndim, "split")
    n = x.shape[a]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(f"ember.split: axis {axis} of size {n} cannot be split into "
                             f"{indices_or_sections} equal sections (use chunk or split indices)")
        step = n // indices_or_sections
        bounds = list(range(step, n, step))
    else:
        bounds = list(indices_or_sections)
    edges = [0] + bounds + [n]
    return [getitem(x, (slice(None),) * a + (slice(lo, hi),)) for lo, hi in zip(edges[:-1], edges[1:])]


@torch_names
def chunk(x, chunks, axis=0):
    """Split into ``chunks`` pieces of size ceil(n / chunks) (the last may be smaller), as PyTorch."""
    x = as_tensor(x, "chunk")
    n = x.shape[check_axis(axis, x.ndim, "chunk")]
    step = -(-n // chunks)
    return split(x, list(range(step, n, step)), axis=axis)


def pad(x, pad, mode="constant", value=0.0):
    """Constant padding.  ``pad`` is NumPy style (one (before, after) pair per axis, or one pair for
    all), or PyTorch style (a flat sequence of even length, last axis first)."""
    x = as_tensor(x, "pad")
    if mode != "constant":
        raise ValueError(f"ember.pad: only mode='constant' is supported, got {mode!r}")
    if isinstance(pad, int):
        widths = [(pad, pad)] * x.ndim
    elif builtins.all(isinstance(p, int) for p in pad):
        if len(pad) % 2 or len(pad) // 2 > x.ndim:
            raise ValueError(f"ember.pad: flat pad {pad} needs an even length <= 2 * ndim ({2 * x.ndim})")
        pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
        widths = [(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1]
    else:
        widths = [tuple(p) for p in pad]
        if len(widths) == 1:
            widths = widths * x.ndim
    out = xp.pad(x.data, widths, mode="constant", constant_values=value)
    index = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
    return make(out, (x,), lambda g: (g[index],))


@torch_names
def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times along ``axis`` (flattened when None), as NumPy.

    NumPy's meaning, not PyTorch's: ``torch.Tensor.repeat(*sizes)`` tiles the whole tensor, which
    is ``ember.tile(x, sizes)`` here; this op is PyTorch's ``repeat_interleave``."""
    x = as_tensor(x, "repeat")
    out = xp.repeat(x.data, repeats, axis=axis)
    shape = x.shape

    def backward(g):
        if axis is None:
            src = xp.arange(x.size).repeat(repeats)
            return (xp.bincount(src, weights=g.ravel(), minlength=x.size).astype(g.dtype).reshape(shape),)
        a = axis % x.ndim
        src = xp.arange(shape[a]).repeat(repeats)
        gm = xp.moveaxis(g, a, 0)
        acc = xp.zeros((shape[a],) + gm.shape[1:], dtype=g.dtype)
        xp.add.at(acc, src, gm)
        return (xp.moveaxis(acc, 0, a),)
    return make(out, (x,), backward)


def tile(x, reps):
    """Tile the tensor ``reps`` times per axis, as NumPy's ``tile``."""
    x = as_tensor(x, "tile")
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    out = xp.tile(x.data, reps)
    nd = out.ndim
    base = (1,) * (nd - x.ndim) + x.shape
    full_reps = (1,) * (nd - len(reps)) + reps

    def backward(g):
        split_shape = []
        for r, n in zip(full_reps, base):
            split_shape += [r, n]
        gs = g.reshape(split_shape).sum(axis=tuple(range(0, 2 * nd, 2)))
        return (gs.reshape(x.shape),)
    return make(out, (x,), backward)


def flip(x, axis=None, *, dims=None):
    """Reverse the order of elements along ``axis`` (all axes when None; PyTorch's ``dims``)."""
    x = as_tensor(x, "flip")
    if dims is not None:
        if axis is not None:
            raise TypeError("ember.flip: give axis= or its PyTorch alias dims=, not both")
        axis = dims
    if axis is not None:
        axes = [check_axis(a, x.ndim, "flip") for a in
                (axis if isinstance(axis, (tuple, list)) else (axis,))]
        if len(set(axes)) != len(axes):
            raise ValueError(f"ember.flip: axis {axis} repeats an axis")
        axis = tuple(axes) if x.ndim else None
    return make(xp.flip(x.data, axis), (x,), lambda g: (xp.flip(g, axis),))


def roll(x, shift=None, axis=None, *, shifts=None, dims=None):
    """Shift elements cyclically (NumPy's ``roll``; PyTorch's ``shifts``/``dims`` accepted).  As
    PyTorch, a sequence of shifts needs one axis per shift (flattened: exactly one shift)."""
    x = as_tensor(x, "roll")
    if shifts is not None:
        shift = shifts
    if dims is not None:
        axis = dims
    if shift is None:
        raise TypeError("ember.roll: missing the shift (shifts=)")
    ns = len(shift) if isinstance(shift, (tuple, list)) else 1
    na = 0 if axis is None else (len(axis) if isinstance(axis, (tuple, list)) else 1)
    if (axis is None and ns != 1) or (axis is not None and ns != na):
        raise ValueError(f"ember.roll: shifts and dimensions must align: {ns} shift(s) {shift!r} "
                         f"for {na} axis/axes {axis!r} (give one axis per shift, or one shift "
                         "and no axis to roll the flattened tensor)")
    if axis is not None:
        normalize_axis(axis, x.ndim, "roll")
    if isinstance(shift, (tuple, list)) and axis is None:
        shift = shift[0]
    neg = tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift
    return make(xp.roll(x.data, shift, axis), (x,), lambda g: (xp.roll(g, neg, axis),))


def _triangle(x, k, op, keep):
    """``keep`` (xp.tril or xp.triu) on the last two axes; the gradient keeps the same triangle."""
    x = as_tensor(x, op)
    if x.ndim < 2:
        raise ValueError(f"ember.{op}: needs a tensor with at least 2 dimensions, got shape {x.shape}")
    return make(keep(x.data, k), (x,), lambda g: (keep(g, k),))


def tril(x, k=0, *, diagonal=None):
    """Zero the elements above the k-th diagonal of the last two axes (PyTorch's ``diagonal=``)."""
    return _triangle(x, k if diagonal is None else diagonal, "tril", xp.tril)


def triu(x, k=0, *, diagonal=None):
    """Zero the elements below the k-th diagonal of the last two axes (PyTorch's ``diagonal=``)."""
    return _triangle(x, k if diagonal is None else diagonal, "triu", xp.triu)


# -- indexing ----------------------------------------------------------------------------------
def _index_arg(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return xp.asarray(index)
    return index


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return builtins.all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


def getitem(x, index):
    """NumPy indexing: slices, ellipsis, None, integer arrays and boolean masks.  The backward
    scatter-adds, so repeated indices accumulate their gradients."""
    x = as_tensor(x, "getitem")
    index = _index_arg(index)
    try:
        out = x.data[index]
    except IndexError as e:   # AxisError: both `except IndexError` and `except ValueError` catch it
        raise AxisError(f"ember.getitem: {e} (tensor shape {x.shape})") from None
    shape, basic = x.shape, _is_basic(index)

    def backward(g):
        # zero but at the index: the engine adds it in place (autograd/indexed.py), so the T
        # pieces of a loop over x[:, t] cost their own size, not T times x's
        return (IndexedGrad(shape, index, g, unique=basic),)
    return make(out if isinstance(out, xp.ndarray) else xp.asarray(out), (x,), backward)


def take(x, indices, axis=None):
    """Elements at ``indices`` along ``axis`` (NumPy's take); repeated indices accumulate."""
    x = as_tensor(x, "take")
    idx = _index_arg(indices)
    if axis is None:
        return getitem(reshape(x, -1), (idx,))
    a = check_axis(axis, x.ndim, "take")
    return getitem(x, (slice(None),) * a + (idx,))
