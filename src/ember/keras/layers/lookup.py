"""Categorical preprocessing layers: ``StringLookup``, ``IntegerLookup`` (Keras' ``IndexLookup``
rules) and ``CategoryEncoding``, with Keras 3's arguments, vocabulary order and outputs.

Inputs are Python strings / ints, (nested) lists, NumPy arrays (``str`` / object / integer) or
ember Tensors (a ``tf.data`` pipeline's string batches); ember tensors hold numbers, so the
lookups run on NumPy (sorted-vocabulary ``searchsorted``, no Python loop per token) and the
outputs are ember tensors: int64 indices ('int'), int64 'one_hot' / 'multi_hot' / 'count'
encodings (Keras' lookup layers give int64 there too), float32 'tf_idf'; ``invert=True`` gives a
Tensor of strings (``.numpy()`` reads it).

``adapt`` orders the vocabulary as Keras: by count, most frequent first, ties broken by the
token in reverse sort order; the mask and OOV tokens are never learned.  ``get_config`` holds the
vocabulary (and idf weights) learned by ``adapt``, so ``from_config`` / a saved ``.keras`` model
rebuild the layer with it (Keras keeps it in the file's assets instead).

With ``num_oov_indices > 1`` OOV strings go to TensorFlow's bins (FarmHash Fingerprint64, or
keyed SipHash with ``salt``: ``string_hash``), OOV integers to ``value mod num_oov_indices``
(``oov_method='floormod'``, or hashed as decimal strings with 'farmhash').  Not supported:
``sparse=True``, vocabulary files (pass a list), and symbolic ``keras.Input(dtype='string')``
inputs (vectorize in the ``tf.data`` pipeline instead).
"""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from .. import keras_tensor as _kt
from .base import Layer
from .string_hash import fingerprint64, siphash24

__all__ = ["StringLookup", "IntegerLookup", "CategoryEncoding"]

_DROP = -2              # an index that the count encodings drop (Keras: int64 max, out of range)
_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def as_array(inputs, layer, kind):
    """``inputs`` as a NumPy array of ``kind`` 'str' (unicode) or 'int' (int64)."""
    if isinstance(inputs, Tensor):
        inputs = inputs.numpy()
    elif hasattr(inputs, "numpy") and not isinstance(inputs, np.ndarray):
        inputs = inputs.numpy()             # a torch / tf tensor
    if kind == "str":
        arr = inputs if isinstance(inputs, np.ndarray) else np.asarray(inputs, dtype=object)
        if arr.dtype.kind == "U":
            return arr
        if arr.dtype.kind == "S":
            return np.char.decode(arr, "utf-8")
        first = arr.reshape(-1)[0] if arr.size else ""
        if not isinstance(first, (str, bytes)):
            hint = " (rows of different lengths? pad them to one length)" \
                if isinstance(first, (list, tuple)) else ""
            raise TypeError(f"{layer}: expected strings (a str, a list of str, a NumPy str array), "
                            f"got values of type {type(first).__name__}{hint}")
        flat = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)] \
            if arr.dtype == object else arr
        return np.asarray(flat, dtype=str).reshape(arr.shape) if arr.size else \
            np.zeros(arr.shape, dtype="<U1")
    arr = np.asarray(inputs)
    if arr.dtype.kind == "f" and arr.size and np.array_equal(arr, np.trunc(arr)):
        arr = arr.astype(np.int64)          # whole numbers in a float array (Keras casts them)
    if arr.dtype.kind not in "iub" and arr.size:
        raise TypeError(f"{layer}: expected integers, got an array of dtype {arr.dtype}; cast it "
                        "(e.g. np.asarray(x, 'int64'))")
    return arr.astype(np.int64)


def hash_bins(values, num_bins, salt=None):
    """TensorFlow's ``to_hash_bucket_fast`` (FarmHash Fingerprint64) / ``to_hash_bucket_strong``
    (SipHash-2-4 keyed by ``salt``) of ``values`` (str, or ints hashed as decimal strings, as
    ``tf.as_string``): int64 bins in [0, num_bins)."""
    flat = np.asarray(values).reshape(-1)
    text = [str(int(v)) if flat.dtype.kind in "iub" else str(v) for v in flat.tolist()]
    if salt is None:
        h = [fingerprint64(t) % num_bins for t in text]
    else:
        h = [siphash24(salt, t) % num_bins for t in text]
    return np.asarray(h, np.int64).reshape(np.shape(values))


