"""Reuters newswire topics (46 classes): Keras' ``load_data``, ``get_word_index`` and
``get_label_names``.

Newswires are sequences of word indices; the ``.npz`` file's ragged object arrays are read with a
restricted unpickler.  Files are looked for in ``path=``, ``$EMBER_DATA/reuters/``,
``~/.ember/datasets/reuters/`` and ``/usr/share/datasets/reuters/``, and downloaded from Keras'
mirror with a hash check otherwise.
"""
import numpy as np

from ._archives import KERAS_ORIGIN, check_test_split, load_npz, locate_file, require_keys
from .imdb import encode_sequences, read_word_index

__all__ = ["load_data", "get_word_index", "get_label_names"]

NAME = "reuters"
SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"

LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead")


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3, verify=True):
    """Load Reuters as ``((x_train, y_train), (x_test, y_test))``, as Keras does.

    The 11228 newswires are shuffled (``RandomState(seed)``), re-indexed as in
    :func:`ember.datasets.imdb.load_data` (same ``num_words``, ``skip_top``, ``maxlen``,
    ``start_char``, ``oov_char``, ``index_from``), and the last ``test_split`` of them test.
    ``x_*``: 1-D object arrays of lists of word indices; ``y_*``: topic indices 0-45 (int64).
    """
    check_test_split(test_split, "ember.datasets.reuters.load_data")
    file = locate_file(NAME, "reuters.npz", KERAS_ORIGIN + "reuters.npz", SHA256, path=path,
                       owner="ember.datasets.reuters.load_data", verify=verify)
    arrays = load_npz(file)
    require_keys(arrays, ("x", "y"), file)
    xs, labels = arrays["x"], arrays["y"]
    indices = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(indices)
    [(xs, labels)] = encode_sequences([(xs[indices], labels[indices])], num_words, skip_top,
                                      maxlen, start_char, oov_char, index_from)
    cut = int(len(xs) * (1 - test_split))
    return (xs[:cut], np.array(labels[:cut])), (xs[cut:], np.array(labels[cut:]))


def get_word_index(path="reuters_word_index.json", verify=True):
    """``{word: rank}`` for Reuters (in ``load_data``'s sequences a word is ``rank + index_from``);
    ``verify`` checks the file's MD5."""
    return read_word_index(NAME, "reuters_word_index.json", WORD_INDEX_MD5, path,
                           "ember.datasets.reuters.get_word_index", verify)


def get_label_names():
    """The 46 topic names, indexed like the labels."""
    return LABEL_NAMES
