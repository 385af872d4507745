"""How ``fit`` / ``evaluate`` / ``predict`` walk their input in batches.

Three sources, one interface (``steps``, ``samples``, ``epoch(e)`` yielding ``(x, y)`` batches of
Tensors, ``peek(n)`` for the pre-flight check; the two map-style ones also ``take(positions)``, the
batch of any samples, which is how ``ember.distributed`` deals them out between processes):

* :class:`ArrayBatches` -- NumPy arrays / Tensors (or a tuple/list/dict of them for a model with
  several inputs).  Each batch is one slice (in order) or one fancy index with a slice of the
  epoch's permutation (shuffled) per array: no per-sample Python work.
* :class:`DatasetBatches` -- a map-style dataset (``len`` + ``__getitem__``).  A TensorDataset (its
  ``arrays``) goes through ArrayBatches; a dataset with ``get_batch(indices)`` gathers each batch
  at once; any other dataset is read sample by sample and stacked (its ``__getitem__`` is Python
  code anyway).
* :class:`LoaderBatches` -- a DataLoader, any re-iterable of batches ``(x, y)``, or a one-shot
  Python generator (Keras' ``fit(generator, steps_per_epoch=...)``);
* :class:`SequenceBatches` -- a Keras ``Sequence`` / ``PyDataset`` (``len`` = batches,
  ``__getitem__(i)`` = batch ``i``), ``on_epoch_end`` called after each epoch.

A batch is ``(x, y)``, or ``(x, y, sample_weight)`` when the data has per-sample weights (arrays
given ``sample_weight=``, ``class_weight=`` -- turned into per-sample weights, Keras'
``class_weight_to_sample_weights`` -- or batches that carry a third item).  :class:`LimitedBatches`
cuts any source to ``steps`` batches per epoch (Keras' ``steps_per_epoch`` / ``validation_steps``
/ ``steps``).

Shuffling: epoch ``e``'s order is ``numpy.random.default_rng([seed, e]).permutation(n)``, a pure
function of (seed, epoch) -- the convention of ``ember.data``'s samplers -- so a run resumed with
``initial_epoch`` sees the same orders.  ``seed=None`` draws one seed per ``fit`` from ember's
global generator (so ``ember.manual_seed`` makes runs repeatable).
"""
import itertools
import math
import numbers
import warnings

import numpy as np

from .. import random as _random
from ..data.dataset import batch_fetcher
from ..tensor import Tensor
from . import _checks

__all__ = ["ArrayBatches", "DatasetBatches", "LoaderBatches", "SequenceBatches", "LimitedBatches",
           "make_batches", "prepare", "class_weights_of", "limit_steps",
           "validation_source", "install_float_inputs", "install_target_conversion", "as_array",
           "to_tensors", "float32", "resolve_seed", "epoch_permutation", "is_dataset", "Structure"]


def resolve_seed(seed):
    if seed is None:
        return int(_random.default_generator().integers(0, 2**63 - 1))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"fit: seed must be a non-negative int or None, got {seed!r}")
    return int(seed)


def epoch_permutation(seed, epoch, n):
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


