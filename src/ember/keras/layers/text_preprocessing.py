"""``TextVectorization`` and ``Hashing``: Keras 3's text-to-integers layer (standardize, split, ngrams, then a
``StringLookup`` with the mask token ''), with Keras' arguments, vocabulary order and outputs.

Inputs are Python strings, lists of them, NumPy ``str`` / object arrays of shape (batch,) or
(batch, 1), or the string Tensors of an ember ``tf.data`` pipeline
(``dataset.map(lambda x, y: (vectorize_layer(x), y))``).  Outputs are ember tensors: int64
(batch, length) in 'int' mode (padded with 0 to the longest row, or padded / truncated to
``output_sequence_length``), int64 (batch, depth) for 'multi_hot' / 'count' and float32 for
'tf_idf'.

As TensorFlow: 'lower' lowercases ASCII letters only (``tf.strings.lower``), 'whitespace' splits
on ASCII whitespace, 'character' on Unicode characters, ngrams join tokens with ' '.  A callable
``standardize`` gets a NumPy ``str`` array (Keras' non-TensorFlow backends do the same) and
returns one; a callable ``split`` gets the NumPy ``str`` array of shape (batch,) and returns one
sequence of tokens per row (a list of lists, or a 2-D array).  Not supported: ``ragged=True``,
``sparse=True``, vocabulary files, and symbolic ``keras.Input(dtype='string')`` inputs (vectorize
in the data pipeline instead).
"""
import re

import numpy as np

from ...tensor import Tensor
from .base import Layer
from .lookup import StringLookup, _StringInputLayer, as_array, encode, hash_bins

__all__ = ["TextVectorization", "Hashing"]

