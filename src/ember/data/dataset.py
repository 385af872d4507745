"""Datasets: indexable collections of samples, and ways to split them.

A dataset is anything with ``__len__`` and ``__getitem__`` (the PyTorch protocol).  A dataset may
also offer ``get_batch(indices)``: all fields of many samples at once, already stacked, from one
fancy index per array.  The DataLoader uses it when present, so that batches of a
``TensorDataset`` (or a ``Subset`` of one) cost one NumPy gather per field instead of a Python
loop over samples.
"""
import math
import numbers

import numpy as np

from ..tensor import Tensor
from .sampler import generator_for, resolve_seed

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "train_test_split", "batch_fetcher"]


class Dataset:
    """Base class: subclasses define ``__len__`` (number of samples) and ``__getitem__(i)`` (one
    sample: an array, or a tuple of arrays such as ``(x, y)``)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


def _as_numpy(value, owner, position):
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{owner}: argument {position} ({type(value).__name__}) cannot be "
                        f"converted to an array: {e}") from None


class TensorDataset(Dataset):
    """Samples are rows of the given arrays: item ``i`` is ``(a[i], b[i], ...)``.

    Args:
        *arrays: NumPy arrays, ember Tensors or array-likes, all with the same first dimension
            (the number of samples).  Arrays are kept without copying; ``arrays`` gives them back
            as NumPy arrays.

    Example: ``TensorDataset(x_train, y_train)`` with x (60000, 28, 28) and y (60000,).
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array, e.g. TensorDataset(x, y)")
        converted = []
        for position, value in enumerate(arrays):
            array = _as_numpy(value, "TensorDataset", position)
            if array.ndim == 0:
                raise ValueError(f"TensorDataset: argument {position} is a scalar (shape ()); every "
                                 "array needs a first dimension indexing the samples")
            converted.append(array)
        lengths = [a.shape[0] for a in converted]
        if len(set(lengths)) > 1:
            detail = ", ".join(f"argument {i} has {n} (shape {a.shape})"
                               for i, (n, a) in enumerate(zip(lengths, converted)))
            raise ValueError(
                f"TensorDataset: all arrays must have the same number of samples (first "
                f"dimension), but {detail}; pass arrays that describe the same samples")
        self.arrays = tuple(converted)

    def __len__(self):
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices):
        """The samples at ``indices`` (an int array), one gathered array per field."""
        return tuple(a[indices] for a in self.arrays)

    def __repr__(self):
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"TensorDataset({shapes})"


def _index_array(indices, length, owner):
    index = np.asarray(indices)
    if index.size == 0:
        return np.zeros(0, dtype=np.int64)
    if index.ndim != 1 or index.dtype.kind not in "iu":
        raise TypeError(f"{owner}: indices must be a 1-D sequence of ints, got dtype {index.dtype} "
                        f"and shape {index.shape}")
    index = index.astype(np.int64, copy=False)
    low, high = int(index.min()), int(index.max())
    if low < -length or high >= length:
        raise IndexError(f"{owner}: indices must lie in [0, {length}) for a dataset of {length} "
                         f"samples, got values from {low} to {high}")
    return np.where(index < 0, index + length, index)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (``subset[i] = dataset[indices[i]]``).

    ``indices`` is kept as an int64 array; batches of a Subset of a TensorDataset are still one
    gather per field.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = _index_array(indices, len(dataset), "Subset")

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (numbers.Integral, np.integer)):
            return self.dataset[int(self.indices[index])]
        return self.dataset[self.indices[index]]

    def __repr__(self):
        return f"Subset({len(self)} of {type(self.dataset).__name__} with {len(self.dataset)})"


def batch_fetcher(dataset):
    """A function ``indices -> batch`` for datasets that gather many samples at once, else None.

    TensorDataset and any dataset with a ``get_batch(indices)`` method qualify; a Subset qualifies
    when the dataset under it does (its indices are mapped first).
    """
    if isinstance(dataset, Subset):
        inner = batch_fetcher(dataset.dataset)
        if inner is None:
            return None
        mapping = dataset.indices
        return lambda indices: inner(mapping[indices])
    get_batch = getattr(dataset, "get_batch", None)
    return get_batch if callable(get_batch) else None


