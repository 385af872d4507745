"""Parity (vs PyTorch, float32) and gradcheck (float64) for the pooling options (dilation,
ceil_mode, return_indices, count_include_pad, divisor_override), adaptive / unpool / lp pooling.

ember is channels-last: the torch side permutes (N, H, W, C) <-> (N, C, H, W) and (N, L, C) <->
(N, C, L).  Indices are the same numbers in both (flat positions in the spatial plane).
"""
import numpy as np
import pytest

import ember
import ember.functional as F
from op_harness import Row, table_tests, no_special, distinct, fixed, positive, randn, to_cf, to_cl, uniform
from op_harness import torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

TF = torch.nn.functional


def tp(fn, **kw):
    """torch fn on a channels-last tensor; tuple outputs (values, indices) permuted back too."""
    def run(x, *rest):
        out = fn(to_cf(x), *[to_cf(r) for r in rest], **kw)
        return tuple(to_cl(o) for o in out) if isinstance(out, tuple) else to_cl(out)
    return run


def ep(fn, **kw):
    return lambda x, *rest: fn(x, *rest, **kw)


def row(name, efn, tfn, args, **kw):
    return Row(name, ep(efn, **kw), tp(tfn, **kw), args)


_nan = np.random.default_rng(7).permutation(2 * 5 * 6 * 2).reshape(2, 5, 6, 2).astype(float) * 0.1
_nan[0, 1, 1, 0] = np.nan
_nan[1, 3, 4, 1] = np.inf
_nan[1, 0, 0, 0] = -np.inf
_nan[0, 4, 5, 1] = -0.0

