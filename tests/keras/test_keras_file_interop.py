"""Issue #17: a model trained in ember, saved in Keras' files, is loaded and *evaluated* by real
Keras 3 (torch backend) with the same loss and accuracy -- and back (trained in real Keras, loaded
and evaluated by ember).  The model is the "save and load models" tutorial's (Dense-relu, Dropout,
Dense logits; Adam, SparseCategoricalCrossentropy(from_logits=True),
SparseCategoricalAccuracy), at a small size."""
import os
import warnings

import numpy as np
import pytest

from keras_battery import real_keras

pytest.importorskip("h5py")

from ember import keras as ek  # noqa: E402

rng = np.random.default_rng(0)
Y = rng.integers(0, 3, 64)
X = rng.random((64, 20)).astype("float32")
X[np.arange(64), Y] += 3.0                # learnable labels: trained accuracy is far above chance


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _model(lib):
    model = lib.Sequential([lib.layers.Dense(16, activation="relu", input_shape=(20,)),
                            lib.layers.Dropout(0.2), lib.layers.Dense(3)])
    model.compile(optimizer="adam",
                  loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[lib.metrics.SparseCategoricalAccuracy()])
    return model


def _same(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64"),
                               rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def ember_trained():
    model = _model(ek)
    model.fit(X, Y, epochs=20, batch_size=16, verbose=0)
    return model, model.evaluate(X, Y, verbose=0)


def test_ember_trained_keras_file_is_evaluated_by_real_keras(ember_trained, tmp_path):
    keras = real_keras()
    model, score = ember_trained
    assert score[1] > 0.5                       # trained: far above chance (1/3)
    path = str(tmp_path / "my_model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)     # compiled from the file's settings
    assert type(loaded.loss).__name__ == "SparseCategoricalCrossentropy"
    _same(loaded.evaluate(X, Y, verbose=0), score)


def test_ember_trained_legacy_h5_is_evaluated_by_real_keras(ember_trained, tmp_path):
    keras = real_keras()
    model, score = ember_trained
    path = str(tmp_path / "my_model.h5")
    model.save(path)
    with open(path, "rb") as f:
        assert f.read(4) == b"\x89HDF"           # tf.keras' HDF5 file, not ember's format
    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer).__name__ == "Adam"
    _same(loaded.evaluate(X, Y, verbose=0), score)
    _same(ek.models.load_model(path).evaluate(X, Y, verbose=0), score)   # and ember reads it


def test_ember_checkpoint_weights_load_into_real_keras(tmp_path):
    keras = real_keras()
    model = _model(ek)
    path = str(tmp_path / "training_1" / "cp-{epoch:04d}.weights.h5")
    os.mkdir(tmp_path / "training_1")
    cp = ek.callbacks.ModelCheckpoint(filepath=path, save_weights_only=True, save_freq=2 * 4)
    model.fit(X, Y, epochs=4, batch_size=16, verbose=0, callbacks=[cp])    # 4 batches an epoch
    assert sorted(os.listdir(tmp_path / "training_1")) == ["cp-0002.weights.h5",
                                                           "cp-0004.weights.h5"]
    k = _model(keras)
    k.load_weights(path.format(epoch=4))
    _same(k.evaluate(X, Y, verbose=0), model.evaluate(X, Y, verbose=0))


@pytest.fixture(scope="module")
def keras_trained():
    keras = real_keras()
    model = _model(keras)
    model.fit(X, Y, epochs=20, batch_size=16, verbose=0)
    return model, model.evaluate(X, Y, verbose=0)


@pytest.mark.parametrize("name", ["my_model.keras", "my_model.h5"])
def test_real_keras_trained_file_is_evaluated_by_ember(keras_trained, name, tmp_path):
    model, score = keras_trained
    assert score[1] > 0.5
    path = str(tmp_path / name)
    model.save(path)
    loaded = ek.models.load_model(path)
    assert type(loaded.optimizer).__name__ == "Adam"
    _same(loaded.evaluate(X, Y, verbose=0), score)
    probs = ek.Sequential([loaded, ek.layers.Softmax()]).predict(X[:4], verbose=0)
    _same(np.asarray(probs), np.asarray(real_keras().ops.softmax(model.predict(X[:4], verbose=0))))


def test_subclassed_model_h5_falls_back_to_embers_format(tmp_path):
    class Tiny(ek.Model):
        def __init__(self):
            super().__init__()
            self.d = ek.layers.Dense(3)

        def call(self, x):
            return self.d(x)

    model = Tiny()
    model.compile(optimizer="adam", loss="mse")
    model.build((None, 20))
    path = str(tmp_path / "tiny.h5")
    with pytest.warns(UserWarning, match=r"subclassed model.*\.h5"):
        model.save(path)
    with open(path, "rb") as f:
        assert f.read(4) != b"\x89HDF"              # ember's own format, under the .h5 name
    loaded = ek.models.load_model(path, custom_objects={"Tiny": Tiny})
    np.testing.assert_allclose(loaded.predict(X[:4], verbose=0), model.predict(X[:4], verbose=0),
                               rtol=1e-6)


def test_channels_first_batch_normalization_crosses_both_ways(tmp_path):
    """BatchNormalization(axis=1) (channels-first data) in a .keras file, both directions."""
    k = real_keras()
    x = rng.random((8, 3, 6, 6)).astype("float32") * 3.0
    y = rng.random((8, 2)).astype("float32")

    def build(m):
        i = m.Input((3, 6, 6))
        h = m.layers.Flatten()(m.layers.BatchNormalization(axis=1)(i))
        return m.Model(i, m.layers.Dense(2)(h))

    for make, load, name in ((lambda: build(ek), k.saving.load_model, "ember.keras"),
                             (lambda: build(k), ek.models.load_model, "keras.keras")):
        model = make()
        model.compile("adam", "mse")
        model.fit(x, y, epochs=2, verbose=0)          # moving statistics away from 0 / 1
        path = str(tmp_path / name)
        model.save(path)
        back = load(path)
        np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)),
                                   np.asarray(model.predict(x, verbose=0)), rtol=1e-5, atol=1e-5)


def test_real_keras_loads_ember_files_without_input_shape_warnings(tmp_path):
    rk = real_keras()
    model = ek.Sequential([ek.Input((8,)), ek.layers.Dense(4), ek.layers.Dense(2)])
    path = str(tmp_path / "quiet.keras")
    model.save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rk.models.load_model(path)
    assert not [w for w in caught if "input_shape" in str(w.message)]
