"""Keras 3's neural-network ops (``keras.ops.relu``, ``softmax``, ``one_hot``, ``conv``,
``max_pool``, ``categorical_crossentropy``, ``moments`` ...), channels-last, Keras' names and
defaults (``gelu(approximate=True)``, ``leaky_relu(negative_slope=0.2)``), computed by
``ember.functional``."""
import numpy as np

from ... import functional as F
from ...ops import probability_losses as _pl
from ...tensor import Tensor
from .. import losses as _losses
from ..keras_tensor import symbolic
from ..layers._arguments import same_pads
from .core import axis_arg, exporter, float_tensor, std_dtype, to_tensor

__all__ = []


_export = exporter(__all__)


def _activation(name, f, doc):
    def op(x):
        return f(float_tensor(x))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc + " (elementwise)."
    return _export(symbolic(op))


relu = _activation("relu", F.relu, "max(x, 0)")
relu6 = _activation("relu6", F.relu6, "min(max(x, 0), 6)")
sigmoid = _activation("sigmoid", F.sigmoid, "1 / (1 + exp(-x))")
softplus = _activation("softplus", lambda x: F.softplus(x, 1.0, np.inf), "log(1 + exp(x))")
softsign = _activation("softsign", F.softsign, "x / (1 + |x|)")
silu = _activation("silu", F.silu, "x * sigmoid(x)")
log_sigmoid = _activation("log_sigmoid", F.logsigmoid, "log(sigmoid(x)), stably")
hard_sigmoid = _activation("hard_sigmoid", lambda x: F.clip(F.add(F.divide(x, 6.0), 0.5), 0.0, 1.0),
                           "clip(x / 6 + 0.5, 0, 1)")
hard_silu = _activation("hard_silu", F.hardswish, "x * hard_sigmoid(x)")
hard_swish = _activation("hard_swish", F.hardswish, "x * hard_sigmoid(x)")
selu = _activation("selu", F.selu, "Scaled ELU (Klambauer et al.)")
tanh_shrink = _activation("tanh_shrink", F.tanhshrink, "x - tanh(x)")


@_export
@symbolic
def swish(x):
    """x * sigmoid(x) (elementwise)."""
    return F.silu(float_tensor(x))


@_export
@symbolic
def leaky_relu(x, negative_slope=0.2):
    """x for x >= 0, ``negative_slope * x`` otherwise."""
    return F.leaky_relu(float_tensor(x), negative_slope)


@_export
@symbolic
def elu(x, alpha=1.0):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""
    return F.elu(float_tensor(x), alpha)


@_export
@symbolic
def celu(x, alpha=1.0):
    """max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))."""
    return F.celu(float_tensor(x), alpha)


@_export
@symbolic
def gelu(x, approximate=True):
    """The Gaussian error linear unit; ``approximate=True`` (Keras' default) is the tanh form."""
    return F.gelu(float_tensor(x), "tanh" if approximate else "none")


@_export
@symbolic
def glu(x, axis=-1):
    """a * sigmoid(b) for the two halves a, b of x along ``axis``."""
    return F.glu(float_tensor(x), axis)


@_export
@symbolic
def hard_tanh(x):
    """clip(x, -1, 1)."""
    return F.hardtanh(float_tensor(x))


@_export
@symbolic
def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    return F.hardshrink(float_tensor(x), threshold)


@_export
@symbolic
def soft_shrink(x, threshold=0.5):
    """x - threshold * sign(x) where |x| > threshold, else 0."""
    return F.softshrink(float_tensor(x), threshold)


@_export
@symbolic
def squareplus(x, b=4):
    """(x + sqrt(x ** 2 + b)) / 2."""
    x = float_tensor(x)
    return F.multiply(F.add(x, F.sqrt(F.add(F.multiply(x, x), b))), 0.5)


@_export
@symbolic
def threshold(x, threshold, default_value):
    """x where x > threshold, else ``default_value``."""
    x = to_tensor(x)
    return F.where(F.greater(x, threshold), x, default_value)


@_export
@symbolic
def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis`` (a tuple: over those axes together)."""
    x = float_tensor(x)
    if isinstance(axis, (list, tuple)):
        return F.exp(F.subtract(x, F.logsumexp(x, tuple(axis), True)))
    return F.softmax(x, axis)


@_export
@symbolic
def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``."""
    x = float_tensor(x)
    if isinstance(axis, (list, tuple)):
        return F.subtract(x, F.logsumexp(x, tuple(axis), True))
    return F.log_softmax(x, axis)


