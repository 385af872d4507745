"""``tf.nn``: TensorFlow 2's neural-network functions on ``ember.keras.ops`` / ``ember.functional``
(activations, dropout, convolution and pooling, normalisation helpers and the
``*_cross_entropy_with_logits`` losses), with TensorFlow's names, argument names and defaults.

TensorFlow's conventions kept here: ``padding`` is 'SAME' or 'VALID' (either case);
``strides`` / ``ksize`` / ``dilations`` may be one int, one per spatial axis, or one per axis
of the input (``[1, s, s, 1]``); ``data_format`` is 'NHWC' (the default) or 'NCHW' (transposed to
channels-last and back); ``dropout`` always drops (it is not a layer: no training flag) and
takes the drop ``rate``; ``gelu`` is exact unless ``approximate=True``; the losses return one
value per example (no reduction).
"""
import numpy as np

from ... import functional as F
from .. import ops
from .. import random as _krandom
from ._base import accept_symbolic, missing_name, t
from .math import (in_top_k, l2_normalize, log_softmax, softmax, top_k)  # noqa: F401  (tf.nn names too)

__all__ = ["relu", "relu6", "elu", "selu", "gelu", "silu", "swish", "leaky_relu", "softmax",
           "log_softmax", "sigmoid", "tanh", "softplus", "softsign", "dropout", "conv1d", "conv2d",
           "depthwise_conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "max_pool",
           "avg_pool", "bias_add", "moments", "batch_normalization", "l2_normalize",
           "sparse_softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
           "sigmoid_cross_entropy_with_logits", "embedding_lookup", "top_k", "in_top_k",
           "compute_average_loss"]


# -- activations -------------------------------------------------------------------------------
def relu(features, name=None):
    """max(features, 0)."""
    return ops.relu(features)


def relu6(features, name=None):
    """min(max(features, 0), 6)."""
    return ops.relu6(features)


def elu(features, name=None):
    """features if > 0, else exp(features) - 1."""
    return ops.elu(features)


def selu(features, name=None):
    """The scaled ELU (fixed alpha and scale of Klambauer et al.)."""
    return ops.selu(features)


def gelu(features, approximate=False, name=None):
    """The GELU: exact (erf) by default, TensorFlow's default; ``approximate=True``: tanh form."""
    return ops.gelu(features, approximate=bool(approximate))


def silu(features, beta=1.0, name=None):
    """``features * sigmoid(beta * features)`` (``tf.nn.swish``)."""
    if beta == 1.0:
        return ops.silu(features)
    x = t(features)
    return ops.multiply(x, ops.sigmoid(ops.multiply(x, beta)))


swish = silu


def leaky_relu(features, alpha=0.2, name=None):
    """features if > 0, else alpha * features (TensorFlow's default alpha 0.2)."""
    return ops.leaky_relu(features, negative_slope=alpha)


def sigmoid(x, name=None):
    return ops.sigmoid(x)


def tanh(x, name=None):
    return ops.tanh(x)


def softplus(features, name=None):
    """log(1 + exp(features)), computed stably."""
    return ops.softplus(features)


def softsign(features, name=None):
    return ops.softsign(features)


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """``x`` with each entry zeroed with probability ``rate`` and the kept ones scaled by
    ``1 / (1 - rate)``; ``noise_shape`` shares the mask along its size-1 axes.  Always active
    (use ``keras.layers.Dropout`` for a training-only dropout)."""
    return _krandom.dropout(x, rate, noise_shape=noise_shape, seed=seed)


# -- convolution and pooling -------------------------------------------------------------------
_CHANNELS_FIRST = ("NCW", "NCHW", "NCDHW")


