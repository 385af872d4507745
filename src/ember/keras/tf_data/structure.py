"""Nested elements of a ``tf.data.Dataset``: structures of NumPy arrays, and ``TensorSpec``.

An element is a NumPy array, or a tuple / namedtuple / dict of elements (TensorFlow's nesting:
a Python *list* is one tensor, converted with ``np.asarray``).  Inside the pipeline elements stay
NumPy; they become ember Tensors only where the program sees them (iteration, ``map`` functions).

dtypes follow ``ember.keras.tf``'s conversion (``tf.constant``): float64 arrays become float32
(ember's default float), Python ints int32 (TensorFlow's), everything else keeps its dtype.
"""
import numpy as np

from ...tensor import Tensor

__all__ = ["TensorSpec", "flatten", "pack", "map_structure", "to_numpy", "to_tensors",
           "to_python", "spec_of", "describe"]

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2


class TensorSpec:
    """``tf.TensorSpec(shape, dtype=tf.float32, name=None)``: the shape (``None`` for an unknown
    dimension) and dtype of one component of a dataset element."""

    def __init__(self, shape, dtype=np.float32, name=None):
        self.shape = None if shape is None else tuple(None if d is None or d == -1 else int(d)
                                                      for d in shape)
        self.dtype = np.dtype(dtype)
        self.name = name

    def is_compatible_with(self, array):
        """Whether ``array`` (an array, or a TensorSpec) has a shape this spec allows."""
        shape = array.shape
        if self.shape is None or shape is None:
            return True
        return len(shape) == len(self.shape) and all(
            a is None or b is None or a == b for a, b in zip(self.shape, shape))

    def __eq__(self, other):
        return (isinstance(other, TensorSpec) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype.name}, name={self.name!r})"


def flatten(element):
    """The leaves of ``element`` in order (dicts: in key order as given)."""
    if type(element) is np.ndarray:           # the common leaf first: this runs per element
        return [element]
    if isinstance(element, dict):
        return [leaf for v in element.values() for leaf in flatten(v)]
    if isinstance(element, tuple):
        return [leaf for v in element for leaf in flatten(v)]
    return [element]


def _rebuild(template, items):
    if hasattr(template, "_fields"):          # a namedtuple
        return type(template)(*items)
    return tuple(items)


def pack(template, leaves):
    """``template``'s structure with ``leaves`` (a flat sequence, as :func:`flatten` orders it)."""
    it = iter(leaves)

    def build(t):
        if isinstance(t, dict):
            return {k: build(v) for k, v in t.items()}
        if isinstance(t, tuple):
            return _rebuild(t, [build(v) for v in t])
        return next(it)
    return build(template)


def map_structure(fn, *elements):
    """``fn`` applied leaf-wise over elements of the same structure."""
    first = elements[0]
    if type(first) is np.ndarray:
        return fn(*elements)
    if isinstance(first, dict):
        return {k: map_structure(fn, *(e[k] for e in elements)) for k in first}
    if isinstance(first, tuple):
        return _rebuild(first, [map_structure(fn, *parts) for parts in zip(*elements)])
    return fn(*elements)


def _leaf_to_numpy(value, dtype=None):
    if isinstance(value, Tensor):
        arr = np.asarray(value.data)          # a 0-d result may be a NumPy scalar
    elif isinstance(value, np.ndarray):
        arr = value
    else:
        arr = np.asarray(value)
        if dtype is None and arr.dtype == np.int64 and not isinstance(value, np.generic):
            dtype = np.int32                  # Python ints: TensorFlow's int32
        if arr.dtype.kind == "U":
            return arr
    if dtype is None and arr.dtype == np.float64:
        dtype = np.float32                    # ember's (and Keras') default float
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    return arr


def to_numpy(element, what="dataset element"):
    """An element (Tensors, arrays, Python numbers, lists) as a structure of NumPy arrays; a list
    is one array (TensorFlow's rule); ``None`` is refused with a clear error."""
    if type(element) is np.ndarray and element.dtype != np.float64:
        return element
    if isinstance(element, dict):
        return {k: to_numpy(v, what) for k, v in element.items()}
    if isinstance(element, tuple):
        return _rebuild(element, [to_numpy(v, what) for v in element])
    if element is None:
        raise TypeError(f"tf.data: a {what} is None; every component must be a tensor or an "
                        "array (return a value from the function given to map/from_generator)")
    try:
        return _leaf_to_numpy(element)
    except (TypeError, ValueError) as e:
        raise TypeError(f"tf.data: a {what} ({type(element).__name__}) cannot be converted to "
                        f"an array: {e}") from None


def to_tensors(element):
    """A NumPy element as ember Tensors (what iterating a Dataset yields)."""
    return map_structure(lambda a: Tensor.wrap(a if isinstance(a, np.ndarray) else np.asarray(a)),
                         element)


def to_python(element):
    """A NumPy element as ``as_numpy_iterator`` gives it: 0-d arrays become NumPy scalars."""
    return map_structure(lambda a: a[()] if a.ndim == 0 else a, element)


def spec_of(element, batch_dims=0):
    """The TensorSpec structure of a NumPy element; the first ``batch_dims`` dims become None."""
    return map_structure(lambda a: TensorSpec((None,) * batch_dims + a.shape[batch_dims:],
                                              a.dtype), element)


def describe(element):
    """A short text of an element's shapes and dtypes, for error messages."""
    return repr(map_structure(lambda a: f"{a.dtype}{list(a.shape)}", element))
