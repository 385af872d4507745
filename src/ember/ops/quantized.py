"""Int8 inference ops: symmetric per-channel weight quantization, ONNX-style dynamic activation
quantization, and ``linear_int8`` (the forward of ``ember.nn.QuantizedLinear``).

The scheme is the one ONNX Runtime's dynamic quantization uses (``DynamicQuantizeLinear`` +
``MatMulInteger``), so ember and an exported ONNX graph compute the same numbers:

* weights: int8, symmetric, one scale per output channel: ``scale = max|w[:, j]| / 127``,
  ``w_q = clip(round(w / scale), -127, 127)`` (round half to even; an all-zero column gets
  scale 1);
* activations: uint8, asymmetric, ONE scale and zero point per call for the whole input tensor
  (per tensor, as ONNX ``DynamicQuantizeLinear``): ``x_scale = (max(0, max x) - min(0, min x)) /
  255``, ``zero_point = clip(round(-min(0, min x) / x_scale), 0, 255)``, ``x_q = clip(round(x /
  x_scale) + zero_point, 0, 255)``;
* ``y = float32((x_q - zero_point) @ w_q) * (x_scale * w_scale) + bias``, the integer product
  accumulated exactly (as int32 would).

The integer product runs on BLAS: the operands (|x_q - zp| <= 255, |w_q| <= 127) are cast to
float32 and multiplied with sgemm.  Every partial sum of at most 512 terms is an integer below
512 * 255 * 127 < 2**24, so float32 holds it exactly.  For longer rows the bound used is the
row's own ``sum_k |x_q - zp| * 127`` (whatever order BLAS adds in, no partial sum exceeds it):
below 2**24 -- typical activations; MiniLM's 1536-wide layers stay below 2.8e6 on fortunes --
one sgemm is still exact; otherwise the sum is cut into chunks of 512 whose exact results are
added in float64.  The result is therefore the exact integer accumulator, rounded once to
float32 (what ONNX's ``Cast(int32 -> float)`` does).

Inference only: gradients through the quantized weights, their scales or the bias are refused
with an error.  The input gets a straight-through gradient (``g @ dequantized_w^T``, the rounding
of the activations treated as identity) so that a quantized model can sit inside a graph.
"""
import math

from ..autograd import is_grad_enabled
from ..backend import xp
from ..tensor import Tensor
from ._base import as_tensor, check_devices, make

__all__ = ["quantize_weight_int8", "dynamic_quantize_uint8", "linear_int8"]

#: Terms per exact float32 partial sum (512 * 255 * 127 < 2**24).
_CHUNK = 512
#: Integers up to this are exact in float32.
_EXACT = float(2 ** 24)


def _array(a):
    return a.data if isinstance(a, Tensor) else a


def quantize_weight_int8(weight):
    """Symmetric per-output-channel int8 quantization of a (in_features, out_features) weight.

    Returns ``(weight_int8, scale)``: int8 (in, out) in [-127, 127] and float32 (out,) with
    ``weight ~= weight_int8 * scale``; ``scale = max|w[:, j]| / 127`` (1 for an all-zero column).
    Plain arrays (NumPy) in and out; Tensors are read through.
    """
    w = xp.asarray(_array(weight), dtype=xp.float32)
    if w.ndim != 2:
        raise ValueError(f"ember.quantize_weight_int8: weight must be 2-D (in_features, "
                         f"out_features), got shape {tuple(w.shape)}")
    amax = xp.abs(w).max(axis=0) if w.shape[0] else xp.zeros(w.shape[1], xp.float32)
    scale = (amax / xp.float32(127)).astype(xp.float32)
    scale[scale == 0] = 1
    q = xp.clip(xp.rint(w / scale), -127, 127).astype(xp.int8)
    return q, scale


def _dynamic_params(x2):
    """(x_scale, zero_point) of ONNX DynamicQuantizeLinear for the float32 array ``x2``."""
    if x2.size:
        hi = max(float(x2.max()), 0.0)
        lo = min(float(x2.min()), 0.0)
    else:
        hi = lo = 0.0
    scale = xp.float32((xp.float32(hi) - xp.float32(lo)) / xp.float32(255))
    if not math.isfinite(float(scale)):
        raise ValueError("ember.linear_int8: the input holds inf or nan; it cannot be quantized")
    if scale == 0:                      # an all-zero input: any scale gives x_q = zero_point = 0
        return xp.float32(1), xp.float32(0)
    zp = xp.float32(min(max(float(xp.rint(xp.float32(-lo) / scale)), 0.0), 255.0))
    return scale, zp


def dynamic_quantize_uint8(x):
    """ONNX ``DynamicQuantizeLinear`` of ``x`` (per tensor): ``(x_uint8, x_scale, zero_point)``
    with x_scale float32 and zero_point uint8 (NumPy scalars).  See the module docstring."""
    x2 = xp.asarray(_array(x), dtype=xp.float32)
    scale, zp = _dynamic_params(x2)
    q = xp.clip(xp.rint(x2 / scale) + zp, 0, 255).astype(xp.uint8)
    return q, scale, xp.uint8(zp)