def _spatial(value, rank, what, where):
    """TensorFlow's int / per-spatial-axis / per-axis (``[1, s, s, 1]``) argument as a tuple of
    ``rank`` ints."""
    if value is None:
        return (1,) * rank
    if isinstance(value, (int, np.integer)):
        return (int(value),) * rank
    v = [int(a) for a in value]
    if len(v) == 1:
        return (v[0],) * rank
    if len(v) == rank:
        return tuple(v)
    if len(v) == rank + 2:
        return tuple(v[1:-1])               # NHWC's [1, s, s, 1] (NCHW: reordered by the caller)
    raise ValueError(f"tf.nn.{where}: {what}={value!r}; expected an int, {rank} values or "
                     f"{rank + 2} values ([1, ..., 1])")


def _padding(padding, where):
    if isinstance(padding, str) and padding.upper() in ("SAME", "VALID"):
        return padding.lower()
    raise ValueError(f"tf.nn.{where}: padding={padding!r}; ember supports 'SAME' and 'VALID' "
                     "(pad explicitly with tf.pad, then use 'VALID')")


def _channels_last(x, data_format, where):
    """(x channels-last, a function restoring the caller's layout)."""
    if data_format is None or data_format in ("NWC", "NHWC", "NDHWC", "channels_last"):
        return x, lambda y: y
    if data_format not in _CHANNELS_FIRST + ("channels_first",):
        raise ValueError(f"tf.nn.{where}: data_format={data_format!r}; expected 'NHWC' or 'NCHW'")
    n = x.ndim
    to_last = (0,) + tuple(range(2, n)) + (1,)
    to_first = (0, n - 1) + tuple(range(1, n - 1))
    return ops.transpose(x, to_last), lambda y: ops.transpose(y, to_first)


def _strides_for(strides, x, data_format, where):
    rank = x.ndim - 2
    if data_format in _CHANNELS_FIRST and not isinstance(strides, (int, np.integer)) \
            and strides is not None and len(strides) == rank + 2:
        strides = list(strides)[2:]          # NCHW's [1, 1, s, s]
    return _spatial(strides, rank, "strides", where)


def _conv(fn, input, filters, strides, padding, data_format, dilations, where):  # noqa: A002
    x = t(input)
    s = _strides_for(strides, x, data_format, where)
    d = _strides_for(dilations, x, data_format, where)
    x, back = _channels_last(x, data_format, where)
    return back(fn(x, filters, strides=s, padding=_padding(padding, where), dilation_rate=d))


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):  # noqa: A002
    """2-D convolution of ``input`` (N, H, W, C_in) with ``filters`` (kh, kw, C_in, C_out)."""
    return _conv(ops.conv, input, filters, strides, padding, data_format, dilations, "conv2d")


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):  # noqa: A002
    """1-D convolution of ``input`` (N, W, C_in) with ``filters`` (k, C_in, C_out)."""
    return _conv(ops.conv, input, filters, stride, padding, data_format, dilations, "conv1d")


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None,  # noqa: A002
                     name=None):
    """Depthwise 2-D convolution with ``filter`` (kh, kw, C_in, multiplier); ``strides`` has 4
    values ([1, s, s, 1])."""
    return _conv(ops.depthwise_conv, input, filter, strides, padding, data_format, dilations,
                 "depthwise_conv2d")


def _pool(fn, input, ksize, strides, padding, data_format, where):  # noqa: A002
    x = t(input)
    rank = x.ndim - 2
    if data_format in _CHANNELS_FIRST and not isinstance(ksize, (int, np.integer)) \
            and len(ksize) == rank + 2:
        ksize = list(ksize)[2:]
    size = _spatial(ksize, rank, "ksize", where)
    s = _strides_for(strides, x, data_format, where)
    x, back = _channels_last(x, data_format, where)
    return back(fn(x, size, strides=s, padding=_padding(padding, where)))


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Max pooling of (N, H, W, C) over ``ksize`` windows."""
    return _pool(ops.max_pool, input, ksize, strides, padding, data_format, "max_pool2d")


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Average pooling of (N, H, W, C) ('SAME': border windows average the input pixels only)."""
    return _pool(ops.average_pool, input, ksize, strides, padding, data_format, "avg_pool2d")


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    return _pool(ops.max_pool, input, ksize, strides, padding, data_format, "max_pool1d")


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    return _pool(ops.average_pool, input, ksize, strides, padding, data_format, "avg_pool1d")