# -- encodings -------------------------------------------------------------------------------------------
@_export
@symbolic
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer labels x -> one-hot vectors of ``num_classes`` on a new ``axis`` (float32 unless
    ``dtype``); labels outside [0, num_classes) give all-zero vectors, as Keras."""
    labels = to_tensor(x).numpy().astype(np.int64)
    eye = np.eye(int(num_classes) + 1, int(num_classes), dtype=std_dtype(dtype) or np.float32)
    out = eye[np.where((labels >= 0) & (labels < num_classes), labels, num_classes)]
    return Tensor.wrap(np.moveaxis(out, -1, axis) if axis != -1 else out)


@_export
@symbolic
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Integer labels (B, k) -> (B, num_classes) with a 1 at each present label."""
    num_classes = kwargs.get("num_tokens", num_classes)
    labels = to_tensor(inputs)
    hot = one_hot(labels, num_classes, -1, dtype)
    out = F.max(hot, axis=-2 if labels.ndim > 1 else 0)
    return F.moveaxis(out, -1, axis) if axis != -1 else out


# -- losses: Keras' functions of (target, output), per-sample values -------------------------------------
@_export
@symbolic
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-sum(target * log(output), axis): one-hot (probability) targets, probabilities (or logits
    with ``from_logits=True``) along ``axis``; shape ``output.shape`` without ``axis``."""
    return _losses.categorical_crossentropy(to_tensor(target), to_tensor(output), from_logits,
                                            axis=axis)


@_export
@symbolic
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-log(output[target]): integer targets ``output.shape[:-1]``, class probabilities (or
    logits) on the last axis."""
    return _losses.sparse_categorical_crossentropy(to_tensor(target), to_tensor(output),
                                                   from_logits, axis=axis)


@_export
@symbolic
def binary_crossentropy(target, output, from_logits=False):
    """-(t log(p) + (1 - t) log(1 - p)) elementwise (no mean), p clipped to [eps, 1 - eps] as
    Keras; ``from_logits=True`` computes it from logits stably."""
    p = float_tensor(output)
    t = F.cast(to_tensor(target), p.dtype)
    if from_logits:
        return F.binary_cross_entropy_with_logits(p, t, reduction="none")
    return _pl.binary_crossentropy_from_probabilities(p, t, reduction="none",
                                                      op_name="keras.ops.binary_crossentropy")


# -- normalisation ---------------------------------------------------------------------------------------
@_export
@symbolic
def moments(x, axes, keepdims=False, synchronized=False):
    """``(mean, variance)`` of x over ``axes``."""
    x = float_tensor(x)
    axes = axis_arg(axes)
    return F.mean(x, axes, keepdims), F.var(x, axes, 0, keepdims)


@_export
@symbolic
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """(x - mean) / sqrt(variance + epsilon) * scale + offset, the 1-D statistics along
    ``axis``."""
    x = float_tensor(x)
    shape = [1] * x.ndim
    shape[axis] = -1

    def along(v):
        return F.reshape(to_tensor(v), tuple(shape))
    out = F.multiply(F.subtract(x, along(mean)), F.rsqrt(F.add(along(variance), epsilon)))
    if scale is not None:
        out = F.multiply(out, along(scale))
    if offset is not None:
        out = F.add(out, along(offset))
    return out


@_export
@symbolic
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """(x - mean) / sqrt(var + epsilon) over ``axis`` (``epsilon`` defaults to Keras' backend
    epsilon, 1e-7), then * gamma + beta."""
    x = float_tensor(x)
    eps = 1e-7 if epsilon is None else epsilon
    axes = axis_arg(axis)
    m = F.mean(x, axes, True)
    v = F.var(x, axes, 0, True)
    out = F.multiply(F.subtract(x, m), F.rsqrt(F.add(v, eps)))
    if gamma is not None:
        out = F.multiply(out, to_tensor(gamma))
    if beta is not None:
        out = F.add(out, to_tensor(beta))
    return out


@_export
@symbolic
def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """x / sqrt(mean(x ** 2, axis) + epsilon) * scale (epsilon default 1e-7)."""
    x = float_tensor(x)
    eps = 1e-7 if epsilon is None else epsilon
    out = F.multiply(x, F.rsqrt(F.add(F.mean(F.multiply(x, x), axis_arg(axis), True), eps)))
    return out if scale is None else F.multiply(out, to_tensor(scale))


