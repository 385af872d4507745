"""TensorFlow 2's top-level tensor functions (``tf.constant``, ``tf.zeros``, ``tf.reshape``,
``tf.concat``, ``tf.gather``, ``tf.where``, ``tf.shape`` ...) on ``ember.keras.ops``.

TensorFlow's argument orders and conventions kept here: ``zeros(shape, dtype=tf.float32)`` /
``fill(dims, value)`` / ``range(start, limit, delta)`` / ``one_hot(indices, depth, on_value,
off_value)``; ``concat(values, axis)`` (axis required); ``split(value, num_or_size_splits)``
takes a count or the sizes of the pieces (one may be -1); ``pad(tensor, paddings, mode=
'CONSTANT' | 'REFLECT' | 'SYMMETRIC')``; ``where(condition)`` alone gives the (n, rank) int64
coordinates of the true entries; ``shape`` / ``size`` / ``rank`` give int32 tensors;
``gather(params, indices, axis=0, batch_dims=0)``; ``clip_by_global_norm`` returns
``(clipped list, global norm)``.  Results are ember Tensors (``.numpy()`` gives the values).
"""
import builtins
import functools

import numpy as np

from ...tensor import Tensor
from .. import ops
from ._base import accept_symbolic, axis_arg, dtype_of, float32, int32, int64
from ._base import t as _t
from .linalg import einsum, eye, matmul, norm, tensordot  # noqa: F401  (top-level names too)

__all__ = ["newaxis", "constant", "convert_to_tensor", "is_tensor", "cast", "identity",
           "stop_gradient", "zeros", "ones", "fill", "zeros_like", "ones_like", "eye", "range",
           "linspace", "one_hot", "sequence_mask", "shape", "size", "rank", "reshape", "transpose",
           "expand_dims", "squeeze", "broadcast_to", "concat", "stack", "unstack", "split", "tile",
           "repeat", "reverse", "roll", "pad", "gather", "gather_nd", "boolean_mask", "where",
           "sort", "argsort", "clip_by_value", "clip_by_norm", "global_norm",
           "clip_by_global_norm", "norm", "einsum", "matmul", "tensordot"]

newaxis = None


# -- making tensors ----------------------------------------------------------------------------
def constant(value, dtype=None, shape=None, name=None):
    """A tensor holding ``value`` (float lists become float32, int lists int32), cast to
    ``dtype`` and broadcast (or, with as many values, reshaped) to ``shape`` if given."""
    x = _t(value, dtype_of(dtype))
    if shape is not None:
        shape = tuple(int(n) for n in shape)
        x = ops.reshape(x, shape) if x.size == int(np.prod(shape)) and x.ndim else \
            ops.broadcast_to(x, shape)
    return x


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """``value`` as a tensor (Tensors pass through; ``dtype`` casts)."""
    x = _t(value, dtype_of(dtype))
    if dtype is None and dtype_hint is not None and not isinstance(value, Tensor):
        x = ops.cast(x, dtype_of(dtype_hint))
    return x


def is_tensor(x):
    """True for an ember Tensor (Variables included) or a symbolic KerasTensor."""
    return ops.is_tensor(x)


def cast(x, dtype, name=None):
    """``x`` converted to ``dtype`` (floats to ints truncate toward zero, as TensorFlow)."""
    return ops.cast(x, dtype_of(dtype))


def identity(input, name=None):   # noqa: A002
    """A tensor with the values of ``input`` (a Variable's current value; gradients flow)."""
    return ops.copy(input)


def stop_gradient(input, name=None):   # noqa: A002
    """``input``'s values, cut from the gradient graph."""
    return ops.stop_gradient(input)


