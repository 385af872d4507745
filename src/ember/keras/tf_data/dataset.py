"""``tf.data.Dataset`` for ``import ember.keras.tf as tf`` programs (TensorFlow 2's semantics).

    ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
          .shuffle(10000).batch(128).prefetch(tf.data.AUTOTUNE))
    model.fit(ds, epochs=5, validation_data=val_ds)
    for images, labels in ds:          # ember Tensors (.numpy() works)
        ...

Iterating yields ember Tensors; ``as_numpy_iterator()`` yields NumPy arrays (0-d ones as NumPy
scalars).  Functions given to ``map`` / ``filter`` / ``flat_map`` receive ember Tensors (tuple
elements unpacked into arguments, as TensorFlow), so ``tf.*`` code works inside them; they may
return Tensors, arrays or Python numbers.  Every pass re-runs the pipeline (a Dataset is
re-iterable: one pass per ``fit`` epoch); ``shuffle`` reshuffles each pass unless
``reshuffle_each_iteration=False``.  ``prefetch``, ``num_parallel_calls``, ``deterministic`` and
options are accepted and change nothing (the pipeline runs in the calling thread).

``model.fit(ds)`` sees an iterable of batches with ``len`` (when the cardinality is finite and
known) and ``is_tf_dataset = True``.
"""
import os

import numpy as np

from ...tensor import Tensor
from . import batching, nodes, selection
from .structure import (INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, TensorSpec, describe, flatten,
                        to_numpy, to_python, to_tensors)

__all__ = ["Dataset", "Options"]


def _positive(value, what, method):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, Tensor)) or int(value) < 1:
        raise ValueError(f"tf.data.Dataset.{method}: {what} must be a positive int, got {value!r}")
    return int(value)


def _count(value, method):
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, Tensor)):
        raise TypeError(f"tf.data.Dataset.{method}: count must be an int, got {value!r}")
    return int(value)


def _slices_of(tensors):
    """The structure and flat arrays of ``from_tensor_slices(tensors)``, checked."""
    element = to_numpy(tensors, "from_tensor_slices component")
    leaves = flatten(element)
    if not leaves:
        raise ValueError("tf.data.Dataset.from_tensor_slices: needs at least one tensor")
    for leaf in leaves:
        if leaf.ndim == 0:
            raise ValueError(f"tf.data.Dataset.from_tensor_slices: every component needs a first "
                             f"dimension to slice, got a scalar in {describe(element)}; use "
                             "from_tensors for a single element")
    sizes = {leaf.shape[0] for leaf in leaves}
    if len(sizes) > 1:
        raise ValueError(f"tf.data.Dataset.from_tensor_slices: all components must have the same "
                         f"first dimension (the number of elements), got {describe(element)}")
    return element, leaves


def _signature(output_signature, output_types, output_shapes):
    if output_signature is not None:
        return output_signature
    if output_types is None:
        return None
    if output_shapes is None:
        output_shapes = _map_types(lambda t: None, output_types)
    return _zip_types(output_types, output_shapes)


def _map_types(fn, types):
    if isinstance(types, dict):
        return {k: _map_types(fn, v) for k, v in types.items()}
    if isinstance(types, tuple):
        return tuple(_map_types(fn, v) for v in types)
    return fn(types)


def _zip_types(types, shapes):
    if isinstance(types, dict):
        return {k: _zip_types(v, shapes[k]) for k, v in types.items()}
    if isinstance(types, tuple):
        return tuple(_zip_types(t, s) for t, s in zip(types, shapes))
    return TensorSpec(None if shapes is None else tuple(shapes), types)


def _node_of(dataset, method):
    if not isinstance(dataset, Dataset):
        raise TypeError(f"tf.data.Dataset.{method}: expected tf.data.Dataset objects, got "
                        f"{type(dataset).__name__}")
    return dataset._node


