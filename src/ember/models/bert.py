"""BERT: the encoder and a sequence classifier, loadable from Hugging Face.

``BertModel`` mirrors ``transformers.BertModel`` module for module and name for name
(``embeddings.word_embeddings``, ``encoder.layer.0.attention.self.query``, ...), so a Hugging
Face ``model.safetensors`` loads by name; only ``Linear`` weights are transposed on the way in
(ember stores them (in, out), PyTorch (out, in)).  The architecture: word + absolute position +
token type embeddings, LayerNorm, dropout; then ``num_hidden_layers`` post-LayerNorm encoder
layers::

    a = LayerNorm(x + dropout(dense(self_attention(x, padding mask))))
    x = LayerNorm(a + dropout(dense(gelu(dense(a)))))

with attention through ``ember.functional.scaled_dot_product_attention`` (exact-erf GELU, as
BERT's ``hidden_act="gelu"``).

* ``BertModel.from_pretrained(folder)``: config.json + model.safetensors (no PyTorch needed).
* ``pool_hidden_states`` / ``mean_pooling``: sentence-transformers' pooling of hidden states.
* ``BertForSequenceClassification``: pooled [CLS] (BERT's pooler) or masked-mean pooling, dropout
  and a linear head; ``from_pretrained(folder, num_labels=...)``.

Sentence embeddings (``SentenceEncoder``) live in ``ember.models.sentence_encoder``; the mapping of
Hugging Face tensor names onto these modules is ``ember.io.hf.load_bert_weights``.
"""
import dataclasses
import os

from .. import ops as F
from ..autograd import is_grad_enabled
from ..backend import xp
from ..io import hf
from ..nn import init
from ..nn.checkpoint import checkpoint
from ..nn.layers import Dropout, Embedding, LayerNorm, Linear, ModuleList
from ..nn.module import Module
from ..tensor import Tensor

__all__ = ["BertConfig", "BertModel", "BertForSequenceClassification", "pool_hidden_states",
           "mean_pooling"]