ROWS = [
    # -- max_pool2d options
    row("max_pool2d_dilation2", F.max_pool2d, TF.max_pool2d, [distinct(2, 9, 8, 3)], kernel_size=3, stride=1, dilation=2),
    row("max_pool2d_ceil", F.max_pool2d, TF.max_pool2d, [distinct(2, 7, 8, 2)], kernel_size=3, stride=2, ceil_mode=True),
    row("max_pool2d_ceil_pad_dil", F.max_pool2d, TF.max_pool2d, [distinct(2, 8, 9, 2)], kernel_size=(3, 2),
        stride=(2, 3), padding=1, dilation=(2, 1), ceil_mode=True),
    row("max_pool2d_indices", F.max_pool2d, TF.max_pool2d, [distinct(2, 7, 6, 3)], kernel_size=3, stride=2,
        padding=1, return_indices=True),
    row("max_pool2d_indices_dil_ceil", F.max_pool2d, TF.max_pool2d, [distinct(2, 9, 8, 2)], kernel_size=2,
        stride=2, dilation=2, ceil_mode=True, return_indices=True),
    Row("max_pool2d_nan_inf_indices", ep(F.max_pool2d, kernel_size=2, stride=1, return_indices=True),
        tp(TF.max_pool2d, kernel_size=2, stride=1, return_indices=True), [fixed(_nan)], gradcheck=False),
    row("max_pool1d", F.max_pool1d, TF.max_pool1d, [distinct(2, 11, 3)], kernel_size=3, stride=2, padding=1),
    row("max_pool1d_dil_ceil_indices", F.max_pool1d, TF.max_pool1d, [distinct(2, 10, 2)], kernel_size=2,
        stride=3, dilation=2, ceil_mode=True, return_indices=True),
    row("max_pool3d", F.max_pool3d, TF.max_pool3d, [distinct(2, 5, 6, 4, 2)], kernel_size=2),
    row("max_pool3d_all_options", F.max_pool3d, TF.max_pool3d, [distinct(1, 7, 6, 8, 2)], kernel_size=(3, 2, 3),
        stride=(2, 1, 2), padding=(1, 0, 1), dilation=(1, 2, 1), ceil_mode=True, return_indices=True),
    row("avg_pool3d", F.avg_pool3d, TF.avg_pool3d, [randn(2, 5, 6, 4, 2)], kernel_size=2),
    row("avg_pool3d_all_options", F.avg_pool3d, TF.avg_pool3d, [randn(1, 7, 6, 8, 2)], kernel_size=(3, 2, 3),
        stride=(2, 1, 2), padding=(1, 0, 1), ceil_mode=True, count_include_pad=False),
    row("avg_pool3d_divisor", F.avg_pool3d, TF.avg_pool3d, [randn(1, 4, 5, 4, 2)], kernel_size=3, stride=2,
        padding=1, divisor_override=7),
    # -- avg_pool options
    row("avg_pool2d_ceil", F.avg_pool2d, TF.avg_pool2d, [randn(2, 7, 8, 2)], kernel_size=3, stride=2, ceil_mode=True),
    row("avg_pool2d_ceil_pad_include", F.avg_pool2d, TF.avg_pool2d, [randn(2, 6, 7, 2)], kernel_size=3, stride=2,
        padding=1, ceil_mode=True),
    row("avg_pool2d_exclude_pad", F.avg_pool2d, TF.avg_pool2d, [randn(2, 6, 7, 2)], kernel_size=3, stride=2,
        padding=1, count_include_pad=False),
    row("avg_pool2d_exclude_pad_ceil", F.avg_pool2d, TF.avg_pool2d, [randn(2, 8, 6, 2)], kernel_size=(3, 2),
        stride=(2, 3), padding=1, ceil_mode=True, count_include_pad=False),
    row("avg_pool2d_divisor_override", F.avg_pool2d, TF.avg_pool2d, [randn(2, 6, 6, 2)], kernel_size=3, stride=2,
        padding=1, divisor_override=5),
    row("avg_pool2d_special_values", F.avg_pool2d, TF.avg_pool2d, [fixed(_nan, no_grad="nan/inf")], kernel_size=2),
    row("avg_pool1d", F.avg_pool1d, TF.avg_pool1d, [randn(2, 9, 3)], kernel_size=3, stride=2, padding=1),
    row("avg_pool1d_ceil_exclude", F.avg_pool1d, TF.avg_pool1d, [randn(2, 10, 2)], kernel_size=4, stride=3,
        padding=2, ceil_mode=True, count_include_pad=False),
    # -- adaptive
    row("adaptive_avg_pool2d", F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, [randn(2, 7, 9, 3)], output_size=(3, 4)),
    row("adaptive_avg_pool2d_upsample_none", F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, [randn(2, 3, 5, 2)],
        output_size=(5, None)),
    row("adaptive_avg_pool2d_1", F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, [randn(2, 4, 5, 3)], output_size=1),
    row("adaptive_avg_pool3d", F.adaptive_avg_pool3d, TF.adaptive_avg_pool3d, [randn(1, 5, 7, 4, 2)], output_size=(2, 3, 3)),
    row("adaptive_avg_pool1d", F.adaptive_avg_pool1d, TF.adaptive_avg_pool1d, [randn(2, 10, 3)], output_size=4),
    row("adaptive_max_pool2d", F.adaptive_max_pool2d, TF.adaptive_max_pool2d, [distinct(2, 7, 9, 3)], output_size=(3, 4)),
    row("adaptive_max_pool2d_indices_overlap", F.adaptive_max_pool2d, TF.adaptive_max_pool2d, [distinct(2, 5, 7, 2)],
        output_size=(4, 3), return_indices=True),
    row("adaptive_max_pool2d_grow", F.adaptive_max_pool2d, TF.adaptive_max_pool2d, [distinct(1, 3, 4, 2)],
        output_size=(5, 6)),
    Row("adaptive_max_pool2d_nan_inf", ep(F.adaptive_max_pool2d, output_size=(2, 4), return_indices=True),
        tp(TF.adaptive_max_pool2d, output_size=(2, 4), return_indices=True), [fixed(_nan)], gradcheck=False),
    row("adaptive_max_pool3d_indices", F.adaptive_max_pool3d, TF.adaptive_max_pool3d, [distinct(2, 5, 4, 7, 2)],
        output_size=(3, 2, 4), return_indices=True),
    row("adaptive_max_pool1d_indices", F.adaptive_max_pool1d, TF.adaptive_max_pool1d, [distinct(2, 11, 3)],
        output_size=4, return_indices=True),
    # -- unpool (values differentiable; indices from a real pool)
    Row("max_unpool2d", lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2),
        lambda x: to_cl(TF.max_unpool2d(*TF.max_pool2d(to_cf(x), 2, return_indices=True), 2)), [distinct(2, 6, 8, 3)]),
    Row("max_unpool2d_output_size", lambda x: F.max_unpool2d(*F.max_pool2d(x, 3, 2, 1, return_indices=True), 3, 2, 1,
                                                             output_size=(7, 6)),
        lambda x: to_cl(TF.max_unpool2d(*TF.max_pool2d(to_cf(x), 3, 2, 1, return_indices=True), 3, 2, 1,
                                        output_size=(7, 6))), [distinct(2, 7, 6, 2)],
        gradcheck=False, note="overlapping windows can pick one element twice: the unpool writes it once but "
        "its gather-backward (as PyTorch's) counts it per window, so finite differences disagree by design"),
    Row("max_unpool3d", lambda x: F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2, output_size=(5, 4, 5)),
        lambda x: to_cl(TF.max_unpool3d(*TF.max_pool3d(to_cf(x), 2, return_indices=True), 2, output_size=(5, 4, 5))),
        [distinct(2, 5, 4, 5, 2)]),
    Row("max_unpool1d", lambda x: F.max_unpool1d(*F.max_pool1d(x, 2, return_indices=True), 2),
        lambda x: to_cl(TF.max_unpool1d(*TF.max_pool1d(to_cf(x), 2, return_indices=True), 2)), [distinct(2, 8, 3)]),
    # -- lp pool
    row("lp_pool2d_p2", F.lp_pool2d, TF.lp_pool2d, [positive(2, 6, 7, 2)], norm_type=2, kernel_size=2),
    row("lp_pool2d_p3_stride_ceil", F.lp_pool2d, TF.lp_pool2d, [positive(2, 7, 7, 2)], norm_type=3, kernel_size=(3, 2),
        stride=2, ceil_mode=True),
    row("lp_pool1d_p1.5", F.lp_pool1d, TF.lp_pool1d, [positive(2, 9, 3)], norm_type=1.5, kernel_size=3, stride=2),
    # -- pad: ember applies torch's flat order literally to its own (channels-last) axes; the
    #    image rows pad (N, H, W, C) with (0, 0, l, r, t, b) against torch's NCHW (l, r, t, b)
    *[Row(f"pad_image_{mode}", lambda x, m=mode: F.pad(x, (0, 0, 2, 1, 1, 3), mode=m),
          lambda x, m=mode: to_cl(TF.pad(to_cf(x), (2, 1, 1, 3), mode=m)), [randn(2, 5, 6, 3)])
      for mode in ("constant", "reflect", "replicate", "circular")],
    *[Row(f"pad_image_negative_{mode}", lambda x, m=mode: F.pad(x, (0, 0, -1, 2, 3, -2), mode=m),
          lambda x, m=mode: to_cl(TF.pad(to_cf(x), (-1, 2, 3, -2), mode=m)), [randn(2, 5, 6, 3)])
      for mode in ("constant", "circular")],
    *[Row(f"pad_same_axes_{mode}", lambda x, m=mode: F.pad(x, (1, 2), mode=m),
          lambda x, m=mode: TF.pad(x, (1, 2), mode=m), [randn(2, 3, 5)])
      for mode in ("reflect", "replicate", "circular")],
    Row("pad_constant_value_3axes", lambda x: F.pad(x, (1, 0, 0, 2, 3, 1), value=-0.0),
        lambda x: TF.pad(x, (1, 0, 0, 2, 3, 1), value=-0.0), [randn(2, 3, 4)]),
    Row("pad_numpy_pairs", lambda x: F.pad(x, ((0, 0), (1, 2), (2, 0)), mode="reflect"),
        lambda x: TF.pad(x, (2, 0, 1, 2), mode="reflect"), [randn(2, 4, 3)]),
    Row("pad_reflect_3d_special", lambda x: F.pad(x, (0, 0, 1, 1, 1, 1, 1, 1), mode="reflect"),
        lambda x: to_cl(TF.pad(to_cf(x), (1, 1, 1, 1, 1, 1), mode="reflect")),
        [fixed(np.where(np.arange(2 * 3 * 3 * 4 * 2).reshape(2, 3, 3, 4, 2) % 7 == 0, np.nan, 1.0) * -0.0 +
               np.arange(2 * 3 * 3 * 4 * 2).reshape(2, 3, 3, 4, 2), no_grad="nan")]),
    # -- interpolate (channels-last, every mode, align_corners, size / scale_factor)
    *[Row(f"interp_{mode}_{'ac' if ac else 'hp'}_{'size' if sf is None else 'scale'}_{shape[1]}",
          lambda x, m=mode, ac=ac, sz=sz, sf=sf: F.interpolate(x, size=sz, scale_factor=sf, mode=m, align_corners=ac),
          lambda x, m=mode, ac=ac, sz=sz, sf=sf: to_cl(TF.interpolate(to_cf(x), size=sz, scale_factor=sf, mode=m,
                                                                      align_corners=ac)),
          [randn(*shape)], fwd_atol=2e-6, grad_atol=2e-5)
      for mode, shape, sz, sf, ac in [
          ("nearest", (2, 5, 3), 8, None, None), ("nearest", (2, 4, 5, 2), (7, 3), None, None),
          ("nearest", (2, 4, 5, 2), None, 2.5, None), ("nearest", (1, 3, 4, 5, 2), (5, 3, 7), None, None),
          ("nearest-exact", (2, 4, 5, 2), (7, 3), None, None), ("nearest-exact", (2, 7, 3), None, 1.7, None),
          ("linear", (2, 5, 3), 9, None, False), ("linear", (2, 5, 3), 9, None, True), ("linear", (2, 8, 3), 3, None, False),
          ("bilinear", (2, 4, 5, 3), (7, 9), None, False), ("bilinear", (2, 4, 5, 3), (7, 9), None, True),
          ("bilinear", (2, 6, 7, 2), None, (0.5, 1.5), False), ("bilinear", (2, 6, 7, 2), (3, 1), None, True),
          ("bicubic", (2, 4, 5, 2), (7, 9), None, False), ("bicubic", (2, 5, 4, 2), (3, 8), None, True),
          ("bicubic", (2, 4, 4, 2), None, 2, False),
          ("trilinear", (1, 3, 4, 5, 2), (5, 3, 7), None, False), ("trilinear", (1, 3, 4, 5, 2), (5, 6, 2), None, True),
          ("area", (2, 7, 9, 3), (3, 4), None, None), ("area", (2, 9, 3), None, 0.5, None),
          ("area", (1, 4, 6, 5, 2), (2, 3, 2), None, None),
          # an axis over the dense-matrix limit (out * in > 16384) takes the gather / reduceat path
          ("linear", (1, 130, 2), 141, None, False), ("bicubic", (1, 3, 130, 1), (2, 127), None, True)]],
    # special values: NaN (and -0.0) spread exactly as in PyTorch, including through zero-weight
    # taps; an axis kept at its size is not resampled.  (PyTorch's 2-D kernel turns some
    # -inf/finite blends into NaN where ember gives -inf: 2-D rows use NaN only, 1-D has inf.)
    Row("interp_bilinear_nan", lambda x: F.interpolate(x, size=(5, 3), mode="bilinear"),
        lambda x: to_cl(TF.interpolate(to_cf(x), size=(5, 3), mode="bilinear")),
        [fixed(np.where(np.isinf(_nan), np.nan, _nan), no_grad="nan")]),
    Row("interp_linear_inf_nan", lambda x: F.interpolate(x, size=9, mode="linear", align_corners=True),
        lambda x: to_cl(TF.interpolate(to_cf(x), size=9, mode="linear", align_corners=True)),
        [fixed(np.array([[[0.0], [np.inf], [2.0], [-0.0], [np.nan]], [[-np.inf], [1.0], [np.inf], [3.0], [4.0]]]),
               no_grad="nan/inf")]),
    Row("upsample_nearest", lambda x: F.upsample(x, scale_factor=2), lambda x: to_cl(TF.upsample(to_cf(x), scale_factor=2)),
        [randn(2, 3, 4, 2)]),
    Row("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), lambda x: to_cl(TF.pixel_shuffle(to_cf(x), 2)), [randn(2, 3, 4, 12)]),
    Row("pixel_unshuffle", lambda x: F.pixel_unshuffle(x, 3), lambda x: to_cl(TF.pixel_unshuffle(to_cf(x), 3)),
        [randn(2, 6, 9, 2)]),
    # -- unfold / fold: ember (N, L, kh*kw*C) vs torch (N, C*kh*kw, L)
    *[Row(f"unfold_{i}", lambda x, kw=kw: F.unfold(x, **kw), lambda x, kw=kw: t_unfold(x, **kw), [randn(*shape)])
      for i, (shape, kw) in enumerate([((2, 5, 6, 3), dict(kernel_size=2)),
                                       ((2, 7, 6, 2), dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1)))])],
    *[Row(f"fold_{i}", lambda c, kw=kw: F.fold(c, **kw), lambda c, kw=kw: t_fold(c, **kw), [randn(*shape)])
      for i, (shape, kw) in enumerate([((2, 20, 12), dict(output_size=(5, 6), kernel_size=2)),
                                       ((2, 24, 12), dict(output_size=(7, 6), kernel_size=(3, 2), dilation=(1, 2),
                                                          padding=1, stride=(2, 1)))])],
    # -- grid_sample (grid layout (N, H', W', 2) is PyTorch's) / affine_grid
    *[Row(f"grid_sample_{mode}_{pad}_{'ac' if ac else 'hp'}",
          lambda x, g, m=mode, p=pad, ac=ac: F.grid_sample(x, g, mode=m, padding_mode=p, align_corners=ac),
          lambda x, g, m=mode, p=pad, ac=ac: to_cl(TF.grid_sample(to_cf(x), g, mode=m, padding_mode=p, align_corners=ac)),
          [randn(2, 5, 6, 3), uniform(2, 4, 3, 2, low=-1.3, high=1.3)], fwd_atol=1e-5, grad_atol=1e-4)
      for mode in ("bilinear", "nearest") for pad in ("zeros", "border", "reflection") for ac in (False, True)],
    Row("affine_grid", lambda t: F.affine_grid(t, (2, 4, 5, 3)), lambda t: TF.affine_grid(t, (2, 3, 4, 5), align_corners=False),
        [randn(2, 2, 3)]),
    Row("affine_grid_align_corners", lambda t: F.affine_grid(t, (2, 3, 4, 5), align_corners=True, channels_first=True),
        lambda t: TF.affine_grid(t, (2, 3, 4, 5), align_corners=True), [randn(2, 2, 3)]),
    Row("affine_grid_then_grid_sample", lambda x, t: F.grid_sample(x, F.affine_grid(t, (2, 4, 3, 2))),
        lambda x, t: to_cl(TF.grid_sample(to_cf(x), TF.affine_grid(t, (2, 2, 4, 3), align_corners=False),
                                          align_corners=False)),
        [randn(2, 5, 6, 2), fixed(np.array([[[0.9, 0.2, 0.1], [-0.1, 0.8, 0.05]], [[1.1, -0.3, -0.2], [0.25, 0.7, 0.1]]]))],
        fwd_atol=1e-5, grad_atol=1e-4),
]


