"""keras-io example "Simple MNIST convnet" (Keras 3), on tiny data.

Excerpts written for ember's tests: the example's Sequential (``keras.Input``, Conv2D with
``kernel_size=(3, 3)``, MaxPooling2D with ``pool_size=(2, 2)``, Flatten, Dropout, a softmax
Dense) with real Keras' parameter count and layer names, compiled with string names
(``"categorical_crossentropy"``, ``"adam"``, ``["accuracy"]``), fit with a validation split on
one-hot targets from ``keras.utils.to_categorical``, evaluate returning ``[loss, accuracy]``.
(``keras.datasets.mnist`` offline and ``to_categorical``'s place in issue #17 are noted in the
issue's report; ``to_categorical`` is already in ember.)
"""
import numpy as np

from ember import keras
from ember.keras import layers

rng = np.random.default_rng(0)


def convnet(input_shape=(28, 28, 1), num_classes=10):
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ])


def test_architecture_matches_keras():
    model = convnet()
    assert model.count_params() == 34826                 # real Keras 3.15.1
    assert [type(l).__name__ for l in model.layers] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"]
    assert [tuple(w.shape) for w in model.layers[-1].weights] == [(1600, 10), (10,)]


def test_compile_fit_evaluate_with_string_names():
    model = convnet(input_shape=(12, 12, 1))            # same layers, small images: seconds
    x = rng.random((24, 12, 12)).astype("float32")
    x = np.expand_dims(x, -1)
    y = keras.utils.to_categorical(rng.integers(0, 10, 24), 10)
    assert y.shape == (24, 10)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.1, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    score = model.evaluate(x, y, verbose=0)
    assert len(score) == 2 and 0.0 <= score[1] <= 1.0
    probs = model.predict(x[:3], verbose=0)
    np.testing.assert_allclose(np.asarray(probs).sum(1), 1.0, rtol=1e-5)