def refuse_symbolic(layer, args, kwargs):
    if _kt.any_symbolic(args, kwargs):
        raise TypeError(f"{type(layer).__name__}: called on a symbolic keras.Input; ember's string "
                        "layers run on data, not in a functional graph. Fix: vectorize in the "
                        "input pipeline (dataset.map(lambda x, y: (layer(x), y))) and give the "
                        "model the integer output (keras.Input(shape=(seq_len,), dtype='int64'))")


def encode(indices, mode, depth, dtype, layer):
    """Keras' ``encode_categorical_inputs`` on an int64 index array: 'one_hot' appends (or
    replaces a last axis of size 1 by) ``depth``; 'multi_hot' / 'count' reduce the last axis
    (a 1-D input is one sample).  ``_DROP`` indices count for nothing."""
    idx = np.asarray(indices, np.int64)
    if idx.ndim == 0:
        idx = idx[None]
    bad = (idx < 0) & (idx != _DROP) | (idx >= depth)
    if bad.any():
        raise ValueError(f"{layer}: index {int(idx[bad][0])} is out of range for depth {depth} "
                         f"(output_mode={mode!r}); values must be in [0, {depth})")
    if mode == "one_hot" and idx.ndim > 1 and idx.shape[-1] == 1:
        idx = idx[..., 0]
    if mode != "one_hot" and idx.ndim > 2:
        raise ValueError(f"{layer}: output_mode={mode!r} takes inputs of rank 1 or 2, got shape "
                         f"{idx.shape}")
    # dropped indices go to an extra last class, cut off after the one-hot
    hot = F.one_hot(Tensor.wrap(np.where(idx == _DROP, depth, idx)), depth + 1)[..., :depth]
    if mode != "one_hot":
        hot = F.sum(hot, axis=-2)
        if mode == "multi_hot":
            hot = F.minimum(hot, Tensor.wrap(np.ones((), np.int64)))
    return F.cast(hot, dtype)


class _StringInputLayer(Layer):
    """Calls run on data only (strings are no ember tensors; see ``refuse_symbolic``)."""

    def __call__(self, *args, **kwargs):
        refuse_symbolic(self, args, kwargs)
        kwargs.pop("training", None)
        return self.call(*args, **kwargs)

    def _sample_input(self):
        """A one-sample input, to build the layers after this one (a model loaded from a file,
        which records no input shape for a string input)."""
        return ["x"] if getattr(self, "_kind", "str") == "str" else [0]


