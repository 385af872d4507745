"""What Keras' ``*_dataset_from_directory`` utilities share (its ``utils/dataset_utils.py``):
listing a directory's files with their labels (``index_directory``: sorted, alphanumeric class
folders, seeded global shuffle), the training / validation split, label encodings, the lazy
``tf.data`` pipeline that reads files batch by batch, and ``keras.utils.split_dataset``.

The file order, the seeded shuffle of the file list (``numpy.random.RandomState(seed)``) and the
validation split are Keras' own, so ``subset="training"`` and ``subset="validation"`` with the same
seed see the same files as in Keras.  The per-epoch reshuffle (``Dataset.shuffle`` with a buffer
of ``8 * batch_size``) is ember's ``tf.data`` shuffle: same semantics, other random draws.
"""
import numbers
import os
import random

import numpy as np

from ..tf_data.batching import Batch
from ..tf_data.dataset import Dataset

__all__ = ["index_directory", "get_training_or_validation_split", "check_validation_split_arg",
           "encode_labels", "lazy_batches", "directory_datasets", "split_dataset",
           "check_label_args"]


def check_label_args(fn, labels, label_mode, class_names, what):
    """Keras' checks of ``labels`` / ``label_mode`` / ``class_names``; returns ``(labels,
    label_mode)`` with both None when either is None (a dataset without labels)."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(f"{fn}: labels must be 'inferred' (labels from the subdirectory "
                             f"names), None (no labels), or a list/tuple of integer labels, one "
                             f"per {what} file in the directory's sorted order; got {labels!r}")
        if class_names:
            raise ValueError(f"{fn}: class_names can only be given with labels='inferred'; got "
                             f"labels={labels!r} and class_names={class_names!r}")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f"{fn}: label_mode must be 'int', 'categorical', 'binary' or None, got "
                         f"{label_mode!r}")
    if labels is None or label_mode is None:
        return None, None
    return labels, label_mode


def check_validation_split_arg(validation_split, subset, shuffle, seed,
                               fn="dataset_from_directory"):
    """Keras' checks of ``validation_split`` / ``subset`` / ``seed``."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"{fn}: validation_split must be between 0 and 1, got {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError(f"{fn}: give validation_split and subset together (subset="
                         f"{subset!r}, validation_split={validation_split!r})")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f"{fn}: subset must be 'training', 'validation' or 'both', got {subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError(f"{fn}: with validation_split and shuffle=True pass a seed (e.g. "
                         "seed=1337), the same one for both subsets, so that the training and "
                         "validation files do not overlap")


def _valid_files(directory, follow_links, formats):
    """``(root, name)`` of the files under ``directory`` whose extension is in ``formats``,
    folders in sorted order, names sorted within each (Keras' ``iter_valid_files``)."""
    walk = os.walk(directory, followlinks=bool(follow_links))
    for root, _, files in sorted(walk, key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield root, name


def index_directory(fn, directory, labels, formats, class_names=None, shuffle=True, seed=None,
                    follow_links=False, verbose=True):
    """``(file_paths, labels, class_names)`` of the files in ``directory`` (Keras'
    ``index_directory``).

    ``labels='inferred'``: one class per subfolder (sorted, hidden ones skipped; ``class_names``
    picks and orders them), labels int32 class indices; a list: one label per file in sorted
    order; None: no labels.  ``shuffle``: the list is permuted by
    ``numpy.random.RandomState(seed)`` (paths and labels alike)."""
    if not os.path.isdir(directory):
        raise ValueError(f"{fn}: directory {directory!r} does not exist or is not a folder")
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(f"{fn}: class_names {list(class_names)} do not match the "
                                 f"subdirectories of {directory!r}: expected names among "
                                 f"{subdirs}")
            subdirs = list(class_names)
    else:
        subdirs = [""]
        if class_names is not None:
            raise ValueError(f"{fn}: class_names can only be given with labels='inferred'")
    names, per_class = [], []
    for index, subdir in enumerate(subdirs):
        folder = os.path.join(directory, subdir)
        # relative paths as Keras builds them: "<class folder>/<path inside it>"
        found = [os.path.join(os.path.basename(folder), os.path.relpath(os.path.join(root, name),
                                                                         folder))
                 for root, name in _valid_files(folder, follow_links, formats)]
        names += found
        per_class.append(np.full(len(found), index, np.int32))
    if labels == "inferred":
        labels = np.concatenate(per_class) if per_class else np.zeros(0, np.int32)
        class_names = subdirs
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(names):
            raise ValueError(f"{fn}: got {len(labels)} labels but found {len(names)} files in "
                             f"{directory!r}; give one label per file (sorted path order)")
        class_names = [str(label) for label in sorted(set(np.asarray(labels).tolist()))]
        labels = np.asarray(labels)
    if verbose:
        print(f"Found {len(names)} files." if labels is None else
              f"Found {len(names)} files belonging to {len(class_names)} classes.")
    paths = [os.path.join(directory, name) for name in names]
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, class_names


def get_training_or_validation_split(samples, labels, validation_split, subset, verbose=True):
    """The ``subset`` ('training': all but the last ``int(validation_split * n)`` samples;
    'validation': those last ones) of ``samples`` / ``labels``, as Keras."""
    if not validation_split:
        return samples, labels
    num_val = int(validation_split * len(samples))
    if subset == "training":
        if verbose:
            print(f"Using {len(samples) - num_val} files for training.")
        # samples[:-0] is empty: kept as Keras has it (a split too small to hold one file)
        return samples[:-num_val], (None if labels is None else labels[:-num_val])
    if subset == "validation":
        if verbose:
            print(f"Using {num_val} files for validation.")
        return samples[-num_val:], (None if labels is None else labels[-num_val:])
    raise ValueError(f"subset must be 'training' or 'validation', got {subset!r}")


def encode_labels(labels, label_mode, num_classes):
    """Labels as ``label_mode`` has them: 'int' int32 (N,), 'binary' float32 (N, 1),
    'categorical' float32 one-hot (N, num_classes)."""
    labels = np.asarray(labels)
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]
    if label_mode == "categorical":
        return np.eye(num_classes, dtype=np.float32)[labels.astype(np.int64)]
    return labels.astype(np.int32)


