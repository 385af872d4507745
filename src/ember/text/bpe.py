"""Byte-level BPE tokenizer (GPT-2 style), trained on your corpus.

Why the ``tokenizers`` library.  Training byte-pair encoding is a loop of "count every adjacent
pair, merge the most frequent one" over the whole corpus; Hugging Face's ``tokenizers`` (Rust)
does it in about a second for a megabyte of text, while a pure-Python trainer would take minutes,
and its ``tokenizer.json`` format is read by every other tool (``transformers``, ``tokenizers`` in
any language).  So ember wraps it instead of re-implementing it; it is an optional dependency
(``pip install tokenizers``, or ``pip install "ember[text]"``) imported only when a BPE tokenizer is
created or loaded -- ``import ember`` never pays for it.

Configuration, chosen so that ``decode(encode(s)) == s`` holds exactly for every string:

* no normalizer (no Unicode normalisation, lower-casing or stripping: ``"e\\u0301"`` stays two
  code points);
* the ``ByteLevel`` pre-tokenizer with ``add_prefix_space=False`` (GPT-2's regex split, then each
  UTF-8 byte mapped to a printable character) -- no space is invented at the start;
* all 256 byte symbols in the initial alphabet, so any byte (NUL, bytes of emoji or of scripts
  absent from the corpus) has a token even if the corpus never showed it -- nothing is ever
  unknown or dropped;
* the ``ByteLevel`` decoder, and ``decode(..., skip_special_tokens=False)`` so that a special token
  that appeared literally in the text (``"<|endoftext|>"``) is decoded back to its text.

Token ids: the special tokens come first (``<|endoftext|>`` is id 0 by default), then the 256 byte
symbols, then the learned merges.
"""
import os

import numpy as _np

from ._common import JsonFileMixin, _ids_array

__all__ = ["ByteLevelBPETokenizer", "require_tokenizers"]

DEFAULT_SPECIAL_TOKENS = ("<|endoftext|>",)


def require_tokenizers(fn):
    """Import the ``tokenizers`` package, or raise an ImportError saying how to install it."""
    try:
        import tokenizers
    except ImportError:
        raise ImportError(
            f"{fn}: byte-level BPE needs the optional 'tokenizers' package, which is not installed; "
            "install it with `pip install tokenizers` (or `pip install \"ember[text]\"`), or use the "
            "character-level tokenizer (ember.text.CharTokenizer / --tokenizer char)") from None
    return tokenizers


def _corpus_iterator(texts_or_files, fn):
    """Yield the texts of ``texts_or_files``: strings are texts, ``os.PathLike`` are UTF-8 files."""
    if isinstance(texts_or_files, (str, os.PathLike)):
        texts_or_files = [texts_or_files]
    items = list(texts_or_files)
    if not items:
        raise ValueError(f"{fn}: texts_or_files is empty; give at least one text or file")
    for item in items:
        if isinstance(item, os.PathLike):
            path = os.fspath(item)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{fn}: corpus file {path!r} does not exist")
        elif not isinstance(item, str):
            raise TypeError(f"{fn}: texts_or_files must hold str texts or pathlib.Path files, got "
                            f"{type(item).__name__}")
    for item in items:
        if isinstance(item, str):
            yield item
            continue
        # Files are read in chunks of whole lines, so a large corpus is never held twice.
        with open(os.fspath(item), encoding="utf-8") as f:
            while True:
                lines = f.readlines(1 << 20)
                if not lines:
                    break
                yield "".join(lines)


