"""The pipeline behind ``tf.data.Dataset``: one node per source or transformation.

A node gives, for each pass over the data, either

* an :class:`IndexPlan` -- the elements are rows of in-memory arrays at a stream of int64 index
  chunks (``from_tensor_slices``, ``range``, ``cache`` once filled, and ``shuffle`` / ``repeat`` /
  ``take`` / ``skip`` / ``shard`` over those): ``batch`` then gathers each batch with one
  ``take`` per array, and a shuffle is a permutation of indices, not of Python objects; or
* a stream of elements (structures of NumPy arrays, see ``structure``), element by element, for
  everything else (``map`` functions, generators, ``filter``, ...).

Cardinalities follow TensorFlow's rules (``-1`` infinite, ``-2`` unknown).
"""
import itertools
import math

import numpy as np

from ... import random as _random
from .structure import (INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, TensorSpec, describe, flatten,
                        map_structure, pack, spec_of, to_numpy)

__all__ = ["Node", "IndexPlan", "Slices", "Generator", "Shuffle", "Repeat", "Take", "Skip",
           "Shard", "Cache", "Map", "Filter", "Unbatch", "Enumerate", "Concatenate", "Zip"]

INF, UNKNOWN = INFINITE_CARDINALITY, UNKNOWN_CARDINALITY
_CHUNK = 1024          # indices per chunk of a streamed (buffer) shuffle
_END = object()


class IndexPlan:
    """One pass of an index-able node: rows ``[a[i] for a in arrays]`` packed as ``template``, for
    ``i`` in the int64 arrays that ``chunks`` yields in order."""

    def __init__(self, template, arrays, chunks):
        self.template, self.arrays, self.chunks = template, arrays, chunks


def plan_elements(plan):
    """The elements of an IndexPlan one by one (each leaf an ndarray row)."""
    for chunk in plan.chunks:
        if not len(chunk):
            continue
        parts = [a.take(chunk, axis=0) for a in plan.arrays]
        for k in range(len(chunk)):
            yield pack(plan.template, [p[k:k + 1].reshape(p.shape[1:]) for p in parts])


def call(fn, element, tensors):
    """``fn`` on an element: a plain tuple is unpacked into arguments (TensorFlow's rule), any
    other structure (dict, namedtuple, one tensor) is one argument."""
    value = tensors(element)
    return fn(*value) if type(value) is tuple else fn(value)


class Node:
    """Base node: ``cardinality()``, ``elements()`` (a fresh pass), ``index_plan()``, ``spec()``."""

    name = "Dataset"

    def cardinality(self):
        return UNKNOWN

    def index_plan(self):
        """An IndexPlan for a fresh pass, or None when this node is not a view of arrays."""
        return None

    def elements(self):
        plan = self.index_plan()
        if plan is not None:
            return plan_elements(plan)
        return self._elements()

    def _elements(self):
        raise NotImplementedError

    def spec(self):
        """The TensorSpec structure of the elements (from the first element when not known)."""
        for element in self.elements():
            return spec_of(element)
        raise ValueError("tf.data: element_spec of an empty dataset with no known structure")


# -- sources ---------------------------------------------------------------------------------------
class Slices(Node):
    """``from_tensor_slices`` / ``from_tensors`` / ``range``: the rows of ``arrays`` packed as
    ``template``."""

    name = "TensorSliceDataset"

    def __init__(self, template, arrays, name=None):
        self.template, self.arrays = template, list(arrays)
        self.n = len(self.arrays[0])
        if name:
            self.name = name

    def cardinality(self):
        return self.n

    def index_plan(self):
        return IndexPlan(self.template, self.arrays, iter([np.arange(self.n, dtype=np.int64)]))

    def spec(self):
        return pack(self.template, [TensorSpec(a.shape[1:], a.dtype) for a in self.arrays])