# -- splitting -----------------------------------------------------------------------------------
def _split_lengths(lengths, n):
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty; pass e.g. [0.8, 0.2] or [800, 200]")
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in lengths):
        if any(v < 0 for v in lengths) or sum(lengths) != n:
            raise ValueError(f"random_split: integer lengths {lengths} must be >= 0 and sum to the "
                             f"dataset's {n} samples (they sum to {sum(lengths)})")
        return [int(v) for v in lengths]
    fractions = [float(v) for v in lengths]
    if any(not 0.0 <= f <= 1.0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"random_split: fractional lengths {lengths} must lie in [0, 1] and sum to 1 "
                         f"(they sum to {sum(fractions)}); or pass integer lengths summing to {n}")
    sizes = [int(math.floor(n * f)) for f in fractions]
    for i in range(n - sum(sizes)):   # the remainder goes one each to the first splits (PyTorch)
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(dataset, lengths, seed=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    Args:
        dataset: any dataset (``len`` and indexing).
        lengths: ints summing to ``len(dataset)``, or fractions summing to 1 (``[0.9, 0.1]``);
            with fractions the remainder of the rounding goes one each to the first splits.
        seed: int, or None to draw one from ember's global generator.

    Returns a list of ``Subset``.
    """
    n = len(dataset)
    sizes = _split_lengths(lengths, n)
    order = generator_for(resolve_seed(seed, "random_split")).permutation(n)
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, order[bounds[i]:bounds[i + 1]]) for i in range(len(sizes))]


def _test_count(test_size, n):
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        if not 0 < test_size < n:
            raise ValueError(f"train_test_split: test_size={test_size} must be between 1 and "
                             f"{n - 1} for {n} samples (or a fraction in (0, 1))")
        return int(test_size)
    if isinstance(test_size, numbers.Real) and not isinstance(test_size, bool) and 0.0 < test_size < 1.0:
        n_test = int(math.ceil(test_size * n))   # scikit-learn rounds the test share up
        if not 0 < n_test < n:
            raise ValueError(f"train_test_split: test_size={test_size} of {n} samples leaves an "
                             f"empty train or test set ({n - n_test} train, {n_test} test)")
        return n_test
    raise ValueError(f"train_test_split: test_size must be a fraction in (0, 1) or an int count, "
                     f"got {test_size!r}")


def _allocate(counts, total, rng):
    """Split ``total`` over classes in proportion to ``counts`` (largest remainders, ties random).

    Integer arithmetic, so no class is ever given more than it holds."""
    n = int(counts.sum())
    alloc = counts * total // n
    remainder = counts * total % n
    short = int(total - alloc.sum())
    if short:
        # random tie-break so that no class is favoured systematically by its position
        order = np.lexsort((rng.random(len(counts)), -remainder))
        alloc[order[:short]] += 1
    return alloc


def _stratified(labels, n_test, rng, n):
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(f"train_test_split: with stratify, every class needs at least 2 samples; "
                         f"class {classes[np.argmin(counts)]!r} has {counts.min()}")
    if n_test < len(classes) or n - n_test < len(classes):
        raise ValueError(f"train_test_split: with stratify, the train ({n - n_test}) and test "
                         f"({n_test}) sets must each hold at least one sample of each of the "
                         f"{len(classes)} classes; change test_size")
    test_per_class = _allocate(counts.astype(np.int64), n_test, rng)
    permutation = rng.permutation(n)
    grouped = permutation[np.argsort(inverse[permutation], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    group_of = inverse[grouped]
    rank_in_class = np.arange(n) - starts[group_of]
    is_test = rank_in_class < test_per_class[group_of]
    test = grouped[is_test]
    train = grouped[~is_test]
    return rng.permutation(train), rng.permutation(test)


def _take(value, array, index):
    if isinstance(value, Tensor):
        return Tensor.wrap(array[index])
    if isinstance(value, list):
        return [value[i] for i in index.tolist()]
    return array[index]


def train_test_split(*arrays, test_size=0.25, shuffle=True, seed=None, stratify=None):
    """Split arrays into random train and test parts, as scikit-learn's ``train_test_split``.

    Args:
        *arrays: NumPy arrays, ember Tensors or lists with the same number of samples.
        test_size: fraction of samples in the test part (rounded up, as scikit-learn does) or an
            int count.  Default 0.25.
        shuffle: shuffle before splitting; ``False`` takes the last ``test_size`` samples as test.
        seed: int, or None to draw one from ember's global generator.
        stratify: labels (one per sample); each class keeps its proportion in both parts.

    Returns ``[a_train, a_test, b_train, b_test, ...]``, each the type of its input (Tensor,
    list, or NumPy array).
    """
    if not arrays:
        raise ValueError("train_test_split: needs at least one array, e.g. train_test_split(x, y)")
    numpy_arrays = [_as_numpy(a, "train_test_split", i) for i, a in enumerate(arrays)]
    for i, a in enumerate(numpy_arrays):
        if a.ndim == 0:
            raise ValueError(f"train_test_split: argument {i} is a scalar; arrays need a sample axis")
    lengths = [a.shape[0] for a in numpy_arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"train_test_split: all arrays must have the same number of samples, got "
                         f"lengths {lengths}")
    n = lengths[0]
    n_test = _test_count(test_size, n)
    n_train = n - n_test
    if stratify is not None:
        if not shuffle:
            raise ValueError("train_test_split: stratify needs shuffle=True (a stratified split of "
                             "an unshuffled order is not defined)")
        labels = _as_numpy(stratify, "train_test_split", "stratify")
        if labels.shape[:1] != (n,):
            raise ValueError(f"train_test_split: stratify has {labels.shape[0] if labels.ndim else 0} "
                             f"labels but the arrays have {n} samples")
        if labels.ndim > 1:   # one-hot or multi-column labels: each distinct row is a class
            labels = np.unique(labels.reshape(n, -1), axis=0, return_inverse=True)[1].reshape(-1)
        rng = generator_for(resolve_seed(seed, "train_test_split"))
        train, test = _stratified(labels, n_test, rng, n)
    elif shuffle:
        permutation = generator_for(resolve_seed(seed, "train_test_split")).permutation(n)
        test, train = permutation[:n_test], permutation[n_test:n_test + n_train]
    else:
        train, test = np.arange(n_train), np.arange(n_train, n)
    result = []
    for value, array in zip(arrays, numpy_arrays):
        result.append(_take(value, array, train))
        result.append(_take(value, array, test))
    return result
