"""keras.applications: VGG16/19, ResNet50/101 (152: -m slow), MobileNet, MobileNetV2,
DenseNet121 (169/201: -m slow), EfficientNetB0 against real Keras 3 (torch backend): layer names in Keras' order,
per-layer output shapes, parameter counts, same weights -> same outputs; Keras' argument errors;
preprocess_input in each mode; decode_predictions; weights from a tf.keras-2 style .h5 file (written
by real Keras' legacy writer) via weights=path and via the (stubbed, offline) 'imagenet' download
with Keras' URLs and hashes; a model saved as .keras loads in real Keras."""
import json
import re

import numpy as np
import pytest

from ember import keras
from ember.keras.applications import imagenet_utils
from ember.keras.keras_file.h5_weights import keras_layer_order
from tests.support.keras_battery import real_keras

CASES = [
    ("VGG16", dict(include_top=False, input_shape=(32, 32, 3))),
    ("VGG19", dict(include_top=True, classes=10, input_shape=(32, 32, 3),
                   classifier_activation=None)),
    ("ResNet50", dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")),
    ("ResNet101", dict(include_top=True, classes=10, input_shape=(32, 32, 3),
                       classifier_activation=None)),
    ("MobileNetV2", dict(include_top=True, classes=10, input_shape=(64, 64, 3), alpha=0.35,
                         classifier_activation=None)),
    ("MobileNetV2", dict(include_top=False, input_shape=(33, 47, 3), alpha=1.3)),
    ("MobileNet", dict(include_top=True, classes=10, input_shape=(32, 32, 3), alpha=0.25,
                       classifier_activation=None)),
    ("MobileNet", dict(include_top=False, input_shape=(32, 32, 3), alpha=0.5, depth_multiplier=2,
                       pooling="avg")),
    ("DenseNet121", dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")),
]
# the deepest variants share their builders with the ones above: run with -m slow
SLOW = [
    ("ResNet152", dict(include_top=False, input_shape=(32, 32, 3), pooling="max")),
    ("DenseNet169", dict(include_top=True, classes=10, input_shape=(32, 32, 3))),
    ("DenseNet201", dict(include_top=False, input_shape=(32, 32, 3), pooling="max")),
]


def _names(layers):
    """Layer names with Keras' automatic numbering dropped (``zero_padding2d_3`` ->
    ``zero_padding2d``): the counters depend on what the session built before."""
    out = []
    for layer in layers:
        base = re.sub(r"(?<!^)(?=[A-Z])", "_", type(layer).__name__).lower()
        base = base.replace("2_d", "2d")
        out.append(base if re.fullmatch(rf"{base}(_\d+)?", layer.name) else layer.name)
    return out


def _randomize(km, seed=0):
    """Give Keras' model weights whose outputs are not trivially zero / uniform: BatchNorm
    statistics and affine parameters random (the initial ones are identities)."""
    rng = np.random.default_rng(seed)
    for layer in km.layers:
        ws = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = (w.shape for w in ws)
            ws = [rng.uniform(0.5, 1.5, gamma), rng.normal(0, 0.2, beta), rng.normal(0, 0.2, mean),
                  rng.uniform(0.5, 1.5, var)]
            layer.set_weights([w.astype("float32") for w in ws])
        elif type(layer).__name__ == "Dense" and len(ws) == 2:
            layer.set_weights([ws[0], rng.normal(0, 0.1, ws[1].shape).astype("float32")])


def _same_structure(em, km):
    """Layer names and output shapes in Keras' order (the order Keras' get_weights and .h5 files
    use) and parameter counts equal; returns ember's layers in that order."""
    ember_layers = keras_layer_order(em)
    assert _names(ember_layers) == _names(km.layers)
    assert [tuple(layer.output.shape) for layer in ember_layers] == \
        [tuple(layer.output.shape) for layer in km.layers]
    # ember counts trainable and frozen parameters (Keras also counts BatchNorm statistics)
    assert em.count_params() == sum(int(np.prod(w.shape)) for w in km.trainable_weights)
    assert sum(w.size for w in em.get_weights()) == km.count_params()
    return ember_layers


@pytest.mark.parametrize("name,kw", CASES + [pytest.param(*c, marks=pytest.mark.slow) for c in SLOW],
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES + SLOW)])
def test_application_matches_keras(name, kw):
    K = real_keras()
    km = getattr(K.applications, name)(weights=None, **kw)
    em = getattr(keras.applications, name)(weights=None, **kw)
    assert em.name == km.name
    ember_layers = _same_structure(em, km)
    assert tuple(em.output.shape) == tuple(km.output.shape)
    _randomize(km)
    for mine, theirs in zip(ember_layers, km.layers):
        mine.set_weights(theirs.get_weights())
    x = np.random.default_rng(1).uniform(0, 255, (2,) + tuple(km.input_shape[1:]))
    x = x.astype("float32") / 255.0
    want = np.asarray(km.predict(x, verbose=0))
    got = np.asarray(em.predict(x, verbose=0))
    assert np.abs(want).max() > 1e-3              # the comparison is not of zeros
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_default_input_shapes_and_names():
    m = keras.applications.MobileNetV2(weights=None, include_top=False, alpha=0.5)
    assert m.name == "mobilenetv2_0.50_None" and tuple(m.input.shape) == (None, None, None, 3)
    m = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), classes=7)
    assert m.name == "mobilenetv2_1.00_96" and tuple(m.output.shape) == (None, 7)
    m = keras.applications.VGG16(weights=None, include_top=False, pooling="avg")
    assert tuple(m.output.shape) == (None, 512)


