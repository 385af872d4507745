"""Normalization layers as single fused ops (one graph node each, hand-derived backward).

* ``layer_norm`` and ``rms_norm`` normalize over the trailing ``normalized_shape`` dims (the
  input is viewed as (M, D) rows).
* ``batch_norm`` is channels-last: statistics over every axis except the LAST (the input is
  viewed as (M, C)); column sums are taken as ``ones(M) @ x`` (one BLAS call, several times
  faster than NumPy's axis-0 reduction).

Backward formulas (xhat the normalized input, rstd = 1/sqrt(var + eps), means over the
normalized axis, dxhat = g * weight):

    layer/batch norm:  dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    rms norm:          dx = rstd * (dxhat - xhat * mean(dxhat * xhat))
    batch norm (eval): dx = g * weight * rstd   (the running statistics are constants)
"""
import numbers

from ..backend import xp
from ..tensor import Tensor
from ._base import as_tensor, make

__all__ = ["layer_norm", "batch_norm", "rms_norm"]


def _float_input(x, op):
    x = as_tensor(x, op)
    if x.dtype.kind != "f":
        raise TypeError(f"ember.{op}: expected a floating-point input, got dtype {x.dtype}")
    return x


def _affine(t, shape, dtype, op, name):
    """Optional weight/bias: a Tensor of exactly ``shape`` and ``dtype`` (or None)."""
    if t is None:
        return None
    t = as_tensor(t, op, name)
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"ember.{op}: {name} must have shape {tuple(shape)}, got {tuple(t.shape)}")
    if t.dtype != dtype:
        raise TypeError(f"ember.{op}: {name} has dtype {t.dtype} but the input has dtype {dtype}; "
                        "they must match")
    return t


