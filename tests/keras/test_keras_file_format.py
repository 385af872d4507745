"""Keras' own files: ``.keras`` (Keras 3), ``.weights.h5`` and legacy ``.h5`` (tf.keras 2),
written by ember and read by real Keras 3 (torch backend), and the other way round."""
import json
import sys
import warnings
import zipfile

import numpy as np
import pytest

from keras_battery import real_keras, sample

h5py = pytest.importorskip("h5py")

from ember import keras as ek  # noqa: E402
from ember.keras.keras_file import KerasFileError  # noqa: E402


def _predict(model, x):
    out = model.predict(x, verbose=0)
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else np.asarray(out)


def _close(a, b, atol=1e-5):
    for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=atol)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# -- ember -> real Keras ------------------------------------------------------------------------------
def test_ember_sequential_mlp_loads_in_real_keras_compiled(tmp_path):
    keras = real_keras()
    x = sample((6, 8))
    m = ek.Sequential([ek.Input((8,)), ek.layers.Dense(5, activation="relu"),
                       ek.layers.BatchNormalization(), ek.layers.Dropout(0.2),
                       ek.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=ek.optimizers.Adam(learning_rate=0.01),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, np.array([0, 1, 2, 0, 1, 2]), epochs=2, verbose=0)    # moving statistics move
    path = str(tmp_path / "mlp.keras")
    m.save(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert json.loads(z.read("config.json"))["class_name"] == "Sequential"
    k = keras.saving.load_model(path)
    _close(_predict(k, x), _predict(m, x))
    assert type(k.optimizer).__name__ == "Adam"
    assert float(np.asarray(k.optimizer.learning_rate)) == pytest.approx(0.01)
    assert k.loss == "sparse_categorical_crossentropy"


def test_ember_functional_cnn_loads_in_real_keras(tmp_path):
    keras = real_keras()
    L = ek.layers
    img, vec = ek.Input((8, 8, 2), name="img"), ek.Input((3,), name="vec")
    y = L.MaxPooling2D()(L.Conv2D(4, 3, padding="same", activation="relu")(img))
    y = L.Flatten()(L.BatchNormalization()(y))
    out = L.Dense(2)(L.Concatenate()([y, L.Dense(4)(vec)]))
    m = ek.Model([img, vec], out)
    x = [sample((3, 8, 8, 2)), sample((3, 3), seed=1)]
    path = str(tmp_path / "cnn.keras")
    m.save(path)
    k = keras.saving.load_model(path)
    _close(_predict(k, x), _predict(m, x))
    assert {layer.name for layer in k.layers} == {layer.name for layer in m.layers}


# -- real Keras -> ember ------------------------------------------------------------------------------
def _keras_functional(keras):
    L = keras.layers
    a, b = keras.Input((6,), name="a"), keras.Input((4,), name="b")
    h = L.Dense(5, activation="relu")(L.Concatenate()([a, b]))
    h = L.Dropout(0.3)(L.BatchNormalization()(h))
    img = keras.Input((8, 8, 1), name="img")
    c = L.Flatten()(L.MaxPooling2D()(L.Conv2D(2, 3, activation="relu")(img)))
    tok = keras.Input((5,), dtype="int32", name="tok")
    s = L.LSTM(3)(L.Embedding(12, 4, mask_zero=True)(tok))
    out = L.Dense(2, activation="softmax")(L.Concatenate()([h, c, s]))
    m = keras.Model([a, b, img, tok], out)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = [sample((4, 6)), sample((4, 4), 1), sample((4, 8, 8, 1), 2),
         rng.integers(0, 12, (4, 5)).astype("int32")]
    x[3][:, -2:] = 0        # padded steps: the mask matters
    m.fit(x, np.array([0, 1, 1, 0]), epochs=1, verbose=0)
    return m, x


def test_real_keras_functional_loads_in_ember_compiled(tmp_path):
    keras = real_keras()
    k, x = _keras_functional(keras)
    path = str(tmp_path / "k.keras")
    k.save(path)
    e = ek.models.load_model(path)
    _close(_predict(e, x), _predict(k, x))
    assert e._compiled is not None and type(e.optimizer).__name__ == "Adam"
    # and back: ember writes it again, Keras reads it
    path2 = str(tmp_path / "e.keras")
    e.save(path2)
    _close(_predict(keras.saving.load_model(path2), x), _predict(k, x))


def test_compile_objects_round_trip(tmp_path):
    keras = real_keras()
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    k.compile(keras.optimizers.RMSprop(0.01),
              keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=[keras.metrics.SparseCategoricalAccuracy(), "accuracy"])
    k.save(str(tmp_path / "k.keras"))
    e = ek.models.load_model(str(tmp_path / "k.keras"))
    assert type(e.optimizer).__name__ == "RMSprop"
    assert e.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)
    x, y = sample((5, 3)), np.array([0, 1, 1, 0, 1])
    np.testing.assert_allclose(e.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0), rtol=1e-5)
    e.save(str(tmp_path / "e.keras"))
    k2 = keras.saving.load_model(str(tmp_path / "e.keras"))
    np.testing.assert_allclose(k2.evaluate(x, y, verbose=0), k.evaluate(x, y, verbose=0), rtol=1e-5)