class Generator(Node):
    """``from_generator``: a fresh call of ``generator(*args)`` per pass, each value converted to
    the dtypes of ``signature`` and checked against its shapes."""

    name = "FlatMapDataset"

    def __init__(self, generator, args, signature):
        self.generator, self.args, self.signature = generator, tuple(args or ()), signature

    def _elements(self):
        for value in self.generator(*self.args):
            if self.signature is None:
                yield to_numpy(value, "value yielded by the generator")
                continue
            try:
                yield map_structure(self._convert, self.signature, _as_structure(value,
                                                                                 self.signature))
            except (TypeError, ValueError, KeyError, IndexError) as e:
                raise type(e)(f"tf.data.Dataset.from_generator: {e}") from None

    @staticmethod
    def _convert(spec, value):
        array = to_numpy(value, "value yielded by the generator")
        if spec.dtype.kind in "biuf" and array.dtype.kind in "biuf":
            array = array.astype(spec.dtype, copy=False)
        if not spec.is_compatible_with(array):
            raise ValueError(f"the generator yielded an element of shape {list(array.shape)} where "
                             f"the output_signature expects {spec}; fix the generator or the "
                             "signature (None for a dimension of any size)")
        return array

    def spec(self):
        return self.signature if self.signature is not None else super().spec()


def _as_structure(value, signature):
    """``value`` shaped as ``signature`` (a yielded list stands for a tuple)."""
    if isinstance(signature, tuple) and isinstance(value, list):
        value = tuple(value)
    if isinstance(signature, tuple) and (not isinstance(value, tuple)
                                         or len(value) != len(signature)):
        raise ValueError(f"the generator yielded {type(value).__name__} but the output_signature "
                         f"is a tuple of {len(signature)} specs: yield tuples of that length")
    if isinstance(signature, dict) and not isinstance(value, dict):
        raise ValueError(f"the generator yielded {type(value).__name__} but the output_signature "
                         "is a dict: yield dicts with its keys")
    return value


# -- order and extent ----------------------------------------------------------------------------------
def buffer_shuffle(items, size, rng):
    """TensorFlow's shuffle: fill a buffer of ``size``, then repeatedly emit a random buffer entry
    and put the next input in its place; drain the buffer randomly at the end."""
    it = iter(items)
    buf = list(itertools.islice(it, size))
    following = next(it, _END)
    if following is _END:
        # the buffer holds everything: one uniform permutation (what the index path draws too)
        for j in rng.permutation(len(buf)):
            yield buf[j]
        return
    draws, k = rng.random(_CHUNK), 0
    for item in itertools.chain([following], it):
        if k == _CHUNK:
            draws, k = rng.random(_CHUNK), 0
        j = int(draws[k] * len(buf))
        k += 1
        out, buf[j] = buf[j], item
        yield out
    while buf:
        j = int(rng.random() * len(buf))
        buf[j], buf[-1] = buf[-1], buf[j]
        yield buf.pop()


def _concat(chunks):
    parts = [c for c in chunks if len(c)]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


class Shuffle(Node):
    """``shuffle(buffer_size, seed, reshuffle_each_iteration)``.  Pass ``p`` uses the generator
    ``default_rng([seed, p])`` (``p`` stays 0 without reshuffling); ``seed=None`` draws the seed
    from ember's global generator (so ``tf.random.set_seed`` makes runs repeatable).  When the
    buffer holds the whole input, a pass is one uniform permutation (drawn at once for an
    index-able input); both paths give the same order for the same seed."""

    name = "ShuffleDataset"

    def __init__(self, parent, buffer_size, seed, reshuffle):
        self.parent, self.buffer_size, self.reshuffle = parent, int(buffer_size), reshuffle
        if seed is None:
            seed = int(_random.default_generator().integers(0, 2**63 - 1))
        self.seed, self.passes = int(seed), 0

    def cardinality(self):
        return self.parent.cardinality()

    def _rng(self):
        p = self.passes if self.reshuffle else 0
        self.passes += 1
        return np.random.default_rng([self.seed, p])

    def _whole(self):
        n = self.parent.cardinality()
        return 0 <= n <= self.buffer_size

    def index_plan(self):
        plan = self.parent.index_plan()
        if plan is None:
            return None
        rng = self._rng()
        if self._whole():
            def chunks():
                order = _concat(plan.chunks)
                yield order[rng.permutation(len(order))]
        else:
            def chunks():
                stream = buffer_shuffle((i for c in plan.chunks for i in c.tolist()),
                                        self.buffer_size, rng)
                while True:
                    chunk = np.fromiter(itertools.islice(stream, _CHUNK), np.int64)
                    if not len(chunk):
                        return
                    yield chunk
        return IndexPlan(plan.template, plan.arrays, chunks())

    def _elements(self):
        return buffer_shuffle(self.parent.elements(), self.buffer_size, self._rng())

    def spec(self):
        return self.parent.spec()


class _PassThrough(Node):
    """A node whose elements have the parent's structure (spec)."""

    def spec(self):
        return self.parent.spec()