def _trailing(x, normalized_shape, op):
    if isinstance(normalized_shape, (tuple, list)):
        shape = tuple(int(n) for n in normalized_shape)
    else:
        shape = (int(normalized_shape),)
    if not shape or x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ValueError(f"ember.{op}: normalized_shape {shape} must be non-empty and match the "
                         f"trailing dimensions of the input, whose shape is {tuple(x.shape)}")
    D = 1
    for n in shape:
        D *= n
    return shape, D


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing ``normalized_shape`` dims.

    Args:
        x: (..., *normalized_shape), floating point.
        normalized_shape: int or tuple, the trailing dims to normalize over.
        weight, bias: optional, of shape ``normalized_shape`` (no scale / no shift when None).
        eps: added to the (biased) variance.
    Returns a tensor shaped like ``x``.
    """
    op = "layer_norm"
    x = _float_input(x, op)
    shape, D = _trailing(x, normalized_shape, op)
    weight = _affine(weight, shape, x.dtype, op, "weight")
    bias = _affine(bias, shape, x.dtype, op, "bias")
    xd = x.data
    dtype = xd.dtype
    x2 = xd.reshape(-1, D)
    ones_d = xp.ones(D, dtype=dtype)
    mean = x2 @ ones_d                          # row sums as one BLAS gemv
    mean *= 1.0 / D
    xhat = x2 - mean[:, None]
    var = xp.einsum("ij,ij->i", xhat, xhat)
    var *= 1.0 / D
    var += eps
    rstd = xp.sqrt(var, out=var)[:, None]
    xp.reciprocal(rstd, out=rstd)
    xhat *= rstd
    w = weight.data.reshape(D) if weight is not None else None
    b = bias.data.reshape(D) if bias is not None else None
    if w is not None:
        y = xhat * w
        if b is not None:
            y += b
    elif b is not None:
        y = xhat + b
    else:
        y = xhat

    def backward(g):
        g2 = g.reshape(-1, D)
        gw = gb = gx = None
        need_w = weight is not None and weight._rg
        if bias is not None and bias._rg:
            gb = (xp.ones(g2.shape[0], dtype=g2.dtype) @ g2).reshape(shape)
        if not (need_w or x._rg):
            return None, None, gb
        gxh = g2 * xhat
        if need_w:
            gw = (xp.ones(g2.shape[0], dtype=g2.dtype) @ gxh).reshape(shape)
        if x._rg:
            wv = w if w is not None else ones_d
            c1 = g2 @ wv                            # sum(dxhat), dxhat = g * w
            c1 *= 1.0 / D
            c2 = gxh @ wv                           # sum(dxhat * xhat)
            c2 *= 1.0 / D
            gx = xp.multiply(xhat, c2[:, None], out=gxh)
            gx += c1[:, None]
            if w is not None:
                xp.subtract(g2 * w, gx, out=gx)
            else:
                xp.subtract(g2, gx, out=gx)
            gx *= rstd
            gx = gx.reshape(xd.shape)
        return gx, gw, gb
    return make(y.reshape(xd.shape), (x, _p(weight), _p(bias)), backward)


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x**2) + eps) * weight over the trailing ``normalized_shape`` dims
    (``torch.nn.functional.rms_norm``).

    Args:
        x: (..., *normalized_shape), floating point.
        normalized_shape: int or tuple, the trailing dims.
        weight: optional, of shape ``normalized_shape``.
        eps: default None = ``finfo(x.dtype).eps``, as PyTorch.
    """
    op = "rms_norm"
    x = _float_input(x, op)
    shape, D = _trailing(x, normalized_shape, op)
    weight = _affine(weight, shape, x.dtype, op, "weight")
    if eps is None:
        eps = float(xp.finfo(x.dtype).eps)
    xd = x.data
    x2 = xd.reshape(-1, D)
    ms = xp.einsum("ij,ij->i", x2, x2)[:, None]
    ms *= 1.0 / D
    ms += eps
    rstd = xp.sqrt(ms, out=ms)
    xp.reciprocal(rstd, out=rstd)
    xhat = x2 * rstd
    w = weight.data.reshape(D) if weight is not None else None
    y = xhat * w if w is not None else xhat

    def backward(g):
        g2 = g.reshape(-1, D)
        gw = gx = None
        if weight is not None and weight._rg:
            gw = xp.einsum("ij,ij->j", g2, xhat).reshape(shape)
        if x._rg:
            dxhat = g2 * w if w is not None else g2
            c2 = xp.einsum("ij,ij->i", dxhat, xhat)[:, None]
            c2 *= 1.0 / D
            gx = xhat * c2
            xp.subtract(dxhat, gx, out=gx)
            gx *= rstd
            gx = gx.reshape(xd.shape)
        return gx, gw
    return make(y.reshape(xd.shape), (x, _p(weight)), backward)