def test_real_keras_sequential_loads_in_ember(tmp_path):
    keras = real_keras()
    k = keras.Sequential([keras.Input((5, 3)), keras.layers.GRU(4, return_sequences=True),
                          keras.layers.Bidirectional(keras.layers.LSTM(2)),
                          keras.layers.Dense(2)])
    x = sample((3, 5, 3))
    path = str(tmp_path / "s.keras")
    k.save(path)
    e = ek.models.load_model(path, compile=False)
    assert isinstance(e, ek.Sequential)
    _close(_predict(e, x), _predict(k, x))


# Layers that round-trip both ways (Input -> layer(s) -> output; the same predictions).
L_CASES = [
    ("Dense", lambda L: L.Dense(3, activation="relu"), (6,)),
    ("Conv1D", lambda L: L.Conv1D(2, 3, padding="same"), (7, 3)),
    ("Conv2DTranspose", lambda L: L.Conv2DTranspose(2, 3, strides=2), (4, 4, 3)),
    ("SeparableConv2D", lambda L: L.SeparableConv2D(4, 3), (6, 6, 2)),
    ("DepthwiseConv2D", lambda L: L.DepthwiseConv2D(3, depth_multiplier=2), (6, 6, 2)),
    ("AveragePooling1D", lambda L: L.AveragePooling1D(2), (6, 2)),
    ("GlobalAveragePooling2D", lambda L: L.GlobalAveragePooling2D(), (4, 4, 2)),
    ("Reshape+Permute", lambda L: [L.Reshape((4, 3)), L.Permute((2, 1))], (3, 4)),
    ("SpatialDropout1D", lambda L: L.SpatialDropout1D(0.3), (5, 2)),
    ("LayerNormalization", lambda L: L.LayerNormalization(), (5,)),
    ("GroupNormalization", lambda L: L.GroupNormalization(2), (3, 4)),
    ("SimpleRNN", lambda L: L.SimpleRNN(3, return_sequences=True), (5, 4)),
    ("GRU", lambda L: L.GRU(3), (5, 4)),
    ("Bidirectional(GRU)", lambda L: L.Bidirectional(L.GRU(3, return_sequences=True)), (5, 4)),
    ("TimeDistributed(Dense)", lambda L: L.TimeDistributed(L.Dense(2)), (5, 4)),
    ("LeakyReLU+Softmax", lambda L: [L.LeakyReLU(), L.Softmax()], (5,)),
    ("ZeroPadding2D+Cropping2D+UpSampling2D",
     lambda L: [L.ZeroPadding2D(1), L.Cropping2D(1), L.UpSampling2D()], (3, 3, 2)),
    ("Rescaling+Normalization", lambda L: [L.Rescaling(0.5, offset=1.0),
                                           L.Normalization(mean=1.0, variance=4.0)], (5,)),
    ("RandomFlip (identity in predict)", lambda L: L.RandomFlip(), (4, 4, 2)),
    ("Embedding(mask_zero)+SimpleRNN", lambda L: [L.Embedding(10, 4, mask_zero=True),
                                                 L.SimpleRNN(3)], (6,), "int32"),
]


def _one_input_model(lib, make, shape, dtype):
    i = lib.Input(shape, dtype=dtype)
    y = i
    made = make(lib.layers)
    for layer in made if isinstance(made, list) else [made]:
        y = layer(y)
    return lib.Model(i, y)


