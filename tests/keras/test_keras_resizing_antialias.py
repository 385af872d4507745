"""Antialiased and 'area' resizing in ember.keras (``ops.image.resize`` and ``layers.Resizing``)
against real Keras 3 on its torch backend (which calls ``torch.nn.functional.interpolate``), and
against PyTorch's 'area' mode where that backend has none."""
import numpy as np
import pytest

from keras_battery import check_layer, real_keras

from ember.keras import layers, ops

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)
IMG = (RNG.random((2, 13, 11, 3)) * 255).astype("float32")
SIZES = [(5, 4), (3, 7), (13, 6), (20, 17), (1, 1)]      # down, mixed, one axis kept, up, to a pixel


def _np(t):
    return np.asarray(getattr(t, "numpy", lambda: t)())


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_resize_antialias_matches_keras(interpolation):
    real = real_keras()
    for size in SIZES:
        for images in (IMG, IMG[0]):
            ours = _np(ops.image.resize(images, size, interpolation=interpolation, antialias=True))
            theirs = real.ops.convert_to_numpy(
                real.ops.image.resize(images, size, interpolation=interpolation, antialias=True))
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=2e-4, err_msg=f"{interpolation} {size}")
    # the antialiased result is not the plain one (shrinking), so the flag is really applied
    plain = _np(ops.image.resize(IMG, (5, 4), interpolation=interpolation))
    assert np.abs(plain - _np(ops.image.resize(IMG, (5, 4), interpolation=interpolation, antialias=True))).max() > 1


def test_resize_antialias_uint8_and_ignored_modes_match_keras():
    real = real_keras()
    img = IMG.astype("uint8")
    for interpolation in ("bilinear", "bicubic", "nearest"):
        for size in [(5, 4), (20, 17)]:
            ours = _np(ops.image.resize(img, size, interpolation=interpolation, antialias=True))
            theirs = real.ops.convert_to_numpy(
                real.ops.image.resize(img, size, interpolation=interpolation, antialias=True))
            assert ours.dtype == theirs.dtype == np.uint8
            # (a rounding tie may land one step apart)
            assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1, (interpolation, size)


def test_bicubic_antialias_changes_the_kernel_when_enlarging():
    # PyTorch's antialiased bicubic is Keys' A = -0.5 (PIL), not -0.75, even without shrinking
    up = _np(ops.image.resize(IMG, (20, 17), interpolation="bicubic", antialias=True))
    assert np.abs(up - _np(ops.image.resize(IMG, (20, 17), interpolation="bicubic"))).max() > 0.1


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "nearest"])
def test_resizing_layer_antialias_matches_keras(interpolation, tmp_path):
    for size in [(5, 4), (20, 17), (13, 5)]:
        layer = check_layer(lambda: layers.Resizing(*size, interpolation=interpolation, antialias=True),
                            IMG.shape, x=IMG, rtol=1e-5, atol=2e-4)
        assert layer.get_config()["antialias"] is True
    check_layer(lambda: layers.Resizing(4, 3, interpolation=interpolation, antialias=True,
                                        crop_to_aspect_ratio=True), IMG.shape, x=IMG, atol=2e-4,
                tmp_path=tmp_path)


def _torch_area(images, size):
    t = torch.from_numpy(images).permute(0, 3, 1, 2)
    return torch.nn.functional.interpolate(t, size=size, mode="area").permute(0, 2, 3, 1).numpy()


def test_area_is_pytorch_adaptive_average():
    for size in [(5, 4), (13, 11), (6, 22), (1, 1)]:
        want = _torch_area(IMG, size)
        np.testing.assert_allclose(_np(ops.image.resize(IMG, size, interpolation="area")), want,
                                   rtol=1e-5, atol=1e-4)
        layer = layers.Resizing(*size, interpolation="area", antialias=True)   # antialias ignored
        np.testing.assert_allclose(_np(layer(IMG)), want, rtol=1e-5, atol=1e-4)
        assert layers.Resizing.from_config(layer.get_config()).interpolation == "area"
    # Keras' torch backend itself has no 'area' (ember's is the PyTorch mode above)
    real = real_keras()
    with pytest.raises(ValueError, match="interpolation"):
        real.ops.image.resize(IMG, (5, 4), interpolation="area")


def test_lanczos_is_a_clear_error():
    for interpolation in ("lanczos3", "lanczos5"):
        with pytest.raises(ValueError, match="lanczos"):
            ops.image.resize(IMG, (5, 4), interpolation=interpolation)
        with pytest.raises(ValueError, match="lanczos is not supported"):
            layers.Resizing(5, 4, interpolation=interpolation)