def lazy_batches(keys, labels, load, batch_size, shuffle, seed):
    """A ``tf.data`` Dataset of ``(load(keys), labels)`` (``load(keys)`` without labels): the keys
    (file paths, window starts) shuffled with a buffer of ``8 * batch_size`` (1024 unbatched)
    when ``shuffle``, batched, then each batch's keys turned into data by ``load`` (a NumPy array
    of keys in, the batch out) -- only the batch being read is ever built."""
    ds = Dataset.from_tensor_slices(keys if labels is None else (keys, np.asarray(labels)))
    if shuffle:
        ds = ds.shuffle(8 * batch_size if batch_size is not None else 1024, seed=seed)
    if batch_size is not None:
        ds = ds.batch(batch_size)
    if labels is None:
        return ds.map(lambda k: load(np.asarray(k.data)))
    return ds.map(lambda k, y: (load(np.asarray(k.data)), y))


def directory_datasets(fn, directory, what, paths, labels, class_names, load, batch_size,
                       shuffle, seed, validation_split, subset, verbose):
    """The dataset (``subset='both'``: the training and validation pair) of the indexed files
    ``paths`` / ``labels``, each with ``.class_names`` and ``.file_paths`` (Keras); the
    validation subset is not shuffled."""
    def make(subset_name, shuffled):
        part_paths, part_labels = get_training_or_validation_split(
            paths, labels, validation_split, subset_name, verbose)
        if not part_paths:
            which = "" if subset_name is None else f"{subset_name} "
            raise ValueError(f"{fn}: no {which}{what} found in directory {directory!r}")
        ds = lazy_batches(np.asarray(part_paths, dtype=str), part_labels, load, batch_size,
                          shuffled, seed)
        ds.class_names, ds.file_paths = class_names, list(part_paths)
        return ds

    if subset == "both":
        return make("training", shuffle), make("validation", False)
    return make(subset, shuffle)


# -- split_dataset ---------------------------------------------------------------------------------
def _flatten(value):
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _flatten(v)]
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _flatten(v)]
    return [value]


def _pack(template, leaves):
    if isinstance(template, dict):
        out = {}
        for key, v in template.items():
            out[key] = _pack(v, leaves)
        return out
    if isinstance(template, (tuple, list)):
        return tuple(_pack(v, leaves) for v in template)   # lists as tuples (Keras: tf.data)
    return next(leaves)


