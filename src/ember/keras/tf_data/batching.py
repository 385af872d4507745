"""Batching and nesting nodes: ``batch``, ``padded_batch``, ``flat_map``, ``interleave``.

``batch`` over an index-able pipeline (``from_tensor_slices(...).shuffle(...).repeat()...``)
gathers each batch with one ``take`` per array; otherwise it stacks the elements it reads.
"""
import numpy as np

from .nodes import Node, call
from .structure import TensorSpec, flatten, map_structure, pack

__all__ = ["Batch", "FlatMap", "Interleave"]


def _stack(items, what):
    leaves = [flatten(e) for e in items]
    out = []
    for position, column in enumerate(zip(*leaves)):
        first = column[0].shape
        for k, leaf in enumerate(column):
            if leaf.shape != first:
                raise ValueError(
                    f"tf.data.Dataset.{what}: cannot batch tensors with different shapes in "
                    f"component {position}: element 0 has shape {list(first)} and element {k} "
                    f"has shape {list(leaf.shape)}. Fix: use padded_batch(), or map the elements "
                    "to one shape first")
        out.append(np.stack(column))
    return pack(items[0], out)


def flatten_up_to(template, value, what):
    """``value`` (shapes / padding values) flattened along ``template``'s structure: where the
    template has a leaf, the whole sub-value is one item."""
    if isinstance(template, dict):
        if not isinstance(value, dict):
            raise ValueError(f"tf.data.Dataset.padded_batch: {what} must be a dict with the "
                             f"element's keys {list(template)}, got {value!r}")
        return [x for k in template for x in flatten_up_to(template[k], value[k], what)]
    if isinstance(template, tuple):
        if not isinstance(value, (tuple, list)) or len(value) != len(template):
            raise ValueError(f"tf.data.Dataset.padded_batch: {what} must match the element's "
                             f"structure (a tuple of {len(template)}), got {value!r}")
        return [x for t, v in zip(template, value) for x in flatten_up_to(t, v, what)]
    return [value]


def _pad(items, padded_shapes, padding_values):
    template = items[0]
    leaves = [flatten(e) for e in items]
    n_leaves = len(leaves[0])
    shapes = ([None] * n_leaves if padded_shapes is None
              else flatten_up_to(template, padded_shapes, "padded_shapes"))
    if padding_values is None:
        values = [None] * n_leaves
    elif isinstance(padding_values, (dict, tuple)):
        values = flatten_up_to(template, padding_values, "padding_values")
    else:
        values = [padding_values] * n_leaves       # one value for every component
    out = []
    for position, column in enumerate(zip(*leaves)):
        rank = column[0].ndim
        if any(leaf.ndim != rank for leaf in column):
            raise ValueError(f"tf.data.Dataset.padded_batch: component {position} has elements "
                             f"of different ranks ({sorted({leaf.ndim for leaf in column})}); "
                             "padding changes sizes, not the number of dimensions")
        widest = np.max([leaf.shape for leaf in column], axis=0) if rank else ()
        target = list(widest)
        if shapes[position] is not None:
            given = getattr(shapes[position], "shape", shapes[position])
            if isinstance(given, (int, np.integer)):
                given = [given]             # TensorShape(5): one dimension of size 5
            given = [None if d is None or d == -1 else int(d) for d in given]
            if len(given) != rank:
                raise ValueError(f"tf.data.Dataset.padded_batch: padded_shapes[{position}] = "
                                 f"{given} has rank {len(given)} but the component has rank {rank}")
            for d, size in enumerate(given):
                if size is not None:
                    if widest[d] > size:
                        raise ValueError(
                            f"tf.data.Dataset.padded_batch: an element of component {position} has "
                            f"size {widest[d]} in dimension {d}, larger than its padded shape "
                            f"{given}; raise the padded shape or use None (pad to the longest)")
                    target[d] = size
        dtype = column[0].dtype
        fill = values[position]
        if fill is None:
            fill = "" if dtype.kind in "US" else 0
        batch = np.full((len(column),) + tuple(int(t) for t in target), np.asarray(fill).item(),
                        dtype=dtype)
        for k, leaf in enumerate(column):   # ragged elements: one copy each, no way around it
            batch[(k,) + tuple(slice(0, s) for s in leaf.shape)] = leaf
        out.append(batch)
    return pack(template, out)