class Repeat(_PassThrough):
    name = "RepeatDataset"

    def __init__(self, parent, count):
        self.parent = parent
        self.count = -1 if count is None else int(count)

    def cardinality(self):
        n = self.parent.cardinality()
        if self.count < 0:
            return 0 if n == 0 else INF
        if self.count == 0:
            return 0
        return n if n < 0 else n * self.count

    def _passes(self):
        return itertools.count() if self.count < 0 else range(self.count)

    def index_plan(self):
        first = self.parent.index_plan()
        if first is None:
            return None

        def chunks():
            for p in self._passes():
                plan = first if p == 0 else self.parent.index_plan()
                empty = True
                for chunk in plan.chunks:
                    if len(chunk):
                        empty = False
                        yield chunk
                if empty:
                    return          # an empty dataset repeated forever is still empty
        return IndexPlan(first.template, first.arrays, chunks())

    def _elements(self):
        for _ in self._passes():
            empty = True
            for element in self.parent.elements():
                empty = False
                yield element
            if empty:
                return


class Take(_PassThrough):
    name = "TakeDataset"

    def __init__(self, parent, count):
        self.parent, self.count = parent, int(count)

    def cardinality(self):
        n = self.parent.cardinality()
        if n == UNKNOWN or self.count < 0:
            return n
        return self.count if n == INF else min(n, self.count)

    def index_plan(self):
        plan = self.parent.index_plan()
        if plan is None or self.count < 0:
            return plan

        def chunks():
            left = self.count
            for chunk in plan.chunks:
                if left <= 0:
                    return
                chunk = chunk[:left]
                left -= len(chunk)
                yield chunk
        return IndexPlan(plan.template, plan.arrays, chunks())

    def _elements(self):
        if self.count < 0:
            yield from self.parent.elements()
        elif self.count:
            yield from itertools.islice(self.parent.elements(), self.count)


class Skip(_PassThrough):
    name = "SkipDataset"

    def __init__(self, parent, count):
        self.parent, self.count = parent, int(count)

    def cardinality(self):
        n = self.parent.cardinality()
        if n < 0:
            return n
        return 0 if self.count < 0 else max(0, n - self.count)

    def index_plan(self):
        plan = self.parent.index_plan()
        if plan is None or self.count == 0:
            return plan

        def chunks():
            left = math.inf if self.count < 0 else self.count
            for chunk in plan.chunks:
                if left >= len(chunk):
                    left -= len(chunk)
                    continue
                yield chunk[int(left):]
                left = 0
        return IndexPlan(plan.template, plan.arrays, chunks())

    def _elements(self):
        if self.count >= 0:
            yield from itertools.islice(self.parent.elements(), self.count, None)


class Shard(_PassThrough):
    """``shard(num_shards, index)``: every ``num_shards``-th element from ``index``."""

    name = "ShardDataset"

    def __init__(self, parent, num_shards, index):
        self.parent, self.num, self.index = parent, int(num_shards), int(index)

    def cardinality(self):
        n = self.parent.cardinality()
        return n if n < 0 else n // self.num + (1 if n % self.num > self.index else 0)

    def index_plan(self):
        plan = self.parent.index_plan()
        if plan is None:
            return None

        def chunks():
            start = 0
            for chunk in plan.chunks:
                yield chunk[(self.index - start) % self.num::self.num]
                start += len(chunk)
        return IndexPlan(plan.template, plan.arrays, chunks())

    def _elements(self):
        return itertools.islice(self.parent.elements(), self.index, None, self.num)


class Cache(_PassThrough):
    """``cache()``: the first complete pass is kept in memory; when its elements stack into
    arrays, later passes are index-able (so ``map(...).cache().shuffle(...).batch(...)`` gathers
    batches after the first epoch)."""

    name = "CacheDataset"

    def __init__(self, parent):
        self.parent, self.items, self.arrays, self.template = parent, None, None, None

    def cardinality(self):
        return self.parent.cardinality()

    def index_plan(self):
        if self.arrays is None:
            return None
        n = len(self.arrays[0])
        return IndexPlan(self.template, self.arrays, iter([np.arange(n, dtype=np.int64)]))

    def _elements(self):
        if self.items is not None:
            yield from self.items
            return
        record = []
        for element in self.parent.elements():
            record.append(element)
            yield element
        self.items = record         # reached only when the pass was complete
        try:
            leaves = [flatten(e) for e in record]
            self.arrays = [np.stack(column) for column in zip(*leaves)] if record else None
            if self.arrays is not None:
                self.template, self.items = record[0], None      # the arrays replace the list
        except ValueError:
            self.arrays = None      # ragged elements: replay the list


