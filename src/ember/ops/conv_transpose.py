"""Transposed convolutions ("deconvolutions"), channels-last: ``conv_transpose1d`` on (N, L, C_in)
and ``conv_transpose2d`` on (N, H, W, C_in), with PyTorch's stride, padding, output_padding,
dilation and groups.

Weight layout: **(kh, kw, C_out / groups, C_in)** (1-D: (k, C_out / groups, C_in)), the layout of
Keras' ``Conv2DTranspose`` kernel.  It is exactly the weight of the ordinary ``conv2d`` (from C_out
channels to C_in) whose adjoint this op is: ``conv_transpose2d(x, w)`` is the gradient of
``conv2d(y, w)`` with respect to ``y``.  PyTorch stores (C_in, C_out / groups, kh, kw): convert
with ``w.transpose(2, 3, 1, 0)`` from PyTorch, ``w.transpose(3, 2, 0, 1)`` to it.

Output size: H' = (H - 1) sh - 2 ph + dh (kh - 1) + output_padding + 1 (same for W').

Computed with the helpers of ops/conv.py: the forward is the col2im of the convolution (one matmul
per kernel offset), the input gradient is an ordinary convolution of the upstream gradient, and
the weight gradient is that convolution's weight gradient taken with ``x`` as the upstream.
"""
from ._base import make, wrap
from .arguments import int_tuple
from .conv import _conv_forward, _groups, _input_grad, _offsets, _weight_grad, checked_conv_args

__all__ = ["conv_transpose1d", "conv_transpose2d"]


def _transpose_core(x, weight, bias, stride, padding, output_padding, dilation, groups, op, nd):
    xd, wd = x.data, weight.data
    N, H, W, C = xd.shape
    kh, kw, Og, _ = wd.shape
    O = Og * groups
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    for o, s, d, axis in ((oph, sh, dh, 0), (opw, sw, dw, 1)):
        if o >= s and o >= d:
            shown = (output_padding[1],) if nd == 1 else output_padding
            raise ValueError(f"ember.{op}: output_padding {shown} must be smaller than either the "
                             f"stride or the dilation (stride {stride[-nd:]}, dilation {dilation[-nd:]})")
    Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if Ho <= 0 or Wo <= 0:
        shown = (N, W, C) if nd == 1 else (N, H, W, C)
        raise ValueError(f"ember.{op}: input of shape {shown} with padding {padding[-nd:]} gives an "
                         f"empty output ({(Wo,) if nd == 1 else (Ho, Wo)}); reduce the padding")
    out_shape = (N, Ho, Wo, O)
    # the offsets of the convolution from the output space (Ho, Wo) back to the input (H, W)
    offsets = _offsets((Ho, Wo), (H, W), (kh, kw), stride, dilation, (ph, pw))
    out = _input_grad(xd, wd, out_shape, offsets, groups)
    if bias is not None:
        out += bias.data

    def backward(g):
        gx = gw = gb = cols = None
        if x._rg:
            # the im2col of g serves the weight gradient too: build it once
            gx, cols = _conv_forward(g, wd, None, (H, W), offsets, groups, weight._rg)
        if weight._rg:
            if cols is None and groups == 1:
                cols = _conv_forward(g, wd, None, (H, W), offsets, 1, True)[1]
            gw, _ = _weight_grad(xd, g, wd.shape, cols, offsets, groups, False)
        if bias is not None and bias._rg:
            gb = g.reshape(-1, O).sum(axis=0)
        return gx, gw, gb

    return out, backward


