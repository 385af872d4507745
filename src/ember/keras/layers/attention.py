"""Attention layers with Keras' arguments, weight layouts and masks: ``MultiHeadAttention``,
``Attention`` (dot-product, Luong) and ``AdditiveAttention`` (Bahdanau)."""
import math

import numpy as np

from ... import functional as F
from ...tensor import Tensor
from .. import initializers as _initializers
from .. import masking as _masking
from ._arguments import as_float_input, no_unsupported, positive_int
from .base import Layer

__all__ = ["MultiHeadAttention", "Attention", "AdditiveAttention"]

_LARGE_NEGATIVE = -1e9      # what Keras' masked softmax puts on masked float32 scores


def _bool_mask(m, what):
    if m is None:
        return None
    m = m if isinstance(m, Tensor) else Tensor.wrap(np.asarray(m))
    if m.data.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected a boolean mask (True = attend / a real step), got dtype "
                        f"{m.data.dtype}")
    if m.data.dtype != np.bool_:
        m = F.greater(m, 0.5) if m.data.dtype.kind == "f" else F.not_equal(m, 0)
    return m


class MultiHeadAttention(Layer):
    """Multi-head attention (Keras' ``MultiHeadAttention``, "Attention Is All You Need").

    ``layer(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)`` with query (B, T, dim), value (B, S, dim_v) and key
    (B, S, dim_k) (default: value).  Each is projected to ``num_heads`` heads of ``key_dim``
    (values: ``value_dim``, default key_dim); scores are ``q . k / sqrt(key_dim)``, softmaxed over
    the S keys (``dropout`` on the attention weights in training), the heads' outputs are projected
    back to ``output_shape`` features (default: the query's).  Returns (B, T, output_shape), and
    the attention weights (B, num_heads, T, S) too with ``return_attention_scores``.

    Masks: ``attention_mask`` (B, T, S) boolean, True where query t may attend to key s;
    ``use_causal_mask`` lets query t see keys s <= t; the masks that come with query / value / key
    (``Embedding(mask_zero=True)``) mask padded queries and keys, as Keras.  The output carries
    the query's mask.

    Weights, in Keras' order and layout (so Keras' ``get_weights()`` loads with ``set_weights``):
    query kernel (dim, heads, key_dim) and bias (heads, key_dim), key kernel / bias, value kernel
    (dim_v, heads, value_dim) / bias, output kernel (heads, value_dim, out) and bias (out).  They
    are created on the first call (the query and value feature sizes are needed).
    Only 3-D inputs and the default ``attention_axes`` are supported.
    """
    supports_masking = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 seed=None, **kwargs):
        for key in ("flash_attention", "sliding_window", "use_gate"):
            value = kwargs.pop(key, None)
            if value:
                raise NotImplementedError(f"MultiHeadAttention: {key}={value!r} is not supported")
        super().__init__(**kwargs)
        no_unsupported("MultiHeadAttention", kernel_regularizer=kernel_regularizer,
                       bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                       kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        where = "MultiHeadAttention"
        self.num_heads = positive_int(num_heads, "num_heads", where)
        self.key_dim = positive_int(key_dim, "key_dim", where)
        self.value_dim = positive_int(value_dim, "value_dim", where) if value_dim else self.key_dim
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or \
                not 0.0 <= dropout < 1.0:
            raise ValueError(f"{where}: dropout must be a fraction in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        if output_shape is not None and not isinstance(output_shape, (int, np.integer)):
            shape = tuple(output_shape)
            if len(shape) != 1:
                raise NotImplementedError(f"{where}: output_shape={output_shape!r}; only one output "
                                          "axis (an int) is supported")
            output_shape = shape[0]
        self.output_shape = None if output_shape is None else \
            positive_int(output_shape, "output_shape", where)
        if attention_axes is not None and tuple(np.atleast_1d(attention_axes)) not in ((1,), (-2,)):
            raise NotImplementedError(f"{where}: attention_axes={attention_axes!r}; only the default "
                                      "(attention over the time axis of 3-D inputs) is supported")
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.seed = seed
        self._dims = None

    # -- weights --------------------------------------------------------------------------------------
    def _create_weights(self, dq, dv, dk):
        H, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out = self.output_shape or dq
        for name, d, n in (("query", dq, kd), ("key", dk, kd), ("value", dv, vd)):
            self.add_weight(name=f"{name}_kernel", shape=(d, H, n), initializer=self.kernel_initializer)
            if self.use_bias:
                self.add_weight(name=f"{name}_bias", shape=(H, n), initializer=self.bias_initializer)
        self.add_weight(name="output_kernel", shape=(H, vd, out), initializer=self.kernel_initializer)
        if self.use_bias:
            self.add_weight(name="output_bias", shape=(out,), initializer=self.bias_initializer)
        self._dims = (dq, dv, dk)

    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the weights from the query, value (default: query) and key (default: value)
        shapes (Keras' ``build``); a first call does it by itself."""
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        if self._dims is None:
            self._create_weights(int(query_shape[-1]), int(value_shape[-1]), int(key_shape[-1]))
        super().build(query_shape)

    def _project(self, x, name):
        y = F.einsum("btd,dhk->bthk", x, self._parameters[f"{name}_kernel"])
        bias = self._parameters.get(f"{name}_bias")
        return y if bias is None else y + bias

    # -- calling --------------------------------------------------------------------------------------
    def __call__(self, query, value=None, *args, **kwargs):
        # Layer.__call__ builds from the first input only; MultiHeadAttention needs all three
        if value is None and "value" not in kwargs:
            raise TypeError(f"MultiHeadAttention {self.name!r}: call it as layer(query, value) "
                            "(self-attention: layer(x, x))")
        if value is not None:
            args = (value,) + args
        if not self.built:
            value_ = args[0] if args else kwargs["value"]
            key_ = kwargs.get("key", args[1] if len(args) > 1 else None)
            self.build(tuple(query.shape), tuple(value_.shape),
                       None if key_ is None else tuple(key_.shape))
        return super().__call__(query, *args, **kwargs)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        q_in, v_in = as_float_input(query), as_float_input(value)
        k_in = v_in if key is None else as_float_input(key)
        for what, t in (("query", q_in), ("value", v_in), ("key", k_in)):
            if t.ndim != 3:
                raise ValueError(f"MultiHeadAttention {self.name!r}: {what} must be 3-D (batch, "
                                 f"sequence, features), got shape {tuple(t.shape)}")
        if self._dims is None:
            self._create_weights(q_in.shape[-1], v_in.shape[-1], k_in.shape[-1])
        dims = (q_in.shape[-1], v_in.shape[-1], k_in.shape[-1])
        if dims != self._dims:
            raise ValueError(f"MultiHeadAttention {self.name!r}: built for (query, value, key) "
                             f"features {self._dims}, got {dims}")
        mask = self._attention_mask(q_in, v_in, query, value, key, query_mask, value_mask,
                                    key_mask, attention_mask, use_causal_mask)
        q = self._project(q_in, "query")                 # (B, T, H, kd)
        k = self._project(k_in, "key")                   # (B, S, H, kd)
        v = self._project(v_in, "value")                 # (B, S, H, vd)
        training = self.training if training is None else bool(training)
        scale = 1.0 / math.sqrt(self.key_dim)
        heads_first = (0, 2, 1, 3)
        if return_attention_scores or (training and self.dropout > 0):
            scores = F.einsum("bshk,bthk->bhts", k, q * scale)
            if mask is not None:
                scores = F.where(F.reshape(mask, (mask.shape[0], 1) + tuple(mask.shape[1:])),
                                 scores, _LARGE_NEGATIVE)
            weights = F.softmax(scores, axis=-1)
            dropped = F.dropout(weights, self.dropout, training) if self.dropout else weights
            heads = F.einsum("bhts,bshk->bthk", dropped, v)
        else:
            m = None
            if mask is not None:     # additive, as Keras: a fully masked row averages every key
                m = F.where(F.reshape(mask, (mask.shape[0], 1) + tuple(mask.shape[1:])), 0.0,
                            _LARGE_NEGATIVE)
            heads = F.transpose(F.scaled_dot_product_attention(
                F.transpose(q, *heads_first), F.transpose(k, *heads_first),
                F.transpose(v, *heads_first), attn_mask=m, scale=scale), *heads_first)
        out = F.einsum("bthk,hko->bto", heads, self._parameters["output_kernel"])
        bias = self._parameters.get("output_bias")
        if bias is not None:
            out = out + bias
        if return_attention_scores:
            return out, weights
        return out

    def _attention_mask(self, q_in, v_in, query, value, key, query_mask, value_mask, key_mask,
                        attention_mask, use_causal_mask):
        """The (B, T, S) boolean mask of allowed (query, key) pairs, or None (Keras' rule: the
        query, value and key masks, the causal mask and ``attention_mask`` all AND-ed)."""
        query_mask = _bool_mask(query_mask if query_mask is not None else _masking.mask_of(query),
                                "query_mask")
        value_mask = _bool_mask(value_mask if value_mask is not None else _masking.mask_of(value),
                                "value_mask")
        key_mask = _bool_mask(key_mask if key_mask is not None or key is None
                              else _masking.mask_of(key), "key_mask")
        B, T, S = q_in.shape[0], q_in.shape[1], v_in.shape[1]
        parts = []
        if query_mask is not None:
            parts.append(F.reshape(query_mask, (B, T, 1)))
        for m in (value_mask, key_mask):
            if m is not None:
                parts.append(F.reshape(m, (B, 1, S)))
        if use_causal_mask:
            parts.append(Tensor.wrap(np.tril(np.ones((1, T, S), dtype=bool))))
        if attention_mask is not None:
            am = _bool_mask(attention_mask, "attention_mask")
            if am.ndim == 2:
                am = F.reshape(am, (1,) + tuple(am.shape))
            if tuple(am.shape[-2:]) != (T, S):
                raise ValueError(f"MultiHeadAttention {self.name!r}: attention_mask must have shape "
                                 f"(batch, {T}, {S}) (query steps, key steps), got "
                                 f"{tuple(am.shape)}")
            parts.append(am)
        if not parts:
            return None
        mask = parts[0]
        for m in parts[1:]:
            mask = F.logical_and(mask, m)
        return F.broadcast_to(mask, (B, T, S))

    def compute_mask(self, inputs, mask=None):
        """The query's mask (Keras)."""
        return mask

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self.output_shape, "attention_axes": None,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "seed": self.seed}

    def extra_repr(self):
        return f"num_heads={self.num_heads}, key_dim={self.key_dim}, name={self.name!r}"


class Attention(Layer):
    """Dot-product (Luong) attention, Keras' ``Attention``: ``layer([query, value])`` or
    ``layer([query, value, key])`` (key defaults to value), query (B, Tq, dim), value (B, Tv, dim_v),
    key (B, Tv, dim).

    scores = query @ key^T (``score_mode='dot'``, times a learned scalar ``scale`` with
    ``use_scale``) or concat_score_weight * sum(tanh(query_i + key_j)) (``score_mode='concat'``);
    softmax over Tv (``dropout`` on the weights in training); output = weights @ value,
    (B, Tq, dim_v); with ``return_attention_scores`` also the weights (B, Tq, Tv).

    Masks: ``mask=[query_mask, value_mask]`` or the masks that come with the inputs
    (``Embedding(mask_zero=True)``): padded values get no weight, padded queries give zeros and
    the output carries the query's mask; ``use_causal_mask`` lets query i see values j <= i.
    """
    supports_masking = True
    _score_modes = ("dot", "concat")

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        where = type(self).__name__
        if score_mode not in self._score_modes:
            raise ValueError(f"{where}: score_mode={score_mode!r}; expected 'dot' or 'concat'")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or \
                not 0.0 <= dropout < 1.0:
            raise ValueError(f"{where}: dropout must be a fraction in [0, 1), got {dropout!r}")
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout, self.seed = float(dropout), seed
        self._weights_made = False

    def _make_weights(self, dim):
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(),
                                                       initializer="ones")

    def _scores(self, q, k):
        if self.score_mode == "dot":
            scores = F.matmul(q, F.transpose(k, 0, 2, 1))
            return scores * self.scale if self.use_scale else scores
        pairs = F.expand_dims(q, -2) + F.expand_dims(k, -3)          # (B, Tq, Tv, dim)
        if self.use_scale:
            pairs = pairs * self.scale
        return F.sum(F.tanh(pairs), axis=-1) * self.concat_score_weight

    def _inputs(self, inputs, mask):
        where = f"{type(self).__name__} {self.name!r}"
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{where}: call it on a list [query, value] or [query, value, key], "
                             f"got {type(inputs).__name__}")
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(f"{where}: mask must be a list [query_mask, value_mask], got {mask!r}")
        masks = list(mask) if mask is not None else [_masking.mask_of(t) for t in inputs[:2]]
        q, v = as_float_input(inputs[0]), as_float_input(inputs[1])
        k = as_float_input(inputs[2]) if len(inputs) > 2 else v
        for what, t in (("query", q), ("value", v), ("key", k)):
            if t.ndim != 3:
                raise ValueError(f"{where}: {what} must be 3-D (batch, steps, features), got shape "
                                 f"{tuple(t.shape)}")
        if q.shape[-1] != k.shape[-1]:
            raise ValueError(f"{where}: query and key must have the same features, got "
                             f"{q.shape[-1]} and {k.shape[-1]}")
        return q, v, k, _bool_mask(masks[0], "query_mask"), _bool_mask(masks[1], "value_mask")

    def call(self, inputs, mask=None, training=None, return_attention_scores=False,
             use_causal_mask=False):
        q, v, k, q_mask, v_mask = self._inputs(inputs, mask)
        if not self._weights_made:
            self._make_weights(q.shape[-1])
            self._weights_made = True
        scores = self._scores(q, k)                                   # (B, Tq, Tv)
        allowed = None if v_mask is None else F.expand_dims(v_mask, -2)
        if use_causal_mask:
            causal = Tensor.wrap(np.tril(np.ones((1,) + tuple(scores.shape[1:]), dtype=bool)))
            allowed = causal if allowed is None else F.logical_and(allowed, causal)
        if allowed is not None:
            # Keras subtracts 1e9 from the scores of masked values
            scores = F.where(allowed, scores, scores - 1e9)
        weights = F.softmax(scores, axis=-1)
        training = self.training if training is None else bool(training)
        dropped = F.dropout(weights, self.dropout, True) if training and self.dropout else weights
        out = F.matmul(dropped, v)
        if q_mask is not None:
            out = out * F.cast(F.expand_dims(q_mask, -1), "float32")
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs, mask=None):
        """The query's mask (Keras)."""
        if mask is not None:
            return mask[0] if isinstance(mask, (list, tuple)) else None
        return _masking.mask_of(inputs[0]) if isinstance(inputs, (list, tuple)) and inputs else None

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention, Keras' ``AdditiveAttention``: as ``Attention`` with
    scores = sum(scale * tanh(query_i + key_j)) over the features, ``scale`` a learned (dim,)
    vector (Glorot-uniform; ``use_scale=True`` by default, else 1)."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def _make_weights(self, dim):
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(dim,), initializer="glorot_uniform")

    def _scores(self, q, k):
        t = F.tanh(F.expand_dims(q, -2) + F.expand_dims(k, -3))       # (B, Tq, Tv, dim)
        return F.sum(t * self.scale if self.use_scale else t, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
