"""``keras.utils.text_dataset_from_directory``: a ``tf.data`` Dataset of ``(texts, labels)``
batches read from the .txt files of a folder tree (one subfolder per class), as Keras.

Files are listed, labelled, shuffled and split as Keras does (``dataset_utils``) and read when
their batch is read.  Texts are Python strings (a NumPy ``str`` array per batch) where TensorFlow
has byte strings; ``max_length`` keeps the first ``max_length`` *bytes* of each file (TensorFlow's
``tf.strings.substr``), a multi-byte character cut in half is dropped.
"""
import numpy as np

from . import dataset_utils

__all__ = ["text_dataset_from_directory"]

_FN = "text_dataset_from_directory"


def _loader(max_length):
    def load(paths):
        single = paths.ndim == 0
        texts = []
        for path in paths.reshape(-1):
            with open(str(path), "rb") as f:
                raw = f.read() if max_length is None else f.read(max_length)
            texts.append(raw.decode("utf-8", errors="ignore"))
        return np.asarray(texts[0] if single else texts, dtype=str)
    return load


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                batch_size=32, max_length=None, shuffle=True, seed=None,
                                validation_split=None, subset=None, follow_links=False,
                                verbose=True, format="tf"):
    """A ``tf.data`` Dataset of ``(texts, labels)`` batches from the .txt files under
    ``directory`` (Keras' ``keras.utils.text_dataset_from_directory``).

    Args:
        directory: with ``labels='inferred'``, one subfolder per class (sorted names give the
            class indices); otherwise the folder structure is ignored.
        labels: 'inferred', None (texts only), or a list of integer labels, one per file in
            sorted path order.
        label_mode: 'int' (int32 (N,)), 'categorical' (float32 one-hot), 'binary' (float32
            (N, 1), exactly two classes) or None (texts only).
        class_names: the class folders to use, in this order (default: all, sorted).
        batch_size: texts per batch (default 32); None yields single texts.
        max_length: keep at most this many bytes of each text (default: all).
        shuffle / seed: shuffle the files (seeded, as Keras) and each epoch's order (default
            True); with ``validation_split`` a seed is required.
        validation_split / subset: the last ``int(validation_split * n)`` files are the
            validation subset; ``subset``: 'training', 'validation' or 'both' (a pair).
        follow_links: visit subfolders that are symbolic links.
        verbose: print how many files and classes were found.

    Returns a Dataset yielding string arrays (N,) and labels, with ``.class_names`` and
    ``.file_paths``."""
    labels, label_mode = dataset_utils.check_label_args(_FN, labels, label_mode, class_names,
                                                        "text")
    if format != "tf":
        raise ValueError(f"{_FN}: ember returns tf.data datasets only (format='tf'), got "
                         f"format={format!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"{_FN}: batch_size must be a positive int or None, got {batch_size!r}")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(
            max_length, (int, np.integer)) or max_length < 0):
        raise ValueError(f"{_FN}: max_length must be a non-negative int or None, got "
                         f"{max_length!r}")
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed, _FN)
    if seed is None:
        seed = np.random.randint(1e6)
    paths, labels, class_names = dataset_utils.index_directory(
        _FN, directory, labels, (".txt",), class_names=class_names, shuffle=shuffle, seed=seed,
        follow_links=follow_links, verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"{_FN}: label_mode='binary' needs exactly 2 classes, got "
                         f"class_names={class_names}")
    if labels is not None:
        labels = dataset_utils.encode_labels(labels, label_mode, len(class_names))
    load = _loader(None if max_length is None else int(max_length))

    return dataset_utils.directory_datasets(
        _FN, directory, "text files (.txt)", paths, labels, class_names, load, batch_size,
        shuffle, seed, validation_split, subset, verbose)