class ByteLevelBPETokenizer(JsonFileMixin):
    """GPT-2-style byte-level BPE: any text encodes (no unknown token) and decodes back exactly.

    Train one on a corpus, or load one::

        tok = ByteLevelBPETokenizer().train([pathlib.Path("input.txt")], vocab_size=1024)
        ids = tok.encode("To be, or not to be")      # list of ints
        tok.decode(ids)                              # 'To be, or not to be'
        tok.save("tokenizer.json")                   # Hugging Face tokenizer.json format
        tok = ByteLevelBPETokenizer.load("tokenizer.json")

    ``ByteLevelBPETokenizer(tokenizer)`` wraps an existing ``tokenizers.Tokenizer``.  See the module
    docstring for the configuration and why round trips are exact.  ``save(path)`` writes the
    ``tokenizer.json`` (atomically); ``load(path)`` reads one (also one written by ``tokenizers``).
    """

    def __init__(self, tokenizer=None):
        self._tok = tokenizer

    # -- training ----------------------------------------------------------------------------------
    def train(self, texts_or_files, vocab_size, min_frequency=2,
              special_tokens=DEFAULT_SPECIAL_TOKENS, show_progress=False):
        """Learn merges from a corpus (in place; returns ``self``).

        ``texts_or_files``: a str (one text), an ``os.PathLike`` (a UTF-8 file: pass
        ``pathlib.Path("input.txt")`` -- a plain str is taken as text, not as a file name), or a
        list of those.  ``vocab_size`` counts the special tokens and the 256 byte symbols, so it
        must be at least ``256 + len(special_tokens)``; training stops earlier if no pair occurs
        ``min_frequency`` times.
        """
        fn = "ByteLevelBPETokenizer.train"
        special_tokens = list(special_tokens or ())
        for t in special_tokens:
            if not isinstance(t, str) or not t:
                raise ValueError(f"{fn}: special tokens must be non-empty strings, got {t!r}")
        minimum = 256 + len(special_tokens)
        if not isinstance(vocab_size, (int, _np.integer)) or isinstance(vocab_size, bool) \
                or vocab_size < minimum:
            raise ValueError(f"{fn}: vocab_size={vocab_size!r} is too small: byte-level BPE needs "
                             f"256 byte tokens plus {len(special_tokens)} special token(s), so "
                             f"vocab_size >= {minimum}")
        if not isinstance(min_frequency, (int, _np.integer)) or min_frequency < 1:
            raise ValueError(f"{fn}: min_frequency must be a positive integer, got {min_frequency!r}")
        corpus = _corpus_iterator(texts_or_files, fn)
        first = next(corpus)   # validates the arguments before the library is imported
        tk = require_tokenizers(fn)
        tok = tk.Tokenizer(tk.models.BPE())
        tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = tk.decoders.ByteLevel()
        trainer = tk.trainers.BpeTrainer(
            vocab_size=int(vocab_size), min_frequency=int(min_frequency),
            special_tokens=special_tokens, show_progress=show_progress,
            initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet())

        def everything():
            yield first
            yield from corpus

        tok.train_from_iterator(everything(), trainer=trainer)
        self._tok = tok
        return self

    # -- properties --------------------------------------------------------------------------------
    def _require(self, fn):
        if self._tok is None:
            raise RuntimeError(f"ByteLevelBPETokenizer.{fn}: this tokenizer is not trained; call "
                               ".train(corpus, vocab_size) or ByteLevelBPETokenizer.load(path) first")
        return self._tok

    @property
    def vocab_size(self):
        """Number of tokens (special tokens + 256 bytes + merges)."""
        return self._require("vocab_size").get_vocab_size(with_added_tokens=True)

    @property
    def special_tokens(self):
        """The special tokens, as ``{text: id}``."""
        tok = self._require("special_tokens")
        return {t.content: i for i, t in tok.get_added_tokens_decoder().items() if t.special}

    @property
    def backend_tokenizer(self):
        """The wrapped ``tokenizers.Tokenizer``."""
        return self._require("backend_tokenizer")

    def token_to_id(self, token):
        """The id of a token string (a special token, or byte-level symbols), or None."""
        return self._require("token_to_id").token_to_id(token)

    def id_to_token(self, token_id):
        """The token string of an id (byte-level symbols, e.g. 'Ġthe' for ' the'), or None."""
        return self._require("id_to_token").id_to_token(int(token_id))

    def __len__(self):
        return self.vocab_size

    def __repr__(self):
        if self._tok is None:
            return "ByteLevelBPETokenizer(untrained)"
        return f"ByteLevelBPETokenizer(vocab_size={self.vocab_size})"

    # -- encoding ----------------------------------------------------------------------------------
    def encode(self, text):
        """``text`` as a list of token ids."""
        tok = self._require("encode")
        if not isinstance(text, str):
            raise TypeError(f"ByteLevelBPETokenizer.encode: expected a str, got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"ByteLevelBPETokenizer.encode: the text is not valid Unicode: {e} "
                             "(a lone surrogate cannot be written as UTF-8 bytes)") from None
        return tok.encode(text, add_special_tokens=False).ids

    def encode_to_numpy(self, text, dtype=_np.int64):
        """``text`` as a 1-D NumPy array of token ids (``dtype``, int64 by default)."""
        return _np.asarray(self.encode(text), dtype=dtype)

    def decode(self, ids):
        """The text of a 1-D sequence of token ids (list, NumPy array or ember Tensor).

        Special tokens are kept (decoded to their text).  A sequence that ends in the middle of a
        multi-byte character (e.g. a sampled prefix) decodes that partial character as U+FFFD.
        """
        tok = self._require("decode")
        arr = _ids_array(ids, "ByteLevelBPETokenizer.decode")
        n = self.vocab_size
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            bad = int(arr[(arr < 0) | (arr >= n)][0])
            raise ValueError(f"ByteLevelBPETokenizer.decode: token id {bad} is outside the "
                             f"vocabulary [0, {n})")
        return tok.decode(arr.tolist(), skip_special_tokens=False)

    # -- files (save / load from JsonFileMixin) ----------------------------------------------------
    def to_json(self):
        """The tokenizer in Hugging Face's ``tokenizer.json`` format, as a string."""
        return self._require("to_json").to_str()

    @classmethod
    def from_json(cls, text):
        """Rebuild a tokenizer from :meth:`to_json`'s output (or any byte-level tokenizer.json)."""
        tk = require_tokenizers("ByteLevelBPETokenizer.from_json")
        try:
            return cls(tk.Tokenizer.from_str(text))
        except Exception as e:   # the library raises its own exception type
            raise ValueError(f"ByteLevelBPETokenizer.from_json: not a valid tokenizer.json ({e})") from None