class Options:
    """``tf.data.Options()``: any option may be set (``options.experimental_distribute
    .auto_shard_policy = ...``); none changes anything here."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = Options()
        object.__setattr__(self, name, value)
        return value


class Dataset:
    """A re-iterable pipeline of elements (see the module docstring).  Build one with the
    ``from_*`` / ``range`` / ``zip`` constructors and chain transformations."""

    #: marks a tf.data pipeline for ``fit`` (an iterable of batches, not a map-style dataset)
    is_tf_dataset = True

    def __init__(self, node):
        self._node = node

    # -- constructors ------------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """Elements are the slices of ``tensors`` (an array, or a tuple / dict / nested structure
        of arrays with the same first dimension) along their first axis."""
        element, leaves = _slices_of(tensors)
        return Dataset(nodes.Slices(element, leaves))

    @staticmethod
    def from_tensors(tensors, name=None):
        """One element: ``tensors`` itself."""
        element = to_numpy(tensors, "from_tensors component")
        return Dataset(nodes.Slices(element, [leaf[None] for leaf in flatten(element)],
                                    "TensorDataset"))

    @staticmethod
    def range(*args, output_type=np.int64, name=None):   # noqa: A003  (TensorFlow's name)
        """``range(stop)``, ``range(start, stop[, step])``: int64 scalars as Python's range."""
        values = np.arange(*(int(a) for a in args)).astype(output_type)
        return Dataset(nodes.Slices(values, [values], "RangeDataset"))

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None, name=None):
        """Elements yielded by ``generator(*args)`` (called again for every pass), converted to
        ``output_signature`` (a TensorSpec structure) or ``output_types`` / ``output_shapes``."""
        if not callable(generator):
            raise TypeError("tf.data.Dataset.from_generator: generator must be a callable that "
                            "returns an iterator (pass the generator function, not a generator "
                            f"object), got {type(generator).__name__}")
        signature = _signature(output_signature, output_types, output_shapes)
        return Dataset(nodes.Generator(generator, args, signature))

    @staticmethod
    def zip(*datasets, name=None):
        """Elements are tuples (or dicts) of the elements of ``datasets``:
        ``zip(a, b)`` or ``zip((a, b))`` or ``zip({'x': a, 'y': b})``; stops at the shortest."""
        structure = datasets[0] if len(datasets) == 1 else datasets
        if isinstance(structure, Dataset):
            structure = (structure,)

        def to_node(value):
            if isinstance(value, dict):
                return {k: to_node(v) for k, v in value.items()}
            if isinstance(value, (tuple, list)):
                return tuple(to_node(v) for v in value)
            if not isinstance(value, Dataset):
                raise TypeError(f"tf.data.Dataset.zip: expected datasets, got "
                                f"{type(value).__name__}")
            return value._node
        return Dataset(nodes.Zip(to_node(structure)))

    @staticmethod
    def counter(start=0, step=1, dtype=np.int64, name=None):
        """``start, start + step, ...`` forever."""
        return Dataset(selection.Counter(start, step, dtype))

    @staticmethod
    def sample_from_datasets(datasets, weights=None, seed=None, stop_on_empty_dataset=False,
                             rerandomize_each_iteration=None):
        """Elements drawn at random from ``datasets`` (probabilities ``weights``, default equal);
        an exhausted dataset drops out unless ``stop_on_empty_dataset``."""
        return Dataset(selection.SampleFrom([_node_of(d, "sample_from_datasets") for d in datasets],
                                            weights, seed, stop_on_empty_dataset,
                                            rerandomize_each_iteration))

    @staticmethod
    def choose_from_datasets(datasets, choice_dataset, stop_on_empty_dataset=True):
        """Element ``k`` from ``datasets[choice_dataset[k]]``."""
        return Dataset(selection.ChooseFrom([_node_of(d, "choose_from_datasets") for d in datasets],
                                            _node_of(choice_dataset, "choose_from_datasets"),
                                            stop_on_empty_dataset))

    # -- transformations ----------------------------------------------------------------------------
    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """``map_func`` applied to every element (a tuple element is unpacked into arguments)."""
        return Dataset(nodes.Map(self._node, map_func, to_tensors))

    def filter(self, predicate, name=None):
        """The elements for which ``predicate`` returns a true scalar bool tensor."""
        return Dataset(nodes.Filter(self._node, predicate, to_tensors))

    def take_while(self, predicate, name=None):
        """The elements up to (not including) the first for which ``predicate`` is false."""
        return Dataset(selection.TakeWhile(self._node, predicate, to_tensors))

    def unique(self, name=None):
        """The first occurrence of each element (scalar integers or strings)."""
        return Dataset(selection.Unique(self._node))

    def scan(self, initial_state, scan_func, name=None):
        """Outputs of ``scan_func(state, element) -> (new_state, output)`` carried from
        ``initial_state``."""
        return Dataset(selection.Scan(self._node, initial_state, scan_func, to_tensors))

    def flat_map(self, map_func, name=None):
        """The elements of the datasets ``map_func`` returns, one after the other."""
        return Dataset(batching.FlatMap(self._node, map_func, to_tensors))

    def interleave(self, map_func, cycle_length=None, block_length=None, num_parallel_calls=None,
                   deterministic=None, name=None):
        """Elements of ``cycle_length`` datasets from ``map_func`` at a time, ``block_length``
        from each in turn (defaults: the CPU count, as TensorFlow, and 1)."""
        cycle = (os.cpu_count() or 1) if cycle_length in (None, -1) else cycle_length
        return Dataset(batching.Interleave(
            self._node, map_func, _positive(cycle, "cycle_length", "interleave"),
            _positive(1 if block_length is None else block_length, "block_length", "interleave"),
            to_tensors))

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """Elements in random order, drawn from a buffer of ``buffer_size`` (TensorFlow's
        semantics: 1 keeps the order, at least the dataset's size gives a uniform permutation)."""
        size = _positive(buffer_size, "buffer_size", "shuffle")
        return Dataset(nodes.Shuffle(self._node, size, seed,
                                     True if reshuffle_each_iteration is None
                                     else bool(reshuffle_each_iteration)))

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None):
        """Consecutive elements stacked into batches of ``batch_size`` (the last one smaller
        unless ``drop_remainder``)."""
        size = _positive(batch_size, "batch_size", "batch")
        return Dataset(batching.Batch(self._node, size, drop_remainder))

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None,
                     drop_remainder=False, name=None):
        """Batches of elements padded to a common shape: ``padded_shapes`` (None / -1 for a
        dimension: the longest in the batch; default all), with ``padding_values`` (default 0,
        '' for strings; one value for all components or a matching structure)."""
        size = _positive(batch_size, "batch_size", "padded_batch")
        return Dataset(batching.Batch(self._node, size, drop_remainder,
                                      padded=(padded_shapes, padding_values)))

    def unbatch(self, name=None):
        """The rows of each element (split along the first axis)."""
        return Dataset(nodes.Unbatch(self._node))

    def repeat(self, count=None, name=None):
        """The dataset ``count`` times (None or -1: forever)."""
        return Dataset(nodes.Repeat(self._node, _count(count, "repeat")))

    def take(self, count, name=None):
        """The first ``count`` elements (-1: all)."""
        return Dataset(nodes.Take(self._node, _count(count, "take")))

    def skip(self, count, name=None):
        """All but the first ``count`` elements (-1: none)."""
        return Dataset(nodes.Skip(self._node, _count(count, "skip")))

    def shard(self, num_shards, index, name=None):
        """Every ``num_shards``-th element, starting at ``index``."""
        num = _positive(num_shards, "num_shards", "shard")
        if not 0 <= int(index) < num:
            raise ValueError(f"tf.data.Dataset.shard: index must be in [0, {num}), got {index}")
        return Dataset(nodes.Shard(self._node, num, int(index)))

    def cache(self, filename="", name=None):
        """Keeps the elements of the first complete pass in memory (a ``filename`` is accepted
        but the cache stays in memory)."""
        return Dataset(nodes.Cache(self._node))

    def prefetch(self, buffer_size, name=None):
        """Accepted for compatibility: the same elements (no background thread)."""
        return Dataset(self._node)

    def enumerate(self, start=0, name=None):
        """Elements ``(index, element)`` with int64 indices from ``start``."""
        return Dataset(nodes.Enumerate(self._node, start))

    def concatenate(self, dataset, name=None):
        """This dataset's elements, then ``dataset``'s."""
        if not isinstance(dataset, Dataset):
            raise TypeError(f"tf.data.Dataset.concatenate: expected a Dataset, got "
                            f"{type(dataset).__name__}")
        return Dataset(nodes.Concatenate(self._node, dataset._node))

    def apply(self, transformation_func):
        """``transformation_func(self)``."""
        return transformation_func(self)

    def with_options(self, options, name=None):
        return self

    def options(self):
        return Options()

    # -- reading --------------------------------------------------------------------------------------
    def __iter__(self):
        for element in self._node.elements():
            yield to_tensors(element)

    def as_numpy_iterator(self):
        """The elements as NumPy arrays (0-d ones as NumPy scalars)."""
        for element in self._node.elements():
            yield to_python(element)

    def reduce(self, initial_state, reduce_func, name=None):
        """``reduce_func(state, element)`` folded over the elements from ``initial_state``."""
        state = to_numpy(initial_state, "reduce state")
        for element in self._node.elements():
            state = to_numpy(reduce_func(to_tensors(state), to_tensors(element)), "reduce state")
        return to_tensors(state)

    def get_single_element(self, name=None):
        """The only element (an error when the dataset holds zero or several)."""
        items = list(self._node.elements() if self._node.cardinality() != INFINITE_CARDINALITY
                     else iter(self.take(2)._node.elements()))[:2]
        if len(items) != 1:
            raise ValueError(f"tf.data.Dataset.get_single_element: the dataset must hold exactly "
                             f"one element, it holds {'none' if not items else 'more than one'}")
        return to_tensors(items[0])

    def cardinality(self):
        """The number of elements as an int64 scalar Tensor (-1 infinite, -2 unknown)."""
        return Tensor.wrap(np.asarray(self._node.cardinality(), np.int64))

    def __len__(self):
        n = self._node.cardinality()
        if n == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return n

    def __bool__(self):
        return True       # as TensorFlow: a dataset is true even when len() would raise

    @property
    def element_spec(self):
        """The TensorSpec structure of one element (None for a dimension that varies)."""
        return self._node.spec()

    def __repr__(self):
        try:
            spec = self.element_spec
        except Exception:   # noqa: BLE001  (a repr must not fail: e.g. an empty generator)
            spec = "?"
        return f"<_{self._node.name} element_spec={spec}>"