def max_pool(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    """Max pooling of a 1-D, 2-D or 3-D (channels-last) input."""
    return _pool(ops.max_pool, input, ksize, strides, padding, data_format, "max_pool")


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    return _pool(ops.average_pool, input, ksize, strides, padding, data_format, "avg_pool")


def bias_add(value, bias, data_format=None, name=None):
    """``value + bias`` along the channel axis (last; the second for 'NCHW' / 'NC...')."""
    x, b = t(value), t(bias)
    if b.ndim != 1:
        raise ValueError(f"tf.nn.bias_add: bias must be 1-D, got shape {tuple(b.shape)}")
    if data_format is not None and data_format.startswith("NC") and x.ndim > 2:
        b = ops.reshape(b, (-1,) + (1,) * (x.ndim - 2))
    return ops.add(x, b)


# -- normalisation -----------------------------------------------------------------------------
def moments(x, axes, shift=None, keepdims=False, name=None):
    """``(mean, variance)`` of ``x`` over ``axes`` (a list of ints)."""
    return ops.moments(x, list(axes) if not isinstance(axes, int) else [axes],
                       keepdims=bool(keepdims))


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """``scale * (x - mean) / sqrt(variance + variance_epsilon) + offset`` (offset / scale may be
    None)."""
    x = t(x)
    return ops.batch_normalization(x, mean, variance, axis=-1, offset=offset, scale=scale,
                                   epsilon=variance_epsilon)


# -- losses ------------------------------------------------------------------------------------
def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per-example ``-log softmax(logits)[label]``: integer ``labels`` of shape
    ``logits.shape[:-1]``."""
    if labels is None or logits is None:
        raise ValueError("tf.nn.sparse_softmax_cross_entropy_with_logits: pass labels= and logits=")
    z, y = t(logits), ops.cast(labels, np.int64)
    if tuple(y.shape) != tuple(z.shape[:-1]):
        raise ValueError(f"tf.nn.sparse_softmax_cross_entropy_with_logits: labels of shape "
                         f"{tuple(y.shape)} must have the logits' shape without the last axis "
                         f"({tuple(z.shape[:-1])})")
    return F.cross_entropy(z, y.data, reduction="none")


def softmax_cross_entropy_with_logits(labels=None, logits=None, axis=-1, name=None):
    """Per-example ``-sum(labels * log softmax(logits))`` (``labels``: probabilities of the
    logits' shape)."""
    if labels is None or logits is None:
        raise ValueError("tf.nn.softmax_cross_entropy_with_logits: pass labels= and logits=")
    z = t(logits)
    return ops.categorical_crossentropy(t(labels, z.dtype), z, from_logits=True, axis=axis)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise ``-labels * log sigmoid(logits) - (1 - labels) * log(1 - sigmoid(logits))``,
    computed stably (same shape as the logits, no reduction)."""
    if labels is None or logits is None:
        raise ValueError("tf.nn.sigmoid_cross_entropy_with_logits: pass labels= and logits=")
    z = t(logits)
    return F.binary_cross_entropy_with_logits(z, t(labels, z.dtype), reduction="none")


def embedding_lookup(params, ids, max_norm=None, name=None):
    """The rows of ``params`` at ``ids`` (any shape of ids -> ids.shape + params.shape[1:])."""
    if max_norm is not None:
        raise NotImplementedError("tf.nn.embedding_lookup: max_norm is not supported by ember")
    return ops.take(params, ids, axis=0)


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """The sum of the (weighted) per-example losses divided by ``global_batch_size`` (by
    default the number of examples)."""
    loss = t(per_example_loss)
    if sample_weight is not None:
        loss = ops.multiply(loss, sample_weight)
    n = loss.shape[0] if global_batch_size is None and loss.ndim else global_batch_size or 1
    return ops.divide(ops.sum(loss), float(n))


accept_symbolic(globals(), __all__, skip=())


def __getattr__(name):
    raise missing_name("ember.keras.tf.nn", name, __all__)
