"""Multi-head attention (``torch.nn.MultiheadAttention``'s interface, batch-first by default).

Parameters: four ``Linear`` sub-modules, **not** PyTorch's packed ``in_proj_weight``:

* ``q_proj``: Linear(embed_dim, embed_dim), ``k_proj``: Linear(kdim, embed_dim),
  ``v_proj``: Linear(vdim, embed_dim), ``out_proj``: Linear(embed_dim, embed_dim);

each weight stored ``(in, out)`` (``x @ W + b``).  From a PyTorch module ``m`` with
``kdim == vdim == embed_dim``: ``q_proj.weight = m.in_proj_weight[:E].T``,
``k_proj.weight = m.in_proj_weight[E:2E].T``, ``v_proj.weight = m.in_proj_weight[2E:].T`` (and
``in_proj_bias`` split the same way); with other kdim/vdim PyTorch has ``q_proj_weight``,
``k_proj_weight``, ``v_proj_weight`` (transpose each); ``out_proj.weight = m.out_proj.weight.T``.
Initialisation follows PyTorch: Xavier-uniform projection weights (with the bound of the packed
(3E, E) matrix when the three share ``embed_dim``), zero projection biases, and ``out_proj``'s
default Linear init with a zero bias.

Masks follow ``torch.nn.MultiheadAttention`` (the opposite of ``scaled_dot_product_attention``'s
boolean convention): a boolean ``attn_mask`` ``(L, S)`` or ``(N * num_heads, L, S)`` is True where
attention is **not** allowed, a float one is added to the scores; a boolean ``key_padding_mask``
``(N, S)`` is True at padding keys (ignored), a float one is added.  Query rows whose every key is
masked give zeros (PyTorch gives NaN there).
"""
import math

from .. import ops as F
from ..backend import xp
from ..tensor import Tensor
from . import init
from .layers import Linear
from .module import Module

__all__ = ["MultiheadAttention"]


def _mask_tensor(m):
    if m is None or isinstance(m, Tensor):
        return m
    return Tensor.wrap(xp.asarray(m))


