"""Preprocessing (Normalization, Rescaling, Resizing, CenterCrop), augmentation (RandomFlip,
RandomRotation, RandomZoom, RandomTranslation, RandomContrast, RandomBrightness, RandomCrop) and
noise / regularization layers (SpatialDropout*, GaussianNoise, GaussianDropout, AlphaDropout,
ActivityRegularization) of ember.keras, against real Keras (torch backend) where outputs are
deterministic, else against their statistical definition."""
import numpy as np
import pytest

from keras_battery import check_layer, real_keras, sample

from ember import keras
from ember.keras import layers

IMG = (np.random.default_rng(0).random((2, 7, 9, 3)) * 255).astype("float32")


def _np(t):
    return np.asarray(getattr(t, "numpy", lambda: t)())


def _keras_np(real, t):
    return np.asarray(real.ops.convert_to_numpy(t))


# -- Normalization ------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1])
@pytest.mark.parametrize("invert", [False, True])
def test_normalization_adapt_matches_keras(axis, invert):
    real = real_keras()
    data = sample((20, 5, 3)) * 3.0 + 1.0
    ours = layers.Normalization(axis=axis, invert=invert)
    ours.adapt(data)
    theirs = real.layers.Normalization(axis=axis, invert=invert)
    theirs.adapt(data)
    np.testing.assert_allclose(_np(ours(data)), _keras_np(real, theirs(data)), rtol=1e-5, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # an iterable of batches: Keras' running merge gives the same statistics
    batched = layers.Normalization(axis=axis, invert=invert)
    batched.adapt([data[:7], data[7:15], data[15:]])
    np.testing.assert_allclose(_np(batched(data)), _np(ours(data)), rtol=1e-5, atol=1e-5)


def test_normalization_given_statistics_and_errors(tmp_path):
    real = real_keras()
    x = sample((4, 3))
    ours = layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
    theirs = real.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
    np.testing.assert_allclose(_np(ours(x)), _keras_np(real, theirs(x)), rtol=1e-6)
    assert ours.get_weights() == []
    check_layer(lambda: layers.Normalization(mean=0.5, variance=4.0), (4, 3), tmp_path=tmp_path)
    with pytest.raises(ValueError, match="both mean and variance"):
        layers.Normalization(mean=1.0)
    adapted = layers.Normalization()
    adapted.adapt(sample((8, 3)))
    with pytest.raises(ValueError, match="built for inputs"):
        adapted.adapt(sample((8, 4)))
    with pytest.raises(ValueError, match="no batches"):
        layers.Normalization().adapt([])


def test_normalization_adapted_survives_save_and_config(tmp_path):
    data = sample((16, 4), seed=3) * 2.0 + 5.0

    def make():
        layer = layers.Normalization()
        layer.adapt(data)
        return layer
    layer = check_layer(make, (5, 4), tmp_path=tmp_path, compare_keras=False)
    out = _np(layer(data))
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-4)


def test_normalization_keras_tutorial_patterns():
    real = real_keras()
    # axis=None adapted on a 1-D column, then used on (batch, 1) inputs (the regression tutorial)
    column = sample((50,), seed=4) * 10.0 + 3.0
    norm = layers.Normalization(input_shape=[1], axis=None)
    norm.adapt(column)
    theirs = real.layers.Normalization(axis=None)
    theirs.adapt(column)
    model = keras.Sequential([norm, layers.Dense(1)])
    assert model.predict(column[:4, None], verbose=0).shape == (4, 1)
    np.testing.assert_allclose(_np(norm(column[:4, None])),
                               real.ops.convert_to_numpy(theirs(column[:4, None])), rtol=1e-5)
    # adapt after the layer is in a model; layer.mean / layer.variance as Keras'
    feats = sample((30, 3), seed=5) * 4.0
    late = layers.Normalization()
    keras.Sequential([keras.Input((3,)), late, layers.Dense(1)])
    late.adapt(feats)
    ref = real.layers.Normalization()
    ref.adapt(feats)
    np.testing.assert_allclose(_np(late.mean), real.ops.convert_to_numpy(ref.mean), rtol=1e-5)
    np.testing.assert_allclose(_np(late.variance), real.ops.convert_to_numpy(ref.variance),
                               rtol=1e-5)


# -- Rescaling, Resizing, CenterCrop ----------------------------------------------------------------------
def test_rescaling_battery(tmp_path):
    check_layer(lambda: layers.Rescaling(1.0 / 255), (2, 4, 4, 3), tmp_path=tmp_path)
    check_layer(lambda: layers.Rescaling([1.0, 2.0, 3.0], offset=-1.0), (2, 4, 4, 3))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("extra", [{}, {"crop_to_aspect_ratio": True},
                                   {"pad_to_aspect_ratio": True, "fill_value": 0.5}])