# ================================================================================================
# Configuration
# ================================================================================================
_ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),                          # exact (erf), BERT's choice
    "gelu_new": lambda x: F.gelu(x, "tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, "tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


@dataclasses.dataclass
class BertConfig:
    """The sizes of a BERT model; field names and defaults (bert-base) as Hugging Face's."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"

    def __post_init__(self):
        self.validate()

    def validate(self, source="BertConfig"):
        """Raise ValueError (naming ``source``) for sizes that cannot make a BERT model."""
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{source}: {name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"{source}: hidden_size ({self.hidden_size}) must be divisible by "
                             f"num_attention_heads ({self.num_attention_heads})")
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(f"{source}: hidden_act {self.hidden_act!r} is not supported "
                             f"(known: {', '.join(_ACTIVATIONS)})")
        if self.position_embedding_type != "absolute":
            raise ValueError(f"{source}: position_embedding_type {self.position_embedding_type!r} "
                             "is not supported (only 'absolute')")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            p = getattr(self, name)
            if not 0.0 <= float(p) < 1.0:
                raise ValueError(f"{source}: {name} must be in [0, 1), got {p!r}")

    @classmethod
    def from_dict(cls, values, source="BertConfig.from_dict"):
        """A config from a dict such as a parsed config.json (unknown keys are ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in known and v is not None}
        config = cls.__new__(cls)
        for f in dataclasses.fields(cls):
            setattr(config, f.name, kwargs.get(f.name, f.default))
        config.validate(source)
        return config

    @classmethod
    def from_pretrained(cls, directory):
        """The config of a Hugging Face BERT folder (its config.json; another model_type is an
        error naming the file)."""
        raw = hf.read_config(directory, ("bert",), what="BertConfig.from_pretrained")
        return cls.from_dict(raw, source=f"BertConfig.from_pretrained: {directory}/config.json")

    def to_dict(self):
        return dataclasses.asdict(self)

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads


def _as_config(config, overrides, where):
    if isinstance(config, BertConfig):
        base = config.to_dict()
    elif isinstance(config, dict):
        base = dict(config)
    elif config is None:
        base = {}
    else:
        raise TypeError(f"{where}: config must be a BertConfig, a dict or None, got "
                        f"{type(config).__name__}")
    base.update(overrides)
    unknown = sorted(set(base) - {f.name for f in dataclasses.fields(BertConfig)})
    if unknown:
        raise TypeError(f"{where}: unknown BertConfig fields {unknown}")
    return BertConfig.from_dict(base, source=where)


# ================================================================================================
# Layers (names as transformers' BertModel, so that state-dict keys match)
# ================================================================================================
class BertEmbeddings(Module):
    """word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config):
        super().__init__()
        c = config
        self.word_embeddings = Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = Dropout(c.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids):
        T = input_ids.shape[1]
        positions = Tensor.wrap(xp.arange(T, dtype=xp.int64))
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(Module):
    """Multi-head self-attention with separate query/key/value projections (B, T, H) -> (B, T, H)."""

    def __init__(self, config):
        super().__init__()
        h = config.hidden_size
        self.num_attention_heads = config.num_attention_heads
        self.attention_dropout = float(config.attention_probs_dropout_prob)
        self.query = Linear(h, h)
        self.key = Linear(h, h)
        self.value = Linear(h, h)

    def forward(self, hidden, mask):
        B, T, H = hidden.shape
        nh = self.num_attention_heads
        d = H // nh

        def heads(t):                                  # (B, T, H) -> (B, heads, T, d)
            return F.transpose(F.reshape(t, (B, T, nh, d)), (0, 2, 1, 3))

        q, k, v = heads(self.query(hidden)), heads(self.key(hidden)), heads(self.value(hidden))
        p = self.attention_dropout if self.training else 0.0
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return F.reshape(F.transpose(context, (0, 2, 1, 3)), (B, T, H))


class _DenseResidualNorm(Module):
    """dense from ``in_features`` to hidden_size, dropout, residual, LayerNorm (post-LN): how both
    the attention block and the feed-forward block end."""

    def __init__(self, config, in_features):
        super().__init__()
        self.dense = Linear(in_features, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertSelfOutput(_DenseResidualNorm):
    """The attention block's end: dense (hidden -> hidden), dropout, residual, LayerNorm."""

    def __init__(self, config):
        super().__init__(config, config.hidden_size)


class BertAttention(Module):
    def __init__(self, config):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden, mask):
        return self.output(self.self(hidden, mask), hidden)


class BertIntermediate(Module):
    """dense to intermediate_size, then the activation (GELU)."""

    def __init__(self, config):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size)
        self.activation = _ACTIVATIONS[config.hidden_act]

    def forward(self, hidden):
        return self.activation(self.dense(hidden))


class BertOutput(_DenseResidualNorm):
    """The feed-forward block's end: dense back to hidden_size, dropout, residual, LayerNorm."""

    def __init__(self, config):
        super().__init__(config, config.intermediate_size)


class BertLayer(Module):
    """One post-LayerNorm encoder layer: attention block, then feed-forward block."""

    def __init__(self, config):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden, mask=None):
        a = self.attention(hidden, mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(Module):
    """The stack of BertLayers.  ``gradient_checkpointing = True`` recomputes each layer's
    activations in backward (``ember.nn.checkpoint``) instead of keeping them."""

    def __init__(self, config):
        super().__init__()
        self.layer = ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])
        self.gradient_checkpointing = False

    def forward(self, hidden, mask=None):
        recompute = self.gradient_checkpointing and is_grad_enabled()
        for layer in self.layer:
            hidden = checkpoint(layer, hidden, mask) if recompute else layer(hidden, mask)
        return hidden


class BertPooler(Module):
    """tanh(dense(hidden state of the first token, [CLS]))."""

    def __init__(self, config):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden):
        return F.tanh(self.dense(hidden[:, 0]))


# ================================================================================================
# Inputs
# ================================================================================================
def _int_array(x, name, where):
    arr = x.data if isinstance(x, Tensor) else xp.asarray(x)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{where}: {name} must hold integers, got dtype {arr.dtype}")
    return arr.astype(xp.int64, copy=False)


