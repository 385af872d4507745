"""keras-io guide "Writing a training loop from scratch in TensorFlow" (Keras 3), on tiny data,
through ``import ember.keras.tf as tf``.

Excerpts written for ember's tests: a ``tf.GradientTape`` loop over a functional model with a
Keras optimizer (``optimizer.apply(grads, model.trainable_weights)``) and loss, uint8 inputs as
the guide feeds them, ``keras.metrics.SparseCategoricalAccuracy`` with ``update_state`` /
``result`` / ``reset_state``, ``@tf.function`` steps, ``add_loss`` with ``tf.reduce_sum`` and
``sum(model.losses)`` in the loss.  (The guide batches with ``tf.data.Dataset``: issue #17; here
NumPy slices.)
"""
import numpy as np

import ember.keras.tf as tf
from ember import keras

rng = np.random.default_rng(0)
X = rng.integers(0, 256, (64, 784)).astype("uint8")      # the guide feeds the raw uint8 pixels
Y = rng.integers(0, 10, 64).astype("uint8")


def np_(x):
    x = x.detach() if hasattr(x, "detach") else x
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def get_model(regularized=False):
    class ActivityRegularizationLayer(keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-2 * tf.reduce_sum(inputs))
            return inputs

    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(16, activation="relu")(inputs)
    if regularized:
        x = ActivityRegularizationLayer()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    outputs = keras.layers.Dense(10, name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def batches(batch_size=16):
    for i in range(0, len(X), batch_size):
        yield X[i:i + batch_size], Y[i:i + batch_size]


def test_gradient_tape_loop_with_metric():
    model = get_model()
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    start = float(loss_fn(Y, model(X)))
    for epoch in range(3):
        for step, (x_batch_train, y_batch_train) in enumerate(batches()):
            with tf.GradientTape() as tape:
                logits = model(x_batch_train, training=True)
                loss_value = loss_fn(y_batch_train, logits)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply(grads, model.trainable_weights)
            train_acc_metric.update_state(y_batch_train, logits)
        train_acc_metric.reset_state()
    assert float(loss_fn(Y, model(X))) < start          # the whole set, not one noisy batch
    logits = model(X, training=False)
    train_acc_metric.update_state(Y, logits)
    expected = np.mean(np_(logits).argmax(1) == Y)
    np.testing.assert_allclose(float(train_acc_metric.result()), expected, rtol=1e-6)
    train_acc_metric.reset_state()
    assert float(train_acc_metric.result()) == 0.0


def test_tf_function_steps_and_add_loss():
    model = get_model(regularized=True)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss_value = loss_fn(y, logits)
            loss_value += sum(model.losses)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)
        return loss_value

    @tf.function
    def test_step(x, y):
        val_logits = model(x, training=False)
        val_acc_metric.update_state(y, val_logits)

    for x, y in batches():
        loss_value = train_step(x, y)
    assert np.isfinite(float(loss_value))
    test_step(X, Y)
    assert 0.0 <= float(val_acc_metric.result()) <= 1.0
    # model.losses holds the last call's activity loss only
    model(X[:4])
    assert len(model.losses) == 1
    hidden = keras.Model(model.inputs, model.layers[1].output)(X[:4])
    np.testing.assert_allclose(float(np_(model.losses[0])), 1e-2 * np_(hidden).sum(), rtol=1e-4)
