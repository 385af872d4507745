"""Keras 3's NumPy-like ops, part 2: making tensors (``zeros``, ``arange``, ``eye`` ...) and
rearranging them (``reshape``, ``transpose``, ``concatenate``, ``split``, ``take``, ``pad`` ...),
with Keras' names, signatures and defaults, computed by ``ember.functional``.

Created tensors are float32 by default (Keras' ``floatx``); ``arange`` of ints is int32.
"""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ..keras_tensor import symbolic
from .core import axis_arg, exporter, std_dtype, to_tensor

__all__ = []


_export = exporter(__all__)


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in (shape.numpy() if isinstance(shape, Tensor) else shape))


def _floatx(dtype):
    return std_dtype(dtype) or np.dtype(np.float32)


# -- creation ----------------------------------------------------------------------------------------
@_export
def zeros(shape, dtype=None):
    """A tensor of zeros (float32 unless ``dtype``)."""
    return Tensor.wrap(np.zeros(_shape(shape), _floatx(dtype)))


@_export
def ones(shape, dtype=None):
    """A tensor of ones (float32 unless ``dtype``)."""
    return Tensor.wrap(np.ones(_shape(shape), _floatx(dtype)))


@_export
def empty(shape, dtype=None):
    """An uninitialised (here: zero) tensor."""
    return zeros(shape, dtype)


@_export
def full(shape, fill_value, dtype=None):
    """A tensor of ``fill_value`` (its own dtype, float32 for Python floats, unless ``dtype``)."""
    fill = to_tensor(fill_value, dtype)
    return F.broadcast_to(fill, _shape(shape)) if fill.requires_grad else Tensor.wrap(
        np.full(_shape(shape), fill.numpy(), fill.dtype))


@_export
@symbolic
def zeros_like(x, dtype=None):
    """Zeros of x's shape and dtype (or ``dtype``)."""
    x = to_tensor(x)
    return Tensor.wrap(np.zeros(x.shape, std_dtype(dtype) or x.dtype))


@_export
@symbolic
def ones_like(x, dtype=None):
    """Ones of x's shape and dtype (or ``dtype``)."""
    x = to_tensor(x)
    return Tensor.wrap(np.ones(x.shape, std_dtype(dtype) or x.dtype))


@_export
@symbolic
def empty_like(x, dtype=None):
    """An uninitialised (here: zero) tensor like x."""
    return zeros_like(x, dtype)


@_export
@symbolic
def full_like(x, fill_value, dtype=None):
    """``fill_value`` in x's shape and dtype (or ``dtype``)."""
    x = to_tensor(x)
    return Tensor.wrap(np.full(x.shape, np.asarray(
        fill_value.numpy() if isinstance(fill_value, Tensor) else fill_value),
        std_dtype(dtype) or x.dtype))


@_export
def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in [start, stop) (int32 for int arguments, float32 otherwise)."""
    step = 1 if step is None else step
    if dtype is None:
        dtype = np.int32 if all(float(v).is_integer() and not isinstance(v, float)
                                for v in (start, stop or 0, step)) else np.float32
    values = np.arange(start, step=step) if stop is None else np.arange(start, stop, step)
    return Tensor.wrap(values.astype(std_dtype(dtype)))


@_export
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from start to stop (float32 unless ``dtype``)."""
    values, step = np.linspace(np.asarray(start), np.asarray(stop), int(num), endpoint,
                               retstep=True, axis=axis)
    out = Tensor.wrap(values.astype(_floatx(dtype)))
    return (out, step) if retstep else out


@_export
def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """``base ** linspace(start, stop, num)``."""
    values = np.logspace(np.asarray(start), np.asarray(stop), int(num), endpoint, base, axis=axis)
    return Tensor.wrap(values.astype(_floatx(dtype)))


