"""Parity (vs PyTorch, float32: forward and gradient) and float64 gradcheck of
``interpolate(..., antialias=True)`` ('bilinear', 'bicubic', 'lanczos': shrinking, enlarging,
align_corners, size / scale_factor, odd shapes) and of ``lp_pool3d``.

ember is channels-last: the torch side permutes (N, H, W, C) <-> (N, C, H, W) and
(N, D, H, W, C) <-> (N, C, D, H, W).
"""
import numpy as np
import pytest

import ember
import ember.functional as F
import ember.ops.resample as resample
from ember.testing import gradcheck
from op_harness import Row, table_tests, positive, randn, special, to_cf, to_cl
from op_harness import torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

TF = torch.nn.functional


def aa_row(name, spec, mode, ac=False, **kw):
    """An antialiased ``interpolate`` row; ``kw`` holds size / scale_factor / recompute_scale_factor."""
    kw = dict(kw, mode=mode, align_corners=ac, antialias=True)
    edge = getattr(spec, "is_special", False)
    return Row(f"aa_{mode}_{'ac' if ac else 'hp'}_{name}", lambda x: F.interpolate(x, **kw),
               lambda x: to_cl(TF.interpolate(to_cf(x), **kw)), [spec], fwd_atol=2e-6, grad_atol=2e-5,
               gradcheck=not edge, note="finite differences through inf / nan mean nothing" if edge else "")


# (name, input shape, interpolate's size / scale arguments): odd sizes, each axis on its own
_CASES = [
    ("down_size", (1, 13, 11, 1), dict(size=(5, 4))),
    ("up_size", (2, 5, 6, 2), dict(size=(11, 13))),
    ("down_up", (1, 9, 7, 2), dict(size=(4, 15))),
    ("down_scale", (1, 12, 10, 1), dict(scale_factor=(0.4, 0.55))),
    ("up_scale", (1, 5, 4, 2), dict(scale_factor=2.3)),
    ("down_scale_recompute", (1, 11, 9, 2), dict(scale_factor=0.3, recompute_scale_factor=True)),
    ("keep_h", (1, 9, 7, 2), dict(size=(9, 3))),
    ("to_1x1", (2, 7, 6, 2), dict(size=(1, 1))),
    ("large_ratio", (1, 21, 13, 1), dict(size=(3, 2))),
]

ROWS = [
    *[aa_row(name, randn(*shape), mode, False, **kw) for mode in ("bilinear", "bicubic") for name, shape, kw in _CASES],
    # align_corners only changes the scale to (n - 1) / (out - 1) (the centres stay scale (i + 0.5))
    *[aa_row(name, randn(*shape), mode, True, **kw) for mode in ("bilinear", "bicubic")
      for name, shape, kw in _CASES if name in ("down_size", "up_size", "down_scale", "to_1x1", "large_ratio")],
    *[aa_row(name, randn(*shape), "lanczos", **kw) for name, shape, kw in _CASES[:5]],
    # NaN / inf / -0.0 reach exactly the outputs whose window holds them (no zero-weight leak)
    aa_row("special", special(2, 9, 11, 2), "bilinear", size=(4, 5)),
    aa_row("special", special(2, 9, 11, 2), "bicubic", True, size=(3, 14)),
    # 'area' (Keras' Resizing / image.resize 'area'): a NaN / inf reaches only its own bins
    Row("area_special", lambda x: F.interpolate(x, size=(4, 3), mode="area"),
        lambda x: to_cl(TF.interpolate(to_cf(x), size=(4, 3), mode="area")), [special(2, 9, 7, 2)],
        gradcheck=False, note="finite differences through inf / nan mean nothing"),
    # -- lp_pool3d (positive inputs: x ** p of a negative is NaN for fractional p)
    *[Row(f"lp_pool3d_p{p}_{i}", lambda x, p=p, kw=kw: F.lp_pool3d(x, p, **kw),
          lambda x, p=p, kw=kw: to_cl(TF.lp_pool3d(to_cf(x), p, **kw)), [positive(1, 4, 5, 6, 2)],
          fwd_atol=2e-6, grad_atol=2e-5)
      for p in (1, 2, 3) for i, kw in enumerate([
          dict(kernel_size=2), dict(kernel_size=(3, 2, 2), stride=2, ceil_mode=True),
          dict(kernel_size=(2, 3, 1), stride=(1, 2, 3))])],
    Row("lp_pool3d_p1.5_ceil", lambda x: F.lp_pool3d(x, 1.5, 3, stride=2, ceil_mode=True),
        lambda x: to_cl(TF.lp_pool3d(to_cf(x), 1.5, 3, stride=2, ceil_mode=True)), [positive(1, 6, 5, 6, 2)]),
    Row("lp_pool3d_pinf", lambda x: F.lp_pool3d(x, float("inf"), (2, 2, 3)),
        lambda x: to_cl(TF.lp_pool3d(to_cf(x), float("inf"), (2, 2, 3))), [positive(2, 4, 5, 6, 2)]),
]