def _int_matmul(a, b):
    """Exact integer product of integer-valued float32 matrices (|a| <= 255, |b| <= 127), rounded
    once to float32."""
    K = a.shape[1]
    if K <= _CHUNK or float(xp.abs(a).sum(axis=1).max()) * 127 < _EXACT:
        return a @ b                 # every partial sum of every dot product is below 2**24
    acc = None
    for k in range(0, K, _CHUNK):
        part = a[:, k:k + _CHUNK] @ b[k:k + _CHUNK]
        acc = part.astype(xp.float64) if acc is None else acc + part
    return acc.astype(xp.float32)


def _refuse_grad(t, name):
    if t is not None and getattr(t, "_rg", False) and is_grad_enabled():
        raise RuntimeError(f"ember.linear_int8: {name} requires grad, but int8 linear layers are "
                           "for inference only (no gradient reaches the quantized weights, their "
                           "scales or the bias); train the float model and quantize it afterwards, "
                           "or call .requires_grad_(False) / use ember.no_grad()")


def linear_int8(x, weight_int8, weight_scale, bias=None, weight_float=None):
    """``x @ (weight_int8 * weight_scale) + bias`` with int8 weights and dynamically quantized
    uint8 activations (ONNX Runtime's dynamic quantization; module docstring).

    Args:
        x: float (..., in_features), any rank >= 1 (quantized per tensor, one scale per call).
        weight_int8: int8 (in_features, out_features) -- ember's layout.
        weight_scale: float32 (out_features,): the per-output-channel weight scale.
        bias: float32 (out_features,) or None.
        weight_float: optional float32 copy of ``weight_int8`` (the same integers) to skip the
            int8 -> float32 cast of each call (``QuantizedLinear`` does not keep one by default).
    Returns a float32 Tensor (..., out_features).  Inference only: weights, scale and bias must
    not require grad (RuntimeError); ``x`` gets a straight-through gradient.
    """
    op = "linear_int8"
    xt = as_tensor(x, op, "input")
    wt = as_tensor(weight_int8, op, "weight_int8")
    st = as_tensor(weight_scale, op, "weight_scale")
    bt = None if bias is None else as_tensor(bias, op, "bias")
    for t, name in ((wt, "weight_int8"), (st, "weight_scale"), (bt, "bias")):
        _refuse_grad(t, name)
    wd = wt.data
    if wd.ndim != 2 or wd.dtype != xp.int8:
        raise TypeError(f"ember.{op}: weight_int8 must be a 2-D int8 (in_features, out_features) "
                        f"array, got {wd.dtype} of shape {tuple(wd.shape)}")
    K, N = wd.shape
    if xt.ndim == 0 or xt.shape[-1] != K:
        raise ValueError(f"ember.{op}: input of shape {tuple(xt.shape)} does not end with "
                         f"in_features={K} (weight_int8 of shape {(K, N)})")
    if tuple(st.shape) != (N,):
        raise ValueError(f"ember.{op}: weight_scale must have shape ({N},), got {tuple(st.shape)}")
    if bt is not None and tuple(bt.shape) != (N,):
        raise ValueError(f"ember.{op}: bias must have shape ({N},), got {tuple(bt.shape)}")
    if xt.data.dtype.kind != "f":
        raise TypeError(f"ember.{op}: input must be floating point, got {xt.data.dtype}")
    check_devices(op, xt, wt, st, bt)
    xd = xt.data
    x2 = xd.reshape(math.prod(xd.shape[:-1]), K)
    if x2.dtype != xp.float32:
        x2 = x2.astype(xp.float32)
    x_scale, zp = _dynamic_params(x2)
    # (x_q - zero_point) as float32, computed in place: round(x / s), then saturate to
    # [-zp, 255 - zp] (the same as saturating round(x / s) + zp to [0, 255])
    xq = x2 / x_scale
    xp.rint(xq, out=xq)
    xp.clip(xq, -zp, xp.float32(255) - zp, out=xq)
    wf = weight_float if weight_float is not None else wd.astype(xp.float32)
    wf = _array(wf)
    out = _int_matmul(xq, wf)
    sd = st.data.astype(xp.float32, copy=False)
    out *= x_scale * sd                      # float32 (N,): x_scale * w_scale, as ONNX's Mul
    if bt is not None:
        out += bt.data.astype(xp.float32, copy=False)
    out = out.reshape(xd.shape[:-1] + (N,))

    parents = (xt, wt, st) if bt is None else (xt, wt, st, bt)

    def backward(g):                        # straight-through: d/dx of x @ (w_q * w_scale)
        g2 = g.reshape(-1, N) * sd
        gx = (g2 @ wf.T).astype(xd.dtype, copy=False).reshape(xd.shape)
        return (gx,) + (None,) * (len(parents) - 1)
    return make(out, parents, backward)
