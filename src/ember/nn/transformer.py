"""Transformer blocks: ``TransformerEncoderLayer`` (PyTorch's) and a GPT-style ``DecoderBlock``.

Both are batch-first by default ((N, L, d_model)) and use ``MultiheadAttention`` (separate
``q_proj``/``k_proj``/``v_proj``/``out_proj`` Linears, weights stored (in, out); see
``ember.nn.attention`` for how to copy PyTorch's packed ``in_proj_weight``).
"""
from .. import ops as F
from ..backend import xp
from ..tensor import Tensor
from .attention import MultiheadAttention
from .layers import GELU, Dropout, LayerNorm, Linear, Sequential
from .module import Module

__all__ = ["TransformerEncoderLayer", "DecoderBlock"]


def _activation(activation):
    if callable(activation) and not isinstance(activation, str):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise ValueError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, got {activation!r}")


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward network, each with a residual connection, as
    ``torch.nn.TransformerEncoderLayer``:

    * post-LN (default): ``x = norm1(x + sa(x)); x = norm2(x + ff(x))``;
    * pre-LN (``norm_first=True``): ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``;

    with ``sa(x) = dropout1(self_attn(x, x, x))`` and
    ``ff(x) = dropout2(linear2(dropout(activation(linear1(x)))))``.  ``dropout`` is also the
    attention-weight dropout.  Sub-modules carry PyTorch's names (self_attn, linear1, dropout,
    linear2, norm1, norm2, dropout1, dropout2); Linear weights are stored (in, out).

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: masks as in
    ``MultiheadAttention`` (boolean True = masked out / padding).  ``is_causal=True`` without a
    ``src_mask`` applies the causal mask.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=True, norm_first=False, bias=True):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.norm_first = bool(norm_first)
        # a Module activation is registered as a child; a function (F.relu, ...) is an attribute
        self.activation = activation if isinstance(activation, Module) else _activation(activation)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x, _ = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                              need_weights=False, is_causal=is_causal)
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class DecoderBlock(Module):
    """A pre-LayerNorm GPT-2 style block with causal self-attention:

    ``x = x + dropout(attn(ln_1(x)))`` (causal), then ``x = x + mlp(ln_2(x))`` with
    ``mlp = Sequential(Linear(d, mlp_ratio * d), GELU(), Linear(mlp_ratio * d, d), Dropout)``.

    ``dropout`` is used for the attention weights and for both residual branches.  ``bias=False``
    drops the biases of every Linear and LayerNorm (as nanoGPT).  ``forward(x, attn_mask=None)``:
    x (N, L, d_model); the causal mask is always applied, and ``attn_mask`` (MultiheadAttention's
    convention: boolean True = masked out, or float added; shape (L, L) or (N * n_head, L, L))
    is combined with it.
    """

    def __init__(self, d_model, n_head, dropout=0.0, bias=True, mlp_ratio=4):
        super().__init__()
        hidden = int(mlp_ratio * d_model)
        self.ln_1 = LayerNorm(d_model, bias=bias)
        self.attn = MultiheadAttention(d_model, n_head, dropout=dropout, bias=bias)
        self.drop = Dropout(dropout)
        self.ln_2 = LayerNorm(d_model, bias=bias)
        self.mlp = Sequential(Linear(d_model, hidden, bias=bias), GELU(),
                              Linear(hidden, d_model, bias=bias), Dropout(dropout))

    def forward(self, x, attn_mask=None):
        h = self.ln_1(x)
        if attn_mask is None:
            a, _ = self.attn(h, is_causal=True)
        else:
            L = x.shape[-2]
            future = xp.triu(xp.ones((L, L), dtype=bool), 1)
            m = attn_mask if isinstance(attn_mask, Tensor) else Tensor.wrap(xp.asarray(attn_mask))
            if m.dtype == xp.bool_:
                m = Tensor.wrap(m.data | future)
            else:
                m = m + Tensor.wrap(xp.where(future, -xp.inf, 0.0).astype(m.dtype))
            a, _ = self.attn(h, attn_mask=m)
        x = x + self.drop(a)
        return x + self.mlp(self.ln_2(x))