def _validate(x, weight, bias, groups, nd, op):
    ws = {1: "(k, C_out/groups, C_in)", 2: "(kh, kw, C_out/groups, C_in)", 3: "(kd, kh, kw, C_out/groups, C_in)"}[nd]
    x, weight, bias = checked_conv_args(x, weight, bias, nd, op, ws)
    C = x.shape[-1]
    if weight.shape[-1] != C:
        raise ValueError(f"ember.{op}: input has C_in={C} channels (last axis of shape {tuple(x.shape)}) "
                         f"but the weight {ws} of shape {tuple(weight.shape)} expects C_in={weight.shape[-1]} "
                         "(PyTorch's weight (C_in, C_out/groups, *k) converts with "
                         f"w.transpose({ {1: '2, 1, 0', 2: '2, 3, 1, 0', 3: '2, 3, 4, 1, 0'}[nd]}))")
    _groups(groups, C, weight.shape[-2] * (groups if isinstance(groups, int) else 1), op)
    O = weight.shape[-2] * groups
    if bias is not None and tuple(bias.shape) != (O,):
        raise ValueError(f"ember.{op}: bias must have shape (C_out,) = ({O},), got {tuple(bias.shape)}")
    if any(s == 0 for s in weight.shape[:nd]):
        raise ValueError(f"ember.{op}: kernel size must be positive, got weight shape {tuple(weight.shape)}")
    return x, weight, bias


def _finish(out, backward, x, weight, bias):
    parents = (x, weight) if bias is None else (x, weight, bias)
    if bias is None:
        return make(out, parents, lambda g: backward(g)[:2])
    return make(out, parents, backward)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution, channels-last (argument order as ``torch.nn.functional``).

    Args:
        x: (N, H, W, C_in).
        weight: (kh, kw, C_out / groups, C_in) (see the module docstring).
        bias: (C_out,) or None.
        stride, padding, output_padding, dilation: int or pair.  ``output_padding`` (extra rows /
            columns at the bottom / right) must be smaller than the stride or the dilation.
        groups: C_in and C_out split into ``groups`` independent blocks.

    Returns (N, H', W', C_out), H' = (H - 1) sh - 2 ph + dh (kh - 1) + output_padding + 1.
    """
    op = "conv_transpose2d"
    x, weight, bias = _validate(x, weight, bias, groups, 2, op)
    w = f"ember.{op}"
    stride = int_tuple(stride, 2, "stride", w, minimum=1)
    padding = int_tuple(padding, 2, "padding", w, minimum=0)
    output_padding = int_tuple(output_padding, 2, "output_padding", w, minimum=0)
    dilation = int_tuple(dilation, 2, "dilation", w, minimum=1)
    out, backward = _transpose_core(x, weight, bias, stride, padding, output_padding, dilation,
                                    groups, op, 2)
    return _finish(out, backward, x, weight, bias)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution, channels-last: x (N, L, C_in), weight (k, C_out / groups, C_in),
    bias (C_out,) -> (N, L', C_out), L' = (L - 1) s - 2 p + d (k - 1) + output_padding + 1."""
    op = "conv_transpose1d"
    x, weight, bias = _validate(x, weight, bias, groups, 1, op)
    w = f"ember.{op}"
    (s,) = int_tuple(stride, 1, "stride", w, minimum=1)
    (p,) = int_tuple(padding, 1, "padding", w, minimum=0)
    (op_,) = int_tuple(output_padding, 1, "output_padding", w, minimum=0)
    (d,) = int_tuple(dilation, 1, "dilation", w, minimum=1)
    N, L, C = x.shape
    k, Og, _ = weight.shape
    x4 = wrap(x.data.reshape(N, 1, L, C))
    w4 = wrap(weight.data.reshape(1, k, Og, C))
    x4._rg, w4._rg = x._rg, weight._rg
    out, backward = _transpose_core(x4, w4, bias, (1, s), (0, p), (0, op_), (1, d), groups, op, 1)
    out = out.reshape(N, out.shape[2], out.shape[3])

    def backward1d(g):
        gx, gw, gb = backward(g.reshape(N, 1, g.shape[1], g.shape[2]))
        gx = None if gx is None else gx.reshape(x.shape)
        gw = None if gw is None else gw.reshape(weight.shape)
        return gx, gw, gb
    return _finish(out, backward1d, x, weight, bias)
