"""Plain-text corpora for character-level language models.

    text = load_text("input.txt")
    vocabulary = CharVocabulary.from_text(text)
    ids = vocabulary.encode(text)                      # int64 array, one id per character
    train_ids, val_ids = train_val_split(ids, 0.1)    # first 90 % / last 10 %
    dataset = CharSequenceDataset(train_ids, block_size=256)   # (x, y) next-character pairs

Encoding and decoding are vectorised through the characters' code points (no Python loop over the
text), and ``CharSequenceDataset`` gathers whole batches with one fancy index.  Nothing here
assumes where a corpus lives.
"""
import numbers
from pathlib import Path

import numpy as np

from ..data.dataset import Dataset
from ..tensor import Tensor

__all__ = ["load_text", "CharVocabulary", "train_val_split", "CharSequenceDataset"]


def load_text(path, encoding="utf-8"):
    """The contents of the text file ``path`` (universal newlines: ``\\r\\n`` becomes ``\\n``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_text: no such file: {path}")
    try:
        with open(path, encoding=encoding) as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"load_text: {path} is not valid {encoding} (byte {e.start}: {e.reason}); "
                         "pass the file's encoding, e.g. encoding='latin-1'") from None


def _code_points(text):
    # UTF-32 gives one 4-byte code unit per character; surrogatepass keeps lone surrogates.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


class CharVocabulary:
    """A character vocabulary: id ``i`` is ``chars[i]``.

    Build it with ``CharVocabulary.from_text(text)`` (the sorted distinct characters, as nanoGPT
    does) or from an explicit sequence of distinct characters.  ``encode`` gives an int64 array
    and raises on a character outside the vocabulary; ``decode`` takes ids of any shape (list,
    NumPy array or Tensor).  ``to_dict()``/``from_dict()`` give a JSON-serialisable form to store
    beside a checkpoint.  ``ember.text.CharTokenizer`` is this class with the tokenizer protocol
    (``encode`` -> list, ``encode_to_numpy``, JSON files).
    """

    def __init__(self, chars):
        chars = "".join(chars) if not isinstance(chars, str) else chars
        if any(len(c) != 1 for c in chars):
            raise ValueError("CharVocabulary: chars must be single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("CharVocabulary: chars must be distinct")
        if not chars:
            raise ValueError("CharVocabulary: the vocabulary is empty (built from an empty text?)")
        self._chars = chars
        self._points = _code_points(chars)                        # id -> code point
        # Encoding looks every character up with one searchsorted over the sorted code points
        # (vectorised, and no table as large as the highest code point).
        self._order = np.argsort(self._points, kind="stable").astype(np.int64)
        self._sorted_points = self._points[self._order]

    @classmethod
    def from_text(cls, text):
        """The vocabulary of every distinct character of ``text``, sorted by code point."""
        if not isinstance(text, str):
            raise TypeError(f"{cls.__name__}.from_text: expected a str, got {type(text).__name__}")
        if not text:
            raise ValueError(f"{cls.__name__}.from_text: the text is empty")
        return cls(_text_of(np.unique(_code_points(text))))

    @property
    def chars(self):
        """The characters, as a str: ``chars[i]`` is the character of id ``i``."""
        return self._chars

    @property
    def vocab_size(self):
        """Number of characters (ids run from 0 to ``vocab_size - 1``)."""
        return len(self._chars)

    def __len__(self):
        return len(self._chars)

    @property
    def stoi(self):
        """``{character: id}``."""
        return {c: i for i, c in enumerate(self._chars)}

    @property
    def itos(self):
        """``[character of id 0, ...]``."""
        return list(self._chars)

    def _ids(self, text):
        """The int64 ids of ``text``'s characters; an unknown character raises ValueError."""
        if not isinstance(text, str):
            raise TypeError(f"{type(self).__name__}.encode: expected a str, got "
                            f"{type(text).__name__}")
        points = _code_points(text)
        where = np.minimum(np.searchsorted(self._sorted_points, points), len(self._chars) - 1)
        known = self._sorted_points[where] == points
        if not known.all():
            raise self._unknown_characters(text, points, known)
        return self._order[where]

    def _unknown_characters(self, text, points, known):
        """The ValueError for the characters of ``text`` where ``known`` is False."""
        unknown = np.flatnonzero(~known)
        position = int(unknown[0])
        char = text[position]
        return ValueError(
            f"{type(self).__name__}.encode: character {char!r} (U+{ord(char):04X}) at position "
            f"{position} is not in the vocabulary of {len(self)} characters "
            f"({unknown.size} unknown in all); build the vocabulary from text containing it")

    def _text(self, ids):
        """The text of a checked 1-D array of ids."""
        return _text_of(self._points[ids])

    def encode(self, text):
        """The ids of ``text``'s characters as an int64 array; unknown characters raise."""
        return self._ids(text)

    def decode(self, ids):
        """The text of a sequence of ids (list, NumPy array or Tensor; flattened)."""
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if ids.size == 0:
            return ""
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{type(self).__name__}.decode: ids must be integers, got dtype "
                            f"{ids.dtype}")
        ids = ids.reshape(-1)
        if ids.min() < 0 or ids.max() >= len(self):
            raise ValueError(f"{type(self).__name__}.decode: ids must lie in [0, {len(self)}), got "
                             f"values from {ids.min()} to {ids.max()}")
        return self._text(ids)

    def to_dict(self):
        return {"type": "CharVocabulary", "chars": self._chars}

    @classmethod
    def from_dict(cls, state):
        return cls(state["chars"])

    def __repr__(self):
        return f"{type(self).__name__}(vocab_size={len(self)})"