_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_SPACE = re.compile(r"[ \t\n\r\v\f]+")
_STANDARDIZE = (None, "lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = (None, "whitespace", "character")


class TextVectorization(_StringInputLayer):
    """Map text to sequences of token indices (or bag-of-words vectors), Keras'
    ``TextVectorization``.

    ``max_tokens`` (vocabulary size, '' and '[UNK]' included), ``standardize``
    ('lower_and_strip_punctuation' default, 'lower', 'strip_punctuation', None or a callable),
    ``split`` ('whitespace' default, 'character', None or a callable), ``ngrams`` (None, n: 1..n,
    or a tuple of sizes), ``output_mode`` 'int' (default), 'multi_hot', 'count', 'tf_idf';
    ``output_sequence_length`` ('int' only) pads / truncates to a fixed length;
    ``pad_to_max_tokens``; ``vocabulary`` / ``idf_weights`` instead of ``adapt(data)``.
    Indices: 0 padding (''), 1 OOV ('[UNK]'), then the vocabulary, most frequent first.
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int", output_sequence_length=None,
                 pad_to_max_tokens=False, vocabulary=None, idf_weights=None, sparse=False,
                 ragged=False, encoding="utf-8", name=None, **kwargs):
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if not (standardize in _STANDARDIZE or callable(standardize)):
            raise ValueError(f"TextVectorization: standardize must be one of {_STANDARDIZE} or a "
                             f"callable, got {standardize!r}")
        if not (split in _SPLIT or callable(split)):
            raise ValueError(f"TextVectorization: split must be one of {_SPLIT} or a callable, got "
                             f"{split!r}")
        if output_mode not in ("int", "multi_hot", "count", "tf_idf"):
            raise ValueError("TextVectorization: output_mode must be 'int', 'multi_hot', 'count' "
                             f"or 'tf_idf', got {output_mode!r}")
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and ngrams > 0) or
                (isinstance(ngrams, tuple) and all(isinstance(n, int) and n > 0 for n in ngrams))):
            raise ValueError(f"TextVectorization: ngrams must be None, a positive int or a tuple "
                             f"of them, got {ngrams!r}")
        if output_sequence_length is not None and (
                not isinstance(output_sequence_length, int) or output_sequence_length < 1):
            raise ValueError("TextVectorization: output_sequence_length must be None or a positive "
                             f"int, got {output_sequence_length!r}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError("TextVectorization: output_sequence_length is only for "
                             f"output_mode='int', got output_mode={output_mode!r}")
        if ragged or sparse:
            raise ValueError("TextVectorization: ragged=True / sparse=True are not supported (ember "
                             "has no ragged or sparse tensors); use output_sequence_length or the "
                             "default 0-padding")
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self._standardize, self._split = standardize, split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
            has_input_vocabulary=has_input_vocabulary, name=f"{self.name}_lookup")
        # make the error messages name this layer
        self._lookup_layer._layer = "TextVectorization"

    # -- vocabulary ----------------------------------------------------------------------------------
    def get_vocabulary(self, include_special_tokens=True):
        """The tokens by index ('' and '[UNK]' first unless ``include_special_tokens=False``)."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        """The vocabulary's size, '' and '[UNK]' included."""
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Set the vocabulary (and, for 'tf_idf', its idf weights) instead of ``adapt``."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (most frequent tokens first, ties in reverse sort order, cut to
        ``max_tokens``) from ``data``: a list / NumPy array of strings, or an iterable of
        batches of them (a generator, an ember ``tf.data.Dataset``)."""
        lookup = self._lookup_layer
        if lookup._has_input_vocabulary:
            raise ValueError("TextVectorization: cannot adapt a layer given a vocabulary (the "
                             "vocabulary argument or set_vocabulary())")
        lookup.reset_state()
        if isinstance(data, (list, tuple, np.ndarray, Tensor, str)) or \
                not hasattr(data, "__iter__"):
            self.update_state(data)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                if isinstance(batch, tuple):
                    raise ValueError("TextVectorization.adapt: the dataset yields tuples (x, y); "
                                     "adapt on the texts only: dataset.map(lambda x, y: x)")
                self.update_state(batch)
        lookup.finalize_state()

    def update_state(self, data):
        rows = self._preprocess(data)
        flat, row_ids = _flatten(rows)
        self._lookup_layer._count(flat, row_ids, len(rows))

    def finalize_state(self):
        self._lookup_layer.finalize_state()

    def reset_state(self):
        self._lookup_layer.reset_state()

    # -- preprocessing -------------------------------------------------------------------------------
    def _standardized(self, inputs):
        arr = as_array(inputs, "TextVectorization", "str")
        if callable(self._standardize):
            arr = as_array(self._standardize(arr), "TextVectorization", "str")
        else:
            if self._standardize in ("lower", "lower_and_strip_punctuation"):
                arr = np.char.translate(arr, _ASCII_LOWER) if arr.size else arr
            if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
                arr = np.asarray([_PUNCTUATION.sub("", s) for s in arr.reshape(-1)],
                                 dtype=str).reshape(arr.shape) if arr.size else arr
        return arr

    def _preprocess(self, inputs):
        """The rows of tokens (a list of lists of str) of a batch of texts."""
        arr = self._standardized(inputs)
        if arr.ndim == 0:
            arr = arr[None]
        if self._split is None:
            rows = [[t] for t in arr.reshape(-1).tolist()] if arr.ndim == 1 else \
                arr.reshape(arr.shape[0], -1).tolist()
        else:
            if arr.ndim > 1:
                if arr.ndim > 2 or arr.shape[-1] != 1:
                    raise ValueError("TextVectorization: to split strings the input must have "
                                     f"rank 1 or a last axis of size 1, got shape {arr.shape}")
                arr = arr[:, 0]
            if self._split == "whitespace":
                rows = [[t for t in _ASCII_SPACE.split(s) if t] for s in arr.tolist()]
            elif self._split == "character":
                rows = [list(s) for s in arr.tolist()]
            else:
                rows = [[str(t.decode("utf-8") if isinstance(t, bytes) else t) for t in row]
                        for row in _rows_of(self._split(arr))]
        if self._ngrams is not None:
            rows = [_ngrams(row, self._ngrams) for row in rows]
        return rows

    # -- call ----------------------------------------------------------------------------------------
    def call(self, inputs):
        """(batch,) or (batch, 1) texts -> int64 (batch, length) indices, or the (batch, depth)
        'multi_hot' / 'count' (int64) or 'tf_idf' (float32) vectors."""
        scalar = isinstance(inputs, str) or (isinstance(inputs, np.ndarray) and inputs.ndim == 0)
        if self._split is None and self._ngrams is None:
            return self._call_unsplit(inputs)
        rows = self._preprocess(inputs)
        flat, row_ids = _flatten(rows)
        lookup = self._lookup_layer
        idx = lookup._lookup(flat)
        lengths = np.asarray([len(r) for r in rows], np.int64)
        if self._output_mode == "int":
            width = self._output_sequence_length
            if width is None:
                width = int(lengths.max()) if len(lengths) else 0
            # position of each token in its row; tokens past `width` are cut off
            pos = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            out = np.zeros((len(rows), width), np.int64)
            keep = pos < width
            out[row_ids[keep], pos[keep]] = idx[keep]
            return Tensor.wrap(out[0] if scalar else out)
        # the bag-of-words modes count per row: pad rows with the dropped index
        width = max(int(lengths.max()) if len(lengths) else 0, 1)
        pos = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        padded = np.full((len(rows), width), -2, np.int64)
        padded[row_ids, pos] = idx
        out = lookup._output(padded)
        return out[0] if scalar else out

    def _call_unsplit(self, inputs):
        """``split=None``: each string is one token; the output keeps the input's shape (Keras'
        lookup of the string tensor itself)."""
        arr = self._standardized(inputs)
        idx = self._lookup_layer._lookup(arr.reshape(-1)).reshape(arr.shape)
        if self._output_mode != "int":
            return self._lookup_layer._output(idx)
        width = self._output_sequence_length
        if width is not None and idx.ndim:
            idx = idx[..., :width]
            idx = np.pad(idx, [(0, 0)] * (idx.ndim - 1) + [(0, width - idx.shape[-1])])
        return Tensor.wrap(idx)

    def get_config(self):
        """Keras' config; the vocabulary (and idf weights) learned by ``adapt`` included."""
        inner = self._lookup_layer.get_config()
        return {**super().get_config(), "max_tokens": inner["max_tokens"],
                "standardize": self._standardize, "split": self._split,
                "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
                "output_sequence_length": self._output_sequence_length,
                "pad_to_max_tokens": inner["pad_to_max_tokens"], "sparse": False,
                "ragged": False, "vocabulary": inner["vocabulary"],
                "idf_weights": inner["idf_weights"], "encoding": "utf-8",
                "vocabulary_size": self.vocabulary_size()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)

    from_config.__func__._calls_constructor = True