def _arrays_of(dataset):
    """``(structure, batch_size)`` of a dataset given to split_dataset: its samples as one
    structure of arrays (first axis = samples), and the batch size to re-batch with."""
    if isinstance(dataset, Dataset):
        node, batch_size = dataset._node, None
        if isinstance(node, Batch) and node.padded is None:
            batch_size = node.size
            dataset = dataset.unbatch()
        n = int(dataset.cardinality())
        if n == -1:
            raise ValueError("split_dataset: the dataset is infinite (e.g. after .repeat()); "
                             "split a finite one (.take(n))")
        stacked = list(dataset.batch(max(n, 1) if n >= 0 else 2**31 - 1).as_numpy_iterator())
        if not stacked:
            raise ValueError("split_dataset: the dataset is empty; give it at least 2 samples")
        return stacked[0], batch_size
    if isinstance(dataset, np.ndarray):
        return dataset, None
    if isinstance(dataset, (tuple, list)):
        if not dataset:
            raise ValueError("split_dataset: got an empty list/tuple; give a list/tuple of NumPy "
                             "arrays of the same length")
        arrays = [getattr(a, "data", a) if not isinstance(a, np.ndarray) else a for a in dataset]
        for i, a in enumerate(arrays):
            if not isinstance(a, np.ndarray):
                raise ValueError(f"split_dataset: expected a list/tuple of NumPy arrays, got "
                                 f"{type(a).__name__} at index {i}")
            if a.ndim == 0 or len(a) != len(arrays[0]):
                raise ValueError(f"split_dataset: the arrays must have the same length; array "
                                 f"0 has shape {arrays[0].shape}, array {i} {a.shape}")
        return tuple(arrays), None
    raise TypeError(f"split_dataset: dataset must be a tf.data.Dataset, a NumPy array or a "
                    f"list/tuple of arrays, got {type(dataset).__name__}")


def _split_sizes(left_size, right_size, total):
    """Keras' ``_rescale_dataset_split_sizes``: the (left, right) sample counts."""
    def kind(size, name):
        if size is None:
            return None
        if isinstance(size, bool) or not isinstance(size, numbers.Real):
            raise TypeError(f"split_dataset: {name} must be an int, a float or None, got "
                            f"{type(size).__name__}")
        return int if isinstance(size, numbers.Integral) else float

    lk, rk = kind(left_size, "left_size"), kind(right_size, "right_size")
    if left_size is None and right_size is None:
        raise ValueError("split_dataset: give left_size or right_size (or both)")
    if left_size == 0 and right_size == 0:
        raise ValueError("split_dataset: left_size and right_size are both zero")
    for size, k, name in ((left_size, lk, "left_size"), (right_size, rk, "right_size")):
        if k is int and not 0 < size < total or k is float and not 0 < size < 1:
            raise ValueError(f"split_dataset: {name} must be a positive int smaller than the "
                             f"{total} samples or a float in (0, 1), got {size}")
    if lk is float and rk is float and left_size + right_size > 1:
        raise ValueError(f"split_dataset: left_size + right_size = {left_size + right_size} is "
                         "more than 1")
    left = None if lk is None else (round(left_size * total) if lk is float else int(left_size))
    right = None if rk is None else (round(right_size * total) if rk is float else int(right_size))
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"split_dataset: left_size + right_size = {left + right} samples is more "
                         f"than the {total} samples of the dataset")
    for size, side in ((left, "left"), (right, "right")):
        if size == 0:
            raise ValueError(f"split_dataset: with {total} samples, left_size={left} and "
                             f"right_size={right} leave the {side} split empty; adjust them")
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split ``dataset`` into a left and a right ``tf.data`` Dataset (Keras'
    ``keras.utils.split_dataset``, its TensorFlow flavour).

    Args:
        dataset: a ``tf.data.Dataset`` (a batched one is unbatched, split, and both halves
            re-batched with its batch size), a NumPy array, or a list/tuple of arrays of the same
            length (samples along the first axis; the halves yield tuples).
        left_size / right_size: a float in (0, 1) (a fraction of the samples, rounded) or an int
            (a number of samples); one of them may be None (the complement of the other).
        shuffle: shuffle the samples before splitting, as Keras: ``random.seed(seed);
            random.shuffle(samples)`` (same ``seed``, same split).
        seed: the shuffle's seed (None: a random one).

    Returns ``(left, right)``: the first ``left_size`` samples and the last ``right_size``."""
    structure, batch_size = _arrays_of(dataset)
    leaves = _flatten(structure)
    total = len(leaves[0])
    left, right = _split_sizes(left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        # random.shuffle's draws depend only on the length: this is Keras' shuffle of the list
        random.Random(random.randint(0, int(1e6)) if seed is None else seed).shuffle(order)
    order = np.asarray(order, dtype=np.int64)
    halves = []
    for positions in (order[:left], order[total - right:]):
        part = _pack(structure, iter([leaf.take(positions, axis=0) for leaf in leaves]))
        half = Dataset.from_tensor_slices(part)
        halves.append(half.batch(batch_size) if batch_size is not None else half)
    return tuple(halves)
