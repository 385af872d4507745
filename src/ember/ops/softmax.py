"""softmax and log_softmax over one axis, numerically stable (the max is subtracted first)."""
from ..backend import xp
from ._base import as_tensor, make
from .elementwise import _to_float


def _softmax_array(x, axis):
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _log_softmax_array(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    shifted -= xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis`` (default the last)."""
    x = _to_float(as_tensor(x, "softmax"))
    y = _softmax_array(x.data, axis)

    def backward(g):
        gy = g * y
        return (gy - y * gy.sum(axis=axis, keepdims=True),)
    out = make(y, (x,), backward)
    out._from_logits = ("softmax", x, axis)   # lets a cross-entropy use the logits (stable)
    return out


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis`` (default the last)."""
    x = _to_float(as_tensor(x, "log_softmax"))
    y = _log_softmax_array(x.data, axis)

    def backward(g):
        return (g - xp.exp(y) * g.sum(axis=axis, keepdims=True),)
    return make(y, (x,), backward)