def test_resizing_matches_keras(interpolation, extra):
    for size in [(5, 6), (16, 11)]:
        check_layer(lambda: layers.Resizing(*size, interpolation=interpolation, **extra),
                    IMG.shape, x=IMG, rtol=1e-5, atol=1e-3)


def test_resizing_and_center_crop_save_and_single_image(tmp_path):
    check_layer(lambda: layers.Resizing(4, 5), (2, 8, 8, 3), tmp_path=tmp_path)
    assert _np(layers.Resizing(4, 5)(IMG[0])).shape == (4, 5, 3)
    with pytest.raises(ValueError, match="Resizing expects images"):
        layers.Resizing(4, 5)(np.zeros((2, 3), "float32"))
    for size in [(5, 6), (9, 13), (4, 13), (12, 5), (20, 20)]:
        check_layer(lambda: layers.CenterCrop(*size), IMG.shape, x=IMG, atol=1e-3)
    check_layer(lambda: layers.CenterCrop(3, 3), (2, 6, 6, 2), tmp_path=tmp_path)
    np.testing.assert_array_equal(_np(layers.CenterCrop(3, 5)(IMG)), IMG[:, 2:5, 2:7])


# -- augmentation ------------------------------------------------------------------------------------------
_AUGMENT = [lambda: layers.RandomFlip(seed=1), lambda: layers.RandomRotation(0.2, seed=1),
            lambda: layers.RandomZoom(0.3, seed=1),
            lambda: layers.RandomTranslation(0.2, 0.3, seed=1),
            lambda: layers.RandomContrast(0.5, seed=1), lambda: layers.RandomBrightness(0.2, seed=1)]


@pytest.mark.parametrize("make", _AUGMENT)
def test_augmentation_training_only(make, tmp_path):
    # inference (and the battery's config / save round trip) is the identity
    layer = check_layer(make, IMG.shape, x=IMG, tmp_path=tmp_path, compare_keras=False)
    np.testing.assert_array_equal(_np(layer(IMG, training=False)), IMG)
    model = keras.Sequential([keras.Input(IMG.shape[1:]), make()])
    np.testing.assert_array_equal(model.predict(IMG, verbose=0), IMG)
    # training changes the images (and, called on its own, the layer augments, as Keras)
    many = np.concatenate([IMG] * 8)         # 16 images: some flip whatever the draws
    assert not np.allclose(_np(layer(many, training=True)), many)
    assert not np.allclose(_np(make()(many)), many)
    assert _np(model(IMG, training=True)).shape == IMG.shape
    # the same seed repeats the same draws
    np.testing.assert_array_equal(_np(make()(IMG, training=True)), _np(make()(IMG, training=True)))


