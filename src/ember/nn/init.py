"""Weight initializers (``ember.nn.init``), named and parameterised as ``torch.nn.init``.

Every initializer fills a Tensor **in place** (outside the autograd graph, as under
``ember.no_grad()``), draws from ``ember.random.default_generator()`` unless a NumPy
``generator`` is given, and returns the tensor.

Fans follow ember's weight layouts, in which the **last axis is the output** and the one before it
the input:

* ``Linear`` weight ``(in_features, out_features)``: fan_in = in_features, fan_out = out_features;
* convolution kernels ``(kh, kw, C_in, C_out)`` (or ``(k, C_in, C_out)``): with
  ``receptive = kh * kw``, fan_in = C_in * receptive and fan_out = C_out * receptive.

These are the same numbers PyTorch computes for its ``(out, in)`` / ``(C_out, C_in, kh, kw)``
layouts, so ``kaiming_uniform_(w, a=math.sqrt(5))`` gives the same distribution in both frameworks
(and the same as Keras, whose layouts ember shares).  Keras names are aliases: ``glorot_uniform_`` =
``xavier_uniform_``, ``glorot_normal_`` = ``xavier_normal_``, ``he_uniform_`` / ``he_normal_`` =
``kaiming_uniform_`` / ``kaiming_normal_`` (whose defaults, leaky_relu with a=0, are ReLU's gain).
"""
import math

import numpy as _np

from .. import random as _random
from ..backend import xp
from ..tensor import Tensor

__all__ = ["calculate_gain", "calculate_fan_in_and_fan_out", "zeros_", "ones_", "constant_",
           "normal_", "uniform_", "xavier_uniform_", "xavier_normal_", "glorot_uniform_",
           "glorot_normal_", "kaiming_uniform_", "kaiming_normal_", "he_uniform_", "he_normal_",
           "orthogonal_", "trunc_normal_"]


def _check(tensor, fn):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"ember.nn.init.{fn}: expected an ember Tensor (e.g. a layer's weight), "
                        f"got {type(tensor).__name__}")
    if tensor.data.dtype.kind != "f":
        raise TypeError(f"ember.nn.init.{fn}: expected a floating-point tensor, got dtype {tensor.dtype}")


def _fill(tensor, values):
    """Write ``values`` into ``tensor`` in place (no graph is recorded: it is a raw array write)."""
    tensor.data[...] = xp.asarray(values, dtype=tensor.data.dtype)
    return tensor


def _gen(generator):
    return _random.default_generator() if generator is None else generator


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's table).

    linear, conv*, sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2)) with
    ``param`` the negative slope (default 0.01); selu: 3/4.
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"ember.nn.init.calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"ember.nn.init.calculate_gain: unsupported nonlinearity {nonlinearity!r} "
                     "(expected linear, conv1d/2d/3d, sigmoid, tanh, relu, leaky_relu or selu)")


def calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) for ember's layouts: ``(..., in, out)`` with leading axes the kernel window.

    A 2-D ``(in, out)`` Linear weight gives (in, out); a ``(kh, kw, C_in, C_out)`` kernel gives
    (C_in*kh*kw, C_out*kh*kw).  Tensors with fewer than 2 dimensions have no fans.
    """
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError(f"ember.nn.init: fan in and fan out cannot be computed for a tensor with "
                         f"fewer than 2 dimensions (shape {shape})")
    receptive = 1
    for n in shape[:-2]:
        receptive *= n
    return shape[-2] * receptive, shape[-1] * receptive


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out


def _fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"ember.nn.init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# -- constant ------------------------------------------------------------------------------------
def constant_(tensor, val):
    """Fill with ``val``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"ember.nn.init.constant_: expected an ember Tensor, got {type(tensor).__name__}")
    tensor.data[...] = val
    return tensor


def zeros_(tensor):
    """Fill with 0."""
    return constant_(tensor, 0)


def ones_(tensor):
    """Fill with 1."""
    return constant_(tensor, 1)


