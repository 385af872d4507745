"""keras-io example "Bidirectional LSTM on IMDB" (Keras 3), with random token ids standing in
for IMDB (as issue #16 asks).

Excerpts written for ember's tests: an int32 ``keras.Input(shape=(None,))``, ``Embedding``,
``Bidirectional(LSTM(64, return_sequences=True))`` then ``Bidirectional(LSTM(64))``, a sigmoid
Dense: real Keras' parameter counts per layer; the same outputs as real Keras for the same
weights (small sizes); ``compile(optimizer="adam", loss="binary_crossentropy",
metrics=["accuracy"])`` and fit with ``validation_data``.  (``keras.datasets.imdb`` and
``keras.preprocessing.sequence.pad_sequences`` are issue #17.)
"""
import numpy as np

from ember import keras
from ember.keras import layers
from keras_battery import real_keras

rng = np.random.default_rng(0)


def build(lib, max_features, width):
    inputs = lib.Input(shape=(None,), dtype="int32")
    x = lib.layers.Embedding(max_features, width)(inputs)
    x = lib.layers.Bidirectional(lib.layers.LSTM(width, return_sequences=True))(x)
    x = lib.layers.Bidirectional(lib.layers.LSTM(width))(x)
    outputs = lib.layers.Dense(1, activation="sigmoid")(x)
    return lib.Model(inputs, outputs)


def test_parameter_counts_match_keras():
    # real Keras 3.15.1: Embedding(20000, 128); BiLSTM(64) twice; Dense(1)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(20000, 128)(inputs)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    assert [l.count_params() for l in model.layers] == [0, 2560000, 98816, 98816, 129]
    assert str(model.inputs[0].dtype) == "int32"


def test_fit_with_validation_data():
    model = build(keras, 50, 4)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x = rng.integers(1, 50, (16, 10))
    y = rng.integers(0, 2, 16)
    history = model.fit(x, y, batch_size=8, epochs=1, validation_data=(x[:4], y[:4]), verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert np.asarray(model.predict(x[:3], verbose=0)).shape == (3, 1)


def test_same_outputs_as_real_keras():
    real = real_keras()
    ours, theirs = build(keras, 30, 3), build(real, 30, 3)
    assert ours.count_params() == theirs.count_params()
    theirs.set_weights(ours.get_weights())
    x = rng.integers(0, 30, (2, 7)).astype("int32")
    out = ours.predict(x, verbose=0)
    np.testing.assert_allclose(np.asarray(out), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