@pytest.mark.parametrize("case", L_CASES, ids=[c[0] for c in L_CASES])
def test_layer_round_trips_both_ways(case, tmp_path):
    keras = real_keras()
    _, make, shape = case[:3]
    dtype = case[3] if len(case) > 3 else "float32"
    if dtype == "int32":
        x = np.random.default_rng(0).integers(0, 10, (3,) + shape).astype("int32")
        x[:, -2:] = 0
    else:
        x = sample((3,) + shape)
    for lib, load in ((keras, ek.models.load_model), (ek, keras.saving.load_model)):
        m = _one_input_model(lib, make, shape, dtype)
        path = str(tmp_path / f"{lib.__name__}.keras")
        m.save(path)
        _close(_predict(load(path), x), _predict(m, x))


def test_attention_and_merging_layers_round_trip(tmp_path):
    keras = real_keras()
    x = [sample((2, 5, 4)), sample((2, 5, 4), 1)]
    for lib, load in ((keras, ek.models.load_model), (ek, keras.saving.load_model)):
        L = lib.layers
        q, v = lib.Input((5, 4)), lib.Input((5, 4))
        d = L.Dense(4)                                 # shared: two calls, node indices 0 and 1
        y = L.Concatenate()([L.MultiHeadAttention(2, 3)(q, v), L.Attention()([q, v]),
                             L.AdditiveAttention()([q, v]), L.Add()([d(q), d(v)]),
                             L.Multiply()([q, v]), L.Subtract()([q, v])])
        m = lib.Model([q, v], y)
        path = str(tmp_path / f"{lib.__name__}.keras")
        m.save(path)
        _close(_predict(load(path), x), _predict(m, x))


def test_nested_model_round_trips(tmp_path):
    keras = real_keras()
    x = sample((3, 8))
    for lib, load in ((keras, ek.models.load_model), (ek, keras.saving.load_model)):
        inner = lib.Sequential([lib.Input((8,)), lib.layers.Dense(5, activation="tanh"),
                                lib.layers.Dense(4)])
        i = lib.Input((8,))
        m = lib.Model(i, lib.layers.Dense(2)(inner(i)))
        path = str(tmp_path / f"{lib.__name__}.keras")
        m.save(path)
        _close(_predict(load(path), x), _predict(m, x))


def test_keras_ops_calls_round_trip(tmp_path):
    keras = real_keras()
    # Keras records Masking's mask as keras.ops calls (NotEqual, Any(axis=-1)) in the graph
    x = sample((3, 5, 3))
    x[:, -2:] = 0
    i = keras.Input((5, 3))
    k = keras.Model(i, keras.layers.LSTM(3)(keras.layers.Masking()(i)))
    k.save(str(tmp_path / "k.keras"))
    e = ek.models.load_model(str(tmp_path / "k.keras"))
    _close(_predict(e, x), _predict(k, x))
    e.save(str(tmp_path / "e.keras"))
    _close(_predict(keras.saving.load_model(str(tmp_path / "e.keras")), x), _predict(k, x))
    # ember's own keras.ops calls (with keyword arguments) reach real Keras
    i = ek.Input((4,))
    y = ek.ops.sum(ek.ops.relu(ek.layers.Dense(3)(i)), axis=-1, keepdims=True)
    m = ek.Model(i, ek.ops.add(y, 1.0))
    m.save(str(tmp_path / "ops.keras"))
    z = sample((2, 4))
    _close(_predict(keras.saving.load_model(str(tmp_path / "ops.keras")), z), _predict(m, z))


def test_gru_without_bias_reads_keras_layout(tmp_path):
    keras = real_keras()
    x = sample((2, 5, 3))
    for lib, load in ((keras, ek.models.load_model), (ek, keras.saving.load_model)):
        i = lib.Input((5, 3))
        m = lib.Model(i, lib.layers.GRU(3, use_bias=False)(i))
        m.save(str(tmp_path / "gru.keras"))
        _close(_predict(load(str(tmp_path / "gru.keras")), x), _predict(m, x))