def test_augmentation_in_fit_and_config():
    seen = []

    def record(x):
        seen.append(float(_np(x).mean()))
        return x
    model = keras.Sequential([keras.Input((4, 4, 1)),
                              layers.RandomBrightness((0.5, 0.5), value_range=(0, 10)),
                              layers.RandomFlip("horizontal"), layers.RandomRotation(0.1),
                              layers.Lambda(record), layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((4, 4, 4, 1), "float32")
    seen.clear()
    hist = model.fit(x, np.zeros((4, 1), "float32"), epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert max(seen) == pytest.approx(6.0)          # fit augments: 1 + 0.5 * (10 - 0)
    seen.clear()
    model.predict(x, verbose=0)
    model(x)
    assert seen and all(v == 1.0 for v in seen)      # predict and model(x) do not
    config = layers.RandomZoom((-0.2, 0.3), 0.1, fill_mode="constant", fill_value=2.0).get_config()
    again = layers.RandomZoom.from_config(config).get_config()
    assert again == config and config["fill_value"] == 2.0


def test_random_crop_battery_and_channels_first(tmp_path):
    check_layer(lambda: layers.RandomCrop(4, 5, seed=3), IMG.shape, x=IMG, tmp_path=tmp_path,
                compare_keras=False)
    first = np.moveaxis(IMG, -1, 1)
    for make in [lambda f: layers.RandomFlip(seed=5, data_format=f),
                 lambda f: layers.RandomRotation(0.3, seed=5, data_format=f),
                 lambda f: layers.RandomCrop(4, 5, seed=5, data_format=f)]:
        last = _np(make("channels_last")(IMG, training=True))
        np.testing.assert_allclose(_np(make("channels_first")(first, training=True)),
                                   np.moveaxis(last, -1, 1), rtol=1e-6)


def test_random_flip_statistics():
    x = np.broadcast_to(np.arange(4, dtype="float32").reshape(1, 1, 4, 1), (2000, 2, 4, 1))
    out = _np(layers.RandomFlip("horizontal", seed=0)(x, training=True))
    flipped = out[:, 0, 0, 0] == 3.0
    assert np.all(flipped | (out[:, 0, 0, 0] == 0.0))
    np.testing.assert_array_equal(out[flipped], x[flipped][:, :, ::-1])
    assert 0.45 < flipped.mean() < 0.55
    # 'horizontal_and_vertical': one draw flips both axes (Keras)
    img = sample((400, 3, 3, 1))
    both = _np(layers.RandomFlip(seed=0)(img, training=True))
    same = np.all(both == img, axis=(1, 2, 3))
    np.testing.assert_array_equal(both[~same], img[~same][:, ::-1, ::-1])
    with pytest.raises(ValueError, match="mode must be one of"):
        layers.RandomFlip("diagonal")
    with pytest.raises(ValueError, match=r"RandomFlip expects images \(H, W, C\)"):
        layers.RandomFlip()(np.ones((4, 5), "float32"))
    with pytest.raises(NotImplementedError, match="RandomRotation: fill_mode must be one of"):
        layers.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="RandomZoom: height_factor must be"):
        layers.RandomZoom(-1.0)


def test_random_rotation_quarter_turn_geometry():
    img = np.zeros((1, 5, 5, 1), "float32")
    img[0, 0, 2, 0] = 1.0                             # top-centre pixel
    out = _np(layers.RandomRotation((0.25, 0.25), fill_mode="constant")(img, training=True))
    expected = np.zeros_like(img)
    expected[0, 2, 0, 0] = 1.0                        # counter-clockwise: to the left-centre
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_allclose(out[0, :, :, 0], np.rot90(img[0, :, :, 0]), atol=1e-5)


@pytest.mark.parametrize("fill_mode", ["reflect", "nearest", "wrap", "constant"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_geometric_layers_match_keras(fill_mode, interpolation):
    """Fixed factors make the draws deterministic: the outputs equal Keras' affine_transform."""
    real = real_keras()
    kw = dict(fill_mode=fill_mode, interpolation=interpolation,
              fill_value=7.0 if fill_mode == "constant" else 0.0)
    cases = [("RandomRotation", ((0.1, 0.1),)), ("RandomRotation", ((-0.37, -0.37),)),
             ("RandomZoom", ((0.5, 0.5),)), ("RandomZoom", ((-0.3, -0.3), (0.4, 0.4))),
             ("RandomTranslation", ((-0.6, -0.6), (0.7, 0.7)))]
    for name, args in cases:
        ours = _np(getattr(layers, name)(*args, **kw)(IMG, training=True))
        theirs = _keras_np(real, getattr(real.layers, name)(*args, **kw)(IMG, training=True))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-3, err_msg=f"{name}{args}")


def test_contrast_brightness_crop_definitions():
    real = real_keras()
    out = _np(layers.RandomBrightness((0.1, 0.1))(IMG, training=True))
    theirs = _keras_np(real, real.layers.RandomBrightness((0.1, 0.1))(IMG, training=True))
    np.testing.assert_allclose(out, theirs, atol=1e-4)
    # contrast: (x - mean) * f + mean per image and channel, f in [1 - lo, 1 + hi], then clipped
    x = np.random.default_rng(1).uniform(50, 200, (64, 4, 4, 2)).astype("float32")
    y = _np(layers.RandomContrast((0.3, 0.4), seed=2)(x, training=True))
    mean = x.mean(axis=(1, 2), keepdims=True)
    f = ((y - mean) / (x - mean))[:, 0, 0, 0]
    np.testing.assert_allclose((y - mean), (x - mean) * f[:, None, None, None], rtol=1e-3, atol=1e-3)
    assert f.min() >= 0.7 - 1e-4 and f.max() <= 1.4 + 1e-4 and f.std() > 0.05
    assert layers.RandomContrast(0.5).factor == (0.0, 0.5) == real.layers.RandomContrast(0.5).factor
    # crop: one random box per batch in training, the centre in inference (one output shape)
    crop = layers.RandomCrop(4, 5, seed=0)
    boxes = set()
    for _ in range(6):
        z = _np(crop(IMG, training=True))
        assert z.shape == (2, 4, 5, 3)
        hits = [(i, j) for i in range(4) for j in range(5)
                if np.array_equal(IMG[:, i:i + 4, j:j + 5], z)]
        assert len(hits) == 1
        boxes.add(hits[0])
    assert len(boxes) > 1
    np.testing.assert_array_equal(_np(crop(IMG, training=False)), IMG[:, 1:5, 2:7])
    inp = keras.Input(IMG.shape[1:])
    assert layers.RandomCrop(4, 5)(inp).shape == (None, 4, 5, 3)
    # tf.keras 2.x's namespace
    assert layers.experimental.preprocessing.RandomCrop is layers.RandomCrop


# -- noise and regularization ------------------------------------------------------------------------------
@pytest.mark.parametrize("name,rank", [("SpatialDropout1D", 3), ("SpatialDropout2D", 4),
                                       ("SpatialDropout3D", 5)])
def test_spatial_dropout_drops_whole_channels(name, rank, tmp_path):
    shape = (64,) + (3,) * (rank - 2) + (8,)
    x = np.ones(shape, "float32")
    layer = getattr(layers, name)(0.4, seed=0)
    y = _np(layer(x, training=True))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.6)}
    per_channel = y.reshape(64, -1, 8)
    assert np.all(per_channel.min(axis=1) == per_channel.max(axis=1))      # whole channels
    assert 0.3 < (per_channel[:, 0, :] == 0).mean() < 0.5
    np.testing.assert_array_equal(_np(layer(x)), x)                          # inference
    check_layer(lambda: getattr(layers, name)(0.4), (2,) + shape[1:], tmp_path=tmp_path,
                keras_make=lambda k: getattr(k.layers, name)(0.4))
    with pytest.raises(ValueError, match=f"{name} expects a {rank}-D input"):
        layer(np.ones((2,) * (rank + 1), "float32"), training=True)


def test_gaussian_noise_and_dropout_statistics(tmp_path):
    x = np.full((4000, 25), 2.0, "float32")
    y = _np(layers.GaussianNoise(0.5, seed=0)(x, training=True))
    assert abs((y - x).mean()) < 0.02 and abs((y - x).std() - 0.5) < 0.02
    y = _np(layers.GaussianDropout(0.2, seed=0)(x, training=True))
    assert abs(y.mean() - 2.0) < 0.02 and abs((y / x).std() - 0.5) < 0.02
    z = np.random.default_rng(0).standard_normal((4000, 25)).astype("float32")
    y = _np(layers.AlphaDropout(0.2, seed=0)(z, training=True))
    assert abs(y.mean()) < 0.03 and abs(y.std() - 1.0) < 0.03
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - 0.2) * (1 + 0.2 * alpha_p ** 2)) ** -0.5
    dropped = np.isclose(y, a * alpha_p - a * alpha_p * 0.2)   # Keras' value of a dropped one
    assert 0.18 < dropped.mean() < 0.22
    for make in [lambda: layers.GaussianNoise(0.3), lambda: layers.GaussianDropout(0.3),
                 lambda: layers.AlphaDropout(0.3)]:
        layer = check_layer(make, (3, 5), tmp_path=tmp_path)
        np.testing.assert_array_equal(_np(layer(x[:3, :5])), x[:3, :5])
    with pytest.raises(ValueError, match="GaussianDropout: rate must be below 1"):
        layers.GaussianDropout(1.0)