class IndexLookup(_StringInputLayer):
    """Keras' ``IndexLookup``: the shared machinery of ``StringLookup`` and ``IntegerLookup``."""

    _kind = "str"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 sparse=False, pad_to_max_tokens=False, vocabulary_dtype=None, **kwargs):
        layer = type(self).__name__
        self._layer = layer
        oov_method, salt = kwargs.pop("oov_method", "floormod"), kwargs.pop("salt", None)
        for key in ("encoding", "vocabulary_size", "dtype"):
            kwargs.pop(key, None)       # Keras' config keys with nothing to do here
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"{layer}: if set, max_tokens must be greater than 1, got {max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{layer}: pad_to_max_tokens=True needs max_tokens")
        if num_oov_indices < 0:
            raise ValueError(f"{layer}: num_oov_indices must be >= 0, got {num_oov_indices}")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in _MODES:
            raise ValueError(f"{layer}: output_mode must be one of {_MODES}, got {output_mode!r}")
        if invert and output_mode != "int":
            raise ValueError(f"{layer}: invert=True needs output_mode='int', got {output_mode!r}")
        if sparse:
            raise ValueError(f"{layer}: sparse=True is not supported (ember has no sparse "
                             "tensors); use sparse=False")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{layer}: idf_weights is only for output_mode='tf_idf', got "
                             f"output_mode={output_mode!r}")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{layer}: oov_method must be 'floormod' or 'farmhash', got "
                             f"{oov_method!r}")
        if salt is not None:
            if self._kind == "int" and oov_method != "farmhash":
                raise ValueError(f"{layer}: salt needs oov_method='farmhash'")
            salt = [int(salt)] * 2 if isinstance(salt, (int, np.integer)) else list(salt)
            if len(salt) != 2:
                raise ValueError(f"{layer}: salt must be an int or a pair of ints, got {salt!r}")
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ValueError(f"{layer}: with a vocabulary in output_mode='tf_idf', give "
                             "idf_weights too")
        super().__init__(**kwargs)
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode = bool(invert), output_mode
        self.sparse, self.pad_to_max_tokens = False, bool(pad_to_max_tokens)
        self.oov_method, self.salt = oov_method, salt
        self._has_input_vocabulary = has_input_vocabulary
        self._tokens = self._array([])              # the learned / given tokens, in index order
        self._idf = None                            # float32 weights per index (tf_idf)
        self._frozen_vocab_size = None
        self.input_vocabulary = None
        self.input_idf_weights = None
        self.reset_state()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
            self.input_vocabulary, self.input_idf_weights = \
                self._as_list(vocabulary), self._as_list(idf_weights)

    def _array(self, values):
        return as_array(values, self._layer, self._kind).reshape(-1)

    @staticmethod
    def _as_list(x):
        if x is None:
            return None
        x = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
        return x.tolist()

    # -- indices -------------------------------------------------------------------------------------
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self):
        """The vocabulary's size, mask and OOV indices included."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True):
        """The tokens by index (the mask token first in 'int' mode, then the OOV token(s))."""
        specials = [self.mask_token] * self._oov_start_index() + \
            [self.oov_token] * self.num_oov_indices
        tokens = self._tokens.tolist()
        return specials + tokens if include_special_tokens else tokens

    # -- vocabulary ----------------------------------------------------------------------------------
    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Set the vocabulary (a list / 1-D array, with or without the special tokens at its
        start) and, for 'tf_idf', its idf weights (one per entry)."""
        layer = self._layer
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{layer}.set_vocabulary: idf_weights must be set for "
                             "output_mode='tf_idf'")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"{layer}.set_vocabulary: idf_weights is only for "
                             f"output_mode='tf_idf', got output_mode={self.output_mode!r}")
        if isinstance(vocabulary, str):
            raise ValueError(f"{layer}.set_vocabulary: vocabulary files are not supported; pass "
                             "the tokens as a list (e.g. open(path).read().splitlines())")
        vocab = self._array(vocabulary)
        if vocab.size == 0:
            raise ValueError(f"{layer}: cannot set an empty vocabulary")
        start = self._token_start_index()
        specials = [self.mask_token] * self._oov_start_index() + \
            [self.oov_token] * self.num_oov_indices
        found = len(vocab) >= start and vocab[:start].tolist() == specials
        tokens = vocab[start:] if found else vocab
        uniq, counts = np.unique(tokens, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"{layer}: the vocabulary repeats the terms {uniq[counts > 1].tolist()}; "
                             "give each term once")
        if self.mask_token is not None and (tokens == self.mask_token).any():
            raise ValueError(f"{layer}: the mask token {self.mask_token!r} is in the vocabulary at an "
                             f"unexpected place; leave it out or put the special tokens {specials} "
                             "first, in this order")
        if self.invert and self.oov_token is not None and (tokens == self.oov_token).any():
            raise ValueError(f"{layer}: the OOV token {self.oov_token!r} is in the vocabulary at an "
                             f"unexpected place; leave it out or put {specials} first")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError(f"{layer}: a vocabulary of size {start + len(tokens)} is larger than "
                             f"max_tokens={self.max_tokens}")
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            w = np.asarray(idf_weights.numpy() if hasattr(idf_weights, "numpy") else idf_weights,
                           np.float32)
            if w.ndim != 1 or len(w) != len(vocab):
                raise ValueError(f"{layer}: idf_weights must be 1-D with one weight per vocabulary "
                                 f"entry ({len(vocab)}), got shape {w.shape}")
            front = (0, 0.0) if found else (start, float(F.mean(Tensor.wrap(w)).item()))
            back = self.max_tokens - front[0] - len(w) if self.pad_to_max_tokens else 0
            self._idf = np.pad(w, (front[0], back), constant_values=(front[1], 0)).astype(np.float32)
        self._frozen_vocab_size = self.vocabulary_size()

    def _set_tokens(self, tokens):
        self._tokens = np.asarray(tokens)
        self._order = np.argsort(self._tokens, kind="stable")
        self._sorted = self._tokens[self._order]

    # -- adapt ---------------------------------------------------------------------------------------
    def reset_state(self):
        self._counts, self._doc_counts, self._num_documents = {}, {}, 0

    def adapt(self, data, steps=None):
        """Learn the vocabulary from ``data`` (an array / list of tokens, or an iterable of batches:
        a generator, an ember ``tf.data.Dataset``), most frequent first, Keras' order."""
        if self._has_input_vocabulary:
            raise ValueError(f"{self._layer}: cannot adapt a layer given a vocabulary (the "
                             "vocabulary argument or set_vocabulary())")
        self.reset_state()
        for batch in self._adapt_batches(data, steps):
            self.update_state(batch)
        self.finalize_state()

    def _adapt_batches(self, data, steps):
        if isinstance(data, (list, tuple, np.ndarray, Tensor, str)) or not hasattr(data, "__iter__"):
            arr = as_array(data, self._layer, self._kind)
            yield arr[:, None] if arr.ndim == 1 else arr
            return
        for i, batch in enumerate(data):
            if steps is not None and i >= steps:
                break
            yield batch

    def update_state(self, data):
        """Count the tokens of one batch (rows are documents, for the idf)."""
        arr = as_array(data, self._layer, self._kind)
        if arr.ndim < 2:
            arr = arr.reshape(1, -1)
        rows = np.repeat(np.arange(arr.shape[0]), int(np.prod(arr.shape[1:])))
        self._count(arr.reshape(-1), rows, arr.shape[0])

    def _count(self, flat, rows, n_rows):
        """Add the counts of the tokens ``flat`` (in documents ``rows`` of ``n_rows``)."""
        tokens, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
        for t, c in zip(tokens.tolist(), counts.tolist()):
            self._counts[t] = self._counts.get(t, 0) + c
        if self.output_mode == "tf_idf":
            pairs = np.unique(np.asarray(rows, np.int64) * len(tokens) + inverse.reshape(-1))
            docs = np.bincount(pairs % max(len(tokens), 1), minlength=len(tokens))
            for t, c in zip(tokens.tolist(), docs.tolist()):
                self._doc_counts[t] = self._doc_counts.get(t, 0) + c
            self._num_documents += int(n_rows)

    def finalize_state(self):
        if self._has_input_vocabulary or not self._counts:
            self._frozen_vocab_size = self.vocabulary_size()
            return
        counts = {t: c for t, c in self._counts.items() if t not in (self.mask_token, self.oov_token)}
        tokens = self._array(list(counts))
        n = np.asarray(list(counts.values()), np.int64)
        order = np.lexsort((tokens, n))[::-1]         # count, then token, both descending
        if self.max_tokens:
            order = order[:self.max_tokens - self._token_start_index()]
        self._set_tokens(tokens[order])
        if self.output_mode == "tf_idf":
            docs = np.asarray([self._doc_counts[t] for t in self._tokens.tolist()], np.float64)
            # Keras: log(1 + num_documents / (1 + document count)), in float64, then float32
            idf = F.log(Tensor.wrap(1.0 + self._num_documents / (1.0 + docs))).numpy()
            self._learned_idf = idf.astype(np.float32)
            idf = Tensor.wrap(self._learned_idf)
            front = float(F.mean(idf).item()) if len(self._tokens) else 0.0
            back = self.max_tokens - self.vocabulary_size() if self.pad_to_max_tokens else 0
            self._idf = np.pad(self._learned_idf, (self._token_start_index(), back),
                               constant_values=(front, 0)).astype(np.float32)
        self.reset_state()
        self._frozen_vocab_size = self.vocabulary_size()

    # -- call ----------------------------------------------------------------------------------------
    def _lookup(self, flat):
        """Indices (int64) of the tokens ``flat`` (a 1-D array), Keras' OOV and mask rules."""
        default = self._oov_start_index() if self.num_oov_indices == 1 else -1
        idx = np.full(flat.shape, default, np.int64)
        if len(self._tokens) and flat.size:
            pos = np.minimum(np.searchsorted(self._sorted, flat), len(self._sorted) - 1)
            hit = self._sorted[pos] == flat
            idx[hit] = self._order[pos[hit]] + self._token_start_index()
        if self.mask_token is not None:
            idx[flat == self.mask_token] = 0 if self.output_mode == "int" else _DROP
        if self.num_oov_indices == 0 and (idx == -1).any():
            raise ValueError(f"{self._layer}: with num_oov_indices=0 every input must be in the "
                             f"vocabulary; found OOV values {flat[idx == -1][:10].tolist()}. Fix: "
                             "num_oov_indices=1")
        if self.num_oov_indices > 1:
            oov = idx == -1
            if self._kind == "int" and self.oov_method == "floormod":
                bins = np.mod(flat[oov], self.num_oov_indices)
            else:
                bins = hash_bins(flat[oov], self.num_oov_indices, self.salt)
            idx[oov] = bins + self._oov_start_index()
        return idx

    def _invert(self, flat):
        ids = flat.astype(np.int64)
        vocab = np.asarray(self.get_vocabulary(), dtype=object)
        out = np.full(ids.shape, self.oov_token, dtype=object)
        ok = (ids >= self._token_start_index()) & (ids < len(vocab))
        out[ok] = vocab[ids[ok]]
        if self.mask_token is not None:
            out[ids == 0] = self.mask_token
        return out

    def _depth(self):
        if self.pad_to_max_tokens:
            return self.max_tokens
        if self._frozen_vocab_size is None:
            raise RuntimeError(f"{self._layer}: output_mode={self.output_mode!r} needs the "
                               "vocabulary before the call; pass vocabulary= or call adapt(data)")
        return self._frozen_vocab_size

    def call(self, inputs):
        """Look ``inputs`` up: (same shape) int64 indices, or the encoded (..., depth) tensor."""
        if self.invert:
            arr = as_array(inputs, self._layer, "int")
            out = self._invert(arr.reshape(-1)).reshape(arr.shape)
            return Tensor.wrap(out.astype(str) if self._kind == "str" else out.astype(np.int64))
        arr = as_array(inputs, self._layer, self._kind)
        return self._output(self._lookup(arr.reshape(-1)).reshape(arr.shape))

    def _output(self, idx):
        if self.output_mode == "int":
            return Tensor.wrap(idx)
        depth = self._depth()
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = encode(idx, mode, depth, "float32" if self.output_mode == "tf_idf" else "int64",
                     self._layer)
        if self.output_mode == "tf_idf":
            if self._idf is None:
                raise ValueError(f"{self._layer}: output_mode='tf_idf' needs idf_weights (or adapt)")
            out = F.mul(out, Tensor.wrap(self._idf[:depth]))
        return out

    def get_config(self):
        """Keras' config; the vocabulary (and idf weights) learned by ``adapt`` included."""
        vocab, idf = self.input_vocabulary, self.input_idf_weights
        if vocab is None and len(self._tokens):
            vocab = self._tokens.tolist()
            idf = None if self.output_mode != "tf_idf" else self._learned_idf.tolist()
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                "mask_token": self.mask_token, "output_mode": self.output_mode,
                "sparse": False, "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary": vocab, "idf_weights": idf,
                "vocabulary_dtype": "string" if self._kind == "str" else "int64",
                "oov_method": self.oov_method, "salt": self.salt}