def as_array(value):
    """A NumPy array for an array-like input (Tensors give their data, no copy)."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    return np.asarray(value)


class Structure:
    """The layout of a model input or target: one array, a tuple/list of arrays (several inputs:
    ``model(*xs)``), or a dict (``model(**xs)``).  ``arrays`` is the flat list; ``pack`` rebuilds
    the structure from a list of batch arrays (wrapped as Tensors)."""

    def __init__(self, value, what):
        self.what = what
        if isinstance(value, dict):
            self.kind, self.keys = "dict", list(value)
            self.arrays = [as_array(v) for v in value.values()]
        elif isinstance(value, (tuple, list)) and value and all(
                isinstance(v, (np.ndarray, Tensor)) for v in value):
            self.kind, self.keys = "tuple", None
            self.arrays = [as_array(v) for v in value]
        else:
            self.kind, self.keys = "array", None
            self.arrays = [as_array(value)]

    def names(self):
        if self.kind == "dict":
            return [f"{self.what}[{k!r}]" for k in self.keys]
        if self.kind == "tuple":
            return [f"{self.what}[{i}]" for i in range(len(self.arrays))]
        return [self.what]

    def pack(self, parts):
        parts = [Tensor.wrap(p) for p in parts]
        if self.kind == "array":
            return parts[0]
        if self.kind == "dict":
            return dict(zip(self.keys, parts))
        return tuple(parts)


class ArrayBatches:
    """Batches of in-memory arrays (see the module docstring)."""

    def __init__(self, x, y, batch_size, shuffle=False, seed=None, indices=None,
                 sample_weight=None):
        self.x = x if isinstance(x, Structure) else Structure(x, "x")
        self.y = None if y is None else (y if isinstance(y, Structure) else Structure(y, "y"))
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        n = len(self.x.arrays[0]) if self.x.arrays[0].ndim else 0
        #: samples in the arrays the user passed (before a validation_split subset): error
        #: messages about a peeked batch quote the user's shape, not the probe's (peek_samples)
        self.given_samples = n
        #: per-sample weights (float32, first axis = samples) or None
        self.sw = None if sample_weight is None else _weights_array(sample_weight, n)
        if indices is not None:
            # a subset (validation_split): take it once, so batches are plain slices again
            self.x = _subset(self.x, indices)
            if self.y is not None:
                self.y = _subset(self.y, indices)
            if self.sw is not None:
                self.sw = self.sw[indices]
            n = len(self.x.arrays[0])
        self.samples = n
        self.steps = math.ceil(n / self.batch_size) if n else 0

    def set_targets(self, arrays):
        self.y.arrays = list(arrays)

    def peek(self, n):
        n = min(n, self.samples)
        x = self.x.pack([a[:n] for a in self.x.arrays])
        y = None if self.y is None else self.y.pack([a[:n] for a in self.y.arrays])
        return x, y

    def take(self, positions):
        """The batch ``(x, y[, sample_weight])`` of the samples at ``positions`` (in this
        source's order)."""
        x = self.x.pack([a.take(positions, axis=0) for a in self.x.arrays])
        y = None if self.y is None else self.y.pack([a.take(positions, axis=0)
                                                    for a in self.y.arrays])
        if self.sw is None:
            return x, y
        return x, y, Tensor.wrap(self.sw.take(positions, axis=0))

    def epoch(self, epoch=0):
        xs = self.x.arrays
        ys = self.y.arrays if self.y is not None else None
        sw = self.sw
        pack_x, pack_y = self.x.pack, (self.y.pack if self.y is not None else None)
        bs, n = self.batch_size, self.samples
        order = epoch_permutation(self.seed, epoch, n) if self.shuffle else None
        for start in range(0, n, bs):
            if order is None:
                sl = slice(start, start + bs)
                xb = [a[sl] for a in xs]
                yb = None if ys is None else [a[sl] for a in ys]
            else:
                sl = order[start:start + bs]
                # take() is about twice as fast as fancy indexing for row gathers
                xb = [a.take(sl, axis=0) for a in xs]
                yb = None if ys is None else [a.take(sl, axis=0) for a in ys]
            if sw is None:
                yield pack_x(xb), (None if yb is None else pack_y(yb))
            else:
                yield pack_x(xb), (None if yb is None else pack_y(yb)), Tensor.wrap(sw[sl])


def _subset(structure, indices):
    out = Structure.__new__(Structure)
    out.what, out.kind, out.keys = structure.what, structure.kind, structure.keys
    out.arrays = [a[indices] for a in structure.arrays]
    return out


def _weights_array(sample_weight, n, what="sample_weight"):
    w = as_array(sample_weight)
    if w.dtype.kind not in "biuf" or w.ndim == 0 or len(w) != n:
        raise ValueError(f"fit: {what} must hold one number per sample ({n} samples), got an array "
                         f"of shape {w.shape} and dtype {w.dtype}")
    return w.astype(np.float32, copy=False)


def class_weights_of(y, class_weight):
    """Keras' ``class_weight_to_sample_weights``: the weight of each sample's class (1.0 for a
    class not in the dict); labels are integers (N,) / (N, 1) or one-hot rows (argmax)."""
    labels = as_array(y)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
    labels = np.round(labels).astype(np.int64).reshape(len(labels))
    weights = np.ones(len(labels), np.float32)
    for cls, value in class_weight.items():       # a loop over classes, not samples
        weights[labels == int(cls)] = float(value)
    return weights


def _split_sample(sample):
    """(x, y, sample_weight) from one dataset item or one loader batch: (x, y, sw), (x, y), (x,),
    or x alone."""
    if isinstance(sample, (tuple, list)):
        if len(sample) == 2:
            return sample[0], sample[1], None
        if len(sample) == 3:
            return sample[0], sample[1], sample[2]
        if len(sample) == 1:
            return sample[0], None, None
        raise ValueError(f"expected batches of (x, y), (x, y, sample_weight) or (x,), got a "
                         f"{type(sample).__name__} of {len(sample)} items; pack several inputs "
                         "as a tuple: ((x1, x2), y)")
    if isinstance(sample, dict) and "x" in sample:
        return sample["x"], sample.get("y"), sample.get("sample_weight")
    return sample, None, None


def to_tensors(value):
    """Tensors for an input or target: arrays wrapped (float64 becomes float32), structures
    element-wise."""
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        return Tensor.wrap(value)
    if isinstance(value, dict):
        return {k: to_tensors(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_tensors(v) for v in value)
    return Tensor.wrap(np.asarray(value))


def _convert(source, sample):
    """One batch ``(x, y[, sample_weight])`` of ``sample`` (see :func:`_split_sample`): the
    source's class weights, then its input / target conversions (found by the pre-flight check),
    then wrapped as Tensors."""
    x, y, sw = _split_sample(sample)
    if sw is None and source.class_weight is not None and y is not None:
        sw = class_weights_of(y, source.class_weight)
    if source.transform_x is not None and x is not None and not isinstance(x, (tuple, list, dict)):
        x = source.transform_x(as_array(x))
    if source.transform_y is not None and y is not None:
        y = source.transform_y(as_array(y))
    if sw is None:
        return to_tensors(x), to_tensors(y)
    return to_tensors(x), to_tensors(y), Tensor.wrap(as_array(sw).astype(np.float32, copy=False))


class _Converting:
    """What the sources that convert batch by batch share: the conversions the pre-flight check
    installs and the class weights of ``fit(class_weight=...)``."""

    transform_x = None
    transform_y = None
    class_weight = None

    def peek(self, n):
        """The first batch's ``(x, y)`` (the pre-flight check reads no weights)."""
        for batch in self._peek_batches():
            return batch[:2]
        return None


def _stack(items):
    first = items[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_stack([it[i] for it in items]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _stack([it[k] for it in items]) for k in first}
    return np.stack([as_array(it) for it in items])


class DatasetBatches(_Converting):
    """Batches of a map-style dataset (see the module docstring)."""

    def __init__(self, dataset, batch_size, shuffle=False, seed=None, indices=None):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.indices = np.arange(len(dataset)) if indices is None else np.asarray(indices)
        self.samples = len(self.indices)
        self.given_samples = len(dataset)
        self.steps = math.ceil(self.samples / self.batch_size) if self.samples else 0
        self._get_batch = batch_fetcher(dataset)   # gathers a batch at once, or None

    def take(self, positions):
        """The batch ``(x, y)`` of the samples at ``positions`` (in this source's order)."""
        return self._fetch(self.indices[positions])

    def _fetch(self, idx):
        if self._get_batch is not None:
            batch = self._get_batch(idx)
        else:
            batch = _stack([self.dataset[int(i)] for i in idx])
        return _convert(self, batch)

    def _peek_batches(self):
        return [self._fetch(self.indices[:min(_checks.PREFLIGHT_SAMPLES, self.samples)])]

    def peek(self, n):
        return self._fetch(self.indices[:min(n, self.samples)])[:2]

    def epoch(self, epoch=0):
        order = self.indices
        if self.shuffle:
            order = order[epoch_permutation(self.seed, epoch, self.samples)]
        for start in range(0, self.samples, self.batch_size):
            yield self._fetch(order[start:start + self.batch_size])


class LoaderBatches(_Converting):
    """Batches from a DataLoader, any re-iterable of ``(x, y)`` batches, or a one-shot iterator
    (a generator: read on across epochs; once exhausted, an epoch has no batches -- give
    ``steps_per_epoch``, as in Keras)."""

    def __init__(self, loader):
        self.loader = loader
        try:
            self.steps = len(loader)
        except TypeError:
            self.steps = None
        dataset = getattr(loader, "dataset", None)
        try:
            self.samples = len(dataset) if dataset is not None else None
        except TypeError:
            self.samples = None
        self.batch_size = getattr(loader, "batch_size", None)
        self._one_shot = iter(loader) is loader      # a generator: only one pass
        self._pending = []          # a generator's batches read by peek, not yet trained on

    def _peek_batches(self):
        if self._one_shot:
            if not self._pending:
                batch = next(self.loader, None)
                if batch is None:
                    return []
                self._pending.append(batch)
            return [_convert(self, self._pending[0])]
        for batch in self.loader:
            return [_convert(self, batch)]
        return []

    def epoch(self, epoch=0):
        set_epoch = getattr(self.loader, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
        while self._pending:
            yield _convert(self, self._pending.pop(0))
        for batch in self.loader:
            yield _convert(self, batch)


def yields_batches(value):
    """A Keras ``Sequence`` / ``PyDataset``: ``__getitem__(i)`` is batch ``i``, not a sample."""
    return any(c.__name__ in ("Sequence", "PyDataset") and "keras" in c.__module__
               for c in type(value).__mro__) or bool(getattr(value, "yields_batches", False))


class SequenceBatches(_Converting):
    """Batches of a Keras ``Sequence`` / ``PyDataset`` (``len`` batches; ``shuffle`` shuffles
    their order each epoch); its ``on_epoch_end()`` is called after every epoch."""

    def __init__(self, sequence, shuffle=False, seed=None):
        self.sequence = sequence
        # Keras 3's num_batches (None: an endless PyDataset, read with steps_per_epoch)
        self.steps = sequence.num_batches if hasattr(sequence, "num_batches") else len(sequence)
        self.samples = None
        self.batch_size = getattr(sequence, "batch_size", None)
        self.shuffle, self.seed = bool(shuffle), seed

    def _peek_batches(self):
        return [_convert(self, self.sequence[0])] if self.steps != 0 else []

    def epoch(self, epoch=0):
        on_epoch_begin = getattr(self.sequence, "on_epoch_begin", None)
        if callable(on_epoch_begin):
            on_epoch_begin()
        order = itertools.count() if self.steps is None else range(self.steps)
        if self.shuffle and self.steps is not None:
            order = epoch_permutation(self.seed, epoch, self.steps)
        # ember's PyDataset builds the batches in worker threads / processes when asked to
        iterate = getattr(self.sequence, "_ember_iterate", None)
        batches = iterate(order) if callable(iterate) else (self.sequence[int(i)] for i in order)
        for batch in batches:
            yield _convert(self, batch)
        on_epoch_end = getattr(self.sequence, "on_epoch_end", None)
        if callable(on_epoch_end):
            on_epoch_end()


class LimitedBatches:
    """At most ``steps`` batches per epoch of ``source`` (Keras' ``steps_per_epoch``): the next
    epoch reads on where this one stopped; when the data runs out the epoch ends early (with a
    warning, as Keras' EpochIterator) and the next one starts the data again."""

    def __init__(self, source, steps, fn):
        self.source, self.steps, self.fn = source, int(steps), fn
        self.samples = None
        self.batch_size = getattr(source, "batch_size", None)
        self.given_samples = getattr(source, "given_samples", None)
        self._it, self._seen, self._next_epoch = None, 0, 0

    def peek(self, n):
        return self.source.peek(n)

    def epoch(self, epoch=0):
        total = self.source.steps
        for i in range(self.steps):
            if self._it is None:
                self._it, self._seen = iter(self.source.epoch(self._next_epoch)), 0
                self._next_epoch += 1
            batch = next(self._it, None)
            if batch is None:
                self._it = None
                self._ran_out()
                return
            self._seen += 1
            yield batch
            if total is not None and self._seen >= total:
                self._it = None     # this pass is done: the next epoch starts a new one
                if i + 1 < self.steps:
                    self._ran_out()
                    return

    def _ran_out(self):
        warnings.warn(f"{self.fn}: your input ran out of data; interrupting the epoch. Make sure "
                      f"the data can give at least steps * epochs = {self.steps} * epochs batches "
                      "(repeat the dataset, or make the generator endless)", stacklevel=3)


def _endless(source):
    """Whether ``source`` never ends: a tf.data pipeline of infinite cardinality (``repeat()``)
    or a PyDataset whose ``num_batches`` is None."""
    if isinstance(source, SequenceBatches):
        return source.steps is None
    data = getattr(source, "loader", None)
    if not getattr(data, "is_tf_dataset", False):
        return False
    return int(as_array(data.cardinality())) == -1     # tf.data.INFINITE_CARDINALITY


def limit_steps(source, steps, fn):
    """``source`` cut to ``steps`` batches per epoch (None: unchanged; an endless source without
    ``steps`` is an error, as tf.keras)."""
    if steps is None and source is not None and _endless(source):
        name = ("validation_steps" if "validation" in fn else
                "steps_per_epoch" if fn.endswith("fit") else "steps")
        what = ("validation_data" if "validation" in fn else "x")
        kind = ("a PyDataset with num_batches None" if isinstance(source, SequenceBatches)
                else "a tf.data dataset of cardinality -1, e.g. after .repeat()")
        raise ValueError(f"{fn}: {what} is infinite ({kind}), so the pass over it would never "
                         f"end. Fix: pass {name}=N (the number of batches to read per "
                         "epoch / pass), or give the dataset an end (.take(n), .repeat(count))")
    if steps is None or source is None:
        return source
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"{fn}: steps must be a positive int or None, got {steps!r}")
    return LimitedBatches(source, steps, fn)


def set_batch_size(source, batch_size):
    """Re-batch a map-style source (arrays, Dataset): ``validation_batch_size``."""
    if isinstance(source, (ArrayBatches, DatasetBatches)):
        source.batch_size = int(batch_size)
        source.steps = math.ceil(source.samples / source.batch_size) if source.samples else 0


def _inner(source):
    return source.source if isinstance(source, LimitedBatches) else source


def _is_array_like(value):
    if isinstance(value, (np.ndarray, Tensor, numbers.Number)):
        return True
    if isinstance(value, (list, tuple)):
        return True
    return hasattr(value, "__array__")


def is_dataset(value):
    return (not _is_array_like(value) and not isinstance(value, dict)
            and hasattr(value, "__getitem__") and hasattr(value, "__len__"))


def is_loader(value):
    return (not _is_array_like(value) and not isinstance(value, dict)
            and not is_dataset(value) and hasattr(value, "__iter__"))


def make_batches(x, y, batch_size, shuffle, seed, fn, sample_weight=None):
    """The batch source for ``x`` / ``y`` (arrays, Dataset, DataLoader, generator or Keras
    Sequence); ``fn`` names the calling method in errors."""
    if yields_batches(x) or is_loader(x) or is_dataset(x):
        if y is not None:
            raise ValueError(f"{fn}: x is a {type(x).__name__}, which yields its own targets, so y "
                             "must be None; put the targets in the dataset instead")
        if sample_weight is not None:
            raise ValueError(f"{fn}: x is a {type(x).__name__}, so sample_weight must be None; "
                             "yield (x, y, sample_weight) batches instead (as Keras)")
        if yields_batches(x):
            return SequenceBatches(x, shuffle, seed)
        if is_loader(x):
            return LoaderBatches(x)
        arrays = getattr(x, "arrays", None)
        if isinstance(arrays, tuple) and arrays and all(isinstance(a, np.ndarray) for a in arrays):
            if len(arrays) > 2:
                raise ValueError(f"{fn}: the dataset has {len(arrays)} arrays per sample; fit "
                                 "expects (x, y) or (x,)")
            return ArrayBatches(arrays[0], arrays[1] if len(arrays) == 2 else None, batch_size,
                                shuffle, seed)
        return DatasetBatches(x, batch_size, shuffle, seed)
    return ArrayBatches(x, y, batch_size, shuffle, seed, sample_weight=sample_weight)


# -- what fit / evaluate / predict make of their arguments -----------------------------------------
def float32(value):
    """float64 arrays (NumPy's default) as float32, ember's default."""
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    return value


def _as_float32(structure):
    structure.arrays = [a.astype(np.float32) if a.dtype == np.float64 else a
                        for a in structure.arrays]


def install_float_inputs(source):
    """Integer inputs the model refuses become float32: once for arrays, per batch otherwise."""
    source = _inner(source)
    if isinstance(source, ArrayBatches):
        source.x.arrays = [a.astype(np.float32) for a in source.x.arrays]
    else:
        source.transform_x = lambda a: a.astype(np.float32)


def install_target_conversion(source, convert):
    """Targets pass through ``convert`` (found by the pre-flight check): once for arrays, per batch
    otherwise."""
    source = _inner(source)
    if isinstance(source, ArrayBatches):
        source.set_targets([convert(source.y.arrays[0])])
    else:
        source.transform_y = convert


def prepare(fn, x, y, batch_size, shuffle=False, seed=None, validation_split=0.0,
            sample_weight=None, class_weight=None):
    """Batch sources for ``x`` / ``y`` (training and, with ``validation_split``, validation),
    after the array checks.  ``sample_weight``: one weight per sample (arrays only);
    ``class_weight``: ``{class: weight}``, turned into per-sample weights (Keras)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{fn}: batch_size must be a positive int, got {batch_size!r}")
    if x is None:
        raise ValueError(f"{fn}: x is None; pass the input data")
    if class_weight is not None:
        if sample_weight is not None:
            raise ValueError(f"{fn}: give class_weight or sample_weight, not both (as Keras)")
        if not isinstance(class_weight, dict):
            raise TypeError(f"{fn}: class_weight must be a dict {{class index: weight}}, got "
                            f"{type(class_weight).__name__}")
        if y is not None:
            if isinstance(y, (dict, tuple, list)):
                raise ValueError(f"{fn}: class_weight is only supported for a model with a "
                                 "single output (one y array)")
            sample_weight = class_weights_of(y, class_weight)
    source = make_batches(x, y, batch_size, shuffle, seed, fn, sample_weight=sample_weight)
    if class_weight is not None and y is None:
        source.class_weight = class_weight
    if isinstance(source, ArrayBatches):
        _checks.check_arrays(fn, [source.x, source.y])
        _as_float32(source.x)
        if source.y is not None:
            _as_float32(source.y)
    elif isinstance(source, DatasetBatches) and source.samples == 0:
        raise ValueError(f"{fn}: the dataset is empty (len 0): there are no samples. Fix: "
                         "check how the data was loaded or filtered")
    elif isinstance(source, LoaderBatches) and source.steps == 0:
        raise ValueError(f"{fn}: the data loader yields no batches (len 0). Fix: check its "
                         "dataset, and drop_last with fewer samples than batch_size")
    validation = None
    if validation_split:
        if not 0.0 < float(validation_split) < 1.0:
            raise ValueError(f"{fn}: validation_split must be in [0, 1), got {validation_split}")
        if not isinstance(source, (ArrayBatches, DatasetBatches)):
            raise ValueError(f"{fn}: validation_split needs arrays or a Dataset; with a data "
                             "loader, a generator or a Sequence pass validation_data instead")
        n = source.samples
        split = int(np.floor(n * (1.0 - float(validation_split))))
        if split <= 0 or split >= n:
            raise ValueError(f"{fn}: validation_split={validation_split} of {n} samples leaves "
                             f"{split} for training and {n - split} for validation; both need "
                             "at least one")
        # Keras: the LAST fraction of the samples, before shuffling.
        if isinstance(source, ArrayBatches):
            validation = ArrayBatches(source.x, source.y, batch_size, False, None,
                                      indices=slice(split, n), sample_weight=source.sw)
            source = ArrayBatches(source.x, source.y, batch_size, shuffle, seed,
                                  indices=slice(0, split), sample_weight=source.sw)
        else:
            validation = DatasetBatches(source.dataset, batch_size, False, None,
                                        indices=source.indices[split:])
            source = DatasetBatches(source.dataset, batch_size, shuffle, seed,
                                    indices=source.indices[:split])
    return source, validation


def validation_source(validation_data, batch_size):
    """The batch source of ``fit(validation_data=...)``: ``(x_val, y_val)``,
    ``(x_val, y_val, sample_weight_val)``, a Dataset, a DataLoader, a generator or a Keras
    Sequence (None for None)."""
    if validation_data is None:
        return None
    fn = "Model.fit(validation_data)"
    if isinstance(validation_data, (tuple, list)) and not is_dataset(validation_data):
        if len(validation_data) not in (2, 3):
            raise ValueError(f"{fn}: expected (x_val, y_val) or (x_val, y_val, sample_weight), got "
                             f"{len(validation_data)} items")
        xv, yv, swv = (tuple(validation_data) + (None,))[:3]
        return prepare(fn, xv, yv, batch_size, sample_weight=swv)[0]
    return prepare(fn, validation_data, None, batch_size)[0]