def test_input_tensor_intermediate_keeps_source_input():
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    base = keras.applications.ResNet50(weights=None, include_top=False, input_tensor=x,
                                       pooling="avg")
    assert base.inputs[0] is inp
    out = base.predict(np.full((1, 32, 32, 3), 128, "float32"), verbose=0)
    assert out.shape == (1, 2048)
    with pytest.raises(ValueError, match="input_tensor"):
        keras.applications.VGG16(weights=None, include_top=False,
                                 input_tensor=np.zeros((1, 32, 32, 3)))


@pytest.mark.parametrize("make,kwargs,match", [
    ("VGG16", dict(weights="no/such/file.h5"), "weights"),
    ("VGG19", dict(weights="imagenet", classes=10), "classes` should be 1000"),
    ("ResNet50", dict(weights="imagenet", input_shape=(64, 64, 3)), r"should be \(224, 224, 3\)"),
    ("ResNet50", dict(weights=None, include_top=False, input_shape=(16, 16, 3)), "at least 32x32"),
    ("VGG16", dict(weights=None, include_top=False, input_shape=(32, 32)), "three integers"),
    ("VGG16", dict(weights=None, include_top=True, input_shape=(None, None, 3)), "static"),
    ("MobileNetV2", dict(weights="imagenet", alpha=0.6), "alpha must be one of"),
    ("MobileNetV2", dict(weights="imagenet", classifier_activation="relu"), "softmax"),
])
def test_argument_errors_as_keras(make, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(keras.applications, make)(**kwargs)


def test_imagenet_download_failure_names_url_and_fix(monkeypatch):
    def offline(*args, **kwargs):
        raise ValueError("get_file: no network")
    monkeypatch.setattr(imagenet_utils, "get_file", offline)
    with pytest.raises(OSError) as err:
        keras.applications.VGG16(include_top=False, input_shape=(32, 32, 3))
    msg = str(err.value)
    assert "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" \
           "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in msg
    assert "weights=None" in msg and "local" in msg


def _keras_legacy_h5(km, path):
    """tf.keras 2's weights-only HDF5 layout, written by real Keras' own legacy writer."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, km)
    return path


@pytest.mark.parametrize("name,kw", [
    ("ResNet50", dict(include_top=True, classes=5, input_shape=(32, 32, 3))),
    ("MobileNet", dict(include_top=False, input_shape=(32, 32, 3), alpha=0.25, pooling="max")),
])
def test_weights_path_loads_keras_h5_file(tmp_path, name, kw):
    K = real_keras()
    km = getattr(K.applications, name)(weights=None, **kw)
    _randomize(km, seed=3)
    path = _keras_legacy_h5(km, str(tmp_path / f"{name}.h5"))
    x = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    want = np.asarray(km.predict(x, verbose=0))
    em = getattr(keras.applications, name)(weights=path, **kw)
    np.testing.assert_allclose(em.predict(x, verbose=0), want, rtol=1e-4,
                               atol=1e-4 * np.abs(want).max())


def test_imagenet_weights_load_the_downloaded_keras_h5_file(tmp_path, monkeypatch):
    K = real_keras()
    kw = dict(include_top=False, input_shape=(32, 32, 3), alpha=0.35, pooling="avg")
    km = K.applications.MobileNetV2(weights=None, **kw)
    _randomize(km, seed=3)
    path = _keras_legacy_h5(km, str(tmp_path / "mnv2.h5"))
    x = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    want = np.asarray(km.predict(x, verbose=0))
    # weights='imagenet': Keras' file name, URL and cache sub-directory; the file then loads
    calls = []

    def fake_get_file(fname, origin, cache_subdir=None, file_hash=None, **kwargs):
        calls.append((fname, origin, cache_subdir, file_hash))
        return path
    monkeypatch.setattr(imagenet_utils, "get_file", fake_get_file)
    with pytest.warns(UserWarning, match="224"):
        em = keras.applications.MobileNetV2(weights="imagenet", **kw)
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    assert calls == [(name, "https://storage.googleapis.com/tensorflow/keras-applications/"
                      f"mobilenet_v2/{name}", "models", None)]
    np.testing.assert_allclose(em.predict(x, verbose=0), want, rtol=1e-4, atol=1e-5)


def test_imagenet_urls_and_hashes_are_keras(monkeypatch):
    calls = []

    def fake_get_file(fname, origin, cache_subdir=None, file_hash=None, **kwargs):
        calls.append((fname, origin, file_hash))
        raise ValueError("stop")
    monkeypatch.setattr(imagenet_utils, "get_file", fake_get_file)
    for make in (keras.applications.VGG19, keras.applications.ResNet50,
                 keras.applications.DenseNet121):
        with pytest.raises(OSError):
            make(include_top=False, input_shape=(32, 32, 3))
    with pytest.raises(OSError), pytest.warns(UserWarning, match="224"):
        keras.applications.MobileNet(include_top=False, input_shape=(32, 32, 3), alpha=0.25)
    base = "https://storage.googleapis.com/tensorflow/keras-applications/"
    assert calls == [
        ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
         base + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
         "253f8cb515780f3b799900260a226db6"),
        ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
         base + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
         "4d473c1dd8becc155b73f8504c6f6626"),
        ("densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
         base + "densenet/densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
         "30ee3e1110167f948a6b9946edeeb738"),
        ("mobilenet_2_5_224_tf_no_top.h5", base + "mobilenet/mobilenet_2_5_224_tf_no_top.h5",
         None)]


# -- preprocess_input / decode_predictions -----------------------------------------------------------
@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format,shape", [("channels_last", (2, 5, 4, 3)),
                                               ("channels_last", (5, 4, 3)),
                                               ("channels_first", (2, 3, 5, 4)),
                                               ("channels_first", (3, 5, 4))])
def test_preprocess_input_matches_keras(mode, data_format, shape):
    K = real_keras()
    x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
    want = K.applications.imagenet_utils.preprocess_input(x.copy(), data_format, mode)
    got = imagenet_utils.preprocess_input(x.copy(), data_format, mode)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)
    tensor = imagenet_utils.preprocess_input(keras.ops.convert_to_tensor(x), data_format, mode)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), want, rtol=1e-6, atol=1e-4)
    ints = imagenet_utils.preprocess_input(x.astype("uint8"), data_format, mode)
    assert ints.dtype == np.float32


def test_preprocess_input_in_place_symbolic_and_module_modes():
    K = real_keras()
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    y = x.copy()
    keras.applications.mobilenet_v2.preprocess_input(y)
    np.testing.assert_allclose(y, x / 127.5 - 1.0, rtol=1e-6)     # NumPy floats: in place, as Keras
    for mod in ("vgg16", "vgg19", "resnet", "resnet50", "mobilenet", "mobilenet_v2", "densenet"):
        want = getattr(K.applications, mod).preprocess_input(x.copy())
        got = getattr(keras.applications, mod).preprocess_input(x.copy())
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)
    inp = keras.Input((4, 4, 3))
    model = keras.Model(inp, keras.applications.resnet50.preprocess_input(inp))
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               K.applications.resnet50.preprocess_input(x.copy()), atol=1e-4)
    with pytest.raises(ValueError, match="mode"):
        imagenet_utils.preprocess_input(x, mode="keras")
    with pytest.raises(ValueError, match="data_format"):
        imagenet_utils.preprocess_input(x, data_format="channels_middle")


def test_decode_predictions(tmp_path, monkeypatch):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    calls = []

    def fake_get_file(fname, origin, cache_subdir=None, file_hash=None, **kwargs):
        calls.append((fname, origin, cache_subdir, file_hash))
        return str(path)
    monkeypatch.setattr(imagenet_utils, "get_file", fake_get_file)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    preds = np.random.default_rng(0).uniform(size=(2, 1000)).astype("float32")
    out = keras.applications.vgg16.decode_predictions(preds, top=3)
    assert calls == [("imagenet_class_index.json", "https://storage.googleapis.com/download."
                      "tensorflow.org/data/imagenet_class_index.json", "models",
                      "c2c37ea517e94d9795004a39431a14cb")]
    for row, p in zip(out, preds):
        best = np.argsort(-p)[:3]
        assert [r[0] for r in row] == [f"n{i:08d}" for i in best]
        assert [r[1] for r in row] == [f"class_{i}" for i in best]
        np.testing.assert_array_equal([r[2] for r in row], p[best])
    with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
        imagenet_utils.decode_predictions(preds[:, :10])


def test_application_saved_as_keras_file_loads_in_real_keras(tmp_path):
    K = real_keras()
    em = keras.applications.MobileNet(weights=None, alpha=0.25, classes=4, input_shape=(32, 32, 3),
                                      classifier_activation=None)
    rng = np.random.default_rng(4)
    em.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) if w.ndim else w
                    for w in em.get_weights()])
    path = str(tmp_path / "mobilenet.keras")
    em.save(path)
    km = K.models.load_model(path)
    assert [layer.name for layer in km.layers] == [layer.name for layer in keras_layer_order(em)]
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    want = np.asarray(km.predict(x, verbose=0))
    assert np.abs(want).max() > 1e-3
    np.testing.assert_allclose(em.predict(x, verbose=0), want, rtol=1e-4, atol=1e-5)


# -- EfficientNet -------------------------------------------------------------------------------
def _randomize_efficientnet(km, seed=0):
    """``_randomize`` plus the stem's Normalization statistics (ImageNet-like, as in Keras'
    files)."""
    _randomize(km, seed)
    norm = next(layer for layer in km.layers if type(layer).__name__ == "Normalization")
    rng = np.random.default_rng(seed + 1)
    norm.set_weights([rng.uniform(0.3, 0.6, 3).astype("float32"),
                      rng.uniform(0.2, 0.3, 3).astype("float32"), np.zeros((), "float32")])


@pytest.mark.parametrize("kw", [dict(include_top=False, input_shape=(32, 32, 3)),
                                dict(include_top=True, classes=10, input_shape=(32, 32, 3),
                                     classifier_activation=None)], ids=["notop", "top10"])
def test_efficientnet_b0_matches_keras(kw):
    K = real_keras()
    km = K.applications.EfficientNetB0(weights=None, **kw)
    em = keras.applications.EfficientNetB0(weights=None, **kw)
    assert em.name == km.name == "efficientnetb0"
    ember_layers = _same_structure(em, km)
    # drop-connect with Keras' rates (block b of 16: 0.2 * b / 16) and sample-wise noise
    def dropouts(layers):
        return {layer.name: (layer.rate, layer.noise_shape and tuple(layer.noise_shape))
                for layer in layers if type(layer).__name__ == "Dropout"}
    drops = dropouts(km.layers)
    assert drops["block2b_drop"] == (0.2 * 2 / 16, (None, 1, 1, 1))
    assert dropouts(ember_layers) == drops
    _randomize_efficientnet(km)
    em.set_weights(km.get_weights())
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    want = np.asarray(km.predict(x, verbose=0))
    got = np.asarray(em.predict(x, verbose=0))
    assert np.abs(want).max() > 1e-3
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_efficientnet_imagenet_weights_stem_and_keras_file(tmp_path, monkeypatch):
    """weights='imagenet': Keras' file name / URL / hash, the h5 loads, and the extra stem
    Rescaling (1/sqrt(std): Keras' files store std as the Normalization 'variance') is there, so
    outputs equal real Keras' weights='imagenet' model on the same file; then .keras -> Keras."""
    from keras.src.applications import efficientnet as keras_effnet
    K = real_keras()
    kw = dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    source = K.applications.EfficientNetB0(weights=None, **kw)
    _randomize_efficientnet(source, seed=5)
    path = _keras_legacy_h5(source, str(tmp_path / "b0.h5"))
    calls = []

    def fake_get_file(fname, origin, cache_subdir=None, file_hash=None, **kwargs):
        calls.append((fname, origin, cache_subdir, file_hash))
        return path
    monkeypatch.setattr(imagenet_utils, "get_file", fake_get_file)
    monkeypatch.setattr(keras_effnet.file_utils, "get_file", fake_get_file)
    em = keras.applications.EfficientNetB0(weights="imagenet", **kw)
    km = K.applications.EfficientNetB0(weights="imagenet", **kw)
    assert calls[0] == calls[1] == (
        "efficientnetb0_notop.h5", "https://storage.googleapis.com/keras-applications/"
        "efficientnetb0_notop.h5", "models", "50bc09e76180e00e4465e1a485ddc09d")
    assert _names(keras_layer_order(em)) == _names(km.layers)
    assert [type(layer).__name__ for layer in km.layers[1:5]] == \
        ["Rescaling", "Normalization", "Rescaling", "ZeroPadding2D"]
    x = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    want = np.asarray(km.predict(x, verbose=0))
    got = np.asarray(em.predict(x, verbose=0))
    assert np.abs(want).max() > 1e-3
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    keras_file = str(tmp_path / "b0.keras")
    em.save(keras_file)
    loaded = K.models.load_model(keras_file)
    assert [layer.name for layer in loaded.layers] == \
        [layer.name for layer in keras_layer_order(em)]
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), got, rtol=1e-4,
                               atol=1e-4 * np.abs(want).max())


def test_efficientnet_variants_table_and_module_functions():
    from keras.src.applications import efficientnet as keras_effnet
    from ember.keras.applications import efficientnet
    assert efficientnet.WEIGHTS_HASHES == \
        {k: tuple(v) for k, v in keras_effnet.WEIGHTS_HASHES.items()}
    assert efficientnet.BASE_WEIGHTS_PATH == keras_effnet.BASE_WEIGHTS_PATH
    assert efficientnet.DEFAULT_BLOCKS_ARGS == keras_effnet.DEFAULT_BLOCKS_ARGS
    x = np.random.default_rng(0).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    assert keras.applications.efficientnet.preprocess_input(x) is x      # identity, as Keras
    for key in ("B0", "B3", "B7"):
        assert getattr(keras.applications, f"EfficientNet{key}") is \
            getattr(keras.applications.efficientnet, f"EfficientNet{key}")
    with pytest.raises(ValueError, match=r"should be \(600, 600, 3\)"):
        keras.applications.EfficientNetB7(weights="imagenet", input_shape=(224, 224, 3))
    with pytest.raises(ValueError, match="classes` should be 1000"):
        keras.applications.EfficientNetB2(weights="imagenet", classes=10)
