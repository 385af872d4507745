"""Linear layers, embeddings, normalisation and attention (the transformer ops).

Sizes that depend on the input (GPT's positions 0..T-1, the causal mask, the head reshapes) are
computed in the graph from ``Shape`` so that batch and sequence axes can be dynamic."""
import math

import numpy as np

from ..tensor import Tensor
from ._graph import ExportError
from ._registry import register

_NEG = float(np.finfo(np.float32).min)     # "minus infinity" that keeps masked rows finite


@register("linear", "MatMul (+ Add)")
def _linear(g, call):
    p = call.params
    y = g.add("MatMul", [g.value(p["input"]), g.value(p["weight"], "weight")])
    if p["bias"] is not None:
        y = g.add("Add", [y, g.value(p["bias"], "bias")])
    return y


@register("tied_linear", "Transpose, MatMul")
def _tied_linear(g, call):
    p = call.params
    wt = g.add("Transpose", [g.value(p["weight"], "weight")], perm=[1, 0])
    return g.add("MatMul", [g.value(p["input"]), wt])


def _ids(g, ids):
    name = g.value(ids, "ids")
    dt = ids.dtype if isinstance(ids, Tensor) else np.asarray(ids).dtype
    return g.cast(name, dt, np.int64)


@register("embedding", "Gather")
def _embedding(g, call):
    p = call.params
    return g.add("Gather", [g.value(p["weight"], "weight"), _ids(g, p["input"])], axis=0)


@register("token_and_position_embedding", "Gather + Shape, Slice (positions start..start+T-1), Add")
def _tok_pos(g, call):
    p = call.params
    ids = _ids(g, p["input"])
    tok = g.add("Gather", [g.value(p["weight"], "wte"), ids], axis=0)
    start = int(p.get("start", 0))
    T = g.shape_of(ids, -1)                                     # [T]
    end = g.add("Add", [T, g.ints([start])])
    pos = g.add("Slice", [g.value(p["position_weight"], "wpe"), g.ints([start]), end, g.ints([0])])
    return g.add("Add", [tok, pos])


@register("layer_norm", "LayerNormalization")
def _layer_norm(g, call):
    p = call.params
    x = p["x"]
    ns = p["normalized_shape"]
    ns = tuple(ns) if isinstance(ns, (tuple, list)) else (int(ns),)
    dt = np.dtype(x.dtype)
    scale = g.value(p["weight"], "ln_weight") if p["weight"] is not None else g.const(np.ones(ns, dt))
    inputs = [g.value(x), scale]
    if p["bias"] is not None:
        inputs.append(g.value(p["bias"], "ln_bias"))
    return g.add("LayerNormalization", inputs, axis=-len(ns), epsilon=float(p["eps"]))


@register("rms_norm", "Mul, ReduceMean, Add, Sqrt, Div")
def _rms_norm(g, call):
    p = call.params
    x = p["x"]
    ns = p["normalized_shape"]
    ns = tuple(ns) if isinstance(ns, (tuple, list)) else (int(ns),)
    eps = p["eps"]
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    xn = g.value(x)
    axes = list(range(x.ndim - len(ns), x.ndim))
    ms = g.reduce("ReduceMean", g.add("Mul", [xn, xn]), axes, True)
    y = g.add("Div", [xn, g.add("Sqrt", [g.add("Add", [ms, g.const(np.asarray(eps, x.dtype))])])])
    if p["weight"] is not None:
        y = g.add("Mul", [y, g.value(p["weight"])])
    return y


def _causal_additive(g, q, k, dt):
    """(L, S) additive mask from Shape(q)[-2], Shape(k)[-2]: 0 where j <= i, else very negative."""
    L = g.add("Squeeze", [g.shape_of(q, -2, -1), g.ints([0])])
    S = g.add("Squeeze", [g.shape_of(k, -2, -1), g.ints([0])])
    zero, one = g.const(np.int64(0)), g.const(np.int64(1))
    rows = g.add("Unsqueeze", [g.add("Range", [zero, L, one]), g.ints([1])])
    cols = g.add("Unsqueeze", [g.add("Range", [zero, S, one]), g.ints([0])])
    keep = g.add("GreaterOrEqual", [rows, cols])
    return g.add("Where", [keep, g.const(np.asarray(0, dt)), g.const(np.asarray(_NEG, dt))])


def attention(g, q, k, v, dt, head_dim, rank, mask=None, mask_dtype=None, is_causal=False, scale=None):
    """softmax(q k^T * scale + mask) v on ONNX names."""
    scale = 1.0 / math.sqrt(head_dim) if scale is None else float(scale)
    scores = g.add("MatMul", [q, _swap_last(g, k, rank)])
    scores = g.add("Mul", [scores, g.const(np.asarray(scale, dt))])
    if is_causal:
        scores = g.add("Add", [scores, _causal_additive(g, q, k, dt)])
    if mask is not None:
        if np.dtype(mask_dtype) == np.bool_:
            scores = g.add("Where", [mask, scores, g.const(np.asarray(_NEG, dt))])
        else:
            scores = g.add("Add", [scores, g.cast(mask, mask_dtype, dt)])
    probs = g.add("Softmax", [scores], axis=-1)
    return g.add("MatMul", [probs, v])


def _swap_last(g, name, rank):
    perm = list(range(rank))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return g.add("Transpose", [name], perm=perm)


@register("scaled_dot_product_attention", "MatMul, Mul, (Where/Add mask, Range causal mask), Softmax, MatMul")
def _sdpa(g, call):
    p = call.params
    if float(p.get("dropout_p") or 0.0) > 0:
        raise ExportError("scaled_dot_product_attention with dropout_p > 0 cannot be exported "
                          "(export runs in eval mode: pass dropout_p=0.0 there)")
    q, k, v = p["q"], p["k"], p["v"]
    dt = np.dtype(q.dtype)
    mask = p.get("attn_mask")
    mname = mdt = None
    if mask is not None:
        mname = g.value(mask, "attn_mask")
        mdt = mask.dtype if isinstance(mask, Tensor) else np.asarray(mask).dtype
    return attention(g, g.value(q), g.value(k), g.value(v), dt, q.shape[-1], k.ndim, mname, mdt,
                     bool(p.get("is_causal")), p.get("scale"))


@register("causal_self_attention",
          "Reshape, Transpose, Gather (q, k, v), MatMul, Range causal mask, Softmax, MatMul, "
          "Transpose, Reshape")
def _causal_self_attention(g, call):
    p = call.params
    if float(p.get("dropout_p") or 0.0) > 0:
        raise ExportError("causal_self_attention with dropout_p > 0 cannot be exported")
    qkv = p["qkv"]
    nh = int(p["n_head"])
    C = qkv.shape[-1] // 3
    hd = C // nh
    dt = np.dtype(qkv.dtype)
    x = g.add("Reshape", [g.value(qkv), g.ints([0, 0, 3, nh, hd])])
    x = g.add("Transpose", [x], perm=[2, 0, 3, 1, 4])              # (3, B, nh, T, hd)
    q, k, v = (g.add("Gather", [x, g.const(np.int64(i))], axis=0) for i in range(3))
    y = attention(g, q, k, v, dt, hd, 4, is_causal=True, scale=p.get("scale"))
    y = g.add("Transpose", [y], perm=[0, 2, 1, 3])
    return g.add("Reshape", [y, g.ints([0, 0, C])])