def t_unfold(x, kernel_size, **kw):
    k = (kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size
    u = TF.unfold(to_cf(x), kernel_size, **kw)
    N, CK, L = u.shape
    return u.reshape(N, CK // (k[0] * k[1]), k[0], k[1], L).permute(0, 4, 2, 3, 1).reshape(N, L, CK)


def t_fold(c, output_size, kernel_size, **kw):
    k = (kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size
    N, L, KC = c.shape
    u = c.reshape(N, L, k[0], k[1], KC // (k[0] * k[1])).permute(0, 4, 2, 3, 1).reshape(N, KC, L)
    return to_cl(TF.fold(u, output_size, kernel_size, **kw))


# special values: rows whose run with -0.0 / nan / inf cannot match PyTorch here, and why
OWNED = "owned elsewhere: "   # ember differs from PyTorch; the op's owner fixes it
no_special(ROWS, {
    "grid_sample_bilinear_border_hp": OWNED + "forward nan where PyTorch finite",
    "grid_sample_bilinear_border_ac": OWNED + "forward nan where PyTorch finite",
    "grid_sample_bilinear_reflection_hp": OWNED + "forward nan where PyTorch finite",
    "grid_sample_bilinear_reflection_ac": OWNED + "forward nan where PyTorch is not nan",
    "grid_sample_nearest_border_hp": OWNED + "forward finite values differ",
    "grid_sample_nearest_border_ac": OWNED + "forward finite values differ",
    "grid_sample_nearest_reflection_hp": OWNED + "forward finite values differ",
    "grid_sample_nearest_reflection_ac": OWNED + "forward finite values differ",
})

(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


def test_pool_errors():
    x = ember.randn(1, 4, 4, 2)
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) must be at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"max_unpool2d: indices must lie in \[0, 4\)"):
        y, i = F.max_pool2d(x, 2, return_indices=True)
        F.max_unpool2d(y, i, 2, output_size=(2, 2))
    with pytest.raises(ValueError, match=r"avg_pool2d: divisor_override must be a nonzero int"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected a 4-D"):
        F.adaptive_avg_pool2d(ember.randn(4, 4, 2), 2)


def test_pad_errors():
    x = ember.randn(1, 3, 4)
    with pytest.raises(ValueError, match=r"pad: reflect padding \(3, 0\) must be smaller than the size 3"):
        F.pad(x, (0, 0, 3, 0), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: mode must be one of"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(ValueError, match=r"pad: flat pad \(1, 1, 1\) needs an even length"):
        F.pad(x, (1, 1, 1))
