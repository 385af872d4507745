"""Scaled dot-product attention as ONE fused op (one graph node, hand-derived backward).

Forward, with scores S = q k^T * scale (..., L, S), P = softmax(S + mask) and D the dropout
mask scaled by 1/(1 - p):   out = (P * D) @ v.
Backward, given g = d out:
    dv = (P * D)^T g;   dP = (g v^T) * D;   dS = P * (dP - sum(dP * P, -1));
    dq = scale * dS k;  dk = scale * dS^T q;   d(additive mask) = dS.
Rows whose every position is masked out give an output of 0 (and zero gradients), as PyTorch 2.x
does (its "safe softmax"), instead of NaN.

``causal_self_attention`` is the same computation for the common transformer case, taking the
packed (B, T, 3C) output of a q|k|v projection and returning (B, T, C) with the heads merged: the
per-head q, k, v are strided VIEWS of the packed array (no split, no transposing copies), the
output and the q/k/v gradients are written by the matrix products straight into their final
layouts, and the causal mask is cached.  Batched products run over (batch, heads) in one call
each; nothing loops over heads or positions in Python.
"""
import math

from ..backend import xp
from ..random import default_generator
from ._base import as_tensor, broadcasts_to, make, unbroadcast
from ._parallel import parallel_for
from .softmax import softmax_rows, softmax_rows_backward

__all__ = ["scaled_dot_product_attention", "causal_self_attention"]


_CAUSAL = {}
_SPLIT_MIN = 1 << 17     # score elements per thread below which the batch is not split (a
                        # thread hand-off costs ~50 us: smaller parts gain nothing)


def _causal_mask(L, S, dtype):
    """The additive (L, S) causal mask: 0 where key j <= query i (top-left aligned), else -inf.
    Cached per (L, S, dtype) and never written to."""
    key = (L, S, xp.dtype(dtype).str)
    m = _CAUSAL.get(key)
    if m is None:
        if len(_CAUSAL) > 32:
            _CAUSAL.clear()
        keep = xp.arange(L)[:, None] >= xp.arange(S)[None, :]
        m = _CAUSAL[key] = xp.where(keep, 0.0, -xp.inf).astype(dtype)
        m.flags.writeable = False
    return m


def scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(q k^T * scale + mask) @ v, as ``torch.nn.functional.scaled_dot_product_attention``.

    Args:
        q: (..., L, E) queries, typically (batch, heads, L, E).
        k: (..., S, E) keys.  v: (..., S, Ev) values.  Leading dims broadcast (NumPy rules).
        attn_mask: optional, broadcastable to (..., L, S): boolean (True = the position takes
            part, as PyTorch) or a float mask ADDED to the scores (differentiable).
        dropout_p: dropout probability on the attention weights, in [0, 1) (applied whenever
            it is > 0, as the functional PyTorch op; pass 0.0 in eval).  Uses ember's generator.
        is_causal: mask with the lower triangle (query i sees keys j <= i, top-left aligned as
            PyTorch when L != S); cannot be combined with ``attn_mask``.
        scale: multiplies the scores; default 1/sqrt(E).

    Returns (..., L, Ev).  Fully masked query rows give zeros.
    """
    op = "scaled_dot_product_attention"
    q, k, v = as_tensor(q, op, "q"), as_tensor(k, op, "k"), as_tensor(v, op, "v")
    for t, name in ((q, "q"), (k, "k"), (v, "v")):
        if t.ndim < 2:
            raise ValueError(f"ember.{op}: {name} must have at least 2 dims (..., seq, dim), got shape {tuple(t.shape)}")
        if t.dtype.kind != "f":
            raise TypeError(f"ember.{op}: {name} must be floating point, got dtype {t.dtype}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"ember.{op}: q, k and v must have the same dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"ember.{op}: q (..., L, E) and k (..., S, E) must share E; got shapes "
                         f"{tuple(q.shape)} and {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"ember.{op}: k (..., S, E) and v (..., S, Ev) must share S; got shapes "
                         f"{tuple(k.shape)} and {tuple(v.shape)}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"ember.{op}: dropout_p must be in [0, 1), got {dropout_p}")
    qd, kd, vd = q.data, k.data, v.data
    dtype = qd.dtype
    L, S, E = qd.shape[-2], kd.shape[-2], qd.shape[-1]
    sc = 1.0 / math.sqrt(E) if scale is None else float(scale)
    try:
        s = qd @ xp.swapaxes(kd, -1, -2)
        xp.broadcast_shapes(s.shape[:-2], vd.shape[:-2])
    except ValueError:
        raise ValueError(f"ember.{op}: the leading (batch) dims of q {tuple(q.shape)}, k {tuple(k.shape)} "
                         f"and v {tuple(v.shape)} cannot be broadcast together") from None
    s *= sc

    mask_t = None        # a differentiable additive mask
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"ember.{op}: pass either attn_mask or is_causal=True, not both")
        s += _causal_mask(L, S, dtype)
    elif attn_mask is not None:
        m = as_tensor(attn_mask, op, "attn_mask")
        md = m.data
        if not broadcasts_to(md.shape, s.shape):
            raise ValueError(f"ember.{op}: attn_mask of shape {tuple(md.shape)} cannot be broadcast to "
                             f"the attention scores of shape {s.shape} (..., L, S)")
        if md.dtype == xp.bool_:
            s += xp.where(md, 0.0, -xp.inf).astype(dtype)
        elif md.dtype.kind == "f":
            s += md.astype(dtype, copy=False)
            if m._rg:
                mask_t = m
        else:
            raise TypeError(f"ember.{op}: attn_mask must be boolean (True = take part) or floating "
                            f"(added to the scores), got dtype {md.dtype}")

    # Softmax in place; rows with every position masked (max = -inf) come out as zeros.
    p = softmax_rows(s, out=s, masked_rows=True)

    if dropout_p > 0:
        keep = default_generator().random(p.shape, dtype=xp.float32) >= dropout_p
        dmask = keep.astype(dtype)
        dmask *= 1.0 / (1.0 - dropout_p)
        pd = p * dmask
    else:
        dmask = None
        pd = p
    out = pd @ vd

    def backward(g):
        gq = gk = gv = gm = None
        if v._rg:
            gv = unbroadcast(xp.swapaxes(pd, -1, -2) @ g, vd.shape)
        if q._rg or k._rg or mask_t is not None:
            ds = g @ xp.swapaxes(vd, -1, -2)          # dP
            if dmask is not None:
                ds *= dmask
            ds = softmax_rows_backward(ds, p, out=ds)  # dS = P * (dP - sum(P * dP))
            if mask_t is not None:
                gm = unbroadcast(ds, mask_t.shape)
                ds = ds * sc                           # (gm may be ds itself)
            else:
                ds *= sc
            if q._rg:
                gq = unbroadcast(ds @ kd, qd.shape)
            if k._rg:
                gk = unbroadcast(xp.swapaxes(ds, -1, -2) @ qd, kd.shape)
        return (gq, gk, gv) if mask_t is None else (gq, gk, gv, gm)

    parents = (q, k, v) if mask_t is None else (q, k, v, mask_t)
    return make(out, parents, backward)


def causal_self_attention(qkv, n_head, dropout_p=0.0, scale=None):
    """Causal multi-head self-attention on a packed q|k|v tensor (GPT's ``c_attn`` output).

    Args:
        qkv: (B, T, 3C): along the last axis the queries, keys and values, each C = n_head * D
            wide with head h in features [h*D, (h+1)*D) (the layout of GPT-2's c_attn).
        n_head: the number of heads (must divide C).
        dropout_p: dropout on the attention weights, in [0, 1) (pass 0.0 in eval); ember's
            generator draws the mask.
        scale: multiplies the scores; default 1/sqrt(D).
    Returns (B, T, C): each head's ``softmax(q k^T * scale + causal mask) @ v`` with the heads
    concatenated along the last axis -- what ``scaled_dot_product_attention(q, k, v,
    is_causal=True)`` gives on the split heads, transposed back and merged.
    """
    op = "causal_self_attention"
    qkv = as_tensor(qkv, op, "qkv")
    if qkv.ndim != 3:
        raise ValueError(f"ember.{op}: qkv must be (batch, time, 3 * embed), got shape {tuple(qkv.shape)}")
    if qkv.dtype.kind != "f":
        raise TypeError(f"ember.{op}: qkv must be floating point, got dtype {qkv.dtype}")
    if isinstance(n_head, bool) or not isinstance(n_head, int) or n_head < 1:
        raise ValueError(f"ember.{op}: n_head must be a positive int, got {n_head!r}")
    B, T, C3 = qkv.shape
    if C3 % (3 * n_head):
        raise ValueError(f"ember.{op}: the last axis of qkv ({C3}) must be 3 * n_head * head_dim; "
                         f"it is not divisible by 3 * n_head = {3 * n_head}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"ember.{op}: dropout_p must be in [0, 1), got {dropout_p}")
    d = qkv.data
    if not d.flags.c_contiguous:
        d = xp.ascontiguousarray(d)
    dtype = d.dtype
    C = C3 // 3
    D = C // n_head
    sc = 1.0 / math.sqrt(D) if scale is None else float(scale)
    heads = d.reshape(B, T, 3, n_head, D)
    # (B, n_head, T, D) strided views: each (T, D) matrix has unit column stride, so BLAS reads
    # it in place (leading dimension 3C).
    q = heads[:, :, 0].transpose(0, 2, 1, 3)
    k = heads[:, :, 1].transpose(0, 2, 1, 3)
    v = heads[:, :, 2].transpose(0, 2, 1, 3)
    mask = _causal_mask(T, T, dtype)
    dmask = None
    if dropout_p > 0:       # drawn before the work is split: the same mask however it is split
        keep = default_generator().random((B, n_head, T, T), dtype=xp.float32) >= dropout_p
        dmask = keep.astype(dtype)
        dmask *= 1.0 / (1.0 - dropout_p)
    p = xp.empty((B, n_head, T, T), dtype=dtype)
    pd = p if dmask is None else xp.empty_like(p)
    out = xp.empty((B, T, n_head, D), dtype=dtype)
    out_heads = out.transpose(0, 2, 1, 3)          # the products write straight into (B, T, heads, D)

    def forward(lo, hi):
        s = p[lo:hi]
        xp.matmul(q[lo:hi], k[lo:hi].transpose(0, 1, 3, 2), out=s)
        s *= sc
        s += mask
        softmax_rows(s, out=s, masked_rows=True)
        if dmask is not None:
            xp.multiply(s, dmask[lo:hi], out=pd[lo:hi])
        xp.matmul(pd[lo:hi], v[lo:hi], out=out_heads[lo:hi])
    # The per-head products are too small for BLAS to thread: split the batch between threads.
    min_rows = -(-_SPLIT_MIN // (n_head * T * T))
    parallel_for(forward, B, min_rows)

    def backward(g):
        g4 = g.reshape(B, T, n_head, D).transpose(0, 2, 1, 3)
        grad = xp.empty((B, T, 3, n_head, D), dtype=dtype)
        gq = grad[:, :, 0].transpose(0, 2, 1, 3)
        gk = grad[:, :, 1].transpose(0, 2, 1, 3)
        gv = grad[:, :, 2].transpose(0, 2, 1, 3)

        def part(lo, hi):
            gb = g4[lo:hi]
            xp.matmul(pd[lo:hi].transpose(0, 1, 3, 2), gb, out=gv[lo:hi])
            ds = gb @ v[lo:hi].transpose(0, 1, 3, 2)                # dP
            if dmask is not None:
                ds *= dmask[lo:hi]
            ds = softmax_rows_backward(ds, p[lo:hi], out=ds)
            ds *= sc
            xp.matmul(ds, k[lo:hi], out=gq[lo:hi])
            xp.matmul(ds.transpose(0, 1, 3, 2), q[lo:hi], out=gk[lo:hi])
        parallel_for(part, B, min_rows)
        return (grad.reshape(B, T, C3),)
    return make(out.reshape(B, T, C), (qkv,), backward)
