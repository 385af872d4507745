"""IMDB movie reviews (sentiment): Keras' ``load_data`` and ``get_word_index``.

Reviews are sequences of word indices (ranked by frequency); the ``.npz`` file stores them as
ragged object arrays, read with a restricted unpickler (never NumPy's unrestricted pickle loading).  Files are
looked for in ``path=``, ``$EMBER_DATA/imdb/``, ``~/.ember/datasets/imdb/`` and
``/usr/share/datasets/imdb/``, and downloaded from Keras' mirror with a hash check otherwise.
"""
import json

import numpy as np

from ._archives import KERAS_ORIGIN, load_npz, locate_file, require_keys
from ._files import DatasetError

__all__ = ["load_data", "get_word_index", "encode_sequences"]

NAME = "imdb"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
#: Keras publishes only the MD5 of the word index.
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"


def _flatten(sequences):
    """``(flat int64 array, lengths)`` of a sequence of integer sequences."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    parts = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences]
    flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return flat, lengths


def _shift(flat, lengths, start_char, index_from):
    """Words move up by ``index_from``; ``start_char`` (unless None) starts every sequence."""
    flat = flat + index_from
    if start_char is not None:
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        flat = np.insert(flat, starts, start_char)
        lengths = lengths + 1
    return flat, lengths


def _keep_short(flat, lengths, labels, maxlen):
    """Keras keeps only sequences strictly shorter than ``maxlen`` (it drops, not truncates)."""
    keep = lengths < maxlen
    return flat[np.repeat(keep, lengths)], lengths[keep], labels[keep]


def _to_objects(flat, lengths):
    """A 1-D object array of Python int lists (Keras' ragged ``x``)."""
    out = np.empty(len(lengths), dtype=object)
    for i, part in enumerate(np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []):
        out[i] = part.tolist()
    return out


def encode_sequences(groups, num_words, skip_top, maxlen, start_char, oov_char, index_from):
    """Keras' re-indexing of IMDB/Reuters, applied to ``groups`` = ``[(sequences, labels), ...]``.

    Each word ``w`` becomes ``w + index_from``, ``start_char`` is prepended, sequences of length
    ``>= maxlen`` are dropped, and words outside ``[skip_top, num_words)`` become ``oov_char`` (or
    are removed when it is None); ``num_words`` defaults to the largest index (as in Keras, that
    word itself then falls outside the range).  Returns ``[(x object array, y), ...]``.
    """
    shifted = []
    for sequences, labels in groups:
        flat, lengths = _shift(*_flatten(sequences), start_char, index_from)
        labels = np.asarray(labels)
        if maxlen:
            flat, lengths, labels = _keep_short(flat, lengths, labels, maxlen)
        shifted.append((flat, lengths, labels))
    if not num_words:
        num_words = max((int(f.max()) for f, _, _ in shifted if f.size), default=0)
    out = []
    for flat, lengths, labels in shifted:
        inside = (flat >= skip_top) & (flat < num_words)
        if oov_char is not None:
            flat = np.where(inside, flat, oov_char)
        else:
            segment = np.repeat(np.arange(len(lengths)), lengths)
            lengths = np.bincount(segment[inside], minlength=len(lengths)).astype(np.int64)
            flat = flat[inside]
        out.append((_to_objects(flat, lengths), labels))
    return out


def _shuffle(rng, x, y):
    indices = np.arange(len(x))
    rng.shuffle(indices)
    return x[indices], y[indices]


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
              oov_char=2, index_from=3, verify=True, **kwargs):
    """Load IMDB as ``((x_train, y_train), (x_test, y_test))``, as Keras does.

    ``x_*``: 1-D object arrays of 25000 lists of word indices; ``y_*``: 0/1 labels (int64).
    ``path``: a file name to search for (default ``'imdb.npz'``) or an existing file;
    ``num_words``: keep the most frequent words only (others become ``oov_char``); ``skip_top``:
    the most frequent words that become ``oov_char``; ``maxlen``: drop sequences of this length or
    more; ``seed``: the shuffle (train then test, one ``RandomState``); ``start_char`` /
    ``oov_char`` / ``index_from``: the reserved indices.  ``verify`` checks the file's SHA-256.
    """
    if kwargs:
        raise TypeError(f"ember.datasets.imdb.load_data: unexpected arguments {sorted(kwargs)}")
    file = locate_file(NAME, "imdb.npz", KERAS_ORIGIN + "imdb.npz", SHA256, path=path,
                       owner="ember.datasets.imdb.load_data", verify=verify)
    arrays = load_npz(file)
    require_keys(arrays, ("x_train", "y_train", "x_test", "y_test"), file)
    rng = np.random.RandomState(seed)
    train = _shuffle(rng, arrays["x_train"], arrays["y_train"])
    test = _shuffle(rng, arrays["x_test"], arrays["y_test"])
    train, test = encode_sequences([train, test], num_words, skip_top, maxlen, start_char,
                                   oov_char, index_from)
    if maxlen and (len(train[0]) == 0 or len(test[0]) == 0):
        raise ValueError(f"ember.datasets.imdb.load_data: after dropping the sequences of "
                         f"length >= maxlen={maxlen}, none was kept; increase maxlen")
    return train, test


def read_word_index(name, filename, md5, path, owner, verify=True):
    """The JSON word index ``filename`` of dataset ``name`` (found, or downloaded and checked)."""
    file = locate_file(name, filename, KERAS_ORIGIN + filename, md5, path=path, owner=owner,
                       verify=verify)
    try:
        with open(file, encoding="utf-8") as f:
            index = json.load(f)
    except ValueError as e:
        raise DatasetError(f"{owner}: {file} is not valid JSON ({e}); delete it so it is "
                           "downloaded again") from None
    if not isinstance(index, dict):
        raise DatasetError(f"{owner}: {file} holds a {type(index).__name__}; expected a JSON "
                           "object mapping words to indices")
    return index


def get_word_index(path="imdb_word_index.json", verify=True):
    """``{word: rank}`` for IMDB (rank 1 = most frequent; in ``load_data``'s sequences the word
    appears as ``rank + index_from``).  ``verify`` checks the file's MD5 (Keras publishes no
    SHA-256 for it)."""
    return read_word_index(NAME, "imdb_word_index.json", WORD_INDEX_MD5, path,
                           "ember.datasets.imdb.get_word_index", verify)