def _running(stat, C, op, name):
    """The array behind a running statistic (updated in place), or None."""
    if stat is None:
        return None
    arr = stat.data if isinstance(stat, Tensor) else stat
    if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
        raise TypeError(f"ember.{op}: {name} must be a Tensor or an array (it is updated in place), "
                        f"got {type(stat).__name__}")
    if tuple(arr.shape) != (C,):
        raise ValueError(f"ember.{op}: {name} must have shape (C,) = ({C},) for an input with C={C} "
                         f"channels (last axis), got {tuple(arr.shape)}")
    return arr


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, unbiased_running_var=True):
    """Batch normalization, channels-last: statistics over all axes but the last (channel) one.

    Args:
        x: (N, C), (N, L, C) or (N, H, W, C), floating point.
        running_mean, running_var: (C,) Tensors or arrays, or None.  In training they are updated
            IN PLACE as PyTorch: ``r = (1 - momentum) * r + momentum * batch_stat``, with the
            unbiased (n - 1) batch variance for ``running_var`` (the biased one, Keras' rule,
            with ``unbiased_running_var=False``).  Required in eval mode.
        weight, bias: optional (C,) scale and shift.
        training: True -> normalize with the batch statistics (biased variance); False -> with
            the running statistics.
        momentum: the running-average factor (a float; PyTorch's None is not supported).
        eps: added to the variance.
    """
    op = "batch_norm"
    x = _float_input(x, op)
    if x.ndim < 2:
        raise ValueError(f"ember.{op}: expected an input with a batch axis and a channel (last) axis, "
                         f"got shape {tuple(x.shape)}")
    C = x.shape[-1]
    weight = _affine(weight, (C,), x.dtype, op, "weight")
    bias = _affine(bias, (C,), x.dtype, op, "bias")
    rm = _running(running_mean, C, op, "running_mean")
    rv = _running(running_var, C, op, "running_var")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
        raise TypeError(f"ember.{op}: momentum must be a float, got {momentum!r}")
    xd = x.data
    dtype = xd.dtype
    x2 = xd.reshape(-1, C)
    M = x2.shape[0]
    w = weight.data if weight is not None else None
    b = bias.data if bias is not None else None

    if training:
        if M <= 1:
            raise ValueError(f"ember.{op}: expected more than 1 value per channel when training, got "
                             f"input shape {tuple(x.shape)}")
        ones = xp.ones(M, dtype=dtype)
        mean = ones @ x2
        mean *= 1.0 / M
        xhat = x2 - mean
        y = xp.multiply(xhat, xhat)
        var = ones @ y
        var *= 1.0 / M
        if rm is not None:
            rm *= 1 - momentum
            rm += (momentum * mean).astype(rm.dtype, copy=False)
        if rv is not None:
            rv *= 1 - momentum
            scale = momentum * M / (M - 1) if unbiased_running_var else momentum
            rv += (scale * var).astype(rv.dtype, copy=False)
        rstd = var
        rstd += eps
        xp.sqrt(rstd, out=rstd)
        xp.reciprocal(rstd, out=rstd)
        xhat *= rstd
        if w is not None:
            xp.multiply(xhat, w, out=y)
            if b is not None:
                y += b
        elif b is not None:
            xp.add(xhat, b, out=y)
        else:
            y = xhat

        def backward(g):
            g2 = g.reshape(-1, C)
            gx = gw = gb = None
            s1 = ones @ g2
            gxh = g2 * xhat
            s2 = ones @ gxh
            if weight is not None and weight._rg:
                gw = s2
            if bias is not None and bias._rg:
                gb = s1
            if x._rg:
                gx = gxh
                xp.multiply(xhat, s2 * (1.0 / M), out=gx)
                xp.subtract(g2, gx, out=gx)
                gx -= s1 * (1.0 / M)
                gx *= rstd * w if w is not None else rstd
                gx = gx.reshape(xd.shape)
            return gx, gw, gb
    else:
        if rm is None or rv is None:
            raise ValueError(f"ember.{op}: running_mean and running_var are required when "
                             "training=False (eval mode normalizes with them)")
        rstd = 1.0 / xp.sqrt(rv.astype(dtype, copy=False) + eps)
        mean = rm.astype(dtype, copy=True)
        scale = rstd * w if w is not None else rstd
        shift = -mean * scale
        if b is not None:
            shift += b
        y = x2 * scale
        y += shift

        def backward(g):
            g2 = g.reshape(-1, C)
            gx = gw = gb = None
            if weight is not None and weight._rg:
                gw = xp.ones(M, dtype=dtype) @ (g2 * ((x2 - mean) * rstd))
            if bias is not None and bias._rg:
                gb = xp.ones(M, dtype=dtype) @ g2
            if x._rg:
                gx = (g2 * scale).reshape(xd.shape)
            return gx, gw, gb
    return make(y.reshape(xd.shape), (x, _p(weight), _p(bias)), backward)


# A constant stand-in parent for an absent weight/bias (keeps the backward tuples fixed-size).
_NOGRAD = Tensor.wrap(xp.zeros(()))


def _p(t):
    return _NOGRAD if t is None else t
