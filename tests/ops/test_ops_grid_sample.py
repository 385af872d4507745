"""grid_sample's bicubic mode (4-D) and volumes (5-D: trilinear / nearest), 3-D affine_grid and
affine_grid -> grid_sample chains: parity with PyTorch (forward, gradients to x and to the grid /
theta) and the float64 gradcheck, over every mode x padding x align_corners.  (The 4-D bilinear /
nearest rows live in test_ops_pool_resample.py.)

ember is channels-last: the torch side permutes x to (N, C, ...) and the output back; the grid
layout (N, ..., 2 or 3) is PyTorch's in both.  Grids reach past [-1, 1] so that the padding rules
matter.
"""
import numpy as np
import pytest

import ember
import ember.functional as F
from op_harness import Row, table_tests, fixed, randn, special, to_cf, to_cl, uniform
from op_harness import torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

TF = torch.nn.functional
PADS = ("zeros", "border", "reflection")
# PyTorch 2.13's CPU kernels on nan / inf grid positions with border / reflection padding: the 4-D
# backward segfaults, the 5-D forward clamps nan to a border value while its backward drops it.
# There is nothing coherent to compare: those rows keep special values out of the grid (the
# *_special_x rows put them into x), zeros-padding rows take them in both inputs.
NO_SPECIAL_GRID = ("PyTorch 2.13 CPU grid_sample segfaults (4-D backward) or disagrees between forward and backward "
                   "(5-D) on nan/inf grid positions with border/reflection padding")


def tag(pad, ac):
    return f"{pad}_{'ac' if ac else 'hp'}"


def gs_row(name, mode, pad, ac, x_spec, grid_spec, **kw):
    return Row(name,
               lambda x, g: F.grid_sample(x, g, mode=mode, padding_mode=pad, align_corners=ac),
               lambda x, g: to_cl(TF.grid_sample(to_cf(x), g, mode=mode, padding_mode=pad, align_corners=ac)),
               [x_spec, grid_spec], fwd_atol=1e-5, grad_atol=1e-4,
               no_special="" if pad == "zeros" else NO_SPECIAL_GRID, **kw)


def chain_row(name, mode, pad, ac, x_spec, theta, size_cl):
    """affine_grid (size channels-last for ember, channels-first for torch) then grid_sample."""
    size_cf = (size_cl[0], size_cl[-1]) + tuple(size_cl[1:-1])
    return Row(name,
               lambda x, t: F.grid_sample(x, F.affine_grid(t, size_cl, align_corners=ac), mode=mode,
                                          padding_mode=pad, align_corners=ac),
               lambda x, t: to_cl(TF.grid_sample(to_cf(x), TF.affine_grid(t, size_cf, align_corners=ac), mode=mode,
                                                 padding_mode=pad, align_corners=ac)),
               [x_spec, fixed(theta)], fwd_atol=1e-5, grad_atol=1e-4)


# affine maps that zoom out a little (the grid reaches past [-1, 1]) with a rotation / shear and a
# shift; irregular values, so that no sample lands on a pixel centre or a reflection border
# (gradcheck kinks)
_rng = np.random.default_rng(20261206)
THETA_2D = np.concatenate([np.eye(2) * 1.2, np.zeros((2, 1))], axis=1) + _rng.normal(0, 0.15, (2, 2, 3))
THETA_3D = np.concatenate([np.eye(3) * 1.2, np.zeros((3, 1))], axis=1) + _rng.normal(0, 0.15, (2, 3, 4))

# fixed grid positions: inside, on the edges (+-1), past them, and one position repeated (its
# x gradient is the sum of several taps)
GRID_2D = np.array([[[[-0.37, 0.52], [1.0, -1.0], [1.41, 0.23]], [[-1.27, -0.61], [0.11, 0.91], [0.11, 0.91]]],
                    [[[0.63, -1.33], [-0.88, 0.07], [0.29, 0.44]], [[-0.05, 1.22], [0.73, -0.49], [0.73, -0.49]]]])
