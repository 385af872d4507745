"""ember.text: tokenizers that turn text into token ids and back.

* :class:`CharTokenizer` -- one token per character of a corpus's alphabet (NumPy only).
* :class:`ByteLevelBPETokenizer` -- GPT-2-style byte-level BPE trained on your corpus; wraps the
  optional ``tokenizers`` package, imported only when a BPE tokenizer is trained or loaded.

Both have ``encode(text) -> list[int]``, ``encode_to_numpy(text)``, ``decode(ids) -> str``,
``vocab_size``, ``to_json()`` / ``from_json()`` and ``save(path)`` / ``load(path)``, and satisfy
``decode(encode(s)) == s``.  :func:`tokenizer_from_json` and :func:`load_tokenizer` rebuild either
kind from its JSON.
"""
import json
import os

from .bpe import ByteLevelBPETokenizer
from .char import CharTokenizer

__all__ = ["CharTokenizer", "ByteLevelBPETokenizer", "tokenizer_from_json", "load_tokenizer"]


def tokenizer_from_json(text):
    """A :class:`CharTokenizer` or :class:`ByteLevelBPETokenizer` from its ``to_json()`` string."""
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise ValueError(f"ember.text.tokenizer_from_json: not valid JSON ({e})") from None
    if isinstance(obj, dict) and obj.get("type") == "ember.CharTokenizer":
        return CharTokenizer.from_json(text)
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        return ByteLevelBPETokenizer.from_json(text)
    raise ValueError("ember.text.tokenizer_from_json: neither an ember CharTokenizer file nor a "
                     "Hugging Face tokenizer.json")


def load_tokenizer(path):
    """Read a tokenizer saved by either tokenizer's ``save(path)``."""
    with open(os.fspath(path), encoding="utf-8") as f:
        return tokenizer_from_json(f.read())
