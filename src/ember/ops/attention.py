"""Scaled dot-product attention as ONE fused op (one graph node, hand-derived backward).

Forward, with scores S = q k^T * scale (..., L, S), P = softmax(S + mask) and D the dropout
mask scaled by 1/(1 - p):   out = (P * D) @ v.
Backward, given g = d out:
    dv = (P * D)^T g;   dP = (g v^T) * D;   dS = P * (dP - sum(dP * P, -1));
    dq = scale * dS k;  dk = scale * dS^T q;   d(additive mask) = dS.
Rows whose every position is masked out give an output of 0 (and zero gradients), as PyTorch 2.x
does (its "safe softmax"), instead of NaN.
"""
import math

from ..backend import xp
from ..random import default_generator
from ._base import as_tensor, make, unbroadcast

__all__ = ["scaled_dot_product_attention"]


_CAUSAL = {}


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
        try:
            full = xp.broadcast_shapes(s.shape, md.shape)
        except ValueError:
            full = None
        if full != s.shape:
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
    mx = s.max(axis=-1, keepdims=True)
    mx[mx == -xp.inf] = 0
    s -= mx
    p = xp.exp(s, out=s)
    den = p.sum(axis=-1, keepdims=True)
    den[den == 0] = 1
    p /= den

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
            ds *= p                                    # P * dP
            c = ds.sum(axis=-1, keepdims=True)
            ds -= p * c                                # dS = P * (dP - sum(P * dP))
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