GRID_3D = np.array([[[[[-0.37, 0.52, 0.19], [1.0, -1.0, 0.6]], [[1.41, 0.23, -0.71], [-1.27, -0.61, 1.18]]]],
                    [[[[0.11, 0.91, -0.43], [0.11, 0.91, -0.43]], [[0.63, -1.33, 0.02], [-0.88, 0.07, -1.21]]]]])

ROWS = [
    # -- bicubic (4-D only)
    *[gs_row(f"bicubic_{tag(pad, ac)}", "bicubic", pad, ac, randn(2, 4, 5, 2), uniform(2, 3, 2, 2, low=-1.4, high=1.4))
      for pad in PADS for ac in (False, True)],
    # -- volumes: trilinear ('bilinear' on 5-D) and nearest
    *[gs_row(f"vol_{mode}_{tag(pad, ac)}", mode, pad, ac, randn(2, 2, 3, 3, 2), uniform(2, 2, 1, 2, 3, low=-1.4, high=1.4))
      for mode in ("bilinear", "nearest") for pad in PADS for ac in (False, True)],
    # -- special values (nan, inf, -inf, -0.0, 0.0) in x at fixed grid positions
    *[gs_row(f"bicubic_special_x_{tag(pad, False)}", "bicubic", pad, False, special(2, 4, 5, 2), fixed(GRID_2D),
             gradcheck=False) for pad in PADS],
    *[gs_row(f"vol_{mode}_special_x_{tag(pad, True)}", mode, pad, True, special(2, 3, 3, 4, 2), fixed(GRID_3D),
             gradcheck=False) for mode in ("bilinear", "nearest") for pad in PADS],
    # -- 3-D affine_grid: ember's channels-last size, or PyTorch's with channels_first=True
    *[Row(f"affine_grid_3d_{'ac' if ac else 'hp'}", lambda t, ac=ac: F.affine_grid(t, (2, 3, 4, 5, 2), align_corners=ac),
          lambda t, ac=ac: TF.affine_grid(t, (2, 2, 3, 4, 5), align_corners=ac), [randn(2, 3, 4)])
      for ac in (False, True)],
    Row("affine_grid_3d_channels_first", lambda t: F.affine_grid(t, (2, 2, 1, 4, 3), channels_first=True),
        lambda t: TF.affine_grid(t, (2, 2, 1, 4, 3), align_corners=False), [randn(2, 3, 4)]),
    # -- affine_grid -> grid_sample (gradients to x and theta)
    *[chain_row(f"chain_bicubic_{tag(pad, ac)}", "bicubic", pad, ac, randn(2, 4, 5, 1), THETA_2D, (2, 3, 4, 1))
      for pad in PADS for ac in (False, True)],
    *[chain_row(f"chain_vol_{mode}_{tag(pad, ac)}", mode, pad, ac, randn(2, 2, 3, 3, 1), THETA_3D, (2, 2, 2, 3, 1))
      for mode in ("bilinear", "nearest") for pad in PADS for ac in (False, True)],
]

(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


def test_every_combination_has_a_row():
    names = {r.name for r in ROWS}
    for pad in PADS:
        for ac in (False, True):
            assert f"bicubic_{tag(pad, ac)}" in names and f"chain_bicubic_{tag(pad, ac)}" in names
            for mode in ("bilinear", "nearest"):
                assert f"vol_{mode}_{tag(pad, ac)}" in names and f"chain_vol_{mode}_{tag(pad, ac)}" in names


def test_grid_gradient_reaches_outside_positions():
    """Border padding past the edge: the grid gradient along that axis is 0 (PyTorch's clip rule),
    across it the sample still moves; for zeros padding a position far outside samples 0."""
    x = ember.tensor(np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4, 1))
    g = ember.tensor(np.array([[[[[1.7, 0.1, -0.2]]]]], np.float32), requires_grad=True)
    F.grid_sample(x, g, padding_mode="border").sum().backward()
    assert g.grad.numpy()[..., 0] == 0 and g.grad.numpy()[..., 1] != 0
    far = F.grid_sample(x, ember.tensor(np.full((1, 1, 1, 1, 3), 5.0, np.float32)))
    assert far.numpy().tolist() == [[[[[0.0]]]]]