def _dims(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    if isinstance(shape, Tensor):
        shape = shape.numpy().reshape(-1)
    return tuple(int(n) for n in shape)


def zeros(shape, dtype=float32, name=None):
    """A tensor of zeros of ``shape`` (float32 by default)."""
    return ops.zeros(_dims(shape), dtype=dtype_of(dtype))


def ones(shape, dtype=float32, name=None):
    """A tensor of ones of ``shape`` (float32 by default)."""
    return ops.ones(_dims(shape), dtype=dtype_of(dtype))


def fill(dims, value, name=None):
    """A tensor of shape ``dims`` filled with ``value`` (its dtype: float32 for a Python float,
    int32 for a Python int)."""
    v = _t(value)
    return ops.full(_dims(dims), v, dtype=v.dtype)


def zeros_like(input, dtype=None, name=None):   # noqa: A002
    return ops.zeros_like(input, dtype=dtype_of(dtype))


def ones_like(input, dtype=None, name=None):   # noqa: A002
    return ops.ones_like(input, dtype=dtype_of(dtype))


def range(start, limit=None, delta=1, dtype=None, name=None):   # noqa: A001
    """``start, start + delta, ...`` below ``limit`` (``range(n)``: 0 .. n-1); int32 for ints,
    float32 if any bound is a float, unless ``dtype``."""
    if limit is None:
        start, limit = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, limit, delta)]
    if dtype is None:
        dtype = float32 if builtins.any(isinstance(v, float) for v in values) else int32
    return ops.arange(*values, dtype=dtype_of(dtype))