@_export
@symbolic
def normalize(x, axis=-1, order=2, epsilon=None):
    """x / max(||x||_order, epsilon) along ``axis`` (epsilon default 1e-12)."""
    return F.normalize(float_tensor(x), float(order), axis, 1e-12 if epsilon is None else epsilon)


# -- convolution and pooling (channels-last) -------------------------------------------------------------
def _tuple(v, rank, what, where):
    t = (int(v),) * rank if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)
    if len(t) != rank:
        raise ValueError(f"keras.ops.{where}: {what}={v!r} needs {rank} values for a "
                         f"{rank}-D input")
    return t


def _check(x, where, data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"keras.ops.{where}: data_format={data_format!r}; ember is channels-last "
                         "(N, ..., C): transpose the data instead")
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"keras.ops.{where}: inputs must be (N, W, C), (N, H, W, C) or "
                         f"(N, D, H, W, C), got shape {tuple(x.shape)}")
    return x.ndim - 2


def _same(x, sizes, strides, dilation, padding, where, value=0.0):
    """x padded as TensorFlow's 'same' (the odd pixel after) or unchanged for 'valid'."""
    padding = padding.lower()
    if padding == "valid":
        return x
    if padding != "same":
        raise ValueError(f"keras.ops.{where}: padding={padding!r}; expected 'valid' or 'same'")
    pads = [same_pads(x.shape[1 + i], k, s, d) for i, (k, s, d) in
            enumerate(zip(sizes, strides, dilation))]
    return F.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),), value=value)


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _conv(x, kernel, strides, padding, dilation_rate, groups, where, data_format):
    rank = _check(x, where, data_format)
    strides = _tuple(strides, rank, "strides", where)
    dilation = _tuple(dilation_rate, rank, "dilation_rate", where)
    x = _same(x, kernel.shape[:rank], strides, dilation, padding, where)
    k = kernel if kernel.dtype == x.dtype else F.cast(kernel, x.dtype)
    if rank == 1:
        return F.conv1d(x, k, None, strides[0], 0, dilation[0], groups)
    return _CONV[rank](x, k, None, strides, 0, dilation, groups)


@_export
@symbolic
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution of channels-last ``inputs`` (N, *spatial, C_in) with ``kernel``
    (*window, C_in / groups, C_out); ``padding`` 'valid' or 'same' (TensorFlow's, odd pixel
    after)."""
    x, k = float_tensor(inputs), to_tensor(kernel)
    groups = x.shape[-1] // k.shape[-2] if k.ndim == x.ndim else 1
    return _conv(x, k, strides, padding, dilation_rate, groups, "conv", data_format)


@_export
@symbolic
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution: ``kernel`` (*window, C_in, multiplier) filters each channel alone;
    output channels C_in * multiplier (channel c's m-th filter at c * multiplier + m)."""
    x, k = float_tensor(inputs), to_tensor(kernel)
    c, m = k.shape[-2], k.shape[-1]
    k = F.reshape(k, tuple(k.shape[:-2]) + (1, c * m))
    return _conv(x, k, strides, padding, dilation_rate, c, "depthwise_conv", data_format)


@_export
@symbolic
def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """A depthwise convolution followed by a 1x1 convolution with ``pointwise_kernel``."""
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, 1)


def _pool(x, pool_size, strides, padding, where, data_format, kind):
    x = float_tensor(x)
    rank = _check(x, where, data_format)
    size = _tuple(pool_size, rank, "pool_size", where)
    strides = size if strides is None else _tuple(strides, rank, "strides", where)
    ones = (1,) * rank
    pool = getattr(F, f"{kind}_pool{rank}d")
    if kind == "max":
        return pool(_same(x, size, strides, ones, padding, where, -np.inf), size, strides)
    if padding.lower() == "valid":
        return pool(x, size, strides)
    # Keras' 'same' average counts only the input pixels of a border window.
    count = pool(_same(Tensor.wrap(np.ones((1,) + tuple(x.shape[1:-1]) + (1,), x.dtype)), size,
                       strides, ones, padding, where), size, strides)
    return F.divide(pool(_same(x, size, strides, ones, padding, where), size, strides), count)


@_export
@symbolic
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The maximum over ``pool_size`` windows of channels-last ``inputs`` (``strides`` defaults
    to ``pool_size``; 'same' pads with -inf)."""
    return _pool(inputs, pool_size, strides, padding, "max_pool", data_format, "max")


@_export
@symbolic
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The mean over ``pool_size`` windows (with 'same', border windows average their input
    pixels only, as Keras)."""
    return _pool(inputs, pool_size, strides, padding, "average_pool", data_format, "avg")


