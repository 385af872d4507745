"""Character-level tokenizer: one token per Unicode code point of a fixed alphabet.

The alphabet is the sorted set of distinct characters of a corpus (as nanoGPT's
``shakespeare_char`` preparation does), so token ``i`` is the ``i``-th smallest code point seen.
The vocabulary itself is ``ember.datasets.CharVocabulary`` (vectorised with NumPy: a megabyte of
text takes milliseconds); ``CharTokenizer`` adds the tokenizer protocol of ``ember.text``.
"""
import json

import numpy as _np

from ..datasets.text import CharVocabulary
from ._common import JsonFileMixin, _ids_array

__all__ = ["CharTokenizer"]

_FORMAT = "ember.CharTokenizer"
_VERSION = 1


class CharTokenizer(JsonFileMixin, CharVocabulary):
    """Maps each character of a fixed alphabet to an integer id and back.

    Build one from a corpus with :meth:`from_text` (alphabet = sorted distinct characters) or from
    an explicit alphabet with ``CharTokenizer(chars)``.  ``encode`` raises a ``ValueError`` naming
    the first character outside the alphabet (there is no "unknown" token: silently dropping or
    replacing text would break ``decode(encode(s)) == s``).

    A :class:`~ember.datasets.CharVocabulary` whose alphabet must be sorted, with the tokenizer
    protocol: ``encode`` -> list of ints, ``encode_to_numpy``, ``decode`` of 1-D ids only,
    ``chars`` as a list, ``to_json`` / ``from_json`` / ``save`` / ``load``, equality by alphabet.

    Example::

        tok = CharTokenizer.from_text("hello world")
        tok.vocab_size            # 8: ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w'
        tok.encode("hold")        # [3, 5, 4, 1]
        tok.decode([3, 5, 4, 1])  # 'hold'
    """

    def __init__(self, chars):
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
        super().__init__("".join(chars))

    @classmethod
    def from_text(cls, text):
        """The tokenizer whose alphabet is the sorted distinct characters of ``text``."""
        if isinstance(text, str) and not text:
            raise ValueError("CharTokenizer.from_text: the corpus is empty; a character tokenizer "
                             "needs at least one character of text")
        return super().from_text(text)

    @property
    def chars(self):
        """The alphabet: ``chars[i]`` is the character of token ``i``."""
        return list(self._chars)

    def __eq__(self, other):
        return isinstance(other, CharTokenizer) and other._chars == self._chars

    # -- encoding ----------------------------------------------------------------------------------
    def _unknown_characters(self, text, points, known):
        pos = int(_np.argmin(known))
        missing = sorted(set(chr(int(c)) for c in points[~known]))
        shown = ", ".join(repr(c) for c in missing[:10]) + (", ..." if len(missing) > 10 else "")
        return ValueError(
            f"CharTokenizer.encode: character {text[pos]!r} at position {pos} is not in the "
            f"tokenizer's alphabet of {self.vocab_size} characters (unknown: {shown}); build "
            "the tokenizer from a corpus that contains every character you will encode, or "
            "use the byte-level BPE tokenizer, which encodes any text")

    def encode_to_numpy(self, text, dtype=_np.int64):
        """``text`` as a 1-D NumPy array of token ids (``dtype``, int64 by default)."""
        return self._ids(text).astype(dtype, copy=False)

    def encode(self, text):
        """``text`` as a list of token ids."""
        return self._ids(text).tolist()

    def decode(self, ids):
        """The text of a 1-D sequence of token ids (list, NumPy array or ember Tensor)."""
        arr = _ids_array(ids, "CharTokenizer.decode")
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            bad = int(arr[(arr < 0) | (arr >= self.vocab_size)][0])
            raise ValueError(f"CharTokenizer.decode: token id {bad} is outside the vocabulary "
                             f"[0, {self.vocab_size})")
        return self._text(arr)

    # -- files (save / load from JsonFileMixin) ----------------------------------------------------
    def to_json(self):
        """The tokenizer as a JSON string (``{"type": "ember.CharTokenizer", "chars": [...]}``)."""
        return json.dumps({"type": _FORMAT, "version": _VERSION, "chars": self.chars})

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
