"""Parity (vs PyTorch, float32) and gradcheck (float64) for grouped / depthwise convolutions and
transposed convolutions.

ember is channels-last: the torch side permutes inputs to (N, C, H, W) and back; conv weights
(kh, kw, C_in/groups, C_out) to PyTorch's (C_out, C_in/groups, kh, kw) with permute(3, 2, 0, 1);
transposed-conv weights (kh, kw, C_out/groups, C_in) to PyTorch's (C_in, C_out/groups, kh, kw)
with the same permute(3, 2, 0, 1).
"""
import numpy as np
import pytest

import ember
import ember.functional as F
from op_harness import Row, table_tests, no_special, special_only, fixed, randn
from op_harness import torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

TF = torch.nn.functional


def t2(fn):
    """A torch conv-like fn on channels-last tensors (x (N,H,W,C), weight (kh,kw,a,b))."""
    def run(x, w, b=None, **kw):
        return fn(x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), b, **kw).permute(0, 2, 3, 1)
    return run


def t1(fn):
    def run(x, w, b=None, **kw):
        return fn(x.permute(0, 2, 1), w.permute(2, 1, 0), b, **kw).permute(0, 2, 1)
    return run


def rows(name, efn, tfn, xs, ws, nout, **kw):
    """A row without and one with bias."""
    return [Row(name, lambda x, w: efn(x, w, **kw), lambda x, w: tfn(x, w, **kw), [randn(*xs), randn(*ws)]),
            Row(name + "_bias", lambda x, w, b: efn(x, w, b, **kw), lambda x, w, b: tfn(x, w, b, **kw),
                [randn(*xs), randn(*ws), randn(nout)])]


def t3(fn):
    def run(x, w, b=None, **kw):
        return fn(x.permute(0, 4, 1, 2, 3), w.permute(4, 3, 0, 1, 2), b, **kw).permute(0, 2, 3, 4, 1)
    return run


c2, c1, c3 = t2(TF.conv2d), t1(TF.conv1d), t3(TF.conv3d)
ct2, ct1, ct3 = t2(TF.conv_transpose2d), t1(TF.conv_transpose1d), t3(TF.conv_transpose3d)