def test_activity_regularization_adds_loss():
    layer = layers.ActivityRegularization(l1=0.1, l2=0.01)
    check_layer(lambda: layers.ActivityRegularization(l1=0.1, l2=0.01), (3, 4))
    if not hasattr(layer, "losses"):
        pytest.skip("Layer.add_loss / losses not available in this tree yet")
    x = sample((4, 3))
    np.testing.assert_array_equal(_np(layer(x)), x)
    expected = (0.1 * np.abs(x).sum() + 0.01 * (x ** 2).sum()) / 4
    np.testing.assert_allclose(float(_np(layer.losses[-1])), expected, rtol=1e-5)
    # the training loss includes the penalty (Keras: normalised by the batch size)
    x, y = sample((8, 3), seed=6), np.ones((8, 4), "float32")
    losses = []
    for l1 in (0.0, 0.5):
        model = keras.Sequential([keras.Input((3,)), layers.Dense(4, kernel_initializer="ones"),
                                  layers.ActivityRegularization(l1=l1)])
        model.compile(optimizer="sgd", loss="mse")
        losses.append(model.train_on_batch(x, y))
    penalty = 0.5 * np.abs(np.repeat(x.sum(1, keepdims=True), 4, axis=1)).sum() / 8
    np.testing.assert_allclose(losses[1] - losses[0], penalty, rtol=1e-5)