(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


def _grad_pair(x, size, mode):
    """ember and torch (output, input gradient) of a float32 antialiased resize, for one upstream g."""
    xe = ember.Tensor.wrap(x.copy()).requires_grad_(True)
    ye = F.interpolate(xe, size=size, mode=mode, antialias=True)
    g = np.random.default_rng(1).standard_normal(ye.shape).astype(np.float32)
    (ye * ember.Tensor.wrap(g)).sum().backward()
    xt = torch.from_numpy(x.copy()).permute(0, 3, 1, 2).requires_grad_(True)
    yt = TF.interpolate(xt, size=size, mode=mode, antialias=True)
    (to_cl(yt) * torch.from_numpy(g)).sum().backward()
    return (ye.numpy(), xe.grad.numpy()), (to_cl(yt).detach().numpy(), to_cl(xt.grad).numpy())


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_gather_path_matches_torch(mode, monkeypatch):
    # an axis past the dense-matrix limit gathers its window taps and scatters the gradient back
    # with add.reduceat: force that path on a small input
    monkeypatch.setattr(resample, "_DENSE_AA", 0)
    x = np.random.default_rng(0).standard_normal((2, 23, 19, 3)).astype(np.float32)
    (ye, ge), (yt, gt) = _grad_pair(x, (6, 25), mode)
    np.testing.assert_allclose(ye, yt, atol=2e-6, rtol=1e-5)
    np.testing.assert_allclose(ge, gt, atol=2e-5, rtol=1e-4)


def test_antialias_shrink_is_a_low_pass():
    # a +-1 checkerboard shrunk 16 -> 5 averages out with antialiasing, aliases without it
    x = np.indices((16, 16)).sum(0) % 2 * 2.0 - 1.0
    x = x.reshape(1, 16, 16, 1).astype(np.float32)
    for mode in ("bilinear", "bicubic", "lanczos"):
        aa = F.interpolate(x, size=(5, 5), mode=mode, antialias=True).numpy()
        plain = F.interpolate(x, size=(5, 5), mode="bilinear").numpy()
        assert np.abs(aa).max() < 0.05 and np.abs(plain).max() > 0.5, mode


def test_kept_axis_with_scale_factor():
    # an axis whose size is kept is copied (PyTorch's forward); PyTorch's backward resamples it
    # with the 1 / scale_factor filter regardless, which is not the forward's gradient: ember's is
    x = np.random.default_rng(2).standard_normal((1, 6, 11, 2))
    kw = dict(scale_factor=(1.1, 0.5), mode="bilinear", antialias=True)
    out = F.interpolate(x.astype(np.float32), **kw).numpy()
    want = to_cl(TF.interpolate(to_cf(torch.from_numpy(x.astype(np.float32))), **kw)).numpy()
    np.testing.assert_allclose(out, want, atol=2e-6, rtol=1e-5)
    gradcheck(lambda t: F.interpolate(t, **kw), x.copy())


def test_antialias_errors():
    x = ember.randn(1, 6, 5, 2)
    for mode, shape in [("nearest", (1, 6, 5, 2)), ("area", (1, 6, 5, 2)), ("linear", (1, 6, 2)),
                        ("trilinear", (1, 3, 4, 5, 2))]:
        kw = dict(align_corners=False) if mode in ("linear", "trilinear") else {}
        with pytest.raises(ValueError, match=r"interpolate: antialias=True is restricted to the 'bilinear'"):
            F.interpolate(ember.randn(*shape), size=(2,) * (len(shape) - 2), mode=mode, antialias=True, **kw)
        with pytest.raises(ValueError, match="Anti-alias option is restricted"):   # the same condition
            TF.interpolate(torch.randn(*shape), size=(2,) * (len(shape) - 2), mode=mode, antialias=True, **kw)
    with pytest.raises(ValueError, match="'lanczos' requires antialias=True"):
        F.interpolate(x, size=(3, 3), mode="lanczos")
    with pytest.raises(ValueError, match="'lanczos' does not support align_corners=True"):
        F.interpolate(x, size=(3, 3), mode="lanczos", antialias=True, align_corners=True)


def test_lp_pool3d_errors():
    with pytest.raises(ValueError, match=r"lp_pool3d: norm_type must be a nonzero number"):
        F.lp_pool3d(ember.rand(1, 4, 4, 4, 1), 0, 2)
    with pytest.raises(ValueError, match=r"lp_pool3d"):
        F.lp_pool3d(ember.rand(1, 4, 4, 1), 2, 2)