def _check_inputs(config, input_ids, attention_mask, token_type_ids, where):
    """(ids, boolean keep-mask or None, token types) as int64/bool arrays, checked."""
    ids = _int_array(input_ids, "input_ids", where)
    if ids.ndim == 1:
        ids = ids[None, :]
    if ids.ndim != 2:
        raise ValueError(f"{where}: input_ids must have shape (batch, seq), got {ids.shape}")
    B, T = ids.shape
    if T == 0:
        raise ValueError(f"{where}: input_ids has an empty sequence axis (shape {ids.shape})")
    if T > config.max_position_embeddings:
        raise ValueError(f"{where}: input_ids has {T} tokens, more than max_position_embeddings "
                         f"= {config.max_position_embeddings}; truncate the sequences first")
    if ids.size and (ids.min() < 0 or ids.max() >= config.vocab_size):
        raise ValueError(f"{where}: input_ids must be in [0, {config.vocab_size}) (vocab_size), "
                         f"got values in [{ids.min()}, {ids.max()}]")
    keep = None
    if attention_mask is not None:
        m = attention_mask.data if isinstance(attention_mask, Tensor) else xp.asarray(attention_mask)
        if m.dtype.kind not in "iubf":
            raise TypeError(f"{where}: attention_mask must hold 1 (token) / 0 (padding), got "
                            f"dtype {m.dtype}")
        if m.ndim == 1:
            m = m[None, :]
        if m.shape != (B, T):
            raise ValueError(f"{where}: attention_mask must have the shape of input_ids {(B, T)}, "
                             f"got {m.shape}")
        keep = m != 0
    if token_type_ids is None:
        types = xp.zeros((B, T), dtype=xp.int64)
    else:
        types = _int_array(token_type_ids, "token_type_ids", where)
        if types.ndim == 1:
            types = types[None, :]
        if types.shape != (B, T):
            raise ValueError(f"{where}: token_type_ids must have the shape of input_ids {(B, T)}, "
                             f"got {types.shape}")
        if types.size and (types.min() < 0 or types.max() >= config.type_vocab_size):
            raise ValueError(f"{where}: token_type_ids must be in [0, {config.type_vocab_size}), "
                             f"got values in [{types.min()}, {types.max()}]")
    return ids, keep, types


