"""Less common ``tf.data`` transformations, element by element: ``take_while``, ``unique``,
``scan``, ``Dataset.counter``, ``Dataset.sample_from_datasets`` and
``Dataset.choose_from_datasets`` (TensorFlow 2's semantics)."""
import itertools

import numpy as np

from ... import random as _random
from .nodes import INF, UNKNOWN, Node, call
from .structure import TensorSpec, describe, to_numpy

__all__ = ["TakeWhile", "Unique", "Scan", "Counter", "SampleFrom", "ChooseFrom"]


def _scalar_bool(value, what):
    if not isinstance(value, np.ndarray) or value.shape != () or value.dtype != np.bool_:
        raise ValueError(f"tf.data.Dataset.{what}: the predicate must return a scalar bool "
                         f"tensor, got {describe(value) if isinstance(value, np.ndarray) else value!r}")
    return bool(value)


class TakeWhile(Node):
    name = "TakeWhileDataset"

    def __init__(self, parent, predicate, tensors):
        self.parent, self.predicate, self.tensors = parent, predicate, tensors

    def _elements(self):
        for element in self.parent.elements():
            keep = to_numpy(call(self.predicate, element, self.tensors), "take_while result")
            if not _scalar_bool(keep, "take_while"):
                return
            yield element

    def spec(self):
        return self.parent.spec()


class Unique(Node):
    """The first occurrence of each value (scalar integer or string elements, as TensorFlow)."""

    name = "UniqueDataset"

    def __init__(self, parent):
        self.parent = parent

    def _elements(self):
        seen = set()
        for element in self.parent.elements():
            if not isinstance(element, np.ndarray) or element.ndim or element.dtype.kind not in "iuUS":
                raise TypeError(f"tf.data.Dataset.unique: elements must be scalar integers or "
                                f"strings, got {describe(element)}")
            key = element.item()
            if key not in seen:
                seen.add(key)
                yield element

    def spec(self):
        return self.parent.spec()


class Scan(Node):
    """``scan(initial_state, scan_func)``: ``scan_func(state, element) -> (state, output)``."""

    name = "ScanDataset"

    def __init__(self, parent, initial_state, fn, tensors):
        self.parent, self.fn, self.tensors = parent, fn, tensors
        self.initial = to_numpy(initial_state, "scan initial_state")

    def cardinality(self):
        return self.parent.cardinality()

    def _elements(self):
        state = self.initial
        for element in self.parent.elements():
            result = self.fn(self.tensors(state), self.tensors(element))
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise ValueError("tf.data.Dataset.scan: scan_func must return (new_state, "
                                 f"output_element), got {type(result).__name__}")
            state = to_numpy(result[0], "scan state")
            yield to_numpy(result[1], "scan output")


class Counter(Node):
    name = "CounterDataset"

    def __init__(self, start, step, dtype):
        self.start, self.step, self.dtype = start, step, np.dtype(dtype)

    def cardinality(self):
        return INF

    def _elements(self):
        for value in itertools.count(self.start, self.step):
            yield np.asarray(value, self.dtype)

    def spec(self):
        return TensorSpec((), self.dtype)


class SampleFrom(Node):
    """Each element from dataset ``i`` drawn with probability ``weights[i]`` (renormalised over
    the datasets not yet exhausted, unless ``stop_on_empty``)."""

    name = "DirectedInterleaveDataset"

    def __init__(self, nodes, weights, seed, stop_on_empty, rerandomize):
        self.nodes = list(nodes)
        w = np.full(len(self.nodes), 1.0) if weights is None else np.asarray(weights, np.float64)
        if w.shape != (len(self.nodes),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"tf.data.Dataset.sample_from_datasets: weights must be "
                             f"{len(self.nodes)} non-negative numbers, not all 0, got {weights!r}")
        self.weights, self.stop = w, bool(stop_on_empty)
        if seed is None:
            seed = int(_random.default_generator().integers(0, 2**63 - 1))
        self.seed, self.rerandomize, self.passes = int(seed), bool(rerandomize), 0

    def cardinality(self):
        cards = [node.cardinality() for node in self.nodes]
        return INF if all(c == INF for c in cards) else UNKNOWN

    def _elements(self):
        rng = np.random.default_rng([self.seed, self.passes if self.rerandomize else 0])
        self.passes += 1
        its = [iter(node.elements()) for node in self.nodes]
        weights = self.weights.copy()
        while weights.sum() > 0:
            i = int(rng.choice(len(its), p=weights / weights.sum()))
            element = next(its[i], None)
            if element is None:
                if self.stop:
                    return
                weights[i] = 0.0
                continue
            yield element

    def spec(self):
        return self.nodes[0].spec()


class ChooseFrom(Node):
    """Element ``k`` from ``datasets[choice[k]]``; an exhausted dataset ends the pass when
    ``stop_on_empty``, else its choices are skipped."""

    name = "DirectedInterleaveDataset"

    def __init__(self, nodes, choices, stop_on_empty):
        self.nodes, self.choices, self.stop = list(nodes), choices, bool(stop_on_empty)

    def _elements(self):
        its = [iter(node.elements()) for node in self.nodes]
        done = [False] * len(its)
        for choice in self.choices.elements():
            i = int(choice)
            if not 0 <= i < len(its):
                raise ValueError(f"tf.data.Dataset.choose_from_datasets: choice {i} is out of "
                                 f"range for {len(its)} datasets")
            if done[i]:
                continue
            element = next(its[i], None)
            if element is None:
                if self.stop:
                    return
                done[i] = True
                if all(done):
                    return
                continue
            yield element

    def spec(self):
        return self.nodes[0].spec()