# -- plain random ----------------------------------------------------------------------------------
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with samples from U(a, b)."""
    _check(tensor, "uniform_")
    return _fill(tensor, _gen(generator).uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with samples from N(mean, std^2)."""
    _check(tensor, "normal_")
    return _fill(tensor, _gen(generator).normal(mean, std, tensor.shape))


# -- variance scaling ------------------------------------------------------------------------------
def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return _fill(tensor, _gen(generator).uniform(-bound, bound, tensor.shape))


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill(tensor, _gen(generator).normal(0.0, std, tensor.shape))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan) and gain = calculate_gain(nonlinearity, a).

    ``a=math.sqrt(5)`` (PyTorch's Linear/Conv default) gives b = 1 / sqrt(fan_in).
    """
    _check(tensor, "kaiming_uniform_")
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _fill(tensor, _gen(generator).uniform(-bound, bound, tensor.shape))


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    _check(tensor, "kaiming_normal_")
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _fill(tensor, _gen(generator).normal(0.0, std, tensor.shape))


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


# -- orthogonal ------------------------------------------------------------------------------------
def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix scaled by ``gain`` (Saxe et al. 2013), via QR of a normal matrix.

    The tensor is viewed as a matrix of shape ``(prod(shape[:-1]), shape[-1])`` — for a kernel
    ``(kh, kw, C_in, C_out)`` each output filter is one column (Keras' convention; PyTorch flattens
    its ``(C_out, ...)`` layout the same way, one filter per row).  With at least as many rows as
    columns the columns are orthonormal (Q^T Q = I), otherwise the rows are (Q Q^T = I).
    """
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"ember.nn.init.orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}")
    if tensor.size == 0:
        return tensor
    cols = tensor.shape[-1]
    rows = tensor.size // cols
    flat = _gen(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = _np.linalg.qr(flat)
    d = _np.sign(_np.diag(r))
    d[d == 0] = 1
    q = q * d              # unique QR: a uniformly (Haar) distributed orthogonal matrix
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


# -- truncated normal -------------------------------------------------------------------------------
def _norm_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


# Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549671010243609e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)


def _norm_ppf(p):
    """Inverse of the standard normal CDF for an array of p in (0, 1)."""
    p = _np.asarray(p, dtype=_np.float64)
    out = _np.empty_like(p)
    lo, hi = 0.02425, 1 - 0.02425
    mid = (p >= lo) & (p <= hi)
    q = p[mid] - 0.5
    r = q * q
    out[mid] = ((((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q /
                (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1))
    for sel, sign, tail in ((p < lo, 1.0, p), (p > hi, -1.0, 1 - p)):
        if _np.any(sel):
            q = _np.sqrt(-2 * _np.log(tail[sel]))
            out[sel] = sign * ((((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) /
                               ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1))
    return out


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) truncated to [a, b] (``a``, ``b`` are absolute values, as PyTorch).

    Sampled exactly by the inverse-CDF method: u ~ U(Phi(alpha), Phi(beta)), x = mean + std *
    Phi^-1(u), where alpha = (a - mean) / std and beta = (b - mean) / std.
    """
    _check(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"ember.nn.init.trunc_normal_: need a < b, got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"ember.nn.init.trunc_normal_: std must be positive, got {std}")
    alpha, beta = (a - mean) / std, (b - mean) / std
    flip = alpha > 0          # work in the lower half, where the CDF keeps its precision
    if flip:
        alpha, beta = -beta, -alpha
    lo, hi = _norm_cdf(alpha), _norm_cdf(beta)
    u = _gen(generator).uniform(lo, hi, tensor.shape)
    tiny = _np.finfo(_np.float64).tiny
    z = _norm_ppf(_np.clip(u, max(lo, tiny), min(hi, 1 - 1e-16)))
    if flip:
        z = -z
    x = _np.clip(mean + std * z, a, b)
    return _fill(tensor, x)