# ================================================================================================
# Initialisation
# ================================================================================================
def _init_bert_weights(module, std):
    """Hugging Face's BERT initialisation: N(0, std) weights, zero biases, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, Linear):
            init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, Embedding):
            init.normal_(m.weight, 0.0, std)
            if m.padding_idx is not None:
                m.weight.data[m.padding_idx] = 0
        elif isinstance(m, LayerNorm):
            m.reset_parameters()


# ================================================================================================
# BertModel
# ================================================================================================
class BertModel(Module):
    """The BERT encoder.

    ``BertModel(config=None, add_pooling_layer=True, **fields)``: ``config`` a BertConfig or dict
    (defaults: bert-base), ``fields`` override single values (``BertModel(hidden_size=64,
    num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)``).  Weights start as
    Hugging Face initialises them (N(0, initializer_range)).

    ``model(input_ids, attention_mask=None, token_type_ids=None)`` -> last hidden states
    (batch, seq, hidden_size).  ``input_ids`` (batch, seq) integers; ``attention_mask`` (batch,
    seq) 1 for real tokens and 0 for padding (padding keys are ignored by attention); token types
    default to 0.  ``model.pooler(hidden)`` gives BERT's pooled [CLS] output (batch, hidden).
    """

    def __init__(self, config=None, add_pooling_layer=True, **fields):
        super().__init__()
        config = _as_config(config, fields, "BertModel")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        _init_bert_weights(self, config.initializer_range)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        ids, keep, types = _check_inputs(self.config, input_ids, attention_mask, token_type_ids,
                                         type(self).__name__)
        mask = None
        if keep is not None and not keep.all():
            # (B, 1, 1, T): every query may look at the real tokens only (True = take part).
            mask = Tensor.wrap(keep[:, None, None, :])
        hidden = self.embeddings(Tensor.wrap(ids), Tensor.wrap(types))
        return self.encoder(hidden, mask)

    # -- gradient checkpointing ------------------------------------------------------------------
    def gradient_checkpointing_enable(self):
        """Recompute each encoder layer's activations in backward (less memory, ~1 extra forward)."""
        self.encoder.gradient_checkpointing = True
        return self

    def gradient_checkpointing_disable(self):
        self.encoder.gradient_checkpointing = False
        return self

    @property
    def is_gradient_checkpointing(self):
        return self.encoder.gradient_checkpointing

    # -- config ----------------------------------------------------------------------------------
    def get_config(self):
        return {"config": self.config.to_dict(), "add_pooling_layer": self.pooler is not None}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def extra_repr(self):
        c = self.config
        return (f"hidden_size={c.hidden_size}, num_hidden_layers={c.num_hidden_layers}, "
                f"num_attention_heads={c.num_attention_heads}, vocab_size={c.vocab_size}")

    # -- Hugging Face folders --------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory, add_pooling_layer=None):
        """A BertModel with the weights of the Hugging Face folder ``directory``.

        Reads config.json (model_type must be 'bert') and model.safetensors (or its shards).
        ``add_pooling_layer=None`` keeps the pooler when the file has its weights.  The model is
        returned in eval mode (dropout off), as transformers does; call ``.train()`` to
        fine-tune.  Errors
        (ModelFolderError) name the file and the problem: missing files, another architecture,
        unknown or missing weight names (all listed), shapes that disagree with the config.
        """
        where = f"{cls.__name__}.from_pretrained"
        model, _, _ = cls._from_folder(directory, add_pooling_layer, where)
        return model

    @classmethod
    def _from_folder(cls, directory, add_pooling_layer, where, prefix="", wrap=None):
        raw = hf.read_config(directory, ("bert",), what=where)
        config_path = os.path.join(os.fspath(directory), "config.json")
        config = BertConfig.from_dict(raw, source=f"{where}: {config_path}")
        arrays, origin = hf.read_weights(directory, what=where)
        has_pooler = any(hf.bert_canonical_name(n).endswith("pooler.dense.weight") for n in arrays)
        if add_pooling_layer is None:
            add_pooling_layer = has_pooler
        model = cls(config, add_pooling_layer=bool(add_pooling_layer))
        target = model if wrap is None else wrap(model)
        optional = {f"{prefix}pooler.dense.weight", f"{prefix}pooler.dense.bias"}
        if wrap is not None:
            optional |= {k for k in target.state_dict() if not k.startswith(prefix)}
        hf.load_bert_weights(target, arrays, origin, where, prefix=prefix, optional=optional,
                             config_path=config_path)
        target.eval()           # as transformers: a loaded model starts in eval mode
        return model, target, arrays


# ================================================================================================
# Pooling
# ================================================================================================
def _keep_mask(attention_mask, shape, dtype):
    if attention_mask is None:
        return xp.ones(shape[:2], dtype=dtype)
    m = attention_mask.data if isinstance(attention_mask, Tensor) else xp.asarray(attention_mask)
    if m.shape != tuple(shape[:2]):
        raise ValueError(f"pool_hidden_states: attention_mask must have shape (batch, seq) = "
                         f"{tuple(shape[:2])}, got {m.shape}")
    return (m != 0).astype(dtype)


def mean_pooling(hidden, attention_mask=None):
    """The mean of ``hidden`` (B, T, H) over the real tokens (attention_mask 1) -> (B, H)."""
    return pool_hidden_states(hidden, attention_mask, ("mean",))