# -- attention and metrics -----------------------------------------------------------------------------
@_export
@symbolic
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """softmax(Q K^T * scale + bias, masked) V for (B, T, N, H) query / key / value (Keras'
    layout: heads on axis 2); ``scale`` defaults to 1 / sqrt(H); ``mask`` (bool) keeps True."""
    q, k, v = (F.swapaxes(float_tensor(t), 1, 2) for t in (query, key, value))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = F.multiply(F.matmul(q, F.swapaxes(k, -1, -2)), scale)
    if attn_logits_soft_cap is not None:
        logits = F.multiply(F.tanh(F.divide(logits, attn_logits_soft_cap)), attn_logits_soft_cap)
    if bias is not None:
        logits = F.add(logits, to_tensor(bias))
    keep = None if mask is None else to_tensor(mask).numpy().astype(bool)
    if is_causal:
        causal = np.tril(np.ones((q.shape[-2], k.shape[-2]), bool))
        keep = causal if keep is None else keep & causal
    if keep is not None:
        logits = F.where(Tensor.wrap(keep), logits, float(np.finfo(np.float32).min))
    return F.swapaxes(F.matmul(F.softmax(logits, -1), v), 1, 2)


@_export
@symbolic
def psnr(x1, x2, max_val):
    """The peak signal-to-noise ratio 20 log10(max_val) - 10 log10(mean((x1 - x2) ** 2))."""
    d = F.subtract(float_tensor(x1), float_tensor(x2))
    return F.subtract(20.0 * np.log10(max_val), F.multiply(F.log10(F.mean(F.multiply(d, d))), 10.0))