def linspace(start, stop, num, name=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive."""
    return ops.linspace(start, stop, int(num), axis=axis, dtype=float32)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot vectors of length ``depth`` for ``indices`` (on 1, off 0, float32 by default;
    indices outside [0, depth) give all-off vectors, as TensorFlow)."""
    dt = dtype_of(dtype) or (_t(on_value).dtype if on_value is not None else float32)
    out = ops.one_hot(indices, int(depth), axis=-1 if axis is None else axis, dtype=dt)
    if on_value is None and off_value is None:
        return out
    on = 1 if on_value is None else on_value
    off = 0 if off_value is None else off_value
    return ops.cast(ops.where(ops.cast(out, "bool"), on, off), dt)


def sequence_mask(lengths, maxlen=None, dtype=np.dtype("bool"), name=None):
    """``mask[..., j] = j < lengths[...]``: shape lengths.shape + (maxlen,) (maxlen: the largest
    length by default)."""
    n = _t(lengths)
    if maxlen is None:
        maxlen = int(ops.max(n)) if n.size else 0
    mask = ops.less(ops.arange(int(maxlen), dtype=n.dtype), ops.expand_dims(n, -1))
    return ops.cast(mask, dtype_of(dtype))


# -- shapes ------------------------------------------------------------------------------------
def shape(input, out_type=int32, name=None):   # noqa: A002
    """The shape of ``input`` as a 1-D int32 tensor (``x.shape`` gives the tuple)."""
    return _t(np.asarray(ops.shape(input), dtype=dtype_of(out_type)))


def size(input, out_type=int32, name=None):   # noqa: A002
    """The number of entries of ``input`` as an int32 scalar tensor."""
    return _t(np.asarray(ops.size(input), dtype=dtype_of(out_type)))


def rank(input, name=None):   # noqa: A002
    """The number of axes of ``input`` as an int32 scalar tensor."""
    return _t(np.asarray(ops.ndim(input), dtype=int32))


def reshape(tensor, shape, name=None):
    """``tensor`` with a new ``shape`` (one entry may be -1)."""
    return ops.reshape(tensor, _dims(shape))


def transpose(a, perm=None, conjugate=False, name=None):
    """``a`` with its axes permuted by ``perm`` (reversed when None)."""
    return ops.transpose(a, None if perm is None else _dims(perm))


def expand_dims(input, axis, name=None):   # noqa: A002
    return ops.expand_dims(input, int(axis))


def squeeze(input, axis=None, name=None):   # noqa: A002
    """``input`` without its size-1 axes (only those of ``axis`` if given)."""
    return ops.squeeze(input, axis_arg(axis))


def broadcast_to(input, shape, name=None):   # noqa: A002
    return ops.broadcast_to(input, _dims(shape))


def concat(values, axis, name=None):
    """The tensors of ``values`` joined along ``axis`` (required, as TensorFlow)."""
    return ops.concatenate(list(values), axis=int(axis))


def stack(values, axis=0, name=None):
    return ops.stack(list(values), axis=int(axis))


def unstack(value, num=None, axis=0, name=None):
    """The slices of ``value`` along ``axis`` as a list of tensors."""
    return ops.unstack(value, num=num, axis=int(axis))


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    """``value`` cut along ``axis`` into ``num_or_size_splits`` equal pieces (an int) or pieces
    of the given sizes (a list; one size may be -1: the rest)."""
    x = _t(value)
    n = x.shape[int(axis)]
    if isinstance(num_or_size_splits, (int, np.integer)):
        if n % int(num_or_size_splits):
            raise ValueError(f"tf.split: axis {axis} of shape {tuple(x.shape)} (size {n}) does not "
                             f"divide into {num_or_size_splits} equal pieces; pass the sizes")
        return ops.split(x, int(num_or_size_splits), axis=int(axis))
    sizes = list(_dims(num_or_size_splits))
    if sizes.count(-1) > 1:
        raise ValueError(f"tf.split: at most one size may be -1, got {sizes}")
    if -1 in sizes:
        sizes[sizes.index(-1)] = n - (builtins.sum(sizes) + 1)
    if builtins.sum(sizes) != n or builtins.min(sizes) < 0:
        raise ValueError(f"tf.split: sizes {list(num_or_size_splits)} must add up to {n}, the "
                         f"size of axis {axis} of shape {tuple(x.shape)}")
    return ops.split(x, [int(c) for c in np.cumsum(sizes)[:-1]], axis=int(axis))


def tile(input, multiples, name=None):   # noqa: A002
    """``input`` repeated ``multiples[i]`` times along each axis ``i``."""
    return ops.tile(input, _dims(multiples))


def repeat(input, repeats, axis=None, name=None):   # noqa: A002
    return ops.repeat(input, repeats, axis=axis)


def reverse(tensor, axis, name=None):
    """``tensor`` reversed along the axes of ``axis`` (a list)."""
    return ops.flip(tensor, axis=axis_arg(list(_dims(axis))))


def roll(input, shift, axis, name=None):   # noqa: A002
    return ops.roll(input, shift, axis=axis_arg(axis))


_PAD_MODES = {"CONSTANT": "constant", "REFLECT": "reflect", "SYMMETRIC": "symmetric"}


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """``tensor`` padded by ``paddings`` ([[before, after]] per axis) with ``mode``."""
    if str(mode).upper() not in _PAD_MODES:
        raise ValueError(f"tf.pad: mode={mode!r}; expected 'CONSTANT', 'REFLECT' or 'SYMMETRIC'")
    m = _PAD_MODES[str(mode).upper()]
    return ops.pad(tensor, np.asarray(paddings.numpy() if isinstance(paddings, Tensor) else paddings),
                   mode=m, constant_values=constant_values if m == "constant" else None)


# -- selection ---------------------------------------------------------------------------------
def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """The slices of ``params`` at ``indices`` along ``axis`` (0 by default): shape
    params.shape[:axis] + indices.shape + params.shape[axis + 1:].  ``batch_dims=1`` gathers
    row by row (params (B, N, ...), indices (B, K) -> (B, K, ...))."""
    axis = batch_dims if axis is None else int(axis)
    if batch_dims == 0:
        return ops.take(params, indices, axis=axis)
    if batch_dims == 1 and axis == 1:
        x, idx = _t(params), _t(indices)
        if idx.ndim != 2:
            raise ValueError(f"tf.gather: batch_dims=1 supports indices (batch, k), got shape "
                             f"{tuple(idx.shape)}")
        idx = ops.reshape(idx, tuple(idx.shape) + (1,) * (x.ndim - 2))
        return ops.take_along_axis(x, ops.broadcast_to(idx, tuple(idx.shape[:2]) + tuple(x.shape[2:])),
                                   axis=1)
    raise NotImplementedError(f"tf.gather: batch_dims={batch_dims} with axis={axis} is not "
                              "supported by ember; use batch_dims=0 or (batch_dims=1, axis=1)")


def gather_nd(params, indices, batch_dims=0, name=None):
    """``params`` at the index tuples of the last axis of ``indices``: shape
    indices.shape[:-1] + params.shape[indices.shape[-1]:]."""
    if batch_dims:
        raise NotImplementedError("tf.gather_nd: batch_dims is not supported by ember")
    x = _t(params)
    idx = np.asarray(ops.convert_to_numpy(indices)).astype(np.int64)
    if idx.shape[-1] > x.ndim:
        raise ValueError(f"tf.gather_nd: indices of depth {idx.shape[-1]} into params of rank "
                         f"{x.ndim}")
    return ops.get_item(x, tuple(idx[..., i] for i in builtins.range(idx.shape[-1])))


def boolean_mask(tensor, mask, axis=None, name=None):
    """The entries (rows) of ``tensor`` where the boolean ``mask`` (the leading axes' shape) is
    true."""
    if axis not in (None, 0):
        raise NotImplementedError("tf.boolean_mask: only axis=0 is supported by ember")
    m = np.asarray(ops.convert_to_numpy(mask)).astype(bool)
    return ops.get_item(_t(tensor), m)


def where(condition, x=None, y=None, name=None):
    """``x`` where ``condition`` else ``y`` (broadcast); with the condition alone, the (n, rank)
    int64 coordinates of its true entries."""
    if x is None and y is None:
        nz = ops.nonzero(condition)
        return ops.cast(ops.stack(list(nz), axis=-1), int64)
    if x is None or y is None:
        raise ValueError("tf.where: give both x and y, or neither")
    return ops.where(condition, x, y)


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """``values`` sorted along ``axis`` ('ASCENDING' or 'DESCENDING')."""
    out = ops.sort(values, axis=int(axis))
    return _direction(out, axis, direction, "sort")


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """The indices that sort ``values`` along ``axis`` (int32)."""
    if str(direction).upper() == "DESCENDING":
        return ops.cast(ops.argsort(ops.negative(values), axis=int(axis)), int32)
    _direction(None, axis, direction, "argsort")
    return ops.cast(ops.argsort(values, axis=int(axis)), int32)


def _direction(out, axis, direction, where):
    d = str(direction).upper()
    if d not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"tf.{where}: direction={direction!r}; expected 'ASCENDING' or 'DESCENDING'")
    return ops.flip(out, axis=int(axis)) if d == "DESCENDING" and out is not None else out