class Batch(Node):
    """``batch`` (``padded`` None) or ``padded_batch`` (``padded = (shapes, values)``)."""

    def __init__(self, parent, size, drop_remainder, padded=None):
        self.parent, self.size, self.drop = parent, int(size), bool(drop_remainder)
        self.padded = padded
        self.name = "PaddedBatchDataset" if padded else "BatchDataset"

    def cardinality(self):
        n = self.parent.cardinality()
        if n < 0:
            return n
        return n // self.size if self.drop else -(-n // self.size)

    def _elements(self):
        plan = None if self.padded else self.parent.index_plan()
        if plan is not None:
            yield from self._gather(plan)
            return
        buf = []
        for element in self.parent.elements():
            buf.append(element)
            if len(buf) == self.size:
                yield self._combine(buf)
                buf = []
        if buf and not self.drop:
            yield self._combine(buf)

    def _combine(self, items):
        if self.padded:
            return _pad(items, *self.padded)
        return _stack(items, "batch")

    def _gather(self, plan):
        size, arrays, template = self.size, plan.arrays, plan.template
        pending = np.zeros(0, np.int64)
        for chunk in plan.chunks:
            pending = chunk if not len(pending) else np.concatenate([pending, chunk])
            full = len(pending) // size
            for b in range(full):
                index = pending[b * size:(b + 1) * size]
                yield pack(template, [a.take(index, axis=0) for a in arrays])
            pending = pending[full * size:]
        if len(pending) and not self.drop:
            yield pack(template, [a.take(pending, axis=0) for a in arrays])

    def spec(self):
        first = self.size if self.drop else None
        if self.padded:
            for element in self.elements():
                return map_structure(lambda a: TensorSpec((first,) + a.shape[1:], a.dtype),
                                     element)
        return map_structure(lambda s: TensorSpec((first,) + tuple(s.shape), s.dtype),
                             self.parent.spec())


def _dataset_node(value, what):
    node = getattr(value, "_node", None)
    if node is None:
        raise TypeError(f"tf.data.Dataset.{what}: the function must return a tf.data.Dataset, got "
                        f"{type(value).__name__}")
    return node


class FlatMap(Node):
    name = "FlatMapDataset"

    def __init__(self, parent, fn, tensors):
        self.parent, self.fn, self.tensors = parent, fn, tensors

    def _elements(self):
        for element in self.parent.elements():
            yield from _dataset_node(call(self.fn, element, self.tensors), "flat_map").elements()


class Interleave(Node):
    """TensorFlow's (sequential) interleave: ``cycle_length`` open datasets, ``block_length``
    elements from each in turn; an exhausted one is replaced by the next input's dataset."""

    name = "InterleaveDataset"

    def __init__(self, parent, fn, cycle_length, block_length, tensors):
        self.parent, self.fn, self.tensors = parent, fn, tensors
        self.cycle, self.block = int(cycle_length), int(block_length)

    def _elements(self):
        inputs = self.parent.elements()
        slots = [None] * self.cycle
        index = block = 0
        open_count, input_done = 0, False
        while not input_done or open_count:
            if slots[index] is not None:
                item = next(slots[index], _END)
                if item is not _END:
                    yield item
                    block += 1
                    if block < self.block:
                        continue
                else:
                    slots[index] = None
                    open_count -= 1
            elif not input_done:
                element = next(inputs, _END)
                if element is _END:
                    input_done = True
                else:
                    node = _dataset_node(call(self.fn, element, self.tensors), "interleave")
                    slots[index] = iter(node.elements())
                    open_count += 1
                continue
            index, block = (index + 1) % self.cycle, 0


_END = object()
