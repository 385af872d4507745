"""Keras 3's core ops (``keras.ops.convert_to_tensor``, ``cast``, ``shape``, ``slice``,
``scatter``, the loop helpers ...) and the conversion every ``keras.ops`` function applies to its
inputs.

Conversion rules (the same as ``ember.keras.tf.convert_to_tensor``): ember Tensors (Parameters,
Variables) pass through untouched so gradients flow; NumPy float64 arrays and Python floats become
float32 (Keras' ``floatx``); Python ints (and lists of them) become int32; other NumPy dtypes are
kept.  Binary ops leave Python scalars as they are, so ``int32 tensor + 2`` stays int32 and
``int32 tensor + 2.5`` is float32 (Keras' weak scalar types).
"""
import numbers

import numpy as np

from ... import functional as F
from ...autograd import no_grad
from ...tensor import Tensor, make
from ..keras_tensor import KerasTensor, symbolic

__all__ = ["convert_to_tensor", "convert_to_numpy", "is_tensor", "cast", "saturate_cast", "dtype",
           "shape", "ndim", "size", "stop_gradient", "get_item", "slice", "slice_update",
           "scatter", "scatter_update", "unstack", "fori_loop", "while_loop",
           "vectorized_map", "map", "scan", "associative_scan", "cond", "switch", "copy", "array",
           "custom_gradient"]

_slice = slice      # the builtin; ``slice`` below is Keras' op


# -- conversion ----------------------------------------------------------------------------------
def std_dtype(dtype):
    """A NumPy dtype from a Keras dtype spec (a string, a NumPy dtype, a type, None)."""
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype == "bfloat16":
        raise TypeError("keras.ops: ember has no bfloat16; use 'float16' or 'float32'")
    return np.dtype(getattr(dtype, "name", dtype) if not isinstance(dtype, np.dtype) else dtype)


def to_tensor(x, dtype=None):
    """``x`` as an ember Tensor under the conversion rules of this module (no copy of a Tensor
    of the right dtype; a Tensor of another dtype is cast differentiably)."""
    dtype = std_dtype(dtype)
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == dtype else F.cast(x, dtype)
    if isinstance(x, KerasTensor):
        raise TypeError("keras.ops: got a symbolic KerasTensor where a value is needed; pass "
                        "KerasTensors as the op's tensor arguments, not inside other structures")
    if isinstance(x, (list, tuple)) and any(isinstance(v, Tensor) for v in x):
        return F.stack([to_tensor(v, dtype) for v in x])
    arr = np.asarray(x)
    if dtype is None:
        if arr.dtype == np.float64:
            dtype = np.float32                 # Keras' floatx
        elif arr.dtype == np.int64 and not isinstance(x, np.ndarray):
            dtype = np.int32                   # Python ints: Keras' int32
        elif arr.dtype.kind in "US" or arr.dtype == object:
            raise TypeError(f"keras.ops: cannot convert {type(x).__name__} of dtype {arr.dtype} "
                            "to a tensor; expected numbers, arrays or tensors")
    return Tensor.wrap(np.array(arr, dtype=dtype))


def float_tensor(x):
    """``x`` as a Tensor of a float dtype (ints and bools become float32, as Keras' maths ops)."""
    x = to_tensor(x)
    return x if x.dtype.kind == "f" else F.cast(x, np.float32)


def exporter(names):
    """A decorator that appends a function's name to the list ``names`` (a module's
    ``__all__``) and returns the function."""
    def export(fn):
        names.append(fn.__name__)
        return fn
    return export


def operand(x):
    """An argument of a binary op: Python scalars stay scalars (weak types), the rest Tensors."""
    if isinstance(x, (numbers.Number, np.bool_)) and not isinstance(x, np.ndarray):
        return x
    return to_tensor(x)


def axis_arg(axis):
    """Keras' ``axis`` (int, list, tuple or None) as F takes it."""
    return tuple(int(a) for a in axis) if isinstance(axis, (list, tuple)) else axis