def pool_hidden_states(hidden, attention_mask=None, modes=("mean",)):
    """sentence-transformers' Pooling: (B, T, H) hidden states -> (B, H * len(modes)).

    Modes (concatenated in the order given): ``cls`` (first token), ``max`` (over real tokens),
    ``mean`` (over real tokens), ``mean_sqrt_len`` (sum / sqrt(count)), ``weighted_mean``
    (position-weighted mean, weights 1..T), ``last_token`` (the last real token; right padding).
    Differentiable.
    """
    m = _keep_mask(attention_mask, hidden.shape, hidden.dtype)          # (B, T)
    m3 = Tensor.wrap(m[:, :, None])
    pieces = []
    for mode in modes:
        if mode == "cls":
            pieces.append(hidden[:, 0])
        elif mode == "max":
            masked = F.where(Tensor.wrap(m[:, :, None] > 0), hidden, -1e9)
            pieces.append(F.max(masked, axis=1))
        elif mode in ("mean", "mean_sqrt_len"):
            total = F.sum(hidden * m3, axis=1)
            count = xp.maximum(m.sum(axis=1, keepdims=True), 1e-9)
            denom = count if mode == "mean" else xp.sqrt(count)
            pieces.append(total / Tensor.wrap(denom.astype(hidden.dtype)))
        elif mode == "weighted_mean":
            w = m * xp.arange(1, m.shape[1] + 1, dtype=m.dtype)[None, :]
            total = F.sum(hidden * Tensor.wrap(w[:, :, None]), axis=1)
            denom = xp.maximum(w.sum(axis=1, keepdims=True), 1e-9)
            pieces.append(total / Tensor.wrap(denom))
        elif mode == "last_token":
            last = xp.maximum(m.sum(axis=1).astype(xp.int64) - 1, 0)
            pieces.append(hidden[xp.arange(m.shape[0]), last])
        else:
            raise ValueError(f"pool_hidden_states: unknown pooling mode {mode!r} (known: cls, max, "
                             "mean, mean_sqrt_len, weighted_mean, last_token)")
    return pieces[0] if len(pieces) == 1 else F.concatenate(pieces, axis=-1)


# ================================================================================================
# Sequence classification
# ================================================================================================
class BertForSequenceClassification(Module):
    """A BERT encoder, pooling, dropout and a linear head: ``model(input_ids, attention_mask=None,
    token_type_ids=None)`` -> logits (batch, num_labels).

    ``BertForSequenceClassification(config_or_encoder=None, num_labels=2, pooling="cls",
    dropout=0.1)``: the first argument is a BertConfig / dict (a fresh, randomly initialised
    encoder) or a BertModel (e.g. pretrained).  ``pooling="cls"``: BERT's pooler (tanh(dense) of
    the [CLS] state; the raw [CLS] state when the encoder has no pooler); ``"mean"``: the mean of
    the real tokens' states.  The head is Linear(hidden, num_labels), initialised N(0, 0.02).
    Sub-module names match transformers' (``bert.``, ``classifier``), so its weights load too.
    """

    def __init__(self, config_or_encoder=None, num_labels=2, pooling="cls", dropout=0.1):
        super().__init__()
        if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels <= 0:
            raise ValueError(f"BertForSequenceClassification: num_labels must be a positive int, "
                             f"got {num_labels!r}")
        if pooling not in ("cls", "mean"):
            raise ValueError(f"BertForSequenceClassification: pooling must be 'cls' or 'mean', got "
                             f"{pooling!r}")
        if isinstance(config_or_encoder, BertModel):
            encoder = config_or_encoder
        else:
            encoder = BertModel(config_or_encoder)
        self.bert = encoder
        self.dropout = Dropout(dropout)
        self.classifier = Linear(encoder.config.hidden_size, num_labels)
        init.normal_(self.classifier.weight, 0.0, encoder.config.initializer_range)
        init.zeros_(self.classifier.bias)
        self.num_labels = num_labels
        self.pooling = pooling

    @property
    def config(self):
        return self.bert.config

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        if self.pooling == "mean":
            pooled = pool_hidden_states(hidden, attention_mask, ("mean",))
        elif self.bert.pooler is not None:
            pooled = self.bert.pooler(hidden)
        else:
            pooled = hidden[:, 0]
        return self.classifier(self.dropout(pooled))

    def get_config(self):
        return {"config_or_encoder": self.bert.config.to_dict(), "num_labels": self.num_labels,
                "pooling": self.pooling, "dropout": self.dropout.p}

    @classmethod
    def from_pretrained(cls, directory, num_labels=2, pooling="cls", dropout=0.1):
        """The pretrained encoder of ``directory`` with a new head.  A folder saved from
        transformers' BertForSequenceClassification (``bert.*`` and ``classifier.*`` weights)
        loads whole; its head must then have ``num_labels`` outputs (else a shape error)."""
        where = f"{cls.__name__}.from_pretrained"

        def wrap(encoder):
            return cls(encoder, num_labels=num_labels, pooling=pooling, dropout=dropout)

        _, model, arrays = BertModel._from_folder(directory, None, where, prefix="bert.",
                                                  wrap=wrap)
        return model

    def extra_repr(self):
        return f"num_labels={self.num_labels}, pooling={self.pooling!r}"