class StringLookup(IndexLookup):
    """Map strings to integer indices from a vocabulary (Keras' ``StringLookup``).

    Indices: the mask token (``mask_token``, default None: no mask) is 0 in 'int' mode, then
    ``num_oov_indices`` (default 1) OOV indices ('[UNK]'), then the vocabulary.  ``output_mode``
    'int' (same shape as the input), 'one_hot', 'multi_hot', 'count', 'tf_idf' ((..., depth),
    depth = vocabulary size, or ``max_tokens`` with ``pad_to_max_tokens``); ``invert=True`` maps
    indices back to strings.
    """

    _kind = "str"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", **kwargs):
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, **kwargs)

    def get_config(self):
        return {**super().get_config(), "encoding": "utf-8"}


class IntegerLookup(IndexLookup):
    """Map integers to contiguous indices from a vocabulary (Keras' ``IntegerLookup``): as
    ``StringLookup`` with integer tokens, ``oov_token=-1``; with ``num_oov_indices > 1`` an OOV
    value ``v`` goes to OOV index ``v mod num_oov_indices`` (Keras' 'floormod').  Numbers are
    tensors too, so this one also works in a functional model on ``keras.Input(shape=(1,),
    dtype='int64')``."""

    _kind = "int"

    def __call__(self, *args, **kwargs):
        return Layer.__call__(self, *args, **kwargs)

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 output_mode="int", sparse=False, vocabulary=None, vocabulary_dtype="int64",
                 idf_weights=None, invert=False, **kwargs):
        if vocabulary_dtype not in ("int64", "int32", None):
            raise ValueError(f"IntegerLookup: vocabulary_dtype must be 'int64', got "
                             f"{vocabulary_dtype!r}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         sparse=sparse, **kwargs)


class CategoryEncoding(Layer):
    """Encode integer category ids (in [0, num_tokens)) as float32 'multi_hot' (default),
    'one_hot' or 'count' vectors of size ``num_tokens`` (Keras' ``CategoryEncoding``):
    (batch, n) -> (batch, num_tokens) ('one_hot' on (batch,) or (batch, 1) -> (batch,
    num_tokens)).  ``count_weights`` (same shape as the input) weights the 'count' output."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        output_mode = {"binary": "multi_hot"}.get(output_mode, output_mode)
        if output_mode not in ("one_hot", "multi_hot", "count"):
            raise ValueError(f"CategoryEncoding: output_mode must be 'one_hot', 'multi_hot' or "
                             f"'count', got {output_mode!r}")
        if num_tokens is None or isinstance(num_tokens, bool) or int(num_tokens) < 1:
            raise ValueError(f"CategoryEncoding: num_tokens must be a positive int, got "
                             f"{num_tokens!r}")
        if sparse:
            raise ValueError("CategoryEncoding: sparse=True is not supported (ember has no sparse "
                             "tensors); use sparse=False")
        self.num_tokens, self.output_mode, self.sparse = int(num_tokens), output_mode, False

    def call(self, inputs, count_weights=None):
        if isinstance(inputs, Tensor) and inputs.numpy().dtype.kind == "f":
            inputs = inputs.numpy().astype(np.int64)    # Keras casts the ids to int
        arr = as_array(inputs, "CategoryEncoding", "int")
        out = encode(arr, self.output_mode, self.num_tokens, "float32", "CategoryEncoding")
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError("CategoryEncoding: count_weights is only for output_mode='count'")
            w = count_weights.numpy() if hasattr(count_weights, "numpy") else count_weights
            w = Tensor.wrap(np.asarray(w, np.float32))
            hot = encode(arr, "one_hot", self.num_tokens, "float32", "CategoryEncoding") \
                if arr.ndim > 1 and arr.shape[-1] != 1 else None
            if hot is None or tuple(w.shape) != arr.shape:
                raise ValueError(f"CategoryEncoding: count_weights must have the input's shape "
                                 f"{arr.shape} (rank 2), got {tuple(w.shape)}")
            out = F.sum(F.mul(hot, F.expand_dims(w, -1)), axis=-2)
        return out

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode, "sparse": False}