# -- core ops ------------------------------------------------------------------------------------
@symbolic
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` (array, list, scalar, Tensor) as an ember Tensor; ``dtype`` casts.  NumPy float64
    becomes float32 and Python ints int32 unless ``dtype`` is given."""
    if sparse or ragged:
        raise ValueError("keras.ops.convert_to_tensor: ember has no sparse or ragged tensors")
    return to_tensor(x, dtype)


def convert_to_numpy(x):
    """A NumPy array holding the values of ``x`` (a Tensor, array, list or scalar)."""
    if isinstance(x, KerasTensor):
        x.numpy()                              # raises the explanatory error
    if isinstance(x, Tensor):
        return np.array(x.numpy())
    return np.asarray(x)


def array(x, dtype=None):
    """``keras.ops.array``: a tensor from ``x`` (as :func:`convert_to_tensor`)."""
    return convert_to_tensor(x, dtype)


def is_tensor(x):
    """True for an ember Tensor (Parameters and Variables included) or a KerasTensor."""
    return isinstance(x, (Tensor, KerasTensor))


@symbolic
def cast(x, dtype):
    """``x`` converted to ``dtype`` (differentiable between float dtypes)."""
    return to_tensor(x, dtype)


@symbolic
def saturate_cast(x, dtype):
    """``x`` cast to ``dtype`` with values first clipped to the target dtype's range."""
    x = to_tensor(x)
    dt = std_dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        x = F.clip(x, float(info.min) if x.dtype.kind == "f" else int(info.min),
                   float(info.max) if x.dtype.kind == "f" else int(info.max))
    return F.cast(x, dt)


def dtype(x):
    """The dtype name of ``x`` ('float32', 'int32', ...)."""
    if isinstance(x, KerasTensor):
        return x.dtype
    return str(to_tensor(x).dtype)


def shape(x):
    """The shape of ``x`` as a tuple (``None`` for unknown sizes of a KerasTensor)."""
    if isinstance(x, (KerasTensor, Tensor)):
        return tuple(x.shape)
    return tuple(np.shape(x))


def ndim(x):
    """The number of axes of ``x``."""
    return len(shape(x))


def size(x):
    """The number of elements of ``x``."""
    return int(np.prod(shape(x), dtype=np.int64))


@symbolic
def stop_gradient(variable):
    """``variable``'s values, cut off from the gradient graph."""
    return to_tensor(variable).detach()


@symbolic
def copy(x):
    """A copy of ``x`` (differentiable)."""
    return F.multiply(to_tensor(x), 1)


@symbolic
def get_item(x, key):
    """``x[key]``: NumPy indexing (ints, slices, Ellipsis, None, int arrays, boolean masks)."""
    if isinstance(key, Tensor):
        key = key.numpy()
    elif isinstance(key, tuple):
        key = tuple(k.numpy() if isinstance(k, Tensor) else k for k in key)
    return F.getitem(to_tensor(x), key)


def _starts(start_indices, where):
    starts = convert_to_numpy(start_indices).reshape(-1).astype(np.int64)
    return [int(s) for s in starts]


@symbolic
def slice(inputs, start_indices, shape):   # noqa: A001  (Keras' name)
    """The block of ``inputs`` of size ``shape`` starting at ``start_indices`` (one per axis)."""
    x = to_tensor(inputs)
    starts = _starts(start_indices, "slice")
    if len(starts) != x.ndim or len(shape) != x.ndim:
        raise ValueError(f"keras.ops.slice: input of shape {tuple(x.shape)} needs one start and one "
                         f"size per axis; got start_indices={starts}, shape={tuple(shape)}")
    sizes = [x.shape[i] - s if n in (-1, None) else n for i, (s, n) in enumerate(zip(starts, shape))]
    return F.getitem(x, tuple(_slice(s, s + n) for s, n in zip(starts, sizes)))


@symbolic
def slice_update(inputs, start_indices, updates):
    """A copy of ``inputs`` with the block at ``start_indices`` replaced by ``updates``
    (differentiable in both)."""
    x, u = to_tensor(inputs), to_tensor(updates)
    starts = _starts(start_indices, "slice_update")
    if len(starts) != x.ndim or u.ndim != x.ndim:
        raise ValueError(f"keras.ops.slice_update: inputs {tuple(x.shape)}, updates "
                         f"{tuple(u.shape)} and start_indices {starts} must have the same rank")
    flat = np.arange(int(np.prod(x.shape))).reshape(x.shape)
    index = flat[tuple(_slice(s, s + n) for s, n in zip(starts, u.shape))].reshape(-1)
    return _put(x, index, F.cast(u, x.dtype), accumulate=False)


def _put(x, flat_index, values, accumulate):
    keep = np.ones(int(np.prod(x.shape)), dtype=x.dtype)
    if not accumulate:
        keep[flat_index] = 0     # zero the overwritten entries first (their gradient is zero)
    zeroed = F.multiply(x, Tensor.wrap(keep.reshape(x.shape)))
    return F.put(zeroed, Tensor.wrap(flat_index), F.reshape(values, (-1,)), accumulate=True)


def _flat_indices(indices, shape, where):
    idx = convert_to_numpy(indices).astype(np.int64)
    if idx.ndim == 0 or idx.shape[-1] > len(shape):
        raise ValueError(f"keras.ops.{where}: indices of shape {idx.shape} must end with an axis of "
                         f"at most {len(shape)} coordinates into shape {tuple(shape)}")
    k = idx.shape[-1]
    inner = int(np.prod(shape[k:], dtype=np.int64))
    base = np.ravel_multi_index(tuple(np.moveaxis(idx, -1, 0)), tuple(shape[:k]), mode="wrap")
    return (base[..., None] * inner + np.arange(inner)).reshape(-1), inner


@symbolic
def scatter(indices, values, shape):
    """A zero tensor of ``shape`` with ``values`` added at ``indices`` ((N, k) coordinates into
    the first k axes; repeated indices add up, as Keras)."""
    shape = tuple(int(s) for s in shape)
    v = to_tensor(values)
    index, _ = _flat_indices(indices, shape, "scatter")
    zeros = Tensor.wrap(np.zeros(shape, dtype=v.dtype))
    return F.put(zeros, Tensor.wrap(index), F.reshape(v, (-1,)), accumulate=True)


@symbolic
def scatter_update(inputs, indices, updates, reduction=None):
    """A copy of ``inputs`` with ``updates`` written at ``indices`` ((N, k) coordinates into the
    first k axes).  ``reduction='add'`` adds instead of overwriting."""
    x, u = to_tensor(inputs), to_tensor(updates)
    index, _ = _flat_indices(indices, x.shape, "scatter_update")
    if reduction not in (None, "add"):
        raise ValueError(f"keras.ops.scatter_update: reduction={reduction!r}; ember supports None "
                         "and 'add'")
    return _put(x, index, F.cast(u, x.dtype), accumulate=reduction == "add")


@symbolic
def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis`` as a list."""
    x = to_tensor(x)
    n = x.shape[axis]
    if num is not None and num != n:
        raise ValueError(f"keras.ops.unstack: num={num} but axis {axis} of {tuple(x.shape)} has {n}")
    return [F.squeeze(p, axis) for p in F.split(x, n, axis=axis)]


# -- control flow: plain Python (ember runs eagerly) ----------------------------------------------
def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for i in [lower, upper); returns the final ``val``."""
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (at most
    ``maximum_iterations`` times).  ``loop_vars`` is a tuple / list (or one tensor)."""
    single = not isinstance(loop_vars, (list, tuple))
    vars_ = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while (maximum_iterations is None or n < maximum_iterations) and bool(
            convert_to_numpy(cond(*vars_))):
        out = body(*vars_)
        vars_ = (out,) if single or not isinstance(out, (list, tuple)) else tuple(out)
        n += 1
    if single:
        return vars_[0]
    return type(loop_vars)(vars_) if isinstance(loop_vars, list) else vars_


def _stack_results(results):
    first = results[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_stack_results([r[i] for r in results]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _stack_results([r[k] for r in results]) for k in first}
    return F.stack([to_tensor(r) for r in results])


def vectorized_map(function, elements):
    """``function`` applied to each slice of ``elements`` along axis 0, results stacked."""
    return map(function, elements)


def map(f, xs):   # noqa: A001  (Keras' name)
    """``f`` applied to each slice of ``xs`` (a tensor or a structure of them) along axis 0,
    results stacked along a new axis 0."""
    if isinstance(xs, (list, tuple)):
        parts = [to_tensor(x) for x in xs]
        n = parts[0].shape[0]
        results = [f(type(xs)(p[i] for p in parts)) for i in range(n)]
    elif isinstance(xs, dict):
        parts = {k: to_tensor(v) for k, v in xs.items()}
        n = next(iter(parts.values())).shape[0]
        results = [f({k: v[i] for k, v in parts.items()}) for i in range(n)]
    else:
        xs = to_tensor(xs)
        results = [f(xs[i]) for i in range(xs.shape[0])]
    return _stack_results(results)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the slices ``x`` of ``xs`` (or ``length`` steps with
    ``x=None``); returns ``(carry, stacked ys)``."""
    n = length if xs is None else to_tensor(xs).shape[0]
    xs_t = None if xs is None else to_tensor(xs)
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry, ys = init, []
    for i in order:
        carry, y = f(carry, None if xs_t is None else xs_t[i])
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    return carry, (_stack_results(ys) if ys and ys[0] is not None else None)


def associative_scan(f, elems, reverse=False, axis=0):
    """The inclusive scan ``out[i] = f(out[i-1], elems[i])`` along ``axis`` for an associative
    ``f`` (``elems``: a tensor or a list / tuple of tensors scanned together)."""
    many = isinstance(elems, (list, tuple))
    parts = [to_tensor(e) for e in (elems if many else [elems])]
    n = parts[0].shape[axis]
    order = list(range(n - 1, -1, -1)) if reverse else list(range(n))

    def at(i):
        items = [F.squeeze(F.narrow(p, axis, i, 1), axis) for p in parts]
        return type(elems)(items) if many else items[0]
    outs = {order[0]: at(order[0])}
    for prev, i in zip(order, order[1:]):
        outs[i] = f(outs[prev], at(i))
    if many:
        return type(elems)(F.stack([to_tensor(outs[i][j]) for i in range(n)], axis)
                           for j in range(len(parts)))
    return F.stack([to_tensor(outs[i]) for i in range(n)], axis)


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()`` (eager)."""
    return true_fn() if bool(convert_to_numpy(pred)) else false_fn()


def switch(index, branches, *operands):
    """``branches[index](*operands)``, the index clamped to the valid range."""
    i = int(np.clip(int(convert_to_numpy(index)), 0, len(branches) - 1))
    return branches[i](*operands)


def custom_gradient(f):
    """Decorator: ``f(*args)`` returns ``(output, grad_fn)`` and ``grad_fn(upstream)`` returns the
    gradients of the tensor arguments (one, or a tuple in argument order; None for none); the
    decorated function computes ``output`` with that gradient (Keras' ``custom_gradient``)."""
    import functools

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        parents = tuple(a for a in args if isinstance(a, Tensor))
        with no_grad():
            out, grad_fn = f(*args, **kwargs)
        out = to_tensor(out)

        def backward(g):
            with no_grad():
                grads = grad_fn(Tensor.wrap(g))
            grads = tuple(grads) if isinstance(grads, (list, tuple)) else (grads,)
            if len(grads) != len(parents):
                raise ValueError(f"keras.ops.custom_gradient: grad_fn of {f.__name__} returned "
                                 f"{len(grads)} gradients for {len(parents)} tensor arguments")
            return tuple(np.zeros(p.shape, p.dtype) if gr is None else
                         np.asarray(to_tensor(gr).data, p.dtype) for gr, p in zip(grads, parents))
        return make(out.data, parents, backward)
    return wrapper