# -- element-wise ------------------------------------------------------------------------------------
class Map(Node):
    name = "MapDataset"

    def __init__(self, parent, fn, tensors):
        self.parent, self.fn, self.tensors = parent, fn, tensors

    def cardinality(self):
        return self.parent.cardinality()

    def _elements(self):
        for element in self.parent.elements():
            yield to_numpy(call(self.fn, element, self.tensors), "value returned by the map function")


class Filter(_PassThrough):
    name = "FilterDataset"

    def __init__(self, parent, predicate, tensors):
        self.parent, self.predicate, self.tensors = parent, predicate, tensors

    def _elements(self):
        for element in self.parent.elements():
            keep = to_numpy(call(self.predicate, element, self.tensors), "filter predicate result")
            if not isinstance(keep, np.ndarray) or keep.shape != () or keep.dtype != np.bool_:
                raise ValueError(f"tf.data.Dataset.filter: the predicate must return a scalar bool "
                                 f"tensor, got {describe(keep) if isinstance(keep, np.ndarray) else keep!r}")
            if keep:
                yield element


class Unbatch(Node):
    name = "UnbatchDataset"

    def __init__(self, parent):
        self.parent = parent

    def _elements(self):
        for element in self.parent.elements():
            leaves = flatten(element)
            sizes = {leaf.shape[0] if leaf.ndim else None for leaf in leaves}
            if len(sizes) != 1 or None in sizes:
                raise ValueError(f"tf.data.Dataset.unbatch: every component needs the same first "
                                 f"dimension, got {describe(element)}")
            for k in range(sizes.pop()):
                yield pack(element, [leaf[k] for leaf in leaves])

    def spec(self):
        return map_structure(lambda s: TensorSpec(s.shape[1:], s.dtype), self.parent.spec())


class Enumerate(Node):
    name = "ZipDataset"

    def __init__(self, parent, start):
        self.parent, self.start = parent, int(start)

    def cardinality(self):
        return self.parent.cardinality()

    def _elements(self):
        for i, element in enumerate(self.parent.elements(), self.start):
            yield np.asarray(i, np.int64), element

    def spec(self):
        return TensorSpec((), np.int64), self.parent.spec()


class Concatenate(Node):
    name = "ConcatenateDataset"

    def __init__(self, first, second):
        self.first, self.second = first, second

    def cardinality(self):
        a, b = self.first.cardinality(), self.second.cardinality()
        if INF in (a, b):
            return INF
        return UNKNOWN if UNKNOWN in (a, b) else a + b

    def _elements(self):
        yield from self.first.elements()
        yield from self.second.elements()

    def spec(self):
        def merge(a, b):
            if a.dtype != b.dtype or len(a.shape) != len(b.shape):
                raise TypeError(f"tf.data.Dataset.concatenate: incompatible elements {a} and {b}")
            return TensorSpec([x if x == y else None for x, y in zip(a.shape, b.shape)], a.dtype)
        return map_structure(merge, self.first.spec(), self.second.spec())


class Zip(Node):
    """``Dataset.zip``: ``structure`` is a tuple / dict of nodes."""

    name = "ZipDataset"

    def __init__(self, structure):
        self.structure = structure
        self.nodes = flatten(structure)

    def cardinality(self):
        result = INF
        for node in self.nodes:
            n = node.cardinality()
            if n == UNKNOWN:
                return UNKNOWN
            if n != INF:
                result = n if result == INF else min(result, n)
        return result

    def index_plan(self):
        """Sources zipped as they are (``zip((images_ds, labels_ds))``) stay one view of their
        arrays, so a shuffle / batch after the zip still gathers whole batches."""
        if not all(isinstance(node, Slices) for node in self.nodes):
            return None
        n = min(node.n for node in self.nodes)
        template = pack(self.structure, [node.template for node in self.nodes])
        arrays = [a for node in self.nodes for a in node.arrays]
        return IndexPlan(template, arrays, iter([np.arange(n, dtype=np.int64)]))

    def _elements(self):
        for parts in zip(*(node.elements() for node in self.nodes)):
            yield pack(self.structure, parts)

    def spec(self):
        return pack(self.structure, [node.spec() for node in self.nodes])