@_export
def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``num`` values from start to stop spaced evenly on a log scale."""
    return Tensor.wrap(np.geomspace(start, stop, int(num), endpoint, axis=axis).astype(_floatx(dtype)))


@_export
def eye(N, M=None, k=0, dtype=None):   # noqa: N803  (Keras' names)
    """An N x M matrix with ones on the ``k`` diagonal."""
    return Tensor.wrap(np.eye(int(N), None if M is None else int(M), int(k), _floatx(dtype)))


@_export
def identity(n, dtype=None):
    """The n x n identity matrix."""
    return eye(n, dtype=dtype)


@_export
def tri(N, M=None, k=0, dtype=None):   # noqa: N803
    """An N x M matrix with ones at and below the ``k`` diagonal."""
    return Tensor.wrap(np.tri(int(N), None if M is None else int(M), int(k), _floatx(dtype)))


# -- shape -------------------------------------------------------------------------------------------
@_export
@symbolic
def reshape(x, newshape):
    """x with shape ``newshape`` (one -1 is inferred)."""
    return F.reshape(to_tensor(x), _shape(newshape))


@_export
@symbolic
def ravel(x):
    """x flattened to 1-D."""
    return F.reshape(to_tensor(x), (-1,))


@_export
@symbolic
def transpose(x, axes=None):
    """x with its axes permuted (reversed when ``axes`` is None)."""
    x = to_tensor(x)
    return F.transpose(x, *(tuple(range(x.ndim))[::-1] if axes is None else tuple(axes)))


@_export
@symbolic
def expand_dims(x, axis):
    """x with new size-1 axes at ``axis`` (an int or a tuple)."""
    x = to_tensor(x)
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    out_rank = x.ndim + len(axes)
    for a in sorted(a % out_rank for a in axes):
        x = F.expand_dims(x, a)
    return x


@_export
@symbolic
def squeeze(x, axis=None):
    """x without its size-1 axes (only ``axis``, an int or a tuple, when given)."""
    return F.squeeze(to_tensor(x), axis_arg(axis))


@_export
@symbolic
def broadcast_to(x, shape):
    """x broadcast to ``shape``."""
    return F.broadcast_to(to_tensor(x), _shape(shape))


@_export
@symbolic
def moveaxis(x, source, destination):
    """x with axes ``source`` moved to ``destination``."""
    return F.moveaxis(to_tensor(x), source, destination)


@_export
@symbolic
def swapaxes(x, axis1, axis2):
    """x with two axes exchanged."""
    return F.swapaxes(to_tensor(x), axis1, axis2)


# -- joining and splitting -----------------------------------------------------------------------------
def _same_dtype(xs, where):
    ts = [to_tensor(t) for t in xs]
    if not ts:
        raise ValueError(f"keras.ops.{where}: needs at least one tensor")
    dt = np.result_type(*[t.dtype for t in ts])
    return [t if t.dtype == dt else F.cast(t, dt) for t in ts]


@_export
@symbolic
def concatenate(xs, axis=0):
    """The tensors ``xs`` joined along an existing ``axis`` (all axes of the flattened tensors
    when None)."""
    ts = _same_dtype(xs, "concatenate")
    if axis is None:
        ts, axis = [F.reshape(t, (-1,)) for t in ts], 0
    return F.concatenate(ts, axis)


@_export
@symbolic
def append(x1, x2, axis=None):
    """x2 appended to x1 along ``axis`` (both flattened when None)."""
    return concatenate([x1, x2], axis)


@_export
@symbolic
def stack(x, axis=0):
    """The tensors ``x`` joined along a new ``axis``."""
    return F.stack(_same_dtype(x, "stack"), axis)


@_export
@symbolic
def hstack(xs):
    """Join along axis 1 (axis 0 for 1-D tensors)."""
    ts = _same_dtype(xs, "hstack")
    return F.concatenate(ts, 0 if ts[0].ndim == 1 else 1)


@_export
@symbolic
def vstack(xs):
    """Join along axis 0 (1-D tensors become rows)."""
    ts = [t if t.ndim > 1 else F.reshape(t, (1, -1)) for t in _same_dtype(xs, "vstack")]
    return F.concatenate(ts, 0)


@_export
@symbolic
def dstack(xs):
    """Join along axis 2 (after making the tensors at least 3-D)."""
    ts = []
    for t in _same_dtype(xs, "dstack"):
        shape = {0: (1, 1, 1), 1: (1, -1, 1), 2: tuple(t.shape) + (1,)}.get(t.ndim)
        ts.append(F.reshape(t, shape) if shape else t)
    return F.concatenate(ts, 2)


@_export
@symbolic
def split(x, indices_or_sections, axis=0):
    """x cut along ``axis`` into ``indices_or_sections`` equal pieces (an int) or at the given
    indices (a list)."""
    x = to_tensor(x)
    if isinstance(indices_or_sections, int) and x.shape[axis] % indices_or_sections:
        raise ValueError(f"keras.ops.split: axis {axis} of {tuple(x.shape)} does not divide into "
                         f"{indices_or_sections} equal sections; use array_split")
    return list(F.split(x, indices_or_sections, axis=axis))


@_export
@symbolic
def array_split(x, indices_or_sections, axis=0):
    """x cut into ``indices_or_sections`` nearly equal pieces (the first ones one longer)."""
    x = to_tensor(x)
    if isinstance(indices_or_sections, int):
        n, k = x.shape[axis], indices_or_sections
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        indices_or_sections = list(np.cumsum(sizes)[:-1])
    return list(F.split(x, indices_or_sections, axis=axis))


@_export
@symbolic
def hsplit(x, indices_or_sections):
    """split along axis 1 (axis 0 for 1-D x)."""
    x = to_tensor(x)
    return split(x, indices_or_sections, 0 if x.ndim == 1 else 1)


@_export
@symbolic
def vsplit(x, indices_or_sections):
    """split along axis 0."""
    return split(x, indices_or_sections, 0)


@_export
@symbolic
def dsplit(x, indices_or_sections):
    """split along axis 2."""
    return split(x, indices_or_sections, 2)


@_export
@symbolic
def tile(x, repeats):
    """x repeated ``repeats`` times (per axis) as a whole."""
    return F.tile(to_tensor(x), tuple(repeats) if isinstance(repeats, (list, tuple)) else (repeats,))


@_export
@symbolic
def repeat(x, repeats, axis=None):
    """Each element repeated ``repeats`` times along ``axis`` (flattened x when None)."""
    if isinstance(repeats, Tensor):
        repeats = repeats.numpy()
    return F.repeat(to_tensor(x), repeats, axis)


# -- reordering ------------------------------------------------------------------------------------------
@_export
@symbolic
def flip(x, axis=None):
    """x reversed along ``axis`` (all axes when None)."""
    return F.flip(to_tensor(x), axis_arg(axis))


@_export
@symbolic
def fliplr(x):
    """x reversed along axis 1."""
    return F.flip(to_tensor(x), 1)


@_export
@symbolic
def flipud(x):
    """x reversed along axis 0."""
    return F.flip(to_tensor(x), 0)


@_export
@symbolic
def roll(x, shift, axis=None):
    """x shifted cyclically by ``shift`` along ``axis`` (flattened when None)."""
    x = to_tensor(x)
    if axis is None:
        return F.reshape(F.roll(F.reshape(x, (-1,)), shift, 0), tuple(x.shape))
    return F.roll(x, axis_arg(shift), axis_arg(axis))


@_export
@symbolic
def rot90(array, k=1, axes=(0, 1)):
    """``array`` rotated by 90 degrees ``k`` times in the ``axes`` plane."""
    return F.rot90(to_tensor(array), k, tuple(axes))


@_export
@symbolic
def pad(x, pad_width, mode="constant", constant_values=None):
    """x padded by ``pad_width`` ((before, after) per axis, or one pair / int for all) with
    ``mode`` 'constant' (``constant_values``, default 0), 'reflect', 'symmetric' or 'edge'."""
    x = to_tensor(x)
    width = np.asarray(pad_width.numpy() if isinstance(pad_width, Tensor) else pad_width)
    width = np.broadcast_to(width.reshape(-1, 2) if width.size > 1 else width, (x.ndim, 2))
    pairs = tuple((int(a), int(b)) for a, b in width)
    if mode != "constant" and constant_values is not None:
        raise ValueError(f"keras.ops.pad: constant_values only go with mode='constant', not {mode!r}")
    if mode == "symmetric":     # NumPy's symmetric = the edge row repeated, then a reflection
        idx = [np.pad(np.arange(n), p, mode="symmetric") for n, p in zip(x.shape, pairs)]
        out = x
        for axis, i in enumerate(idx):
            out = F.take(out, i, axis=axis)
        return out
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
    if mode not in modes:
        raise ValueError(f"keras.ops.pad: mode={mode!r}; expected 'constant', 'reflect', "
                         "'symmetric' or 'edge'")
    return F.pad(x, pairs, modes[mode], 0.0 if constant_values is None else constant_values)


# -- triangles and diagonals ----------------------------------------------------------------------------
@_export
@symbolic
def tril(x, k=0):
    """x with the entries above the ``k`` diagonal zeroed."""
    return F.tril(to_tensor(x), k)


@_export
@symbolic
def triu(x, k=0):
    """x with the entries below the ``k`` diagonal zeroed."""
    return F.triu(to_tensor(x), k)


@_export
@symbolic
def diag(x, k=0):
    """The ``k`` diagonal of a matrix, or a matrix with the vector x on its ``k`` diagonal."""
    return F.diag(to_tensor(x), k)


@_export
@symbolic
def diagflat(x, k=0):
    """A matrix with the flattened x on its ``k`` diagonal."""
    return F.diag(F.reshape(to_tensor(x), (-1,)), k)


@_export
@symbolic
def diagonal(x, offset=0, axis1=0, axis2=1):
    """The ``offset`` diagonals of the (axis1, axis2) planes, on a new last axis."""
    return F.diagonal(to_tensor(x), offset, axis1, axis2)


# -- gathering -------------------------------------------------------------------------------------------
def _index(indices):
    idx = indices.numpy() if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"keras.ops: indices must be integers, got dtype {idx.dtype}")
    return idx.astype(np.int64)


def _in_range(idx, n, where):
    """Indices in [-n, n) made non-negative; others are an error (not silently wrapped)."""
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"keras.ops.{where}: indices range over [{idx.min()}, {idx.max()}] but the "
                         f"axis has size {n}; expected indices in [-{n}, {n})")
    return idx % n if n else idx


@_export
@symbolic
def take(x, indices, axis=None):
    """The entries of x at ``indices`` along ``axis`` (of the flattened x when None); negative
    indices count from the end."""
    x = to_tensor(x)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    return F.take(x, _in_range(_index(indices), x.shape[axis], "take"), axis=axis)


@_export
@symbolic
def take_along_axis(x, indices, axis=None):
    """The entries of x at ``indices`` (x's rank, broadcast against x) along ``axis``."""
    x = to_tensor(x)
    idx = _index(indices)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    else:
        shape = list(np.broadcast_shapes(tuple(x.shape[:axis % x.ndim]) + (1,) + tuple(
            x.shape[axis % x.ndim + 1:]), idx.shape))
        shape_x = list(shape)
        shape_x[axis] = x.shape[axis]
        x = F.broadcast_to(x, tuple(shape_x))
        idx = np.broadcast_to(idx, tuple(shape))
    return F.take_along_dim(x, Tensor.wrap(_in_range(idx, x.shape[axis], "take_along_axis")),
                            axis=axis)


@_export
@symbolic
def select(condlist, choicelist, default=0):
    """The entry of the first ``choicelist`` tensor whose condition is true, else ``default``."""
    out = to_tensor(default) if not isinstance(default, (int, float)) else default
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = F.where(to_tensor(c), to_tensor(v), out)
    return out


@_export
@symbolic
def meshgrid(*x, indexing="xy"):
    """Coordinate grids from 1-D tensors (``indexing`` 'xy', the default, or 'ij')."""
    return list(F.meshgrid(*[to_tensor(t) for t in x], indexing=indexing))


@_export
@symbolic
def nonzero(x):
    """The indices of the non-zero elements: a tuple of int32 tensors, one per axis."""
    return tuple(F.cast(i, np.int32) for i in F.nonzero(to_tensor(x), as_tuple=True))


@_export
@symbolic
def diff(a, n=1, axis=-1):
    """The ``n``-th discrete difference along ``axis``."""
    a = to_tensor(a)
    for _ in range(n):
        m = a.shape[axis]
        a = F.subtract(F.narrow(a, axis, 1, m - 1), F.narrow(a, axis, 0, m - 1))
    return a


@_export
@symbolic
def searchsorted(sorted_sequence, values, side="left"):
    """The int32 indices at which ``values`` would be inserted to keep the 1-D
    ``sorted_sequence`` sorted (no gradient)."""
    seq, v = to_tensor(sorted_sequence).numpy(), to_tensor(values).numpy()
    return Tensor.wrap(np.searchsorted(seq, v, side=side).astype(np.int32))


@_export
@symbolic
def digitize(x, bins):
    """The int32 index of the bin of each element (NumPy's digitize, increasing bins)."""
    return Tensor.wrap(np.digitize(to_tensor(x).numpy(), to_tensor(bins).numpy()).astype(np.int32))


@_export
@symbolic
def bincount(x, weights=None, minlength=0, sparse=False):
    """Counts (or summed ``weights``) of each value of the 1-D non-negative int x."""
    idx = _index(x)
    n = int(np.max(np.append(idx, -1)) + 1)
    n = n if n > minlength else minlength
    if weights is None:
        return Tensor.wrap(np.bincount(idx, minlength=n).astype(np.int32))
    w = to_tensor(weights)
    return F.index_add(Tensor.wrap(np.zeros(n, w.dtype)), 0, Tensor.wrap(idx), w)
