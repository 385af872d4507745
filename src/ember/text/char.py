"""Character-level tokenizer: one token per Unicode code point of a fixed alphabet.

The alphabet is the sorted set of distinct characters of a corpus (as nanoGPT's
``shakespeare_char`` preparation does), so token ``i`` is the ``i``-th smallest code point seen.
Encoding and decoding are vectorised with NumPy (a megabyte of text takes milliseconds).
"""
import json
import os

import numpy as _np

__all__ = ["CharTokenizer"]

_FORMAT = "ember.CharTokenizer"
_VERSION = 1


def _code_points(text):
    """The code points of ``text`` as a uint32 array (lone surrogates included)."""
    return _np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _ids_array(ids, fn):
    """``ids`` (list, NumPy array or ember Tensor of integers) as a 1-D int64 array."""
    data = getattr(ids, "data", ids) if hasattr(ids, "numpy") else ids
    arr = _np.asarray(data)
    if arr.size == 0:
        return _np.zeros(0, dtype=_np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fn}: token ids must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{fn}: expected a 1-D sequence of token ids, got shape {arr.shape}; "
                         "decode one row at a time (e.g. ids[0])")
    return arr.astype(_np.int64, copy=False)


class CharTokenizer:
    """Maps each character of a fixed alphabet to an integer id and back.

    Build one from a corpus with :meth:`from_text` (alphabet = sorted distinct characters) or from
    an explicit alphabet with ``CharTokenizer(chars)``.  ``encode`` raises a ``ValueError`` naming
    the first character outside the alphabet (there is no "unknown" token: silently dropping or
    replacing text would break ``decode(encode(s)) == s``).

    Example::

        tok = CharTokenizer.from_text("hello world")
        tok.vocab_size            # 8: ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w'
        tok.encode("hold")        # [3, 5, 4, 1]
        tok.decode([3, 5, 4, 1])  # 'hold'
    """

    def __init__(self, chars):
        if isinstance(chars, str):
            chars = list(chars)
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"CharTokenizer: every entry of chars must be one character, got {c!r}")
        if not chars:
            raise ValueError("CharTokenizer: the alphabet is empty; build it from a non-empty corpus "
                             "(CharTokenizer.from_text(text))")
        if len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer: chars must not repeat a character")
        if chars != sorted(chars):
            raise ValueError("CharTokenizer: chars must be sorted (token i is the i-th smallest "
                             "code point); use CharTokenizer.from_text or sorted(set(...))")
        self._chars = chars
        self._codes = _code_points("".join(chars))          # sorted uint32, for searchsorted
        self._index = {c: i for i, c in enumerate(chars)}

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_text(cls, text):
        """The tokenizer whose alphabet is the sorted distinct characters of ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.from_text: expected a str, got {type(text).__name__}")
        if not text:
            raise ValueError("CharTokenizer.from_text: the corpus is empty; a character tokenizer "
                             "needs at least one character of text")
        return cls(sorted(set(text)))

    # -- properties --------------------------------------------------------------------------------
    @property
    def vocab_size(self):
        """Number of tokens (the size of the alphabet)."""
        return len(self._chars)

    @property
    def chars(self):
        """The alphabet: ``chars[i]`` is the character of token ``i``."""
        return list(self._chars)

    def __len__(self):
        return self.vocab_size

    def __repr__(self):
        return f"CharTokenizer(vocab_size={self.vocab_size})"

    def __eq__(self, other):
        return isinstance(other, CharTokenizer) and other._chars == self._chars

    # -- encoding ----------------------------------------------------------------------------------
    def encode_to_numpy(self, text, dtype=_np.int64):
        """``text`` as a 1-D NumPy array of token ids (``dtype``, int64 by default)."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: expected a str, got {type(text).__name__}")
        cps = _code_points(text)
        if cps.size == 0:
            return _np.zeros(0, dtype=dtype)
        ids = _np.searchsorted(self._codes, cps)
        found = self._codes[_np.minimum(ids, self._codes.size - 1)] == cps
        if not found.all():
            pos = int(_np.argmin(found))
            missing = sorted(set(chr(int(c)) for c in cps[~found]))
            shown = ", ".join(repr(c) for c in missing[:10]) + (", ..." if len(missing) > 10 else "")
            raise ValueError(
                f"CharTokenizer.encode: character {text[pos]!r} at position {pos} is not in the "
                f"tokenizer's alphabet of {self.vocab_size} characters (unknown: {shown}); build "
                "the tokenizer from a corpus that contains every character you will encode, or "
                "use the byte-level BPE tokenizer, which encodes any text")
        return ids.astype(dtype, copy=False)

    def encode(self, text):
        """``text`` as a list of token ids."""
        return self.encode_to_numpy(text).tolist()

    def decode(self, ids):
        """The text of a 1-D sequence of token ids (list, NumPy array or ember Tensor)."""
        arr = _ids_array(ids, "CharTokenizer.decode")
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            bad = int(arr[(arr < 0) | (arr >= self.vocab_size)][0])
            raise ValueError(f"CharTokenizer.decode: token id {bad} is outside the vocabulary "
                             f"[0, {self.vocab_size})")
        return self._codes[arr].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    # -- files -------------------------------------------------------------------------------------
    def to_json(self):
        """The tokenizer as a JSON string (``{"type": "ember.CharTokenizer", "chars": [...]}``)."""
        return json.dumps({"type": _FORMAT, "version": _VERSION, "chars": self._chars})

    @classmethod
    def from_json(cls, text):
        """Rebuild a tokenizer from :meth:`to_json`'s output."""
        try:
            obj = json.loads(text)
        except ValueError as e:
            raise ValueError(f"CharTokenizer.from_json: not valid JSON ({e})") from None
        if not isinstance(obj, dict) or obj.get("type") != _FORMAT or "chars" not in obj:
            raise ValueError("CharTokenizer.from_json: not a CharTokenizer file (expected a JSON "
                             f"object with \"type\": \"{_FORMAT}\" and \"chars\")")
        if obj.get("version", 0) > _VERSION:
            raise ValueError(f"CharTokenizer.from_json: format version {obj['version']} is newer "
                             "than this ember understands; upgrade ember")
        return cls(obj["chars"])

    def save(self, path):
        """Write the tokenizer to ``path`` as JSON (atomically)."""
        from ..serialization import _atomic_write
        data = self.to_json().encode("utf-8")
        _atomic_write(path, lambda f: f.write(data))

    @classmethod
    def load(cls, path):
        """Read a tokenizer written by :meth:`save`."""
        with open(os.fspath(path), encoding="utf-8") as f:
            return cls.from_json(f.read())