def _text_of(points):
    """The str of an array of code points (the inverse of ``_code_points``)."""
    return points.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


def train_val_split(data, val_fraction=0.1):
    """``(data[:n_train], data[n_train:])`` with ``n_train = int(len(data) * (1 - val_fraction))``:
    the first part trains, the last validates (no shuffling: text is ordered).  Works on str,
    lists, NumPy arrays and Tensors."""
    if not isinstance(val_fraction, numbers.Real) or not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"train_val_split: val_fraction must lie in [0, 1), got {val_fraction!r}")
    n_train = int(len(data) * (1.0 - val_fraction))
    return data[:n_train], data[n_train:]


class CharSequenceDataset(Dataset):
    """Next-token pairs from a sequence of ids: item ``i`` is ``(ids[i:i+B], ids[i+1:i+B+1])``
    with ``B = block_size``; ``len = len(ids) - block_size``.  ``get_batch`` gathers many windows
    with one fancy index, so DataLoader batches cost no Python loop."""

    def __init__(self, ids, block_size):
        if isinstance(ids, str):
            raise TypeError("CharSequenceDataset: got a str; encode it first "
                            "(CharVocabulary.from_text(text).encode(text))")
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise TypeError(f"CharSequenceDataset: ids must be a 1-D integer sequence, got dtype "
                            f"{ids.dtype} and shape {ids.shape}")
        if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) or block_size < 1:
            raise ValueError(f"CharSequenceDataset: block_size must be a positive int, got {block_size!r}")
        if ids.size <= block_size:
            raise ValueError(f"CharSequenceDataset: {ids.size} ids are too few for block_size="
                             f"{block_size} (need at least {block_size + 1}); use a longer text "
                             "or a smaller block_size")
        self.ids = ids.astype(np.int64, copy=False)
        self.block_size = int(block_size)
        self._window = np.arange(self.block_size + 1)

    def __len__(self):
        return self.ids.size - self.block_size

    def __getitem__(self, index):
        n = len(self)
        if not isinstance(index, (numbers.Integral, np.integer)):
            raise TypeError(f"CharSequenceDataset: index must be an int, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"CharSequenceDataset: index {index} out of range for {n} items")
        start = int(index) % n
        chunk = self.ids[start:start + self.block_size + 1]
        return chunk[:-1], chunk[1:]

    def get_batch(self, indices):
        """``(x, y)`` int64 arrays of shape (len(indices), block_size)."""
        chunk = self.ids[np.asarray(indices)[:, None] + self._window]
        return chunk[:, :-1], chunk[:, 1:]