# -- weights only ---------------------------------------------------------------------------------------
def test_weights_h5_both_ways_matched_by_position(tmp_path):
    keras = real_keras()
    x = sample((4, 6))

    def build(lib):     # fresh layer names each time: files match layers by position, as Keras
        return lib.Sequential([lib.Input((6,)), lib.layers.Dense(4, activation="relu"),
                               lib.layers.BatchNormalization(), lib.layers.Dense(2)])
    k, e = build(keras), build(ek)
    k.layers[1].set_weights([np.full(4, 0.5, "float32"), np.full(4, -0.2, "float32"),
                             np.full(4, 0.1, "float32"), np.full(4, 2.0, "float32")])
    k.save_weights(str(tmp_path / "k.weights.h5"))
    e.load_weights(str(tmp_path / "k.weights.h5"))
    _close(_predict(e, x), _predict(k, x))
    e2, k2 = build(ek), build(keras)
    e2.save_weights(str(tmp_path / "e.weights.h5"))
    k2.load_weights(str(tmp_path / "e.weights.h5"))
    _close(_predict(k2, x), _predict(e2, x))
    fewer = ek.Sequential([ek.Input((6,)), ek.layers.Dense(4), ek.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"weights for layers \['batch_normalization'\]"):
        fewer.load_weights(str(tmp_path / "k.weights.h5"))
    narrower = ek.Sequential([ek.Input((6,)), ek.layers.Dense(3), ek.layers.BatchNormalization(),
                              ek.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"shape \(6, 4\), the layer's has \(6, 3\)"):
        narrower.load_weights(str(tmp_path / "k.weights.h5"))


# -- legacy .h5 -------------------------------------------------------------------------------------------
def test_legacy_h5_written_by_keras_loads_compiled(tmp_path):
    keras = real_keras()
    from keras.src.legacy.saving import legacy_h5_format
    k = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu"),
                          keras.layers.BatchNormalization(), keras.layers.Dense(2)])
    k.compile("adam", "mse", metrics=["mae"])
    k.fit(sample((8, 6)), sample((8, 2)), epochs=1, verbose=0)
    path = str(tmp_path / "legacy.h5")
    legacy_h5_format.save_model_to_hdf5(k, path)
    x = sample((3, 6), 5)
    e = ek.models.load_model(path)
    _close(_predict(e, x), _predict(k, x))
    assert e._compiled is not None
    with h5py.File(str(tmp_path / "w.h5"), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, k)
    e2 = ek.Sequential([ek.Input((6,)), ek.layers.Dense(4, activation="relu"),
                        ek.layers.BatchNormalization(), ek.layers.Dense(2)])
    e2.load_weights(str(tmp_path / "w.h5"))
    _close(_predict(e2, x), _predict(k, x))