# -- clipping ----------------------------------------------------------------------------------
def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """``t`` with values below / above the bounds replaced by them."""
    return ops.clip(t, clip_value_min, clip_value_max)


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t * clip_norm / max(l2norm(t, axes), clip_norm)``: rescaled so its L2 norm (over
    ``axes``, every axis by default) is at most ``clip_norm``."""
    x = _t(t)
    l2 = ops.sqrt(ops.sum(ops.square(x), axis=axis_arg(axes), keepdims=True))
    return ops.divide(ops.multiply(x, clip_norm), ops.maximum(l2, clip_norm))


def global_norm(t_list, name=None):
    """``sqrt(sum of the squares of every entry of every tensor)`` (None entries skipped)."""
    squares = [ops.sum(ops.square(_t(v))) for v in t_list if v is not None]
    return ops.sqrt(functools.reduce(ops.add, squares)) if squares else _t(0.0)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """``(tensors scaled by clip_norm / max(global_norm, clip_norm), global_norm)``: the usual
    gradient clipping of a custom training loop (None entries stay None)."""
    g = global_norm(t_list) if use_norm is None else _t(use_norm)
    scale = ops.divide(clip_norm, ops.maximum(g, clip_norm))
    return [None if v is None else ops.multiply(_t(v), scale) for v in t_list], g


accept_symbolic(globals(), __all__, skip=("constant", "convert_to_tensor", "is_tensor", "zeros", "ones", "fill", "range", "linspace", "eye", "shape", "size", "rank"))
