"""TensorFlow tutorial "TensorFlow 2 quickstart for beginners" (tensorflow/docs
site/en/tutorials/quickstart/beginner.ipynb), on tiny data, through ``import ember.keras.tf as
tf``.

Excerpts written for ember's tests: the tutorial's Sequential (``Flatten(input_shape=(28, 28))``,
Dense relu, Dropout, Dense logits) called on float64 pixels ``/ 255.0`` (``model(x[:1]).numpy()``),
``tf.nn.softmax(...).numpy()``, ``SparseCategoricalCrossentropy(from_logits=True)`` called on
NumPy arrays, ``compile('adam', loss_fn, ['accuracy'])``, ``fit`` / ``evaluate(verbose=2)`` and
the ``tf.keras.Sequential([model, tf.keras.layers.Softmax()])`` probability model.  Checked
against NumPy and against real Keras 3 on the same weights.
"""
import numpy as np

import ember.keras.tf as tf
from keras_battery import real_keras

rng = np.random.default_rng(0)
x_train = rng.integers(0, 256, (96, 28, 28)).astype("uint8") / 255.0     # float64, as the tutorial
y_train = rng.integers(0, 10, 96).astype("uint8")


def make_model():
    return tf.keras.models.Sequential([
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Dense(128, activation='relu'),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10)
    ])


def test_untrained_predictions_softmax_and_loss():
    model = make_model()
    predictions = model(x_train[:1]).numpy()
    assert isinstance(predictions, np.ndarray) and predictions.shape == (1, 10)
    assert predictions.dtype == np.float32
    probs = tf.nn.softmax(predictions).numpy()
    e = np.exp(predictions - predictions.max())
    np.testing.assert_allclose(probs, e / e.sum(), rtol=1e-5)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss = loss_fn(y_train[:1], predictions).numpy()
    assert loss.shape == () and np.isclose(loss, -np.log(probs[0, y_train[0]]), rtol=1e-5)


def test_same_weights_same_outputs_as_real_keras():
    keras = real_keras()
    model = make_model()
    k = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                          keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.2),
                          keras.layers.Dense(10)])
    k.set_weights(model.get_weights())
    np.testing.assert_allclose(model(x_train[:4]).numpy(),
                               np.asarray(k(x_train[:4]).detach()), rtol=1e-4, atol=1e-5)


def test_compile_fit_evaluate_and_probability_model():
    model = make_model()
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer='adam', loss=loss_fn, metrics=['accuracy'])
    before = model.evaluate(x_train, y_train, verbose=0)[0]
    history = model.fit(x_train, y_train, epochs=3, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss"] and len(history.history["loss"]) == 3
    loss, acc = model.evaluate(x_train, y_train, verbose=2)
    assert loss < before and 0.0 <= acc <= 1.0
    probability_model = tf.keras.Sequential([
        model,
        tf.keras.layers.Softmax()
    ])
    probs = probability_model(x_train[:5])
    probs = probs.numpy() if hasattr(probs, "numpy") else np.asarray(probs)
    assert probs.shape == (5, 10)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probs, tf.nn.softmax(model(x_train[:5])).numpy(), rtol=1e-5)