ROWS = [
    # -- grouped conv2d: (kh, kw, C_in/groups, C_out)
    *rows("conv2d_groups2", F.conv2d, c2, (2, 6, 7, 4), (3, 3, 2, 6), 6, groups=2),
    *rows("conv2d_groups3_stride_pad_dil", F.conv2d, c2, (2, 9, 8, 6), (3, 2, 2, 3), 3, groups=3,
          stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
    *rows("conv2d_depthwise", F.conv2d, c2, (2, 7, 6, 5), (3, 3, 1, 5), 5, groups=5, padding=1),
    *rows("conv2d_depthwise_stride2_same_rect", F.conv2d, c2, (2, 8, 7, 4), (3, 2, 1, 4), 4, groups=4, stride=2, padding=2),
    *rows("conv2d_depthwise_same", F.conv2d, c2, (1, 6, 5, 3), (3, 3, 1, 3), 3, groups=3, padding="same", dilation=2),
    *rows("conv2d_depthwise_multiplier2", F.conv2d, c2, (2, 6, 6, 3), (3, 3, 1, 6), 6, groups=3, padding=1),
    *rows("conv1d_groups2", F.conv1d, c1, (2, 9, 4), (3, 2, 6), 6, groups=2, padding=1),
    *rows("conv1d_depthwise", F.conv1d, c1, (2, 9, 3), (4, 1, 3), 3, groups=3, stride=2, dilation=2, padding=3),
    # -- transposed: (kh, kw, C_out/groups, C_in)
    *rows("conv_transpose2d", F.conv_transpose2d, ct2, (2, 4, 5, 3), (3, 3, 4, 3), 4),
    *rows("conv_transpose2d_stride2_pad1_outpad1", F.conv_transpose2d, ct2, (2, 4, 3, 3), (3, 3, 2, 3), 2,
          stride=2, padding=1, output_padding=1),
    *rows("conv_transpose2d_rect_all", F.conv_transpose2d, ct2, (2, 3, 4, 2), (2, 3, 3, 2), 3,
          stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(2, 1)),
    *rows("conv_transpose2d_outpad_lt_dilation", F.conv_transpose2d, ct2, (1, 4, 4, 2), (3, 3, 2, 2), 2,
          stride=1, output_padding=1, dilation=2),
    *rows("conv_transpose2d_groups2", F.conv_transpose2d, ct2, (2, 4, 4, 4), (3, 3, 3, 4), 6, stride=2, groups=2),
    *rows("conv_transpose2d_depthwise", F.conv_transpose2d, ct2, (2, 5, 4, 3), (3, 3, 1, 3), 3, stride=2,
          padding=1, groups=3),
    *rows("conv_transpose2d_large_pad", F.conv_transpose2d, ct2, (1, 5, 5, 2), (3, 3, 2, 2), 2, padding=2),
    *rows("conv_transpose1d", F.conv_transpose1d, ct1, (2, 5, 3), (3, 4, 3), 4, stride=2, padding=1, output_padding=1),
    *rows("conv_transpose1d_groups_dil", F.conv_transpose1d, ct1, (2, 6, 4), (2, 3, 4), 6, groups=2, dilation=3),
    # -- 3-D: weights (kd, kh, kw, C_in/groups, C_out) and (kd, kh, kw, C_out/groups, C_in)
    *rows("conv3d", F.conv3d, c3, (2, 4, 5, 4, 3), (2, 3, 2, 3, 4), 4),
    *rows("conv3d_stride_pad_dil_groups", F.conv3d, c3, (2, 6, 5, 5, 4), (2, 2, 3, 2, 4), 4, stride=(2, 1, 2),
          padding=(1, 2, 1), dilation=(2, 1, 1), groups=2),
    *rows("conv3d_depthwise_same", F.conv3d, c3, (1, 4, 4, 5, 3), (3, 3, 3, 1, 3), 3, padding="same", groups=3),
    *rows("conv_transpose3d", F.conv_transpose3d, ct3, (2, 3, 4, 3, 3), (2, 3, 2, 4, 3), 4, stride=2, padding=1,
          output_padding=(1, 0, 1)),
    *rows("conv_transpose3d_groups_dil", F.conv_transpose3d, ct3, (1, 3, 3, 4, 4), (2, 2, 3, 3, 4), 6, groups=2,
          dilation=(1, 2, 1)),
    # special values: inf / nan propagate as in PyTorch (forward only: gradients are nan)
    Row("conv2d_depthwise_nan_inf", lambda x, w: F.conv2d(x, w, groups=2, padding=1),
        lambda x, w: c2(x, w, groups=2, padding=1),
        [fixed(np.array([[[[np.nan, 1.0], [2.0, -0.0]], [[np.inf, 3.0], [0.5, 1.0]]]]), no_grad="nan/inf"),
         fixed(np.ones((3, 3, 1, 2)), no_grad="nan/inf")], differentiable=False),
]


# special values only in x (input 0):
special_only(ROWS, (0,), "a non-finite weight meets the zero padding (0 * inf): PyTorch's own answer depends on the "
             "kernel it picks (float32 depthwise and oneDNN paths skip padding taps, its float64 and im2col paths "
             "multiply them and give nan; checked on torch 2.13), while ember always multiplies; so only x "
             "(input 0) takes special values")
_CROPPED = ("an inf in x meets, in the weight gradient, the border the transposed convolution crops "
            "(0 * inf): PyTorch skips those taps in some kernels and multiplies them in others (on the "
            "stride-2 row its float32 kernel gives inf, its float64 kernel nan, as ember always does); "
            "checked on torch 2.13")
no_special(ROWS, {name: _CROPPED for name in (
    "conv_transpose2d_stride2_pad1_outpad1", "conv_transpose2d_stride2_pad1_outpad1_bias",
    "conv_transpose2d_depthwise", "conv_transpose2d_depthwise_bias", "conv_transpose3d", "conv_transpose3d_bias")})

(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


def test_errors_name_the_op_and_fix():
    x = ember.randn(1, 5, 5, 4)
    with pytest.raises(ValueError, match=r"conv2d: groups=3 must divide"):
        F.conv2d(x, ember.randn(3, 3, 1, 3), groups=3)
    with pytest.raises(ValueError, match=r"conv2d: input has C_in=4.*groups=2 expects C_in=6"):
        F.conv2d(x, ember.randn(3, 3, 3, 4), groups=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: input has C_in=4.*transpose\(2, 3, 1, 0\)"):
        F.conv_transpose2d(x, ember.randn(3, 3, 2, 3))
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_padding \(2, 2\) must be smaller"):
        F.conv_transpose2d(x, ember.randn(3, 3, 2, 4), stride=2, output_padding=2)


def test_conv_transpose_is_adjoint_of_conv():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 3, 2, 6))          # conv2d: 4 -> 6 channels, groups 2
    x = rng.standard_normal((2, 7, 7, 4))
    y = F.conv2d(ember.tensor(x), ember.tensor(w), stride=2, padding=1, groups=2).numpy()
    g = rng.standard_normal(y.shape)
    # <conv(x), g> == <x, conv_transpose(g)> with the same weight array: (kh, kw, C_in/G, C_out)
    xt = F.conv_transpose2d(ember.tensor(g), ember.tensor(w), stride=2, padding=1, groups=2).numpy()
    assert xt.shape == x.shape
    np.testing.assert_allclose((y * g).sum(), (x * xt).sum(), rtol=1e-5)