def _flatten(rows):
    """The tokens of ``rows`` in one str array, and the row of each."""
    lengths = [len(r) for r in rows]
    flat = np.asarray([t for r in rows for t in r], dtype=str)
    if not flat.size:
        flat = np.zeros((0,), "<U1")
    return flat, np.repeat(np.arange(len(rows)), lengths)


def _rows_of(result):
    if hasattr(result, "numpy") and not isinstance(result, np.ndarray):
        result = result.numpy()
    return result.tolist() if isinstance(result, np.ndarray) else list(result)


def _ngrams(tokens, widths):
    """TensorFlow's ``tf.strings.ngrams(tokens, widths, separator=' ')``: all ngrams of the
    first width, then of the next ..."""
    return [" ".join(tokens[i:i + n]) for n in widths for i in range(len(tokens) - n + 1)]


class Hashing(Layer):
    """Hash values into ``num_bins`` bins, Keras' ``Hashing``: the bins of TensorFlow's
    ``tf.strings.to_hash_bucket_fast`` (FarmHash Fingerprint64; integers hashed as their decimal
    strings, floats cast to int64 first), or keyed SipHash-2-4 with ``salt`` (an int or a pair).
    ``mask_value``: that value goes to bin 0 and the others to bins 1..num_bins-1.

    Inputs: strings (lists, NumPy ``str`` arrays) or numbers (arrays, Tensors).  ``output_mode``
    'int' (int64, the input's shape), or float32 'one_hot' / 'multi_hot' / 'count' vectors of
    size ``num_bins``.
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        kwargs.pop("dtype", None)       # Keras records 'int64' / 'float32' for the output
        super().__init__(**kwargs)
        if num_bins is None or isinstance(num_bins, bool) or int(num_bins) <= 0:
            raise ValueError(f"Hashing: num_bins must be a positive int, got {num_bins!r}")
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError("Hashing: output_mode must be 'int', 'one_hot', 'multi_hot' or "
                             f"'count', got {output_mode!r}")
        if sparse:
            raise ValueError("Hashing: sparse=True is not supported (ember has no sparse "
                             "tensors); use sparse=False")
        if salt is not None:
            salt = [int(salt)] * 2 if isinstance(salt, (int, np.integer)) else list(salt)
            if len(salt) != 2:
                raise ValueError(f"Hashing: salt must be an int or a pair of ints, got {salt!r}")
        self.num_bins, self.mask_value, self.salt = int(num_bins), mask_value, salt
        self.output_mode, self.sparse = output_mode, False

    def call(self, inputs):
        """(...) values -> int64 (...) bins, or float32 (..., num_bins) encodings."""
        arr = inputs.numpy() if isinstance(inputs, Tensor) else inputs
        arr = np.asarray(arr)
        if arr.dtype.kind in "OSU":
            arr = as_array(arr, "Hashing", "str")
        elif arr.dtype.kind == "f":
            arr = arr.astype(np.int64)          # Keras (tf.cast): floats truncate to int64
        elif arr.dtype.kind not in "iub":
            raise TypeError(f"Hashing: expected strings or numbers, got dtype {arr.dtype}")
        if self.output_mode == "one_hot" and arr.ndim and arr.shape[-1] == 1:
            arr = arr[..., 0]
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mask = arr == (str(self.mask_value) if arr.dtype.kind == "U" else self.mask_value)
        idx = hash_bins(arr, bins, self.salt)
        if mask is not None:
            idx = np.where(mask, 0, idx + 1)
        if self.output_mode == "int":
            return Tensor.wrap(idx.astype(np.int64))
        return encode(idx, self.output_mode, self.num_bins, "float32", "Hashing")

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode, "sparse": False}