def test_volume_bicubic_rejected_like_pytorch():
    x = np.zeros((1, 2, 3, 4, 1), np.float32)
    g = np.zeros((1, 1, 1, 1, 3), np.float32)
    with pytest.raises(RuntimeError):
        TF.grid_sample(torch.from_numpy(x).permute(0, 4, 1, 2, 3), torch.from_numpy(g), mode="bicubic", align_corners=False)
    with pytest.raises(ValueError, match=r"grid_sample: mode='bicubic' supports only 4-D.*trilinear"):
        F.grid_sample(x, g, mode="bicubic")


@pytest.mark.parametrize("x_shape, g_shape, kw, err, pattern", [
    ((1, 3, 4, 2), (1, 2, 2, 2), dict(mode="cubic"), ValueError, r"grid_sample: mode must be .*'bicubic', got 'cubic'"),
    ((1, 3, 4, 2), (1, 2, 2, 2), dict(padding_mode="wrap"), ValueError, r"padding_mode must be .*got 'wrap'"),
    ((1, 2, 3, 4, 2), (1, 2, 2, 2, 2), {}, ValueError, r"grid \(N, D', H', W', 3\).*\(1, 2, 2, 2, 2\)"),
    ((1, 2, 3, 4, 2), (1, 2, 2, 2), {}, ValueError, r"grid_sample: expected x .*got shapes \(1, 2, 3, 4, 2\)"),
    ((2, 2, 3, 4, 2), (1, 2, 2, 2, 3), {}, ValueError, r"with the same N"),
    ((1, 0, 3, 4, 2), (1, 2, 2, 2, 3), {}, ValueError, r"non-empty spatial dimensions"),
])
def test_grid_sample_errors(x_shape, g_shape, kw, err, pattern):
    with pytest.raises(err, match=pattern):
        F.grid_sample(np.zeros(x_shape, np.float32), np.zeros(g_shape, np.float32), **kw)


def test_grid_sample_dtype_error():
    with pytest.raises(TypeError, match=r"grid_sample: x and grid must be floating point of one dtype.*float64"):
        F.grid_sample(ember.Tensor.wrap(np.zeros((1, 2, 3, 4, 1), np.float32)),
                      ember.Tensor.wrap(np.zeros((1, 1, 1, 1, 3), np.float64)))


@pytest.mark.parametrize("theta_shape, size, pattern", [
    ((2, 2, 3), (2, 3, 4, 5, 1), r"affine_grid: theta must be a floating \(N, 3, 4\) = \(2, 3, 4\).*\(2, 2, 3\)"),
    ((2, 3, 4), (2, 4, 5, 1), r"theta must be a floating \(N, 2, 3\)"),
    ((2, 3, 4), (2, 3, 4), r"affine_grid: size must be \(N, H, W, C\) or \(N, D, H, W, C\)"),
    ((2, 3, 4), (2, 0, 4, 5, 1), r"positive spatial sizes"),
])
def test_affine_grid_errors(theta_shape, size, pattern):
    with pytest.raises(ValueError, match=pattern):
        F.affine_grid(np.zeros(theta_shape, np.float32), size)


@pytest.mark.parametrize("pad", ["border", "reflection"])
def test_nan_grid_position_has_no_pixel(pad):
    """ember's rule where PyTorch has none (border / reflection with a nan position, see the module
    docstring): the taps count as outside, so x gets no gradient from that position; images give nan
    (the nan weight), volumes 0."""
    for shape, nan_out in (((1, 3, 4, 1), True), ((1, 2, 3, 4, 1), False)):
        k = len(shape) - 2
        x = ember.tensor(np.ones(shape, np.float32), requires_grad=True)
        g = np.zeros((1,) + (1,) * (k - 1) + (2, k), np.float32)
        g[..., 0, 0] = np.nan                      # the first position nan, the second the centre
        with np.errstate(invalid="ignore"):
            out = F.grid_sample(x, ember.tensor(g), padding_mode=pad)
            out.sum().backward()
        first, second = out.numpy().reshape(2)
        assert np.isnan(first) == nan_out and (nan_out or first == 0) and second == 1
        assert x.grad.numpy().sum() == pytest.approx(1.0)