class MultiheadAttention(Module):
    """Multi-head scaled dot-product attention.

    ``forward(query, key=None, value=None, key_padding_mask=None, need_weights=False,
    attn_mask=None, is_causal=False, average_attn_weights=True) -> (output, weights)``

    Shapes (batch-first): query (N, L, E), key (N, S, kdim), value (N, S, vdim), output (N, L, E);
    with ``batch_first=False`` the first two axes are swapped; unbatched (L, E) inputs work too.
    ``key``/``value`` default to ``query`` / ``key`` (self-attention).  ``weights`` is None unless
    ``need_weights``: then (N, L, S) averaged over heads, or (N, num_heads, L, S) with
    ``average_attn_weights=False`` (after attention dropout, as PyTorch).  Without weights the
    attention runs as one fused op (``F.scaled_dot_product_attention``).

    ``is_causal=True`` without ``attn_mask`` applies the causal mask (query i sees keys j <= i);
    with an ``attn_mask`` it is only a hint, as in PyTorch, and the given mask is used.
    ``dropout`` drops attention weights in training mode.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, kdim=None, vdim=None,
                 batch_first=True):
        super().__init__()
        if not isinstance(embed_dim, int) or embed_dim <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim must be a positive integer, got {embed_dim!r}")
        if not isinstance(num_heads, int) or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: num_heads ({num_heads!r}) must be a positive "
                             f"integer dividing embed_dim ({embed_dim})")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1), got {dropout!r}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = float(dropout)
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.batch_first = bool(batch_first)
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = Linear(self.kdim, embed_dim, bias=bias)
        self.v_proj = Linear(self.vdim, embed_dim, bias=bias)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        self._reset_parameters()

    def _reset_parameters(self):
        E = self.embed_dim
        if self.kdim == E and self.vdim == E:
            bound = math.sqrt(6.0 / (E + 3 * E))     # xavier_uniform_ of the packed (3E, E) matrix
            for lin in (self.q_proj, self.k_proj, self.v_proj):
                init.uniform_(lin.weight, -bound, bound)
        else:
            for lin in (self.q_proj, self.k_proj, self.v_proj):
                init.xavier_uniform_(lin.weight)
        for lin in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            if lin.bias is not None:
                init.zeros_(lin.bias)

    # -- masks -----------------------------------------------------------------------------------
    def _merge_masks(self, attn_mask, key_padding_mask, N, L, S, dtype):
        """One mask for (N, heads, L, S) scores: (bool array 'allowed' or None, additive Tensor or
        None) -- at most one of the two is set."""
        h = self.num_heads
        allowed, additive = None, None
        parts = []
        if attn_mask is not None:
            m = _mask_tensor(attn_mask)
            if m.ndim == 2:
                if tuple(m.shape) != (L, S):
                    raise ValueError(f"MultiheadAttention: 2-D attn_mask must have shape ({L}, {S}), got {tuple(m.shape)}")
            elif m.ndim == 3:
                if tuple(m.shape) != (N * h, L, S):
                    raise ValueError(f"MultiheadAttention: 3-D attn_mask must have shape "
                                     f"({N * h}, {L}, {S}) (batch * num_heads, L, S), got {tuple(m.shape)}")
                m = F.reshape(m, (N, h, L, S))
            else:
                raise ValueError(f"MultiheadAttention: attn_mask must be 2-D or 3-D, got shape {tuple(m.shape)}")
            parts.append(m)
        if key_padding_mask is not None:
            m = _mask_tensor(key_padding_mask)
            if tuple(m.shape) != (N, S):
                raise ValueError(f"MultiheadAttention: key_padding_mask must have shape ({N}, {S}) "
                                 f"(batch, source length), got {tuple(m.shape)}")
            parts.append(F.reshape(m, (N, 1, 1, S)) if m.dtype.kind == "f" else Tensor.wrap(m.data[:, None, None, :]))
        for m in parts:
            if m.dtype == xp.bool_:
                ok = ~m.data
                allowed = ok if allowed is None else (allowed & ok)
            elif m.dtype.kind == "f":
                m = m if m.dtype == dtype else m.astype(dtype)
                additive = m if additive is None else additive + m
            else:
                raise TypeError(f"MultiheadAttention: masks must be boolean (True = masked out) or "
                                f"floating (added to the scores), got dtype {m.dtype}")
        if additive is not None and allowed is not None:
            additive = additive + Tensor.wrap(xp.where(allowed, 0.0, -xp.inf).astype(dtype))
            allowed = None
        return allowed, additive

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, query, key=None, value=None, key_padding_mask=None, need_weights=False,
                attn_mask=None, is_causal=False, average_attn_weights=True):
        if key is None:
            key = query
        if value is None:
            value = key
        unbatched = query.ndim == 2
        if unbatched:
            if key.ndim != 2 or value.ndim != 2:
                raise ValueError("MultiheadAttention: an unbatched (L, E) query needs unbatched key and value")
            query, key, value = (F.expand_dims(t, 0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = F.expand_dims(_mask_tensor(key_padding_mask), 0)
        elif query.ndim != 3 or key.ndim != 3 or value.ndim != 3:
            raise ValueError(f"MultiheadAttention: expected 3-D query/key/value, got shapes "
                             f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        elif not self.batch_first:
            query, key, value = (F.swapaxes(t, 0, 1) for t in (query, key, value))
        N, L, E = query.shape
        S = key.shape[1]
        if E != self.embed_dim:
            raise ValueError(f"MultiheadAttention: query has {E} features, expected embed_dim={self.embed_dim}")
        if key.shape[0] != N or value.shape[0] != N or value.shape[1] != S:
            raise ValueError(f"MultiheadAttention: query {tuple(query.shape)}, key {tuple(key.shape)} and "
                             f"value {tuple(value.shape)} must share the batch size, key and value the length")
        h, d = self.num_heads, self.head_dim

        def heads(t, n):            # (N, n, E) -> (N, h, n, d)
            return F.transpose(F.reshape(t, (N, n, h, d)), (0, 2, 1, 3))

        q = heads(self.q_proj(query), L)
        k = heads(self.k_proj(key), S)
        v = heads(self.v_proj(value), S)
        dropout_p = self.dropout if self.training else 0.0
        causal = bool(is_causal) and attn_mask is None
        if causal and (key_padding_mask is not None or need_weights):
            attn_mask = xp.triu(xp.ones((L, S), dtype=bool), 1)      # True = masked (MHA convention)
            causal = False
        allowed, additive = self._merge_masks(attn_mask, key_padding_mask, N, L, S, q.dtype)

        weights = None
        if not need_weights:
            mask = additive if additive is not None else allowed
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p,
                                               is_causal=causal)
        else:
            scores = F.matmul(q, F.swapaxes(k, -1, -2)) * (1.0 / math.sqrt(d))
            dead = None
            if allowed is not None:
                allowed_b = xp.broadcast_to(allowed, scores.shape)
                dead = ~allowed_b.any(axis=-1, keepdims=True)
                scores = F.where(allowed_b | dead, scores, -xp.inf)
            elif additive is not None:
                scores = scores + additive
                dead = xp.isneginf(scores.data).all(axis=-1, keepdims=True)
                if dead.any():
                    scores = F.where(dead, 0.0, scores)
            p = F.softmax(scores, axis=-1)
            if dead is not None and dead.any():
                p = p * Tensor.wrap((~dead).astype(p.dtype))
            if dropout_p > 0:
                p = F.dropout(p, dropout_p, training=True)
            o = F.matmul(p, v)
            weights = F.mean(p, axis=1) if average_attn_weights else p
            if unbatched:
                weights = F.squeeze(weights, 0)
        o = F.reshape(F.transpose(o, (0, 2, 1, 3)), (N, L, E))
        out = self.out_proj(o)
        if unbatched:
            out = F.squeeze(out, 0)
        elif not self.batch_first:
            out = F.swapaxes(out, 0, 1)
        return out, weights

    def extra_repr(self):
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.kdim != self.embed_dim or self.vdim != self.embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if not self.batch_first:
            s += ", batch_first=False"
        return s
