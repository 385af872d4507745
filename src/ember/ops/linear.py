"""Fused dense layers, one graph node each: ``linear`` (``x @ W + b``) and ``tied_linear``
(``x @ E^T``, an output layer that shares an embedding table).

Both flatten the leading axes so that the forward and every backward product is ONE 2-D matrix
product (a batched 3-D product, or a broadcast add followed by an axis sum for the bias, costs
more graph nodes and more NumPy calls).
"""
import math

from ..backend import xp
from ._base import as_tensor, check_devices, make

__all__ = ["linear", "tied_linear"]


def _checked(input, weight, op, layout, in_axis):
    """``input`` and ``weight`` as Tensors, ``weight`` 2-D with the axes named by ``layout`` and
    ``input`` ending with ``weight.shape[in_axis]`` features."""
    x = as_tensor(input, op, "input")
    w = as_tensor(weight, op, "weight")
    if w.ndim != 2:
        raise ValueError(f"ember.{op}: weight must be 2-D {layout}, got shape {tuple(w.shape)}")
    if x.ndim == 0 or x.shape[-1] != w.shape[in_axis]:
        axis_name = layout.strip("()").split(", ")[in_axis]
        raise ValueError(f"ember.{op}: input of shape {tuple(x.shape)} does not end with "
                         f"{axis_name}={w.shape[in_axis]} (weight of shape {tuple(w.shape)})")
    return x, w


def _rows(xd):
    """``xd`` (..., in) as a 2-D (rows, in) array (a view when it can be)."""
    return xd.reshape(math.prod(xd.shape[:-1]), xd.shape[-1])


def linear(input, weight, bias=None):
    """``input @ weight + bias`` on the last axis.

    Args:
        input: (..., in_features), any rank >= 1.
        weight: (in_features, out_features) -- ember's layout (``nn.Linear.weight``), the
            transpose of ``torch.nn.functional.linear``'s.
        bias: (out_features,) or None (default).
    Returns (..., out_features).

    The backward is three 2-D matrix products; the bias gradient is a ones-vector product (faster
    than NumPy's sum over axis 0).  Inputs whose dtype differs from the weight's go through
    ``matmul`` and ``add`` instead, which promote them as every binary op does.
    """
    op = "linear"
    x, w = _checked(input, weight, op, "(in_features, out_features)", 0)
    b = None if bias is None else as_tensor(bias, op, "bias")
    if b is not None and tuple(b.shape) != (w.shape[1],):
        raise ValueError(f"ember.{op}: bias must have shape ({w.shape[1]},), got {tuple(b.shape)}")
    xd, wd = x.data, w.data
    if xd.dtype != wd.dtype or (b is not None and b.data.dtype != wd.dtype):
        return _promoting_linear(x, w, b)
    check_devices(op, x, w, b)
    x2 = _rows(xd)
    out = x2 @ wd
    if b is not None:
        out += b.data

    def backward(g):
        g2 = g.reshape(x2.shape[0], wd.shape[1])
        gx = (g2 @ wd.T).reshape(xd.shape) if x._rg else None
        gw = x2.T @ g2 if w._rg else None
        gb = None
        if b is not None and b._rg:
            gb = xp.ones(g2.shape[0], dtype=g2.dtype) @ g2
        return gx, gw, gb
    parents = (x, w) if b is None else (x, w, b)
    return make(out.reshape(xd.shape[:-1] + (wd.shape[1],)), parents, backward)


def _promoting_linear(x, w, b):
    """``linear`` of mixed dtypes (e.g. integer inputs to a float layer), composed of matmul and
    add so that NumPy-style promotion and its gradients apply."""
    from .linalg import matmul
    from .shape import reshape
    shape = tuple(x.shape)
    if len(shape) > 2:
        out = reshape(matmul(reshape(x, -1, shape[-1]), w), shape[:-1] + (w.shape[1],))
    else:
        out = matmul(x, w)
    return out if b is None else out + b


def tied_linear(input, weight):
    """``input @ weight^T``: an output layer tied to an embedding table (a language model's
    logits from its token embedding).

    Args:
        input: (..., dim), any rank >= 1.
        weight: (num_embeddings, dim), e.g. ``nn.Embedding.weight`` (the layout of
            ``torch.nn.functional.linear``'s weight).
    Returns (..., num_embeddings).  No bias.  One graph node; the backward is two 2-D matrix
    products, the table's gradient ``g^T @ input`` (no transpose copies).
    """
    op = "tied_linear"
    x, t = _checked(input, weight, op, "(num_embeddings, dim)", 1)
    xd, td = x.data, t.data
    if xd.dtype != td.dtype:
        raise TypeError(f"ember.{op}: input and weight must have the same dtype, got {xd.dtype} "
                        f"and {td.dtype}")
    check_devices(op, x, t)
    x2 = _rows(xd)
    out = x2 @ td.T

    def backward(g):
        g2 = g.reshape(x2.shape[0], td.shape[0])
        gx = (g2 @ td).reshape(xd.shape) if x._rg else None
        gt = g2.T @ x2 if t._rg else None
        return gx, gt
    return make(out.reshape(xd.shape[:-1] + (td.shape[0],)), (x, t), backward)