def _tf_keras2_file(path, kernel, bias, kernel2):
    """A tf.keras 2.x functional file, written as tf.keras 2 did (old config and node format)."""
    config = {"class_name": "Functional", "config": {
        "name": "model", "layers": [
            {"class_name": "InputLayer", "name": "in_a", "inbound_nodes": [], "config": {
                "batch_input_shape": [None, 3], "dtype": "float32", "sparse": False,
                "ragged": False, "name": "in_a"}},
            {"class_name": "InputLayer", "name": "in_b", "inbound_nodes": [], "config": {
                "batch_input_shape": [None, 2], "dtype": "float32", "sparse": False,
                "ragged": False, "name": "in_b"}},
            {"class_name": "Concatenate", "name": "concat",
             "config": {"name": "concat", "trainable": True, "dtype": "float32", "axis": -1},
             "inbound_nodes": [[["in_a", 0, 0, {}], ["in_b", 0, 0, {}]]]},
            {"class_name": "Dense", "name": "dense", "config": {
                "name": "dense", "trainable": True, "dtype": "float32", "units": 4,
                "activation": "tanh", "use_bias": True,
                "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                "bias_initializer": {"class_name": "Zeros", "config": {}},
                "kernel_regularizer": None, "bias_regularizer": None,
                "activity_regularizer": None, "kernel_constraint": None,
                "bias_constraint": None},
             "inbound_nodes": [[["concat", 0, 0, {}]]]},
            {"class_name": "Dense", "name": "out", "config": {
                "name": "out", "trainable": True, "dtype": "float32", "units": 1,
                "activation": "linear", "use_bias": False},
             "inbound_nodes": [[["dense", 0, 0, {}]]]}],
        "input_layers": [["in_a", 0, 0], ["in_b", 0, 0]],
        "output_layers": [["out", 0, 0]]}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [b"in_a", b"in_b", b"concat", b"dense", b"out"]
        for name in ("in_a", "in_b", "concat"):
            g.create_group(name).attrs["weight_names"] = []
        d = g.create_group("dense")
        d.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        d["dense/kernel:0"], d["dense/bias:0"] = kernel, bias
        o = g.create_group("out")
        o.attrs["weight_names"] = [b"out/kernel:0"]
        o["out/kernel:0"] = kernel2


def test_tf_keras2_h5_file_loads(tmp_path):
    rng = np.random.default_rng(3)
    kernel, bias = rng.standard_normal((5, 4)).astype("float32"), rng.standard_normal(4).astype("float32")
    kernel2 = rng.standard_normal((4, 1)).astype("float32")
    path = str(tmp_path / "tf2.h5")
    _tf_keras2_file(path, kernel, bias, kernel2)
    e = ek.models.load_model(path)
    a, b = sample((3, 3)), sample((3, 2), 1)
    expected = np.tanh(np.concatenate([a, b], 1) @ kernel + bias) @ kernel2
    _close(_predict(e, [a, b]), expected)


# -- safety and errors ------------------------------------------------------------------------------------
def test_unregistered_custom_class_needs_custom_objects(tmp_path):
    keras = real_keras()

    @keras.saving.register_keras_serializable(package="FileTest")
    class Scale(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    i = keras.Input((3,))
    k = keras.Model(i, keras.layers.Dense(2)(Scale(3.0)(i)))
    path = str(tmp_path / "custom.keras")
    k.save(path)
    with pytest.raises(KerasFileError, match=r"custom_objects=\{'FileTest>Scale'"):
        ek.models.load_model(path)

    class EmberScale(ek.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

    e = ek.models.load_model(path, custom_objects={"FileTest>Scale": EmberScale})
    x = sample((2, 3))
    _close(_predict(e, x), _predict(k, x))


def test_lambda_file_is_refused(tmp_path):
    keras = real_keras()
    i = keras.Input((3,))
    k = keras.Model(i, keras.layers.Lambda(lambda t: t * 2)(i))
    path = str(tmp_path / "lambda.keras")
    k.save(path)
    with pytest.raises(KerasFileError, match="safe mode"):
        ek.models.load_model(path)
    with pytest.raises(KerasFileError, match="never runs bytecode"):
        ek.models.load_model(path, safe_mode=False)


def test_config_values_ember_cannot_honour_are_named(tmp_path):
    keras = real_keras()
    i = keras.Input((4, 3))
    k = keras.Model(i, keras.layers.Dense(2, lora_rank=2, name="adapted")(i))
    path = str(tmp_path / "lora.keras")
    k.save(path)
    with pytest.raises(KerasFileError, match=r"'adapted.*lora_rank"):
        ek.models.load_model(path)
    k = keras.Model(i, keras.layers.Dropout(0.5, noise_shape=(None, 1, 3), name="drop")(i))
    k.save(path)                                    # noise_shape is honoured now
    assert ek.models.load_model(path).get_layer("drop").noise_shape == (None, 1, 3)
    k2 = keras.Model(i, keras.layers.Dense(2, dtype="float16")(i))
    k2.save(path)
    with pytest.raises(KerasFileError, match=r"layer 'dense.*dtype policy 'float16'"):
        ek.models.load_model(path)


def test_models_keras_cannot_describe_fall_back_to_ember_format(tmp_path):
    class Twice(ek.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = ek.layers.Dense(2)

        def call(self, x):
            return self.dense(x) * 2

    m = Twice()
    x = sample((2, 3))
    m(x)
    path = str(tmp_path / "sub.keras")
    with pytest.warns(UserWarning, match="ember's format"):
        warnings.simplefilter("always")
        m.save(path)
    back = ek.models.load_model(path, custom_objects={"Twice": Twice})
    _close(_predict(back, x), _predict(m, x))


def test_other_names_keep_embers_format(tmp_path):
    m = ek.Sequential([ek.Input((3,)), ek.layers.Dense(2)])
    path = str(tmp_path / "m.ember")
    m.save(path)
    with open(path, "rb") as f:
        assert not f.read(2).startswith(b"PK")
    x = sample((2, 3))
    _close(_predict(ek.models.load_model(path), x), _predict(m, x))


def test_missing_h5py_names_the_install(tmp_path, monkeypatch):
    m = ek.Sequential([ek.Input((3,)), ek.layers.Dense(2)])
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="pip install h5py"):
        m.save(str(tmp_path / "m.keras"))