@_export
@symbolic
def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """N-D transposed convolution of channels-last ``inputs`` (N, *spatial, C_in) with
    ``kernel`` (*window, C_out, C_in), Keras' output sizes: 'same' gives size * stride, 'valid'
    size * stride + max(window - stride, 0) (``output_padding`` adds to the sizes instead)."""
    x, k = float_tensor(inputs), to_tensor(kernel)
    rank = _check(x, "conv_transpose", data_format)
    strides = _tuple(strides, rank, "strides", "conv_transpose")
    dilation = _tuple(dilation_rate, rank, "dilation_rate", "conv_transpose")
    pads = None if output_padding is None else _tuple(output_padding, rank, "output_padding",
                                                      "conv_transpose")
    if padding.lower() not in ("valid", "same"):
        raise ValueError(f"keras.ops.conv_transpose: padding={padding!r}; expected 'valid' or 'same'")
    same = padding.lower() == "same"
    k = k if k.dtype == x.dtype else F.cast(k, x.dtype)
    one = rank == 1
    full = getattr(F, f"conv_transpose{rank}d")(x, k, None, strides[0] if one else strides, 0, 0,
                                                1, dilation[0] if one else dilation)
    widths = [(0, 0)]
    for i in range(rank):
        # Keras' sizes (its JAX padding rule): the output starts ``before`` entries into the full
        # transposed convolution, of length (n - 1) s + ke.
        n, s, ke = x.shape[1 + i], strides[i], (k.shape[i] - 1) * dilation[i] + 1
        op = None if pads is None else pads[i]
        if same:
            pad_len = s + ke - 2 if op is None else ke + ke % 2 - 2 + op
            before = ke - 1 - min(pad_len // 2 + pad_len % 2, ke - 1)
            size = n * s if op is None else (n - 1) * s + ke % 2 + op
        else:
            before = 0
            size = (n - 1) * s + ke + (_pos(s - ke) if op is None else op)
        widths.append((-before, size - (full.shape[1 + i] - before)))  # crop (<0) or zero-pad
    return F.pad(full, tuple(widths) + ((0, 0),))


def _pos(v):
    return v if v > 0 else 0


def _adaptive(x, output_size, kind, where, data_format):
    x = float_tensor(x)
    rank = _check(x, where, data_format)
    size = _tuple(output_size, rank, "output_size", where)
    return getattr(F, f"adaptive_{kind}_pool{rank}d")(x, size if rank > 1 else size[0])


@_export
@symbolic
def adaptive_average_pool(inputs, output_size, data_format=None):
    """The mean over PyTorch's adaptive bins: (N, *spatial, C) -> (N, *output_size, C)."""
    return _adaptive(inputs, output_size, "avg", "adaptive_average_pool", data_format)


@_export
@symbolic
def adaptive_max_pool(inputs, output_size, data_format=None):
    """The maximum over PyTorch's adaptive bins: (N, *spatial, C) -> (N, *output_size, C)."""
    out = _adaptive(inputs, output_size, "max", "adaptive_max_pool", data_format)
    return out[0] if isinstance(out, tuple) else out


@_export
@symbolic
def depth_to_space(x, block_size, data_format="channels_last"):
    """(N, H, W, C b^2) -> (N, H b, W b, C), TensorFlow's channel order (block row, block
    column, channel)."""
    x = to_tensor(x)
    _check(x, "depth_to_space", data_format)
    n, h, w, c = x.shape
    b = int(block_size)
    y = F.reshape(x, (n, h, w, b, b, c // (b * b)))
    return F.reshape(F.transpose(y, 0, 1, 3, 2, 4, 5), (n, h * b, w * b, c // (b * b)))


@_export
@symbolic
def space_to_depth(x, block_size, data_format="channels_last"):
    """(N, H b, W b, C) -> (N, H, W, C b^2), the inverse of :func:`depth_to_space`."""
    x = to_tensor(x)
    _check(x, "space_to_depth", data_format)
    n, h, w, c = x.shape
    b = int(block_size)
    y = F.reshape(x, (n, h // b, b, w // b, b, c))
    return F.reshape(F.transpose(y, 0, 1, 3, 2, 4, 5), (n, h // b, w // b, b * b * c))


@_export
@symbolic
def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 for |x| < 1, x for x >= 1 (elementwise)."""
    x = float_tensor(x)
    mid = F.multiply(F.multiply(F.add(x, 1.0), F.add(x, 1.0)), 0.25)
    return F.where(F.less_equal(x, -1.0), F.multiply(x, 0.0), F.where(F.greater_equal(x, 1.0), x, mid))


@_export
@symbolic
def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 for |x| < 1, 1 for x >= 1 (elementwise)."""
    return F.clip(F.multiply(F.add(float_tensor(x), 1.0), 0.5), 0.0, 1.0)


@_export
@symbolic
def sparsemax(x, axis=-1):
    """The Euclidean projection of x onto the probability simplex along ``axis`` (Martins &
    Astudillo): a softmax with exact zeros."""
    x = float_tensor(x)
    z = F.moveaxis(x, axis, -1)
    srt = F.flip(F.sort(z, axis=-1).values, -1)
    k = Tensor.wrap(np.arange(1, z.shape[-1] + 1, dtype=z.dtype))
    cums = F.cumsum(srt, -1)
    support = F.cast(F.greater(F.add(F.multiply(srt, k), 1.0), cums), z.dtype)
    k_z = F.sum(support, -1, True)
    tau = F.divide(F.subtract(F.sum(F.multiply(srt, support), -1, True), 1.0), k_z)
    return F.moveaxis(F.relu(F.subtract(z, tau)), -1, axis)


# -- CTC -------------------------------------------------------------------------------------------
@_export
@symbolic
def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """CTC loss per sample, shape (batch,): ``target`` (batch, max_length) integer labels,
    ``output`` (batch, max_length, num_classes) logits (a log-softmax is taken here),
    ``target_length`` / ``output_length`` (batch,); ``mask_index`` is the blank class."""
    return _losses.ctc_loss_op(to_tensor(target), to_tensor(output), to_tensor(target_length),
                               to_tensor(output_length), mask_index)


@_export
@symbolic
def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """Decode CTC outputs ``inputs`` (batch, max_length, num_classes) logits.

    strategy 'greedy': ``(decoded, scores)`` with decoded (1, batch, max_length) int32 (labels
    first, -1 after) and scores (batch, 1) = minus the summed per-frame maxima.  'beam_search':
    decoded (top_paths, batch, max_length) and scores (batch, top_paths) log-probabilities.
    ``mask_index`` is the blank (None: the last class)."""
    x = to_tensor(inputs)
    if x.dtype != np.float32:
        x = F.cast(x, np.float32)      # Keras: result_type(inputs.dtype, 'float32'), float32
    if strategy == "greedy":
        decoded, scores = F.ctc_greedy_decode(x, to_tensor(sequence_lengths),
                                              merge_repeated=merge_repeated, mask_index=mask_index)
        return F.expand_dims(decoded, 0), scores
    if strategy == "beam_search":
        return F.ctc_beam_search_decode(x, to_tensor(sequence_lengths), beam_width=beam_width,
                                        top_paths=top_paths, mask_index=mask_index)
    raise ValueError(f"Invalid strategy {strategy}. Supported values are 'greedy' and "
                     "'beam_search'.")
